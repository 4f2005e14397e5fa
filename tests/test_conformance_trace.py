"""Offline trace validation: format errors, recorded runs, broken runs, TSO-only
behaviour, the check-trace command and its reports (issue 5, part 3)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from intervm.commands.conformance_trace import check_trace
from intervm.conformance.events import Event, event_to_json, parse_line, read_events
from intervm.conformance.record import record_coalescing, record_timer
from intervm.conformance.report import from_json
from intervm.conformance.tracecheck import check_lines
from intervm.impl import coalescing as co
from intervm.spec.errors import TraceError


def _write(tmp: Path, name: str, lines: list[str]) -> Path:
    p = tmp / name
    p.write_text("\n".join(lines) + "\n")
    return p


# ---------------------------------------------------------------- format


@pytest.mark.parametrize(("text", "message"), [
    ('{"process": "consumer", "op": "load", "field": "tail"',
     "t.jsonl:3: not JSON (Expecting ',' delimiter at column 54)"),
    ('{"process": "consumer", "op": "lod", "field": "tail", "value": 1}',
     "t.jsonl:3: op 'lod' is not one of load, store, rmw, fence, notify, wait"),
    ('{"process": "consumer", "op": "load", "field": "tail"}',
     "t.jsonl:3: a load event needs an integer 'value'; add it"),
    ('{"process": "consumer", "op": "load", "field": "tail", "value": -1}',
     "t.jsonl:3: 'value' is -1, but recorded words are unsigned"),
    ('{"process": "consumer", "op": "wait", "field": "irq", "value": 2}',
     "t.jsonl:3: a wait's 'value' is 1 (woken) or 0 (timed out), not 2"),
    ('{"op": "fence"}', "t.jsonl:3: 'process' (the role that made the access) is missing"),
    ('{"process": "p", "op": "fence", "colour": 1}', "t.jsonl:3: unknown key 'colour'"),
    ('[1, 2]', "t.jsonl:3: an event is a JSON object, not list"),
])
def test_malformed_line_names_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    ok = '{"process": "consumer", "op": "load", "field": "tail", "value": 0}'
    p = _write(tmp_path, "t.jsonl", ["# comment", ok, text, ok])
    with pytest.raises(TraceError) as exc:
        list(read_events(p))
    assert str(exc.value).startswith(f"{tmp_path}/" + message)


def test_event_round_trip_and_header_skipped() -> None:
    e = Event(2, "producer", "rmw", "reserve", None, 5, 4, None, 77)
    assert parse_line(event_to_json(e), 2) == e
    lines = ['{"format": "intervm-trace/1", "protocol": "coalescing"}', event_to_json(e)]
    assert [x.line for x in read_events(lines)] == [2]


# ---------------------------------------------------------------- recorded runs


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("mm", ["sc", "tso", "pso"])
def test_recorded_correct_run_validates(seed: int, mm: str) -> None:
    lines = record_coalescing(requests=12, capacity=2, seed=seed)
    res = check_lines(lines, None, "correct", mm)
    assert res.divergence is None, res.divergence.text() if res.divergence else ""
    assert res.events == len(lines) - 1 > 100


def test_recording_is_reproducible_from_the_seed() -> None:
    assert record_coalescing(5, 2, seed=7) == record_coalescing(5, 2, seed=7)
    assert record_coalescing(5, 2, seed=7) != record_coalescing(5, 2, seed=8)


def test_recorded_timer_run_validates() -> None:
    lines = record_timer(publishes=6, reads=6, seed=3)
    for mm in ("sc", "tso"):
        res = check_lines(lines, None, "seqlock", mm)
        assert res.divergence is None, res.divergence.text() if res.divergence else ""


@pytest.mark.parametrize(("variant", "line", "why"), [
    (co.Variant(recheck=False), 20,
     "C's next spec step is 'recheck: t := load tail; if (t - h) == 0 goto block', but "
     "the trace shows consumer: wait irq (woken)"),
    (co.Variant(consumer_fence=False), 17,
     "C's next spec step is 'cfence: full fence (mfence)', but the trace shows consumer: "
     "store flag := 0"),
    (co.Variant(producer_fence=co.ProducerFence.NONE), 13,
     "P's next spec step is 'pfence: full fence (mfence)', but the trace shows producer: "
     "load flag = 0"),
    # an extra store fence is allowed (it only orders stores); the flag load is not
    (co.Variant(producer_fence=co.ProducerFence.STORE), 16,
     "P's next spec step is 'pfence: full fence (mfence)', but the trace shows producer: "
     "load flag = 1"),
])
def test_broken_run_rejected_at_pinned_event(variant: co.Variant, line: int, why: str) -> None:
    lines = record_coalescing(requests=10, capacity=2, seed=1, variant=variant)
    res = check_lines(lines, None, "correct", "sc")
    assert res.divergence is not None
    assert res.divergence.event.line == line
    assert res.divergence.reasons[0] == why
    assert len(res.divergence.previous) == 6
    assert res.divergence.previous[-1].line < line


def test_hand_edited_payload_rejected() -> None:
    lines = record_coalescing(requests=4, capacity=2, seed=0)
    i = next(k for k, t in enumerate(lines) if '"consumer","op":"load","field":"slot_id"' in t)
    d = json.loads(lines[i])
    d["value"] = 9
    lines[i] = json.dumps(d)
    res = check_lines(lines, None, "correct", "sc")
    assert res.divergence is not None and res.divergence.event.line == i + 1
    assert res.divergence.reasons[0] == (
        "C's step 'read: d := load slots[h]' matches the access, but it would read "
        "slot_id = 1 here")


# ---------------------------------------------------------------- TSO-only behaviour

SB = [  # store buffering: each side's store is still buffered when the other loads
    '{"process":"consumer","op":"load","field":"tail","value":0}',
    '{"process":"consumer","op":"store","field":"flag","value":1}',
    '{"process":"producer","op":"store","field":"slot_id","index":0,"value":1}',
    '{"process":"producer","op":"store","field":"tail","value":1}',
    '{"process":"consumer","op":"load","field":"tail","value":0}',
    '{"process":"producer","op":"fence","fence":"full"}',
    '{"process":"producer","op":"load","field":"flag","value":0}',
]


def test_stale_load_allowed_only_with_store_buffers() -> None:
    params = {"capacity": 2}
    tso = check_lines(SB, "coalescing", "no_consumer_fence", "tso", params)
    assert tso.divergence is None
    sc = check_lines(SB, "coalescing", "no_consumer_fence", "sc", params)
    assert sc.divergence is not None and sc.divergence.event.line == 5
    assert "it would read tail = 1 here" in sc.divergence.reasons[0]
    # under the correct spec the stale load passes as an extra poll of tail (the
    # binding allows those) while C still owes its fence: a consistent prefix
    assert check_lines(SB, "coalescing", "correct", "tso", params).divergence is None
    owed = [*SB, '{"process":"consumer","op":"wait","field":"irq","value":1}']
    fenced = check_lines(owed, "coalescing", "correct", "tso", params)
    assert fenced.divergence is not None and fenced.divergence.event.line == 8
    assert fenced.divergence.reasons[0].startswith("C's next spec step is 'cfence")


# ---------------------------------------------------------------- the command


def test_cli_pass_fail_and_reports(tmp_path: Path) -> None:
    good = _write(tmp_path, "good.jsonl", record_coalescing(6, 2, seed=0))
    r = CliRunner().invoke(check_trace, [str(good), "--memory-model", "tso"])
    assert r.exit_code == 0, r.output
    assert "1 passed, 0 failed" in r.output
    bad = _write(tmp_path, "bad.jsonl",
                 record_coalescing(10, 2, seed=1, variant=co.Variant(recheck=False)))
    js, ju = tmp_path / "r.json", tmp_path / "r.xml"
    r = CliRunner().invoke(check_trace, [str(bad), "--protocol", "coalescing",
                                         "--variant", "correct", "--json", str(js),
                                         "--junit", str(ju)])
    assert r.exit_code == 1
    assert "first event no spec behaviour allows: line 20: consumer: wait irq" in r.output
    assert "line 19: producer: store slot_stamp[1] := 0" in r.output
    rep = from_json(js.read_text())
    assert [c.outcome.value for c in rep.cases] == ["fail"]
    assert rep.cases[0].detail.startswith("line 20 (consumer: wait irq (woken)): C's next")
    suite = ET.fromstring(ju.read_text())
    assert suite.get("failures") == "1" and suite.find("testcase/failure") is not None


@pytest.mark.parametrize(("args", "message"), [
    (["--memory-model", "power"], "Error: Invalid value for '--memory-model'"),
    (["--param", "capacity"], "Error: Invalid value for --param: 'capacity' is not NAME="),
    (["--variant", "nope"], "Error: protocol 'coalescing' has no variant 'nope'; its variants are: correct,"),
    (["--param", "colour=3"], "Error: parameter 'colour' is not declared by protocol"),
])
def test_cli_usage_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    good = _write(tmp_path, "good.jsonl", record_coalescing(2, 2, seed=0))
    r = CliRunner().invoke(check_trace, [str(good), *args])
    assert r.exit_code == 2
    assert r.output.startswith(message) and len(r.output.strip().splitlines()) == 1


def test_cli_malformed_trace_and_unbound_names(tmp_path: Path) -> None:
    lines = record_coalescing(2, 2, seed=0)
    lines.insert(4, '{"process": "consumer", "op": "load"}')
    p = _write(tmp_path, "m.jsonl", lines)
    r = CliRunner().invoke(check_trace, [str(p)])
    assert (r.exit_code, r.output.strip()) == (
        2, f"Error: {p}:5: a load event needs 'field' (a layout field or doorbell name)")
    lines[4] = '{"process": "intruder", "op": "fence"}'
    p = _write(tmp_path, "m.jsonl", lines)
    r = CliRunner().invoke(check_trace, [str(p)])
    assert r.exit_code == 2 and f"{p}:5: process 'intruder' is not a role" in r.output
    lines[4] = '{"process": "consumer", "op": "load", "field": "colour", "value": 1}'
    p = _write(tmp_path, "m.jsonl", lines)
    r = CliRunner().invoke(check_trace, [str(p)])
    assert r.exit_code == 2 and f"{p}:5: field 'colour' is not part of the coalescing" in r.output


def test_kick_skip_optimisation_is_outside_the_spec() -> None:
    # the default implementation skips a kick while the last one is undrained; when the
    # consumer has already taken the doorbell, no spec run skips it
    lines = record_coalescing(40, 2, seed=14, variant=co.Variant())
    res = check_lines(lines, None, "correct", "sc")
    assert res.divergence is not None and res.divergence.event.line == 38
    assert res.divergence.reasons[0] == (
        "P's next spec step is 'kick: notify irq', but the trace shows producer: store "
        "slot_id[0] := 3")
