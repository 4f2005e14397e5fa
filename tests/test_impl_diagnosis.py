"""The first diagnosis wins: a VM that finds a protocol violation, or dies, ends the
run at once with its own diagnosis (not the producer's 30 s PeerTimeout); a region
truncated under the run is named, not a silent SIGBUS."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from proc_helpers import Cli, start_cli, wait_for

from intervm.impl.host import Host, HostConfig, VmFailed, VmViolation
from intervm.impl.region import Region
from intervm.spec import layout as L

RUN = ["run", "-n", "100000000", "--capacity", "16", "--window", "16"]


def vms(cli: Cli) -> dict[str, int]:
    """Role → pid of the VMs the CLI started."""
    out = {}
    for pid in cli.descendants():
        with_role = cli.cmdline(pid).split()
        if "intervm.impl.vm" in with_role:
            out[with_role[-1]] = pid
    return out


def committed(path: str) -> int:
    with open(path, "rb") as f:  # read, not mapped: the test must not fault either
        f.seek(L.build_layout(16).field("head").offset)
        return int.from_bytes(f.read(4), "little")


def start_run(tmp_path: Path) -> tuple[Cli, dict[str, int], str]:
    """``intervm run`` with all three VMs past their start (requests being committed)."""
    cli = start_cli(RUN, tmp_path)
    wait_for("three VMs", cli, lambda: len(vms(cli)) == 3)
    found = vms(cli)
    region = cli.env_of(found["consumer"], "INTERVM_REGION")
    assert region is not None
    wait_for("committed requests", cli, lambda: committed(region) > 0)
    return cli, found, region


@pytest.mark.parametrize("how", ["far ahead", "backwards", "0xffffffff"])
def test_a_garbage_tail_ends_the_run_with_the_consumers_violation(tmp_path: Path,
                                                                  how: str) -> None:
    cli, found, path = start_run(tmp_path)
    os.kill(found["producer"], signal.SIGSTOP)  # the faulty peer: frozen mid-run
    region = Region.attach(path)
    try:
        deadline = time.monotonic() + 30  # the consumer drains the ring: it saw this tail
        while region.load("head") != region.load("tail") and time.monotonic() < deadline:
            time.sleep(0.01)
        tail = region.load("tail")
        bad = {"far ahead": tail + 1000, "backwards": tail - 5, "0xffffffff": 0xFFFFFFFF}[how]
        bad &= 0xFFFFFFFF
        region.store("tail", bad)
        t0 = time.monotonic()
        code, out, err = cli.finish(timeout_s=60)
        elapsed = time.monotonic() - t0
    finally:
        region.close()
    lines = (out + err).strip().splitlines()
    assert code == 1 and len(lines) == 1, out + err
    assert lines[0].startswith(
        f"Error: consumer VM reported: ProtocolViolation: shared field 'tail' holds {bad}: "
        "must lie in ["
    )
    assert "tail never moves backwards nor more than capacity 16" in lines[0]
    assert "PeerTimeout" not in lines[0] and elapsed < 15
    assert cli.descendants() == [] and not Path(path).exists()


@pytest.mark.parametrize("size", [0, 100])
def test_a_region_truncated_under_the_run_is_named_in_one_line(tmp_path: Path,
                                                              size: int) -> None:
    # 100 bytes keeps the first page mapped: no SIGBUS, the VMs read zeros past the
    # header and may report a violation of their own first; the truncation is the cause
    cli, _, path = start_run(tmp_path)
    os.truncate(path, size)
    code, out, err = cli.finish(timeout_s=60)
    lines = (out + err).strip().splitlines()
    assert code == 1 and len(lines) == 1, out + err
    assert lines[0].startswith(f"Error: region {path} was truncated or removed under the run (")
    assert f"the file is now {size} bytes" in lines[0] and "Traceback" not in out + err
    assert cli.descendants() == [] and not Path(path).exists()


def test_a_vm_dying_of_sigbus_is_reported_as_the_truncated_region(tmp_path: Path) -> None:
    with Host(HostConfig(capacity=8, region=tmp_path / "region")) as host:
        consumer = host.start("consumer", {"slice_s": 0.01, "max_slices": 3000})
        os.truncate(host.region_path, 0)
        host.doorbells.notify("irq")  # it wakes, loads tail: SIGBUS
        consumer.proc.wait(timeout=30)
        with pytest.raises(VmViolation) as caught:
            host.result(consumer, timeout_s=10)
    err = caught.value
    assert consumer.proc.returncode == -signal.SIGBUS
    assert (err.role, err.field, err.value) == ("consumer", "total_size", 0)
    assert str(err).startswith(f"region {tmp_path / 'region'} was truncated or removed under "
                               "the run (SIGBUS in the consumer VM; the file is now 0 bytes")


def test_a_dead_vm_ends_the_wait_for_another_at_once(tmp_path: Path) -> None:
    with Host(HostConfig(capacity=8, region=tmp_path / "region")) as host:
        consumer = host.start("consumer", {})
        producer = host.start("producer", {"requests": 10**8, "window": 8})
        os.kill(consumer.proc.pid, signal.SIGKILL)
        t0 = time.monotonic()
        with pytest.raises(VmFailed) as caught:
            host.result(producer)  # the producer itself would wait 30 s, then time out
        assert time.monotonic() - t0 < 15
        assert producer.proc.returncode == -signal.SIGKILL  # stopped by the host
    assert str(caught.value) == (f"consumer VM (pid {consumer.proc.pid}) ended without a "
                                 "result: killed by signal SIGKILL")


def test_a_violation_frame_names_role_field_value_and_rule(tmp_path: Path) -> None:
    with Host(HostConfig(capacity=8, region=tmp_path / "region")) as host:
        consumer = host.start("consumer", {"slice_s": 0.01, "max_slices": 500})
        host.observer.store("tail", 1000)
        host.doorbells.notify("irq")
        with pytest.raises(VmViolation) as caught:
            host.result(consumer, timeout_s=30)
    err = caught.value
    assert (err.role, err.field, err.value) == ("consumer", "tail", 1000)
    assert err.rule.startswith("must lie in [0, 8] (mod 2**32)")
