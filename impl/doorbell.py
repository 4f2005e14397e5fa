"""Latched doorbells (eventfds) and their hand-over over a unix socket.

A doorbell is a Linux eventfd in counter mode: ``notify`` adds 1, ``wait``
polls with a timeout and then reads (and so resets) the counter. A notify that
happens before the wait is therefore never lost. File descriptors travel to
another process with SCM_RIGHTS (``socket.send_fds``), as vhost-user hands
over its kick and call fds.

>>> bells = Doorbells.create(("irq", "done"))
>>> bells.wait("irq", 0.0)
False
>>> bells.notify("irq"); bells.notify("irq")
>>> bells.wait("irq", 1.0), bells.wait("irq", 0.0)
(True, False)
>>> bells.close()
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_ONE = (1).to_bytes(8, "little")
_FRAME = struct.Struct("<I")
MAX_FRAME = 256 << 20


@dataclass(frozen=True)
class Doorbells:
    """Named eventfds owned by this process (closed by :meth:`close`)."""

    fds: Mapping[str, int]

    @classmethod
    def create(cls, names: Iterable[str]) -> Doorbells:
        """Create one non-blocking, close-on-exec eventfd per name."""
        flags = os.EFD_NONBLOCK | os.EFD_CLOEXEC
        return cls({name: os.eventfd(0, flags) for name in names})

    def _fd(self, name: str) -> int:
        fd = self.fds.get(name)
        if fd is None:
            raise KeyError(
                f"doorbell {name!r} is not connected; this process has {sorted(self.fds)}"
            )
        return fd

    def notify(self, name: str) -> None:
        """Ring ``name`` (adds 1 to its counter; never blocks)."""
        fd = self._fd(name)
        with contextlib.suppress(BlockingIOError):  # counter saturated: already rung
            os.write(fd, _ONE)

    def wait(self, name: str, timeout: float) -> bool:
        """Wait up to ``timeout`` s for ``name``; True if it was rung (and reset it)."""
        fd = self._fd(name)
        ready, _, _ = select.select([fd], [], [], max(0.0, timeout))
        if not ready:
            return False
        try:
            os.read(fd, 8)
        except BlockingIOError:
            return False
        return True

    def close(self) -> None:
        """Close every eventfd of this process."""
        for fd in self.fds.values():
            os.close(fd)


def send_frame(sock: socket.socket, message: Mapping[str, Any], fds: Iterable[int] = ()) -> None:
    """Send one frame: u32 little-endian length, UTF-8 JSON, optional SCM_RIGHTS fds."""
    body = json.dumps(message).encode()
    data = _FRAME.pack(len(body)) + body
    fd_list = list(fds)
    if fd_list:
        sent = socket.send_fds(sock, [data], fd_list)
        sock.sendall(data[sent:])
    else:
        sock.sendall(data)


def _recv_exact(sock: socket.socket, n: int, have: bytes = b"") -> bytes:
    buf = bytearray(have)
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            raise ConnectionError(
                f"peer closed the control socket after {len(buf)} of {n} bytes of a frame"
            )
        buf += chunk
    return bytes(buf)


def recv_frame(sock: socket.socket, max_fds: int = 0) -> tuple[dict[str, Any], list[int]]:
    """Receive one frame sent by :func:`send_frame`; returns (message, fds)."""
    fds: list[int] = []
    if max_fds:
        data, fds, _flags, _addr = socket.recv_fds(sock, _FRAME.size, max_fds)
        if not data:
            raise ConnectionError("peer closed the control socket before sending a frame")
        head = _recv_exact(sock, _FRAME.size, data)
    else:
        head = _recv_exact(sock, _FRAME.size)
    (length,) = _FRAME.unpack(head)
    if length > MAX_FRAME:
        raise ConnectionError(
            f"control frame of {length} bytes exceeds the {MAX_FRAME}-byte limit; "
            "the peer is not speaking the intervm control protocol"
        )
    message = json.loads(_recv_exact(sock, length))
    if not isinstance(message, dict):
        raise ConnectionError(f"control frame holds {type(message).__name__}, expected an object")
    return message, fds
