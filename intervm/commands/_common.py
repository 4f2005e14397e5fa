"""What every subcommand shares: one-line usage errors, ``--param NAME=N`` parsing and
finite-number options."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import click


def one_line(text: str) -> str:
    """Collapse white space so a message stays on one line."""
    return " ".join(text.split())


class OneLineUsageError(click.ClickException):
    """A usage error printed as a single ``Error:`` line (no usage block)."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


class OneLineErrors(click.Command):
    """Report bad options as one ``Error:`` line (no usage block, no traceback)."""

    usage_exit_code: ClassVar[int] = 1

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            raise OneLineUsageError(one_line(exc.format_message()),
                                    self.usage_exit_code) from None


def parse_params(values: Sequence[str]) -> dict[str, int]:
    """``["capacity=4", …]`` → ``{"capacity": 4, …}``; raises ``click.BadParameter``."""
    out: dict[str, int] = {}
    for item in values:
        name, eq, val = item.partition("=")
        if not eq or not name.strip() or not val.strip().lstrip("-").isdigit():
            raise click.BadParameter(f"{item!r} is not NAME=INTEGER (e.g. capacity=3)",
                                     param_hint="--param")
        out[name.strip()] = int(val)
    return out


class FiniteFloat(click.FloatRange):
    """A float option that must be a finite number within ``min``..``max``: ``nan``,
    ``inf`` and out-of-range values are one-line usage errors.

    >>> FiniteFloat(min=0.1).convert("2.5", None, None)
    2.5
    >>> FiniteFloat(min=0.1).convert("nan", None, None)
    Traceback (most recent call last):
    ...
    click.exceptions.BadParameter: 'nan' is not a finite number; give a number such as 10
    """

    name = "float"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number; give a number such as 10",
                      param, ctx)
        return super().convert(number, param, ctx)
