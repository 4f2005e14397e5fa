"""``intervm diagram``: draw a trace as an SVG sequence diagram.

TRACE is a trace file (``intervm graph --trace-out``, ``Trace.to_json``) or the
output of ``intervm verify --json`` (its first counterexample, filtered by
``--property`` and ``--memory-model``). The trace is replayed on its spec first.
"""

from __future__ import annotations

from pathlib import Path

import click

from intervm.commands._common import OneLineErrors
from intervm.commands._output import check_output, write_output
from intervm.commands._pictures import load_trace, system_for
from intervm.model import memory
from intervm.model.seqdiagram import sequence_svg
from intervm.spec.errors import IntervmError


@click.command("diagram", cls=OneLineErrors)
@click.argument("trace_file", metavar="TRACE", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "-o", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="FILE.svg")
@click.option("--property", "prop", help="With verify --json output: this property's trace.")
@click.option("--memory-model", "-m", type=click.Choice(memory.names()),
              help="With verify --json output: a trace under this memory model.")
@click.option("--spec-file", type=click.Path(exists=True, dir_okay=False),
              help="The Python file declaring the trace's protocol, if not built in.")
def diagram(trace_file: Path, out: Path, prop: str | None, memory_model: str | None,
            spec_file: str | None) -> None:
    """Draw TRACE as a sequence diagram (SVG)."""
    if out.suffix.lower() != ".svg":
        raise click.ClickException(f"--out {out}: the name must end in .svg")
    try:
        check_output(out, "--out")
        trace = load_trace(trace_file, prop, memory_model)
        protocols = None
        if spec_file is not None:
            from intervm.spec.loader import load_protocols

            protocols = list(load_protocols(spec_file))
        system, _ = system_for(trace, protocols)
        write_output(out, sequence_svg(trace, system), "--out")
    except IntervmError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"wrote {out}: {trace.system}/{trace.variant} {trace.memory_model.upper()} "
               f"{trace.prop}, {len(trace)} steps")
