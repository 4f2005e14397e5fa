"""``intervm explain PROTOCOL VARIANT``: the shortest counterexample in plain English,
then the fixed variant under the same schedule.

Exit status 0 when the counterexample was found and narrated, 1 on bad input (one
line naming what was wrong) or when the variant has no counterexample, 2 on a usage
error (a bad option value, a missing argument).
"""

from __future__ import annotations

import click
from rich.console import Console
from rich.text import Text

from intervm.commands._common import (
    OneLineErrors,
    OneLineUsageError,
    budget_of,
    max_memory_option,
    one_line,
    parse_params,
)
from intervm.model import memory
from intervm.model.budget import MemoryBudget
from intervm.model.lesson import Lesson, compile_variant, prepare
from intervm.model.narrate import Narration, contrast, narrate
from intervm.model.render import trace_table
from intervm.spec.errors import IntervmError
from intervm.spec.protocol import Protocol
from intervm.spec.protocols import get_protocol


def load_protocol(name: str) -> Protocol:
    """A built-in protocol by name, or the first protocol of a user file (FILE.py)."""
    if name.endswith(".py") or ":" in name:
        from intervm.spec.loader import load_protocols

        protos = load_protocols(name)
        if not protos:
            raise click.ClickException(f"{name} declares no protocol")
        return protos[0]
    return get_protocol(name)


def print_narration(console: Console, n: Narration) -> None:
    console.print(Text(n.title, style="bold"))
    console.print(Text(n.intro))
    console.print()
    for s in n.steps:
        line = Text(f"{s.index:>3}. ", style="bold")
        line.append(Text(s.sentence))
        console.print(line)
        if s.note:
            console.print(Text(f"     [{s.note}]", style="yellow"))
        console.print(Text(f"     memory: {s.memory}", style="dim"))
        if s.buffers:
            console.print(Text(f"     store buffers: {s.buffers_text}", style="cyan"))
    console.print()
    console.print(Text(n.headline, style="bold red" if n.why else "bold green"))
    if n.why:
        console.print(Text(n.why))
    for f in n.facts:
        console.print(Text(f"  - {f}"))


def explain_lesson(console: Console, les: Lesson, *, show_fix: bool = True,
                   table: bool = False, memory: MemoryBudget | None = None) -> None:
    """Print the narration of ``les`` and, with ``show_fix``, its contrast (searched
    within the memory budget ``memory``)."""
    v = les.protocol.variant(les.variant)
    console.print(Text(f"{les.protocol.name}/{les.variant}: {v.doc}", style="italic"))
    console.print(Text(f"Shortest counterexample to {les.prop} under "
                       f"{les.memory_model.upper()}: {len(les.trace)} steps "
                       f"(breadth-first search over {les.states} states)."))
    console.print()
    print_narration(console, narrate(les.trace, les.system, les.spec))
    if table:
        console.print(trace_table(les.trace, les.system))
    if not show_fix:
        return
    console.print()
    if les.fixed is None:
        console.print(Text(f"No variant of {les.protocol.name} is declared to keep "
                           f"{les.prop} under {les.memory_model.upper()}; nothing to "
                           "contrast with.", style="yellow"))
        return
    fv = les.protocol.variant(les.fixed)
    console.print(Text(f"The fix: {les.protocol.name}/{les.fixed}: {fv.doc}", style="italic"))
    fspec, fsys = compile_variant(les.protocol, les.fixed, les.memory_model,
                                  {k: v for k, v in les.params if v is not None}, memory)
    print_narration(console, contrast(les.trace, les.system, fsys, fspec, les.fixed,
                                      memory=memory))


@click.command(cls=OneLineErrors)
@click.argument("protocol")
@click.argument("variant")
@click.option("--property", "prop", default=None,
              help="the property to break (default: the first one the variant declares "
                   "violated)")
@click.option("--memory-model", "-m", type=click.Choice(memory.names()), default=None,
              help="default: the strongest model under which the variant declares the "
                   "violation (SC, then TSO, then PSO)")
@click.option("--param", "params", multiple=True, metavar="NAME=N",
              help="override a finite-check parameter (e.g. requests=1)")
@click.option("--fixed", default=None, metavar="VARIANT",
              help="the variant to contrast with (default: derived: 'correct', else the "
                   "default knobs, else the nearest variant keeping the property)")
@click.option("--no-fix", is_flag=True, help="narrate the counterexample only")
@click.option("--table", is_flag=True, help="also print the two-column trace table")
@max_memory_option
def explain(protocol: str, variant: str, prop: str | None, memory_model: str | None,
            params: tuple[str, ...], fixed: str | None, no_fix: bool, table: bool,
            max_memory: MemoryBudget | None) -> None:
    """Narrate the shortest counterexample of VARIANT, then replay its schedule on the
    fixed variant. PROTOCOL: a built-in name (coalescing, timer) or a protocol FILE.py.

    Example: intervm explain coalescing no_recheck
    """
    console = Console(highlight=False, soft_wrap=True)
    budget = budget_of(max_memory)
    if no_fix and fixed is not None:
        raise click.ClickException(f"give --fixed {fixed} or --no-fix, not both "
                                   "(--no-fix narrates the counterexample without a fix)")
    try:
        proto = load_protocol(protocol)
        les = prepare(proto, variant, prop, memory_model, parse_params(params), fixed,
                      memory=budget)
        explain_lesson(console, les, show_fix=not no_fix, table=table, memory=budget)
    except IntervmError as e:
        raise click.ClickException(str(e)) from None
    except click.BadParameter as e:
        raise OneLineUsageError(one_line(e.format_message())) from None
