"""examples/litmus/arm.py: the ARMv8 litmus catalogue's SC/TSO/PSO/ARM verdicts pinned, its
herd7 transcriptions kept in step with it, and every
Arm verdict checked against herd7's ``aarch64.cat``."""

from __future__ import annotations

import doctest
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from litmus_helpers import pinned_row

from intervm.model.check import Checker, CheckOptions
from intervm.model.verdict import Status
from intervm.spec.api import Protocol, load_protocols

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = str(ROOT / "examples" / "litmus" / "arm.py")
CROSSCHECK = ROOT / "bench" / "herd_crosscheck.py"
HERD7 = Path("/opt/herdtools7/bin/herd7")
MODELS = ("sc", "tso", "pso", "arm")

# variant -> the `exists` verdict under SC, TSO, PSO, ARM with the default options:
# Rn = REACHED in n steps (allowed), U = UNREACHABLE (forbidden)
PINNED = {
    "MP": "U U R5 R5",
    "MP+dmb.sy+po": "U U U R7",
    "MP+po+dmb.sy": "U U R6 R6",
    "MP+dmb.sys": "U U U U",
    "MP+dmb.st+dmb.ld": "U U U U",
    "MP+dmb.sy+addr": "U U U U",
    "MP+dmb.st+addr": "U U U U",
    "MP+dmb.sy+ctrl": "U U U R8",
    "MP+rel+acq": "U U U U",
    "MP+popl+po": "U U U R6",
    "MP+po+poa": "U U R5 R5",
    "MP+popl+addr": "U U U U",
    "MP+dmb.st+poa": "U U U U",
    "MP+popl+dmb.ld": "U U U U",
    "SB": "U R4 R4 R4",
    "SB+dmb.sy+po": "U R6 R6 R6",
    "SB+dmb.sys": "U U U U",
    "SB+dmb.sy+rel-acq": "U R6 R6 U",
    "SB+rel-acqs": "U R4 R4 U",
    "SB+dmb.sts": "U R6 R6 R6",
    "SB+dmb.lds": "U R6 R6 R6",
    "LB": "U U U R7",
    "LB+dmb.sy+po": "U U U R8",
    "LB+dmb.sys": "U U U U",
    "LB+datas": "U U U U",
    "LB+ctrls": "U U U U",
    "LB+dmb.sy+ctrl": "U U U U",
    "LB+popls": "U U U U",
    "LB+poas": "U U U U",
    "LB+dmb.lds": "U U U U",
    "LB+dmb.sts": "U U U R9",
    "S": "U U R9 R9",
    "S+dmb.sy+po": "U U U R11",
    "S+po+dmb.sy": "U U R10 R10",
    "S+dmb.sys": "U U U U",
    "S+dmb.st+data": "U U U U",
    "S+dmb.st+ctrl": "U U U U",
    "S+popl+poa": "U U U U",
    "R": "U R9 R9 R9",
    "R+dmb.sy+po": "U R10 R10 R10",
    "R+po+dmb.sy": "U U R10 R10",
    "R+dmb.sys": "U U U U",
    "R+dmb.st+dmb.sy": "U U U U",
    "R+popl+dmb.sy": "U U U U",
    "R+popl+rel-acq": "U R9 R9 U",
    "2+2W": "U U R10 R10",
    "2+2W+dmb.sy+po": "U U R11 R11",
    "2+2W+dmb.sys": "U U U U",
    "2+2W+dmb.sts": "U U U U",
    "2+2W+popls": "U U U U",
    "WRC": "U U U R7",
    "WRC+data+addr": "U U U U",
    "WRC+dmb.sy+addr": "U U U U",
    "WRC+po+addr": "U U U R8",
    "WRC+popl+poa": "U U U U",
    "WRC+ctrl+dmb.ld": "U U U U",
    "ISA2": "U U R8 R8",
    "ISA2+dmb.st+data+addr": "U U U U",
    "ISA2+dmb.sys": "U U U U",
    "ISA2+popl+popl+poa": "U U U U",
    "ISA2+dmb.sy+data+po": "U U U R11",
    "IRIW": "U U U R8",
    "IRIW+addrs": "U U U U",
    "IRIW+dmb.sys": "U U U U",
    "IRIW+poas": "U U U U",
    "CoRR": "U U U U",
    "CoWR": "U U U U",
    "CoRW1": "U U U U",
    "CoRW2": "U U U U",
    "CoWW": "U U U U",
}

# herd7 (aarch64.cat) allows these 26 outcomes and forbids the other 44
ARM_ALLOWED = {
    "MP", "MP+dmb.sy+po", "MP+po+dmb.sy", "MP+dmb.sy+ctrl", "MP+popl+po", "MP+po+poa",
    "SB", "SB+dmb.sy+po", "SB+dmb.sts", "SB+dmb.lds",
    "LB", "LB+dmb.sy+po", "LB+dmb.sts",
    "S", "S+dmb.sy+po", "S+po+dmb.sy",
    "R", "R+dmb.sy+po", "R+po+dmb.sy",
    "2+2W", "2+2W+dmb.sy+po",
    "WRC", "WRC+po+addr", "ISA2", "ISA2+dmb.sy+data+po", "IRIW",
}


def catalogue() -> Protocol:
    (proto,) = load_protocols(EXAMPLE)
    return proto


def module(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_litmus_verdict_is_pinned_and_as_declared() -> None:
    proto = catalogue()
    assert [v.name for v in proto.variants] == list(PINNED)
    checker = Checker(proto, CheckOptions(engine="explicit"))
    for variant, want in PINNED.items():
        got, verdicts = pinned_row(checker, variant, MODELS)
        for mm, v in zip(MODELS, verdicts, strict=True):
            if mm != "sc" and v.status is Status.VIOLATED:  # for every buffer depth
                assert v.buffer_bound == "unbounded", (variant, mm)
        assert got == want, variant


def test_the_arm_column_is_herd7s() -> None:
    """ARM_EXPECTED names every test once; its allowed set is herd7's (26 of 70)."""
    arm = module(Path(EXAMPLE), "arm_litmus_for_test")
    assert doctest.testmod(arm).failed == 0
    assert list(arm.ARM_EXPECTED) == list(PINNED)
    assert {t for t, allowed in arm.ARM_EXPECTED.items() if allowed} == ARM_ALLOWED
    assert len(ARM_ALLOWED) == 26 and len(PINNED) == 70


def test_the_herd_files_match_the_catalogue() -> None:
    """examples/litmus/herd/arm holds exactly the tests of arm.py, as --write renders them."""
    cross = module(CROSSCHECK, "herd_crosscheck_for_test")
    assert doctest.testmod(cross).failed == 0
    assert cross.main(["--check-files"]) == 0
    on_disk = sorted(p.name for p in cross.HERD_DIR.glob("*.litmus"))
    assert on_disk == sorted(f"{name}.litmus" for name in PINNED)


def test_a_missing_herd7_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path) -> None:
    cross = module(CROSSCHECK, "herd_crosscheck_for_test")
    assert cross.main([str(tmp_path / "herd7")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: herd7 not found at ")


def test_a_verdict_that_differs_fails_the_crosscheck(capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path) -> None:
    """A stand-in herd7 that forbids everything: the 26 allowed tests are mismatches."""
    fake = tmp_path / "herd7"
    fake.write_text('#!/bin/sh\necho "Observation $3 Never 0 1"\n')
    fake.chmod(0o755)
    cross = module(CROSSCHECK, "herd_crosscheck_for_test")
    assert cross.main([str(fake)]) == 1
    out = capsys.readouterr().out
    assert out.count("MISMATCH") == 26 and "MP+dmb.sy+ctrl" in out
    assert out.endswith("70 tests, 26 differ from ARM_EXPECTED\n")


@pytest.mark.skipif(not HERD7.is_file(), reason="herd7 is not installed in /opt/herdtools7")
def test_herd7_agrees_with_the_declared_arm_column(capsys: pytest.CaptureFixture[str]) -> None:
    cross = module(CROSSCHECK, "herd_crosscheck_for_test")
    assert cross.main([str(HERD7)]) == 0
    assert capsys.readouterr().out.endswith("70 tests, 0 differ from ARM_EXPECTED\n")


def test_every_arm_verdict_is_herd7s() -> None:
    """Under intervm's arm model each outcome is reachable exactly when herd7's
    aarch64.cat allows it, and the variants declare just that."""
    proto = catalogue()
    checker = Checker(proto, CheckOptions(engine="explicit"))
    wrong = []
    for v in proto.variants:
        assert v.expected("exists", "arm") == ("holds" if v.name in ARM_ALLOWED else "violated")
        verdict = checker.check(v.name, "arm", "exists").verdict
        assert verdict is not None and verdict.status in (Status.PROVED, Status.VIOLATED)
        if (verdict.status is Status.PROVED) != (v.name in ARM_ALLOWED):
            wrong.append((v.name, verdict.text))
    assert wrong == []
