"""Coalescing protocol code, in one process: delivery, knobs, hostile peers, double fetch."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from impl_helpers import CountingAccess, region

from intervm.impl import coalescing as co
from intervm.impl.access import Fence, SharedAccess
from intervm.impl.errors import PeerTimeout, ProtocolViolation
from intervm.impl.region import Region
from intervm.spec import layout as L

FAST = co.Bounds(slice_s=0.005, max_slices=4)


def _pair(acc: Region) -> tuple[co.ProducerState, co.ConsumerState]:
    cap = acc.layout.capacity
    return co.ProducerState.attach(acc, cap), co.ConsumerState.attach(acc, cap)


class Hook(CountingAccess):
    """Runs ``action`` once, right after the ``nth`` load of ``field``."""

    def __init__(self, inner: SharedAccess, field: str, nth: int, action: Callable[[], None]):
        super().__init__(inner)
        self.field, self.nth, self.action, self.fences = field, nth, action, []
        self.seen = 0

    def load(self, field: str, index: int | None = None) -> int:
        value = super().load(field, index)
        if field == self.field:
            self.seen += 1
            if self.seen == self.nth:
                self.action()
        return value

    def fence(self, kind: Fence = Fence.FULL) -> None:
        self.fences.append(kind)
        super().fence(kind)


def test_requests_cross_the_u32_wrap_in_order(tmp_path: Path) -> None:
    with region(tmp_path, capacity=4) as acc:
        start = 0xFFFF_FFFF - 5
        acc.store("tail", start)
        acc.store("head", start)
        prod, cons = _pair(acc)
        got: list[co.Request] = []
        for batch in range(5):
            co.push(acc, prod, co.Variant(), range(batch * 4, batch * 4 + 4), 4, lambda: 9)
            assert co.drain(acc, cons, got.append) is False
        assert [r.request_id for r in got] == list(range(20))
        assert {r.stamp for r in got} == {9}
        assert acc.load("head") == acc.load("tail") == (start + 20) & L.INDEX_MASK == 14


def test_sleeping_consumer_is_rung_once_per_sleep(tmp_path: Path) -> None:
    with region(tmp_path) as acc:
        prod, cons = _pair(acc)
        co.enter_consumer(acc)
        assert co.prepare_sleep(acc, cons, co.Variant()) is True
        assert co.submit(acc, prod, co.Variant(), 1, 0) is True
        assert co.submit(acc, prod, co.Variant(), 2, 0) is False  # latched bell still pending
        assert (prod.irq_notifies, prod.irq_skipped) == (1, 1)
        assert co.block(acc, cons, FAST) is True and cons.wakeups == 1
        co.enter_consumer(acc)
        assert co.submit(acc, prod, co.Variant(), 3, 0) is False  # ACTIVE: no bell
        seen: list[int] = []
        co.drain(acc, cons, lambda r: seen.append(r.request_id))
        assert seen == [1, 2, 3]
        assert co.prepare_sleep(acc, cons, co.Variant()) is True
        assert co.submit(acc, prod, co.Variant(), 4, 0) is True  # new sleep: ring again
        assert (prod.irq_notifies, prod.irq_skipped) == (2, 1)


def test_always_notify_rings_for_every_request(tmp_path: Path) -> None:
    with region(tmp_path) as acc:
        prod, _ = _pair(acc)
        co.enter_consumer(acc)
        v = co.Variant(always_notify=True)
        assert all(co.submit(acc, prod, v, i, 0) for i in range(8))
        assert prod.irq_notifies == 8


@pytest.mark.parametrize(
    ("variant", "kinds"),
    [
        (co.Variant(), [Fence.FULL]),
        (co.Variant(producer_fence=co.ProducerFence.STORE), [Fence.STORE]),
        (co.Variant(producer_fence=co.ProducerFence.NONE), []),
    ],
)
def test_producer_fence_knob(tmp_path: Path, variant: co.Variant, kinds: list[Fence]) -> None:
    with region(tmp_path) as acc:
        prod, _ = _pair(acc)
        hook = Hook(acc, "none", 0, lambda: None)
        co.submit(hook, prod, variant, 1, 0)
        assert hook.fences == kinds


@pytest.mark.parametrize(("fenced", "kinds"), [(True, [Fence.FULL]), (False, [])])
def test_consumer_fence_knob(tmp_path: Path, fenced: bool, kinds: list[Fence]) -> None:
    with region(tmp_path) as acc:
        _, cons = _pair(acc)
        hook = Hook(acc, "none", 0, lambda: None)
        co.prepare_sleep(hook, cons, co.Variant(consumer_fence=fenced))
        assert hook.fences == kinds


def _race_after_consumer_tail_load(tmp_path: Path, variant: co.Variant, nth: int) -> int:
    """Producer submits right after the consumer's nth tail load; returns timeout_finds."""
    with region(tmp_path) as acc:
        prod, cons = _pair(acc)
        co.enter_consumer(acc)
        hook = Hook(acc, "tail", nth, lambda: co.submit(acc, prod, co.Variant(), 5, 0))
        co.drain(hook, cons, lambda r: None)  # tail load 1: empty
        if co.prepare_sleep(hook, cons, variant):
            assert co.block(acc, cons, FAST) is True
        assert co.drain(acc, cons, lambda r: None) is False
        assert acc.load("head") == 1  # the request is eventually served either way
        return cons.timeout_finds


def test_correct_protocol_never_loses_the_wake_up(tmp_path: Path) -> None:
    # Producer runs after the drain's empty check and after the re-check.
    assert _race_after_consumer_tail_load(tmp_path, co.Variant(), 1) == 0
    assert _race_after_consumer_tail_load(tmp_path, co.Variant(), 2) == 0


def test_no_recheck_loses_the_wake_up_even_under_sc(tmp_path: Path) -> None:
    assert _race_after_consumer_tail_load(tmp_path, co.Variant(recheck=False), 1) == 1


def test_check_then_arm_loses_the_wake_up_even_under_sc(tmp_path: Path) -> None:
    v = co.Variant(order=co.Order.CHECK_THEN_ARM)
    assert _race_after_consumer_tail_load(tmp_path, v, 2) == 1


def test_each_shared_field_is_loaded_once_per_decision(tmp_path: Path) -> None:
    with region(tmp_path, capacity=8) as acc:
        prod, cons = _pair(acc)
        count = CountingAccess(acc)
        co.enter_consumer(acc)
        acc.store("flag", L.FLAG_SLEEPING)
        for i in range(6):
            count.reset()
            co.submit(count, prod, co.Variant(), i, 0)
            assert max(count.loads.values()) == 1, count.loads  # flag once, head at most once
        count.reset()
        co.refresh_head(count, prod)
        assert dict(count.loads) == {("head", None): 1}
        for decision, expected in (
            (lambda: co.load_tail(count, cons), {("tail", None): 1}),
            (lambda: co.take(count, cons), {("slot_id", 0): 1, ("slot_stamp", 0): 1}),
            (lambda: co.check_pwait(count, cons), {("pwait", None): 1}),
        ):
            count.reset()
            decision()
            assert dict(count.loads) == expected
        count.reset()
        co.drain(count, cons, lambda r: None)
        slot_loads = {k: v for k, v in count.loads.items() if k[0].startswith("slot")}
        assert len(slot_loads) == 12 and set(slot_loads.values()) == {1}
        assert count.loads[("tail", None)] == 2  # one per batch: 6 requests, then empty


@pytest.mark.parametrize(
    ("field", "value", "call", "rule"),
    [
        ("tail", 100, "drain", "more than capacity"),
        ("tail", 0xFFFF_FFFF, "drain", "never moves backwards"),
        ("head", 7, "refresh", "nor past tail"),
        ("head", 0xFFFF_FFF0, "refresh", "never moves backwards"),
        ("flag", 7, "submit", "must be 0 or 1"),
        ("pwait", 9, "pwait", "must be 0 or 1"),
    ],
)
def test_hostile_index_and_flag_values(
    tmp_path: Path, field: str, value: int, call: str, rule: str
) -> None:
    with region(tmp_path) as acc:
        prod, cons = _pair(acc)
        co.push(acc, prod, co.Variant(), range(3), 8, lambda: 0)
        co.drain(acc, cons, lambda r: None)
        acc.store(field, value)
        run = {
            "drain": lambda: co.drain(acc, cons, lambda r: None),
            "refresh": lambda: co.refresh_head(acc, prod),
            "submit": lambda: co.submit(acc, prod, co.Variant(), 3, 0),
            "pwait": lambda: co.check_pwait(acc, cons),
        }[call]
        with pytest.raises(ProtocolViolation, match=rule) as err:
            run()
        assert (err.value.field, err.value.value) == (field, value)


def test_attach_rejects_inconsistent_indices(tmp_path: Path) -> None:
    with region(tmp_path) as acc:
        acc.store("tail", 50)
        with pytest.raises(ProtocolViolation, match="tail"):
            co.ConsumerState.attach(acc, 8)
        with pytest.raises(ProtocolViolation, match="head"):
            co.ProducerState.attach(acc, 8)


def test_every_wait_is_bounded(tmp_path: Path) -> None:
    with region(tmp_path) as acc:
        prod, cons = _pair(acc)
        co.push(acc, prod, co.Variant(), range(2), 8, lambda: 0)
        t0 = time.monotonic()
        with pytest.raises(PeerTimeout, match="consumer committed nothing"):
            co.wait_for_head(acc, prod, 0, FAST)
        assert acc.load("pwait") == L.PWAIT_RUNNING and prod.done_waits == 4
        co.drain(acc, cons, lambda r: None)
        assert co.block(acc, cons, FAST) is False  # idle: gives up, no hang
        assert co.run_consumer(acc, cons, co.Variant(), lambda r: None, FAST) is False
        assert time.monotonic() - t0 < 2.0


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    writes=st.lists(
        st.tuples(st.integers(64, 256 + 8 * 16 - 1), st.binary(min_size=1, max_size=12)),
        min_size=1,
        max_size=6,
    ),
    ops=st.lists(st.sampled_from(["submit", "drain", "sleep", "wait", "refresh"]), max_size=8),
)
def test_hostile_bytes_only_ever_raise_protocol_violation(
    tmp_path: Path, writes: list[tuple[int, bytes]], ops: list[str]
) -> None:
    with region(tmp_path) as acc:
        prod, cons = _pair(acc)
        co.push(acc, prod, co.Variant(), range(3), 8, lambda: 0)
        with (tmp_path / "region").open("r+b") as f:
            for offset, data in writes:
                f.seek(offset)
                f.write(data[: acc.layout.total_size - offset])
        for op in ops:
            try:
                match op:
                    case "submit":
                        co.push(acc, prod, co.Variant(), [1], 8, lambda: 0, FAST)
                    case "drain":
                        co.drain(acc, cons, lambda r: None)
                    case "sleep":
                        if co.prepare_sleep(acc, cons, co.Variant()):
                            co.block(acc, cons, co.Bounds(0.0, 2))
                    case "wait":
                        co.wait_for_head(acc, prod, 8, FAST)
                    case "refresh":
                        co.refresh_head(acc, prod)
            except (ProtocolViolation, PeerTimeout):
                pass
