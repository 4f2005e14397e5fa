"""The host: creates the region and doorbells, starts the VMs, collects results.

Every VM is a separate OS process (``python -m intervm.impl.vm ROLE``) that
receives the eventfds over a unix socket with SCM_RIGHTS. Every wait of the
host is bounded, and :meth:`Host.close` kills whatever is still running.

>>> with Host(HostConfig(capacity=8)) as host:
...     consumer = host.start("consumer", {})
...     producer = host.start("producer", {"requests": 20, "window": 8})
...     p, c = host.result(producer), host.result(consumer)
...     head = host.observer.load("head")
>>> c["stopped"], head, p["irq_notifies"] <= 21
(True, 21, True)
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from intervm.impl.doorbell import Doorbells, recv_frame, send_frame
from intervm.impl.region import DEFAULT_DIR, Region
from intervm.impl.region_file import Existing
from intervm.spec import layout as L


class VmFailed(RuntimeError):
    """A VM process died, hung past its bound, or reported an error."""


@dataclass(frozen=True)
class HostConfig:
    """Region geometry and where the region lives (``None``: a fresh file in /dev/shm,
    removed at close); ``existing`` says whether a given ``region`` path that exists may
    be replaced (default: only an idle intervm region; see :mod:`intervm.impl.region_file`)."""

    capacity: int = 256
    region: Path | None = None
    start_timeout_s: float = 30.0
    existing: Existing = Existing.REUSE


@dataclass
class Vm:
    """A running VM process and its control connection."""

    role: str
    proc: subprocess.Popen[bytes]
    sock: socket.socket
    extra: dict[str, Any] = field(default_factory=dict)


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
        self.doorbells = Doorbells.create(d.name for d in L.build_layout(1).doorbells)
        try:
            existing = Existing.REFUSE if self._own_region else cfg.existing
            self.observer = Region.create(self.region_path, cfg.capacity, existing=existing)
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

    def start(self, role: str, cfg: Mapping[str, Any]) -> Vm:
        """Start one VM, hand it its config and doorbells, wait until it is ready."""
        env = dict(os.environ)
        env[L.REGION_ENV] = str(self.region_path)
        env[L.CONTROL_ENV] = str(self.control_path)
        proc = subprocess.Popen([sys.executable, "-m", "intervm.impl.vm", role], env=env)
        vm = Vm(role, proc, socket.socket())
        self._vms.append(vm)
        try:
            vm.sock, _ = self._listener.accept()
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
            raise VmFailed(
                f"{role} VM (pid {proc.pid}) did not start: {exc}; exit status {proc.poll()}"
            ) from exc
        if "error" in vm.extra:
            raise VmFailed(f"{role} VM failed at start: {vm.extra['error']}")
        return vm

    def result(self, vm: Vm, timeout_s: float = 120.0) -> dict[str, Any]:
        """Wait (bounded) for the VM's result frame and its exit."""
        vm.sock.settimeout(timeout_s)
        try:
            res, _ = recv_frame(vm.sock)
        except (OSError, ConnectionError) as exc:
            self.kill(vm)
            raise VmFailed(f"{vm.role} VM gave no result within {timeout_s} s: {exc}") from exc
        try:
            vm.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill(vm)
        if "error" in res:
            raise VmFailed(f"{vm.role} VM reported: {res['error']}")
        return res

    def stop(self, vm: Vm) -> dict[str, Any]:
        """Ask a VM that serves until told (the timer) to stop; returns its result."""
        send_frame(vm.sock, {"cmd": "stop"})
        return self.result(vm, timeout_s=10.0)

    def kill(self, vm: Vm) -> None:
        """SIGKILL the VM (if alive) and reap it."""
        if vm.proc.poll() is None:
            vm.proc.send_signal(signal.SIGKILL)
            vm.proc.wait(timeout=10.0)
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
        self.doorbells.close()
        if self._own_region:
            self.region_path.unlink(missing_ok=True)
        shutil.rmtree(self._tmp, ignore_errors=True)
