"""Sequential consistency: every load and store acts on shared memory at once.

>>> MODEL.name, MODEL.buffered, MODEL.concrete(None).drained()
('sc', False, True)
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping

from intervm.model.memory.base import Concrete, Footprint, Loc, MemoryModel
from intervm.model.memory.buffer import BufferLayout


class _Direct(Concrete):
    """No buffer: every access is on memory."""

    def entries(self) -> list[tuple[Loc, int]]:
        return []

    def load(self, loc: Loc, memory: Mapping[Loc, int]) -> int:
        return memory.get(loc, 0)

    def can_store(self) -> bool:
        return True

    def store(self, loc: Loc, value: int, memory: MutableMapping[Loc, int]) -> bool:
        memory[loc] = value
        return False

    def can_fence(self, kind: str) -> bool:
        return True

    def fence(self, kind: str) -> None:
        return None

    def drained(self) -> bool:
        return True

    def flushable(self, memory: Mapping[Loc, int]) -> list[Loc]:
        return []

    def flush(self, pick: int, memory: MutableMapping[Loc, int]) -> tuple[Loc, int]:
        raise ValueError("under SC nothing is ever buffered, so nothing can flush")


class SC(MemoryModel):
    name = "sc"
    title = "SC (sequential consistency)"
    rank = 0
    summary = "every load and store acts on shared memory at once"

    def layout(self, footprint: Footprint, size: int) -> BufferLayout | None:
        return None

    def concrete(self, depth: int | None) -> Concrete:
        return _Direct()

    def describe_fence(self, process: str, kind: str) -> str:
        if kind == "full":
            return f"{process} executes a full fence (under SC there is nothing to drain)"
        return f"{process} executes a {kind} fence (no effect under SC)"


MODEL = SC()
