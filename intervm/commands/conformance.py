"""``intervm conformance``: test an implementation against the spec, three ways.

- ``intervm conformance inprocess``: a Python implementation, run deterministically
  under a Hypothesis-chosen schedule (optionally emulated TSO), every access checked
  against the spec.
- ``intervm conformance run --role ROLE -- BINARY ARGS``: any program, live over a real
  shared region; intervm plays the peer role.
- ``intervm conformance check-trace FILE``: validate a recorded JSON-lines trace.

All three print one verdict format (:mod:`intervm.conformance.report`).

>>> from click.testing import CliRunner
>>> r = CliRunner().invoke(conformance, ["--help"])
>>> r.exit_code
0
"""

from __future__ import annotations

from typing import ClassVar

import click

from intervm.cli import LazyGroup

SUBCOMMANDS = {
    "inprocess": ("intervm.commands.conformance_inprocess", "inprocess"),
    "run": ("intervm.commands.conformance_run", "run"),
    "check-trace": ("intervm.commands.conformance_trace", "check_trace"),
}


class _Conformance(LazyGroup):
    lazy: ClassVar[dict[str, tuple[str, str]]] = SUBCOMMANDS


@click.group(cls=_Conformance)
def conformance() -> None:
    """Test an implementation against the spec (in-process, live, or from a trace)."""
