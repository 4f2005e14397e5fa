"""Pictures: the state graph (DOT, SVG, PNG) and the sequence diagram of a trace,
through the library and the `graph` / `diagram` commands, including bad input."""

from __future__ import annotations

import json
import shutil
import struct
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from intervm.cli import main
from intervm.model.compile import compile_spec
from intervm.model.explicit import StateGraph, check, explore
from intervm.model.graph_dot import _q, render, state_graph
from intervm.model.seqdiagram import lifelines, rows, sequence_svg
from intervm.model.system import System
from intervm.model.trace import Trace
from intervm.spec.errors import ParamError
from intervm.spec.protocols import get_protocol

SVG = "{http://www.w3.org/2000/svg}"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz dot is not installed (apt-get install graphviz)")
SMALL = {"requests": 1, "capacity": 1}


def graph(variant: str, mm: str, params: dict[str, int] | None = None,
          protocol: str = "coalescing") -> StateGraph:
    spec = get_protocol(protocol).spec(variant)
    sys = replace(compile_spec(spec, params or SMALL, mm), variant=variant)
    return explore(sys, variant=variant)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    w, h = struct.unpack(">II", data[16:24])
    return w, h


# ---------------------------------------------------------------- state graph


def test_graph_marks_bad_states_and_the_shortest_counterexample() -> None:
    g = graph("no_recheck", "sc")
    pic = state_graph(g)  # default: the first violated property
    assert pic.prop == "no_lost_wakeup" and pic.verdict == "VIOLATED (10 steps)"
    assert (pic.graph.number_of_nodes(), pic.graph.number_of_edges()) == (94, 147)
    assert len(pic.path) == 10 and pic.path[0][0] == 0
    assert all(a[1] == b[0] for a, b in zip(pic.path, pic.path[1:], strict=False))
    assert pic.bad == {53, 60} and pic.path[-1][1] in pic.bad
    assert pic.graph.nodes[53]["bad"] == ("no_lost_wakeup",)
    dot = pic.to_dot()
    assert dot.count('penwidth="2.4"') == 10  # exactly the path's edges are thick
    assert dot.count('fillcolor="#f6c9c9"') == 2
    assert '"1 P.idle->space"' in dot and '"10 C.cfence"' in dot


def test_graph_lasso_has_its_loop_and_stutter() -> None:
    pic = state_graph(graph("no_recheck", "tso"), "eventually_consumed")
    assert pic.verdict == "VIOLATED (15 steps)" and pic.loop_start == 14
    assert pic.path[-1] == (95, 95, "stutter")
    assert '"15 stutters forever"' in pic.to_dot()


def test_graph_witness_of_a_sometimes_is_green() -> None:
    pic = state_graph(graph("correct", "sc"), "interrupt_raised")
    assert pic.witness and len(pic.path) == 10 and not pic.bad
    assert pic.to_dot().count('color="#1e8449"') >= 10


def test_graph_refuses_big_instances_naming_smaller_parameters() -> None:
    g = explore(compile_spec(get_protocol("coalescing").spec("no_recheck"),
                             {"requests": 3, "capacity": 2}, "tso"), max_states=401)
    with pytest.raises(ParamError, match=r"more than 400 states.*--param capacity=1 "
                                         r"--param requests=1"):
        state_graph(g)
    with pytest.raises(ParamError, match="has no property 'nope'"):
        state_graph(graph("no_recheck", "sc"), "nope")


def test_dot_strings_are_escaped() -> None:
    assert _q('a"b\\c') == '"a\\"b\\\\c"'
    assert _q("one\ntwo") == '"one\\ltwo\\l"'


@needs_dot
def test_rendered_svg_and_png_are_valid_and_highlighted() -> None:
    pic = state_graph(graph("no_recheck", "sc"))
    root = ET.fromstring(render(pic.to_dot(), "svg"))
    assert root.tag == f"{SVG}svg"
    groups = list(root.iter(f"{SVG}g"))
    nodes = [e for e in groups if e.get("class") == "node"]
    edges = [e for e in groups if e.get("class") == "edge"]
    assert (len(nodes), len(edges)) == (94, 147)
    red = [e for e in edges if any(p.get("stroke") == "#c0392b" for p in e.iter(f"{SVG}path"))]
    assert len(red) == 10
    filled = [n for n in nodes if any(s.get("fill") == "#f6c9c9" for s in n.iter())]
    assert len(filled) == 2
    w, h = png_size(render(pic.to_dot(), "png"))
    assert 1000 < w < 5000 and 800 < h < 4000  # readable at 100 %: a few thousand pixels


# ---------------------------------------------------------------- sequence diagram


def counterexample(variant: str, mm: str, prop: str, protocol: str = "coalescing",
                   params: dict[str, int] | None = None) -> tuple[Trace, System]:
    g = graph(variant, mm, params, protocol)
    trace = check(g, prop).trace
    assert trace is not None
    return trace, g.system


def test_sequence_rows_follow_the_memory_model() -> None:
    trace, sys = counterexample("no_recheck", "tso", "no_lost_wakeup")
    assert [k for k, _ in lifelines(sys)] == ["P", "sb.P", "memory", "sb.C", "C"]
    rs = rows(trace, sys)
    assert [r.kind for r in rs] == [
        "note", "load", "store-buffer", "fence", "store-buffer", "load", "store-buffer",
        "flush", "flush", "fence", "load", "flush", "fence"]
    assert (rs[6].src, rs[6].dst, rs[6].label) == ("C", "sb.C", "store flag=1")
    assert (rs[10].src, rs[10].dst, rs[10].label) == ("memory", "P", "load flag = 0 → f")
    assert (rs[11].src, rs[11].dst, rs[11].label) == ("sb.C", "memory", "flush flag=1")


def test_sequence_svg_is_valid_with_one_row_per_step() -> None:
    trace, sys = counterexample("no_recheck", "tso", "no_lost_wakeup")
    root = ET.fromstring(sequence_svg(trace, sys))
    assert root.tag == f"{SVG}svg" and int(root.get("width", "0")) > 600
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert {"P", "C", "shared memory", "store buffer P", "store buffer C"} <= set(texts)
    assert sum(1 for t in texts if t.startswith(tuple(f"{k:>2} " for k in range(1, 14)))) == 13
    assert "✗ no_lost_wakeup is broken after this step" in texts


def test_sequence_doorbell_and_lasso() -> None:
    trace, sys = counterexample("correct", "sc", "interrupt_raised")
    last = rows(trace, sys)[-1]
    assert (last.kind, last.src, last.dst) == ("doorbell", "P", "C")
    lasso, sys = counterexample("no_recheck", "sc", "eventually_consumed")
    assert rows(lasso, sys)[-1].kind == "stutter"
    svg = sequence_svg(lasso, sys)
    assert "↺ loops" in svg and "stays pending forever" in svg


def test_sequence_timer_under_pso_shows_the_torn_read() -> None:
    trace, sys = counterexample("two_words_lo_first", "pso", "no_torn_read", "timer",
                                {"ticks": 1, "lag": 1, "reads": 1})
    kinds = [r.kind for r in rows(trace, sys)]
    assert len(kinds) == 12 and kinds.count("flush") == 3 and kinds[-2:] == ["load", "load"]
    ET.fromstring(sequence_svg(trace, sys))


# ---------------------------------------------------------------- commands


def cli(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(main, list(args))
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    return r.exit_code, r.output


@needs_dot
def test_graph_command_writes_each_format(tmp_path: Path) -> None:
    for suffix in ("svg", "png", "dot"):
        out = tmp_path / f"g.{suffix}"
        code, text = cli("graph", "coalescing", "no_recheck", "--param", "requests=1",
                         "--param", "capacity=1", "-m", "tso", "--out", str(out))
        assert code == 0, text
        assert ("wrote " in text and "164 states, 300 transitions, 2 bad; "
                "no_lost_wakeup VIOLATED (13 steps) highlighted" in text)
    png_size((tmp_path / "g.png").read_bytes())
    ET.parse(tmp_path / "g.svg")
    assert (tmp_path / "g.dot").read_text().startswith("digraph states {")


def test_graph_then_diagram_round_trip(tmp_path: Path) -> None:
    code, text = cli("graph", "coalescing", "no_recheck", "--param", "requests=1",
                     "--param", "capacity=1", "--out", str(tmp_path / "g.dot"),
                     "--trace-out", str(tmp_path / "t.json"))
    assert code == 0, text
    code, text = cli("diagram", str(tmp_path / "t.json"), "--out", str(tmp_path / "d.svg"))
    assert code == 0 and "coalescing/no_recheck SC no_lost_wakeup, 10 steps" in text
    ET.parse(tmp_path / "d.svg")


def test_diagram_from_verify_json(tmp_path: Path) -> None:
    code, out = cli("verify", "-p", "coalescing", "-v", "no_recheck", "-m", "sc",
                    "--property", "no_lost_wakeup", "--property", "eventually_consumed",
                    "--json", "-j", "1", "--no-unbounded")
    (tmp_path / "m.json").write_text(out)
    code, text = cli("diagram", str(tmp_path / "m.json"), "--property", "eventually_consumed",
                     "--out", str(tmp_path / "d.svg"))
    assert code == 0 and "eventually_consumed, 12 steps" in text
    code, text = cli("diagram", str(tmp_path / "m.json"), "--property", "fifo",
                     "--out", str(tmp_path / "e.svg"))
    assert code == 1 and "has no counterexample for property fifo" in text
    assert not (tmp_path / "e.svg").exists()


def test_pictures_bad_input_is_one_line(tmp_path: Path) -> None:
    def one_line(code: int, text: str, want: int, needle: str) -> None:
        assert code == want, text
        lines = text.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error:") and needle in lines[0], text

    one_line(*cli("graph", "coalescing", "no_recheck", "--out", str(tmp_path / "g.gif")),
             1, "must end in .svg, .png or .dot")
    one_line(*cli("graph", "coalescing", "nope", "--out", str(tmp_path / "g.svg")),
             1, "has no variant 'nope'")
    one_line(*cli("graph", "coalescing", "no_recheck", "-m", "tso", "--out",
                  str(tmp_path / "g.svg")), 1, "--param capacity=1 --param requests=1")
    one_line(*cli("graph", "coalescing", "no_recheck", "--param", "requests",
                  "--out", str(tmp_path / "g.svg")), 2, "is not NAME=INTEGER")
    one_line(*cli("graph", "coalescing", "no_recheck", "--param", "requests=1", "--param",
                  "capacity=1", "--out", str(tmp_path / "missing" / "g.dot")),
             1, "does not exist")
    garbage = tmp_path / "garbage.json"
    garbage.write_text("not json")
    one_line(*cli("diagram", str(garbage), "--out", str(tmp_path / "d.svg")), 1, "is not JSON")
    trace, _ = counterexample("no_recheck", "sc", "no_lost_wakeup")
    forged = json.loads(trace.to_json())
    forged["steps"][3]["state"]["flag"] = 7
    bad = tmp_path / "forged.json"
    bad.write_text(json.dumps(forged))
    one_line(*cli("diagram", str(bad), "--out", str(tmp_path / "d.svg")), 1, "step 4")
    one_line(*cli("diagram", str(garbage), "--out", str(tmp_path / "d.png")), 1,
             "must end in .svg")
    assert not list(tmp_path.glob("*.svg")) and not list(tmp_path.glob(".*"))
