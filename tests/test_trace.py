"""The one trace form: JSON round trip, replay, and rejection of tampered traces."""

from __future__ import annotations

from dataclasses import replace

import pytest

from intervm.model.compile import compile_spec
from intervm.model.explicit import check, explore
from intervm.model.render import trace_text
from intervm.model.replay import replay
from intervm.model.trace import Trace, TraceStep
from intervm.spec.errors import TraceError
from intervm.spec.protocols import get_protocol

PROTO = get_protocol("coalescing")


@pytest.fixture(scope="module")
def cex() -> tuple[Trace, object]:
    system = compile_spec(PROTO.spec("no_consumer_fence"), {"capacity": 1, "requests": 1},
                          "tso")
    v = check(explore(system), "no_lost_wakeup")
    assert v.trace is not None and len(v.trace) == 12
    return v.trace, system


def test_json_round_trip_and_replay(cex: tuple[Trace, object]) -> None:
    trace, system = cex
    again = Trace.from_json(trace.to_json())
    assert again == trace
    assert replay(again, system) == 12  # type: ignore[arg-type]
    assert trace.path.startswith("P.idle->space/P.space/P.write")


def test_a_changed_state_is_reported_with_its_step(cex: tuple[Trace, object]) -> None:
    trace, system = cex
    steps = list(trace.steps)
    bad_state = dict(steps[4].state)
    bad_state["tail"] = 7
    steps[4] = TraceStep(steps[4].command, steps[4].process, bad_state)
    with pytest.raises(TraceError, match=r"step 5 \(.*\): the state differs: tail: trace has "
                                         r"7, the spec gives 0"):
        replay(replace(trace, steps=tuple(steps)), system)  # type: ignore[arg-type]


def test_a_disabled_step_is_reported(cex: tuple[Trace, object]) -> None:
    trace, system = cex
    steps = (TraceStep("C.block", "C", trace.steps[0].state), *trace.steps)
    with pytest.raises(TraceError, match=r"step 1: command 'C\.block' is not enabled"):
        replay(replace(trace, steps=steps), system)  # type: ignore[arg-type]


def test_unknown_command_and_malformed_json() -> None:
    with pytest.raises(TraceError, match="trace is not JSON"):
        Trace.from_json("{not json")
    with pytest.raises(TraceError, match="lacks format 'intervm-trace/1'"):
        Trace.from_json("{}")


def test_render_shows_buffers_and_the_stale_read(cex: tuple[Trace, object]) -> None:
    trace, system = cex
    text = trace_text(trace, system, width=180)  # type: ignore[arg-type]
    assert "C:[flag=1]" in text  # SLEEPING still in the consumer's store buffer …
    assert "recheck: t := load tail" in text  # … while it re-reads tail
