"""Child processes that never outlive intervm.

Every child intervm starts (the VM processes of ``intervm run``, the binary under test
of ``intervm conformance run``, spin/gcc/pan, the ``verify --jobs`` workers) runs in
its own process group, so a terminal's Ctrl-C reaches intervm alone (which then stops
the children itself and cleans up), and asks the kernel to SIGKILL it the moment
intervm dies (Linux ``PR_SET_PDEATHSIG``), so even a SIGKILLed intervm leaves no
orphan behind. :func:`kill_group` ends a child together with everything it started.
The kernel sends that signal when the *thread* that started the child ends, so start
children from a thread that outlives them (intervm starts them all from the main
thread).

>>> import sys
>>> code = "import os; print(os.getpgid(0) == os.getpid())"
>>> child = spawn([sys.executable, "-c", code], stdout=subprocess.PIPE)
>>> child.communicate(timeout=60)[0]
b'True\\n'
>>> done = run([sys.executable, "-c", "import time; time.sleep(60)"], timeout=0.5)
Traceback (most recent call last):
...
subprocess.TimeoutExpired: Command '...' timed out after 0.5 seconds
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from typing import Any

PR_SET_PDEATHSIG = 1
REAP_TIMEOUT_S = 10.0


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """libc's ``prctl`` (``None`` where there is none: not Linux)."""
    try:
        func: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return func


def die_with_parent(parent: int) -> None:
    """Have the kernel SIGKILL this process when ``parent`` (its parent) dies.

    Called in the child: before ``exec`` (see :func:`spawn`) or first thing in a
    Python worker. If the parent is already gone the child exits at once (status 1),
    so the window between fork and this call leaves no orphan either.
    """
    prctl = _prctl()
    if prctl is not None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def spawn(argv: Sequence[str], **popen: Any) -> subprocess.Popen[Any]:
    """``subprocess.Popen`` in a new process group, killed by the kernel when we die.

    Keyword arguments go to ``Popen``; ``start_new_session=True`` (a new session is
    also a new group) may replace the default ``process_group=0``.
    """
    if not popen.get("start_new_session"):
        popen.setdefault("process_group", 0)
    parent = os.getpid()
    _prctl()  # load libc here: the forked child must not take the loader's lock
    return subprocess.Popen(list(argv), preexec_fn=lambda: die_with_parent(parent), **popen)


def kill_group(proc: subprocess.Popen[Any], timeout_s: float = REAP_TIMEOUT_S) -> None:
    """SIGKILL the child's process group (the child and all it started), then reap it."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()  # not a group leader after all (it left its group)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=timeout_s)


def run(
    argv: Sequence[str],
    *,
    timeout: float,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Like ``subprocess.run(capture_output=True, text=True)`` over :func:`spawn`.

    On a timeout, an interrupt or any other exception the whole process group is
    killed before the exception propagates, so no compiler or search survives us.
    """
    with spawn(
        argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    ) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except BaseException:
            kill_group(proc)
            raise
    return subprocess.CompletedProcess(list(argv), proc.returncode, out, err)
