"""What every subcommand shares: one-line usage errors, ``--param NAME=N`` parsing,
finite-number options and the ``--max-memory`` option."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, ClassVar, TypeVar

import click

from intervm.commands._usage import USAGE_EXIT
from intervm.commands._usage import OneLineUsageError as OneLineUsageError
from intervm.commands._usage import one_line as one_line
from intervm.model.budget import MemoryBudget
from intervm.spec.errors import ParamError

F = TypeVar("F", bound=Callable[..., Any])
MAX_PARAM_DIGITS = 40  # a longer integer is a typo (and int() refuses 4300+ digits)


class OneLineErrors(click.Command):
    """Report bad options as one ``Error:`` line (no usage block, no traceback)."""

    usage_exit_code: ClassVar[int] = USAGE_EXIT

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
        if len(val.strip().lstrip("-")) > MAX_PARAM_DIGITS:
            raise click.BadParameter(f"{name.strip()}: {len(val.strip())} digits is far "
                                     "larger than any parameter can be; give a small "
                                     "integer (e.g. capacity=3)", param_hint="--param")
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


class MemorySize(click.ParamType[MemoryBudget]):
    """``4G``, ``512M``, ... → :class:`MemoryBudget` (a bad value is one usage line)."""

    name = "SIZE"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> MemoryBudget:
        if isinstance(value, MemoryBudget):
            return value
        try:
            return MemoryBudget.parse(str(value))
        except ParamError as e:
            self.fail(str(e), param, ctx)


FORCE_KEY = "intervm.force"


def _remember_force(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta[FORCE_KEY] = True


def max_memory_option(f: F) -> F:
    """``--max-memory SIZE`` (default: half the available memory), as ``max_memory``:
    a :class:`MemoryBudget`; and ``--force``, read by :func:`budget_of`."""
    f = click.option(
        "--force", is_flag=True, expose_value=False, callback=_remember_force,
        help="Go on where the instance is refused only on an estimate (its initial "
             "state estimated larger than --max-memory); the search still stops at "
             "the budget. Hard limits (a parameter's maximum) still apply.")(f)
    return click.option(
        "--max-memory", "max_memory", type=MemorySize(), default=None,
        help="Memory a search may add, e.g. 4G or 512M (K/M/G/T are powers of 1024; "
             "default: half the memory available at start). Past it the search stops "
             "with UNKNOWN.")(f)


def budget_of(value: MemoryBudget | None) -> MemoryBudget:
    """The ``--max-memory`` value, or the default budget; with ``--force`` given, one
    that lets an instance refused only on an estimate go on."""
    budget = value if value is not None else MemoryBudget.default()
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.find_root().meta.get(FORCE_KEY):
        budget = replace(budget, force=True)
    return budget
