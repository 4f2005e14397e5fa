"""Output files of every command: written whole or not at all, never through a link.

The rule (README "Output files"): an output is written to a temporary file in the
target's directory, flushed to disk and renamed over the target, so the path holds
either the old file or the complete new one. An existing regular file is replaced
(keeping its permission bits); a symbolic link, a directory or a device at the path is
refused, never followed. Every failure is one :class:`OutputError` line naming the
option, the path, what is wrong and what to do; the temporary file is removed on every
exit path (an exception, ``KeyboardInterrupt``, ``SystemExit`` from a signal handler).

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> write_output(folder / "r.json", "{}", "--json")
>>> (folder / "r.json").read_text(), sorted(p.name for p in folder.iterdir())
('{}', ['r.json'])
>>> try:
...     write_output(folder / "no" / "r.json", "{}", "--json")
... except OutputError as e:
...     print(str(e).replace(str(folder), "D"))
cannot write --json D/no/r.json: directory D/no does not exist; create it or choose another path
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from intervm.spec.errors import IntervmError


class OutputError(IntervmError, OSError):
    """An output file cannot be written (the message says which, why and what to do)."""


def _fail(what: str, path: Path, problem: str, remedy: str) -> OutputError:
    label = f"{what} {path}" if what else str(path)
    return OutputError(f"cannot write {label}: {problem}; {remedy}")


def check_output(path: Path, what: str = "") -> None:
    """Raise :class:`OutputError` now if ``path`` cannot become an output file (run it
    before long work so a typo costs nothing); :func:`write_output` checks again."""
    _check_place(path, what)
    fd, probe = _new_temp(path, what)  # a real probe: permission bits do not stop root
    os.close(fd)
    _unlink(probe)


def _check_place(path: Path, what: str) -> None:
    """The directory exists and the path is free or a regular file."""
    folder = path.parent
    try:
        fst = os.stat(folder)
    except FileNotFoundError:
        raise _fail(what, path, f"directory {folder} does not exist",
                    "create it or choose another path") from None
    except NotADirectoryError:
        raise _fail(what, path, f"{_first_non_dir(folder)} is not a directory",
                    "choose a path inside a directory") from None
    except OSError as exc:
        raise _fail(what, path, f"directory {folder} cannot be searched ({exc.strerror})",
                    "choose another path") from None
    if not stat.S_ISDIR(fst.st_mode):
        raise _fail(what, path, f"{folder} is not a directory",
                    "choose a path inside a directory")
    _check_target(path, what)


def _check_target(path: Path, what: str) -> None:
    """The path is free or a regular file (never a link, directory or device)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise _fail(what, path, exc.strerror or str(exc), "choose another path") from None
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            raise _fail(what, path, f"it is a symbolic link (to {os.readlink(path)}); "
                        "outputs never follow or replace links",
                        "give the link's target or a new path")
        if stat.S_ISDIR(st.st_mode):
            raise _fail(what, path, "it is a directory", "give a file name inside it")
        if not stat.S_ISREG(st.st_mode):
            raise _fail(what, path, "it is not a regular file (a device, FIFO or socket)",
                        "give the path of a regular file")


def _new_temp(path: Path, what: str) -> tuple[int, Path]:
    """A new empty temporary file next to ``path``, open (mode 0600, ``O_EXCL``)."""
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _fail(what, path, f"cannot create a file in {path.parent} ({exc.strerror})",
                    "choose a writable directory with free space") from None
    return fd, Path(name)


def _unlink(tmp: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()


def _first_non_dir(folder: Path) -> Path:
    """The first ancestor of ``folder`` that exists but is not a directory."""
    for p in reversed((folder, *folder.parents)):
        if p.exists() and not p.is_dir():
            return p
    return folder


def write_output(path: Path, data: bytes | str, what: str = "") -> None:
    """Write ``data`` (``str``: UTF-8) to ``path`` by the rule in the module docstring."""
    with output_file(path, what) as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)


@contextlib.contextmanager
def output_file(path: Path, what: str = "") -> Iterator[BinaryIO]:
    """A binary file that becomes ``path`` when the block ends normally (for writers
    such as matplotlib that want a file object); nothing changes if it raises."""
    _check_place(path, what)
    fd, tmp = _new_temp(path, what)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fchmod(f.fileno(), _mode_for(path))
            os.fsync(f.fileno())
        _check_target(path, what)  # nothing became a link or directory meanwhile
        os.replace(tmp, path)
        _sync_dir(path.parent)
    except OSError as exc:
        if isinstance(exc, OutputError):
            raise
        raise _fail(what, path, exc.strerror or str(exc),
                    "check the directory, its permissions and free space") from None
    finally:
        _unlink(tmp)


def _mode_for(path: Path) -> int:
    """The permission bits of the file being replaced, or what ``open()`` would make."""
    with contextlib.suppress(FileNotFoundError):
        return stat.S_IMODE(os.lstat(path).st_mode)
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _sync_dir(folder: Path) -> None:
    """Make the rename durable (best effort: some file systems refuse to fsync a dir)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
