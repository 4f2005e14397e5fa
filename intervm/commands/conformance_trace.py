"""``intervm conformance check-trace FILE``: validate a recorded JSON-lines trace.

Exit 0 when every event is a step of some spec run, 1 on the first event none
allows (printed with the spec states and the events before it), 2 on a usage
error or a malformed trace (one line naming the file and line).

>>> from click.testing import CliRunner
>>> r = CliRunner().invoke(check_trace, ["/nonexistent.jsonl", "--protocol", "coalescing"])
>>> r.exit_code, r.output.strip()
(2, 'Error: trace file /nonexistent.jsonl does not exist; check the path')
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from intervm.commands._common import (
    OneLineErrors,
    OneLineUsageError,
    budget_of,
    max_memory_option,
    one_line,
    parse_params,
)
from intervm.commands._output import OutputError, check_output, write_output
from intervm.conformance.report import Report, to_json, to_junit_xml, to_table
from intervm.conformance.tracecheck import check_lines
from intervm.model import memory
from intervm.model.budget import MemoryBudget
from intervm.spec.errors import IntervmError, TraceError
from intervm.spec.textfile import read_text


class _Usage(OneLineErrors):
    usage_exit_code = 2


def _write(path: Path, text: str, what: str) -> None:
    try:
        write_output(path, text, what)
    except OutputError as e:
        raise OneLineUsageError(str(e), 2) from None


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
@max_memory_option
def check_trace(trace_file: Path, protocol: str | None, variant: str | None,
                memory_model: str, params: tuple[str, ...], json_out: Path | None,
                junit_out: Path | None, max_memory: MemoryBudget | None) -> None:
    """Validate a recorded JSON-lines trace against a spec (docs/trace-format.md)."""
    try:
        values = parse_params(params)
        for path, what in ((json_out, "--json"), (junit_out, "--junit")):
            if path is not None:
                check_output(path, what)
    except click.BadParameter as e:
        raise OneLineUsageError(one_line(e.format_message())) from None
    except OutputError as e:
        raise OneLineUsageError(str(e), 2) from None
    try:
        read_text(trace_file, "trace file", TraceError)  # one line on a bad file
        chosen = variant
        if chosen is None:
            chosen = "seqlock" if protocol == "timer" else "correct"
            if protocol is None:
                from intervm.conformance.events import read_header

                with open(trace_file, encoding="utf-8") as f:
                    if read_header(f).get("protocol") == "timer":
                        chosen = "seqlock"
        result = check_lines(trace_file, protocol, chosen, memory_model, values,
                             memory=budget_of(max_memory))
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
        _write(json_out, to_json(report), "--json")
    if junit_out is not None:
        _write(junit_out, to_junit_xml(report), "--junit")
    raise SystemExit(report.exit_code)
