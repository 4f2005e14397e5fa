"""SPIN engine: export a compiled system to Promela, build ``pan``, search, read the trail.

Safety (``Always``) and reachability (``Sometimes``) use a breadth-first ``pan``
(``gcc -DSAFETY -DBFS``), so a counterexample or witness is a shortest one and its
length equals the explicit engine's. ``Eventually`` uses the nested depth-first
search for acceptance cycles under weak fairness (``pan -a -f``). Every build uses
``spin -o2`` (SPIN's dead-variable elimination off: it would merge states that the
explicit engine keeps apart, so state counts would no longer agree) and
``-DNOREDUCE`` (every command touches globals, so partial-order reduction has
nothing to reduce).

A search that did not finish (depth bound, memory bound, timeout) is never a pass:
it is ``UNKNOWN`` with the reason. A missing ``spin`` or ``gcc``, a compile error or
a timeout is also ``UNKNOWN``; no engine failure escapes as an exception.

>>> from intervm.spec.protocols import get_protocol
>>> from intervm.model.compile import compile_spec
>>> sys = compile_spec(get_protocol("coalescing").spec("no_recheck"), {"requests": 1}, "sc")
>>> v = spin_check(sys, "no_lost_wakeup", timeout=60) if spin_available() else None
>>> v is None or v.text == "VIOLATED (10 steps)"
True
>>> parse_pan("State-vector 44 byte, depth reached 13, errors: 1\\n  6 states, stored").errors
1
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from intervm.impl import children
from intervm.model.budget import MemoryBudget
from intervm.model.promela import (
    CMD_MARK,
    SAFETY_ONLY_MACRO,
    STUTTER_PROC,
    PromelaModel,
    build_promela,
)
from intervm.model.system import CAlways, CEventually, CSometimes, System
from intervm.model.trace import Trace, TraceStep
from intervm.model.verdict import Status, Verdict
from intervm.spec.errors import EngineError, TraceError

ENGINE = "spin"
DEFAULT_TIMEOUT = 120.0
DEFAULT_MAX_DEPTH = 200_000
DEFAULT_MEMORY_MB = 2048
MODEL_FILE = "model.pml"


def spin_available() -> bool:
    """True when both ``spin`` and ``gcc`` are on the PATH."""
    return shutil.which("spin") is not None and shutil.which("gcc") is not None


@dataclass(frozen=True, slots=True)
class PanBuild:
    """A compiled ``pan`` for one system in one mode (``safety`` or ``liveness``)."""

    system: System
    model: PromelaModel
    directory: Path
    liveness: bool
    spin_seconds: float
    gcc_seconds: float
    variant: str = ""

    @property
    def build_seconds(self) -> float:
        return self.spin_seconds + self.gcc_seconds

    @property
    def spin_flags(self) -> tuple[str, ...]:
        return _spin_flags(self.liveness)


def _spin_flags(liveness: bool) -> tuple[str, ...]:
    return ("-o2",) if liveness else ("-o2", f"-D{SAFETY_ONLY_MACRO}")


@dataclass(frozen=True, slots=True)
class PanResult:
    """What one ``pan`` run printed, parsed."""

    errors: int | None
    states: int | None
    transitions: int | None
    depth: int | None
    memory_mb: float | None
    truncated: str  # why the search is incomplete, "" when it is exhaustive
    message: str  # pan's error line ("pan:1: ..."), "" when none


@dataclass(frozen=True, slots=True)
class SpinRun:
    """A verdict with SPIN's own figures (for benchmarks)."""

    verdict: Verdict
    build_seconds: float = 0.0
    search_seconds: float = 0.0
    memory_mb: float | None = None
    output: str = ""


class _Failure(Exception):
    """An engine failure, turned into an UNKNOWN verdict by the public functions."""


def _run(args: Sequence[str], cwd: Path, timeout: float, what: str) -> str:
    if timeout <= 0:
        raise _Failure(f"timeout: the time budget was used up before {what}")
    try:
        # TMPDIR: gcc's own temporary files go to the build directory, which is
        # removed even when gcc had to be killed
        done = children.run(args, cwd=cwd, timeout=timeout,
                            env={**os.environ, "TMPDIR": str(cwd)})
    except FileNotFoundError:
        raise _Failure(f"{args[0]} is not installed; install it (apt-get install -y spin "
                       "gcc) or use another engine") from None
    except subprocess.TimeoutExpired:
        raise _Failure(f"timeout after {timeout:.0f} s during {what}; raise the timeout or "
                       "use a smaller instance") from None
    out = done.stdout + done.stderr
    if done.returncode != 0 and what != "pan search":
        first = next((ln for ln in out.splitlines() if "rror" in ln), out.strip()[-300:])
        raise _Failure(f"{what} failed (exit {done.returncode}): {first.strip()}")
    return out


def _vector_bytes(system: System) -> int:
    n = sum((v.length or 0) if v.is_array else 1 for v in system.vars)
    return 4 * n + 8 * (len(system.groups) + 2) + 16


def compile_pan(
    system: System,
    directory: Path,
    *,
    liveness: bool,
    timeout: float = DEFAULT_TIMEOUT,
    variant: str = "",
    memory_mb: int = DEFAULT_MEMORY_MB,
) -> PanBuild:
    """Write the Promela model into ``directory`` and build ``pan`` there.

    Raises :class:`EngineError` (with the reason) when the system cannot be exported
    or spin/gcc fail."""
    try:
        return _compile(system, directory, liveness, timeout, variant, memory_mb)
    except _Failure as e:
        raise EngineError(str(e)) from None


def _compile(system: System, directory: Path, liveness: bool, timeout: float,
             variant: str, memory_mb: int) -> PanBuild:
    deadline = time.monotonic() + timeout
    model = build_promela(system, variant=variant)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MODEL_FILE).write_text(model.text)
    flags = _spin_flags(liveness)
    t0 = time.perf_counter()
    out = _run(["spin", *flags, "-a", MODEL_FILE], directory, deadline - time.monotonic(),
               "spin -a")
    if not (directory / "pan.c").exists() or re.search(r"\bError\b", out):
        first = next((ln for ln in out.splitlines() if "Error" in ln), out.strip())
        raise _Failure(f"spin -a rejected the exported model: {first.strip()}")
    t1 = time.perf_counter()
    cflags = ["-O2", "-DNOREDUCE", f"-DMEMLIM={memory_mb}"]
    if liveness:
        # pan refuses to start process number n unless n + 1 < 4 * NFAIR; count the
        # exported proctypes, the deadlock stutterer and the never claim
        nprocs = len(model.proctypes) + 2
        cflags.append(f"-DNFAIR={max(2, (nprocs + 1) // 4 + 1)}")
    else:
        cflags += ["-DSAFETY", "-DBFS"]
    vec = _vector_bytes(system)
    if vec > 900:
        cflags.append(f"-DVECTORSZ={1 << (vec * 2 - 1).bit_length()}")
    _run(["gcc", *cflags, "-o", "pan", "pan.c"], directory, deadline - time.monotonic(),
         "gcc pan.c")
    t2 = time.perf_counter()
    return PanBuild(system, model, directory, liveness, t1 - t0, t2 - t1, variant)


_NUM = r"(\d+(?:\.\d+)?(?:e\+?\d+)?)"


def _num(pattern: str, text: str) -> float | None:
    m = re.search(pattern, text)
    return float(m.group(1)) if m else None


def parse_pan(out: str) -> PanResult:
    """Parse the summary ``pan`` prints."""
    errors = _num(r"errors: (\d+)", out)
    nominal = _num(rf"{_NUM} nominal states", out)
    stored = _num(rf"{_NUM} states, stored", out)
    trans = _num(rf"{_NUM} transitions", out)
    depth = _num(r"depth reached (\d+)", out)
    mem = _num(rf"{_NUM}\s+total actual memory usage", out)
    truncated = ""
    if "max search depth too small" in out:
        truncated = f"search truncated at depth {int(depth or 0)} (pan -m); raise max_depth"
    elif "reached -DMEMLIM bound" in out or "out of memory" in out:
        truncated = "pan ran out of memory (-DMEMLIM); raise memory_mb or use a smaller instance"
    elif errors is None:
        truncated = "pan printed no summary: " + (out.strip().splitlines() or ["(no output)"])[-1]
    msg = next((ln.strip() for ln in out.splitlines() if re.match(r"pan:\d+:", ln)), "")
    return PanResult(
        None if errors is None else int(errors),
        None if (nominal or stored) is None else int(nominal or stored or 0),
        None if trans is None else int(trans),
        None if depth is None else int(depth),
        mem,
        truncated,
        msg,
    )


def search(
    build: PanBuild,
    prop: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    max_depth: int = DEFAULT_MAX_DEPTH,
    hash_bits: int | None = None,
) -> SpinRun:
    """Run ``pan`` on ``build`` for property ``prop``; never raises for engine failures."""
    t0 = time.perf_counter()
    try:
        return _search(build, prop, timeout, max_depth, hash_bits, t0)
    except (_Failure, EngineError, TraceError) as e:
        return SpinRun(_unknown(prop, str(e), time.perf_counter() - t0 + build.build_seconds),
                       build.build_seconds, time.perf_counter() - t0)


def _unknown(prop: str, reason: str, seconds: float) -> Verdict:
    return Verdict(Status.UNKNOWN, prop, ENGINE, seconds, reason=reason)


def _search(build: PanBuild, prop: str, timeout: float, max_depth: int,
            hash_bits: int | None, t0: float) -> SpinRun:
    system = build.system
    try:
        p = system.prop(prop)
    except KeyError:
        raise _Failure(f"system {system.name!r} has no property {prop!r}; its properties "
                       f"are: {', '.join(q.name for q in system.properties)}") from None
    live = isinstance(p, CEventually)
    if live != build.liveness:
        mode = "liveness" if live else "safety"
        raise _Failure(f"property {prop!r} needs a {mode} build of pan; compile with "
                       f"liveness={live}")
    if live and any(c.group is None for c in system.commands):
        raise _Failure("the system has unfair commands; SPIN's weak fairness (-f) applies to "
                       "every process, so use the explicit engine for this liveness check")
    args = ["./pan", "-N", build.model.ltl[prop]]
    if live:
        args += ["-a", "-f", f"-m{max_depth}"]
    if hash_bits is not None:
        args.append(f"-w{hash_bits}")
    trail = build.directory / f"{MODEL_FILE}.trail"
    trail.unlink(missing_ok=True)
    out = _run(args, build.directory, timeout, "pan search")
    search_s = time.perf_counter() - t0
    r = parse_pan(out)
    seconds = build.build_seconds + search_s
    states = r.states
    scope = f"{system.param_text}; {states} states"
    verdict: Verdict
    if r.errors:
        if not trail.exists():
            raise _Failure(f"pan reported {r.errors} error(s) ({r.message}) but wrote no trail")
        rest = timeout - (time.perf_counter() - t0)
        tr = read_trail(build, prop, timeout=rest)
        match p:
            case CAlways():
                verdict = Verdict(Status.VIOLATED, prop, ENGINE, seconds, depth=len(tr),
                                  states=states, trace=tr)
            case CSometimes():
                verdict = Verdict(Status.PROVED, prop, ENGINE, seconds, depth=len(tr),
                                  states=states, scope=f"reached in {len(tr)} steps", trace=tr)
            case CEventually():
                verdict = Verdict(Status.VIOLATED, prop, ENGINE, seconds, depth=len(tr),
                                  states=states, trace=tr)
    elif r.truncated:
        verdict = Verdict(Status.UNKNOWN, prop, ENGINE, seconds, states=states,
                          reason=r.truncated)
    else:
        match p:
            case CAlways() | CEventually():
                verdict = Verdict(Status.HOLDS, prop, ENGINE, seconds, states=states,
                                  scope=scope)
            case CSometimes():
                verdict = Verdict(Status.VIOLATED, prop, ENGINE, seconds, states=states,
                                  reason="unreachable", scope=scope)
    return SpinRun(verdict, build.build_seconds, search_s, r.memory_mb, out)


def read_trail(build: PanBuild, prop: str, *, timeout: float = DEFAULT_TIMEOUT) -> Trace:
    """Replay ``model.pml.trail`` with ``spin -t -p -g`` into a :class:`Trace`."""
    out = _run(["spin", *build.spin_flags, "-t", "-p", "-g", MODEL_FILE], build.directory,
               timeout, "spin -t (trail replay)")
    return parse_trail(out, build.system, build.model, prop, build.variant)


_ASSIGN = re.compile(r"^\t\t(\w+)(?:\[(\d+)\])? = (-?\d+)$")
_MARK = re.compile(rf"^\s*{re.escape(CMD_MARK)} (\d+)$")
_STUTTER = re.compile(rf"proc\s+\d+ \({STUTTER_PROC}:\d+\).*\[\(timeout\)\]")


def parse_trail(out: str, system: System, model: PromelaModel, prop: str,
                variant: str = "") -> Trace:
    """Turn ``spin -t -p -g`` output into a trace of command names and states."""
    back = {v: k for k, v in model.names.items()}
    state: dict[str, Any] = {}
    for v in system.vars:
        state[v.name] = [v.init] * (v.length or 0) if v.is_array else v.init
    init = _freeze(state)
    raw: list[tuple[str, str, Mapping[str, Any]]] = []
    loop: int | None = None
    for line in out.splitlines():
        if m := _ASSIGN.match(line):
            var = back.get(m.group(1))
            if var is None:
                continue  # ghosts and temporaries
            if m.group(2) is not None:
                state[var][int(m.group(2))] = int(m.group(3))
            else:
                state[var] = int(m.group(3))
        elif m := _MARK.match(line):
            k = int(m.group(1))
            if not 0 <= k < len(system.commands):
                raise TraceError(f"trail names command {k}, which the system does not have")
            c = system.commands[k]
            raw.append((c.name, c.process, _freeze(state)))
        elif _STUTTER.search(line):
            raw.append(("stutter", "-", _freeze(state)))
        elif "START OF CYCLE" in line:
            loop = len(raw)
    # a deadlock stutters once in a trace: merge runs of stutters (the state is fixed)
    steps: list[TraceStep] = []
    merged_into: list[int] = []
    for cmd, proc, st in raw:
        if not (cmd == "stutter" and steps and steps[-1].command == "stutter"):
            steps.append(TraceStep(cmd, proc, st))
        merged_into.append(len(steps) - 1)
    loop_start = merged_into[loop] if loop is not None and loop < len(raw) else None
    return Trace(
        system=system.name,
        variant=variant or system.variant,
        memory_model=system.memory_model,
        params=system.params,
        prop=prop,
        init=init,
        steps=tuple(steps),
        loop_start=loop_start,
        engine=ENGINE,
    )


def _freeze(state: Mapping[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in state.items()}


def spin_run(
    system: System,
    prop: str,
    timeout: float = DEFAULT_TIMEOUT,
    *,
    variant: str = "",
    max_depth: int = DEFAULT_MAX_DEPTH,
    memory_mb: int = DEFAULT_MEMORY_MB,
    workdir: Path | None = None,
) -> SpinRun:
    """Build and search in a fresh directory (or ``workdir``); SPIN figures included."""
    t0 = time.perf_counter()
    try:
        p = system.prop(prop)
    except KeyError:
        return SpinRun(_unknown(prop, f"system {system.name!r} has no property {prop!r}", 0.0))
    if not spin_available():
        return SpinRun(_unknown(prop, "spin or gcc is not installed (apt-get install -y spin "
                                "gcc); use another engine", 0.0))
    with tempfile.TemporaryDirectory(prefix="intervm-spin-") as tmp:
        where = workdir if workdir is not None else Path(tmp)
        try:
            build = compile_pan(system, where, liveness=isinstance(p, CEventually),
                                timeout=timeout, variant=variant, memory_mb=memory_mb)
        except EngineError as e:
            return SpinRun(_unknown(prop, str(e), time.perf_counter() - t0))
        rest = timeout - (time.perf_counter() - t0)
        return search(build, prop, timeout=rest, max_depth=max_depth)


def spin_check(
    system: System,
    prop: str,
    timeout: float = DEFAULT_TIMEOUT,
    *,
    variant: str = "",
    max_depth: int = DEFAULT_MAX_DEPTH,
    memory: MemoryBudget | None = None,
) -> Verdict:
    """Check ``prop`` on the finite ``system`` with SPIN; UNKNOWN on any engine failure.
    ``memory``: pan's ``-DMEMLIM`` (default :data:`DEFAULT_MEMORY_MB`)."""
    mb = DEFAULT_MEMORY_MB if memory is None else memory.megabytes
    v = spin_run(system, prop, timeout, variant=variant, max_depth=max_depth,
                 memory_mb=mb).verdict
    if memory is not None and v.status is Status.UNKNOWN and "-DMEMLIM" in v.reason:
        v = replace(v, reason=f"memory budget {memory.text} exceeded in pan (-DMEMLIM={mb}) "
                              f"at {system.param_text} — lower a --param or raise "
                              f"{memory.option}")
    return v
