"""Command-line entry point: ``intervm``.

Each subcommand group lives in its own module; this one only wires them together.
"""

from __future__ import annotations

import click

from intervm.commands.image import image
from intervm.commands.run import run


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="intervm")
def main() -> None:
    """Specify, verify and conformance-test inter-VM shared-memory protocols."""


main.add_command(run)
main.add_command(image)
