"""The reachable state graph as a Graphviz picture, bad states and one run highlighted.

Each node is a reachable state (BFS id, every process's label, shared memory, store
buffers, pending interrupts); each edge is one command. States that break an
``Always`` property are filled red; the run the explicit engine found for the chosen
property (the shortest counterexample, a lasso's loop, or a ``Sometimes`` witness) is
drawn thick, its edges numbered. Only small instances stay readable, so
:func:`state_graph` refuses graphs above ``max_states`` with a message naming smaller
parameters.

>>> from intervm.spec.protocols import get_protocol
>>> from intervm.model.compile import compile_spec
>>> from intervm.model.explicit import explore
>>> spec = get_protocol("coalescing").spec("no_recheck")
>>> g = explore(compile_spec(spec, {"requests": 1, "capacity": 1}, "sc"))
>>> pic = state_graph(g, "no_lost_wakeup")
>>> pic.verdict, len(pic.path), len(pic.bad), pic.graph.number_of_nodes()
('VIOLATED (10 steps)', 10, 2, 94)
>>> pic.to_dot().startswith("digraph states {")
True
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from intervm.model import memory
from intervm.model.explicit import StateGraph, check
from intervm.model.render import buffers_text, interrupt_text, memory_text
from intervm.model.system import CAlways, CEventually, CSometimes, System
from intervm.model.trace import Trace
from intervm.model.verdict import Status
from intervm.spec.errors import EngineError, ParamError

DEFAULT_MAX_STATES = 400
FORMATS = ("svg", "png", "dot")

_BAD_FILL = "#f6c9c9"
_PATH = "#c0392b"
_WITNESS = "#1e8449"
_EDGE = "#a6a6a6"


@dataclass(frozen=True, slots=True)
class GraphPicture:
    """A state graph ready to draw: ``graph`` (networkx, node/edge attributes), the
    highlighted ``path`` as (from, to, command) edges, and the ``bad`` state ids."""

    title: str
    prop: str | None
    verdict: str
    graph: Any  # nx.DiGraph; node attrs: label, bad (tuple of property names)
    path: tuple[tuple[int, int, str], ...]
    bad: frozenset[int]
    loop_start: int | None = None
    witness: bool = False

    def to_dot(self) -> str:
        """Graphviz DOT text (every string quoted and escaped)."""
        colour = _WITNESS if self.witness else _PATH
        on_path = {(a, b) for a, b, _ in self.path}
        path_nodes = {a for a, _, _ in self.path} | {b for _, b, _ in self.path}
        lines = [
            "digraph states {",
            f"  graph [label={_q(self._legend())}, labelloc=t, labeljust=l, fontsize=12, "
            'fontname="DejaVu Sans Mono", rankdir=TB, nodesep=0.12, ranksep=0.28, '
            'margin=0.2, tooltip="state graph"];',
            '  node [shape=box, style="rounded,filled", fillcolor=white, fontsize=9, '
            'fontname="DejaVu Sans Mono", margin="0.06,0.03", height=0.2, penwidth=0.8];',
            f'  edge [color="{_EDGE}", arrowsize=0.5, penwidth=0.7, fontsize=9, '
            'fontname="DejaVu Sans Mono"];',
        ]
        for n, d in sorted(self.graph.nodes(data=True)):
            attrs = {"label": d["label"], "tooltip": d["tooltip"]}
            if d["bad"]:
                attrs["fillcolor"] = _BAD_FILL
                attrs["color"] = _PATH
            if n in path_nodes:
                attrs["penwidth"] = "2.2"
                attrs["color"] = colour
            if n == 0:
                attrs["peripheries"] = "2"
            if not d["out"]:
                attrs["style"] = "rounded,filled,dashed"
            lines.append(f"  s{n} [{_attrs(attrs)}];")
        numbers: dict[tuple[int, int], list[str]] = {}
        for k, (a, b, _) in enumerate(self.path, start=1):
            mark = "↺" if self.loop_start is not None and k - 1 == self.loop_start else ""
            numbers.setdefault((a, b), []).append(f"{mark}{k}")
        for a, b, d in sorted(self.graph.edges(data=True)):
            attrs = {"tooltip": d["tooltip"]}
            if (a, b) in on_path:
                attrs.update(color=colour, penwidth="2.4", arrowsize="0.8",
                             label=f"{','.join(numbers[(a, b)])} {d['cmd']}",
                             fontcolor=colour)
            lines.append(f"  s{a} -> s{b} [{_attrs(attrs)}];")
        for k, (a, b, cmd) in enumerate(self.path, start=1):
            if cmd == "stutter":
                attrs = {"label": f"{k} stutters forever", "color": colour,
                         "fontcolor": colour, "style": "dashed", "penwidth": "2.4"}
                lines.append(f"  s{a} -> s{b} [{_attrs(attrs)}];")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def _legend(self) -> str:
        parts = [self.title]
        if self.bad:
            parts.append(f"red fill: {len(self.bad)} states breaking an 'always' property")
        if self.prop is not None and self.path:
            kind = "witness" if self.witness else (
                "counterexample (↺ loop start)" if self.loop_start is not None
                else "shortest counterexample")
            parts.append(f"thick {'green' if self.witness else 'red'}: {self.prop} "
                         f"{self.verdict}, {kind}")
        elif self.prop is not None:
            parts.append(f"{self.prop}: {self.verdict}")
        parts.append("double border: initial state; dashed: no successor")
        return "\n".join(parts) + "\n"


def state_graph(g: StateGraph, prop: str | None = None,
                max_states: int = DEFAULT_MAX_STATES) -> GraphPicture:
    """The picture of ``g``, highlighting the run found for ``prop`` (default: the
    first violated property, else none). Raises ``ParamError`` when ``g`` has more
    than ``max_states`` states or was not explored to the end."""
    sys = g.system
    if not g.complete or len(g) > max_states:
        raise ParamError(too_big_message(sys, len(g), max_states, g.complete))
    names = [p.name for p in sys.properties]
    if prop is not None and prop not in names:
        raise ParamError(f"{sys.name} has no property {prop!r}; its properties are "
                         f"{', '.join(names)}")
    verdicts = {p: check(g, p) for p in ([prop] if prop else names)}
    if prop is None:
        prop = next((p for p, v in verdicts.items()
                     if v.status is Status.VIOLATED and v.trace is not None
                     and not isinstance(sys.prop(p), CSometimes)), None)
    bad_props = _bad_states(g)
    graph = g.to_networkx()
    for n in graph.nodes:
        state = g.sem.as_dict(g.states[n])
        graph.nodes[n]["bad"] = tuple(bad_props.get(n, ()))
        graph.nodes[n]["out"] = bool(g.succ[n])
        graph.nodes[n]["label"] = node_label(sys, n, state)
        graph.nodes[n]["tooltip"] = _tooltip(sys, n, state, bad_props.get(n, ()))
    for _, _, d in graph.edges(data=True):
        cmd = sys.commands[d["cmd"]]
        d["cmd"] = cmd.name
        d["tooltip"] = f"{cmd.name}: {cmd.text}" if cmd.text else cmd.name
    path: list[tuple[int, int, str]] = []
    verdict, loop_start, witness = "", None, False
    if prop is not None:
        v = verdicts[prop]
        verdict = v.text
        if v.trace is not None:
            path = _path_edges(g, v.trace)
            loop_start = v.trace.loop_start
            witness = isinstance(sys.prop(prop), CSometimes)
    title = (f"{sys.name}/{g.variant or sys.variant or '?'} under {sys.memory_model.upper()} "
             f"({sys.param_text}): {len(g)} states, {graph.number_of_edges()} transitions")
    return GraphPicture(title, prop, verdict, graph, tuple(path),
                        frozenset(bad_props), loop_start, witness)


def too_big_message(sys: System, states: int, max_states: int, complete: bool) -> str:
    """Why a graph is not drawn, and what to try instead."""
    smaller = " ".join(f"--param {k}=1" for k, v in sys.params if v is not None and v > 1)
    size = f"{states} states" if complete and states <= max_states + 1 else \
        f"more than {max_states} states"
    if smaller:
        hint = f"try smaller parameters ({smaller}) or raise --max-states"
    elif memory.get(sys.memory_model).buffered:
        strongest = memory.names()[0]
        hint = f"try --memory-model {strongest} (no store buffers) or raise --max-states"
    else:
        hint = "this is already the smallest instance; raise --max-states to draw it anyway"
    return (f"the state graph of {sys.name}/{sys.variant or '?'} under "
            f"{sys.memory_model.upper()} ({sys.param_text}) has {size}, too many to stay "
            f"readable (--max-states {max_states}); {hint}")


def node_label(sys: System, n: int, state: Mapping[str, Any]) -> str:
    """Lines of a node: id and every process's label, memory, buffers, interrupts."""
    pcs = " ".join(f"{p}:{sys.label_names(p)[state[f'pc.{p}']]}" for p in sys.processes)
    lines = [f"#{n} {pcs}", memory_text(sys, state)]
    if any(b.length(state) for b in sys.buffers):
        lines.append("sb " + buffers_text(sys, state))
    irq = interrupt_text(state)
    if irq != "-":
        lines.append(irq)
    return "\n".join(lines)


def _tooltip(sys: System, n: int, state: Mapping[str, Any], bad: Iterable[str]) -> str:
    text = node_label(sys, n, state)
    bad = list(bad)
    if bad:
        text += "\nbreaks: " + ", ".join(bad)
    return text


def _bad_states(g: StateGraph) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for p in g.system.properties:
        match p:
            case CAlways(name, pred):
                f = g.sem.predicate(pred)
                for i, s in enumerate(g.states):
                    if not f(s):
                        out.setdefault(i, []).append(name)
            case CSometimes() | CEventually():
                pass
    return out


def _path_edges(g: StateGraph, trace: Trace) -> list[tuple[int, int, str]]:
    """The trace as (from, to, command) edges between state ids of ``g``."""
    index = {s: i for i, s in enumerate(g.states)}
    cur = index[g.sem.from_dict(trace.init)]
    out = []
    for step in trace.steps:
        nxt = index[g.sem.from_dict(step.state)]
        out.append((cur, nxt, step.command))
        cur = nxt
    return out


def render(dot: str, fmt: str, timeout: float = 60.0) -> bytes:
    """Run Graphviz ``dot`` on ``dot`` text; ``fmt`` is svg or png."""
    if fmt not in ("svg", "png"):
        raise ParamError(f"picture format {fmt!r} is not svg or png (or write .dot)")
    exe = shutil.which("dot")
    if exe is None:
        raise EngineError("Graphviz `dot` is not on PATH; install it (apt-get install "
                          "graphviz) or write a .dot file and render it elsewhere")
    try:
        done = subprocess.run([exe, f"-T{fmt}"], input=dot.encode(), capture_output=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise EngineError(f"Graphviz dot did not finish within {timeout:g} s; draw a "
                          "smaller instance (fewer states)") from None
    if done.returncode != 0 or not done.stdout:
        first = (done.stderr.decode(errors="replace").strip().splitlines() or ["no output"])[0]
        raise EngineError(f"Graphviz dot failed (exit {done.returncode}): {first}")
    return done.stdout


def _q(text: str) -> str:
    """A DOT quoted string; lines are left-justified (``\\l``)."""
    esc = text.replace("\\", "\\\\").replace('"', '\\"')
    if "\n" in esc:
        esc = esc.rstrip("\n").replace("\n", "\\l") + "\\l"
    return f'"{esc}"'


def _attrs(attrs: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={_q(v)}" for k, v in attrs.items())


