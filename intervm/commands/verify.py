"""``intervm verify``: the verdict matrix (variant × memory model × property).

Exit status 0 when every verdict agrees with what its variant declares (buggy
variants are *expected* to show VIOLATED), 1 when any differs or is UNKNOWN, 2 on
bad usage.
"""

from __future__ import annotations

import json
import os
import sys

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from intervm.commands._common import (
    FiniteFloat,
    OneLineErrors,
    OneLineUsageError,
    budget_of,
    max_memory_option,
    one_line,
    parse_params,
)
from intervm.model import memory
from intervm.model.budget import MemoryBudget
from intervm.model.check import ENGINES, Cell, CheckOptions, Job, plan, run, unsendable
from intervm.model.render import trace_table
from intervm.model.verdict import Status
from intervm.spec.errors import IntervmError
from intervm.spec.protocol import Protocol
from intervm.spec.protocols import builtin_protocols, get_protocol

LEGEND = (
    "PROVED ∀ = holds for every ring capacity and request count (Spacer; the inductive "
    "invariant is re-checked by a plain solver). HOLDS = true in every reachable state of "
    "the finite instance under the variant's name (exhaustive search). HOLDS ≤n = no "
    "violation within n steps. VIOLATED n = shortest counterexample has n steps "
    "(--show-trace prints it). REACHED n = a 'sometimes' state is reached in n steps. "
    "UNKNOWN = no answer, never counted as a pass. ✓ = what the variant declares, ✗ = not. "
    "TSO/PSO: buffer ≤ d = decided with d store-buffer entries per VM (a deeper buffer "
    "may allow more); 'sufficient' = one more entry changed nothing the property reads; "
    "'largest checked' = it still did at d; 'buffer unbounded' = no VM issues more stores."
)


def _load_protocols(spec_file: str | None, protocol: str | None) -> list[Protocol]:
    if spec_file is not None:
        from intervm.spec.loader import load_protocols  # user files, loaded on demand

        return list(load_protocols(spec_file))
    if protocol is not None:
        return [get_protocol(protocol)]
    return list(builtin_protocols())


def _cell_text(cell: Cell) -> Text:
    v = cell.verdict
    if v is None:
        return Text("—", style="dim")
    style = {
        Status.PROVED: "green", Status.HOLDS: "green", Status.BOUNDED: "yellow",
        Status.VIOLATED: "red", Status.UNKNOWN: "magenta",
    }[v.status]
    mark = "✓ " if cell.matches else "✗ "
    t = Text(mark, style="bold green" if cell.matches else "bold red")
    t.append(cell.short_text(), style=style)
    if v.depends_on_buffer and v.buffer_text:
        t.append(f"\n{v.buffer_text}", style="yellow" if v.buffer_bound in ("", "largest checked")
                 else "dim")
    t.append(f"\n{v.engine} {v.seconds:.2f}s", style="dim")
    if v.status is Status.UNKNOWN:
        t.append(f"\n{v.reason[:40]}", style="magenta")
    if not cell.matches:
        t.append(f"\nexpected {cell.expected}", style="bold red")
    return t


def matrix_tables(cells: list[Cell]) -> list[Table]:
    """One rich table per protocol: rows variant × model, columns properties."""
    tables = []
    for proto in dict.fromkeys(c.protocol for c in cells):
        pc = [c for c in cells if c.protocol == proto]
        props = list(dict.fromkeys(c.prop for c in pc))
        t = Table(title=f"intervm verify — {proto}", show_lines=True, expand=False)
        t.add_column("variant (finite instance)", no_wrap=True)
        t.add_column("model")
        for p in props:
            t.add_column(p.replace("_", " "), overflow="fold")
        for variant, mm in dict.fromkeys((c.variant, c.memory_model) for c in pc):
            label = Text(variant)
            scope = next((c.verdict.scope for c in pc if c.variant == variant and c.verdict
                          and c.verdict.status is Status.HOLDS and c.verdict.scope), "")
            if scope:
                label.append("\n" + scope.split(";")[0], style="dim")
            row: list[Text] = [label, Text(mm.upper())]
            for p in props:
                cell = next((c for c in pc if c.variant == variant and c.memory_model == mm
                             and c.prop == p), None)
                row.append(_cell_text(cell) if cell else Text(""))
            t.add_row(*row)
        tables.append(t)
    return tables


def _list(console: Console, protocols: list[Protocol]) -> None:
    for proto in protocols:
        console.print(f"[bold]{proto.name}[/]: {proto.doc}")
        first = proto.spec(proto.variants[0].name)
        for p in first.properties:
            console.print(f"  property [cyan]{p.name}[/] ({type(p).__name__.lower()}): {p.doc}")
        for v in proto.variants:
            console.print(f"  variant [green]{v.name}[/] ({', '.join(v.memory_models)}): "
                          f"{v.doc}", highlight=False)


class _VerifyCommand(OneLineErrors):
    usage_exit_code = 2  # 1 means "a verdict differs"; usage mistakes are 2


@click.command("verify", cls=_VerifyCommand)
@click.argument("spec_file", required=False)
@click.option("--spec", "spec_ref", metavar="MODULE:OBJECT",
              help="A protocol in an importable module (like SPEC_FILE, by module name).")
@click.option("--protocol", "-p", help="A built-in protocol (default: all of them).")
@click.option("--variant", "-v", "variants", multiple=True, help="Only these variants.")
@click.option("--memory-model", "-m", "memory_models", multiple=True,
              type=click.Choice(memory.names()), help="Only these memory models.")
@click.option("--property", "props", multiple=True, help="Only these properties.")
@click.option("--engine", "-e", type=click.Choice(ENGINES), default="auto", show_default=True,
              help="auto: explicit exhaustive search, then Spacer for unbounded proofs.")
@click.option("--param", "params", multiple=True, metavar="NAME=N",
              help="Override a finite-instance parameter (e.g. capacity=3).")
@click.option("--timeout", type=FiniteFloat(0.1, 86400), default=10.0, show_default=True,
              help="Seconds per solver call (auto: per unbounded proof attempt).")
@click.option("--bmc-depth", type=click.IntRange(0, 500), default=30, show_default=True)
@click.option("--buffer", type=click.IntRange(1, 8), default=2, show_default=True,
              help="Store-buffer entries per VM under TSO/PSO.")
@click.option("--max-buffer", type=click.IntRange(1, 8), default=3, show_default=True,
              help="TSO/PSO: grow the buffer up to this depth to confirm a HOLDS/UNREACHABLE.")
@click.option("--fixed-buffer", is_flag=True,
              help="TSO/PSO: check with --buffer only (the verdict then says its bound).")
@click.option("--no-unbounded", is_flag=True, help="auto: skip the unbounded proofs.")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=None,
              help="Worker processes (default: number of CPUs).")
@click.option("--json", "as_json", is_flag=True, help="Print the matrix as JSON.")
@click.option("--show-trace", is_flag=True, help="Print each counterexample as an interleaving.")
@click.option("--show-invariant", is_flag=True, help="Print each inductive invariant found.")
@click.option("--list", "list_only", is_flag=True, help="List protocols, variants, properties.")
@max_memory_option
def verify(spec_file: str | None, spec_ref: str | None, protocol: str | None, variants: tuple[str, ...],
           memory_models: tuple[str, ...], props: tuple[str, ...], engine: str,
           params: tuple[str, ...], timeout: float, bmc_depth: int, buffer: int,
           max_buffer: int, fixed_buffer: bool, no_unbounded: bool, jobs: int | None,
           as_json: bool, show_trace: bool, show_invariant: bool, list_only: bool,
           max_memory: MemoryBudget | None) -> None:
    """Check every variant × memory model × property and print the verdict matrix.

    SPEC_FILE is a Python file declaring your own protocol (see docs/user-protocols.md).
    """
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    err = Console(stderr=True, highlight=False)
    try:
        if spec_file is not None and spec_ref is not None:
            raise OneLineUsageError("give SPEC_FILE or --spec, not both", 2)
        if protocol is not None and (spec_file or spec_ref) is not None:
            raise OneLineUsageError(f"give a protocol file or --protocol {protocol}, not "
                                    "both (--protocol names a built-in protocol)", 2)
        source = click.get_current_context().get_parameter_source("max_buffer")
        if fixed_buffer and source is click.core.ParameterSource.COMMANDLINE:
            raise OneLineUsageError(f"give --fixed-buffer or --max-buffer {max_buffer}, not "
                                    "both (--fixed-buffer never grows the buffer)", 2)
        protocols = _load_protocols(spec_file or spec_ref, protocol)
        if list_only:
            _list(console, protocols)
            return
        try:
            values = parse_params(params)
        except click.BadParameter as e:
            raise OneLineUsageError(one_line(e.format_message())) from None
        options = CheckOptions(engine=engine, timeout=timeout, bmc_depth=bmc_depth,
                               buffer=buffer, params=values,
                               unbounded=not no_unbounded, grow_buffer=not fixed_buffer,
                               max_buffer=max_buffer, memory=budget_of(max_memory))
        todo = plan(protocols, variants, memory_models, props)
        if not todo:
            raise OneLineUsageError("the filters select nothing to check", 2)
        cells = _run_with_progress(todo, options, jobs or os.cpu_count() or 1,
                                   show=not as_json and err.is_terminal, console=err)
    except IntervmError as e:
        raise click.ClickException(str(e)) from None
    bad = [c for c in cells if not c.matches]
    if as_json:
        click.echo(json.dumps({
            "cells": [c.to_dict() for c in cells],
            "summary": {"cells": len(cells), "mismatches": len(bad)},
        }, indent=1))
    else:
        for t in matrix_tables(cells):
            console.print(t)
        console.print(LEGEND, style="dim")
        for c in cells:  # the table cuts reasons short; a budget's says what to change
            if c.verdict is not None and c.verdict.reason.startswith("memory budget"):
                console.print(f"{c.protocol}/{c.variant} {c.memory_model.upper()} {c.prop}: "
                              f"{c.verdict.text}", style="magenta", markup=False,
                              soft_wrap=True)
        if show_trace or show_invariant:
            _details(console, cells, todo, show_trace, show_invariant, options)
        summary = f"{len(cells)} verdicts, {len(bad)} differ from what the variants declare"
        console.print(summary, style="bold red" if bad else "bold green")
    sys.exit(1 if bad else 0)


def _run_with_progress(todo: list[Job], options: CheckOptions, workers: int, show: bool,
                       console: Console) -> list[Cell]:
    if workers > 1 and len(todo) > 1 and (why := unsendable(todo)) is not None:
        console.print(f"note: {why}; checking in one process", markup=False,
                      soft_wrap=True)
        workers = 1
    if not show:
        return run(todo, options, workers)
    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                  transient=True) as progress:
        task = progress.add_task("verifying", total=len(todo))

        def done(job: Job, cells: list[Cell]) -> None:
            progress.update(task, advance=1,
                            description=f"{job.protocol.name}/{job.variant} {job.memory_model}")

        return run(todo, options, workers, on_done=done)


def _details(console: Console, cells: list[Cell], todo: list[Job], show_trace: bool,
             show_invariant: bool, options: CheckOptions) -> None:
    from intervm.model.check import Checker

    checkers = {j.protocol.name: Checker(j.protocol, options) for j in todo}
    for c in cells:
        v = c.verdict
        if v is None:
            continue
        if show_invariant and v.invariant:
            console.print(f"\n[bold]{c.protocol}/{c.variant} {c.memory_model.upper()} "
                          f"{c.prop}[/]: inductive invariant ({v.engine}):")
            console.print(Text(v.invariant))
        if show_trace and v.trace is not None and v.status is Status.VIOLATED:
            system = checkers[c.protocol].system(c.variant, c.memory_model,
                                                 unbounded=v.engine == "spacer+bmc",
                                                 buffer=v.buffer)  # the depth it was found at
            console.print()
            console.print(trace_table(v.trace, system))
