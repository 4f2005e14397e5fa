"""Plain-English narration of a trace: who did what, what each VM believed, and why
the final state breaks the property; and what the fixed variant does with the same
schedule.

Everything is derived from the compiled system (command texts, labels, store
buffers) and, when given, the spec (step ``doc=`` strings, property docs, step
operations). Nothing is written per variant; a few properties of the built-in
protocols get a one-line headline (:data:`HEADLINES`), every other property falls
back to its ``doc``.

>>> from intervm.spec.protocols import get_protocol
>>> from intervm.model.compile import compile_spec
>>> from intervm.model.explicit import explore, check
>>> proto = get_protocol("coalescing")
>>> spec = proto.spec("no_recheck")
>>> sys = compile_spec(spec, {"requests": 1, "capacity": 1}, "sc")
>>> n = narrate(check(explore(sys), "no_lost_wakeup").trace, sys, spec)
>>> len(n.steps), n.steps[7].process
(10, 'P')
>>> n.steps[7].sentence
'P reads flag from shared memory and gets 0; f == 0 holds, so P goes to `idle` (read the flag; ACTIVE: the consumer will see it).'
>>> n.headline
'A lost wakeup: the consumer sleeps with a request in the ring, no doorbell pending, and no producer left to ring it.'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, assert_never

from intervm.model import memory
from intervm.model.budget import MemoryBudget, flat_size, state_bytes
from intervm.model.evaluate import Semantics, State
from intervm.model.render import memory_text
from intervm.model.system import CAlways, CEventually, Command, CSometimes, System
from intervm.model.trace import Trace, TraceStep
from intervm.spec.syntax import (
    Assign,
    Await,
    Branch,
    Choose,
    Fence,
    Halt,
    Load,
    Notify,
    Rmw,
    Spec,
    Step,
    Store,
    Wait,
)

Value = Any

HEADLINES: Mapping[str, str] = {
    "no_lost_wakeup": "A lost wakeup: the consumer sleeps with a request in the ring, no "
                      "doorbell pending, and no producer left to ring it.",
    "eventually_consumed": "A lost wakeup: a published request is never consumed.",
    "no_torn_read": "A torn read: a reader accepted a time value assembled from words "
                    "written by different publishes.",
    "latency_nonnegative": "A negative latency: the completer's time stamp is earlier "
                           "than the submitter's.",
    "notification_budget": "Too many doorbells: more notifications than the consumer "
                            "ever asked for by going to sleep.",
    "no_unpublished_read": "A read of an unpublished slot: the consumer saw tail move "
                           "before the slot's payload reached memory.",
    "fifo": "Requests delivered out of order, lost or duplicated.",
}


@dataclass(frozen=True, slots=True)
class Read:
    """A load: ``var`` (with index, if any) read as ``value`` at step ``step``
    (1-based), from memory or forwarded from the reader's own store buffer."""

    var: str
    value: Value
    step: int
    forwarded: bool = False


@dataclass(frozen=True, slots=True)
class Belief:
    """What one VM believes after a step: where it is, its locals, its last read."""

    process: str
    at: str
    locals: tuple[tuple[str, Value], ...]
    last_read: Read | None

    @property
    def text(self) -> str:
        locs = " ".join(f"{k}={_value(v)}" for k, v in self.locals)
        out = f"{self.process} at `{self.at}`" + (f" ({locs})" if locs else "")
        if self.last_read is not None:
            r = self.last_read
            out += f"; last read {r.var}={_value(r.value)} at step {r.step}"
        return out


@dataclass(frozen=True, slots=True)
class NarratedStep:
    """One step: who moved, what happened in words, and the world after it."""

    index: int  # 1-based
    process: str
    command: str
    sentence: str
    beliefs: tuple[Belief, ...]
    memory: str
    buffers: tuple[tuple[str, tuple[str, ...]], ...]  # process → entries, oldest first
    note: str = ""  # contrast only: how this step relates to the buggy schedule

    @property
    def buffers_text(self) -> str:
        return " ".join(f"{p}:[{', '.join(es)}]" for p, es in self.buffers)


@dataclass(frozen=True, slots=True)
class Narration:
    """A narrated run: a title, an introduction, one entry per step, and the verdict
    paragraph (``why``) with its one-line ``headline``."""

    title: str
    intro: str
    steps: tuple[NarratedStep, ...]
    headline: str
    why: str
    loop_start: int | None = None
    facts: tuple[str, ...] = field(default=())

    def text(self) -> str:
        """The whole narration as plain text (for files, docs and tests)."""
        lines = [self.title, "", self.intro, ""]
        for s in self.steps:
            loop = "↺ " if self.loop_start is not None and s.index - 1 == self.loop_start else ""
            lines.append(f"{loop}{s.index}. {s.sentence}")
            if s.note:
                lines.append(f"   [{s.note}]")
            lines.append(f"   memory: {s.memory}")
            if s.buffers:
                lines.append(f"   store buffers: {s.buffers_text}")
        lines += ["", self.headline, self.why]
        lines += [f"- {f}" for f in self.facts]
        return "\n".join(lines)


# ---------------------------------------------------------------- state helpers


def _value(v: Value) -> str:
    if isinstance(v, tuple):
        return "[" + ",".join(str(x) for x in v) + "]"
    return str(v)


def buffer_contents(system: System, state: Mapping[str, Value]) -> tuple[
        tuple[str, tuple[str, ...]], ...]:
    """Each store buffer's entries (``var=value``, ``var[i]=value``), oldest first;
    a ``|`` marks an entry behind a store fence."""
    return tuple((buf.process, tuple(e.text() for e in buf.entries(system.shared, state)))
                 for buf in system.buffers)


def _at(system: System, state: Mapping[str, Value], process: str) -> str:
    return system.label_names(process)[state[f"pc.{process}"]]


def _locals(system: System, state: Mapping[str, Value], process: str) -> tuple[
        tuple[str, Value], ...]:
    pre = f"{process}."
    return tuple((v.name[len(pre):], state[v.name]) for v in system.vars
                 if v.role == "local" and v.owner == process)


def _spec_step(spec: Spec | None, command: Command) -> Step | None:
    if spec is None or command.label is None:
        return None
    try:
        return spec.process(command.process).step(command.label)
    except KeyError:
        return None


def _changed_cells(var: str, before: Mapping[str, Value], after: Mapping[str, Value]) -> str:
    a, b = before.get(var), after.get(var)
    if isinstance(a, tuple) and isinstance(b, tuple):
        cells = [f"{var}[{i}]={y}" for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        return ", ".join(cells)
    return f"{var}={_value(b)}" if a != b else ""


def _buffered_elsewhere(system: System, state: Mapping[str, Value], process: str,
                        var: str) -> list[str]:
    """Entries for ``var`` sitting in other processes' store buffers."""
    out = []
    for p, ents in buffer_contents(system, state):
        if p == process:
            continue
        for e in ents:
            name = e.lstrip("|").split("=", 1)[0].split("[", 1)[0]
            if name == var:
                out.append(f"{p}'s store {e.lstrip('|')}")
    return out


# ---------------------------------------------------------------- sentences


def _branch_clause(system: System, spec_step: Step | None, cmd: Command, process: str,
                   before: Mapping[str, Value], after: Mapping[str, Value]) -> str:
    """'; <cond> holds, so P goes to `x`' when the step jumped somewhere."""
    if ";" in cmd.text and " goto " in cmd.text:
        head, _, target = cmd.text.rpartition(" goto ")
        cond_txt = head.rpartition("if ")[2]
        now = _at(system, after, process)
        if now == target:
            return f"; {cond_txt} holds, so {process} goes to `{target}`"
        return f"; {cond_txt} does not hold, so {process} goes on to `{now}`"
    return ""


def sentence(system: System, cmd: Command, before: Mapping[str, Value],
             after: Mapping[str, Value], spec: Spec | None = None) -> str:
    """One plain-English sentence for ``cmd`` taking ``before`` to ``after``."""
    p = cmd.process
    model = memory.get(system.memory_model)
    weak = model.buffered
    if cmd.kind == "flush" and model.internal_is_load(cmd.name):
        return f"{cmd.text}."
    if cmd.kind == "flush":
        b0 = dict(buffer_contents(system, before)).get(p, ())
        b1 = dict(buffer_contents(system, after)).get(p, ())
        gone = [e for e in b0 if e not in b1] or list(b0[:1])
        changed = ", ".join(c for v in system.shared
                            if (c := _changed_cells(v, before, after)))
        what = gone[0].lstrip("|") if gone else "a store"
        return (f"{model.describe_internal(p, what)}; the other VMs can "
                f"see it now" + (f" ({changed})." if changed else " (no visible change)."))
    st = _spec_step(spec, cmd)
    doc = f" ({st.doc})" if st is not None and st.doc else ""
    label = cmd.label or cmd.name
    clause = _branch_clause(system, st, cmd, p, before, after)
    op = st.op if st is not None else None
    body: str
    match op:
        case None:
            body = f"{p} runs `{label}`: {cmd.text}"
            return body + "."
        case Load(dst, var, _):
            val = after.get(f"{p}.{dst}")
            own = dict(buffer_contents(system, before)).get(p, ())
            fwd = any(e.lstrip("|").split("=", 1)[0].split("[", 1)[0] == var for e in own)
            src = "its own store buffer" if fwd else "shared memory"
            body = f"{p} reads {var} from {src} and gets {_value(val)}"
            if "@" in cmd.name and not fwd and "[" not in cmd.text.split(":=")[1]:
                if cmd.name.endswith("@defer"):
                    body = f"{p} issues its load of {var}"
                body += model.describe_load(cmd.name, p, var, _value(val),
                                            _value(after.get(var)))
            if weak and not fwd:
                hidden = _buffered_elsewhere(system, before, p, var)
                if hidden:
                    body += f", while {' and '.join(hidden)} is still in a store buffer " \
                            f"where {p} cannot see it"
        case Store(var, _, _):
            b0 = dict(buffer_contents(system, before)).get(p, ())
            b1 = dict(buffer_contents(system, after)).get(p, ())
            if len(b1) > len(b0):
                ent = b1[-1].lstrip("|")
                body = (f"{p} writes {ent} into its store buffer; shared memory still "
                        f"holds {memory_text(system, after)}")
            else:
                ch = _changed_cells(var, before, after) or f"{var} (unchanged value)"
                body = f"{p} writes {ch} to shared memory"
        case Fence(kind):
            body = model.describe_fence(p, kind)
        case Rmw(dst, var, _, _):
            body = (f"{p} atomically reads {var}={_value(after.get(f'{p}.{dst}'))} and writes "
                    f"{_changed_cells(var, before, after) or var + ' back'}")
        case Choose(_):
            body = f"{p} chooses `{_at(system, after, p)}`"
        case Assign(_) | Branch(_, _):
            body = f"{p} runs `{label}`" + (f": {cmd.text}" if cmd.text and cmd.text != "skip"
                                            else "")
        case Await(_):
            body = f"{p} passes `{label}`: {cmd.text.removeprefix('await ')} holds"
        case Notify(db):
            pend0, pend1 = before.get(f"pending.{db}", 0), after.get(f"pending.{db}", 0)
            if pend1 and not pend0:
                body = f"{p} rings doorbell {db}; a notification is now pending"
            elif pend1:
                body = f"{p} rings doorbell {db}; one was already pending, so nothing changes"
            else:
                body = (f"{p} rings doorbell {db}, but nobody is waiting on it and it does "
                        f"not latch: the notification is lost")
        case Wait(db):
            body = f"{p} is woken by doorbell {db} and consumes the notification"
        case Halt():
            body = f"{p} stops"
        case _:
            assert_never(op)
    return body + clause + doc + "."


# ---------------------------------------------------------------- narration


def _reads(system: System, trace: Trace, spec: Spec | None) -> list[tuple[str, Read]]:
    """(process, read) for every load in ``trace``."""
    out: list[tuple[str, Read]] = []
    states = trace.states()
    for i, step in enumerate(trace.steps, start=1):
        if step.command == "stutter":
            continue
        cmd = system.command(step.command)
        st = _spec_step(spec, cmd)
        if st is not None:
            match st.op:
                case Load(dst, var, _) | Rmw(dst, var, _, _):
                    own = dict(buffer_contents(system, states[i - 1])).get(cmd.process, ())
                    fwd = any(e.lstrip("|").split("=", 1)[0].split("[", 1)[0] == var
                              for e in own)
                    out.append((cmd.process, Read(var, states[i].get(f"{cmd.process}.{dst}"),
                                                  i, fwd)))
                case _:
                    pass
        elif " := load " in cmd.text:  # no spec: recover the load from the command text
            dst, _, rest = cmd.text.partition(" := load ")
            var = rest.split(";", 1)[0].split("[", 1)[0].strip()
            out.append((cmd.process, Read(var, states[i].get(f"{cmd.process}.{dst}"), i)))
    return out


def _beliefs(system: System, state: Mapping[str, Value], last: Mapping[str, Read]) -> tuple[
        Belief, ...]:
    return tuple(Belief(p, _at(system, state, p), _locals(system, state, p), last.get(p))
                 for p in system.processes)


def narrate_steps(system: System, trace: Trace, spec: Spec | None,
                  notes: Sequence[str] = ()) -> tuple[NarratedStep, ...]:
    """One :class:`NarratedStep` per step of ``trace``."""
    reads = _reads(system, trace, spec)
    by_step = {r.step: (p, r) for p, r in reads}
    last: dict[str, Read] = {}
    out = []
    states = trace.states()
    for i, step in enumerate(trace.steps, start=1):
        before, after = states[i - 1], states[i]
        if step.command == "stutter":
            text = "No VM can move: the run stutters here forever (a deadlock)."
        else:
            text = sentence(system, system.command(step.command), before, after, spec)
        if i in by_step:
            p, r = by_step[i]
            last[p] = r
        out.append(NarratedStep(
            index=i, process=step.process, command=step.command, sentence=text,
            beliefs=_beliefs(system, after, last), memory=memory_text(system, after),
            buffers=buffer_contents(system, after) if system.buffers else (),
            note=notes[i - 1] if i - 1 < len(notes) else ""))
    return tuple(out)


def _prop_doc(spec: Spec | None, name: str) -> str:
    if spec is None:
        return ""
    try:
        return spec.prop(name).doc
    except KeyError:
        return ""


def headline(system: System, prop: str, spec: Spec | None = None) -> str:
    """A one-line name for the violation of ``prop``."""
    if prop in HEADLINES:
        return HEADLINES[prop]
    doc = _prop_doc(spec, prop)
    match system.prop(prop):
        case CAlways():
            return f"Property {prop} fails" + (f": it requires that {doc}." if doc else ".")
        case CSometimes():
            return f"Property {prop} is reached" + (f": {doc}." if doc else ".")
        case CEventually():
            return f"Property {prop} fails: the run loops forever" + (
                f", but {doc}." if doc else ".")


def _last_change(trace: Trace, var: str, upto: int) -> tuple[int, str] | None:
    """(step, process) of the last step up to ``upto`` that changed ``var`` in memory."""
    states = trace.states()
    for i in range(upto, 0, -1):
        if states[i].get(var) != states[i - 1].get(var):
            return i, trace.steps[i - 1].process
    return None


def _last_write_of(trace: Trace, var: str, value: Value, upto: int) -> tuple[int, str] | None:
    """(step, process) of the last step up to ``upto`` that made ``var`` ``value`` in
    memory; None when it is the initial value."""
    states = trace.states()
    for i in range(upto, 0, -1):
        if states[i].get(var) == value and states[i - 1].get(var) != value:
            return i, trace.steps[i - 1].process
    return None


def explain_facts(system: System, trace: Trace, spec: Spec | None) -> tuple[str, ...]:
    """Why the run goes wrong, in facts derived from the trace: beliefs that memory has
    since contradicted, and reads that missed a store still in a store buffer."""
    facts: list[str] = []
    final = trace.states()[-1]
    n = len(trace.steps)
    reads = _reads(system, trace, spec)
    last_by: dict[tuple[str, str], Read] = {}
    for p, r in reads:
        last_by[(p, r.var)] = r
    states = trace.states()
    for (p, var), r in last_by.items():
        src = _last_change(trace, var, r.step)
        held = states[r.step].get(var)
        if not r.forwarded and not isinstance(held, tuple) and held != r.value:
            # a load that read an older write (a model that reorders loads)
            older = _last_write_of(trace, var, r.value, r.step)
            came = (f"an older write than memory's {var}={_value(held)}: "
                    + (f"the one {older[1]} made at step {older[0]}" if older is not None
                       else "the initial value"))
        else:
            came = ("its own buffered store" if r.forwarded else
                    f"in memory since step {src[0]}, by {src[1]}" if src is not None
                    else "the initial value")
        fact = f"{p} read {var}={_value(r.value)} at step {r.step} ({came})"
        now = final.get(var)
        if now is not None and not isinstance(now, tuple) and now != r.value:
            ch = _last_change(trace, var, n)
            by = f", written by {ch[1]} at step {ch[0]}" if ch is not None else ""
            fact += f" and acted on it; memory now holds {var}={_value(now)}{by}"
        facts.append(fact + ".")
    states = trace.states()
    for p, r in reads:
        if r.forwarded:
            continue
        hidden = _buffered_elsewhere(system, states[r.step - 1], p, r.var)
        if hidden:
            facts.append(f"At step {r.step} {p} read {r.var}={_value(r.value)} while "
                         f"{' and '.join(hidden)} was still buffered: the store had "
                         f"happened in program order, but was not yet visible.")
    where = ", ".join(f"{p} at `{_at(system, final, p)}`" for p in system.processes)
    pend = [k.split(".", 1)[1] for k, v in final.items() if k.startswith("pending.") and v]
    facts.append(f"In the final state {where}; memory {memory_text(system, final)}; "
                 + (f"doorbell {', '.join(pend)} pending." if pend else "no doorbell pending."))
    return tuple(facts)


def _why(system: System, trace: Trace, spec: Spec | None) -> str:
    doc = _prop_doc(spec, trace.prop)
    match system.prop(trace.prop):
        case CAlways():
            return (f"After step {len(trace)} the invariant {trace.prop} is false"
                    + (f" (it requires: {doc})" if doc else "") + ". Why:")
        case CSometimes():
            return (f"After step {len(trace)} the state {trace.prop} looks for is reached"
                    + (f" ({doc})" if doc else "") + ". How:")
        case CEventually():
            loop = (trace.loop_start or 0) + 1
            return (f"From step {loop} the run repeats forever while {trace.prop} stays "
                    f"pending" + (f" ({doc})" if doc else "") + ". Why:")


def title_of(trace: Trace) -> str:
    params = ", ".join(f"{k}={'∞' if v is None else v}" for k, v in trace.params)
    return (f"{trace.system}/{trace.variant or '?'} under {trace.memory_model.upper()} "
            f"({params}): {trace.prop}, {len(trace)} steps")


def narrate(trace: Trace, system: System, spec: Spec | None = None) -> Narration:
    """Narrate ``trace`` (a run of ``system``); with ``spec``, sentences use the steps'
    operations and ``doc`` strings, and the verdict quotes the property's doc."""
    who = ", ".join(system.processes)
    intro = (f"VMs: {who}. Shared memory starts as {memory_text(system, trace.init)}."
             + (f" {memory.get(system.memory_model).describe_state()}"
                if system.buffers else ""))
    return Narration(
        title=title_of(trace),
        intro=intro,
        steps=narrate_steps(system, trace, spec),
        headline=headline(system, trace.prop, spec),
        why=_why(system, trace, spec),
        loop_start=trace.loop_start,
        facts=explain_facts(system, trace, spec),
    )


# ---------------------------------------------------------------- the fix


@dataclass(frozen=True, slots=True)
class Move:
    """One step of the contrast run: the command and how it maps to the buggy schedule."""

    command: int
    note: str


MAX_EXTRA = 4  # fix-only steps run in a row before giving up on a move


def _options(system: System, sem: Semantics, state: State, process: str,
             flush: bool) -> list[int]:
    return [i for i, c in enumerate(system.commands)
            if c.process == process and (c.kind == "flush") == flush
            and sem.enabled(state, i)]


def align(trace: Trace, buggy: System, fixed: System) -> tuple[list[Move], State]:
    """Replay the buggy schedule on ``fixed``: for each buggy step, move the same VM
    (or drain the same store buffer). A VM standing at a step the buggy variant does
    not have (a fence, a re-check, a version check) runs it first, as the fix's extra
    step; a move the fixed VM cannot make (blocked, spinning, or no such step) is
    held back and tried again after the schedule. Finally every VM still standing at
    a fix-only step runs those steps, so the fix's decisive step is shown."""
    sem = Semantics(fixed)
    moves: list[Move] = []
    buggy_labels = {p: set(buggy.label_names(p)) for p in buggy.processes}
    cur = [sem.initial()]

    def at(p: str) -> str:
        return _at(fixed, sem.as_dict(cur[0]), p)

    def go(i: int, note: str) -> None:
        moves.append(Move(i, note))
        cur[0] = sem.apply(cur[0], i)

    def extras(p: str, when: str) -> None:
        for _ in range(MAX_EXTRA):
            here = at(p)
            if here in buggy_labels.get(p, set()):
                return
            opts = _options(fixed, sem, cur[0], p, flush=False)
            if not opts or sem.apply(cur[0], opts[0]) == cur[0]:
                return  # blocked, or spinning: nothing changes until another VM moves
            go(opts[0], f"the fix's extra step `{here}`{when}")

    def move(bc: Command, when: str) -> str | None:
        """Make buggy command ``bc``'s move; the reason it cannot be made, or None."""
        p = bc.process
        if p not in fixed.processes:
            return f"the fixed variant has no VM {p}"
        if bc.kind == "flush":
            opts = _options(fixed, sem, cur[0], p, flush=True)
            same = [i for i in opts if fixed.commands[i].name == bc.name]
            if not (same or opts):
                return f"{p}'s store buffer is empty in the fix"
            go((same or opts)[0], "same move" if not when else f"made{when}")
            return None
        extras(p, when)
        here = at(p)
        opts = _options(fixed, sem, cur[0], p, flush=False)
        want = [i for i in opts if fixed.commands[i].name == bc.name]
        if not opts or (not want and sem.apply(cur[0], opts[0]) == cur[0]):
            return f"{p} cannot take its step `{bc.label}` here: it is held at `{here}`"
        i = (want or opts)[0]
        note = "same move" if fixed.commands[i].label == bc.label else (
            f"{p} is at `{here}` in the fix (the buggy run took `{bc.label}`)")
        go(i, note if not when else f"{note}, made{when}")
        return None

    held: list[Command] = []
    for step in trace.steps:
        if step.command == "stutter":
            continue
        bc = buggy.command(step.command)
        if any(h.process == bc.process and h.kind == bc.kind for h in held):
            held.append(bc)  # keep each VM's moves in program order
            continue
        why = move(bc, "")
        if why is not None:
            moves.append(Move(-1, why))
            held.append(bc)
    late = " after the schedule"
    for bc in held:
        if move(bc, late) is not None:
            break
    for p in fixed.processes:
        extras(p, late)
    return moves, cur[0]


def _reachable_violation(sem: Semantics, start: State, prop: str, limit: int,
                         memory: MemoryBudget | None = None) -> tuple[bool | None, int]:
    """Whether a state violating Always ``prop`` is reachable from ``start`` (None: the
    search hit ``limit`` states or the memory budget), and how many states were
    explored."""
    from collections import deque

    p = sem.system.prop(prop)
    if not isinstance(p, CAlways):
        return None, 0
    budget = memory or MemoryBudget.default()
    meter = budget.meter()
    every = budget.every(state_bytes(flat_size(sem.system)) + 200)
    check_at = every
    f = sem.predicate(p.pred)
    seen = {start}
    queue = deque([start])
    while queue:
        s = queue.popleft()
        if not f(s):
            return True, len(seen)
        for _, t in sem.successors(s):
            if t not in seen:
                if len(seen) >= limit:
                    return None, len(seen)
                if len(seen) >= check_at:
                    check_at += every
                    if meter.over():
                        return None, len(seen)
                seen.add(t)
                queue.append(t)
    return False, len(seen)


def contrast(trace: Trace, buggy: System, fixed: System, fixed_spec: Spec | None = None,
             fixed_variant: str = "", limit: int = 500_000,
             memory: MemoryBudget | None = None) -> Narration:
    """What ``fixed`` does with the schedule of ``trace`` (a counterexample on
    ``buggy``): the aligned run (see :func:`align`) narrated, then whether the
    property can still fail from where it ends (an exhaustive search from that state,
    within ``limit`` states and the memory budget ``memory``).
    """
    moves, end = align(trace, buggy, fixed)
    sem = Semantics(fixed)
    state = sem.initial()
    steps: list[TraceStep] = []
    notes: list[str] = []
    skipped: list[str] = []
    for m in moves:
        if m.command < 0:
            skipped.append(m.note)
            if steps:
                notes[-1] = "; ".join(x for x in (notes[-1], m.note) if x)
            continue
        state = sem.apply(state, m.command)
        c = fixed.commands[m.command]
        steps.append(TraceStep(c.name, c.process, sem.as_dict(state)))
        notes.append("" if m.note == "same move" else m.note)
    run = Trace(system=fixed.name, variant=fixed_variant, memory_model=fixed.memory_model,
                params=fixed.params, prop=trace.prop, init=sem.as_dict(sem.initial()),
                steps=tuple(steps), engine="contrast")
    narrated = narrate_steps(fixed, run, fixed_spec, notes)
    holds_now = True
    p = fixed.prop(trace.prop)
    if isinstance(p, CAlways):
        holds_now = bool(sem.predicate(p.pred)(end))
    reach, n = _reachable_violation(sem, end, trace.prop, limit, memory)
    facts = [f"The same schedule ({len(trace)} buggy steps) becomes {len(steps)} steps here"
             + (f"; {len(skipped)} buggy move(s) could not be made" if skipped else "") + "."]
    facts += skipped
    extra = [s for s in narrated if s.note.startswith("the fix's extra step")]
    if extra:
        facts.append("The fix's extra steps: " + ", ".join(
            f"{s.process} `{s.note.split('`')[1]}` at step {s.index}" for s in extra) + ".")
    final = sem.as_dict(end)
    facts.append("Where it ends: " + "; ".join(
        b.text for b in _beliefs(fixed, final, {})) + f"; memory {memory_text(fixed, final)}.")
    if reach is False:
        verdict = (f"{trace.prop} holds at the end of this schedule, and no state violating "
                   f"it is reachable from there ({n} states explored): the interleaving "
                   f"that broke the buggy variant does no harm.")
    elif reach is True:
        verdict = (f"{trace.prop} can still fail from where this schedule ends (found "
                   f"within {n} states): {fixed_variant or 'this variant'} is not a fix "
                   f"for it under {fixed.memory_model.upper()}.")
    elif isinstance(p, CAlways):
        verdict = (f"{trace.prop} {'holds' if holds_now else 'FAILS'} at the end of this "
                   f"schedule; the search from there stopped at {n} states (unknown beyond).")
    else:
        verdict = (f"{trace.prop} is not an invariant; the contrast shows the schedule only "
                   "(check the fixed variant with intervm verify).")
    return Narration(
        title=f"The same schedule on {fixed.name}/{fixed_variant or '?'} under "
              f"{fixed.memory_model.upper()}",
        intro="Each VM makes the moves it made in the counterexample, in the same order; "
              "steps in brackets say where the fixed protocol differs.",
        steps=narrated,
        headline=verdict,
        why="",
        facts=tuple(facts),
    )
