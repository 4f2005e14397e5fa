"""Command-line entry point: ``intervm``.

Each subcommand lives in its own module under :mod:`intervm.commands`; this one only
names them. Modules are imported when their command runs, so ``intervm image list``
does not pay for importing Z3. Every command runs under
:func:`intervm.commands._signals.converted`: SIGTERM, SIGHUP and SIGINT clean up and
exit with 128 + the signal number. Usage errors of the groups (an unknown or missing
subcommand) are one line, exit status 2 (:class:`intervm.commands._usage.OneLineGroup`).
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import ClassVar

import click

from intervm.commands._signals import Interrupted, converted
from intervm.commands._usage import OneLineGroup

COMMANDS = {
    "verify": ("intervm.commands.verify", "verify"),
    "export": ("intervm.commands.export", "export"),
    "run": ("intervm.commands.run", "run"),
    "image": ("intervm.commands.image", "image"),
    "conformance": ("intervm.commands.conformance", "conformance"),
    "explain": ("intervm.commands.explain", "explain"),
    "play": ("intervm.commands.play", "play"),
    "report": ("intervm.commands.report", "report"),
    "graph": ("intervm.commands.graph", "graph"),
    "diagram": ("intervm.commands.diagram", "diagram"),
}


class LazyGroup(OneLineGroup):
    """A click group whose subcommands (``lazy``: name → (module, attribute)) are
    imported on first use."""

    lazy: ClassVar[dict[str, tuple[str, str]]] = COMMANDS

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in self.lazy if self._available(name)]

    def _available(self, name: str) -> bool:
        return importlib.util.find_spec(self.lazy[name][0]) is not None

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.lazy or not self._available(cmd_name):
            return None
        module, attr = self.lazy[cmd_name]
        cmd = getattr(importlib.import_module(module), attr)
        assert isinstance(cmd, click.Command)
        return cmd

    def invoke(self, ctx: click.Context) -> object:
        with converted():
            try:
                return super().invoke(ctx)
            except Interrupted as exc:
                click.echo(exc.message(), err=True)
                ctx.exit(exc.exit_status)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="intervm")
def main() -> None:
    """Specify, verify and conformance-test inter-VM shared-memory protocols."""


if __name__ == "__main__":
    main()
