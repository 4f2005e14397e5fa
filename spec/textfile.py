"""Reading users' input files as UTF-8 text, with one-line errors naming the file.

Protocol files, trace files, ``--replay`` schedules and ``play --script`` files are
all read through :func:`read_text`: a missing file, a directory, an empty file or
bytes that are not UTF-8 are each one :class:`~intervm.spec.errors.IntervmError`
line that names the file and, for bad bytes, the byte offset and line.

>>> import pathlib, tempfile
>>> bad = pathlib.Path(tempfile.mkdtemp()) / "trace.json"
>>> _ = bad.write_bytes(b'{"steps": []}\\n\\xff\\n')
>>> try:
...     read_text(bad, "trace file")
... except IntervmError as e:
...     print(str(e).replace(str(bad), "trace.json"))
trace file trace.json is not UTF-8 text: byte 0xff at offset 14 (line 2) cannot be decoded; save the file as UTF-8
"""

from __future__ import annotations

from pathlib import Path

from intervm.spec.errors import IntervmError


def read_text(path: str | Path, what: str, error: type[IntervmError] = IntervmError, *,
              allow_empty: bool = False) -> str:
    """The text of ``path`` (a ``what``: "trace file" …), decoded as UTF-8 (a leading
    byte-order mark is dropped); raises ``error`` with one line on any problem."""
    p = Path(path)
    if p.is_dir():
        raise error(f"{what} {p} is a directory; give a file")
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise error(f"{what} {p} does not exist; check the path") from None
    except OSError as e:
        raise error(f"cannot read {what} {p} ({e.strerror}); check the path and its "
                    "permissions") from None
    if not allow_empty and not data.strip():
        raise error(f"{what} {p} is empty; give a file with content")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise error(f"{what} {p} is not UTF-8 text: byte 0x{data[e.start]:02x} at offset "
                    f"{e.start} (line {line}) cannot be decoded; save the file as "
                    "UTF-8") from None
