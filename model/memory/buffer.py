"""The store-buffer encoding: the flat variable names ``sb.P.*`` and their meaning.

This is the one place that spells the names; compiling (``model/memory``), the trace
validator, the renderers and the in-process snapshot all go through it.

>>> lay = BufferLayout("P", 2, ("flag", "tail"), with_index=False)
>>> lay.n(), lay.fields(1)
('sb.P.n', ['sb.P.val1', 'sb.P.var1'])
>>> state = {"sb.P.n": 1, "sb.P.val0": 5, "sb.P.var0": 2}
>>> [e.text() for e in lay.entries(("flag", "tail"), state)]
['tail=5']
>>> is_buffer_var("sb.P.n"), is_buffer_var("P.x")
(True, False)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

PREFIX = "sb."


def is_buffer_var(name: str) -> bool:
    """Whether a flat state variable belongs to a store buffer."""
    return name.startswith(PREFIX)


def count_var(process: str) -> str:
    """The flat variable holding how many entries ``process``'s buffer has."""
    return f"{PREFIX}{process}.n"


def lane(process: str) -> str:
    """The name of ``process``'s buffer as a whole (a sequence-diagram lifeline)."""
    return f"{PREFIX}{process}"


@dataclass(frozen=True, slots=True)
class Entry:
    """One buffered store, decoded: ``index`` only for an array element."""

    var: str
    index: int | None
    value: Any
    barrier: bool = False  # a store fence separates it from the older entries

    @property
    def location(self) -> str:
        return self.var if self.index is None else f"{self.var}[{self.index}]"

    def text(self) -> str:
        return f"{'|' if self.barrier else ''}{self.location}={self.value}"


@dataclass(frozen=True, slots=True)
class BufferLayout:
    """Which fields one process's store buffer needs (constant fields are dropped).

    Entry ``k`` (0 = oldest) has a value, and when needed the id of the variable
    (1-based position in the spec's shared variables; only with several targets), its
    index (only when a target is an array) and a barrier bit (only for models whose
    store fence marks the next buffered store).
    """

    process: str
    size: int
    targets: tuple[str, ...]  # shared variables the process stores to
    with_index: bool
    with_barrier: bool = False
    # sliced-away shared variables the process also stores: their stores still take
    # an entry (tagged with the variable's id, no value) so a bounded buffer fills up
    # exactly as in the whole system; flushing one writes nothing
    phantoms: tuple[str, ...] = ()

    def n(self) -> str:
        return count_var(self.process)

    def var(self, k: int) -> str:
        return f"{PREFIX}{self.process}.var{k}"

    def idx(self, k: int) -> str:
        return f"{PREFIX}{self.process}.idx{k}"

    def val(self, k: int) -> str:
        return f"{PREFIX}{self.process}.val{k}"

    def bar(self, k: int) -> str:
        return f"{PREFIX}{self.process}.bar{k}"

    def wmb(self) -> str:
        """Set by a store fence over a non-empty buffer; the next store takes it."""
        return f"{PREFIX}{self.process}.wmb"

    @property
    def with_var(self) -> bool:
        return len(self.targets) + len(self.phantoms) > 1

    def fields(self, k: int) -> list[str]:
        out = [self.val(k)]
        if self.with_var:
            out.append(self.var(k))
        if self.with_index:
            out.append(self.idx(k))
        if self.with_barrier:
            out.append(self.bar(k))
        return out

    def state_vars(self) -> list[str]:
        """Every flat variable of this buffer, in declaration order."""
        out = [self.n()]
        if self.with_barrier:
            out.append(self.wmb())
        for k in range(self.size):
            out.extend(self.fields(k))
        return out

    def length(self, state: Mapping[str, Any]) -> int:
        return int(state.get(self.n(), 0))

    def entry(self, shared: Sequence[str], state: Mapping[str, Any], k: int) -> Entry:
        """Entry ``k`` of ``state``; the index shows only for an array variable."""
        name = shared[state[self.var(k)] - 1] if self.with_var else self.targets[0]
        index = (int(state[self.idx(k)]) if self.with_index
                 and isinstance(state.get(name), tuple) else None)
        return Entry(name, index, state[self.val(k)], bool(state.get(self.bar(k), 0)))

    def entries(self, shared: Sequence[str], state: Mapping[str, Any]) -> list[Entry]:
        """Every entry of ``state``, oldest first."""
        return [self.entry(shared, state, k) for k in range(self.length(state))]
