"""A scheduler-controlled :class:`~intervm.impl.access.SharedAccess` with emulated memory models.

Each role of an implementation runs its real Python code in its own thread, but only
one thread runs at a time: every shared access announces itself and blocks until the
schedule picks that role (a baton). The access is then performed here, on emulated
memory, under a memory model of ``model/memory`` (SC, x86-TSO, PSO): each role gets
the model's concrete stepper (:meth:`~intervm.model.memory.base.MemoryModel.concrete`),
the same rules the compiler states symbolically, so the schedules allowed here are the
checker's. Flushing a buffered store is a separate, scheduled step.
``wait`` on a doorbell is enabled only once the doorbell is pending: there are no
real timeouts, and a state where no step is enabled while a role still waits is a
deadlock. Every wait for a thread is bounded.

>>> def producer(acc, emit):
...     acc.store("tail", 1); acc.fence(); emit(acc.load("flag"))
>>> def consumer(acc, emit):
...     acc.store("flag", 1); acc.fence(); emit(acc.load("tail"))
>>> with Run({"P": producer, "C": consumer}, "tso") as run:
...     _ = run.step("P"), run.step("C")   # both stores buffered, both fences blocked
...     run.enabled(), run.read("tail"), run.pending_op("P")
(('flush(C)', 'flush(P)'), 0, 'fence')
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol

from intervm.impl.access import Fence
from intervm.model import memory
from intervm.model.memory.base import Concrete
from intervm.spec.errors import ParamError, ended_by

HANDOFF_S = 10.0  # longest a role may compute between two shared accesses


class Emit(Protocol):
    """How a role reports what it did: ``emit(value)`` on its main channel (a delivered
    request, an accepted time value, a begun tick), ``emit(value, "latency")`` on a
    named one. The tester records each report with its position in the schedule."""

    def __call__(self, value: int, channel: str = "") -> None: ...


Role = Callable[[Any, Emit], object]  # (SharedAccess, emit) -> ignored
Loc = tuple[str, int | None]  # same as intervm.model.memory.base.Loc


class TesterError(Exception):
    """The tester could not run the implementation (not a conformance verdict)."""


class TargetAborted(TesterError):
    """The implementation under test raised a :class:`BaseException` that is not an
    :class:`Exception` (``sys.exit(0)``, ``KeyboardInterrupt``): it tried to end the
    tester, so there is no verdict. The message says who did what, and when."""


class _Cancelled(BaseException):
    """Raised inside a role thread when its run is torn down (not an Exception, so
    implementation code catching Exception cannot swallow it)."""


@dataclass(frozen=True, slots=True)
class Op:
    """One announced shared access."""

    kind: str  # load | store | fence | rmw | notify | wait
    field: str = ""
    index: int | None = None
    value: int = 0
    fence: Fence = Fence.FULL
    entered: bool = False  # wait on an edge doorbell: the role already waits

    def text(self) -> str:
        loc = self.field + ("" if self.index is None else f"[{self.index}]")
        match self.kind:
            case "load" | "wait":
                return f"{self.kind} {loc}"
            case "store":
                return f"store {loc} := {self.value}"
            case "rmw":
                return f"rmw {loc} += {self.value}"
            case "notify":
                return f"notify {loc}"
            case "fence":
                return "fence" if self.fence is Fence.FULL else "store fence"
            case _:
                return self.kind


@dataclass(frozen=True, slots=True)
class Access:
    """One performed access (or flush), in schedule order: what the tester saw."""

    step: int
    role: str
    kind: str  # load | store | fence | rmw | notify | wait | sleep | flush
    field: str = ""
    index: int | None = None
    value: int = 0  # loaded, stored (or buffered), added, or flushed value
    old: int | None = None  # rmw: the value before
    fence: str = ""
    buffered: bool = False  # a store that went into the store buffer

    def text(self) -> str:
        loc = self.field + ("" if self.index is None else f"[{self.index}]")
        match self.kind:
            case "load":
                return f"load {loc} = {self.value}"
            case "store":
                return f"store {loc} := {self.value}" + (" (buffered)" if self.buffered else "")
            case "flush":
                return f"⤓ flush {loc} := {self.value}"
            case "rmw":
                return f"rmw {loc}: {self.old} -> {self.value}"
            case "fence":
                return "full fence" if self.fence == "full" else "store fence"
            case "notify" | "wait":
                return f"{self.kind} {loc}"
            case "sleep":
                return f"start waiting on {loc} (edge: a notify before this is lost)"
            case _:
                return self.kind


@dataclass(frozen=True, slots=True)
class Report:
    """One ``emit``: ``position`` is the number of accesses performed before it (the
    report comes after access ``position - 1`` and before access ``position``)."""

    position: int
    role: str
    channel: str
    value: int


@dataclass
class _RoleState:
    name: str
    fn: Role
    go: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))
    pending: Op | None = None
    result: int = 0
    done: bool = False
    error: BaseException | None = None
    thread: threading.Thread | None = None
    mem: Concrete | None = None  # the memory model's per-role state
    @property
    def model(self) -> Concrete:
        assert self.mem is not None
        return self.mem


class _Access:
    """The SharedAccess a role's code receives; every call is a scheduling point."""

    def __init__(self, run: Run, role: _RoleState):
        self._run = run
        self._role = role

    def load(self, field: str, index: int | None = None) -> int:
        return self._run._announce(self._role, Op("load", field, index))

    def store(self, field: str, value: int, index: int | None = None) -> None:
        self._run._announce(self._role, Op("store", field, index, int(value)))

    def fence(self, kind: Fence = Fence.FULL) -> None:
        self._run._announce(self._role, Op("fence", fence=kind))

    def rmw_add(self, field: str, delta: int, index: int | None = None) -> int:
        return self._run._announce(self._role, Op("rmw", field, index, int(delta)))

    def notify(self, doorbell: str) -> None:
        self._run._announce(self._role, Op("notify", doorbell))

    def wait(self, doorbell: str, timeout: float) -> bool:
        self._run._announce(self._role, Op("wait", doorbell))
        return True


class Run:
    """One run of the roles under ``memory_model``, stepped by the caller.

    ``doorbells`` maps a doorbell name to whether it is latched (default: latched).
    ``initial`` gives non-zero initial memory; all other locations read 0.
    ``buffer_size`` bounds each role's store buffer (a store waits for a flush when it
    is full, as on x86). ``registers`` are fields that are not memory but a device's
    or the hypervisor's registers: a store to one is never buffered. Use as a context
    manager so the role threads are always torn down.
    """

    def __init__(self, roles: Mapping[str, Role], memory_model: str,
                 doorbells: Mapping[str, bool] | None = None,
                 initial: Mapping[Loc, int] | None = None,
                 emit: Callable[[str, int], None] | None = None,
                 buffer_size: int | None = None,
                 registers: frozenset[str] = frozenset()):
        try:
            self.model = memory.get(memory_model)
        except ParamError as e:
            raise TesterError(str(e)) from None
        self.memory_model = memory_model
        self.buffer_size = buffer_size  # None: unbounded store buffers
        self.registers = registers
        self.latched = dict(doorbells or {})
        self.memory: dict[Loc, int] = dict(initial or {})
        self.pending_irq: dict[str, bool] = dict.fromkeys(self.latched, False)
        self.roles = {n: _RoleState(n, fn, mem=self.model.concrete(buffer_size))
                      for n, fn in roles.items()}
        self.log: list[Access] = []
        # per role its main channel; "ROLE.CHANNEL" for a named channel
        self.outputs: dict[str, list[int]] = {n: [] for n in roles}
        self.reports: list[Report] = []
        self._emit_hook = emit
        self._back = threading.Semaphore(0)
        self._started = False

    # ------------------------------------------------------------ lifecycle
    def __enter__(self) -> Run:
        self.start()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def start(self) -> None:
        """Start every role thread and run each to its first shared access."""
        self._started = True
        try:
            for r in self.roles.values():
                r.thread = threading.Thread(target=self._body, args=(r,), daemon=True,
                                            name=f"intervm-role-{r.name}")
                r.thread.start()
                self._wait_back(r)
        except TesterError:
            self.close()  # no role thread stays parked behind a failed start
            raise

    def close(self) -> None:
        """Unblock and end every role thread that is still parked at an access."""
        for r in self.roles.values():
            if r.thread is not None and r.thread.is_alive() and r.pending is not None:
                r.pending = None
                r.done = True
                r.go.release()  # wakes into _Cancelled
        for r in self.roles.values():
            if r.thread is not None:
                r.thread.join(timeout=HANDOFF_S)

    def _body(self, r: _RoleState) -> None:
        try:
            r.fn(_Access(self, r), lambda v, channel="": self._emit(r.name, v, channel))
        except _Cancelled:
            return
        except Exception as e:  # the implementation crashed: a finding, reported
            r.error = e
        except BaseException as e:  # sys.exit() etc.: no verdict; _wait_back raises it
            r.error = e
        r.done = True
        r.pending = None
        self._back.release()

    def _emit(self, role: str, value: int, channel: str = "") -> None:
        self.outputs.setdefault(f"{role}.{channel}" if channel else role, []).append(int(value))
        self.reports.append(Report(len(self.log), role, channel, int(value)))
        if self._emit_hook is not None and not channel:
            self._emit_hook(role, int(value))

    def _announce(self, r: _RoleState, op: Op) -> int:
        r.pending = op
        self._back.release()
        r.go.acquire()
        if r.done:  # torn down while parked
            raise _Cancelled()
        return r.result

    def _wait_back(self, r: _RoleState) -> None:
        if not self._back.acquire(timeout=HANDOFF_S):
            raise TesterError(
                f"role {r.name} ran {HANDOFF_S:.0f} s without reaching a shared access "
                "(an endless loop outside SharedAccess, or a blocking call?): every "
                "role must touch shared memory only through the access object")
        if r.error is not None and not isinstance(r.error, Exception):
            done = sum(a.role == r.name for a in self.log)
            raise TargetAborted(
                f"role {r.name} {ended_by(r.error)} after {done} shared access"
                f"{'' if done == 1 else 'es'} of its own: a role must return (or raise an "
                "Exception, reported as a failure), never end the tester")

    # ------------------------------------------------------------ queries
    def pending_op(self, role: str) -> str:
        """What ``role`` waits to do next ('' when it has finished)."""
        op = self.roles[role].pending
        return "" if op is None else op.kind

    def pending(self, role: str) -> Op | None:
        return self.roles[role].pending

    def can_move(self, role: str) -> bool:
        r = self.roles[role]
        op = r.pending
        if op is None or r.done:
            return False
        match op.kind:
            case "load":
                return True
            case "store":  # a full store buffer stalls the store until a flush
                return op.field in self.registers or r.model.can_store()
            case "fence":
                return r.model.can_fence(op.fence.value)
            case "rmw" | "notify":
                return r.model.drained()
            case "wait":
                if not self.latched.get(op.field, True) and not op.entered:
                    return True  # an edge doorbell: first the role starts waiting
                return self.pending_irq.get(op.field, False) and r.model.drained()
            case _:
                raise TesterError(f"unknown access kind {op.kind!r}")

    def flushable(self, role: str) -> list[Loc]:
        """Locations whose oldest buffered store may flush next (one under TSO; under
        PSO every location with no store fence before its oldest store)."""
        return self.roles[role].model.flushable(self.memory)

    def enabled(self) -> tuple[str, ...]:
        """Every enabled step: role names and ``flush(ROLE)``, sorted."""
        out = [n for n in self.roles if self.can_move(n)]
        out += [f"flush({n})" for n in self.roles if self.roles[n].model.flushable(self.memory)]
        return tuple(sorted(out))

    def quiescent(self) -> bool:
        return not self.enabled()

    def blocked(self) -> list[str]:
        """Roles that have not finished but cannot move."""
        return [n for n, r in self.roles.items() if not r.done and not self.can_move(n)]

    def crashed(self) -> tuple[str, BaseException] | None:
        for n, r in self.roles.items():
            if r.error is not None:
                return n, r.error
        return None

    def finished(self, role: str) -> bool:
        return self.roles[role].done

    def buffer(self, role: str) -> list[tuple[Loc, int]]:
        return self.roles[role].model.entries()

    def read(self, fld: str, index: int | None = None) -> int:
        return self.memory.get((fld, index), 0)

    # ------------------------------------------------------------ stepping
    def step(self, role: str) -> Access:
        """Perform ``role``'s announced access and run it to its next one."""
        r = self.roles[role]
        if not self.can_move(role):
            raise TesterError(f"role {role} cannot move now (next: "
                              f"{r.pending.text() if r.pending else 'finished'})")
        assert r.pending is not None
        op = r.pending
        if op.kind == "wait" and not self.latched.get(op.field, True) and not op.entered:
            # edge doorbell: from now on a notify reaches this role; it stays parked
            r.pending = Op("wait", op.field, entered=True)
            acc = Access(len(self.log), role, "sleep", op.field)
            self.log.append(acc)
            return acc
        acc = self._perform(r, op)
        self.log.append(acc)
        r.pending = None
        r.go.release()
        self._wait_back(r)
        return acc

    def flush(self, role: str, pick: int = 0) -> Access:
        """Flush the oldest buffered store (PSO: of the ``pick``-th flushable location)."""
        r = self.roles[role]
        if not r.model.flushable(self.memory):
            raise TesterError(f"role {role} has no buffered store to flush")
        loc, value = r.model.flush(pick, self.memory)
        acc = Access(len(self.log), role, "flush", loc[0], loc[1], value)
        self.log.append(acc)
        return acc

    def _perform(self, r: _RoleState, op: Op) -> Access:
        n = len(self.log)
        loc: Loc = (op.field, op.index)
        match op.kind:
            case "load":
                r.result = r.model.load(loc, self.memory)
                return Access(n, r.name, "load", op.field, op.index, r.result)
            case "store":
                if op.field in self.registers:  # a device register: never buffered
                    self.memory[loc] = op.value
                    buffered = False
                else:
                    buffered = r.model.store(loc, op.value, self.memory)
                return Access(n, r.name, "store", op.field, op.index, op.value,
                              buffered=buffered)
            case "fence":
                r.model.fence(op.fence.value)
                return Access(n, r.name, "fence", fence=op.fence.value)
            case "rmw":
                old = self.memory.get(loc, 0)
                self.memory[loc] = old + op.value
                r.result = old
                return Access(n, r.name, "rmw", op.field, op.index, old + op.value, old=old)
            case "notify":
                if op.field not in self.latched:
                    self.latched[op.field] = True
                    self.pending_irq[op.field] = False
                delivered = self.latched[op.field] or any(
                    o.pending is not None and o.pending.kind == "wait" and o.pending.entered
                    and o.pending.field == op.field for o in self.roles.values())
                if delivered:
                    self.pending_irq[op.field] = True
                return Access(n, r.name, "notify", op.field)
            case "wait":
                self.pending_irq[op.field] = False
                return Access(n, r.name, "wait", op.field)
            case _:
                raise TesterError(f"unknown access kind {op.kind!r}")


def describe(op: Op | None) -> str:
    """A role's next access as text ('finished' when it has none)."""
    return "finished" if op is None else op.text()
