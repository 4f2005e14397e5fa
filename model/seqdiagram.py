"""A sequence diagram of any trace, as a self-contained SVG (no script, no fonts to fetch).

One lifeline per process, one for shared memory between them, and under TSO/PSO one
for each process's store buffer. Each step of the trace is one row: a store is an
arrow into memory (or into the store buffer, later a flush arrow out of it), a load an
arrow back with the value read, a doorbell a dashed arrow to the process that waits
on it, a fence a bar across the lifeline, anything else a note. The right-hand column
shows shared memory after the step, changed values in bold. The step that breaks the
property is shaded; a lasso's loop is bracketed.

>>> from intervm.spec.protocols import get_protocol
>>> from intervm.model.compile import compile_spec
>>> from intervm.model.explicit import explore, check
>>> sys = compile_spec(get_protocol("coalescing").spec("no_recheck"), {"requests": 1}, "tso")
>>> trace = check(explore(sys), "no_lost_wakeup").trace
>>> [r.kind for r in rows(trace, sys)][:6]
['note', 'load', 'store-buffer', 'fence', 'store-buffer', 'load']
>>> svg = sequence_svg(trace, sys)
>>> svg.startswith("<svg") and "store buffer P" in svg
True
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from intervm.model import memory
from intervm.model.compile import FENCE_TEXT
from intervm.model.memory.buffer import is_buffer_var, lane
from intervm.model.render import buffer_entries, interrupt_text
from intervm.model.system import BufferInfo, CAlways, CEventually, CSometimes, System
from intervm.model.trace import Trace

MEMORY = "memory"
_FONT = 12
_CHAR = 0.62 * _FONT  # monospace advance, with a little slack
_SMALL = 10
_ROW = 46
_TOP = 78
_LEFT = 150  # step-number column
_MIN_GAP = 120
_RED = "#c0392b"
_BELL = "#d35400"
_BUF = "#2874a6"
_HALO = 'stroke="white" stroke-width="3" paint-order="stroke"'  # labels stay legible over lines
_ARROWS = {"store": "#222222", "doorbell": _BELL, "flush": _BUF, "store-buffer": _BUF,
           "load": "#1f618d", "rmw": "#7d3c98"}


@dataclass(frozen=True, slots=True)
class Row:
    """One step of the diagram: an arrow ``src`` → ``dst`` (lifeline keys), or a note
    on ``src`` when ``dst`` is None. ``kind`` is store, store-buffer, flush, load, rmw,
    doorbell, fence, note or stutter."""

    kind: str
    src: str
    dst: str | None
    label: str
    detail: str = ""  # the rest of the command (its branch), shown small
    command: str = ""


def lifelines(system: System) -> list[tuple[str, str]]:
    """(key, title) left to right: processes and their buffers around shared memory."""
    buffered = {b.process for b in system.buffers}
    procs = list(system.processes)
    half = (len(procs) + 1) // 2
    out: list[tuple[str, str]] = []
    for p in procs[:half]:
        out.append((p, p))
        if p in buffered:
            out.append((lane(p), f"store buffer {p}"))
    out.append((MEMORY, "shared memory"))
    for p in procs[half:]:
        if p in buffered:
            out.append((lane(p), f"store buffer {p}"))
        out.append((p, p))
    return out


def rows(trace: Trace, system: System) -> list[Row]:
    """What each step of ``trace`` draws."""
    out = []
    before: Mapping[str, Any] = trace.init
    for st in trace.steps:
        out.append(_row(system, st.command, st.process, before, st.state))
        before = st.state
    return out


def _row(system: System, name: str, process: str, before: Mapping[str, Any],
         after: Mapping[str, Any]) -> Row:
    if name == "stutter":
        return Row("stutter", MEMORY, None, "deadlock: no process can move; the run "
                   "stutters here forever", command=name)
    cmd = system.command(name)
    p = cmd.process
    buf = next((b for b in system.buffers if b.process == p), None)
    if cmd.kind == "flush":
        assert buf is not None
        j = memory.get(system.memory_model).internal_entry(name) or 0
        ents = buffer_entries(system, buf, before)
        entry = ents[j].lstrip("|") if j < len(ents) else "?"
        return Row("flush", lane(p), MEMORY, f"flush {entry}", command=name)
    main, _, detail = cmd.text.partition("; ")
    detail = detail.strip()
    if cmd.text.startswith("→"):
        return Row("note", p, None, f"choose {cmd.text[1:].strip()}", command=name)
    if (m := re.match(r"(\w+) := load (\w+)(\[[^\]]*\])?$", main)) and "not observed" not in main:
        dst, var = m.group(1), m.group(2)
        val = _show(after.get(f"{p}.{dst}", "?"))
        forwarded = buf is not None and any(
            e.lstrip("|").startswith((f"{var}=", f"{var}[")) for e in buffer_entries(system, buf, before))
        src = lane(p) if forwarded else MEMORY
        where = " (own buffer)" if forwarded else ""
        return Row("load", src, p, f"load {var}{m.group(3) or ''} = {val}{where} → {dst}",
                   detail, name)
    if main in FENCE_TEXT.values():
        return Row("fence", p, None, main, detail, name)
    if main.startswith("store ") and "not observed" not in main:
        what = main.removeprefix("store ")
        expr = "" if re.fullmatch(r"\S+ := -?\d+", what) else what  # worth showing
        if buf is not None and buf.length(after) > buf.length(before):
            entry = buffer_entries(system, buf, after)[-1].lstrip("|")
            return Row("store-buffer", p, lane(p), f"store {entry}", _join(expr, detail),
                       name)
        changed = [c for n in system.shared if n in after for c in _changes(n, before, after)]
        label = f"store {', '.join(changed)}" if changed else f"store {what} (unchanged)"
        return Row("store", p, MEMORY, label, _join(expr, detail), name)
    if " := atomic rmw " in main:
        dst, _, rest = main.partition(" := atomic rmw ")
        var = rest.split(" ", 1)[0]
        return Row("rmw", p, MEMORY, f"atomic {rest} (old {_show(after.get(f'{p}.{dst}'))} "
                   f"→ {dst})", detail, name)
    if main.startswith("notify "):
        db = main.removeprefix("notify ").strip()
        waiters = [c.process for c in system.commands
                   if c.text.startswith(f"wait {db}") and c.process != p]
        dst = waiters[0] if waiters else None
        return Row("doorbell", p, dst, f"notify {db} (doorbell)", detail, name)
    if main.startswith("wait "):
        return Row("note", p, None, main.replace("(woken)", "— woken"), detail, name)
    return Row("note", p, None, main or cmd.label or name, detail, name)


def _changes(name: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """``name=v`` when a scalar changed; ``name[i]=v`` per changed array element."""
    old, new = before.get(name), after[name]
    if old == new:
        return []
    if isinstance(old, tuple) and isinstance(new, tuple) and len(old) == len(new):
        return [f"{name}[{i}]={b}" for i, (a, b) in enumerate(zip(old, new, strict=True))
                if a != b]
    return [f"{name}={_show(new)}"]


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _show(v: Any) -> str:
    if isinstance(v, tuple):
        return "[" + ",".join(str(x) for x in v) + "]"
    return str(v)


def _width(text: str, size: int = _FONT) -> float:
    return len(text) * 0.62 * size


def _ending(trace: Trace, system: System) -> tuple[str, str]:
    """(marker text, colour) for the last step: the property broken or reached."""
    try:
        prop = system.prop(trace.prop)
    except KeyError:
        return "", _RED
    match prop:
        case CAlways(name, _):
            return f"✗ {name} is broken after this step", _RED
        case CSometimes(name, _):
            return f"✓ {name} is reached", "#1e8449"
        case CEventually(name, _):
            return f"✗ {name}: the work stays pending forever", _RED


def sequence_svg(trace: Trace, system: System) -> str:
    """The diagram as SVG text. ``system`` is the compiled system the trace runs on."""
    lanes = lifelines(system)
    keys = [k for k, _ in lanes]
    rs = rows(trace, system)
    # gaps between neighbouring lifelines grow until every arrow's label fits
    gaps = [max(_MIN_GAP, (_width(lanes[i][1]) + _width(lanes[i + 1][1])) / 2 + 20)
            for i in range(len(lanes) - 1)]
    for r in rs:
        if r.dst is not None and r.dst in keys:
            a, b = sorted((keys.index(r.src), keys.index(r.dst)))
            need = max(_width(r.label), _width(r.detail, _SMALL)) + 24
            have = sum(gaps[a:b])
            if need > have:
                share = (need - have) / (b - a)
                for i in range(a, b):
                    gaps[i] += share
    xs = [_LEFT + _width(lanes[0][1]) / 2 + 10]
    for gap in gaps:
        xs.append(xs[-1] + gap)
    x_of = dict(zip(keys, xs, strict=True))
    notes_right = max((x_of[r.src] + 30 + max(_width(r.label) * 1.1, _width(r.detail, _SMALL))
                       for r in rs if r.dst is None and r.src in x_of), default=0)
    mem_x = max(xs[-1] + _width(lanes[-1][1]) / 2 + 30, notes_right + 20)
    mem_texts = [_memory_cells(system, trace.init, trace.init)]
    prev: Mapping[str, Any] = trace.init
    for st in trace.steps:
        mem_texts.append(_memory_cells(system, prev, st.state))
        prev = st.state
    mem_w = max(sum(_width(t + " ", _SMALL) for t, _ in cells) for cells in mem_texts)
    end_text, end_colour = _ending(trace, system)
    width = int(mem_x + max(mem_w, _width(end_text) * 1.1) + 30)
    height = int(_TOP + _ROW * (len(rs) + 1) + 40)

    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans Mono, Menlo, Consolas, '
        f'monospace" font-size="{_FONT}">',
        "<defs>" + "".join(
            f'<marker id="arr{c[1:]}" viewBox="0 0 10 10" refX="10" refY="5" '
            f'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
            f'<path d="M0,0 L10,5 L0,10 z" fill="{c}"/></marker>' for c in _ARROWS.values()
        ) + "</defs>",
        f'<rect width="{width}" height="{height}" fill="white"/>',
        _text(12, 20, f"{trace.system}/{trace.variant} under {trace.memory_model.upper()} "
              f"({', '.join(f'{k}={v}' for k, v in trace.params)}): {trace.prop}, "
              f"{len(trace)} steps" + (f" ({trace.engine})" if trace.engine else ""),
              weight="bold", size=13),
    ]
    top, bottom = _TOP - 18, _TOP + _ROW * (len(rs) + 1) - 10
    last_y = _TOP + _ROW * len(rs)
    if rs and end_text:
        out.append(f'<rect x="4" y="{last_y - _ROW / 2 - 4}" width="{width - 8}" '
                   f'height="{_ROW}" fill="{end_colour}" fill-opacity="0.10"/>')
    for (key, title), x in zip(lanes, xs, strict=True):
        colour = _BUF if is_buffer_var(key) else ("#555" if key == MEMORY else "#222")
        dash = ' stroke-dasharray="4 3"' if is_buffer_var(key) else ""
        w = _width(title) + 14
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" '
                   f'stroke="{colour}" stroke-width="{2.5 if key == MEMORY else 1.2}"{dash}/>')
        out.append(f'<rect x="{x - w / 2:.1f}" y="{top - 22}" width="{w:.1f}" height="22" '
                   f'rx="4" fill="white" stroke="{colour}"/>')
        out.append(_text(x, top - 7, title, anchor="middle", fill=colour, weight="bold"))
    out.append(_text(mem_x, top - 7, "shared memory after the step", weight="bold",
                     size=_SMALL, fill="#555"))
    y0 = _TOP
    out.append(_text(12, y0 + 4, "start", fill="#555"))
    out.append(_mem(mem_x, y0 + 4, mem_texts[0]))
    for k, r in enumerate(rs, start=1):
        y = _TOP + _ROW * k
        cmd = r.command if len(r.command) <= 19 else r.command[:18] + "…"
        out.append(_text(12, y + 4, f"{k:>2} {cmd}", fill="#555", size=_SMALL))
        out.append(_draw_row(r, x_of, y))
        out.append(_mem(mem_x, y + 4, mem_texts[k]))
    if trace.loop_start is not None and rs:
        ya = _TOP + _ROW * (trace.loop_start + 1) - _ROW / 2 + 4
        yb = last_y + _ROW / 2 - 8
        out.append(f'<path d="M {_LEFT - 14} {ya:.1f} h -6 V {yb:.1f} h 6" fill="none" '
                   f'stroke="{_RED}" stroke-width="2"/>')
        out.append(_text(_LEFT - 26, (ya + yb) / 2, "↺ loops", fill=_RED, size=_SMALL,
                         anchor="end"))
    if rs and end_text:
        out.append(_text(mem_x, last_y + _ROW / 2 + 8, end_text, fill=end_colour,
                         weight="bold"))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _draw_row(r: Row, x_of: Mapping[str, float], y: float) -> str:
    parts = []
    x = x_of.get(r.src, x_of[MEMORY])
    if r.kind == "stutter":
        xl, xr = min(x_of.values()), max(x_of.values())
        parts.append(f'<rect x="{xl - 30:.1f}" y="{y - 14}" width="{xr - xl + 60:.1f}" '
                     f'height="24" rx="4" fill="#fdebd0" stroke="{_RED}" '
                     'stroke-dasharray="4 3"/>')
        parts.append(_text((xl + xr) / 2, y + 3, r.label, anchor="middle", fill=_RED))
        return "\n".join(parts)
    if r.dst is None or r.dst not in x_of:
        if r.kind == "fence":
            parts.append(f'<rect x="{x - 18:.1f}" y="{y - 4}" width="36" height="8" '
                         'fill="#333"/>')
            parts.append(_text(x + 24, y + 4, r.label, weight="bold"))
        else:
            colour = _BELL if r.kind == "doorbell" else "#333"
            w = _width(r.label) + 12
            parts.append(f'<rect x="{x + 8:.1f}" y="{y - 13}" width="{w:.1f}" height="20" '
                         f'rx="3" fill="#fbfbf4" stroke="#bbb"/>')
            parts.append(_text(x + 14, y + 2, r.label, fill=colour))
        if r.detail:
            parts.append(_text(x + 14, y + 19, r.detail, size=_SMALL, fill="#777"))
        return "\n".join(parts)
    xa, xb = x_of[r.src], x_of[r.dst]
    colour = _ARROWS.get(r.kind, _ARROWS["store"])
    dash = ' stroke-dasharray="6 4"' if r.kind in ("load", "doorbell") else ""
    marker = f"url(#arr{colour[1:]})"
    both = f' marker-start="{marker}"' if r.kind == "rmw" else ""
    parts.append(f'<line x1="{xa:.1f}" y1="{y}" x2="{xb:.1f}" y2="{y}" stroke="{colour}" '
                 f'stroke-width="1.6"{dash}{both} marker-end="{marker}"/>')
    mid = (xa + xb) / 2
    parts.append(_text(mid, y - 5, r.label, anchor="middle", fill=colour))
    if r.detail:
        parts.append(_text(mid, y + 14, r.detail, anchor="middle", size=_SMALL, fill="#777"))
    return "\n".join(parts)


def _memory_cells(system: System, before: Mapping[str, Any],
                  after: Mapping[str, Any]) -> list[tuple[str, bool]]:
    """(text, changed) per shared variable, then pending interrupts."""
    cells = [(f"{n}={_show(after[n])}", before.get(n) != after[n])
             for n in system.shared if n in after]
    irq = interrupt_text(after)
    if irq != "-":
        cells.append((irq, interrupt_text(before) != irq))
    bufs: list[BufferInfo] = list(system.buffers)
    for b in bufs:
        ents = buffer_entries(system, b, after)
        if ents:
            cells.append((f"sb {b.process}:[{', '.join(ents)}]",
                          ents != buffer_entries(system, b, before)))
    return cells


def _mem(x: float, y: float, cells: list[tuple[str, bool]]) -> str:
    spans = []
    for text, changed in cells:
        style = f' font-weight="bold" fill="{_RED}"' if changed else ' fill="#333"'
        spans.append(f"<tspan{style}>{escape(text)}</tspan>")
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{_SMALL}" xml:space="preserve">'
            + " ".join(spans) + "</text>")


def _text(x: float, y: float, text: str, *, anchor: str = "start", fill: str = "#222",
          weight: str = "normal", size: int = _FONT) -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill={quoteattr(fill)} '
            f'font-weight="{weight}" font-size="{size}" {_HALO}>{escape(text)}</text>')
