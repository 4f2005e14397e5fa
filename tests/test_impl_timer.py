"""Shared timer: seqlock and single word, hostile writers, the real timer VM."""

from __future__ import annotations

import socket
import struct
import time
from pathlib import Path

import pytest
from impl_helpers import CountingAccess, region

from intervm.impl import timer as tm
from intervm.impl.errors import ProtocolViolation
from intervm.impl.host import Host, HostConfig
from intervm.impl.profiler import Clock, Stamps, consumer_stamps, percentiles, report
from intervm.impl.region import Region


def test_carry_into_the_high_word_reads_whole(tmp_path: Path) -> None:
    with region(tmp_path) as acc:
        w, r = tm.WriterState.attach(acc), tm.ReaderState()
        for tick in (0xFFFF_FFFE, 0xFFFF_FFFF, 1 << 32, (1 << 32) + 1, (7 << 32) + 3):
            tm.publish(acc, w, tick)
            assert tm.read_seqlock(acc, r) == tick == tm.read_word(acc, r)
        assert acc.load("timer_seq") == 10 and r.retries == 0


def test_writer_resumes_even_after_dying_mid_publish(tmp_path: Path) -> None:
    with region(tmp_path) as acc:
        acc.store("timer_seq", 41)  # a previous timer VM died between its two increments
        w = tm.WriterState.attach(acc)
        tm.publish(acc, w, 5)
        assert acc.load("timer_seq") == 44 and tm.read_seqlock(acc, tm.ReaderState()) == 5


def test_seq_stuck_odd_is_a_bounded_violation(tmp_path: Path) -> None:
    with region(tmp_path) as acc:
        acc.store("timer_seq", 7)
        with pytest.raises(ProtocolViolation, match="stuck odd") as err:
            tm.read_seqlock(acc, tm.ReaderState(max_attempts=2000, min_wait_s=0.0))
        assert (err.value.field, err.value.value) == ("timer_seq", 7)
        assert "no stable even value in 2001 attempts" in str(err.value)


class _PreemptedWriter:
    """``timer_seq`` stays odd for ``odd_loads`` loads (a writer off the CPU between
    its two stores), then the publish completes: seq 2, time 0x1_0000_0005."""

    def __init__(self, odd_loads: int) -> None:
        self.left = odd_loads

    def load(self, field: str, index: int | None = None) -> int:
        if field == "timer_seq":
            self.left -= 1
            return 1 if self.left >= 0 else 2
        return {"time_lo": 5, "time_hi": 1}[field]


def test_a_writer_preempted_past_the_attempts_is_waited_for() -> None:
    # 3x the attempt bound odd: still a correct read while min_wait_s has not passed
    st = tm.ReaderState(max_attempts=100, min_wait_s=3600.0, yield_every=1 << 30)
    assert tm.read_seqlock(_PreemptedWriter(300), st) == 0x1_0000_0005  # type: ignore[arg-type]
    assert st.retries == 300
    # without the floor the same writer is given up on after the attempts
    with pytest.raises(ProtocolViolation, match="stuck odd"):
        tm.read_seqlock(_PreemptedWriter(300), tm.ReaderState(max_attempts=100,  # type: ignore[arg-type]
                                                              min_wait_s=0.0))


def test_time_going_backwards_is_a_violation(tmp_path: Path) -> None:
    with region(tmp_path) as acc:
        w, r = tm.WriterState.attach(acc), tm.ReaderState()
        tm.publish(acc, w, 1000)
        assert tm.read_seqlock(acc, r) == 1000
        tm.publish(acc, w, 999)
        with pytest.raises(ProtocolViolation, match="went backwards from 1000") as err:
            tm.read_seqlock(acc, r)
        assert err.value.value == 999
        with pytest.raises(ProtocolViolation, match="time64"):
            tm.read_word(acc, r)


def test_reader_loads_each_data_word_once_per_attempt(tmp_path: Path) -> None:
    with region(tmp_path) as acc:
        tm.publish(acc, tm.WriterState.attach(acc), 12)
        count = CountingAccess(acc)
        tm.read_seqlock(count, tm.ReaderState())
        assert dict(count.loads) == {
            ("timer_seq", None): 2,  # before and after the data: the seqlock itself
            ("time_lo", None): 1,
            ("time_hi", None): 1,
        }
        count.reset()
        tm.read_word(count, tm.ReaderState())
        assert dict(count.loads) == {("time64", None): 1}


def test_profiler_rejects_submit_from_the_future_and_pins_percentiles() -> None:
    with pytest.raises(ProtocolViolation, match="slot_stamp"):
        consumer_stamps(1, submit=10, start=9, done=11)
    p = percentiles(list(range(1, 1001)), tick_ns=1000)
    assert (p.p50_us, p.p90_us, p.p99_us, p.p999_us, p.max_us) == (500, 900, 990, 999, 1000)
    rep = report([Stamps(0, 5, 7, 8)], tick_ns=10_000)
    assert (rep.queueing.p50_us, rep.service.p50_us, rep.total.max_us) == (20, 10, 30)
    assert percentiles([], 1000).max_us == 0


def test_timer_vm_publishes_periodically_and_answers_the_socket(tmp_path: Path) -> None:
    with Host(HostConfig(capacity=1, region=tmp_path / "r")) as host:
        timer = host.start("timer", {"tick_ns": 1_000_000})
        reader = Region.attach(tmp_path / "r")
        clock = Clock(reader)
        t_a = time.monotonic()
        first = clock.now()
        time.sleep(0.2)
        second = clock.now()
        elapsed_ms = (time.monotonic() - t_a) * 1000
        assert reader.load("tick_ns") == 1_000_000
        # Ticks follow real time: never ahead of it, and behind only by the writer's lag.
        assert 100 <= second - first <= elapsed_ms + 2
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(str(host.timer_socket))
            s.sendall(b"?")
            (asked,) = struct.unpack("<Q", s.recv(8))
        assert second <= asked <= clock.now()
        result = host.stop(timer)
        reader.close()
    assert result["publishes"] >= 50 and result["tick"] >= second
