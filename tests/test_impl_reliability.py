"""SIGKILL the consumer VM at random points, restart it, and count deliveries.

Rule under test (docs/layout.md, "commit point"): no request is lost, and a
request is processed again only if the consumer died between processing it
and storing head, so duplicates <= kills.
"""

from __future__ import annotations

import random
import time
from array import array
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from intervm.impl.host import Host, HostConfig, Vm, VmFailed

N = 150_000


def test_consumer_killed_and_restarted_loses_nothing(
    tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    rng = random.Random(2026)
    log = tmp_path / "processed.log"
    bounded = {"slice_s": 0.02, "max_slices": 2500}
    consumer_cfg = {**bounded, "log_path": str(log)}
    kills = 0
    t0 = time.monotonic()
    with Host(HostConfig(capacity=64, region=tmp_path / "region")) as host:
        consumer: Vm | None = host.start("consumer", consumer_cfg)
        producer = host.start("producer", {**bounded, "requests": N, "window": 32})
        while consumer is not None and kills < 60 and time.monotonic() - t0 < 20:
            time.sleep(rng.uniform(0.0, 0.012))
            host.kill(consumer)
            kills += 1
            consumer = None
            if host.observer.load("head") == N + 1:
                break  # the stop request was committed before the kill: nothing left
            consumer = host.start("consumer", consumer_cfg)
        produced = host.result(producer, timeout_s=60)
        stopped = host.result(consumer, timeout_s=30)["stopped"] if consumer else True
        head = host.observer.load("head")
    ids = array("Q")
    ids.frombytes(log.read_bytes())
    counts = Counter(ids)
    duplicates = sum(c - 1 for c in counts.values())
    lost = N - len(counts)
    record_property("kills", kills)
    record_property("duplicates", duplicates)
    print(f"kills={kills} duplicates={duplicates} lost={lost} in {time.monotonic() - t0:.1f}s")
    assert stopped is True and produced["elapsed_s"] > 0
    assert head == N + 1  # N requests and the stop request, all committed
    assert lost == 0 and set(counts) == set(range(N))
    assert duplicates <= kills
    assert kills >= 30, "the producer finished too early to exercise restarts"


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [("tail", 1000, "more than capacity"), ("pwait", 5, "must be 0 or 1")],
)
def test_hostile_write_makes_the_consumer_vm_report_not_crash(
    tmp_path: Path, field: str, value: int, rule: str
) -> None:
    with Host(HostConfig(capacity=8, region=tmp_path / "region")) as host:
        consumer = host.start("consumer", {"slice_s": 0.01, "max_slices": 500})
        if field == "pwait":
            host.observer.store("tail", 1)  # give it one request so it checks pwait
        host.observer.store(field, value)
        host.doorbells.notify("irq")
        t0 = time.monotonic()
        with pytest.raises(
            VmFailed, match=f"ProtocolViolation: shared field '{field}' holds {value}: .*{rule}"
        ):
            host.result(consumer, timeout_s=10)
        assert consumer.proc.returncode == 3 and time.monotonic() - t0 < 10
