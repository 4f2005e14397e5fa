"""The real shared region: a file-backed mmap accessed with atomicshm.

Loads are ACQUIRE, stores RELEASE, ``fence()`` is ``atomicshm.fence(SEQ_CST)``
(a real full fence between processes). Every access is bounds-checked against
the layout, which is read and validated once when the region is attached.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "region"
>>> creator = Region.create(path, capacity=8)
>>> peer = Region.attach(path)
>>> creator.store("tail", 3); peer.load("tail")
3
>>> peer.rmw_add("slot_id", 5, index=7), creator.load("slot_id", 7)
(0, 5)
>>> peer.close(); creator.close(); path.unlink()
"""

from __future__ import annotations

import functools
import mmap
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import assert_never

import atomicshm

from intervm.impl.access import Fence
from intervm.impl.doorbell import Doorbells
from intervm.impl.errors import ProtocolViolation
from intervm.impl.region_file import Existing, header_layout, new_region_file
from intervm.spec import layout as L

DEFAULT_DIR = Path("/dev/shm")


@dataclass(frozen=True)
class _Slot:
    offset: int
    count: int
    stride: int
    limit: int
    load: Callable[[int, int], int]
    store: Callable[[int, int, int], None]
    add: Callable[[int, int, int], int]


def _ops(view: atomicshm.AtomicView, size: int) -> tuple[
    Callable[[int, int], int], Callable[[int, int, int], None], Callable[[int, int, int], int]
]:
    match size:
        case 4:
            return view.load_u32, view.store_u32, view.fetch_add_u32
        case 8:
            return view.load_u64, view.store_u64, view.fetch_add_u64
        case _:
            raise ValueError(f"layout field size {size} is not supported (only 4 and 8)")


class Region:
    """A mapped region; satisfies :class:`intervm.impl.access.SharedAccess`."""

    def __init__(
        self,
        path: Path,
        mm: mmap.mmap,
        layout: L.Layout,
        doorbells: Doorbells | None,
        lock_fd: int = -1,
    ) -> None:
        self.path = path
        self._lock_fd = lock_fd  # the creator's (flock): closed with the region
        self.layout = layout
        self._mm = mm
        self._view = atomicshm.AtomicView(mm)
        self._bells = doorbells
        slots: dict[str, _Slot] = {}
        # Scalar fast paths (the protocols' hot loads): one dict lookup, one C call.
        self._load0: dict[str, Callable[[], int]] = {}
        self._store0: dict[str, _Slot] = {}
        for f in layout.fields:
            if f.end > layout.total_size:
                raise ValueError(f"layout field {f.name!r} ends at {f.end}, past the region")
            load, store, add = _ops(self._view, f.size)
            slot = _Slot(f.offset, f.count, f.stride, 1 << (8 * f.size), load, store, add)
            slots[f.name] = slot
            if not f.stride:
                self._load0[f.name] = functools.partial(load, f.offset, atomicshm.ACQUIRE)
                self._store0[f.name] = slot
        self._slots = slots

    # -- creation and attachment ------------------------------------------------
    @classmethod
    def create(
        cls,
        path: Path | str,
        capacity: int,
        slot_size: int = L.SLOT_WORDS_SIZE,
        doorbells: Doorbells | None = None,
        existing: Existing = Existing.REFUSE,
    ) -> Region:
        """Create ``path`` zero-filled with a valid v1 header (magic stored last).

        An existing ``path`` is replaced only as ``existing`` allows, by a new file
        renamed over it (:mod:`intervm.impl.region_file`); otherwise
        :class:`~intervm.impl.region_file.RegionPathRefused` names what is there.
        """
        lay = L.build_layout(capacity, slot_size)
        p = Path(path)
        region: Region | None = None
        try:
            with new_region_file(p, lay.total_size, existing) as fd:
                lock = os.dup(fd)  # the region's own: the file stays marked in use
                try:
                    region = cls(p, mmap.mmap(fd, lay.total_size), lay, doorbells, lock)
                except BaseException:
                    os.close(lock)
                    raise
                region.store("version", L.LAYOUT_VERSION)
                region.store("capacity", capacity)
                region.store("slot_size", slot_size)
                region.store("total_size", lay.total_size)
                region.store("magic", L.MAGIC)  # last: publishes the header
        except BaseException:
            if region is not None:
                region.close()
            raise
        assert region is not None
        return region

    @classmethod
    def attach(cls, path: Path | str, doorbells: Doorbells | None = None) -> Region:
        """Map an existing region after validating its header (each word loaded once)."""
        p = Path(path)
        fd = os.open(p, os.O_RDWR)
        try:
            size = os.fstat(fd).st_size
            if size < L.HEADER_SIZE:
                raise ProtocolViolation(
                    "total_size", size, f"file {p} is shorter than the {L.HEADER_SIZE}-byte header"
                )
            mm = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        try:
            lay = _validate_header(mm, size)
        except BaseException:
            mm.close()
            raise
        return cls(p, mm, lay, doorbells)

    def close(self) -> None:
        """Unmap (doorbells stay open; close them separately)."""
        self._view.close()
        self._mm.close()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    # -- SharedAccess -----------------------------------------------------------
    def _where(self, field: str, index: int | None) -> tuple[_Slot, int]:
        s = self._slots.get(field)
        if s is None:
            raise KeyError(f"region {self.path}: layout v{self.layout.version} has no field {field!r}")
        if index is None:
            if s.stride:  # an array, even of capacity 1
                raise IndexError(f"field {field!r} is an array: pass an index in 0..{s.count - 1}")
            return s, s.offset
        if not 0 <= index < s.count or not s.stride:
            raise IndexError(
                f"field {field!r}: index {index} is outside 0..{s.count - 1}; "
                "reduce ring positions modulo the capacity"
            )
        return s, s.offset + index * s.stride

    def load(self, field: str, index: int | None = None) -> int:
        if index is None:
            fast = self._load0.get(field)
            if fast is not None:
                return fast()
        s, off = self._where(field, index)
        return s.load(off, atomicshm.ACQUIRE)

    def store(self, field: str, value: int, index: int | None = None) -> None:
        s = self._store0.get(field) if index is None else None
        if s is not None:
            off = s.offset
        else:
            s, off = self._where(field, index)
        if not 0 <= value < s.limit:
            raise ValueError(f"value {value} does not fit field {field!r} (0..{s.limit - 1})")
        s.store(off, value, atomicshm.RELEASE)

    def fence(self, kind: Fence = Fence.FULL) -> None:
        match kind:
            case Fence.FULL:
                atomicshm.fence(atomicshm.SEQ_CST)
            case Fence.STORE:
                atomicshm.fence(atomicshm.RELEASE)
            case _:
                assert_never(kind)

    def rmw_add(self, field: str, delta: int, index: int | None = None) -> int:
        s, off = self._where(field, index)
        return s.add(off, delta % s.limit, atomicshm.SEQ_CST)

    def notify(self, doorbell: str) -> None:
        self._doorbells().notify(doorbell)

    def wait(self, doorbell: str, timeout: float) -> bool:
        return self._doorbells().wait(doorbell, timeout)

    def _doorbells(self) -> Doorbells:
        if self._bells is None:
            raise RuntimeError(
                f"region {self.path} was attached without doorbells; pass doorbells= to "
                "Region.attach/create to notify or wait"
            )
        return self._bells


def _validate_header(mm: mmap.mmap, size: int) -> L.Layout:
    """Load each header word once, validate, and build the layout it describes."""
    with atomicshm.AtomicView(mm) as view:
        magic = view.load_u64(0, atomicshm.ACQUIRE)
        version = view.load_u32(8, atomicshm.ACQUIRE)
        capacity = view.load_u32(12, atomicshm.ACQUIRE)
        slot_size = view.load_u32(16, atomicshm.ACQUIRE)
        reserved = view.load_u32(20, atomicshm.ACQUIRE)
        total = view.load_u64(24, atomicshm.ACQUIRE)
    return header_layout((magic, version, capacity, slot_size, reserved, total), size)
