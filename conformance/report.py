"""One verdict format for every conformance mode: cases, a terminal table, JUnit XML, JSON.

In-process testing, the live out-of-process tester and offline trace validation all
return a :class:`Report`: one :class:`Case` per thing checked, each PASS, FAIL or
ERROR (the tester itself could not decide: the binary did not start, a timeout, a
malformed input), with a one-line detail and, for a failure, the evidence as a
:class:`~intervm.model.trace.Trace` in the project's one trace form.

>>> r = Report("demo", (Case("consumer/no_lost_wakeup", Outcome.PASS, 0.5),
...                     Case("consumer/fifo", Outcome.FAIL, 0.25, "request 3 consumed twice")))
>>> r.ok, r.exit_code, r.counts()
(False, 1, {'pass': 1, 'fail': 1, 'error': 0})
>>> print(to_junit_xml(r).splitlines()[1])
<testsuite name="demo" tests="2" failures="1" errors="0" skipped="0" time="0.750">
>>> from_json(to_json(r)) == r
True
"""

from __future__ import annotations

import enum
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from rich.table import Table

from intervm.model.trace import Trace
from intervm.spec.errors import TraceError


class Outcome(enum.Enum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Case:
    """One checked case. ``name`` is ``role-or-impl/property`` style; ``detail`` is one
    line saying what was seen (for FAIL, the first violation; for ERROR, why the tester
    could not decide); ``trace`` is the evidence; ``replay`` a command or file that
    reproduces it."""

    name: str
    outcome: Outcome
    seconds: float
    detail: str = ""
    trace: Trace | None = field(default=None, compare=False)
    replay: str = ""


@dataclass(frozen=True, slots=True)
class Report:
    suite: str
    cases: tuple[Case, ...]

    @property
    def ok(self) -> bool:
        return all(c.outcome is Outcome.PASS for c in self.cases) and bool(self.cases)

    @property
    def exit_code(self) -> int:
        """0 only when every case passed (an empty report is not a pass)."""
        return 0 if self.ok else 1

    def counts(self) -> dict[str, int]:
        return {o.value: sum(c.outcome is o for c in self.cases) for o in Outcome}

    @property
    def seconds(self) -> float:
        return sum(c.seconds for c in self.cases)


_STYLE = {Outcome.PASS: "green", Outcome.FAIL: "bold red", Outcome.ERROR: "yellow"}


def to_table(report: Report) -> Table:
    """A rich table, one case per row."""
    c = report.counts()
    table = Table(title=f"{report.suite}: {c['pass']} passed, {c['fail']} failed, "
                        f"{c['error']} errors")
    for col in ("case", "verdict", "time", "detail"):
        table.add_column(col, justify="right" if col == "time" else "left")
    for case in report.cases:
        detail = case.detail + (f" (replay: {case.replay})" if case.replay else "")
        table.add_row(case.name, f"[{_STYLE[case.outcome]}]{case.outcome.value.upper()}[/]",
                      f"{case.seconds:.2f}s", detail)
    return table


def to_junit_xml(report: Report) -> str:
    """JUnit XML (one testsuite) for CI systems."""
    c = report.counts()
    suite = ET.Element("testsuite", {
        "name": report.suite, "tests": str(len(report.cases)), "failures": str(c["fail"]),
        "errors": str(c["error"]), "skipped": "0", "time": f"{report.seconds:.3f}",
    })
    for case in report.cases:
        tc = ET.SubElement(suite, "testcase", {
            "classname": report.suite, "name": case.name, "time": f"{case.seconds:.3f}"})
        if case.outcome is not Outcome.PASS:
            tag = "failure" if case.outcome is Outcome.FAIL else "error"
            el = ET.SubElement(tc, tag, {"message": case.detail})
            body = []
            if case.replay:
                body.append(f"replay: {case.replay}")
            if case.trace is not None:
                body.append(f"trace ({len(case.trace)} steps): {case.trace.path}")
            el.text = "\n".join(body)
    ET.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode")


def to_json(report: Report) -> str:
    """JSON with every case; a failing case's trace is embedded in the one trace form."""
    return json.dumps({
        "format": "intervm-conformance/1",
        "suite": report.suite,
        "ok": report.ok,
        "counts": report.counts(),
        "cases": [
            {"name": c.name, "outcome": c.outcome.value, "seconds": round(c.seconds, 6),
             "detail": c.detail, "replay": c.replay,
             "trace": json.loads(c.trace.to_json()) if c.trace is not None else None}
            for c in report.cases
        ],
    }, indent=1)


def from_json(text: str) -> Report:
    """Read back :func:`to_json` output; raises :class:`TraceError` on anything else."""
    try:
        d: Any = json.loads(text)
        if not isinstance(d, dict) or d.get("format") != "intervm-conformance/1":
            raise TraceError("report lacks format 'intervm-conformance/1'; was it written "
                             "by intervm conformance … --json?")
        cases = tuple(
            Case(c["name"], Outcome(c["outcome"]), float(c["seconds"]), c["detail"],
                 Trace.from_json(json.dumps(c["trace"])) if c["trace"] else None,
                 c.get("replay", ""))
            for c in d["cases"]
        )
        return Report(d["suite"], cases)
    except json.JSONDecodeError as e:
        raise TraceError(f"report is not JSON: {e.msg} at line {e.lineno}") from None
    except (KeyError, TypeError, ValueError) as e:
        if isinstance(e, TraceError):
            raise
        raise TraceError(f"report is missing or mistypes field {e}") from None
