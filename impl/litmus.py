"""Store-buffering (Dekker) litmus test on the real region, two pinned processes.

Process P runs ``x = k; [fence]; r0 = y`` and process C runs ``y = k; [fence];
r1 = x`` for k = 1..N, with x = ``tail`` and y = ``head`` (separate cache
lines, written through the access interface). An iteration where both read a
value < k is the TSO store→load reordering the protocol's full fences forbid.
Each iteration starts with a barrier on ``pwait`` (P) and ``flag`` (C), words
on each side's own cache line, so both stores race as closely as they can.

Two access paths are measured: ``direct=False`` goes through
:class:`~intervm.impl.region.Region` (the protocol's path; its per-call
overhead of a few hundred ns usually lets the store buffer drain, so plain
reorderings are rare), ``direct=True`` uses atomicshm on the same file and
offsets with nothing in between (reorderings are then frequent on x86).

>>> import tempfile, pathlib
>>> res = run_sb(pathlib.Path(tempfile.mkdtemp()) / "sb", iterations=2000, fenced=True)
>>> res.iterations, res.reordered
(2000, 0)
>>> run_sb(pathlib.Path(tempfile.mkdtemp()) / "sb", 2000, fenced=True, direct=True).reordered
0
"""

from __future__ import annotations

import functools
import mmap
import multiprocessing as mp
import os
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import atomicshm

from intervm.impl.region import Region
from intervm.spec import layout as L

SPIN_LIMIT = 20_000_000


@dataclass(frozen=True)
class LitmusResult:
    """How many of ``iterations`` ended with r0 < k and r1 < k (both stale)."""

    iterations: int
    fenced: bool
    reordered: int
    pinned: bool
    direct: bool


Load = Callable[[], int]
Store = Callable[[int], None]


def _cells(
    path: Path, direct: bool, names: tuple[str, str, str, str]
) -> tuple[list[Load], list[Store], Callable[[], None], Callable[[], None]]:
    """Per-field (load, store) callables, plus fence and close, over ``path``."""
    if not direct:
        acc = Region.attach(path)
        loads: list[Load] = [functools.partial(acc.load, n) for n in names]
        stores: list[Store] = [functools.partial(acc.store, n) for n in names]
        return loads, stores, acc.fence, acc.close
    lay = L.build_layout(1)
    fd = os.open(path, os.O_RDWR)
    mm = mmap.mmap(fd, lay.total_size)
    os.close(fd)
    view = atomicshm.AtomicView(mm)
    cells = [view.cell_u32(lay.field(n).offset) for n in names]
    loads = [functools.partial(c.load, atomicshm.ACQUIRE) for c in cells]
    stores = [functools.partial(_store, c) for c in cells]

    def close() -> None:
        view.close()
        mm.close()

    return loads, stores, functools.partial(atomicshm.fence, atomicshm.SEQ_CST), close


def _store(cell: atomicshm.AtomicU32, value: int) -> None:
    cell.store(value, atomicshm.RELEASE)


def _side(
    path: Path,
    fields: tuple[str, str, str, str],
    n: int,
    flags: tuple[bool, bool],
    cpu: int | None,
    out: Connection,
) -> None:
    fenced, direct = flags
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    loads, stores, fence, close = _cells(path, direct, fields)
    store_mine, store_bar = stores[0], stores[2]
    load_theirs, load_their_bar = loads[1], loads[3]
    stale = bytearray(n + 1)
    for k in range(1, n + 1):
        store_bar(k)
        for _ in range(SPIN_LIMIT):  # barrier: the peer is ready for iteration k too
            if load_their_bar() >= k:
                break
        else:
            out.send(None)
            return
        store_mine(k)
        if fenced:
            fence()
        stale[k] = load_theirs() < k
    close()
    out.send(bytes(stale))


def run_sb(path: Path, iterations: int, fenced: bool, direct: bool = False) -> LitmusResult:
    """Run the litmus test on a fresh region at ``path`` (removed afterwards)."""
    cpus = sorted(os.sched_getaffinity(0))
    pinned = len(cpus) >= 2
    region = Region.create(path, capacity=1)
    ctx = mp.get_context("fork")
    pipes = [ctx.Pipe(duplex=False) for _ in range(2)]
    procs = [
        ctx.Process(
            target=_side,
            args=(
                path,
                fields,
                iterations,
                (fenced, direct),
                cpus[i] if pinned else None,
                pipes[i][1],
            ),
        )
        for i, fields in enumerate(
            (("tail", "head", "pwait", "flag"), ("head", "tail", "flag", "pwait"))
        )
    ]
    try:
        for p in procs:
            p.start()
        results = []
        for recv, _ in pipes:
            if not recv.poll(300):
                raise TimeoutError("litmus side gave no result within 300 s")
            results.append(recv.recv())
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
            p.join(10)
        region.close()
        path.unlink(missing_ok=True)
    if any(r is None for r in results):
        raise TimeoutError("litmus peer stopped advancing (spin limit reached)")
    a, b = results
    reordered = sum(1 for k in range(1, iterations + 1) if a[k] and b[k])
    return LitmusResult(iterations, fenced, reordered, pinned, direct)
