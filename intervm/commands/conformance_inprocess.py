"""``intervm conformance inprocess``: test a Python implementation deterministically.

>>> from click.testing import CliRunner
>>> r = CliRunner().invoke(inprocess, ["nosuchmodule:impl"])
>>> r.exit_code, r.output.strip()[:58]
(2, "Error: cannot import module 'nosuchmodule' (from nosuchmod")
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import click
from rich.console import Console

from intervm.commands._common import (
    OneLineErrors,
    OneLineUsageError,
    budget_of,
    max_memory_option,
)
from intervm.commands._output import OutputError, check_output, write_output
from intervm.conformance import report as rp
from intervm.conformance.broken import BROKEN
from intervm.conformance.implementation import (
    REFERENCE_COALESCING,
    REFERENCE_TIMER,
    Implementation,
    oracle_for,
)
from intervm.conformance.inprocess import (
    DEFAULT_EXAMPLES,
    Result,
    replay,
    schedule_text,
    test,
)
from intervm.conformance.sched import TargetAborted, TesterError
from intervm.model import memory
from intervm.model.budget import BudgetExceeded, MemoryBudget
from intervm.model.trace import Trace
from intervm.spec.errors import IntervmError, TraceError, ended_by
from intervm.spec.protocols import get_protocol
from intervm.spec.textfile import read_text

CATCH_EXAMPLES = 3000  # runs a --builtin broken case may take to be caught


def _usage(message: str) -> OneLineUsageError:
    return OneLineUsageError(" ".join(message.split()), 2)


def load_impl(target: str) -> Implementation:
    """``MODULE:OBJECT`` → an :class:`Implementation` (or a no-argument factory of one)."""
    mod_name, colon, attr = target.partition(":")
    if not colon or not mod_name or not attr:
        raise _usage(f"{target!r} is not MODULE:OBJECT (e.g. mypkg.ring:IMPL)")
    sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(mod_name)
    except Exception as e:
        raise _usage(f"cannot import module {mod_name!r} (from {target}): "
                               f"{type(e).__name__}: {e}; is it on PYTHONPATH?") from None
    except BaseException as e:  # sys.exit(0) would end the tester with status 0, silently
        raise TargetAborted(f"module {mod_name!r} {ended_by(e)} while being imported: a "
                            "target module must only define the implementation (put the "
                            "rest under if __name__ == '__main__':)") from None
    finally:
        sys.path.pop(0)
    obj = getattr(module, attr, None)
    if obj is None:
        raise _usage(f"module {mod_name!r} has no attribute {attr!r}")
    if not isinstance(obj, Implementation) and callable(obj):
        try:
            obj = obj()
        except Exception as e:
            raise _usage(f"{target}() raised {type(e).__name__}: {e}") from None
        except BaseException as e:
            raise TargetAborted(f"{target}() {ended_by(e)} while building the implementation: "
                                "it must return an Implementation") from None
    if not isinstance(obj, Implementation):
        raise _usage(
            f"{target} is a {type(obj).__name__}, not an intervm.conformance.implementation."
            "Implementation (or a no-argument function returning one); see "
            "docs/conformance-inprocess.md")
    get_protocol(obj.protocol)  # ParamError names the built-in protocols
    return obj


def _declared(impl: Implementation, mm: str) -> bool:
    """Whether ``impl``'s variant declares a property the oracle checks violated under ``mm``."""
    if impl.variant in ("", "correct", "seqlock", "single_word"):
        return False
    v = get_protocol(impl.protocol).variant(impl.variant)
    props = oracle_for(impl).properties
    return any(mm in v.violated.get(p, frozenset()) for p in props)


def _aborted(name: str, what: str, secs: float) -> rp.Case:
    """The ERROR case of a target that tried to end the tester (no verdict)."""
    return rp.Case(name, rp.Outcome.ERROR, secs, f"{what}; no verdict")


def _case(res: Result, expect_fail: bool, replay_hint: str) -> rp.Case:
    name = f"{res.impl}/{res.memory_model}"
    f = res.finding
    if f is None:
        detail = (f"no failure in {res.examples} runs ({res.steps} steps)"
                  + ("; expected the bug to be caught" if expect_fail else ""))
        outcome = rp.Outcome.FAIL if expect_fail else rp.Outcome.PASS
        return rp.Case(name, outcome, res.seconds, detail)
    detail = (f"{'caught' if expect_fail else 'FAILED'} {f.prop} in {len(f.schedule)} steps "
              f"(first after {res.first_failure_s or 0:.2f}s): {f.detail}")
    outcome = rp.Outcome.PASS if expect_fail else rp.Outcome.FAIL
    return rp.Case(name, outcome, res.seconds, detail, f.trace, replay_hint)


@click.command(cls=OneLineErrors)
@click.argument("target", required=False)
@click.option("--builtin", is_flag=True,
              help="Run the built-in suite: our reference code (must pass) and every "
                   "deliberately broken implementation (must be caught, within "
                   f"max(--max-examples, {CATCH_EXAMPLES}) runs).")
@click.option("--memory-model", "-m", "models", multiple=True,
              type=click.Choice(memory.names()), help="Memory model(s) (default: sc and tso).")
@click.option("--max-examples", type=click.IntRange(1, 1_000_000), default=DEFAULT_EXAMPLES,
              show_default=True, help="Schedules (runs) Hypothesis tries per case.")
@click.option("--seed", type=int, default=None, help="Random seed (default: derandomized).")
@click.option("--no-refine", is_flag=True,
              help="Check only the properties, not every access against the spec.")
@click.option("--save", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the shrunk failing schedule (one trace form, JSON) here.")
@click.option("--replay", "replay_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Re-run exactly the schedule saved in this file.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the report as JSON.")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the report as JUnit XML.")
@max_memory_option
def inprocess(target: str | None, builtin: bool, models: Sequence[str], max_examples: int,
              seed: int | None, no_refine: bool, save: Path | None, replay_file: Path | None,
              json_out: Path | None, junit: Path | None,
              max_memory: MemoryBudget | None) -> None:
    """Test TARGET (MODULE:OBJECT, an Implementation) under Hypothesis-chosen schedules.

    Exit status 1 on any failure (or, with --builtin, on any unexpected outcome).
    """
    console = Console()
    max_memory = budget_of(max_memory)
    if builtin == (target is not None):
        raise _usage("give either MODULE:OBJECT or --builtin (not both, not neither)")
    try:
        for path, what in ((save, "--save"), (json_out, "--json"), (junit, "--junit")):
            if path is not None:
                check_output(path, what)
    except OutputError as e:
        raise click.ClickException(str(e)) from None
    try:
        if replay_file is not None:
            assert target is not None or builtin
            if target is None:
                raise _usage("--replay needs the MODULE:OBJECT that recorded it")
            _replay(console, load_impl(target), replay_file, not no_refine, max_memory)
            return
        mms = tuple(models) or ("sc", "tso")
        cases: list[rp.Case] = []
        first_trace: tuple[Trace, Implementation] | None = None
        if builtin:
            # our coalescing code relies on release stores, which PSO's plain stores are
            # not: under PSO it is the broken no_publish_fence case, not a reference
            plan = [(impl, mm, False) for impl in (REFERENCE_COALESCING, REFERENCE_TIMER)
                    for mm in mms if not (impl is REFERENCE_COALESCING
                                          and memory.get(mm).reorders_stores)]
            plan += [(b, mm, True) for b in BROKEN for mm in mms if _declared(b, mm)]
        else:
            assert target is not None
            try:
                impl = load_impl(target)
                plan = [(impl, mm, False) for mm in mms]
            except TargetAborted as e:
                cases.append(_aborted(target, str(e), 0.0))
                plan = []
        for impl, mm, expect in plan:
            # a broken case stops at its first failure: its larger budget only bounds
            # the search for the rare schedules (an ABA needs a read spanning 2 publishes)
            budget = max(max_examples, CATCH_EXAMPLES) if expect else max_examples
            t0 = time.monotonic()
            try:
                with console.status(f"{impl.name} under {mm.upper()}"):
                    res = test(impl, mm, max_examples=budget, seed=seed, refine=not no_refine,
                               memory=max_memory)
            except BudgetExceeded as e:  # the spec states outgrew --max-memory: no verdict
                cases.append(_aborted(f"{impl.name}/{mm}", f"UNKNOWN: {e}",
                                      time.monotonic() - t0))
                continue
            except TargetAborted as e:
                cases.append(_aborted(f"{impl.name}/{mm}", f"{target or impl.name}: {e}",
                                      time.monotonic() - t0))
                continue
            hint = f"--replay {save}" if save is not None else ""
            case = _case(res, expect, hint)
            cases.append(case)
            if res.finding is not None and not expect and first_trace is None:
                first_trace = (res.finding.trace, impl)
        report = rp.Report("intervm conformance inprocess", tuple(cases))
        console.print(rp.to_table(report))
        if first_trace is not None:
            trace, impl = first_trace
            console.print(schedule_text(trace, list(impl.roles(impl.instance_params()))))
            if save is not None:
                write_output(save, trace.to_json(), "--save")
                console.print(f"schedule saved to {save}; re-run it with --replay {save}")
        if json_out is not None:
            write_output(json_out, rp.to_json(report), "--json")
        if junit is not None:
            write_output(junit, rp.to_junit_xml(report), "--junit")
        raise SystemExit(report.exit_code)
    except (IntervmError, TesterError, OSError) as e:
        raise click.ClickException(" ".join(str(e).split())) from None


def _replay(console: Console, impl: Implementation, path: Path, refine: bool,
            memory: MemoryBudget | None = None) -> None:
    trace = Trace.from_json(read_text(path, "replay file", TraceError))
    v = replay(impl, trace, refine, memory)
    console.print(schedule_text(trace, list(impl.roles(impl.instance_params()))))
    if v is None:
        console.print(f"replayed {len(trace)} steps: no property failed (the recorded "
                      f"failure was {trace.prop}); the implementation changed?")
        raise SystemExit(1 if trace.prop else 0)
    console.print(f"reproduced: {v.prop}: {v.detail}")
    raise SystemExit(1)
