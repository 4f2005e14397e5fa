"""Start a binary under test with the region and doorbells, and read its report lines.

The handoff (documented for third parties in ``docs/conformance-live.md``): the
tester creates the region file and two eventfds, then starts the binary with the
fds inherited (``pass_fds``; their numbers are in the environment) and

====================  ===============================================================
``INTERVM_REGION``    path of the region file (layout v1, header already valid)
``INTERVM_ROLE``      the binary's role: producer, consumer, timer-writer, timer-reader
``INTERVM_IRQ_FD``    fd number of the ``irq`` eventfd; ``INTERVM_DONE_FD`` of ``done``
``INTERVM_TIMEOUT_MS`` bound on every wait of the binary for its peer
``INTERVM_REQUESTS``  producer: submit ids 0..N-1 then the stop request
``INTERVM_PUBLISHES`` timer writer: publish k = 1..K as tick ``k << 32 | k``
``INTERVM_READS``     timer reader: accept this many ticks
====================  ===============================================================

The binary writes one line per event on stdout and exits 0 (done), 3 (it detected a
protocol violation by its peer) or 4 (its peer timed out):

>>> parse_line("consumed 17")
Line(kind='consumed', value=17, text='')
>>> parse_line("violation tail 4294967295 moved backwards")
Line(kind='violation', value=4294967295, text='tail moved backwards')
>>> parse_line("hello")
Traceback (most recent call last):
...
ValueError: report line 'hello' is not one of: consumed ID, tick VALUE, violation FIELD VALUE WHY, error WHY
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from intervm.impl.children import kill_group, spawn

ROLES = ("producer", "consumer", "timer-writer", "timer-reader")
EXIT_DONE, EXIT_VIOLATION, EXIT_PEER_TIMEOUT = 0, 3, 4
MAX_LINE = 4096
MAX_LINES = 5_000_000
U64 = (1 << 64) - 1


class HandoffError(Exception):
    """The binary cannot be started (missing, not executable, bad arguments)."""


@dataclass(frozen=True, slots=True)
class Line:
    """One report line: ``kind`` and its decimal ``value`` (``None`` for ``error``)."""

    kind: str
    value: int | None
    text: str


def _u64(word: str, line: str) -> int:
    if not word.isdigit() or int(word) > U64:
        raise ValueError(f"report line {line!r}: {word!r} is not a decimal u64")
    return int(word)


def parse_line(line: str) -> Line:
    """Parse one stdout line of the binary; ``ValueError`` names what is wrong."""
    kind, _, rest = line.strip().partition(" ")
    match kind:
        case "consumed" | "tick":
            return Line(kind, _u64(rest.strip(), line), "")
        case "violation":
            parts = rest.split(" ", 2)
            if len(parts) < 2:
                raise ValueError(f"report line {line!r}: expected violation FIELD VALUE WHY")
            return Line(kind, _u64(parts[1], line), " ".join([parts[0], *parts[2:]]))
        case "error":
            return Line(kind, None, rest.strip())
        case _:
            raise ValueError(
                f"report line {line!r} is not one of: consumed ID, tick VALUE, "
                "violation FIELD VALUE WHY, error WHY"
            )


def check_binary(argv: Sequence[str]) -> Path:
    """The binary's path if it exists and is executable; ``HandoffError`` otherwise."""
    if not argv:
        raise HandoffError("no binary given: put it after `--`, e.g. -- ./consumer ARGS")
    path = Path(argv[0])
    if "/" not in argv[0]:
        found = shutil.which(argv[0])
        if found is None:
            raise HandoffError(f"binary {argv[0]!r} is not on PATH; give its path, e.g. ./{argv[0]}")
        path = Path(found)
    if not path.exists():
        raise HandoffError(f"binary {str(path)!r} does not exist; build it first (see docs/conformance-live.md)")
    if path.is_dir() or not os.access(path, os.X_OK):
        raise HandoffError(f"binary {str(path)!r} is not an executable file; chmod +x it or build it")
    return path


@dataclass(frozen=True, slots=True)
class Exit:
    """How the child ended: ``code`` (>= 0), ``signal`` (> 0), or ``hung`` (we killed it)."""

    code: int | None
    signal: int | None
    hung: bool

    def describe(self) -> str:
        if self.hung:
            return "did not exit within its bound (killed)"
        if self.signal is not None:
            return f"crashed with signal {signal.Signals(self.signal).name}"
        return f"exited with status {self.code}"


class Child:
    """A running binary under test: stdout lines with arrival times, SIGSTOP/SIGCONT.

    It runs in its own session (so its own process group) and is SIGKILLed by the
    kernel if the tester dies; :meth:`close` kills its whole group.
    """

    def __init__(self, argv: Sequence[str], env: Mapping[str, str], fds: Sequence[int]) -> None:
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the child)
        full_env = dict(os.environ)
        full_env.update(env)
        try:
            self.proc = spawn(
                list(argv), env=full_env, pass_fds=tuple(fds), stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=self._stderr, start_new_session=True,
            )
        except OSError as exc:
            self._stderr.close()
            raise HandoffError(f"cannot start {argv[0]!r}: {exc.strerror}") from None
        self.pid = self.proc.pid
        self.started = time.monotonic()
        self.lines: list[tuple[float, str]] = []
        self.overflow = False
        self._lock = threading.Lock()
        self._stopped = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            now = time.monotonic()
            if not raw.endswith(b"\n"):
                break  # cut off by the binary's death: not a complete report line
            text = raw[:MAX_LINE].decode("utf-8", "replace").rstrip("\n")
            with self._lock:
                if len(self.lines) >= MAX_LINES:
                    self.overflow = True
                    continue
                self.lines.append((now, text))

    def snapshot(self) -> list[tuple[float, str]]:
        with self._lock:
            return list(self.lines)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def pause(self) -> bool:
        """SIGSTOP the binary (True if it was running)."""
        if not self.alive():
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGSTOP)
            self._stopped = True
        return self._stopped

    def resume(self) -> None:
        if self._stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGCONT)
            self._stopped = False

    def finish(self, timeout_s: float) -> Exit:
        """Wait (bounded) for the exit; kill the binary if it does not exit in time."""
        self.resume()
        hung = False
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            hung = True
            kill_group(self.proc)
        self._reader.join(timeout=5.0)
        rc = self.proc.returncode
        return Exit(rc if rc >= 0 else None, -rc if rc < 0 else None, hung)

    def stderr_tail(self, limit: int = 300) -> str:
        self._stderr.seek(0, os.SEEK_END)
        size = self._stderr.tell()
        self._stderr.seek(max(0, size - limit))
        text = self._stderr.read().decode("utf-8", "replace")
        return " ".join(text.split())

    def close(self) -> None:
        if self.alive():
            self.resume()
        kill_group(self.proc)  # the binary and anything it started
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr.close()
