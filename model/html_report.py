"""One self-contained HTML page: the verdict matrix, and for every violation its
sequence diagram, its plain-English narration and the two-column trace.

Inline CSS and inline SVG only: no script, no font or style sheet to fetch, so the
file opens from disk in any browser with no server and no network.

>>> from intervm.spec.protocols import get_protocol
>>> from intervm.model.check import Checker, CheckOptions
>>> checker = Checker(get_protocol("coalescing"), CheckOptions(unbounded=False))
>>> cells = [checker.check("no_recheck", "sc", p) for p in ("no_lost_wakeup", "fifo")]
>>> found = [explain(c, checker.system(c.variant, c.memory_model),
...                  checker.protocol.spec(c.variant)) for c in cells if has_run(c)]
>>> page = report_html(cells, found, "demo")
>>> page.startswith("<!DOCTYPE html>"), page.count('<section class="violation"'), "http" in page
(True, 1, False)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from intervm.model.check import Cell
from intervm.model.narrate import Narration, narrate
from intervm.model.render import buffers_text, interrupt_text, memory_text, step_text
from intervm.model.seqdiagram import sequence_svg
from intervm.model.system import System
from intervm.model.trace import Trace
from intervm.model.verdict import Status
from intervm.spec.syntax import Spec

LEGEND = (
    "HOLDS: true in every reachable state of the finite instance. PROVED ∀: for every "
    "parameter value. HOLDS ≤n: no violation within n steps. VIOLATED n: the shortest "
    "counterexample has n steps (click it for the race). REACHED n: a 'sometimes' state "
    "is reached in n steps. UNKNOWN: no answer, never a pass. ✓ the variant declares "
    "this verdict, ✗ it does not. TSO/PSO: 'buffer ≤ d' names the store-buffer depth an "
    "absence verdict was decided with ('sufficient': one more entry changed nothing the "
    "property reads; 'unbounded': no VM issues more stores)."
)


@dataclass(frozen=True, slots=True)
class Explained:
    """A violated cell with what the page shows for it."""

    cell: Cell
    trace: Trace
    narration: Narration
    svg: str
    table: str  # the two-column trace as an HTML table


def has_run(cell: Cell) -> bool:
    """True when ``cell`` is a violation with a run to show."""
    v = cell.verdict
    return v is not None and v.status is Status.VIOLATED and v.trace is not None


def anchor(cell: Cell) -> str:
    raw = f"{cell.protocol}-{cell.variant}-{cell.memory_model}-{cell.prop}"
    return re.sub(r"[^A-Za-z0-9_-]", "_", raw)


def explain(cell: Cell, system: System, spec: Spec | None) -> Explained:
    """Diagram, narration and table of ``cell``'s counterexample (run on ``system``)."""
    assert cell.verdict is not None and cell.verdict.trace is not None, cell
    trace = cell.verdict.trace
    return Explained(cell, trace, narrate(trace, system, spec), sequence_svg(trace, system),
                     trace_html(trace, system))


def trace_html(trace: Trace, system: System) -> str:
    """The two-column interleaving (one column per process, then memory) as a table."""
    head = ["#", *system.processes, "shared memory"]
    if system.buffers:
        head.append("store buffers")
    head.append("interrupt")
    out = ['<table class="trace"><thead><tr>'
           + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr></thead><tbody>"]

    def row(n: str, proc: str | None, text: str, state: Mapping[str, Any], cls: str) -> None:
        cells = [n] + [text if p == proc else "" for p in system.processes]
        cells.append(memory_text(system, state))
        if system.buffers:
            cells.append(buffers_text(system, state))
        cells.append(interrupt_text(state))
        out.append(f'<tr class="{cls}">' + "".join(f"<td>{escape(c)}</td>" for c in cells)
                   + "</tr>")

    row("0", None, "", trace.init, "")
    for i, st in enumerate(trace.steps, start=1):
        loop = trace.loop_start is not None and i - 1 == trace.loop_start
        proc = st.process if st.process in system.processes else None
        cls = "last" if i == len(trace.steps) else ("loop" if loop else "")
        row(f"{i}{'↺' if loop else ''}", proc, step_text(system, st.command), st.state, cls)
    out.append("</tbody></table>")
    return "".join(out)


def _matrix(cells: Sequence[Cell], shown: set[str]) -> str:
    out = []
    for proto in dict.fromkeys(c.protocol for c in cells):
        pc = [c for c in cells if c.protocol == proto]
        props = list(dict.fromkeys(c.prop for c in pc))
        out.append(f"<h2>{escape(proto)}</h2><div class=\"scroll\"><table class=\"matrix\">"
                   "<thead><tr><th>variant</th><th>model</th>"
                   + "".join(f"<th>{escape(p.replace('_', ' '))}</th>" for p in props)
                   + "</tr></thead><tbody>")
        for variant, mm in dict.fromkeys((c.variant, c.memory_model) for c in pc):
            out.append(f"<tr><th>{escape(variant)}</th><td>{escape(mm.upper())}</td>")
            for p in props:
                cell = next((c for c in pc if c.variant == variant and c.memory_model == mm
                             and c.prop == p), None)
                out.append(_matrix_cell(cell, shown))
            out.append("</tr>")
        out.append("</tbody></table></div>")
    return "".join(out)


def _matrix_cell(cell: Cell | None, shown: set[str]) -> str:
    if cell is None or cell.verdict is None:
        note = escape(cell.note) if cell is not None else ""
        return f'<td class="na" title="{note}">—</td>'
    v = cell.verdict
    cls = {Status.PROVED: "ok", Status.HOLDS: "ok", Status.BOUNDED: "bounded",
           Status.VIOLATED: "bad", Status.UNKNOWN: "unknown"}[v.status]
    mark = '<span class="yes">✓</span>' if cell.matches else '<span class="no">✗</span>'
    text = escape(cell.short_text(with_scope=False))
    if anchor(cell) in shown:
        text = f'<a href="#{anchor(cell)}">{text}</a>'
    tip = escape(f"{v.text} by {v.engine} in {v.seconds:.2f}s; declared {cell.expected}"
                 + (f"; {v.reason}" if v.reason else "") + (f"; {cell.note}" if cell.note else ""),
                 quote=True)
    extra = "" if cell.matches else f'<div class="no">declared {escape(cell.expected)}</div>'
    if v.depends_on_buffer and v.buffer_text:
        extra = f'<div class="dim">{escape(v.buffer_text)}</div>' + extra
    return (f'<td class="{cls}" title="{tip}">{mark} {text}<div class="dim">{escape(v.engine)} '
            f"{v.seconds:.2f}s</div>{extra}</td>")


def _inline(svg: str) -> str:
    """SVG text for inlining in HTML (the namespace is implied there)."""
    return svg.replace(' xmlns="http://www.w3.org/2000/svg"', "", 1)


def _violation(e: Explained) -> str:
    c, n = e.cell, e.narration
    assert c.verdict is not None
    steps = []
    for s in n.steps:
        loop = ' class="loop"' if n.loop_start is not None and s.index - 1 == n.loop_start else ""
        note = f' <span class="dim">[{escape(s.note)}]</span>' if s.note else ""
        steps.append(f'<li{loop} value="{s.index}">{escape(s.sentence)}{note}</li>')
    facts = "".join(f"<li>{escape(f)}</li>" for f in n.facts)
    return (
        f'<section class="violation" id="{anchor(c)}">'
        f"<h3>{escape(c.protocol)}/{escape(c.variant)} under {escape(c.memory_model.upper())}: "
        f"{escape(c.prop)} — {escape(c.verdict.text)}</h3>"
        f'<p class="headline">{escape(n.headline)}</p>'
        f'<p class="dim">{escape(n.title)}; found by {escape(e.trace.engine or c.verdict.engine)}; '
        f"the variant declares {escape(c.expected)} "
        f"{'✓' if c.matches else '✗'}</p>"
        f'<div class="diagram">{_inline(e.svg)}</div>'
        f'<div class="explanation"><h4>What happens</h4><p>{escape(n.intro)}</p>'
        f"<ol>{''.join(steps)}</ol>"
        f"<h4>Why it is a violation</h4><p>{escape(n.why)}</p><ul>{facts}</ul></div>"
        f"<details open><summary>The interleaving, step by step</summary>"
        f'<div class="scroll">{e.table}</div></details>'
        f'<p><a href="#top">back to the matrix</a></p></section>'
    )


def _no_run(c: Cell) -> str:
    v = c.verdict
    assert v is not None
    why = ("no reachable state satisfies it (exhaustive search)" if c.kind == "sometimes"
           else v.reason or "the engine reported no run")
    return (f"<li><b>{escape(c.protocol)}/{escape(c.variant)} {escape(c.memory_model.upper())} "
            f"{escape(c.prop)}</b>: {escape(c.short_text(with_scope=False))} — {escape(why)}"
            f"{'' if c.matches else ' (✗ declared ' + escape(c.expected) + ')'}</li>")


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em auto;
max-width:1500px;padding:0 1em;color:#222;background:#fff}
h1{font-size:1.5em;margin-bottom:.2em}h2{margin-top:1.4em}
h3{margin:0 0 .3em;font-size:1.15em}h4{margin:.8em 0 .3em}
.dim{color:#777;font-size:.85em}.summary{font-weight:600}.summary.bad{color:#b03a2e}
.summary.ok{color:#1e8449}.scroll{overflow-x:auto}
table{border-collapse:collapse}
table.matrix th,table.matrix td{border:1px solid #ccc;padding:.3em .5em;vertical-align:top;
text-align:left;font-size:.9em}
table.matrix thead th{background:#f3f3f3}
td.ok{background:#e9f7ef}td.bad{background:#fdedec}td.bounded{background:#fef9e7}
td.unknown{background:#f5eef8}td.na{color:#aaa}
td.bad a{color:#922b21;font-weight:600}
.yes{color:#1e8449;font-weight:700}.no{color:#c0392b;font-weight:700}
section.violation{border-top:3px solid #c0392b;margin-top:2.2em;padding-top:.8em}
.headline{font-size:1.1em;font-weight:600;color:#922b21}
.diagram{overflow-x:auto;border:1px solid #eee;margin:.6em 0}
.diagram svg{display:block}
.explanation ol li.loop{border-left:3px solid #c0392b;padding-left:.4em}
table.trace{font:12px/1.35 "DejaVu Sans Mono",Menlo,Consolas,monospace}
table.trace th,table.trace td{border-bottom:1px solid #eee;padding:.15em .5em;text-align:left;
white-space:nowrap}
table.trace tr.last td{background:#fdedec}table.trace tr.loop td{border-top:2px solid #c0392b}
details summary{cursor:pointer;font-weight:600;margin:.4em 0}
"""


def report_html(cells: Sequence[Cell], explained: Sequence[Explained], title: str,
                subtitle: str = "") -> str:
    """The page: matrix, legend, then one section per explained violation."""
    bad = [c for c in cells if not c.matches]
    shown = {anchor(e.cell) for e in explained}
    no_run = [c for c in cells if c.verdict is not None
              and c.verdict.status is Status.VIOLATED and anchor(c) not in shown]
    summary = (f"{len(cells)} verdicts, {len(bad)} differ from what the variants declare; "
               f"{len(explained)} counterexamples explained below")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>",
        '<body id="top">',
        f"<h1>{escape(title)}</h1>",
        f'<p class="dim">{escape(subtitle)}</p>' if subtitle else "",
        f'<p class="summary {"bad" if bad else "ok"}">{escape(summary)}</p>',
        _matrix(cells, shown),
        f'<p class="dim">{escape(LEGEND)}</p>',
    ]
    if no_run:
        parts.append("<h2>Violations without a run</h2><ul>"
                     + "".join(_no_run(c) for c in no_run) + "</ul>")
    if explained:
        parts.append("<h2>Counterexamples</h2>")
        parts.extend(_violation(e) for e in explained)
    parts.append("</body></html>")
    return "\n".join(p for p in parts if p) + "\n"
