"""``intervm play PROTOCOL VARIANT``: you are the scheduler. At each step choose which
VM moves next (and, under TSO/PSO, when a store buffer drains) and watch shared
memory change; the tool says when you have produced a violation and how many steps
the shortest one takes.

Choices are read one per line: a move number, ``undo``, ``show``, ``hint`` (the next
move of a shortest path to the violation), ``quit``. From a terminal a bad line is
answered with one message and a new prompt; from ``--script FILE`` or piped stdin
it stops the session with exit status 1, naming the line. ``#`` starts a comment.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import TextIO

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
from intervm.commands.explain import load_protocol
from intervm.model import memory
from intervm.model.budget import MemoryBudget
from intervm.model.game import Game
from intervm.model.lesson import compile_variant, default_memory_model, default_property
from intervm.model.narrate import HEADLINES
from intervm.spec.errors import IntervmError, ParamError
from intervm.spec.textfile import read_text

COMMANDS = "a move number, undo, show, hint or quit"


class BadLine(Exception):
    """A scripted line that is not a choice."""


def _show(console: Console, game: Game) -> None:
    console.print(Text(f"memory: {game.memory()}", style="dim"))
    if game.system.buffers:
        console.print(Text(f"store buffers: {game.buffers()}", style="cyan"))
    moves = game.moves()
    if not moves:
        console.print(Text("No VM can move: the run is stuck here (undo or quit)."))
    for n, m in enumerate(moves, start=1):
        console.print(Text(f"  {n}) {m.text}"))


def _report(console: Console, game: Game, seen: set[str]) -> None:
    for prop in game.violated():
        if prop in seen:
            continue
        seen.add(prop)
        try:
            best = game.shortest(prop)
        except ParamError:  # the search for the shortest one did not finish
            best = None
        head = HEADLINES.get(prop, f"Invariant {prop} is broken.")
        console.print(Text(f"VIOLATION after {game.steps} steps: {head}", style="bold red"))
        if best is not None:
            cmp = ("as few as possible" if best == game.steps else
                   f"the shortest takes {best} steps")
            console.print(Text(f"You took {game.steps} steps: {cmp}.", style="bold"))


def session(console: Console, game: Game, lines: TextIO, interactive: bool) -> int:
    """Run a play session over ``lines``; the exit status."""
    seen: set[str] = set()
    _show(console, game)
    number = 0
    while True:
        if interactive:
            console.print(Text("move> "), end="")
        raw = lines.readline()
        if not raw:
            break
        number += 1
        line = raw.split("#", 1)[0].strip().lower()
        if not line:
            continue
        if not interactive:
            console.print(Text(f"> {line}", style="bold"))
        try:
            if line in ("quit", "q", "exit"):
                break
            if line == "undo":
                console.print(Text("undone." if game.undo() else "nothing to undo."))
                seen = set(game.violated()) & seen
                _show(console, game)
                continue
            if line == "show":
                _show(console, game)
                continue
            moves = game.moves()
            if line == "hint":
                try:
                    h = game.hint()
                except ParamError as e:
                    console.print(Text(f"hint: {e}"))
                    continue
                idx = next(n for n, m in enumerate(moves, start=1) if m.command == h.command)
                console.print(Text(f"hint: {idx}) {h.text}", style="green"))
                continue
            if not line.isdigit() or not 1 <= int(line) <= len(moves):
                raise BadLine(f"{line!r} is not {COMMANDS}"
                              + (f" (moves are 1-{len(moves)})" if moves else
                                 " (no move is enabled)"))
            move = moves[int(line) - 1]
            console.print(Text(f"{game.steps + 1}. {game.play(move)}"))
            _report(console, game, seen)
            _show(console, game)
        except BadLine as e:
            if interactive:
                console.print(Text(str(e), style="yellow"))
                continue
            raise click.ClickException(f"line {number}: {e}") from None
    found = ", ".join(sorted(seen)) or "none"
    plural = "step" if game.steps == 1 else "steps"
    console.print(Text(f"{game.steps} {plural} played; violations produced: {found}."))
    return 0


@click.command(cls=OneLineErrors)
@click.argument("protocol")
@click.argument("variant")
@click.option("--property", "prop", default=None,
              help="the invariant to aim for (hint) and watch (default: the first one "
                   "the variant declares violated; every invariant is watched)")
@click.option("--memory-model", "-m", type=click.Choice(memory.names()), default=None,
              help="default: the strongest model under which the variant declares the "
                   "violation (SC if it declares none)")
@click.option("--param", "params", multiple=True, metavar="NAME=N",
              help="override a finite-check parameter (e.g. requests=1)")
@click.option("--script", type=click.Path(path_type=Path), default=None,
              help="read the choices from FILE (one per line) instead of stdin")
@max_memory_option
def play(protocol: str, variant: str, prop: str | None, memory_model: str | None,
         params: tuple[str, ...], script: Path | None,
         max_memory: MemoryBudget | None) -> None:
    """Schedule the VMs of VARIANT yourself and try to break it.

    Example: intervm play coalescing no_recheck
    """
    console = Console(highlight=False, soft_wrap=True)
    try:
        lines = None if script is None else io.StringIO(read_text(script, "script file"))
        proto = load_protocol(protocol)
        proto.variant(variant)
        target = prop
        if target is None and any(proto.variant(variant).violated.values()):
            target = default_property(proto, variant)
        mm = memory_model or (default_memory_model(proto, variant, target)
                              if target and proto.variant(variant).violated.get(target)
                              else "sc")
        given = parse_params(params)
        budget = budget_of(max_memory)
        spec, system = compile_variant(proto, variant, mm, given, budget)
        game = Game(system, spec, target=target, memory=budget)
        best: int | None = None
        unknown = ""
        if target is not None:
            try:
                best = game.shortest(target)
            except ParamError as e:  # UNKNOWN: the game can still be played
                unknown = str(e)
    except IntervmError as e:
        raise click.ClickException(str(e)) from None
    except click.BadParameter as e:
        raise OneLineUsageError(one_line(e.format_message())) from None
    console.print(Text(f"{proto.name}/{variant} under {mm.upper()} ({system.param_text}): "
                       f"{proto.variant(variant).doc}", style="italic"))
    if unknown:
        console.print(Text(f"Goal: break {target} ({unknown})."))
    elif target is not None:
        console.print(Text(f"Goal: break {target}"
                           + (f" (the shortest way takes {best} steps)." if best else
                              " (it cannot be broken here).")))
    console.print(Text(f"Each turn type {COMMANDS}."))
    interactive = script is None and sys.stdin.isatty()
    sys.exit(session(console, game, lines if lines is not None else sys.stdin, interactive))
