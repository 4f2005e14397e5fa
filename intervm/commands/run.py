"""``intervm run``: producer, consumer and timer VMs over a real shared region.

>>> from click.testing import CliRunner
>>> out = CliRunner().invoke(run, ["-n", "300", "--window", "16", "--capacity", "16"])
>>> out.exit_code, "doorbells/request" in out.output
(0, True)
>>> bad = CliRunner().invoke(run, ["-n", "0"])
>>> bad.exit_code, bad.output.strip()
(1, 'Error: requests 0 must be at least 1')
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from intervm.commands._common import OneLineErrors, one_line
from intervm.commands._output import OutputError, check_output, output_file
from intervm.impl.coalescing import Variant
from intervm.impl.errors import PeerTimeout, ProtocolViolation
from intervm.impl.experiment import RunConfig, RunResult
from intervm.impl.experiment import run as run_experiment
from intervm.impl.host import VmFailed
from intervm.impl.profiler import Percentiles
from intervm.impl.region_file import Existing

MAX_REQUESTS = 2**32 - 1
"""The most requests one run can count: the consumer's shared ``head`` index is a u32."""


def _row(name: str, p: Percentiles) -> list[str]:
    return [name, *(f"{v:,.0f}" for v in (p.p50_us, p.p90_us, p.p99_us, p.p999_us, p.max_us))]


def _render(console: Console, res: RunResult, cfg: RunConfig) -> None:
    mode = "doorbell per request" if cfg.variant.always_notify else "coalescing"
    console.print(
        f"[bold]{res.requests:,}[/] requests ({mode}, window {cfg.window}) in "
        f"{res.elapsed_s:.3f} s: [bold]{res.throughput:,.0f}[/] requests/s"
    )
    console.print(
        f"doorbells/request: [bold]{res.doorbells_per_request:.4f}[/] "
        f"({res.irq_doorbells:,} irq, {res.done_doorbells:,} done, "
        f"consumer slept {res.consumer_sleeps:,} times, "
        f"{res.timeout_finds} work found only after a wait timed out)"
    )
    if res.latency is None:
        return
    lat = res.latency
    table = Table(title=f"latency from the shared timer (µs; 1 tick = {lat.tick_ns / 1000:g} µs)")
    for col in ("", "p50", "p90", "p99", "p99.9", "max"):
        table.add_column(col, justify="right")
    table.add_row(*_row("queueing (submit→start)", lat.queueing))
    table.add_row(*_row("service (start→done)", lat.service))
    table.add_row(*_row("total (submit→done)", lat.total))
    console.print(table)


def _plot(res: RunResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tick_us = (res.latency.tick_ns if res.latency else 0) / 1000
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, values in (
        ("queueing", [(s.start - s.submit) * tick_us for s in res.stamps]),
        ("total", [(s.done - s.submit) * tick_us for s in res.stamps]),
    ):
        ax.hist(values, bins=50, alpha=0.6, label=label)
    ax.set_xlabel("latency (µs, shared-timer ticks)")
    ax.set_ylabel("requests")
    ax.set_title(f"{res.requests:,} requests, {res.throughput:,.0f}/s")
    ax.legend()
    fig.tight_layout()
    try:
        with output_file(path, "--plot") as f:
            fig.savefig(f, format="png")
    finally:
        plt.close(fig)


@click.command(cls=OneLineErrors)
@click.option("-n", "--requests", default=10_000, show_default=True, help="Requests to push.")
@click.option("--window", default=256, show_default=True, help="Max outstanding requests.")
@click.option("--capacity", default=256, show_default=True, help="Ring slots (power of two).")
@click.option("--no-coalescing", is_flag=True, help="Baseline: one doorbell per request.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), help="Histogram PNG.")
@click.option("--region", type=click.Path(path_type=Path),
              help="Region file (kept). An existing path is reused only if it is an idle "
                   "intervm region; links are never followed.")
@click.option("--force", is_flag=True,
              help="Let --region replace an existing regular file that is not a region.")
@click.option("--tick-us", default=100, show_default=True, help="Shared timer period (µs).")
@click.option("--idle-polls", default=200, show_default=True, help="Consumer polls before sleep.")
def run(
    requests: int,
    window: int,
    capacity: int,
    no_coalescing: bool,
    plot: Path | None,
    region: Path | None,
    force: bool,
    tick_us: int,
    idle_polls: int,
) -> None:
    """Start the producer, consumer and timer VMs and push N requests."""
    cfg = RunConfig(
        requests=requests,
        window=window,
        capacity=capacity,
        variant=Variant(always_notify=no_coalescing),
        tick_us=tick_us,
        region=region,
        idle_polls=idle_polls,
        region_existing=Existing.FORCE if force else Existing.REUSE,
    )
    try:
        cfg.check()
        if requests > MAX_REQUESTS:
            raise ValueError(
                f"requests {requests} is above the maximum {MAX_REQUESTS}: the shared 'head' "
                "counter is a u32; push at most 2**32 - 1 requests per run")
        if idle_polls < 0:
            raise ValueError(f"idle polls {idle_polls} must be >= 0")
        if plot is not None and plot.suffix.lower() != ".png":
            raise ValueError(f"--plot {plot}: the file name must end in .png")
        if force and region is None:
            raise ValueError("--force only applies to --region PATH; give the region path")
        if region is not None and not region.parent.is_dir():
            what = ("is not a directory; choose a path inside one" if region.parent.exists() else
                    "does not exist; create it or choose another path")
            raise ValueError(f"--region {region}: directory {region.parent} {what}")
        if plot is not None:
            check_output(plot, "--plot")
    except (ValueError, OutputError) as exc:
        raise click.ClickException(str(exc)) from None
    console = Console()
    columns = (TextColumn("requests"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task("push", total=requests)
            res = run_experiment(cfg, lambda done: progress.update(task, completed=done))
    except (VmFailed, PeerTimeout, ProtocolViolation, OSError) as exc:
        raise click.ClickException(one_line(str(exc))) from None
    _render(console, res, cfg)
    if plot is not None:
        try:
            _plot(res, plot)
        except OutputError as exc:
            raise click.ClickException(str(exc)) from None
        console.print(f"latency histogram written to {plot}")
