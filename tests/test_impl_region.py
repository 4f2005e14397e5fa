"""The mmap region: header validation, bounds checks, atomics, doorbells, fd hand-over."""

from __future__ import annotations

import os
import random
import socket
import struct
import threading
from pathlib import Path

import pytest

from intervm.impl.access import Fence, SharedAccess
from intervm.impl.doorbell import Doorbells, recv_frame, send_frame
from intervm.impl.errors import ProtocolViolation
from intervm.impl.region import Region
from intervm.spec import layout as L


def _region(tmp_path: Path, capacity: int = 8) -> Path:
    (tmp_path / "r").unlink(missing_ok=True)  # Region.create never replaces a file
    Region.create(tmp_path / "r", capacity).close()
    return tmp_path / "r"


def _poke(path: Path, offset: int, fmt: str, value: int) -> None:
    with path.open("r+b") as f:
        f.seek(offset)
        f.write(struct.pack(fmt, value))


def test_region_is_a_shared_access_and_header_round_trips(tmp_path: Path) -> None:
    path = _region(tmp_path, 16)
    reg = Region.attach(path)
    acc: SharedAccess = reg
    assert (reg.layout.capacity, reg.layout.total_size) == (16, 256 + 16 * 16)
    assert acc.load("magic") == L.MAGIC and acc.load("version") == 1
    assert path.stat().st_size == 512
    assert acc.rmw_add("tail", -1) == 0 and acc.load("tail") == 0xFFFF_FFFF  # u32 wrap
    acc.fence()
    acc.fence(Fence.STORE)
    reg.close()


@pytest.mark.parametrize(
    ("offset", "fmt", "value", "field"),
    [
        (0, "<Q", 0x1234, "magic"),
        (8, "<I", 2, "version"),
        (12, "<I", 3, "capacity"),
        (12, "<I", 0, "capacity"),
        (16, "<I", 12, "slot_size"),
        (20, "<I", 1, "reserved0"),
        (24, "<Q", 1 << 40, "total_size"),
        (24, "<Q", 448, "total_size"),
    ],
)
def test_bad_header_word_is_a_named_violation(
    tmp_path: Path, offset: int, fmt: str, value: int, field: str
) -> None:
    path = _region(tmp_path)
    _poke(path, offset, fmt, value)
    with pytest.raises(ProtocolViolation) as err:
        Region.attach(path)
    assert err.value.field == field and err.value.value == value
    assert field in str(err.value) and "recreate" in str(err.value)


def test_truncated_or_extended_file_is_rejected(tmp_path: Path) -> None:
    path = _region(tmp_path)
    os.truncate(path, 100)
    with pytest.raises(ProtocolViolation, match="shorter than the 256-byte header"):
        Region.attach(path)
    path = _region(tmp_path)
    os.truncate(path, 384 + 64)
    with pytest.raises(ProtocolViolation, match="file is 448 bytes"):
        Region.attach(path)


def test_torn_random_headers_never_crash(tmp_path: Path) -> None:
    rng = random.Random(4)
    rejected = 0
    for _ in range(300):
        path = _region(tmp_path)
        with path.open("r+b") as f:
            f.seek(rng.randrange(0, 32))
            f.write(rng.randbytes(rng.randrange(1, 32)))
        try:
            Region.attach(path).close()
        except ProtocolViolation:
            rejected += 1
    assert rejected >= 290  # almost every tear hits a checked word


def test_bounds_checks(tmp_path: Path) -> None:
    reg = Region.attach(_region(tmp_path, 4))
    with pytest.raises(IndexError, match=r"outside 0\.\.3"):
        reg.load("slot_id", 4)
    with pytest.raises(IndexError, match="array"):
        reg.store("slot_id", 1)
    with pytest.raises(IndexError):
        reg.load("tail", 0)
    with pytest.raises(IndexError):
        reg.load("slot_stamp", -1)
    with pytest.raises(KeyError, match="no field 'bogus'"):
        reg.load("bogus")
    with pytest.raises(ValueError, match="does not fit field 'tail'"):
        reg.store("tail", 1 << 32)
    with pytest.raises(RuntimeError, match="without doorbells"):
        reg.notify("irq")
    reg.close()


def test_doorbells_latch_and_time_out() -> None:
    bells = Doorbells.create(("irq", "done"))
    assert bells.wait("done", 0.01) is False
    for _ in range(5):
        bells.notify("done")
    assert bells.wait("done", 0.0) is True  # five notifies, one wake-up
    assert bells.wait("done", 0.0) is False
    with pytest.raises(KeyError, match="not connected"):
        bells.notify("nope")
    bells.close()


def test_fds_hand_over_with_scm_rights() -> None:
    bells = Doorbells.create(("irq", "done"))
    a, b = socket.socketpair()
    send_frame(a, {"role": "consumer", "n": 3}, [bells.fds["irq"], bells.fds["done"]])
    msg, fds = recv_frame(b, max_fds=2)
    assert msg == {"role": "consumer", "n": 3} and len(fds) == 2
    theirs = Doorbells({"irq": fds[0], "done": fds[1]})
    bells.notify("irq")
    assert theirs.wait("irq", 1.0) is True  # same eventfd, other descriptor
    theirs.notify("done")
    assert bells.wait("done", 1.0) is True
    big = {"blob": "x" * 300_000}  # larger than the socket buffer: sent from a thread
    sender = threading.Thread(target=send_frame, args=(a, big))
    sender.start()
    assert recv_frame(b)[0] == big
    sender.join(10)
    for s in (a, b):
        s.close()
    theirs.close()
    bells.close()
