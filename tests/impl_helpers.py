"""Shared fixtures for the impl tests: a region with doorbells, counting access."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from intervm.impl.access import Fence, SharedAccess
from intervm.impl.doorbell import Doorbells
from intervm.impl.region import Region
from intervm.impl.region_file import Existing


@contextmanager
def region(tmp_path: Path, capacity: int = 8) -> Iterator[Region]:
    bells = Doorbells.create(("irq", "done"))
    # a test may take several regions in turn: each replaces the previous, idle one
    reg = Region.create(tmp_path / "region", capacity, doorbells=bells,
                        existing=Existing.REUSE)
    try:
        yield reg
    finally:
        reg.close()
        bells.close()


class CountingAccess:
    """Wraps an access object and counts loads per (field, index) since ``reset``."""

    def __init__(self, inner: SharedAccess) -> None:
        self.inner = inner
        self.loads: Counter[tuple[str, int | None]] = Counter()
        self.notifies: Counter[str] = Counter()

    def reset(self) -> None:
        self.loads.clear()

    def load(self, field: str, index: int | None = None) -> int:
        self.loads[(field, index)] += 1
        return self.inner.load(field, index)

    def store(self, field: str, value: int, index: int | None = None) -> None:
        self.inner.store(field, value, index)

    def fence(self, kind: Fence = Fence.FULL) -> None:
        self.inner.fence(kind)

    def rmw_add(self, field: str, delta: int, index: int | None = None) -> int:
        return self.inner.rmw_add(field, delta, index)

    def notify(self, doorbell: str) -> None:
        self.notifies[doorbell] += 1
        self.inner.notify(doorbell)

    def wait(self, doorbell: str, timeout: float) -> bool:
        return self.inner.wait(doorbell, timeout)
