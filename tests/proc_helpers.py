"""Start ``python -m intervm.cli`` as a real process and find every process it started.

Each CLI process gets a unique token in its environment; every descendant inherits it,
so scanning ``/proc/*/environ`` for the token finds children and grandchildren (VMs,
workers, spin/gcc/pan, the binary under test) without psutil. ``TMPDIR`` is a private,
short directory (linked from the test's own directory as ``tmp-TOKEN``), so the temporary
files a command leaves are easy to see.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

TOKEN_ENV = "INTERVM_TEST_TOKEN"


@dataclass
class Cli:
    """A running ``intervm`` command, its token and its private TMPDIR."""

    proc: subprocess.Popen[bytes]
    token: str
    tmpdir: Path

    def descendants(self) -> list[int]:
        """Pids (other than the CLI) whose environment carries our token."""
        needle = f"{TOKEN_ENV}={self.token}".encode()
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == self.proc.pid:
                continue
            try:
                environ = Path(f"/proc/{entry}/environ").read_bytes()
            except OSError:
                continue  # gone meanwhile, or not ours to read
            if needle in environ.split(b"\0"):
                found.append(int(entry))
        return found

    def env_of(self, pid: int, name: str) -> str | None:
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            return None  # gone meanwhile
        for item in environ.split(b"\0"):
            key, _, value = item.partition(b"=")
            if key == name.encode():
                return value.decode()
        return None

    def env_of_any(self, name: str) -> str | None:
        """``name`` in the environment of any descendant that has it. A child that was
        forked but has not exec'd yet still shows the CLI's environment (the token,
        without what the CLI adds for the child), so "a descendant exists" is not
        "the child runs"."""
        for pid in self.descendants():
            value = self.env_of(pid, name)
            if value is not None:
                return value
        return None

    def cmdline(self, pid: int) -> str:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()

    def finish(self, timeout_s: float = 60.0) -> tuple[int, str, str]:
        """Wait (bounded) for the exit; on a timeout stop the CLI (cleanly) and raise."""
        try:
            out, err = self.proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                self.proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.communicate()
            raise
        return self.proc.returncode, out.decode(), err.decode()


def start_cli(
    args: Sequence[str],
    tmp_path: Path,
    python: Sequence[str] = ("-m", "intervm.cli"),
    new_group: bool = False,
) -> Cli:
    """Start the CLI (``python`` picks how: the module, or ``-c`` code that runs it).

    ``new_group``: in a process group of its own, as a shell starts a foreground job
    (a terminal's Ctrl-C signals that whole group).
    """
    token = uuid.uuid4().hex
    # not inside tmp_path: the CLI binds a Unix socket under TMPDIR, and a socket path
    # holds at most 107 bytes, which pytest-xdist's deeper tmp_path (popen-gwN/) passes
    tmpdir = Path(tempfile.mkdtemp(prefix=f"ivt-{token[:8]}-"))
    (tmp_path / f"tmp-{token[:8]}").symlink_to(tmpdir, target_is_directory=True)
    env = dict(os.environ, **{TOKEN_ENV: token, "TMPDIR": str(tmpdir)})
    proc = subprocess.Popen(
        [sys.executable, *python, *args], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, process_group=0 if new_group else None,
    )
    cli = Cli(proc, token, tmpdir)
    STARTED.append(cli)
    return cli


# CLIs started by the running test; ``reap_started`` (an autouse fixture's teardown)
# kills what a failed assertion left running, so one failure does not leave a
# 600 s run loading the machine for the tests after it
STARTED: list[Cli] = []


def reap_started() -> None:
    """SIGKILL every CLI started since the last call, and its children, if still alive,
    and remove its TMPDIR (the test has checked by now what the CLI left there)."""
    while STARTED:
        cli = STARTED.pop()
        for pid in [cli.proc.pid, *cli.descendants()]:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            cli.proc.communicate(timeout=10)
        shutil.rmtree(cli.tmpdir, ignore_errors=True)


def wait_for(what: str, cli: Cli, ready: Callable[[], bool], timeout_s: float = 60.0) -> None:
    """Wait (bounded) until ``ready()``; fail with the CLI's output if it exited first."""
    deadline = time.monotonic() + timeout_s
    while not ready():
        if cli.proc.poll() is not None:
            code, out, err = cli.finish()
            raise AssertionError(f"the CLI exited ({code}) before {what}: {out} {err}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout_s} s")
        time.sleep(0.02)
