"""Print a trace as a two-column interleaving: one column per VM, then shared memory,
store buffers and the pending interrupt after each step.

>>> from intervm.spec.protocols import get_protocol
>>> from intervm.model.compile import compile_spec
>>> from intervm.model.explicit import explore, check
>>> sys = compile_spec(get_protocol("coalescing").spec("no_recheck"), {"requests": 1}, "sc")
>>> v = check(explore(sys), "no_lost_wakeup")
>>> text = trace_text(v.trace, sys, width=160)
>>> "shared memory" in text and "arm: store flag := 1" in text
True
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from intervm.model.system import BufferInfo, System
from intervm.model.trace import Trace


def _value(v: Any) -> str:
    if isinstance(v, tuple):
        return "[" + ",".join(str(x) for x in v) + "]"
    return str(v)


def memory_text(system: System, state: Mapping[str, Any]) -> str:
    return " ".join(f"{n}={_value(state[n])}" for n in system.shared if n in state)


def buffer_entries(system: System, buf: BufferInfo, state: Mapping[str, Any]) -> list[str]:
    """``var=value`` (``var[i]=value``) per entry, oldest first; ``|`` marks an entry
    behind a store fence."""
    return [e.text() for e in buf.entries(system.shared, state)]


def buffers_text(system: System, state: Mapping[str, Any]) -> str:
    parts = []
    for buf in system.buffers:
        ents = buffer_entries(system, buf, state)
        parts.append(f"{buf.process}:[{', '.join(ents)}]")
    return " ".join(parts)


def interrupt_text(state: Mapping[str, Any]) -> str:
    pend = [k.split(".", 1)[1] for k, v in state.items() if k.startswith("pending.") and v]
    return ", ".join(f"{p} pending" for p in pend) or "-"


def step_text(system: System, command: str) -> str:
    if command == "stutter":
        return "(deadlock: no VM can move; the run stutters here forever)"
    cmd = system.command(command)
    if cmd.kind == "flush":
        return f"⤓ flush: {cmd.text}"
    label = cmd.label or cmd.name
    return f"{label}: {cmd.text}" if cmd.text else label


def trace_table(trace: Trace, system: System) -> Table:
    """A rich table of ``trace`` (states as recorded in the trace)."""
    table = Table(title=f"{trace.system}/{trace.variant} under {trace.memory_model.upper()}: "
                        f"{trace.prop}, {len(trace)} steps ({trace.engine})",
                  show_lines=False)
    table.add_column("#", justify="right")
    for p in system.processes:
        table.add_column(p)
    table.add_column("shared memory")
    if system.buffers:
        table.add_column("store buffers")
    table.add_column("interrupt")

    def row(n: str, proc: str | None, text: str, state: Mapping[str, Any]) -> None:
        cells = [n] + [text if p == proc else "" for p in system.processes]
        cells.append(memory_text(system, state))
        if system.buffers:
            cells.append(buffers_text(system, state))
        cells.append(interrupt_text(state))
        table.add_row(*[Text(c) for c in cells])  # Text: '[t]' is data, not markup

    row("0", None, "", trace.init)
    for i, st in enumerate(trace.steps, start=1):
        marker = f"{i}" + ("↺" if trace.loop_start is not None and i - 1 == trace.loop_start
                           else "")
        proc = st.process if st.process in system.processes else system.processes[0]
        row(marker, proc, step_text(system, st.command), st.state)
    if trace.loop_start is not None:
        table.caption = (f"↺ the run loops from step {trace.loop_start + 1} back to the "
                         f"state after step {trace.loop_start} forever")
    return table


def trace_text(trace: Trace, system: System, width: int = 200) -> str:
    """The table as plain text (no colour), for files, docs and tests."""
    console = Console(record=True, width=width, color_system=None, force_terminal=False,
                      file=io.StringIO())
    console.print(trace_table(trace, system))
    return console.export_text()
