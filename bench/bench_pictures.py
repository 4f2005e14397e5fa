"""Cost of the pictures: state graphs by size, sequence diagrams, the HTML report.

Regenerate (from the repository root)::

    python bench/bench_pictures.py     # writes bench/results/pictures.md

Times are the best of three runs (wall clock, in-process except Graphviz ``dot`` and
Chromium, which are subprocesses). The report row checks the coalescing matrix
(every variant, SC/TSO/PSO, finite instances only) once, then times what the report
adds on top: narration, diagram and table for every counterexample, and the page.

>>> _ms(0.01234)
'12 ms'
"""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from intervm.model.check import Checker, CheckOptions, plan, run  # noqa: E402
from intervm.model.compile import compile_spec  # noqa: E402
from intervm.model.explicit import check, explore  # noqa: E402
from intervm.model.graph_dot import render, state_graph  # noqa: E402
from intervm.model.html_report import explain, has_run, report_html  # noqa: E402
from intervm.model.seqdiagram import sequence_svg  # noqa: E402
from intervm.spec.protocols import get_protocol  # noqa: E402

RESULT = ROOT / "results" / "pictures.md"
GRAPHS = [
    ("coalescing", "no_recheck", "sc", {"requests": 1, "capacity": 1}),
    ("coalescing", "no_recheck", "tso", {"requests": 1, "capacity": 1}),
    ("coalescing", "correct", "tso", {"requests": 1, "capacity": 1}),
    ("timer", "single_word", "sc", {"ticks": 1, "lag": 1, "reads": 1}),
    ("timer", "two_words_lo_first", "sc", {"ticks": 1, "lag": 1, "reads": 1}),
]


def _ms(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms:.1f} ms" if ms < 10 else f"{ms:,.0f} ms"


def best(f: Callable[[], object], n: int = 3) -> tuple[float, object]:
    times, out = [], None
    for _ in range(n):
        t0 = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t0)
    return min(times), out


def graph_rows() -> list[str]:
    rows = []
    for proto, variant, mm, params in GRAPHS:
        sys_ = replace(compile_spec(get_protocol(proto).spec(variant), params, mm),
                       variant=variant)
        t_build, pic = best(lambda s=sys_, v=variant: state_graph(
            explore(s, variant=v), max_states=1000))
        dot = pic.to_dot()  # type: ignore[attr-defined]
        t_svg, svg = best(lambda d=dot: render(d, "svg"))
        t_png, png = best(lambda d=dot: render(d, "png"))
        assert isinstance(png, bytes) and isinstance(svg, bytes)
        w, h = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
        g = pic.graph  # type: ignore[attr-defined]
        rows.append(f"| {proto}/{variant} {mm.upper()} | {g.number_of_nodes()} | "
                    f"{g.number_of_edges()} | {_ms(t_build)} | {_ms(t_svg)} | {_ms(t_png)} | "
                    f"{len(svg) / 1024:,.0f} KiB | {w}×{h} |")
    return rows


def report_rows() -> tuple[list[str], str]:
    proto = get_protocol("coalescing")
    options = CheckOptions(unbounded=False)
    t0 = time.perf_counter()
    cells = run(plan([proto]), options)
    t_matrix = time.perf_counter() - t0
    checker = Checker(proto, options)

    def build() -> str:
        found = [explain(c, checker.system(c.variant, c.memory_model),
                         proto.spec(c.variant)) for c in cells if has_run(c)]
        return report_html(cells, found, "bench")

    t_page, page = best(build)
    assert isinstance(page, str)
    n = sum(1 for c in cells if has_run(c))
    traces = [c.verdict.trace for c in cells if has_run(c) and c.verdict and c.verdict.trace]
    steps = sum(len(t) for t in traces)
    sys_tso = checker.system("no_recheck", "tso")
    one = check(explore(sys_tso), "no_lost_wakeup").trace
    assert one is not None
    t_svg, _ = best(lambda: sequence_svg(one, sys_tso), 5)
    shot = "chromium not installed"
    exe = shutil.which("chromium")
    if exe is not None:
        with tempfile.TemporaryDirectory() as tmp:
            html = Path(tmp) / "r.html"
            html.write_text(page, encoding="utf-8")

            def screenshot() -> int:
                return subprocess.run(
                    [exe, "--headless", "--no-sandbox", "--disable-gpu",
                     f"--user-data-dir={tmp}/p", "--window-size=1280,1600",
                     f"--screenshot={tmp}/s.png", html.as_uri()],
                    capture_output=True, timeout=120, check=False).returncode

            t_shot, code = best(screenshot)
            shot = _ms(t_shot) if code == 0 else f"failed (exit {code})"
    rows = [
        f"| coalescing matrix, {len(cells)} verdicts (finite instances) | {_ms(t_matrix)} |",
        f"| report on top: {n} counterexamples ({steps} steps) narrated, drawn, tabled; "
        f"page {len(page) / 1024:,.0f} KiB | {_ms(t_page)} |",
        f"| one sequence diagram (no_recheck TSO, {len(one)} steps) | {_ms(t_svg)} |",
        f"| headless Chromium screenshot of the page (1280×1600) | {shot} |",
    ]
    return rows, f"{n} counterexamples"


def main() -> int:
    dot = subprocess.run(["dot", "-V"], capture_output=True, text=True, check=False)
    graphs = graph_rows()
    report, _ = report_rows()
    text = "\n".join([
        "## Pictures and the HTML report (`python bench/bench_pictures.py`)",
        "",
        "State graphs (`intervm graph`): exploration + picture, then Graphviz layout.",
        "",
        "| instance | states | transitions | explore + DOT | dot → SVG | dot → PNG | SVG size "
        "| PNG pixels |",
        "|---|---|---|---|---|---|---|---|",
        *graphs,
        "",
        "The HTML report (`intervm report`):",
        "",
        "| what | time |",
        "|---|---|",
        *report,
        "",
        f"Best of 3 runs. Python {platform.python_version()}, "
        f"{(dot.stderr or dot.stdout).strip()}, Linux {platform.release()}, "
        f"{__import__('os').cpu_count()} CPUs. No peer tool is timed: nothing else draws "
        "these graphs; `dot` is the layout engine every row uses.",
        "",
    ])
    RESULT.parent.mkdir(exist_ok=True)
    RESULT.write_text(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
