"""The one trace form: counterexamples, witnesses, conformance failures, recorded runs.

A :class:`Trace` is a start state and a list of (command, state-after) steps, with an
optional loop start for lassos. It is replayable (:func:`replay`), serialisable
(:meth:`Trace.to_json`) and printable (:mod:`intervm.model.render`).

>>> t = Trace(system="coalescing", variant="correct", memory_model="sc", params=(),
...           prop="demo", init={"x": 0}, steps=(TraceStep("P.inc", "P", {"x": 1}),))
>>> Trace.from_json(t.to_json()) == t
True
>>> t.path
'P.inc'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from intervm.spec.errors import TraceError

Value = Any  # int, or a tuple of ints for an array


@dataclass(frozen=True, slots=True)
class TraceStep:
    command: str
    process: str
    state: Mapping[str, Value]


@dataclass(frozen=True, slots=True)
class Trace:
    """A run of a compiled system. ``loop_start``: index into ``steps`` where a lasso's
    cycle begins (the state before that step repeats at the end)."""

    system: str
    variant: str
    memory_model: str
    params: tuple[tuple[str, int | None], ...]
    prop: str
    init: Mapping[str, Value]
    steps: tuple[TraceStep, ...]
    loop_start: int | None = None
    engine: str = field(default="", compare=False)

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def path(self) -> str:
        """The command names joined by '/', Stateright's action path."""
        return "/".join(s.command for s in self.steps)

    def states(self) -> list[Mapping[str, Value]]:
        return [self.init, *[s.state for s in self.steps]]

    def to_json(self) -> str:
        def enc(v: Value) -> Any:
            return list(v) if isinstance(v, tuple) else v

        return json.dumps(
            {
                "format": "intervm-trace/1",
                "system": self.system,
                "variant": self.variant,
                "memory_model": self.memory_model,
                "params": [[k, v] for k, v in self.params],
                "property": self.prop,
                "engine": self.engine,
                "loop_start": self.loop_start,
                "init": {k: enc(v) for k, v in self.init.items()},
                "steps": [
                    {"command": s.command, "process": s.process,
                     "state": {k: enc(v) for k, v in s.state.items()}}
                    for s in self.steps
                ],
            },
            indent=1,
        )

    @staticmethod
    def from_json(text: str) -> Trace:
        def dec(v: Any) -> Value:
            return tuple(v) if isinstance(v, list) else v

        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise TraceError(f"trace is not JSON: {e.msg} at line {e.lineno}") from None
        if not isinstance(d, dict) or d.get("format") != "intervm-trace/1":
            raise TraceError("trace file lacks format 'intervm-trace/1'; was it written by "
                             "intervm verify --json or Trace.to_json?")
        try:
            return Trace(
                system=d["system"],
                variant=d["variant"],
                memory_model=d["memory_model"],
                params=tuple((k, v) for k, v in d["params"]),
                prop=d["property"],
                init={k: dec(v) for k, v in d["init"].items()},
                steps=tuple(
                    TraceStep(s["command"], s["process"],
                              {k: dec(v) for k, v in s["state"].items()})
                    for s in d["steps"]
                ),
                loop_start=d.get("loop_start"),
                engine=d.get("engine", ""),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise TraceError(f"trace is missing or mistypes field {e}") from None
