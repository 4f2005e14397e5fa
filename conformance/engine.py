"""The C peer engine: nanosecond timing for the live tester's store-buffer races.

A consumer or producer without a full fence loses a wakeup only when its peer
publishes (or arms) inside the few tens of nanoseconds its store sits in the CPU
store buffer; a Python peer needs microseconds per access and never lands there.
``peer_engine.c`` (next to this module) plays the peer role with compiled timing:
it learns when the binary is about to store SLEEPING (or publish) and races it.
It is built with ``cc`` on first use into a per-user cache directory, keyed by
the source hash, and reads every offset from :mod:`intervm.spec.layout`.
All verdicts stay in Python (:mod:`intervm.conformance.live`): the engine only
publishes or consumes, and reports what it did.

>>> from intervm.spec.layout import build_layout
>>> layout_arg(build_layout(capacity=8), stall_ms=1000)
'64,68,128,132,256,16,8,1000'
>>> parse_done("done published 12 rings 3 spurious 4")
{'published': 12, 'rings': 3, 'spurious': 4}
>>> parse_done("stall consumer did not commit") is None
True
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from intervm.impl import children
from intervm.spec.layout import Layout

SOURCE = Path(__file__).resolve().with_name("peer_engine.c")
CFLAGS = ("-O2", "-std=c11", "-Wall", "-Wextra")


class EngineUnavailable(Exception):
    """The engine could not be built here (no compiler, or it rejected the source)."""


def cache_dir() -> Path:
    """Where built engines live: ``$XDG_CACHE_HOME/intervm`` or the temp dir, per user."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg) / "intervm"
    return Path(tempfile.gettempdir()) / f"intervm-{os.getuid()}"


def build(cc: str | None = None) -> Path:
    """The engine binary, compiled now if this source has not been built yet.

    ``EngineUnavailable`` names what is missing and what to do about it.
    """
    compiler = cc or os.environ.get("CC") or "cc"
    exe = shutil.which(compiler)
    if exe is None:
        raise EngineUnavailable(
            f"no C compiler {compiler!r} on PATH, so the nanosecond peer engine was not built "
            "and store-buffer races (missing fences) were not tested; install cc or set CC, "
            "or pass --no-engine to skip this on purpose")
    digest = hashlib.sha256(SOURCE.read_bytes() + " ".join(CFLAGS).encode()).hexdigest()[:16]
    out = cache_dir() / f"peer_engine-{digest}"
    if out.is_file() and os.access(out, os.X_OK):
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".peer_engine-", dir=out.parent)
    os.close(fd)
    try:
        res = children.run([exe, *CFLAGS, "-o", tmp, str(SOURCE)], timeout=120)
        if res.returncode != 0:
            first = (res.stderr.strip().splitlines() or ["(no output)"])[0]
            raise EngineUnavailable(f"{compiler} could not build {SOURCE.name}: {first}; "
                                    "check the compiler, or pass --no-engine")
        os.replace(tmp, out)  # atomic: parallel runs never see a half-written binary
    except subprocess.TimeoutExpired:
        raise EngineUnavailable(f"{compiler} took over 120 s to build {SOURCE.name}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return out


def layout_arg(layout: Layout, stall_ms: int) -> str:
    """The engine's LAYOUT argument: offsets of tail, pwait, head, flag, slot 0, the
    slot size, the capacity, and how long it waits for a stalled peer."""
    fields = ("tail", "pwait", "head", "flag", "slot_id")
    return ",".join([*(str(layout.field(f).offset) for f in fields), str(layout.slot_size),
                     str(layout.capacity), str(stall_ms)])


def argv(exe: Path, mode: str, region: Path, fds: dict[str, int], seed: int, ms: int,
         count: int, layout: Layout, stall_ms: int) -> list[str]:
    """The command line that runs the engine as ``mode`` (producer or consumer)."""
    return [str(exe), mode, str(region), str(fds["irq"]), str(fds["done"]),
            str(seed & 0x7FFF_FFFF), str(ms), "0", str(count), layout_arg(layout, stall_ms)]


def parse_done(line: str) -> dict[str, int] | None:
    """The engine's final ``done K V K V ...`` line as a dict; None for any other line."""
    words = line.split()
    if len(words) < 3 or words[0] != "done" or len(words) % 2 == 0:
        return None
    try:
        return {k: int(v) for k, v in zip(words[1::2], words[2::2], strict=True)}
    except ValueError:
        return None


def pin(engine_pid: int, binary_pid: int) -> bool:
    """Put the engine and the binary on different CPUs (True if done): a store-buffer
    race needs both really running at once, not time-sliced on one core."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            return False
        os.sched_setaffinity(engine_pid, {cpus[0]})
        os.sched_setaffinity(binary_pid, {cpus[1]})
    except OSError:
        return False
    return True
