"""Entry points of the three VM processes: ``python -m intervm.impl.vm ROLE``.

Each VM finds the region in ``$INTERVM_REGION``, connects to the host's
control socket ``$INTERVM_CONTROL``, announces itself, receives its config
and the doorbell eventfds (SCM_RIGHTS), runs, and sends one result frame.
Protocol errors are reported in that frame (exit status 3), never as a crash; a
protocol violation also carries its ``field``, ``value`` and ``rule``, so the host can
name them. A VM whose host is gone (its control socket closed) says so in one line on
stderr (exit status 4), never with a traceback. A VM runs in its own process group and
is SIGKILLed by the kernel if the host dies (:mod:`intervm.impl.children`).

>>> sorted(ROLES)
['consumer', 'producer', 'timer']
"""

from __future__ import annotations

import base64
import os
import select
import socket
import struct
import sys
import time
from array import array
from collections.abc import Callable, Mapping
from typing import Any

from intervm.impl import coalescing as co
from intervm.impl import timer as tm
from intervm.impl.doorbell import Doorbells, recv_frame, send_frame
from intervm.impl.errors import PeerTimeout, ProtocolViolation
from intervm.impl.profiler import Clock, consumer_stamps
from intervm.impl.region import Region
from intervm.spec import layout as L

Config = Mapping[str, Any]
Result = dict[str, Any]


def variant_from(cfg: Config) -> co.Variant:
    """Decode the variant knobs of a config frame."""
    v = cfg.get("variant", {})
    return co.Variant(
        producer_fence=co.ProducerFence(v.get("producer_fence", "full")),
        consumer_fence=bool(v.get("consumer_fence", True)),
        recheck=bool(v.get("recheck", True)),
        order=co.Order(v.get("order", "arm-then-check")),
        always_notify=bool(v.get("always_notify", False)),
    )


def variant_to(v: co.Variant) -> dict[str, Any]:
    """Encode variant knobs for a config frame."""
    return {
        "producer_fence": v.producer_fence.value,
        "consumer_fence": v.consumer_fence,
        "recheck": v.recheck,
        "order": v.order.value,
        "always_notify": v.always_notify,
    }


def bounds_from(cfg: Config) -> co.Bounds:
    return co.Bounds(float(cfg.get("slice_s", 0.05)), int(cfg.get("max_slices", 600)))


# ------------------------------------------------------------------- timer VM
def run_timer(region: Region, control: socket.socket, cfg: Config) -> Result:
    """Publish the tick on a monotonic-deadline periodic timer; answer socket queries.

    The tick is the number of whole periods since start (+1), so a late wake-up
    publishes the true count (several ticks at once) instead of drifting.
    """
    tick_ns = int(cfg["tick_ns"])
    query = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    query.bind(str(cfg["query_socket"]))
    query.listen(8)
    clients: list[socket.socket] = []
    writer = tm.WriterState.attach(region)
    tm.start(region, tick_ns)
    t0 = time.monotonic_ns()
    tick = 1
    tm.publish(region, writer, tick)
    publishes, late = 1, 0
    send_frame(control, {"ready": True})
    next_ns = t0 + tick_ns
    while True:
        timeout = max(0.0, (next_ns - time.monotonic_ns()) / 1e9)
        ready, _, _ = select.select([control, query, *clients], [], [], timeout)
        for sock in ready:
            if sock is control:
                recv_frame(control)  # the only command is "stop"
                query.close()
                for c in clients:
                    c.close()
                return {"publishes": publishes, "late": late, "tick": tick}
            if sock is query:
                clients.append(query.accept()[0])
                continue
            try:  # a client that hung up (or reset) is dropped, never a crash
                if sock.recv(1):
                    sock.sendall(struct.pack("<Q", tick))
                    continue
            except OSError:
                pass
            clients.remove(sock)
            sock.close()
        now = time.monotonic_ns()
        if now >= next_ns:
            new_tick = (now - t0) // tick_ns + 1
            late += new_tick - tick > 1
            tick = new_tick
            tm.publish(region, writer, tick)
            publishes += 1
            next_ns = t0 + (tick) * tick_ns


# ---------------------------------------------------------------- consumer VM
def run_consumer(region: Region, control: socket.socket, cfg: Config) -> Result:
    """Serve requests until the stop request; optionally log ids and stamp latencies."""
    st = co.ConsumerState.attach(region, region.layout.capacity)
    variant = variant_from(cfg)
    profile = bool(cfg.get("profile", False))
    clock = Clock(region)
    stamps = array("Q")
    log_path = cfg.get("log_path")
    log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600) if log_path else -1
    pack = struct.Struct("<Q").pack

    def handle(req: co.Request) -> None:
        if log_fd >= 0:
            os.write(log_fd, pack(req.request_id))
        if profile:
            start = clock.now()
            done = clock.now()
            s = consumer_stamps(req.request_id, req.stamp, start, done)
            stamps.extend((s.request_id, s.submit, s.start, s.done))

    send_frame(control, {"ready": True, "head": st.head})
    idle_polls = int(cfg.get("idle_polls", 0))
    stopped = co.run_consumer(region, st, variant, handle, bounds_from(cfg), idle_polls)
    if log_fd >= 0:
        os.close(log_fd)
    return {
        "stopped": stopped,
        "sleeps": st.sleeps,
        "wakeups": st.wakeups,
        "timeout_finds": st.timeout_finds,
        "done_notifies": st.done_notifies,
        "stamps": base64.b64encode(stamps.tobytes()).decode(),
    }


# ---------------------------------------------------------------- producer VM
def run_producer(region: Region, control: socket.socket, cfg: Config) -> Result:
    """Push ``requests`` ids with at most ``window`` outstanding, then the stop request."""
    st = co.ProducerState.attach(region, region.layout.capacity)
    variant = variant_from(cfg)
    bounds = bounds_from(cfg)
    n, window = int(cfg["requests"]), int(cfg["window"])
    first = int(cfg.get("first_id", 0))
    stamp: Callable[[], int] = Clock(region).now if cfg.get("profile") else (lambda: 0)
    send_frame(control, {"ready": True})
    t0 = time.perf_counter()
    co.push(region, st, variant, range(first, first + n), window, stamp, bounds)
    co.wait_for_head(region, st, 0, bounds)
    elapsed = time.perf_counter() - t0
    irq = st.irq_notifies
    if cfg.get("send_stop", True):
        co.push(region, st, variant, [L.STOP_REQUEST_ID], window, lambda: 0, bounds)
        co.wait_for_head(region, st, 0, bounds)
    return {"elapsed_s": elapsed, "irq_notifies": irq, "done_waits": st.done_waits}


ROLES = ("consumer", "producer", "timer")


def _entry(role: str) -> Callable[[Region, socket.socket, Config], Result]:
    match role:
        case "consumer":
            return run_consumer
        case "producer":
            return run_producer
        case "timer":
            return run_timer
        case _:
            raise ValueError(f"unknown VM role {role!r}; expected one of {', '.join(ROLES)}")


def main(role: str) -> int:
    """Run one VM; returns the process exit status.

    0: done; 3: a protocol error, reported in the result frame; 4: the host is gone
    (the control socket is closed), said in one line on stderr, never a traceback.
    """
    entry = _entry(role)
    control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        control.connect(os.environ[L.CONTROL_ENV])
        send_frame(control, {"hello": role, "pid": os.getpid()})
        cfg, fds = recv_frame(control, max_fds=2)
    except OSError as exc:  # ConnectionError included: the host went away
        return _host_gone(role, exc, "before its config")
    bells = Doorbells({d.name: fds[d.fd_position] for d in L.build_layout(1).doorbells})
    status = 0
    try:
        region = Region.attach(os.environ[L.REGION_ENV], doorbells=bells)
        if cfg.get("cpu") is not None:
            os.sched_setaffinity(0, {int(cfg["cpu"])})
        result = entry(region, control, cfg)
    except ProtocolViolation as exc:
        violation = {"field": exc.field, "value": exc.value, "rule": exc.rule}
        result, status = {"error": f"{type(exc).__name__}: {exc}", "violation": violation}, 3
    except (PeerTimeout, OSError) as exc:  # OSError: region gone, control socket closed
        result, status = {"error": f"{type(exc).__name__}: {exc}"}, 3
    try:
        send_frame(control, result)
    except OSError as exc:
        what = result.get("error", "its result")
        return _host_gone(role, exc, f"so it could not report: {what}")
    return status


def _host_gone(role: str, exc: OSError, what: str) -> int:
    """Say in one line on stderr that the host's control socket is closed; status 4."""
    reason = exc.strerror or str(exc)
    print(
        f"{role} VM (pid {os.getpid()}): the host's control socket is closed ({reason}) "
        f"{what}; the host is gone or stopped the run, so this VM stops too",
        file=sys.stderr,
    )
    return 4


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
