"""SIGTERM, SIGHUP and SIGINT end every command the same way: clean up, then 128 + signo.

While a command runs, the first of these signals becomes :class:`Interrupted` (a
``KeyboardInterrupt``, so no ``except Exception`` swallows it) raised in the main
thread, and every ``finally`` and context manager on the way out runs: VMs and other
children are killed with their process groups, regions, temporary directories and
``.intervm-part-*`` files are removed. Further signals are ignored until that cleanup
is done. The CLI then prints one line and exits with 143 (SIGTERM), 129 (SIGHUP) or
130 (SIGINT), the shell's convention for "ended by signal N".

>>> import os, signal
>>> with converted():
...     try:
...         os.kill(os.getpid(), signal.SIGHUP)
...     except Interrupted as exc:
...         caught = exc
>>> caught.signame, caught.exit_status
('SIGHUP', 129)
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


class Interrupted(KeyboardInterrupt):
    """The command was stopped by signal ``signo``; it exits with ``128 + signo``."""

    def __init__(self, signo: int) -> None:
        super().__init__(signo)
        self.signo = signo

    @property
    def signame(self) -> str:
        return signal.Signals(self.signo).name

    @property
    def exit_status(self) -> int:
        return 128 + self.signo

    def message(self) -> str:
        return (
            f"intervm: stopped by {self.signame}; child processes, temporary files and "
            f"partial outputs were removed (exit status {self.exit_status})"
        )


@contextmanager
def converted() -> Iterator[None]:
    """Turn the first SIGTERM/SIGHUP/SIGINT into :class:`Interrupted` inside the block.

    A signal that is ignored already stays ignored (``nohup`` ignores SIGHUP, a shell
    ignores SIGINT for background jobs). Outside the main thread (where Python cannot
    install handlers) this does nothing. The previous handlers are restored on exit.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired: list[int] = []

    def handler(signo: int, _frame: FrameType | None) -> None:
        if fired:
            return  # cleanup of the first signal is running: do not cut it short
        fired.append(signo)
        raise Interrupted(signo)

    previous = {
        s: signal.signal(s, handler) for s in SIGNALS if signal.getsignal(s) != signal.SIG_IGN
    }
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)
