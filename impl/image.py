"""Pack, list and extract single-volume image bundles (format: ``intervm.spec.image_format``).

The image is untrusted.  :func:`extract` validates the whole index before it
creates anything, writes every file under a temporary name inside the target
directory (``openat`` with ``O_EXCL | O_NOFOLLOW``), publishes them only when all
are written, and removes everything it created if anything fails.  Data is copied
in constant memory: ``os.copy_file_range``, else ``os.sendfile``, else a bounded
``pread``/``pwrite`` loop.  The image may be a regular file or a block device.

>>> import tempfile
>>> from pathlib import Path
>>> tmp = Path(tempfile.mkdtemp())
>>> (tmp / "src").mkdir()
>>> (tmp / "src" / "greeting.txt").write_bytes(b"hello")
5
>>> [e.name for e in pack(tmp / "src", tmp / "bundle.img")]
['greeting.txt']
>>> [(e.name, e.size, e.offset) for e in list_entries(tmp / "bundle.img")]
[('greeting.txt', 5, 4096)]
>>> result = extract(tmp / "bundle.img", tmp / "out")
>>> (tmp / "out" / "greeting.txt").read_bytes(), result.total_bytes
(b'hello', 5)
"""

from __future__ import annotations

import contextlib
import ctypes
import enum
import errno
import os
import secrets
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, assert_never

from intervm.spec.image_format import (
    HEADER_SIZE,
    MAX_IMAGE_SIZE,
    Entry,
    Header,
    ImageError,
    ImageFormatError,
    ImagePackError,
    ImageRequestError,
    ImageTargetError,
    align_up,
    data_end,
    default_slots,
    derive_offsets,
    encode_index,
    index_end,
    parse_header,
    parse_index,
)

__all__ = [
    "CopyMethod",
    "Entry",
    "ExtractResult",
    "ImageError",
    "ImageFormatError",
    "ImagePackError",
    "ImageRequestError",
    "ImageTargetError",
    "Index",
    "Progress",
    "SourceKind",
    "extract",
    "list_entries",
    "pack",
    "read_index",
]

CHUNK = 8 << 20
"""Most bytes moved per system call (and between progress reports)."""

TEMP_PREFIX = ".intervm-part-"

_CREATE_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC

StrPath = str | os.PathLike[str]


class SourceKind(enum.Enum):
    """What the image path refers to."""

    REGULAR = "regular file"
    BLOCK = "block device"


class CopyMethod(enum.Enum):
    """How bytes are moved, fastest first; a copy falls back down this list."""

    COPY_FILE_RANGE = "copy_file_range"
    SENDFILE = "sendfile"
    READ_WRITE = "read/write"


@dataclass(frozen=True)
class Index:
    """A validated index: header, entries with derived offsets, and the image's length."""

    header: Header
    entries: tuple[Entry, ...]
    image_len: int
    kind: SourceKind


@dataclass(frozen=True)
class Progress:
    """Progress report passed to callbacks after each chunk and each finished file."""

    entry: Entry
    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True)
class ExtractResult:
    """What :func:`extract` wrote."""

    entries: tuple[Entry, ...]
    total_bytes: int
    method: CopyMethod
    kind: SourceKind


# ---------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class _Source:
    fd: int
    length: int
    kind: SourceKind
    label: str


def _is_block_device(mode: int) -> bool:
    """``stat.S_ISBLK``; a separate function so tests can simulate a block device."""
    return stat.S_ISBLK(mode)


def _source_kind(mode: int, label: str) -> SourceKind:
    if _is_block_device(mode):
        return SourceKind.BLOCK
    if stat.S_ISREG(mode):
        return SourceKind.REGULAR
    raise ImageFormatError(
        "is neither a regular file nor a block device",
        "pass the image file or the disk holding it",
        source=label,
    )


def _source_length(fd: int, kind: SourceKind, st: os.stat_result) -> int:
    match kind:
        case SourceKind.REGULAR:
            return st.st_size
        case SourceKind.BLOCK:
            return os.lseek(fd, 0, os.SEEK_END)
        case _:
            assert_never(kind)


@contextlib.contextmanager
def _open_source(image: StrPath) -> Iterator[_Source]:
    label = os.fsdecode(image)
    # O_NONBLOCK: opening a FIFO by mistake must not hang; it is refused just below.
    fd = os.open(image, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        kind = _source_kind(st.st_mode, label)
        yield _Source(fd, _source_length(fd, kind, st), kind, label)
    finally:
        os.close(fd)


def _pread_exact(source: _Source, count: int, offset: int) -> bytes:
    parts: list[bytes] = []
    got = 0
    while got < count:
        part = os.pread(source.fd, count - got, offset + got)
        if not part:
            raise ImageFormatError(
                f"ended at byte {offset + got} while reading the index ({count} bytes from "
                f"{offset}), so it shrank while being read",
                "make sure nothing modifies the image during extraction",
                source=source.label,
            )
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _read_index(source: _Source) -> Index:
    head = _pread_exact(source, min(HEADER_SIZE, source.length), 0)
    header = parse_header(head, source.length, source.label)
    raw = _pread_exact(source, index_end(header.slots), 0)
    entries = parse_index(raw, header, source.length, source.label)
    return Index(header, entries, source.length, source.kind)


def read_index(image: StrPath) -> Index:
    """Open ``image`` (file or block device) and validate its whole index."""
    with _open_source(image) as source:
        return _read_index(source)


def list_entries(image: StrPath) -> tuple[Entry, ...]:
    """The entries of ``image``, in order, after full validation."""
    return read_index(image).entries


# ------------------------------------------------------------------------------- copy

_FALLBACK_ERRNOS = frozenset(
    {errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EBADF}
)


def _next_method(method: CopyMethod) -> CopyMethod | None:
    match method:
        case CopyMethod.COPY_FILE_RANGE:
            return CopyMethod.SENDFILE if hasattr(os, "sendfile") else CopyMethod.READ_WRITE
        case CopyMethod.SENDFILE:
            return CopyMethod.READ_WRITE
        case CopyMethod.READ_WRITE:
            return None
        case _:
            assert_never(method)


def _first_method() -> CopyMethod:
    if hasattr(os, "copy_file_range"):
        return CopyMethod.COPY_FILE_RANGE
    return CopyMethod.SENDFILE if hasattr(os, "sendfile") else CopyMethod.READ_WRITE


def _copy_step(method: CopyMethod, src: int, src_off: int, dst: int, dst_off: int, n: int) -> int:
    match method:
        case CopyMethod.COPY_FILE_RANGE:
            return os.copy_file_range(src, dst, n, src_off, dst_off)
        case CopyMethod.SENDFILE:
            os.lseek(dst, dst_off, os.SEEK_SET)
            return os.sendfile(dst, src, src_off, n)
        case CopyMethod.READ_WRITE:
            data = os.pread(src, n, src_off)
            return os.pwrite(dst, data, dst_off) if data else 0
        case _:
            assert_never(method)


class _Span(NamedTuple):
    """Copy ``size`` bytes from ``src`` at ``src_off`` to ``dst`` at ``dst_off``."""

    src: int
    src_off: int
    dst: int
    dst_off: int
    size: int


def _copy(span: _Span, method: CopyMethod, on_bytes: Callable[[int], None]) -> CopyMethod:
    """Copy ``span``; returns the method that worked (start the next copy with it).

    Returns early (with fewer bytes copied) only by raising ``EOFError``.
    """
    done = 0
    while done < span.size:
        count = min(CHUNK, span.size - done)
        try:
            moved = _copy_step(
                method, span.src, span.src_off + done, span.dst, span.dst_off + done, count
            )
        except OSError as exc:
            fallback = _next_method(method)
            if exc.errno not in _FALLBACK_ERRNOS or fallback is None:
                raise
            method = fallback
            continue
        if moved == 0:
            fallback = _next_method(method)
            if fallback is None:  # pread says end of file: authoritative
                raise EOFError(span.src_off + done)
            method = fallback  # some kernels/filesystems report 0 instead of refusing
            continue
        done += moved
        on_bytes(moved)
    return method


# ------------------------------------------------------------------------------- pack


def _scan(src_dir: StrPath) -> list[tuple[str, int]]:
    label = os.fsdecode(src_dir)
    files: list[tuple[bytes, str, int]] = []
    with os.scandir(src_dir) as it:
        for dirent in it:
            st = dirent.stat(follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode):
                raise ImagePackError(
                    f"{dirent.name!r} is not a regular file (image bundles hold a flat set of "
                    "regular files; symlinks and directories are not followed)",
                    "move it out of the directory or replace it with a copy of the file",
                    source=label,
                )
            raw = os.fsencode(dirent.name)
            files.append((raw, dirent.name, st.st_size))
    files.sort()
    return [(name, size) for _, name, size in files]


def _check_total(label: str, needed: int, image_size: int | None) -> int:
    total = align_up(needed) if image_size is None else image_size
    if total < needed:
        raise ImagePackError(
            f"the files need {needed} bytes but image_size is {image_size}",
            f"use an image size of at least {needed} bytes",
            source=label,
        )
    if total > MAX_IMAGE_SIZE:
        raise ImagePackError(
            f"the image would be {total} bytes, over the {MAX_IMAGE_SIZE}-byte maximum",
            "split the files over several images",
            source=label,
        )
    return total


def pack(
    src_dir: StrPath,
    image: StrPath,
    *,
    slots: int | None = None,
    image_size: int | None = None,
) -> tuple[Entry, ...]:
    """Pack the regular files directly in ``src_dir`` (sorted by name) into ``image``.

    ``slots`` fixes the index size (default: :func:`default_slots`); ``image_size``
    pads the image to a fixed length (default: the data end rounded up to 4096
    bytes, so the image can serve as a disk, whose size is whole sectors).  The
    image is written to a temporary file next to ``image`` and renamed into place,
    so a failed pack leaves nothing behind.
    """
    label = os.fsdecode(image)
    files = _scan(src_dir)
    nslots = default_slots(len(files)) if slots is None else slots
    index = encode_index(files, nslots, os.fsdecode(src_dir))
    sizes = [size for _, size in files]
    total = _check_total(label, data_end(sizes, nslots), image_size)
    offsets = derive_offsets(sizes, nslots)
    entries = tuple(
        Entry(i, name, size, off)
        for i, ((name, size), off) in enumerate(zip(files, offsets, strict=True))
    )
    target = Path(image)
    tmp = target.with_name(f"{TEMP_PREFIX}{secrets.token_hex(8)}-{target.name}")
    try:
        # an interrupt (SIGTERM, SIGHUP, SIGINT) even right after the open is undone below
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    except OSError:
        raise  # nothing was created
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    try:
        try:
            _pwrite_all(fd, index, 0)
            _pack_files(os.fsdecode(src_dir), entries, fd)
            os.ftruncate(fd, total)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return entries


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


def _pack_files(src_dir: str, entries: Sequence[Entry], dst: int) -> None:
    method = _first_method()
    dir_fd = os.open(src_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for entry in entries:
            method = _pack_one(dir_fd, src_dir, entry, dst, method)
    finally:
        os.close(dir_fd)


def _pack_one(dir_fd: int, src_dir: str, entry: Entry, dst: int, method: CopyMethod) -> CopyMethod:
    src = os.open(entry.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        st = os.fstat(src)
        if not stat.S_ISREG(st.st_mode) or st.st_size != entry.size:
            raise EOFError(0)
        return _copy(_Span(src, 0, dst, entry.offset, entry.size), method, lambda _n: None)
    except EOFError:
        raise ImagePackError(
            "the file changed while it was being packed",
            "pack from a directory nobody is modifying",
            source=src_dir,
            index=entry.index,
            raw_name=entry.name.encode("utf-8"),
        ) from None
    finally:
        os.close(src)


# ---------------------------------------------------------------------------- extract


def _select(index: Index, names: Sequence[str] | None, label: str) -> tuple[Entry, ...]:
    if names is None:
        return index.entries
    by_name = {entry.name: entry for entry in index.entries}
    missing = [name for name in names if name not in by_name]
    if missing:
        raise ImageRequestError(
            f"has no entry named {missing[0]!r}",
            "run 'intervm image list' on it to see the names",
            source=label,
        )
    wanted = set(names)
    return tuple(entry for entry in index.entries if entry.name in wanted)


def _existing(mode: int, overwrite: bool) -> tuple[str, str] | None:
    """For an existing target: what it is and what to do, or None if it may be replaced."""
    if stat.S_ISLNK(mode):
        return "a symlink", "remove it or extract into an empty directory"
    if not stat.S_ISREG(mode):
        return "not a regular file", "remove it or extract into an empty directory"
    if overwrite:
        return None
    return "a regular file", "remove it, extract into an empty directory, or allow overwriting"


def _check_targets(
    dir_fd: int, dest: str, entries: Sequence[Entry], overwrite: bool, label: str
) -> None:
    """Refuse unsafe existing targets; reads the directory once, ``lstat`` only on clashes."""
    present = set(os.listdir(dir_fd))
    for entry in entries:
        if entry.name not in present:
            continue
        try:
            st = os.lstat(entry.name, dir_fd=dir_fd)
        except FileNotFoundError:
            continue
        found = _existing(st.st_mode, overwrite)
        if found is None:
            continue
        what, hint = found
        raise ImageTargetError(
            f"target {os.path.join(dest, entry.name)!r} already exists ({what}); extraction "
            "never follows symlinks and does not replace existing files unless asked",
            hint,
            source=label,
            index=entry.index,
            raw_name=entry.name.encode("utf-8"),
        )


@dataclass(frozen=True)
class _NoReplace:
    """``renameat2(..., RENAME_NOREPLACE)`` from libc: an atomic move that never clobbers."""

    call: Callable[..., int]

    RENAME_NOREPLACE = 1

    @staticmethod
    def load() -> _NoReplace | None:
        """The libc wrapper, or None where libc has none (then ``link`` is used)."""
        if not sys.platform.startswith("linux"):
            return None
        try:
            func = ctypes.CDLL(None, use_errno=True).renameat2
        except (OSError, AttributeError):
            return None
        func.argtypes = (
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_uint,
        )
        func.restype = ctypes.c_int
        return _NoReplace(func)

    def rename(self, dir_fd: int, old: str, new: str) -> int:
        """0 on success, else the errno."""
        if self.call(dir_fd, os.fsencode(old), dir_fd, os.fsencode(new), self.RENAME_NOREPLACE):
            return ctypes.get_errno()
        return 0


@dataclass(frozen=True)
class _Run:
    """One extraction: where it writes and what it has created so far (for rollback)."""

    source: _Source
    dir_fd: int
    dest: str
    token: str
    noreplace: _NoReplace | None
    temps: set[str]
    published: list[str]


def _temp_name(run: _Run, entry: Entry) -> str:
    return f"{TEMP_PREFIX}{run.token}-{entry.index}"


def _write_temp(
    run: _Run, entry: Entry, method: CopyMethod, on_bytes: Callable[[int], None]
) -> CopyMethod:
    tmp = _temp_name(run, entry)
    run.temps.add(tmp)  # before it exists: an interrupt right after the open leaves nothing
    try:
        fd = os.open(tmp, _CREATE_NEW, 0o666, dir_fd=run.dir_fd)
    except OSError:
        run.temps.discard(tmp)  # never created, or not ours (O_EXCL failed)
        raise
    try:
        return _copy(_Span(run.source.fd, entry.offset, fd, 0, entry.size), method, on_bytes)
    except EOFError as exc:
        raise ImageFormatError(
            f"ended at byte {exc.args[0]} while copying this entry, so the image shrank during "
            "extraction",
            "make sure nothing modifies the image during extraction, then retry",
            source=run.source.label,
            index=entry.index,
            raw_name=entry.name.encode("utf-8"),
        ) from None
    finally:
        os.close(fd)


def _link_new(run: _Run, tmp: str, entry: Entry) -> bool:
    """Hard-link ``tmp`` to the entry's name; False if the filesystem has no hard links.

    ``link`` never replaces an existing name, so a file created at the target since
    the preflight check makes this fail instead of being clobbered.
    """
    fd = run.dir_fd
    try:
        os.link(tmp, entry.name, src_dir_fd=fd, dst_dir_fd=fd, follow_symlinks=False)
    except FileExistsError:
        _check_targets(fd, run.dest, [entry], False, run.source.label)
        raise
    except OSError as exc:
        if exc.errno in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK):
            return False
        raise
    os.unlink(tmp, dir_fd=fd)
    return True


def _publish_new(run: _Run, tmp: str, entry: Entry) -> None:
    """Give ``tmp`` the entry's name without ever replacing an existing name."""
    fd = run.dir_fd
    if run.noreplace is not None:
        code = run.noreplace.rename(fd, tmp, entry.name)
        if code == 0:
            return
        if code == errno.EEXIST:
            _check_targets(fd, run.dest, [entry], False, run.source.label)
        if code not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
            raise OSError(code, os.strerror(code), os.path.join(run.dest, entry.name))
    if not _link_new(run, tmp, entry):  # no renameat2 here: link() is the no-replace move
        _check_targets(fd, run.dest, [entry], False, run.source.label)
        os.rename(tmp, entry.name, src_dir_fd=fd, dst_dir_fd=fd)


def _publish(run: _Run, entry: Entry, overwrite: bool) -> None:
    tmp = _temp_name(run, entry)
    if overwrite:
        os.replace(tmp, entry.name, src_dir_fd=run.dir_fd, dst_dir_fd=run.dir_fd)
    else:
        _publish_new(run, tmp, entry)
    run.temps.discard(tmp)
    run.published.append(entry.name)


def _rollback(run: _Run) -> None:
    for name in [*run.temps, *run.published]:
        with contextlib.suppress(OSError):
            os.unlink(name, dir_fd=run.dir_fd)


def _make_dest(dest: str) -> list[str]:
    """Create ``dest`` (and missing parents); returns the directories this created."""
    made: list[str] = []
    path = os.path.abspath(dest)
    while not os.path.lexists(path):
        made.append(path)
        path = os.path.dirname(path)
    for directory in reversed(made):
        os.mkdir(directory)
    return made


def extract(
    image: StrPath,
    dest: StrPath,
    names: Sequence[str] | None = None,
    *,
    progress: ProgressCallback | None = None,
    overwrite: bool = False,
) -> ExtractResult:
    """Extract ``names`` (default: all entries) from ``image`` into ``dest``; all or nothing.

    ``dest`` is created if missing.  Existing targets are refused unless
    ``overwrite`` is set, and then only regular files are replaced (a replaced file
    cannot be restored if a later step fails).  ``progress`` is called after each
    chunk of at most :data:`CHUNK` bytes and after each file.
    """
    dest_label = os.fsdecode(dest)
    with _open_source(image) as source:
        index = _read_index(source)
        entries = _select(index, names, source.label)
        made = _make_dest(dest_label)
        try:
            dir_fd = os.open(dest_label, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                _check_targets(dir_fd, dest_label, entries, overwrite, source.label)
                run = _Run(
                    source, dir_fd, dest_label, secrets.token_hex(6), _NoReplace.load(), set(), []
                )
                method = _extract_all(run, entries, overwrite, progress)
            finally:
                os.close(dir_fd)
        except BaseException:
            for directory in made:
                with contextlib.suppress(OSError):
                    os.rmdir(directory)
            raise
    return ExtractResult(entries, sum(e.size for e in entries), method, source.kind)


def _ignore(_n: int) -> None:
    """Progress sink when nobody listens."""


def _extract_all(
    run: _Run, entries: Sequence[Entry], overwrite: bool, progress: ProgressCallback | None
) -> CopyMethod:
    method = _first_method()
    total = sum(entry.size for entry in entries)
    done = [0, 0]  # files, bytes: local counters for the progress closure

    def report(entry: Entry) -> Callable[[int], None]:
        if progress is None:
            return _ignore

        def on_bytes(n: int) -> None:
            done[1] += n
            progress(Progress(entry, done[0], len(entries), done[1], total))

        return on_bytes

    try:
        for entry in entries:
            method = _write_temp(run, entry, method, report(entry))
            done[0] += 1
            if progress is not None:
                progress(Progress(entry, done[0], len(entries), done[1], total))
        for entry in entries:
            _publish(run, entry, overwrite)
    except BaseException:
        _rollback(run)
        raise
    return method
