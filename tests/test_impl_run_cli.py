"""``intervm run`` end to end through click: output, baseline, plot, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from intervm.cli import main


def test_run_prints_throughput_doorbells_and_latency(tmp_path: Path) -> None:
    region = tmp_path / "region"
    plot = tmp_path / "lat.png"
    out = CliRunner().invoke(
        main, ["run", "-n", "3000", "--region", str(region), "--plot", str(plot)]
    )
    assert out.exit_code == 0, out.output
    assert "3,000 requests (coalescing, window 256)" in out.output
    assert "requests/s" in out.output and "doorbells/request" in out.output
    assert "queueing (submit→start)" in out.output and "p99.9" in out.output
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert region.exists()  # a region the user named is left in place


def test_no_coalescing_rings_once_per_request() -> None:
    out = CliRunner().invoke(main, ["run", "-n", "500", "--window", "1", "--no-coalescing"])
    assert out.exit_code == 0, out.output
    assert "doorbells/request: 1.0000 (500 irq" in out.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-n", "0"], "Error: requests 0 must be at least 1"),
        (["--capacity", "100"], "Error: capacity 100 is not a power of two"),
        (["--window", "512"], "Error: window 512 must be in 1..capacity (256)"),
        (["--plot", "x.jpg"], "Error: --plot x.jpg: the file name must end in .png"),
        (["--region", "/nonexistent/dir/r"], "Error: --region /nonexistent/dir/r: directory"),
        (["-n", "many"], "Error: Invalid value for '-n' / '--requests'"),  # usage: 2
        (["--tick-us", "1"], "Error: timer tick 1 µs must be in 10..1000000"),
    ],
)
def test_bad_input_is_one_line_and_non_zero(args: list[str], message: str) -> None:
    out = CliRunner().invoke(main, ["run", *args])
    assert out.exit_code == (2 if "Invalid value" in message else 1)
    assert out.output.strip().startswith(message)
    assert len(out.output.strip().splitlines()) == 1 and "Traceback" not in out.output
