"""Cross-check examples/litmus/arm.py's Arm column with herd7 (herdtools7's aarch64.cat).

Run from the repository root:

    python bench/herd_crosscheck.py /opt/herdtools7/bin/herd7   # run herd7 on every test
    python bench/herd_crosscheck.py --write                     # regenerate the .litmus files
    python bench/herd_crosscheck.py --check-files               # are they up to date?

``examples/litmus/herd/arm/NAME.litmus`` is each test of ``arm.py`` in herd's AArch64
syntax, generated from the same instruction strings (``--write``). For each file the
script runs ``herd7 -model aarch64.cat FILE``, prints the test's name, herd7's
verdict (Allowed when the ``exists`` state is observed, Forbidden when it is never)
and the verdict ``arm.py`` declares in ``ARM_EXPECTED``; it exits 1 when any differ
or a test has no file, 2 when herd7 cannot be run.

Translation: local ``rK`` is ``WK`` (``XK`` in the condition), each thread's
locations sit in ``X10``, ``X11``, ... and the k-th instruction's scratch register
is ``W(20+k)``; an address dependency on ``r0`` is ``EOR W2k,W0,W0`` then
``LDR Wr,[Xa,W2k,SXTW]``, a data dependency ``EOR`` then ``ADD W2k,W2k,#v`` then
``STR``, ``ctrl r0`` is ``CBNZ W0,LCtk`` to the label on the next instruction, and
``dmb`` / ``dmb.st`` / ``dmb.ld`` are ``DMB ISH`` / ``DMB ISHST`` / ``DMB ISHLD``.

>>> render_thread(0, ("x=1", "dmb.st", "y=1 rel"))[0]
['MOV W20,#1', 'STR W20,[X10]', 'DMB ISHST', 'MOV W22,#1', 'STLR W22,[X11]']
>>> verdict_of("Observation MP Sometimes 1 3")
'Allowed'
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "litmus" / "arm.py"
HERD_DIR = ROOT / "examples" / "litmus" / "herd" / "arm"
BARRIERS = {"dmb": "DMB ISH", "dmb.st": "DMB ISHST", "dmb.ld": "DMB ISHLD"}


def load_catalogue() -> ModuleType:
    """examples/litmus/arm.py as a module (with this checkout's intervm first)."""
    sys.path.insert(0, str(ROOT))
    spec = importlib.util.spec_from_file_location("arm_litmus_catalogue", EXAMPLE)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _reg(local: str) -> str:
    return "W" + local.removeprefix("r")


def render_thread(t: int, code: tuple[str, ...]) -> tuple[list[str], dict[str, str]]:
    """Thread ``t``'s instructions in herd's syntax, and its location -> register map."""
    locs: dict[str, str] = {}
    out: list[str] = []
    label = ""
    for k, text in enumerate(code):
        words = text.split()
        lines: list[str]
        if words[0] in BARRIERS:
            lines = [BARRIERS[words[0]]]
        elif words[0] == "ctrl":
            lines = [f"CBNZ {_reg(words[1])},LC{t}{k}"]
        else:
            lhs, rhs = words[0].split("=")
            mods = words[1:]
            loc = rhs if lhs.startswith("r") else lhs
            addr = locs.setdefault(loc, f"X{10 + len(locs)}")
            tmp = f"W{20 + k}"
            dep = next((mods[i + 1] for i, m in enumerate(mods) if m in ("addr", "data")), "")
            if lhs.startswith("r"):
                op = "LDAR" if "acq" in mods else "LDR"
                if dep:
                    lines = [f"EOR {tmp},{_reg(dep)},{_reg(dep)}",
                             f"{op} {_reg(lhs)},[{addr},{tmp},SXTW]"]
                else:
                    lines = [f"{op} {_reg(lhs)},[{addr}]"]
            else:
                op = "STLR" if "rel" in mods else "STR"
                first = ([f"EOR {tmp},{_reg(dep)},{_reg(dep)}", f"ADD {tmp},{tmp},#{rhs}"]
                         if dep else [f"MOV {tmp},#{rhs}"])
                lines = [*first, f"{op} {tmp},[{addr}]"]
        if label:
            out.append(f"{label}:")
            label = ""
        out.extend(lines)
        if words[0] == "ctrl":
            label = f"LC{t}{k}"
    if label:
        out.append(f"{label}:")
    return out, locs


def _condition(exists: str) -> str:
    atoms = []
    for atom in exists.split():
        where, value = atom.split("=")
        if ":" in where:
            thread, reg = where.split(":")
            atoms.append(f"{thread}:X{reg.removeprefix('r')}={value}")
        else:
            atoms.append(f"[{where}]={value}")
    return " /\\ ".join(atoms)


def render(name: str, threads: tuple[tuple[str, ...], ...], exists: str, doc: str) -> str:
    """One test as a herd AArch64 .litmus file."""
    columns = [render_thread(t, code) for t, code in enumerate(threads)]
    init = " ".join(f"{t}:{reg}={loc};" for t, (_, locs) in enumerate(columns)
                    for loc, reg in locs.items())
    rows = max(len(code) for code, _ in columns)
    cells = [[f"P{t}", *code, *[""] * (rows - len(code))] for t, (code, _) in
             enumerate(columns)]
    widths = [max(len(c) for c in col) for col in cells]
    lines = [" " + " | ".join(col[i].ljust(w) for col, w in zip(cells, widths, strict=True))
             + " ;" for i in range(rows + 1)]
    text = doc.replace('"', "'")
    return (f"AArch64 {name}\n\"{text} (intervm examples/litmus/arm.py)\"\n"
            f"{{\n{init}\n}}\n" + "\n".join(lines) + f"\nexists ({_condition(exists)})\n")


def expected_files(mod: ModuleType) -> dict[str, str]:
    """file name -> contents, for every test of the catalogue."""
    return {f"{v.name}.litmus": render(v.name, v.knobs.threads, v.knobs.exists, v.doc)
            for v in mod.TESTS}


def verdict_of(output: str) -> str | None:
    """herd7's verdict from its output: the ``Observation NAME Never|Sometimes|Always``."""
    for line in output.splitlines():
        words = line.split()
        if len(words) >= 3 and words[0] == "Observation":
            return "Forbidden" if words[2] == "Never" else "Allowed"
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("herd7", nargs="?", help="path of the herd7 binary")
    ap.add_argument("--model", default="aarch64.cat", help="herd7's -model (aarch64.cat)")
    ap.add_argument("--write", action="store_true", help="regenerate the .litmus files")
    ap.add_argument("--check-files", action="store_true",
                    help="only check that the .litmus files match arm.py")
    args = ap.parse_args(argv)
    mod = load_catalogue()
    want = expected_files(mod)
    if args.write:
        HERD_DIR.mkdir(parents=True, exist_ok=True)
        for old in HERD_DIR.glob("*.litmus"):
            old.unlink()
        for fname, text in want.items():
            (HERD_DIR / fname).write_text(text)
        print(f"wrote {len(want)} tests to {HERD_DIR.relative_to(ROOT)}")
        return 0
    stale = sorted(f for f, text in want.items()
                   if not (HERD_DIR / f).is_file() or (HERD_DIR / f).read_text() != text)
    if stale:
        print(f"error: {len(stale)} .litmus file(s) missing or out of date ({stale[0]}, ...); "
              "run python bench/herd_crosscheck.py --write", file=sys.stderr)
        return 1
    if args.check_files:
        print(f"{len(want)} .litmus files match {EXAMPLE.relative_to(ROOT)}")
        return 0
    if args.herd7 is None:
        print("error: no herd7 given; pass its path, e.g. /opt/herdtools7/bin/herd7",
              file=sys.stderr)
        return 2
    herd = shutil.which(args.herd7)
    if herd is None:
        print(f"error: herd7 not found at {args.herd7!r}; build herdtools7 (see "
              "examples/litmus/README.md) or pass the binary's path", file=sys.stderr)
        return 2
    declared: dict[str, bool] = mod.ARM_EXPECTED
    bad = 0
    for v in mod.TESTS:
        run = subprocess.run([herd, "-model", args.model, str(HERD_DIR / f"{v.name}.litmus")],
                             capture_output=True, text=True, check=False)
        got = verdict_of(run.stdout)
        if got is None:
            print(f"error: herd7 gave no verdict for {v.name} (exit {run.returncode}): "
                  f"{(run.stderr or run.stdout).strip().splitlines()[-1:]}", file=sys.stderr)
            return 2
        want_v = "Allowed" if declared[v.name] else "Forbidden"
        ok = got == want_v
        bad += not ok
        print(f"{v.name:<26} {got:<9} declared {want_v:<9} {'ok' if ok else 'MISMATCH'}")
    print(f"{len(mod.TESTS)} tests, {bad} differ from ARM_EXPECTED")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
