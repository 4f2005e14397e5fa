"""``intervm report OUT.html``: the verdict matrix as one self-contained web page.

Runs the same matrix as ``intervm verify`` (same filters and engines) and writes a
page with, for every counterexample, its sequence diagram, its plain-English
narration and the step-by-step interleaving. The page has inline CSS and SVG only:
it opens from disk with no server and makes no network request. Exit status as for
verify: 0 when every verdict agrees with its variant's declaration, 1 otherwise (the
page is written either way), 2 on bad usage.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from rich.console import Console

from intervm.commands._common import (
    FiniteFloat,
    OneLineErrors,
    OneLineUsageError,
    budget_of,
    max_memory_option,
    one_line,
    parse_params,
)
from intervm.commands._output import OutputError, check_output, write_output
from intervm.commands.verify import _run_with_progress
from intervm.model import memory
from intervm.model.budget import MemoryBudget
from intervm.model.check import Cell, Checker, CheckOptions, Job, plan
from intervm.model.html_report import Explained, explain, has_run, report_html
from intervm.spec.errors import IntervmError
from intervm.spec.protocols import builtin_protocols, get_protocol


class _ReportCommand(OneLineErrors):
    usage_exit_code = 2


@click.command("report", cls=_ReportCommand)
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--protocol", "-p", help="A built-in protocol (default: all of them).")
@click.option("--variant", "-v", "variants", multiple=True, help="Only these variants.")
@click.option("--memory-model", "-m", "memory_models", multiple=True,
              type=click.Choice(memory.names()), help="Only these memory models.")
@click.option("--property", "props", multiple=True, help="Only these properties.")
@click.option("--param", "params", multiple=True, metavar="NAME=N",
              help="Override a finite-instance parameter (e.g. capacity=3).")
@click.option("--timeout", type=FiniteFloat(0.1, 86400), default=10.0, show_default=True,
              help="Seconds per solver call (per unbounded proof attempt).")
@click.option("--buffer", type=click.IntRange(1, 8), default=2, show_default=True,
              help="Store-buffer entries per VM under TSO/PSO.")
@click.option("--no-unbounded", is_flag=True, help="Skip the unbounded (Spacer) proofs.")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=None,
              help="Worker processes (default: number of CPUs).")
@max_memory_option
def report(out: Path, protocol: str | None, variants: tuple[str, ...],
           memory_models: tuple[str, ...], props: tuple[str, ...], params: tuple[str, ...],
           timeout: float, buffer: int, no_unbounded: bool, jobs: int | None,
           max_memory: MemoryBudget | None) -> None:
    """Check the matrix and write it, with every counterexample explained, to OUT.html."""
    if out.suffix.lower() not in (".html", ".htm"):
        raise click.ClickException(f"{out}: the report is HTML; give a name ending in .html")
    try:
        overrides = parse_params(params)
        check_output(out)
    except click.BadParameter as e:
        raise OneLineUsageError(one_line(e.format_message())) from None
    except OutputError as e:
        raise click.ClickException(str(e)) from None
    try:
        protocols = [get_protocol(protocol)] if protocol else list(builtin_protocols())
        options = CheckOptions(engine="auto", timeout=timeout, buffer=buffer,
                               params=overrides, unbounded=not no_unbounded,
                               memory=budget_of(max_memory))
        todo = plan(protocols, variants, memory_models, props)
        if not todo:
            raise OneLineUsageError("the filters select nothing to check", 2)
        err = Console(stderr=True, highlight=False)
        # the same progress bar as verify (on a terminal only)
        cells = _run_with_progress(todo, options, jobs or os.cpu_count() or 1,
                                   show=err.is_terminal, console=err)
        explained = _explain(cells, todo, options)
        chosen = ", ".join(f"{k}={v}" for k, v in options.params.items())
        subtitle = (f"intervm {_version()}: engine auto, timeout {timeout:g} s, "
                    f"store buffers of {buffer}"
                    + (f", parameters {chosen}" if chosen else "")
                    + ("" if options.unbounded else ", no unbounded proofs"))
        page = report_html(cells, explained, "intervm verdict matrix", subtitle)
        write_output(out, page)
    except IntervmError as e:
        raise click.ClickException(str(e)) from None
    bad = [c for c in cells if not c.matches]
    click.secho(f"wrote {out}: {len(cells)} verdicts, {len(explained)} counterexamples "
                f"explained, {len(bad)} differ from what the variants declare",
                fg="red" if bad else "green", err=True)
    sys.exit(1 if bad else 0)


def _explain(cells: list[Cell], todo: list[Job], options: CheckOptions) -> list[Explained]:
    checkers = {j.protocol.name: Checker(j.protocol, options) for j in todo}
    out = []
    for c in cells:
        if not has_run(c):
            continue
        assert c.verdict is not None
        checker = checkers[c.protocol]
        system = checker.system(c.variant, c.memory_model,
                                unbounded=c.verdict.engine == "spacer+bmc",
                                buffer=c.verdict.buffer)  # the depth it was found at
        out.append(explain(c, system, checker.protocol.spec(c.variant)))
    return out


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("intervm")
    except PackageNotFoundError:
        return "(not installed)"
