"""SIGTERM, SIGHUP and SIGINT during long-running commands: the documented exit status
(128 + signo), no child process left, no region, no temporary directory, no partial
output. Each command is a real ``python -m intervm.cli`` process; the signal is sent at
seeded random points after the command is visibly at work.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from proc_helpers import Cli, start_cli, wait_for

from intervm.commands._signals import Interrupted, converted
from intervm.impl import image as bundle

SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "c"


def points(name: str, count: int, high: float) -> list[float]:
    rng = random.Random(f"signals-{name}")
    return [round(rng.uniform(0.0, high), 3) for _ in range(count)]


def stop(cli: Cli, sig: signal.Signals, delay: float) -> tuple[int, str, str]:
    time.sleep(delay)
    assert cli.proc.poll() is None, "the command ended before the signal; make it longer"
    cli.proc.send_signal(sig)
    return cli.finish()


def assert_clean_stop(cli: Cli, sig: signal.Signals, code: int, err: str) -> None:
    assert code == 128 + sig, err
    assert f"stopped by {sig.name}" in err and f"exit status {128 + sig}" in err
    assert "Traceback" not in err
    assert cli.descendants() == []
    assert list(cli.tmpdir.iterdir()) == []


def test_converted_turns_each_signal_into_interrupted_and_restores_handlers() -> None:
    before = {s: signal.getsignal(s) for s in SIGNALS}
    for sig in SIGNALS:
        with converted(), pytest.raises(Interrupted) as caught:
            os.kill(os.getpid(), sig)
            time.sleep(5)  # the handler raises long before this ends
        assert (caught.value.signo, caught.value.exit_status) == (sig, 128 + sig)
    assert {s: signal.getsignal(s) for s in SIGNALS} == before


def test_a_second_signal_does_not_cut_the_cleanup_short() -> None:
    cleaned = False
    with converted(), pytest.raises(Interrupted) as caught:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        finally:
            os.kill(os.getpid(), signal.SIGHUP)  # ignored: the cleanup goes on
            cleaned = True
    assert cleaned and caught.value.signo == signal.SIGTERM


def test_an_ignored_signal_stays_ignored() -> None:  # nohup, background jobs
    old = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with converted():
            assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGHUP)
    finally:
        signal.signal(signal.SIGHUP, old)


# ------------------------------------------------------------------ intervm run
def _run_case(tmp_path: Path, sig: signal.Signals, delay: float) -> None:
    cli = start_cli(["run", "-n", "100000000", "--capacity", "16", "--window", "16"], tmp_path)
    wait_for("a VM", cli, lambda: cli.env_of_any("INTERVM_REGION") is not None)
    region = cli.env_of_any("INTERVM_REGION")
    assert region is not None and region.startswith(("/dev/shm/", str(cli.tmpdir)))
    code, _, err = stop(cli, sig, delay)
    assert_clean_stop(cli, sig, code, err)
    assert not Path(region).exists()


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_run_stops_its_vms_and_removes_region_and_tmpdir(tmp_path: Path,
                                                        sig: signal.Signals) -> None:
    _run_case(tmp_path, sig, points(f"run-{sig.name}", 1, 1.5)[0])


@pytest.mark.slow
@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_run_stops_cleanly_at_more_points(tmp_path: Path, sig: signal.Signals) -> None:
    for delay in points(f"run-more-{sig.name}", 2, 3.0):
        _run_case(tmp_path, sig, delay)


def test_ctrl_c_reaches_only_the_cli_which_stops_the_vms(tmp_path: Path) -> None:
    cli = start_cli(["run", "-n", "100000000", "--capacity", "16", "--window", "16"],
                    tmp_path, new_group=True)
    wait_for("three VMs", cli, lambda: len(cli.descendants()) == 3)
    time.sleep(points("ctrl-c", 1, 0.5)[0])
    os.killpg(cli.proc.pid, signal.SIGINT)  # what a terminal does on Ctrl-C
    code, _, err = cli.finish()
    assert_clean_stop(cli, signal.SIGINT, code, err)  # no KeyboardInterrupt from a VM
    assert err.strip().splitlines() == [Interrupted(signal.SIGINT).message()]


def test_run_leaves_no_vm_even_when_sigkilled(tmp_path: Path) -> None:
    cli = start_cli(["run", "-n", "100000000", "--capacity", "16", "--window", "16"], tmp_path)
    wait_for("three VMs", cli, lambda: len(cli.descendants()) == 3
             and cli.env_of_any("INTERVM_REGION") is not None)
    region = cli.env_of_any("INTERVM_REGION")
    assert region is not None
    cli.proc.kill()
    cli.finish()
    deadline = time.monotonic() + 10
    while cli.descendants() and time.monotonic() < deadline:  # the kernel kills them
        time.sleep(0.02)
    assert cli.descendants() == []
    Path(region).unlink()  # a SIGKILLed command cannot clean up: this test does


# ---------------------------------------------------------------- image extract
# The copy is slowed down (1 MiB chunks, 30 ms each) so the signal lands mid-copy.
SLOW = (
    "-c",
    "import sys, time; from intervm.impl import image as b; b.CHUNK = 1 << 20; "
    "step = b._copy_step; "
    "b._copy_step = lambda *a: (time.sleep(0.03), step(*a))[1]; "
    "from intervm.cli import main; sys.argv[0] = 'intervm'; main()",
)


@pytest.fixture(scope="module")
def big_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("bigsrc")
    rng = random.Random(7)
    for i in range(4):
        (src / f"part{i}.bin").write_bytes(rng.randbytes(6 << 20))
    image = src.parent / "big.img"
    bundle.pack(src, image)
    return image


def parts(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(bundle.TEMP_PREFIX))


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_extract_leaves_nothing_behind(tmp_path: Path, big_image: Path,
                                       sig: signal.Signals) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    for delay in points(f"extract-{sig.name}", 2, 0.4):
        cli = start_cli(["image", "extract", str(big_image), str(dest)], tmp_path, SLOW)
        wait_for("a partial file", cli, lambda: bool(parts(dest)))
        code, _, err = stop(cli, sig, delay)
        assert_clean_stop(cli, sig, code, err)
        assert sorted(p.name for p in dest.iterdir()) == ["keep.txt"]


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_pack_leaves_nothing_behind(tmp_path: Path, big_image: Path,
                                    sig: signal.Signals) -> None:
    src = tmp_path / "src"
    bundle.extract(big_image, src)
    out = tmp_path / "img"
    out.mkdir()
    cli = start_cli(["image", "pack", str(src), str(out / "new.img")], tmp_path, SLOW)
    wait_for("a partial image", cli, lambda: bool(parts(out)))
    code, _, err = stop(cli, sig, points(f"pack-{sig.name}", 1, 0.4)[0])
    assert_clean_stop(cli, sig, code, err)
    assert list(out.iterdir()) == []


# ------------------------------------------------------------- conformance run
@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler (cc) on PATH")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_conformance_run_kills_the_binary_and_removes_the_region(
    tmp_path: Path, sig: signal.Signals
) -> None:
    binary = tmp_path / "consumer"
    subprocess.run(["cc", "-O2", "-std=c11", "-o", str(binary), str(EXAMPLES / "consumer.c")],
                   check=True, timeout=60)
    cli = start_cli(["conformance", "run", "--role", "consumer", "--no-engine",
                     "--requests", "100000000", "--seconds", "600", "--", str(binary)], tmp_path)
    wait_for("the binary under test", cli, lambda: cli.env_of_any("INTERVM_REGION") is not None)
    region = cli.env_of_any("INTERVM_REGION")
    assert region is not None
    code, _, err = stop(cli, sig, points(f"conformance-{sig.name}", 1, 1.0)[0])
    assert_clean_stop(cli, sig, code, err)
    assert not Path(region).exists()


# ----------------------------------------------------------------------- verify
@pytest.mark.slow
def test_verify_jobs_kills_its_workers(tmp_path: Path) -> None:
    cli = start_cli(["verify", "-p", "timer", "--jobs", "2"], tmp_path)
    wait_for("two workers", cli, lambda: len(cli.descendants()) >= 2)
    code, _, err = stop(cli, signal.SIGTERM, points("verify-jobs", 1, 1.0)[0])
    assert_clean_stop(cli, signal.SIGTERM, code, err)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("spin") is None or shutil.which("gcc") is None,
                    reason="spin and gcc are not installed")
def test_verify_spin_kills_spin_gcc_and_pan(tmp_path: Path) -> None:
    cli = start_cli(["verify", "-p", "coalescing", "--engine", "spin", "-j", "1"], tmp_path)
    names = ("spin", "gcc", "cc1", "pan")

    def engine_running() -> bool:
        return any(cli.cmdline(p).split(" ")[0].rsplit("/", 1)[-1] in names
                   for p in cli.descendants() if Path(f"/proc/{p}").exists())

    wait_for("spin, gcc or pan", cli, engine_running)
    code, _, err = stop(cli, signal.SIGHUP, points("verify-spin", 1, 0.5)[0])
    assert_clean_stop(cli, signal.SIGHUP, code, err)


# --------------------------------------------------------------------- children
def test_a_timed_out_child_is_killed_with_everything_it_started(tmp_path: Path) -> None:
    from intervm.impl import children

    marker = tmp_path / "grandchild.pid"
    script = f"sleep 60 & echo $! > {marker}; wait"
    with pytest.raises(subprocess.TimeoutExpired):
        children.run(["sh", "-c", script], timeout=2.0)
    grandchild = int(marker.read_text())

    def alive() -> bool:  # a zombie (not yet reaped by its new parent) is dead
        try:
            stat = Path(f"/proc/{grandchild}/stat").read_text()
        except OSError:
            return False
        return stat.rsplit(")", 1)[1].split()[0] != "Z"

    deadline = time.monotonic() + 10
    while alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not alive()
