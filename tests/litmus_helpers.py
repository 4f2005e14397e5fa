"""What the litmus-catalogue tests share: a verdict as its pinned short form, and
one variant's row of verdicts across memory models."""

from __future__ import annotations

from collections.abc import Sequence

from intervm.model.check import Checker
from intervm.model.verdict import Status, Verdict


def short(status: Status, depth: int | None) -> str:
    """``Rn`` (REACHED in n steps: allowed), ``U`` (UNREACHABLE: forbidden)."""
    match status:
        case Status.PROVED:
            return f"R{depth}"
        case Status.VIOLATED:
            return "U"
        case _:
            return status.name


def pinned_row(checker: Checker, variant: str, models: Sequence[str]
               ) -> tuple[str, list[Verdict]]:
    """``variant``'s ``exists`` verdicts under ``models``, each asserted to be as the
    variant declares: (their short forms joined by spaces, the verdicts)."""
    verdicts = []
    for mm in models:
        cell = checker.check(variant, mm, "exists")
        v = cell.verdict
        assert v is not None and cell.matches, (variant, mm, v)
        verdicts.append(v)
    return " ".join(short(v.status, v.depth) for v in verdicts), verdicts
