"""Single-volume image bundle, format version 1: the normative description, as data.

A privileged domain packs a flat directory of files into one image: a fixed-size
*index* (a 64-byte header plus a fixed number of 256-byte entry slots, each a
name and a size) followed by the file images.  Unprivileged VMs receive the image
as one disk and extract the files using the names and sizes in the index.  The
image is **untrusted**: every reader must apply :func:`parse_header` and
:func:`parse_index` (or the equivalent checks in ``docs/image-format.md``,
rendered from this module by :func:`render_markdown`) before writing anything.

File offsets are never stored: they are derived from the sizes, in index order,
each start rounded up to :data:`ALIGNMENT`.  Overlap is therefore impossible by
construction; the validator still checks every extent lies inside the image, and
:func:`prove_layout` checks with Z3 that whatever it accepts is disjoint and in
bounds, in the 64-bit unsigned arithmetic a C reader uses.

>>> index = encode_index([("hello.txt", 5)], slots=15)
>>> len(index) == index_end(15) == 4096
True
>>> header = parse_header(index[:HEADER_SIZE], image_len=len(index) + 5)
>>> (header.version, header.slots, header.count)
(1, 15, 1)
>>> parse_index(index, header, image_len=len(index) + 5)
(Entry(index=0, name='hello.txt', size=5, offset=4096),)
>>> try:
...     parse_header(b"NOTANIMG" + bytes(56), image_len=4096)
... except ImageFormatError as err:
...     err.problem.split(",")[0]
"bad magic b'NOTANIMG' (expected b'IVMBUNDL')"
"""

from __future__ import annotations

import enum
import re
import struct
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar, assert_never

# --------------------------------------------------------------------------- constants

MAGIC = b"IVMBUNDL"
VERSION = 1
HEADER_SIZE = 64
ENTRY_SIZE = 256
ALIGN_LOG2 = 12
ALIGNMENT = 1 << ALIGN_LOG2
NAME_FIELD_OFFSET = 16
MAX_NAME_BYTES = ENTRY_SIZE - NAME_FIELD_OFFSET
MAX_SLOTS = 65536
MAX_IMAGE_SIZE = 1 << 62
U64_MASK = (1 << 64) - 1
FORBIDDEN_NAME_CHARS = ("/", "\\", "\x00")

HEADER_STRUCT = struct.Struct("<8sHHHHII40s")
ENTRY_STRUCT = struct.Struct("<QHHI240s")


class Kind(enum.Enum):
    """How a field's bytes are interpreted (all integers little-endian, unsigned)."""

    BYTES = "bytes"
    U16 = "u16"
    U32 = "u32"
    U64 = "u64"


@dataclass(frozen=True)
class Field:
    """One fixed-position field of the header or of an entry slot."""

    name: str
    offset: int
    width: int
    kind: Kind
    rule: str


HEADER_FIELDS: tuple[Field, ...] = (
    Field("magic", 0, 8, Kind.BYTES, "exactly `49 56 4d 42 55 4e 44 4c` (ASCII `IVMBUNDL`)"),
    Field("version", 8, 2, Kind.U16, "format version; this document is version 1"),
    Field("header_size", 10, 2, Kind.U16, "must be 64"),
    Field("entry_size", 12, 2, Kind.U16, "must be 256"),
    Field("align_log2", 14, 2, Kind.U16, "must be 12 (file images start on 4096-byte boundaries)"),
    Field("slots", 16, 4, Kind.U32, "number of entry slots in the index, 1 ≤ slots ≤ 65536"),
    Field("count", 20, 4, Kind.U32, "number of used slots (files), count ≤ slots"),
    Field("reserved", 24, 40, Kind.BYTES, "must be all zero"),
)

ENTRY_FIELDS: tuple[Field, ...] = (
    Field("size", 0, 8, Kind.U64, "size of the file image in bytes"),
    Field("name_len", 8, 2, Kind.U16, "length of the name in bytes, 1 ≤ name_len ≤ 240"),
    Field("flags", 10, 2, Kind.U16, "must be 0 in version 1"),
    Field("reserved", 12, 4, Kind.U32, "must be 0"),
    Field("name", 16, 240, Kind.BYTES, "UTF-8 name in the first name_len bytes, rest all zero"),
)


# ------------------------------------------------------------------------------ errors


class ImageError(Exception):
    """Root of the errors raised for image bundles (format, packing, extraction target)."""

    def __init__(
        self,
        problem: str,
        hint: str,
        *,
        source: str = "image",
        index: int | None = None,
        raw_name: bytes | None = None,
    ) -> None:
        self.problem = problem
        self.hint = hint
        self.source = source
        self.index = index
        self.raw_name = raw_name
        super().__init__(self.message())

    @property
    def name(self) -> str | None:
        """The entry's name as text (undecodable bytes shown as escapes), if known."""
        if self.raw_name is None:
            return None
        return self.raw_name.decode("utf-8", "backslashreplace")

    def where(self) -> str:
        """The object the error is about: the image, and the entry when there is one."""
        where = self.source
        if self.index is not None:
            where += f", entry #{self.index}"
        if self.raw_name is not None:
            where += f" (name {self.name!r})"
        return where

    def message(self) -> str:
        """The one-line message: where, what is wrong and why, what to do."""
        return one_line(f"{self.where()}: {self.problem}; {self.hint}")

    def relabel(self, source: str) -> ImageError:
        """The same error about ``source`` (e.g. the image path instead of 'image')."""
        return type(self)(
            self.problem, self.hint, source=source, index=self.index, raw_name=self.raw_name
        )


class ImageFormatError(ImageError, ValueError):
    """The image (untrusted input) is malformed; nothing has been written."""


class ImagePackError(ImageError, ValueError):
    """The files given to the packer cannot be represented in an image bundle."""


class ImageTargetError(ImageError):
    """The extraction target is unsafe or conflicts (e.g. a symlink at a file's name)."""


class ImageRequestError(ImageError, LookupError):
    """The caller asked for something the image does not hold (e.g. an unknown name)."""


def one_line(text: str) -> str:
    """``text`` with any line breaks escaped, so a message is always a single line."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


# ---------------------------------------------------------------------------- geometry


def align_up(value: int) -> int:
    """``value`` rounded up to the next multiple of :data:`ALIGNMENT`."""
    return (value + ALIGNMENT - 1) & ~(ALIGNMENT - 1)


def index_end(slots: int) -> int:
    """Byte offset where the index ends and the first file image begins."""
    return align_up(HEADER_SIZE + slots * ENTRY_SIZE)


def default_slots(count: int) -> int:
    """Slot count a packer uses by default: as many as fit the blocks ``count`` slots need."""
    return (index_end(max(count, 1)) - HEADER_SIZE) // ENTRY_SIZE


def derive_offsets(sizes: Sequence[int], slots: int) -> tuple[int, ...]:
    """Offsets of the file images: first at ``index_end(slots)``, then each aligned."""
    offsets: list[int] = []
    cursor = index_end(slots)
    for size in sizes:
        offsets.append(cursor)
        cursor = align_up(cursor + size)
    return tuple(offsets)


def data_end(sizes: Sequence[int], slots: int) -> int:
    """Smallest valid image length: the end of the last file image (or of the index)."""
    offsets = derive_offsets(sizes, slots)
    return offsets[-1] + sizes[-1] if sizes else index_end(slots)


# ------------------------------------------------------- layout checks (ints and Z3)

V = TypeVar("V")
B = TypeVar("B")


@dataclass(frozen=True)
class Arith(Generic[V, B]):
    """The unsigned 64-bit operations the layout checks need, for one number domain."""

    const: Callable[[int], V]
    add: Callable[[V, V], V]
    sub: Callable[[V, V], V]
    scale: Callable[[V, int], V]
    mask: Callable[[V, int], V]
    ule: Callable[[V, V], B]


def _int_arith() -> Arith[int, bool]:
    return Arith(
        const=lambda v: v & U64_MASK,
        add=lambda a, b: (a + b) & U64_MASK,
        sub=lambda a, b: (a - b) & U64_MASK,
        scale=lambda a, k: (a * k) & U64_MASK,
        mask=lambda a, m: a & m,
        ule=lambda a, b: a <= b,
    )


INT_ARITH: Arith[int, bool] = _int_arith()


class Check(NamedTuple, Generic[B]):
    """One named acceptance condition; ``entry`` is the index it concerns, if any.

    A named tuple rather than a frozen dataclass: the validator builds two per entry,
    and tuple construction is several times cheaper.
    """

    what: str
    entry: int | None
    holds: B


@dataclass(frozen=True)
class Layout(Generic[V, B]):
    """Derived index end and offsets, and the ordered checks a reader must apply."""

    index_end: V
    offsets: tuple[V, ...]
    checks: tuple[Check[B], ...]


def layout_checks(
    arith: Arith[V, B],
    slots: V,
    sizes: Sequence[V],
    image_len: V,
    omit: frozenset[str] = frozenset(),
) -> Layout[V, B]:
    """The layout checks in the order a reader applies them, in ``arith``'s arithmetic.

    This one function is both what the validator runs (on Python ints, wrapped to
    64 bits like C) and what :func:`prove_layout` reasons about (on Z3 bit-vectors).
    ``omit`` drops named checks; it exists only to show the proof is not vacuous.
    """
    c = arith.const
    checks: list[Check[B]] = []

    def need(what: str, entry: int | None, holds: B) -> None:
        if what not in omit:
            checks.append(Check(what, entry, holds))

    align_mask = U64_MASK & ~(ALIGNMENT - 1)

    def up(value: V) -> V:
        return arith.mask(arith.add(value, c(ALIGNMENT - 1)), align_mask)

    need("image_size", None, arith.ule(image_len, c(MAX_IMAGE_SIZE)))
    need("slots", None, arith.ule(slots, c(MAX_SLOTS)))
    end = up(arith.add(c(HEADER_SIZE), arith.scale(slots, ENTRY_SIZE)))
    need("index_fits", None, arith.ule(end, image_len))
    offsets: list[V] = []
    cursor = end
    for i, size in enumerate(sizes):
        offsets.append(cursor)
        need("start", i, arith.ule(cursor, image_len))
        need("size", i, arith.ule(size, arith.sub(image_len, cursor)))
        cursor = up(arith.add(cursor, size))
    return Layout(end, tuple(offsets), tuple(checks))


# ------------------------------------------------------------------------------ values


@dataclass(frozen=True)
class Header:
    """The validated header: version, number of slots, number of used slots."""

    version: int
    slots: int
    count: int


@dataclass(frozen=True)
class Entry:
    """A validated entry: its slot index, name, size and derived offset in the image."""

    index: int
    name: str
    size: int
    offset: int


# ----------------------------------------------------------------------------- names


class NameProblem(enum.Enum):
    """Why a name is refused (each maps to one message)."""

    EMPTY = "empty"
    TOO_LONG = "too_long"
    NOT_UTF8 = "not_utf8"
    NUL = "nul"
    ABSOLUTE = "absolute"
    SLASH = "slash"
    BACKSLASH = "backslash"
    DOT = "dot"
    UNPRINTABLE = "unprintable"


def name_problem(raw: bytes) -> tuple[NameProblem, str] | None:
    """Why ``raw`` is not a valid entry name (with a detail), or None if it is valid."""
    if not raw:
        return NameProblem.EMPTY, ""
    if len(raw) > MAX_NAME_BYTES:
        return NameProblem.TOO_LONG, str(len(raw))
    if _PLAIN_ASCII.fullmatch(raw) and raw not in (b".", b".."):
        return None  # fast path, same verdict as the full checks below
    if b"\x00" in raw:
        return NameProblem.NUL, ""
    try:
        text = raw.decode("utf-8", "strict")
    except UnicodeDecodeError as exc:
        return NameProblem.NOT_UTF8, str(exc.start)
    if text.startswith("/"):
        return NameProblem.ABSOLUTE, ""
    if "/" in text:
        return NameProblem.SLASH, ""
    if "\\" in text:
        return NameProblem.BACKSLASH, ""
    if text in (".", ".."):
        return NameProblem.DOT, text
    bad = next((ch for ch in text if unicodedata.category(ch) in _UNPRINTABLE), None)
    if bad is not None:
        return NameProblem.UNPRINTABLE, f"U+{ord(bad):04X}"
    return None


_UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_PLAIN_ASCII = re.compile(rb"[\x20-\x2e\x30-\x5b\x5d-\x7e]+")  # printable, minus / and \


def describe_name_problem(problem: NameProblem, detail: str) -> str:
    """The message fragment for a refused name: what is wrong and why it matters."""
    match problem:
        case NameProblem.EMPTY:
            return "name is empty, so there is no file name to extract to"
        case NameProblem.TOO_LONG:
            return f"name is {detail} bytes, over the {MAX_NAME_BYTES}-byte limit"
        case NameProblem.NOT_UTF8:
            return f"name is not valid UTF-8 (bad byte at position {detail})"
        case NameProblem.NUL:
            return "name contains a NUL byte, which would truncate the path"
        case NameProblem.ABSOLUTE:
            return "name is an absolute path, which would write outside the target directory"
        case NameProblem.SLASH:
            return "name contains '/', which would write outside the target directory"
        case NameProblem.BACKSLASH:
            return "name contains '\\', a path separator on some systems"
        case NameProblem.DOT:
            return f"name is {detail!r}, which refers to a directory, not a file"
        case NameProblem.UNPRINTABLE:
            return f"name contains the unprintable character {detail}"
        case _:
            assert_never(problem)


# ----------------------------------------------------------------------------- parsing

_REPACK = "rebuild the image with 'intervm image pack' from trusted files"


def parse_header(data: bytes, image_len: int, source: str = "image") -> Header:
    """Validate the first :data:`HEADER_SIZE` bytes of an image of ``image_len`` bytes."""

    def fail(problem: str, hint: str = _REPACK) -> ImageFormatError:
        return ImageFormatError(problem, hint, source=source)

    if image_len < HEADER_SIZE or len(data) < HEADER_SIZE:
        raise fail(
            f"is {min(image_len, len(data))} bytes, too short for the {HEADER_SIZE}-byte header"
            ", so it is truncated or not an image bundle",
            "check that the whole image was transferred",
        )
    magic, version, header_size, entry_size, align_log2, slots, count, reserved = (
        HEADER_STRUCT.unpack(data[:HEADER_SIZE])
    )
    if magic != MAGIC:
        raise fail(
            f"bad magic {magic!r} (expected {MAGIC!r}), so this is not an intervm image bundle",
            "check that you passed the right file or disk",
        )
    if version != VERSION:
        raise fail(
            f"unsupported format version {version} (this reader supports {VERSION})",
            "use an intervm release that reads this version, or repack with this one",
        )
    for field, value, expected in (
        ("header_size", header_size, HEADER_SIZE),
        ("entry_size", entry_size, ENTRY_SIZE),
        ("align_log2", align_log2, ALIGN_LOG2),
    ):
        if value != expected:
            raise fail(
                f"header field {field} is {value}, but version {VERSION} requires {expected}"
            )
    if not _is_zero(reserved):
        raise fail("header reserved bytes 24..63 are not all zero (corrupt or newer format)")
    if not 1 <= slots <= MAX_SLOTS:
        raise fail(f"declares {slots} entry slots, outside the allowed range 1..{MAX_SLOTS}")
    if count > slots:
        raise fail(f"declares {count} entries but only {slots} slots")
    _check_global_layout(slots, image_len, source)
    return Header(version, slots, count)


def _check_global_layout(slots: int, image_len: int, source: str) -> None:
    layout = layout_checks(INT_ARITH, slots, (), image_len)
    for check in layout.checks:
        if check.holds:
            continue
        if check.what == "image_size":
            raise ImageFormatError(
                f"is {image_len} bytes, over the {MAX_IMAGE_SIZE}-byte maximum",
                "split the files over several images",
                source=source,
            )
        raise ImageFormatError(
            f"index of {slots} slots needs {layout.index_end} bytes but the image is only "
            f"{image_len} bytes, so it is truncated",
            "check that the whole image was transferred",
            source=source,
        )


def parse_index(
    index: bytes, header: Header, image_len: int, source: str = "image"
) -> tuple[Entry, ...]:
    """Validate the whole index (``index_end(header.slots)`` bytes) and derive the entries.

    Everything is checked before anything is returned, so a caller that writes only
    after this returns never leaves a partial extraction behind.
    """
    end = index_end(header.slots)
    if len(index) < end:
        raise ImageFormatError(
            f"index is {len(index)} bytes, shorter than the {end} bytes its header declares",
            "check that the whole image was transferred",
            source=source,
        )
    table_end = HEADER_SIZE + header.slots * ENTRY_SIZE
    slots = ENTRY_STRUCT.iter_unpack(index[HEADER_SIZE:table_end])
    raw = [_parse_slot(fields, i, source) for i, fields in enumerate(slots)]
    for i in range(header.count, header.slots):
        _check_unused(index, i, source)
    if not _is_zero(index[table_end:end]):
        raise ImageFormatError(
            f"index padding bytes {table_end}..{end - 1} are not all zero", _REPACK, source=source
        )
    used = raw[: header.count]
    names = _check_names(used, source)
    sizes = [size for size, _ in used]
    offsets = _check_layout(header.slots, sizes, names, image_len, source)
    return tuple(Entry(i, names[i], sizes[i], offsets[i]) for i in range(header.count))


def _slot_bytes(index: bytes, i: int) -> bytes:
    start = HEADER_SIZE + i * ENTRY_SIZE
    return index[start : start + ENTRY_SIZE]


def _parse_slot(fields: tuple[Any, ...], i: int, source: str) -> tuple[int, bytes]:
    size, name_len, flags, reserved, name_field = fields
    raw_name = name_field[: min(name_len, MAX_NAME_BYTES)]
    problem = None
    if name_len > MAX_NAME_BYTES:
        problem = f"name length {name_len} is over the {MAX_NAME_BYTES}-byte limit"
    elif flags or reserved:
        problem = f"flags={flags} reserved={reserved}, but version {VERSION} requires 0"
    elif not _is_zero(name_field[name_len:]):
        problem = "name field has nonzero bytes after the name (corrupt or hidden data)"
    if problem is not None:
        raise ImageFormatError(problem, _REPACK, source=source, index=i, raw_name=raw_name)
    return size, raw_name


def _is_zero(data: bytes) -> bool:
    return data.count(0) == len(data)


def _check_unused(index: bytes, i: int, source: str) -> None:
    if not _is_zero(_slot_bytes(index, i)):
        raise ImageFormatError(
            f"unused slot #{i} is not all zero (header count is smaller than the entries present)",
            _REPACK,
            source=source,
        )


def _check_names(used: Sequence[tuple[int, bytes]], source: str) -> list[str]:
    names: list[str] = []
    seen: dict[bytes, int] = {}
    for i, (_, raw_name) in enumerate(used):
        found = name_problem(raw_name)
        if found is not None:
            raise ImageFormatError(
                describe_name_problem(*found), _REPACK, source=source, index=i, raw_name=raw_name
            )
        if raw_name in seen:
            raise ImageFormatError(
                f"duplicate name (entry #{seen[raw_name]} has the same name), "
                "so one file would overwrite the other",
                _REPACK,
                source=source,
                index=i,
                raw_name=raw_name,
            )
        seen[raw_name] = i
        names.append(raw_name.decode("utf-8"))
    return names


def _check_layout(
    slots: int, sizes: Sequence[int], names: Sequence[str], image_len: int, source: str
) -> tuple[int, ...]:
    layout = layout_checks(INT_ARITH, slots, sizes, image_len)
    for check in layout.checks:
        if check.holds or check.entry is None:
            continue
        i = check.entry
        start = layout.offsets[i]
        raise ImageFormatError(
            f"size {sizes[i]} at offset {start} runs past the end of the {image_len}-byte image "
            "(the image is truncated or the size is corrupt)",
            "check that the whole image was transferred, or repack it",
            source=source,
            index=i,
            raw_name=names[i].encode("utf-8"),
        )
    return layout.offsets


# ----------------------------------------------------------------------------- encoding


def encode_header(slots: int, count: int) -> bytes:
    """The 64-byte header for ``count`` used slots out of ``slots``."""
    return HEADER_STRUCT.pack(
        MAGIC, VERSION, HEADER_SIZE, ENTRY_SIZE, ALIGN_LOG2, slots, count, bytes(40)
    )


def encode_entry(
    name: str, size: int, index: int | None = None, source: str = "pack input"
) -> bytes:
    """One 256-byte entry slot; refuses names a reader would refuse."""
    raw = name.encode("utf-8", "surrogateescape")
    found = name_problem(raw)
    if found is not None:
        raise ImagePackError(
            describe_name_problem(*found),
            "rename the file to a plain name",
            source=source,
            index=index,
            raw_name=raw,
        )
    return ENTRY_STRUCT.pack(size, len(raw), 0, 0, raw)


def encode_index(
    entries: Iterable[tuple[str, int]], slots: int, source: str = "pack input"
) -> bytes:
    """The whole index, ``index_end(slots)`` bytes: header, used slots, zero padding."""
    items = list(entries)
    if not 1 <= slots <= MAX_SLOTS or len(items) > slots:
        raise ImagePackError(
            f"{len(items)} files do not fit {slots} slots (allowed 1..{MAX_SLOTS})",
            f"use at least {len(items)} slots, at most {MAX_SLOTS} files per image",
            source=source,
        )
    slot_bytes = (encode_entry(n, s, i, source) for i, (n, s) in enumerate(items))
    body = encode_header(slots, len(items)) + b"".join(slot_bytes)
    return body + bytes(index_end(slots) - len(body))


# ------------------------------------------------------------------------------ proofs


@dataclass(frozen=True)
class ProofResult:
    """Outcome of :func:`prove_layout`: proved, or a counterexample assignment."""

    entries: int
    proved: bool
    counterexample: dict[str, int] | None


def _z3_arith(z3: Any) -> Arith[Any, Any]:
    return Arith(
        const=lambda v: z3.BitVecVal(v & U64_MASK, 64),
        add=lambda a, b: a + b,
        sub=lambda a, b: a - b,
        scale=lambda a, k: a * z3.BitVecVal(k, 64),
        mask=lambda a, m: a & z3.BitVecVal(m, 64),
        ule=z3.ULE,
    )


def prove_layout(entries: int, omit: frozenset[str] = frozenset()) -> ProofResult:
    """Prove with Z3: if the checks accept, every extent is in bounds and they are disjoint.

    Slots, sizes and the image length are symbolic 64-bit unsigned values and the
    checks run with wrap-around arithmetic (as a C reader computes); the claims are
    stated over unbounded integers, so a wrapped offset cannot sneak through.
    """
    import z3

    slots = z3.BitVec("slots", 64)
    image_len = z3.BitVec("image_len", 64)
    sizes = [z3.BitVec(f"size{i}", 64) for i in range(entries)]
    layout = layout_checks(_z3_arith(z3), slots, sizes, image_len, omit)

    def big(bv: Any) -> Any:  # exact: 66 bits hold any sum of two 64-bit values
        return z3.ZeroExt(2, bv)

    starts = [big(o) for o in layout.offsets]
    ends = [big(o) + big(s) for o, s in zip(layout.offsets, sizes, strict=True)]
    le = z3.ULE
    claims = [le(big(layout.index_end), big(image_len))]
    for i in range(entries):
        claims += [le(big(layout.index_end), starts[i]), le(ends[i], big(image_len))]
        claims.append(z3.Extract(ALIGN_LOG2 - 1, 0, layout.offsets[i]) == 0)
        for j in range(i + 1, entries):
            claims.append(z3.Or(le(ends[i], starts[j]), le(ends[j], starts[i])))
    solver = z3.Solver()
    solver.add(entries <= slots)
    solver.add(*[check.holds for check in layout.checks])
    solver.add(z3.Not(z3.And(*claims)))
    if solver.check() == z3.unsat:
        return ProofResult(entries, True, None)
    model = solver.model()
    names = [slots, image_len, *sizes]
    return ProofResult(entries, False, {str(v): model.eval(v).as_long() for v in names})


# ---------------------------------------------------------------------------- markdown


def _field_table(fields: Sequence[Field]) -> str:
    rows = ["| offset | width | type | field | rule |", "|---:|---:|---|---|---|"]
    rows += [f"| {f.offset} | {f.width} | {f.kind.value} | `{f.name}` | {f.rule} |" for f in fields]
    return "\n".join(rows)


def _hexdump(data: bytes, start: int = 0) -> str:
    lines = []
    for at in range(0, len(data), 16):
        chunk = data[at : at + 16]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{start + at:08x}  {hexes:<47}  {text}")
    return "\n".join(lines)


def render_markdown() -> str:
    """``docs/image-format.md``: this module rendered for third-party implementers."""
    example = encode_index([("hello.txt", 5), ("empty", 0), ("b.bin", 5000)], slots=15)
    offsets = derive_offsets([5, 0, 5000], 15)
    return _MARKDOWN.format(
        magic=MAGIC.decode(),
        version=VERSION,
        header_size=HEADER_SIZE,
        entry_size=ENTRY_SIZE,
        alignment=ALIGNMENT,
        align_log2=ALIGN_LOG2,
        max_name=MAX_NAME_BYTES,
        max_slots=MAX_SLOTS,
        max_image=MAX_IMAGE_SIZE,
        header_table=_field_table(HEADER_FIELDS),
        entry_table=_field_table(ENTRY_FIELDS),
        header_dump=_hexdump(example[:HEADER_SIZE]),
        entry_dump=_hexdump(example[HEADER_SIZE : HEADER_SIZE + 48], HEADER_SIZE),
        offsets=", ".join(str(o) for o in offsets),
        ex_end=index_end(15),
        ex_len=data_end([5, 0, 5000], 15),
    )


def write_markdown(path: str | Path) -> None:
    """Regenerate ``docs/image-format.md`` (run from the repository root)."""
    Path(path).write_text(render_markdown(), encoding="utf-8")


_MARKDOWN = """\
# intervm image bundle format, version {version}

<!-- Generated from spec/image_format.py by render_markdown(); do not edit by hand.
     Regenerate: python -c "from intervm.spec.image_format import write_markdown; \
write_markdown('docs/image-format.md')" -->

An image bundle is one file (or one disk) holding a flat set of named files.  A
privileged domain writes it; unprivileged VMs read it.  **The image is untrusted
input**: a reader must validate the whole index, as described below, before it
writes any file.

## Overview

```
offset 0            64                     64 + slots*256     index_end
       +------------+----------------------+-----------------+
       | header     | slot 0 | slot 1 | ...| zero padding    |  <- index (fixed size)
       +------------+----------------------+-----------------+
index_end: file 0 | pad | file 1 | pad | ... | file count-1 | (optional trailing bytes)
```

* All integers are **unsigned little-endian**.
* The index has a fixed size decided by the writer: a {header_size}-byte header
  followed by `slots` entry slots of {entry_size} bytes each, zero-padded up to a
  multiple of {alignment}.  Its size is `index_end = align_up({header_size} + slots * {entry_size})`.
* The first `count` slots describe the files, in order; slots `count..slots-1`
  are unused and must be all zero.
* File offsets are **not stored**.  They are derived from the sizes:
  `offset[0] = index_end`, `offset[i+1] = align_up(offset[i] + size[i])`,
  where `align_up(x) = (x + {alignment} - 1) & ~({alignment} - 1)`.
  Extents are therefore ordered and cannot overlap.
* Bytes between file images (alignment padding) must be written as zeros by
  writers and must be ignored by readers.  The image may be longer than the end
  of the last file (e.g. padded to a fixed disk size); trailing bytes are ignored.
  Writers should make the image length a multiple of {alignment}: a disk's size is
  whole sectors, so a block device exposing an unpadded image would cut its end off.

## Constants

| name | value |
|---|---|
| magic | `{magic}` (8 bytes) |
| version | {version} |
| header size | {header_size} |
| entry slot size | {entry_size} |
| alignment | {alignment} (`align_log2` = {align_log2}) |
| maximum name length | {max_name} bytes |
| maximum slots | {max_slots} |
| maximum image length | {max_image} bytes (2^62) |

Writers by default use as many slots as fit the whole {alignment}-byte blocks that
`count` slots need (`(align_up({header_size} + max(count, 1) * {entry_size}) - {header_size}) / {entry_size}`:
15 slots for up to 15 files, 31 for up to 31, …); any slot count in range is valid.

## Header ({header_size} bytes at offset 0)

{header_table}

## Entry slot ({entry_size} bytes at offset `{header_size} + i * {entry_size}`)

{entry_table}

## Names

A name is a single file name, never a path.  It is valid if and only if:

1. `1 <= name_len <= {max_name}`, and the name field's bytes after `name_len` are zero;
2. it contains no NUL byte;
3. it is valid UTF-8 (strict: no overlong forms, no surrogates);
4. it contains no `/` (so it is neither absolute nor a path) and no `\\`;
5. it is not `.` or `..`;
6. no code point is in Unicode general category Cc, Cf, Cs, Co, Cn, Zl or Zp
   (control, format — including bidi overrides —, surrogate, private use,
   unassigned, line and paragraph separators);
7. no other used entry has the same bytes (names compare as bytes; no
   normalisation is applied).

## Validation (readers must do all of this before writing anything)

Let `image_len` be the length of the image (for a block device: seek to its end).
Use 64-bit unsigned arithmetic; the order below keeps every subtraction from
wrapping and every addition from overflowing.

1. `image_len >= {header_size}`; otherwise the image is truncated.
2. `magic` matches; `version == {version}`; `header_size == {header_size}`,
   `entry_size == {entry_size}`, `align_log2 == {align_log2}`; `reserved` is all zero.
3. `1 <= slots <= {max_slots}` and `count <= slots`.
4. `image_len <= 2^62` (this bound is what makes `align_up` unable to overflow).
5. `index_end = align_up({header_size} + slots * {entry_size})`; require `index_end <= image_len`.
6. Read the whole index (`index_end` bytes).  For every slot: `name_len <= {max_name}`,
   `flags == 0`, `reserved == 0`, name-field bytes after `name_len` are zero.
   Unused slots and the padding after the last slot are all zero.
7. Every used name is valid (see *Names*) and unique.
8. With `off = index_end`, for `i` in `0..count-1`:
   require `off <= image_len` and `size[i] <= image_len - off`;
   then `offset[i] = off` and `off = align_up(off + size[i])`.

`spec/image_format.py` proves with Z3 that checks 3–5 and 8 imply, for every
accepted image, `index_end <= offset[i]`, `offset[i] + size[i] <= image_len`,
`offset[i] % {alignment} == 0` and pairwise disjoint extents (for symbolic sizes,
slots and image length, with wrap-around arithmetic in the checks).  Dropping
check 4 yields a counterexample where `align_up` wraps to 0.

## Extraction (how the reference reader writes files)

* Open the target directory once and create every file relative to it
  (`openat`), with `O_CREAT | O_EXCL | O_NOFOLLOW`, under a temporary name; copy
  exactly `size[i]` bytes from `offset[i]`; a short read means the image shrank and
  is an error.
* Only when every file is written, rename the temporaries to their names.  An
  existing entry at a target name (in particular a symlink) is refused unless the
  user asked to overwrite regular files; symlinks are never followed or replaced.
* On any failure, and when stopped by SIGTERM, SIGHUP or SIGINT (the CLI then exits
  128 + the signal number), remove every file the run created.

## Example

Three files `hello.txt` (5 bytes), `empty` (0 bytes), `b.bin` (5000 bytes),
15 slots: `index_end` = {ex_end}, offsets = {offsets}, minimal image length = {ex_len}.

Header:

```
{header_dump}
```

Start of slot 0 (`size` = 5, `name_len` = 9, `name` = `hello.txt`):

```
{entry_dump}
```

## Versioning

`version` is incremented for any change a version-{version} reader would misread.
A reader must refuse any version it does not implement; it must not guess.
Fields documented as "must be zero" are reserved for future versions and are
refused when nonzero, so that old readers never silently ignore new meaning.

## Not covered

The format carries no checksum, owner, mode or timestamps.  Integrity and
authenticity of the whole image must be established out of band (e.g. by the
privileged domain signing or hashing the disk); extracted files are created with
mode 0666 minus the reader's umask.
"""
