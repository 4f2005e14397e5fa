"""``intervm graph``: draw the reachable state graph of a small instance.

Bad states (breaking an ``always`` property) are filled red and the run found for a
property (default: the first one violated) is numbered and drawn thick. The output
format follows the file name: ``.svg``, ``.png`` (Graphviz ``dot``) or ``.dot``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from intervm.commands._common import (
    OneLineErrors,
    OneLineUsageError,
    budget_of,
    max_memory_option,
    one_line,
    parse_params,
)
from intervm.commands._output import check_output, write_output
from intervm.commands.explain import load_protocol
from intervm.model import memory
from intervm.model.budget import MemoryBudget
from intervm.model.compile import compile_spec
from intervm.model.explicit import explore
from intervm.model.graph_dot import DEFAULT_MAX_STATES, FORMATS, render, state_graph
from intervm.spec.errors import IntervmError


@click.command("graph", cls=OneLineErrors)
@click.argument("protocol")
@click.argument("variant")
@click.option("--out", "-o", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="FILE.svg, FILE.png or FILE.dot.")
@click.option("--memory-model", "-m", type=click.Choice(memory.names()), default="sc",
              show_default=True)
@click.option("--param", "params", multiple=True, metavar="NAME=N",
              help="Instance parameter (e.g. requests=1); small values keep it readable.")
@click.option("--property", "prop", help="Highlight this property's run (default: the "
              "first violated one).")
@click.option("--buffer", type=click.IntRange(1, 8), default=2, show_default=True,
              help="Store-buffer entries per VM under TSO/PSO.")
@click.option("--max-states", type=click.IntRange(1, 20_000), default=DEFAULT_MAX_STATES,
              show_default=True, help="Refuse to draw bigger graphs.")
@click.option("--trace-out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the highlighted run as a trace file (for intervm diagram).")
@max_memory_option
def graph(protocol: str, variant: str, out: Path, memory_model: str, params: tuple[str, ...],
          prop: str | None, buffer: int, max_states: int, trace_out: Path | None,
          max_memory: MemoryBudget | None) -> None:
    """Draw the state graph of PROTOCOL's VARIANT (a small finite instance)."""
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise click.ClickException(f"--out {out}: the name must end in .svg, .png or .dot")
    try:
        overrides = parse_params(params)
    except click.BadParameter as e:
        raise OneLineUsageError(one_line(e.format_message())) from None
    try:
        check_output(out, "--out")
        if trace_out is not None:
            check_output(trace_out, "--trace-out")
        proto = load_protocol(protocol)
        v = proto.variant(variant)
        if memory_model not in v.memory_models:
            raise click.ClickException(f"variant {variant} is not declared for "
                                   f"{memory_model}; choose {', '.join(v.memory_models)}")
        values = proto.params_for(variant, unbounded=False)
        values.update(overrides)
        budget = budget_of(max_memory)
        system = replace(compile_spec(proto.spec(variant), values, memory_model, buffer,
                                      budget=budget), variant=variant)
        g = explore(system, max_states=max_states + 1, variant=variant, memory=budget)
        if g.stopped:
            raise click.ClickException(f"no graph: the search is UNKNOWN ({g.stopped})")
        pic = state_graph(g, prop, max_states)
        dot = pic.to_dot()
        data = dot.encode() if fmt == "dot" else render(dot, fmt)
        write_output(out, data, "--out")
        run = None
        if pic.prop is not None:
            from intervm.model.explicit import check

            run = check(g, pic.prop).trace
        if trace_out is not None:
            if run is None:
                raise click.ClickException(f"no run to write to {trace_out}: nothing is "
                                           "violated or reached here; pick --property")
            write_output(trace_out, run.to_json(), "--trace-out")
    except IntervmError as e:
        raise click.ClickException(str(e)) from None
    what = (f"; {pic.prop} {pic.verdict} highlighted" if pic.prop else
            "; no property violated, nothing highlighted")
    click.echo(f"wrote {out}: {len(g)} states, {pic.graph.number_of_edges()} transitions, "
               f"{len(pic.bad)} bad{what}")
