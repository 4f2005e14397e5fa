"""The one interface through which protocol code touches shared memory.

Every shared access in ``impl.coalescing`` and ``impl.timer`` is exactly one
call on an object satisfying :class:`SharedAccess`, so the same protocol code
runs over the real mmap (:class:`intervm.impl.region.Region`) or under a
conformance tester's controlled scheduler and emulated memory model.

>>> class Dict:
...     def __init__(self) -> None:
...         self.mem: dict[tuple[str, int | None], int] = {}
...     def load(self, field: str, index: int | None = None) -> int:
...         return self.mem.get((field, index), 0)
...     def store(self, field: str, value: int, index: int | None = None) -> None:
...         self.mem[(field, index)] = value
...     def fence(self, kind: Fence = Fence.FULL) -> None: pass
...     def rmw_add(self, field: str, delta: int, index: int | None = None) -> int:
...         old = self.load(field, index); self.store(field, old + delta, index); return old
...     def notify(self, doorbell: str) -> None: pass
...     def wait(self, doorbell: str, timeout: float) -> bool: return False
>>> acc: SharedAccess = Dict()
>>> acc.rmw_add("tail", 2), acc.load("tail")
(0, 2)
"""

from __future__ import annotations

import enum
from typing import Protocol


class Fence(enum.Enum):
    """Fence strength.

    FULL orders earlier stores before later loads (the store-buffering fence the
    protocols need). STORE only orders stores before later stores; it is what
    a ``wmb()``-style, deliberately too weak variant uses.
    """

    FULL = "full"
    STORE = "store"


class SharedAccess(Protocol):
    """Loads, stores, fences and doorbells on named layout fields.

    ``load`` has acquire and ``store`` release semantics; ``rmw_add`` is a
    sequentially consistent fetch-and-add returning the old value. ``wait``
    blocks until the doorbell was notified (True) or ``timeout`` seconds pass
    (False); a notify that happened before the wait is not lost (latched).
    """

    def load(self, field: str, index: int | None = None) -> int: ...

    def store(self, field: str, value: int, index: int | None = None) -> None: ...

    def fence(self, kind: Fence = Fence.FULL) -> None: ...

    def rmw_add(self, field: str, delta: int, index: int | None = None) -> int: ...

    def notify(self, doorbell: str) -> None: ...

    def wait(self, doorbell: str, timeout: float) -> bool: ...
