"""``intervm conformance run --role ROLE -- BINARY ARGS``: live conformance of any binary.

intervm creates the region and the doorbells, starts the binary with them (the handoff
is in docs/conformance-live.md), plays the other role with adversarial timing, and
prints one case per row; the exit status is 1 on any failed or undecided case.

>>> from click.testing import CliRunner
>>> r = CliRunner().invoke(run, ["--role", "consumer", "--", "/no/such/binary"])
>>> r.exit_code, r.output.strip()
(2, "Error: binary '/no/such/binary' does not exist; build it first (see docs/conformance-live.md)")
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from intervm.commands._common import FiniteFloat, OneLineErrors, OneLineUsageError
from intervm.commands._output import OutputError, check_output, write_output
from intervm.conformance.evidence import is_gate
from intervm.conformance.handoff import ROLES, HandoffError
from intervm.conformance.hostile import run_hostile
from intervm.conformance.live import Options, run_live
from intervm.conformance.report import Case, Outcome, Report, to_json, to_junit_xml, to_table


class _Run(OneLineErrors):
    usage_exit_code = 2


@click.command(cls=_Run, context_settings={"ignore_unknown_options": True})
@click.option("--role", type=click.Choice(ROLES), required=True,
              help="The role of the binary under test; intervm plays the peer.")
@click.option("--requests", type=click.IntRange(1), default=3000, show_default=True,
              help="Requests per run (producer/consumer roles).")
@click.option("--seconds", type=FiniteFloat(0.1, 3600), default=10.0, show_default=True,
              help="Bound on the adversarial phase of a run.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the adversary.")
@click.option("--capacity", type=int, default=8, show_default=True, help="Ring slots.")
@click.option("--watchdog", type=FiniteFloat(0.01, 60), default=0.3, show_default=True,
              help="Seconds the lost-wakeup bad state must hold to fail.")
@click.option("--timeout-ms", type=click.IntRange(50, 600_000), default=2000, show_default=True,
              help="Bound handed to the binary for its waits (INTERVM_TIMEOUT_MS).")
@click.option("--engine/--no-engine", default=True, show_default=True,
              help="Producer/consumer roles: also race the binary with the C peer engine "
                   "(built with cc on first use; catches missing fences).")
@click.option("--hostile", is_flag=True, help="Also run the hostile-peer suite.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the report as JSON.")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the report as JUnit XML.")
@click.argument("binary", nargs=-1, required=True, type=click.UNPROCESSED)
def run(role: str, requests: int, seconds: float, seed: int, capacity: int, watchdog: float,
        timeout_ms: int, engine: bool, hostile: bool, json_out: Path | None, junit: Path | None,
        binary: tuple[str, ...]) -> None:
    """Test BINARY (after --) in ROLE over a real shared region; intervm plays the peer."""
    try:
        opts = Options(role=role, requests=requests, seconds=seconds, seed=seed,
                       capacity=capacity, watchdog_s=watchdog, timeout_ms=timeout_ms,
                       engine=engine)
        for path, what in ((json_out, "--json"), (junit, "--junit")):
            if path is not None:
                check_output(path, what)
    except (ValueError, OutputError) as exc:
        raise OneLineUsageError(str(exc), 2) from None
    try:
        report = run_live(binary, opts)
        if hostile:
            silent = next((c for c in report.cases if is_gate(c)), None)
            extra = (run_hostile(binary, opts).cases if silent is None else (
                Case(f"{role}/hostile", Outcome.ERROR, 0.0,
                     f"not run: {silent.name} is an ERROR (the binary did not speak the "
                     "protocol), so no hostile case could judge it"),))
            report = Report(report.suite + " --hostile", report.cases + extra)
    except HandoffError as exc:
        raise OneLineUsageError(str(exc), 2) from None
    Console(width=160).print(to_table(report))
    try:
        if json_out is not None:
            write_output(json_out, to_json(report), "--json")
        if junit is not None:
            write_output(junit, to_junit_xml(report), "--junit")
    except OutputError as exc:
        raise OneLineUsageError(str(exc), 2) from None
    raise SystemExit(report.exit_code)
