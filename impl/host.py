"""The host: creates the region and doorbells, starts the VMs, collects results.

Every VM is a separate OS process (``python -m intervm.impl.vm ROLE``) that
receives the eventfds over a unix socket with SCM_RIGHTS. VMs run in their own
process groups and die with the host (:mod:`intervm.impl.children`). While the host
waits for results it watches every VM at once (control sockets and pidfds in one
``select``): the first VM that reports a protocol violation or dies ends the run at
once, and its diagnosis is the one raised. Every wait of the host is bounded, and
:meth:`Host.close` kills whatever is still running.

>>> with Host(HostConfig(capacity=8)) as host:
...     consumer = host.start("consumer", {})
...     producer = host.start("producer", {"requests": 20, "window": 8})
...     p, c = host.result(producer), host.result(consumer)
...     head = host.observer.load("head")
>>> c["stopped"], head, p["irq_notifies"] <= 21
(True, 21, True)
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from intervm.impl.children import kill_group, spawn
from intervm.impl.doorbell import Doorbells, recv_frame, send_frame
from intervm.impl.region import DEFAULT_DIR, Region
from intervm.impl.region_file import Existing
from intervm.spec import layout as L


class VmFailed(RuntimeError):
    """A VM process died, hung past its bound, or reported an error."""


class VmViolation(VmFailed):
    """A VM found the shared region breaking the protocol, or lost the region under it.

    ``role`` is the VM that found it; ``field``, ``value`` and ``rule`` are those of
    :class:`intervm.impl.errors.ProtocolViolation`.
    """

    def __init__(self, role: str, field: str, value: int, rule: str, message: str) -> None:
        super().__init__(message)
        self.role = role
        self.field = field
        self.value = value
        self.rule = rule


@dataclass(frozen=True)
class HostConfig:
    """Region geometry and where the region lives (``None``: a fresh file in /dev/shm,
    removed at close); ``existing`` says whether a given ``region`` path that exists may
    be replaced (default: only an idle intervm region; see :mod:`intervm.impl.region_file`)."""

    capacity: int = 256
    region: Path | None = None
    start_timeout_s: float = 30.0
    existing: Existing = Existing.REUSE


@dataclass(eq=False)  # a process: equal only to itself
class Vm:
    """A running VM process and its control connection.

    ``outcome`` is its result frame once it sent one; ``ended`` is set once the host
    no longer watches it (it reported and exited, or the host killed it).
    """

    role: str
    proc: subprocess.Popen[bytes]
    sock: socket.socket
    extra: dict[str, Any] = field(default_factory=dict)
    outcome: dict[str, Any] | None = None
    ended: bool = False
    pidfd: int = -1


class Host:
    """Owns the region, the doorbells, the control socket and the VM processes."""

    def __init__(self, cfg: HostConfig) -> None:
        self.cfg = cfg
        self._tmp = Path(tempfile.mkdtemp(prefix="intervm-"))
        self._own_region = cfg.region is None
        base = DEFAULT_DIR if DEFAULT_DIR.is_dir() else self._tmp
        self.region_path = cfg.region or base / f"intervm-{os.getpid()}-{self._tmp.name}"
        self._vms: list[Vm] = []
        self._closed = False
        self._region_fd = -1
        self.doorbells = Doorbells.create(d.name for d in L.build_layout(1).doorbells)
        try:
            existing = Existing.REFUSE if self._own_region else cfg.existing
            self.observer = Region.create(self.region_path, cfg.capacity, existing=existing)
            self._region_fd = os.open(
                self.region_path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW
            )
            self.control_path = self._tmp / "control.sock"
            self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._listener.bind(str(self.control_path))
            self._listener.listen(4)
            self._listener.settimeout(cfg.start_timeout_s)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Host:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def timer_socket(self) -> Path:
        """Unix socket on which the timer VM answers tick queries."""
        return self._tmp / "timer.sock"

    # -- the region, read without the mapping ------------------------------------
    def region_size(self) -> int:
        """The region file's size now (it must stay the layout's ``total_size``)."""
        return os.fstat(self._region_fd).st_size

    def _truncated(self, role: str | None) -> VmViolation:
        """The region shrank under the run; ``role`` is the VM that died of it (SIGBUS)."""
        total, size = self.observer.layout.total_size, self.region_size()
        who = f"SIGBUS in the {role} VM" if role else "noticed by the host"
        rule = (
            f"region {self.region_path} was truncated or removed under the run ({who}; the "
            f"file is now {size} bytes, the layout needs {total}); leave the region file "
            "alone while the VMs run, then run again"
        )
        return VmViolation(role or "host", "total_size", size, rule, rule)

    def check_region(self) -> None:
        """Raise :class:`VmViolation` if the region file shrank, or its path was removed
        or now names another file (the VMs would run on, unseen by anyone else)."""
        mine = os.fstat(self._region_fd)
        if mine.st_size < self.observer.layout.total_size:
            raise self._truncated(None)
        if mine.st_nlink == 0 or not self._names_our_region(mine):
            how = "removed" if not os.path.lexists(self.region_path) else "replaced by another file"
            rule = (
                f"region {self.region_path} was {how} under the run (noticed by the host; "
                "the VMs' mapping is no longer that path); leave the region file alone "
                "while the VMs run, then run again"
            )
            raise VmViolation("host", "region_file", mine.st_nlink, rule, rule)

    def _names_our_region(self, mine: os.stat_result | None = None) -> bool:
        """Whether the region path still names the file the host created (``mine``:
        its ``fstat``, when the caller has it)."""
        if self._region_fd < 0:
            return True  # nothing opened yet: a half-created file of ours at most
        mine = mine or os.fstat(self._region_fd)
        try:
            now = os.stat(self.region_path, follow_symlinks=False)
        except FileNotFoundError:
            return False
        return (now.st_dev, now.st_ino) == (mine.st_dev, mine.st_ino)

    def peek(self, name: str) -> int:
        """Load scalar field ``name`` with ``pread``, not the mapping.

        A mapping faults (SIGBUS) once the file is truncated; ``pread`` just comes back
        short, so the host can name the problem instead of dying.
        """
        f = self.observer.layout.field(name)
        data = os.pread(self._region_fd, f.size, f.offset)
        if len(data) < f.size:
            raise self._truncated(None)
        return int.from_bytes(data, "little")

    # -- VMs ----------------------------------------------------------------------
    def start(self, role: str, cfg: Mapping[str, Any]) -> Vm:
        """Start one VM, hand it its config and doorbells, wait until it is ready."""
        env = dict(os.environ)
        env[L.REGION_ENV] = str(self.region_path)
        env[L.CONTROL_ENV] = str(self.control_path)
        proc = spawn([sys.executable, "-m", "intervm.impl.vm", role], env=env)
        vm = Vm(role, proc, socket.socket())
        self._vms.append(vm)
        with contextlib.suppress(OSError):
            vm.pidfd = os.pidfd_open(proc.pid)
        try:
            self._accept(vm)
            vm.sock.settimeout(self.cfg.start_timeout_s)
            hello, _ = recv_frame(vm.sock)
            if hello.get("hello") != role or hello.get("pid") != proc.pid:
                raise VmFailed(f"{role} VM: unexpected hello {hello} on the control socket")
            full = dict(cfg)
            if role == "timer":
                full.setdefault("query_socket", str(self.timer_socket))
            fds = [self.doorbells.fds[d.name] for d in L.build_layout(1).doorbells]
            send_frame(vm.sock, full, fds)
            vm.extra, _ = recv_frame(vm.sock)
        except (OSError, ConnectionError) as exc:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=2.0)  # if it is dying, let it say how
            if proc.returncode == -signal.SIGBUS:
                self._fail(self._truncated(role))
            if self.region_size() < self.observer.layout.total_size:
                self._fail(self._truncated(None))
            self._fail(VmFailed(
                f"{role} VM (pid {proc.pid}) did not start: {exc}; {_describe(proc)}"
            ))
        if "error" in vm.extra:
            self._fail(self._failure(vm, vm.extra, "failed at start"))
        return vm

    def _accept(self, vm: Vm) -> None:
        """Accept the VM's connection, or fail at once if it dies first."""
        deadline = time.monotonic() + self.cfg.start_timeout_s
        listener = self._listener.fileno()
        watch = [listener, *([vm.pidfd] if vm.pidfd >= 0 else [])]
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no connection within {self.cfg.start_timeout_s} s")
            ready, _, _ = select.select(watch, [], [], min(left, 0.5))
            if listener in ready:
                vm.sock, _ = self._listener.accept()
                return
            if vm.proc.poll() is not None:
                raise ConnectionError("it exited before connecting to the control socket")

    def result(self, vm: Vm, timeout_s: float = 120.0) -> dict[str, Any]:
        """Wait (bounded) for the VM's result frame and its exit, watching every VM."""
        return self.results([vm], timeout_s)[0]

    def results(
        self,
        vms: Sequence[Vm],
        timeout_s: float = 120.0,
        on_tick: Callable[[], None] | None = None,
        poll_s: float = 0.05,
        progress: Callable[[], int] | None = None,
    ) -> list[dict[str, Any]]:
        """Wait until every VM in ``vms`` has reported; the first failure of any VM wins.

        Every VM the host still runs is watched, not only ``vms``: one that reports an
        error or dies ends the wait at once, the others are killed and its diagnosis is
        raised (:class:`VmViolation` for a protocol violation or a region lost under a
        VM, else :class:`VmFailed`). ``on_tick`` runs about every ``poll_s`` seconds.
        ``timeout_s`` bounds the whole wait, or with ``progress`` (e.g. the committed
        head) the time during which its value does not change.
        """
        deadline = time.monotonic() + timeout_s
        last = progress() if progress is not None else 0
        while any(vm.outcome is None for vm in vms):
            if progress is not None and (now := progress()) != last:
                last, deadline = now, time.monotonic() + timeout_s
            gone = next((vm for vm in vms if vm.outcome is None and vm.ended), None)
            if gone is not None:
                self._fail(VmFailed(f"{gone.role} VM was stopped before it sent its result"))
            left = deadline - time.monotonic()
            if left <= 0:
                late = next(vm for vm in vms if vm.outcome is None)
                still = " and no progress" if progress is not None else ""
                self._fail(VmFailed(f"{late.role} VM gave no result{still} within {timeout_s} s"))
            self._poll(min(left, poll_s))
            if on_tick is not None:
                on_tick()
        return [vm.outcome for vm in vms if vm.outcome is not None]

    def _watched(self) -> list[Vm]:
        return [vm for vm in self._vms if not vm.ended]

    def _poll(self, timeout_s: float) -> None:
        """One ``select`` over every watched VM's socket and pidfd; handle what is ready."""
        watched = self._watched()
        fds: dict[int, Vm] = {}
        for vm in watched:
            if vm.outcome is None:
                fds[vm.sock.fileno()] = vm
            if vm.pidfd >= 0:
                fds[vm.pidfd] = vm
        ready: list[int] = []
        if fds:
            ready = select.select(list(fds), [], [], max(0.0, timeout_s))[0]
        else:
            time.sleep(max(0.0, timeout_s))
        hit = list(dict.fromkeys(fds[fd] for fd in ready))
        hit += [  # no pidfd (old kernel): poll
            vm for vm in watched
            if vm.pidfd < 0 and vm not in hit and vm.proc.poll() is not None
        ]
        failures = [f for f in (self._handle(vm) for vm in hit) if f is not None]
        if failures:  # a violation is the diagnosis; deaths and timeouts follow from it
            failures.sort(key=lambda f: not isinstance(f, VmViolation))
            self._fail(failures[0])
        try:
            self.check_region()
        except VmViolation as exc:
            self._fail(exc)

    def _handle(self, vm: Vm) -> VmFailed | None:
        """Read what ``vm`` sent or how it ended; a failure to raise, or ``None``."""
        if vm.outcome is None:
            try:
                vm.sock.settimeout(10.0)
                vm.outcome, _ = recv_frame(vm.sock)
            except (OSError, ConnectionError):
                with contextlib.suppress(subprocess.TimeoutExpired):
                    vm.proc.wait(timeout=5.0)
                return self._died(vm)
            if "error" in vm.outcome:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    vm.proc.wait(timeout=2.0)  # it exits right after reporting (status 3)
                return self._failure(vm, vm.outcome, "reported")
            if vm.proc.poll() is None:
                return None  # it exits right after its result: reaped below or at close
        if vm.proc.poll() is not None:
            self._end(vm)
        return None

    def _region_fault(self) -> VmViolation | None:
        """The region's own fault (shrunk, removed, replaced), if it has one: then that,
        not what a VM made of the zeros or stale words it read, is the diagnosis."""
        if self._region_fd < 0:
            return None
        try:
            self.check_region()
        except VmViolation as fault:
            return fault
        return None

    def _died(self, vm: Vm) -> VmFailed:
        self._end(vm)
        code = vm.proc.returncode
        if code == -signal.SIGBUS:
            return self._truncated(vm.role)
        fault = self._region_fault()
        if fault is not None:
            return fault
        return VmFailed(f"{vm.role} VM (pid {vm.proc.pid}) ended without a result: "
                        f"{_describe(vm.proc)}")

    def _failure(self, vm: Vm, frame: Mapping[str, Any], how: str) -> VmFailed:
        fault = self._region_fault()
        if fault is not None:
            return fault
        v = frame.get("violation")
        text = f"{vm.role} VM {how}: {frame['error']}"
        if isinstance(v, dict):
            return VmViolation(vm.role, str(v["field"]), int(v["value"]), str(v["rule"]), text)
        return VmFailed(text)

    def _fail(self, exc: VmFailed) -> NoReturn:
        """Stop every VM at once, then raise ``exc``."""
        for vm in self._vms:
            self.kill(vm)
        raise exc

    def _end(self, vm: Vm) -> None:
        vm.ended = True
        if vm.pidfd >= 0:
            os.close(vm.pidfd)
            vm.pidfd = -1

    def stop(self, vm: Vm) -> dict[str, Any]:
        """Ask a VM that serves until told (the timer) to stop; returns its result."""
        send_frame(vm.sock, {"cmd": "stop"})
        return self.result(vm, timeout_s=10.0)

    def kill(self, vm: Vm) -> None:
        """SIGKILL the VM's process group (if alive) and reap it."""
        kill_group(vm.proc)
        self._end(vm)
        vm.sock.close()

    def close(self) -> None:
        """Kill every VM still running, release fds, remove temporary files."""
        if self._closed:
            return
        self._closed = True
        for vm in self._vms:
            self.kill(vm)
        self._vms.clear()
        if hasattr(self, "_listener"):
            self._listener.close()
        if hasattr(self, "observer"):
            self.observer.close()
        ours = self._own_region and self._names_our_region()
        if self._region_fd >= 0:
            os.close(self._region_fd)
        self.doorbells.close()
        if ours:  # never remove a file someone else put at the path meanwhile
            self.region_path.unlink(missing_ok=True)
        shutil.rmtree(self._tmp, ignore_errors=True)


def _describe(proc: subprocess.Popen[bytes]) -> str:
    code = proc.poll()
    if code is None:
        return "it is still running"
    if code < 0:
        return f"killed by signal {signal.Signals(-code).name}"
    return f"exit status {code}"
