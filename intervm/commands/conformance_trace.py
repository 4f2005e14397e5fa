"""``intervm conformance check-trace FILE``: validate a recorded JSON-lines trace.

Exit 0 when every event is a step of some spec run, 1 on the first event none
allows (printed with the spec states and the events before it), 2 on a usage
error or a malformed trace (one line naming the file and line).

>>> from click.testing import CliRunner
>>> r = CliRunner().invoke(check_trace, ["/nonexistent.jsonl", "--protocol", "coalescing"])
>>> r.exit_code, r.output.strip()
(2, 'Error: /nonexistent.jsonl: cannot read the trace (No such file or directory); check the path')
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from intervm.commands._common import OneLineErrors, OneLineUsageError, one_line, parse_params
from intervm.conformance.report import Report, to_json, to_junit_xml, to_table
from intervm.conformance.tracecheck import check_lines
from intervm.model import memory
from intervm.spec.errors import IntervmError


class _Usage(OneLineErrors):
    usage_exit_code = 2


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as e:
        raise OneLineUsageError(f"cannot write {path} ({e.strerror}); check the directory",
                                2) from None


@click.command("check-trace", cls=_Usage)
@click.argument("trace_file", metavar="FILE", type=click.Path(path_type=Path))
@click.option("--protocol", type=click.Choice(["coalescing", "timer"]), default=None,
              help="Protocol of the trace (default: the trace's header).")
@click.option("--variant", default=None,
              help="Spec variant to check against (default: correct / seqlock).")
@click.option("--memory-model", "memory_model", type=click.Choice(memory.names()),
              default="sc", show_default=True, help="Memory model of the spec.")
@click.option("--param", "params", multiple=True, metavar="NAME=N",
              help="Spec parameter (e.g. capacity=4); overrides the header.")
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None,
              help="Also write the report as JSON.")
@click.option("--junit", "junit_out", type=click.Path(path_type=Path), default=None,
              help="Also write the report as JUnit XML.")
def check_trace(trace_file: Path, protocol: str | None, variant: str | None,
                memory_model: str, params: tuple[str, ...], json_out: Path | None,
                junit_out: Path | None) -> None:
    """Validate a recorded JSON-lines trace against a spec (docs/trace-format.md)."""
    try:
        values = parse_params(params)
    except click.BadParameter as e:
        raise OneLineUsageError(one_line(e.format_message()), 2) from None
    try:
        chosen = variant
        if chosen is None:
            chosen = "seqlock" if protocol == "timer" else "correct"
            if protocol is None:
                from intervm.conformance.events import read_header

                with open(trace_file, encoding="utf-8") as f:
                    if read_header(f).get("protocol") == "timer":
                        chosen = "seqlock"
        result = check_lines(trace_file, protocol, chosen, memory_model, values)
    except (IntervmError, KeyError, OSError, UnicodeDecodeError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        if isinstance(e, OSError) and not isinstance(e, IntervmError):
            msg = f"{trace_file}: cannot read the trace ({e.strerror}); check the path"
        if isinstance(e, KeyError):
            msg = f"variant {msg!r} is not defined; see intervm verify --help for the names"
        raise OneLineUsageError(one_line(str(msg)), 2) from None
    report = Report("check-trace", (result.case,))
    console = Console()
    console.print(to_table(report))
    if result.divergence is not None:
        console.print(result.divergence.text(), markup=False, highlight=False)
    if json_out is not None:
        _write(json_out, to_json(report))
    if junit_out is not None:
        _write(junit_out, to_junit_xml(report))
    raise SystemExit(report.exit_code)
