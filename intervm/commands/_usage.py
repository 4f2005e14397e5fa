"""One-line usage errors for the whole CLI: a click group whose unknown, missing or
mistyped subcommands (and bad group options) are one ``Error:`` line naming what was
wrong and what to do, exit status 2, instead of click's multi-line usage block.
``--help`` is untouched.

>>> import click
>>> from click.testing import CliRunner
>>> @click.group(cls=OneLineGroup)
... def tool() -> None: ...
>>> @tool.command()
... def go() -> None: ...
>>> r = CliRunner().invoke(tool, ["nosuch"])
>>> r.exit_code, r.output
(2, "Error: tool: no command 'nosuch'; choose one of go (tool --help)\\n")
>>> r = CliRunner().invoke(tool, [])
>>> r.exit_code, r.output
(2, 'Error: tool: missing command; choose one of go (tool --help)\\n')

(This module imports nothing but click, so ``intervm image list`` stays fast.)
"""

from __future__ import annotations

from typing import Any

import click

USAGE_EXIT = 2
"""The exit status of every usage error (README, "Exit status and signals")."""


def one_line(text: str) -> str:
    """Collapse white space so a message stays on one line."""
    return " ".join(text.split())


class OneLineUsageError(click.ClickException):
    """A usage error printed as a single ``Error:`` line (no usage block)."""

    def __init__(self, message: str, exit_code: int = USAGE_EXIT):
        super().__init__(message)
        self.exit_code = exit_code


def command_path(ctx: click.Context | None) -> str:
    """``intervm conformance`` for the context of ``conformance`` (the root is always
    called by its installed name, whatever ``argv[0]`` was)."""
    names: list[str] = []
    while ctx is not None:
        if ctx.parent is None:
            names.append("intervm" if ctx.command.name == "main" else
                         ctx.command.name or ctx.info_name or "intervm")
        else:
            names.append(ctx.info_name or ctx.command.name or "?")
        ctx = ctx.parent
    return " ".join(reversed(names))


def _choices(group: click.Group, ctx: click.Context) -> str:
    return ", ".join(sorted(group.list_commands(ctx)))


class OneLineGroup(click.Group):
    """A click group whose usage errors are one line (see the module docstring)."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:
            ctx = exc.ctx
            assert ctx is not None
            path = command_path(ctx)
            raise OneLineUsageError(f"{path}: missing command; choose one of "
                                    f"{_choices(self, ctx)} ({path} --help)") from None
        except click.UsageError as exc:
            raise _one_line(exc) from None

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            path = command_path(ctx)
            raise OneLineUsageError(f"{path}: no command {name!r}; choose one of "
                                    f"{_choices(self, ctx)} ({path} --help)")
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            raise _one_line(exc) from None


def _one_line(exc: click.UsageError) -> OneLineUsageError:
    path = command_path(exc.ctx)
    return OneLineUsageError(f"{path}: {one_line(exc.format_message())} ({path} --help)")
