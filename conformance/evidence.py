"""No PASS without evidence: the least protocol activity a live run must observe.

A binary that exits at once, sleeps, or prints one line breaks no rule, so every check
of :mod:`intervm.conformance.live` would pass it. Each role therefore declares a
minimum of observed activity (:func:`consumer`, :func:`producer`, :func:`timer_reader`,
:func:`timer_writer`, derived from the run's parameters); :func:`gate` turns a run
below it into one ERROR case that says what was required and what was seen. Only a
violation the binary was caught in (a *finding*: a lost wakeup, a torn tick it
accepted, a duplicated id, a malformed line) is kept next to it, as FAIL.

>>> ev = timer_reader(reads=50_000, ticks=1, publishes=1, left_early=False)
>>> ev.met, ev.silent, ev.required(), ev.seen()
(False, False, '≥ 20 accepted ticks over ≥ 3 distinct publishes', '1 over 1')
>>> [(c.name, c.detail) for c in gate(consumer(requests=3, consumed=3), [], set(), "", "", "", 1)]
[('consumer/activity', 'required ≥ 3 consumed ids, saw 3')]
>>> case = gate(ev, [], set(), "exited with status 0", "", "", 0.5)[0]
>>> case.name, case.outcome.value
('timer-reader/activity', 'error')
>>> print(case.detail)
the binary spoke too little of the protocol to judge it: required ≥ 20 accepted ticks over ≥ 3 distinct publishes, saw 1 over 1 in 0.50 s; it exited with status 0; stderr: (none)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from intervm.conformance.report import Case, Outcome

MIN_EVENTS = 20  # consumed ids, published requests, accepted ticks: the least evidence
MIN_SPAN = 3  # distinct publishes a timer reader's accepted ticks must span
SPAN_READS = 10_000  # reads from which a reader outlives several publishes (pipe back-pressure)
SEEN_FRACTION = 10  # a timer writer: 1 in this many of its publishes must be seen
GATE_CASES = ("start", "activity")  # the case names (after ROLE/) :func:`gate` reports


@dataclass(frozen=True, slots=True)
class Count:
    """One observed quantity: ``seen`` must reach ``required``."""

    noun: str
    required: int
    seen: int


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a role's run must have observed (``counts``) and what it did; ``gap`` is a
    further condition not met, in words (empty when met)."""

    role: str
    counts: tuple[Count, ...]
    gap: str = ""

    @property
    def met(self) -> bool:
        return not self.gap and all(c.seen >= c.required for c in self.counts)

    @property
    def silent(self) -> bool:
        """Nothing at all was seen: the binary never spoke the protocol."""
        return all(c.seen == 0 for c in self.counts)

    def required(self) -> str:
        return " over ".join(f"≥ {c.required} {c.noun}" for c in self.counts)

    def seen(self) -> str:
        return " over ".join(str(c.seen) for c in self.counts)


def consumer(requests: int, consumed: int) -> Evidence:
    """A consumer must report ``min(requests, 20)`` consumed ids."""
    return Evidence("consumer", (Count("consumed ids", min(requests, MIN_EVENTS), consumed),))


def producer(requests: int, received: int) -> Evidence:
    """A producer must publish ``min(requests, 20)`` requests the tester received."""
    return Evidence("producer", (Count("requests published", min(requests, MIN_EVENTS),
                                       received),))


def timer_reader(reads: int, ticks: int, publishes: int, left_early: bool) -> Evidence:
    """A reader must accept ``min(reads, 20)`` ticks spanning 3 distinct publishes (1
    when it is asked for fewer than 10,000 reads, which a fast reader may finish inside
    one publish), and must not have left the run before it accepted all ``reads``."""
    need = min(reads, MIN_EVENTS)
    span = MIN_SPAN if reads >= SPAN_READS else 1
    gap = (f"it left the run after {ticks} of the {reads} ticks it was asked to accept "
           "(INTERVM_READS)") if left_early and ticks < reads else ""
    return Evidence("timer-reader", (Count("accepted ticks", need, ticks),
                                     Count("distinct publishes", span, publishes)), gap)


def timer_writer(publishes: int, seen: int) -> Evidence:
    """The tester's reads must see 1 in 10 of the writer's publishes, at most 20."""
    need = max(1, min(MIN_EVENTS, publishes // SEEN_FRACTION))
    return Evidence("timer-writer", (Count("publishes seen by the tester", need, seen),))


def gate(ev: Evidence, cases: Sequence[Case], findings: Iterable[str], ended: str,
         reported: str, stderr: str, secs: float) -> list[Case]:
    """If ``ev`` is met: a PASS ``ROLE/activity`` case saying what was required and seen,
    then ``cases``. Else one ERROR case (``ROLE/start`` when the binary never spoke,
    ``ROLE/activity`` when it spoke too little), then only the cases named in
    ``findings`` that failed and a ``ROLE/engine`` ERROR (the C peer engine broke).
    ``ended`` is how the binary ended (:meth:`~intervm.conformance.handoff.Exit.describe`),
    ``reported`` its last ``violation``/``error`` line, ``stderr`` its stderr tail."""
    if ev.met:
        return [Case(f"{ev.role}/activity", Outcome.PASS, secs,
                     f"required {ev.required()}, saw {ev.seen()}"), *cases]
    keep = set(findings)
    failed = [c for c in cases if c.outcome is Outcome.FAIL and c.name.rsplit("/", 1)[1] in keep]
    engine = [c for c in cases if c.outcome is Outcome.ERROR and c.name.endswith("/engine")]
    what = ("never spoke the protocol" if ev.silent else "spoke too little of the protocol to "
            + ("judge the checks it did not fail" if failed else "judge it"))
    detail = (f"the binary {what}: required {ev.required()}, saw {ev.seen()} in {secs:.2f} s"
              + (f"; {ev.gap}" if ev.gap and not ev.silent else "")
              + (f"; only its failures are reported ({', '.join(c.name for c in failed)})"
                 if failed else "")
              + f"; it {ended}" + (f"; it reported: {reported}" if reported else "")
              + f"; stderr: {stderr or '(none)'}")
    name = f"{ev.role}/{'start' if ev.silent else 'activity'}"
    return [Case(name, Outcome.ERROR, secs, detail), *failed, *engine]


def is_gate(case: Case) -> bool:
    """Whether ``case`` is :func:`gate`'s ERROR case (no evidence to judge the binary)."""
    return case.outcome is Outcome.ERROR and case.name.rsplit("/", 1)[-1] in GATE_CASES
