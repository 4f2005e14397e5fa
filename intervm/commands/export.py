"""``intervm export``: write a compiled protocol instance in another tool's language.

``intervm export promela`` compiles one variant under one memory model at finite
parameters and prints Promela for SPIN (see :mod:`intervm.model.promela`).

>>> from click.testing import CliRunner
>>> out = CliRunner().invoke(export, ["promela", "--protocol", "coalescing",
...                                   "--variant", "correct", "--memory-model", "tso"])
>>> out.exit_code, "ltl no_lost_wakeup" in out.output
(0, True)
>>> bad = CliRunner().invoke(export, ["promela", "--variant", "nope"])
>>> bad.exit_code, bad.output.count("\\n"), "its variants are" in bad.output
(1, 1, True)
>>> CliRunner().invoke(export, ["promela", "--param", "capacity"]).output.count("\\n")
1
"""

from __future__ import annotations

from pathlib import Path

import click

from intervm.commands._common import OneLineErrors, one_line, parse_params
from intervm.commands._output import OutputError, write_output
from intervm.commands._usage import OneLineGroup
from intervm.model import memory
from intervm.spec.errors import IntervmError


@click.group(cls=OneLineGroup)
def export() -> None:
    """Export a compiled protocol instance for another model checker."""


@export.command("promela", cls=OneLineErrors)
@click.option("--protocol", "-p", default="coalescing", show_default=True,
              help="A built-in protocol.")
@click.option("--variant", "-v", default="correct", show_default=True,
              help="The variant to export.")
@click.option("--memory-model", "-m", type=click.Choice(memory.names()), default="sc",
              show_default=True, help="Memory model compiled into the export.")
@click.option("--param", "params", multiple=True, metavar="NAME=N",
              callback=lambda _ctx, _p, v: parse_params(v),
              help="Override a finite parameter (e.g. capacity=4); every parameter is "
                   "finite in an export.")
@click.option("--buffer", type=click.IntRange(1, 8), default=2, show_default=True,
              help="Store-buffer entries per VM under TSO/PSO.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write to FILE instead of standard output.")
def promela(protocol: str, variant: str, memory_model: str, params: dict[str, int],
            buffer: int, output: Path | None) -> None:
    """Print Promela for one variant under one memory model (check it with SPIN).

    The header comment of the output says how to build and run pan for safety,
    reachability and liveness properties.
    """
    from intervm.model.compile import compile_spec
    from intervm.model.promela import to_promela
    from intervm.spec.protocols import get_protocol

    try:
        proto = get_protocol(protocol)
        values: dict[str, int | None] = dict(proto.params_for(variant, unbounded=False))
        values.update(params)
        system = compile_spec(proto.spec(variant), values, memory_model, buffer=buffer)
        text = to_promela(system, variant=variant)
    except IntervmError as e:
        raise click.ClickException(one_line(str(e))) from None
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        write_output(output, text, "--output")
    except OutputError as e:
        raise click.ClickException(str(e)) from None
