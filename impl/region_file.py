"""The region's file on disk: made without clobbering anything, recognised by its header.

A new region file is created with ``O_CREAT | O_EXCL | O_NOFOLLOW`` (a symlink, even a
dangling one, is never followed). An existing path is replaced only when the caller
allows it (:class:`Existing`), and then by a fresh file renamed over it, so a process
still mapping the old region keeps its own copy and the path never holds half a header.
Symbolic links, directories and devices are never replaced. A region that a live
:class:`~intervm.impl.region.Region` created is locked (``flock``) and not replaced.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> (folder / "notes.txt").write_text("keep me")
7
>>> try:
...     with new_region_file(folder / "notes.txt", 384, Existing.REUSE):
...         pass
... except RegionPathRefused as e:
...     print(e.reason)
it is not an intervm region (no header magic)
>>> (folder / "notes.txt").read_text()
'keep me'
"""

from __future__ import annotations

import contextlib
import enum
import errno
import fcntl
import os
import secrets
import stat
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import assert_never

from intervm.impl.errors import ProtocolViolation
from intervm.spec import layout as L

_HEADER = struct.Struct("<QIIIIQ")  # magic, version, capacity, slot_size, reserved0, total
_CREATE_NEW = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class Existing(enum.Enum):
    """What creating a region does when its path already exists."""

    REFUSE = "refuse"
    """Never replace anything (the path must be new)."""
    REUSE = "reuse"
    """Replace an idle intervm region (valid v1 header, exact size); refuse anything else."""
    FORCE = "force"
    """Replace any idle regular file (never a symlink, directory or device)."""


class RegionPathRefused(FileExistsError):
    """The region path holds something that must not be replaced.

    ``path`` is the path, ``reason`` says what is there, ``remedy`` what to do.
    """

    def __init__(self, path: Path, reason: str, remedy: str) -> None:
        self.path = path
        self.reason = reason
        self.remedy = remedy
        super().__init__(f"refusing to overwrite {path}: {reason}; {remedy}")


def header_layout(words: tuple[int, int, int, int, int, int], size: int) -> L.Layout:
    """The layout a v1 header describes (``words`` = magic, version, capacity, slot_size,
    reserved0, total_size; ``size`` = the file's size); ``ProtocolViolation`` if invalid."""
    magic, version, capacity, slot_size, reserved, total = words
    if magic != L.MAGIC:
        raise ProtocolViolation("magic", magic, f"must be {L.MAGIC:#x} ('IVMSHMv1')")
    if version != L.LAYOUT_VERSION:
        raise ProtocolViolation(
            "version", version, f"this implementation speaks layout v{L.LAYOUT_VERSION} only"
        )
    if reserved != 0:
        raise ProtocolViolation("reserved0", reserved, "must be 0 in layout v1")
    try:
        L.check_geometry(capacity, L.SLOT_WORDS_SIZE)
    except ValueError as exc:
        raise ProtocolViolation("capacity", capacity, str(exc)) from None
    try:
        L.check_geometry(capacity, slot_size)
    except ValueError as exc:
        raise ProtocolViolation("slot_size", slot_size, str(exc)) from None
    expected = L.total_size_for(capacity, slot_size)
    if total != expected:
        raise ProtocolViolation(
            "total_size", total, f"capacity {capacity} x slot_size {slot_size} needs {expected}"
        )
    if size != total:
        raise ProtocolViolation(
            "total_size", total, f"the region file is {size} bytes, not total_size"
        )
    return L.build_layout(capacity, slot_size)


def lock_shared(fd: int) -> None:
    """Mark the region open on ``fd`` as in use (released when every copy of fd closes)."""
    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)


@contextlib.contextmanager
def new_region_file(path: Path, size: int, existing: Existing = Existing.REFUSE) -> Iterator[int]:
    """Yield the fd of a fresh zero-filled ``size``-byte file that is ``path`` once the
    block exits normally; on any exception nothing at ``path`` has changed.

    The fd holds a shared lock (:func:`lock_shared`) and is closed when the block ends.
    """
    checked = _check_existing(path, existing)
    # a new path is created in place; an existing one is replaced by a renamed temporary
    where = path if checked is None else path.with_name(
        f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = _open_new(where, path)
    try:
        os.ftruncate(fd, size)
        lock_shared(fd)
        yield fd
        if checked is not None:
            if _identity(os.lstat(path)) != checked:
                raise RegionPathRefused(path, "it changed while the new region was prepared",
                                        "make sure nothing else writes there and retry")
            os.replace(where, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(where)
        raise
    finally:
        os.close(fd)


def _open_new(where: Path, path: Path) -> int:
    try:
        return os.open(where, _CREATE_NEW, 0o600)
    except FileExistsError:  # appeared since we looked, or a symlink
        raise RegionPathRefused(path, "it appeared while the region was created",
                                "make sure nothing else creates it and retry") from None


def _identity(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def _check_existing(path: Path, existing: Existing) -> tuple[int, int] | None:
    """``None`` if ``path`` is free; else the (dev, inode) that may be replaced."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(st.st_mode):
        raise RegionPathRefused(
            path, f"it is a symbolic link (to {os.readlink(path)}), which intervm never "
            "follows or replaces", "give a new path or the link's target itself")
    if not stat.S_ISREG(st.st_mode):
        raise RegionPathRefused(path, f"it is {_kind(st.st_mode)}, not a regular file",
                                "choose a new path")
    match existing:
        case Existing.REFUSE:
            raise RegionPathRefused(path, "it already exists", "choose a new path")
        case Existing.REUSE:
            problem = _not_a_region(path)
            if problem is not None:
                raise RegionPathRefused(path, problem, "choose a new path or pass --force "
                                        "to replace it")
        case Existing.FORCE:
            pass
        case _:
            assert_never(existing)
    _check_idle(path)
    return _identity(st)


def _not_a_region(path: Path) -> str | None:
    """Why the regular file at ``path`` is not an intervm region (``None``: it is one)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        size = os.fstat(fd).st_size
        raw = os.pread(fd, _HEADER.size, 0)
    finally:
        os.close(fd)
    if len(raw) < 8 or int.from_bytes(raw[:8], "little") != L.MAGIC:
        return "it is not an intervm region (no header magic)"
    if len(raw) < _HEADER.size:
        return f"it starts with the intervm magic but is only {size} bytes"
    try:
        header_layout(_HEADER.unpack(raw), size)
    except ProtocolViolation as exc:
        return (f"it starts with the intervm magic but its header is invalid "
                f"({exc.field} = {exc.value}: {exc.rule})")
    return None


def _check_idle(path: Path) -> None:
    """Refuse a file that a live Region (any process) still holds locked."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise
        raise RegionPathRefused(path, "it is in use by a running intervm (locked)",
                                "wait until that run ends or choose a new path") from None
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"
