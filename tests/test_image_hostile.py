"""Hostile images and hostile targets: clean one-line errors, nothing written, nothing left."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from intervm.cli import main
from intervm.impl import image as bundle
from intervm.spec import image_format as fmt


@dataclass(frozen=True)
class Raw:
    """An entry slot written verbatim (no validation): the attacker's view of the format."""

    name: bytes
    size: int
    name_len: int | None = None
    flags: int = 0
    reserved: int = 0
    tail: bytes = b""

    def encode(self) -> bytes:
        length = len(self.name) if self.name_len is None else self.name_len
        field_bytes = (self.name + self.tail)[: fmt.MAX_NAME_BYTES]
        return fmt.ENTRY_STRUCT.pack(
            self.size & fmt.U64_MASK, length, self.flags, self.reserved, field_bytes
        )


@dataclass(frozen=True)
class Craft:
    """A hand-built image: header fields, raw slots, data filled at derived offsets."""

    entries: tuple[Raw, ...]
    slots: int = 15
    count: int | None = None
    magic: bytes = fmt.MAGIC
    version: int = fmt.VERSION
    header_size: int = fmt.HEADER_SIZE
    reserved: bytes = bytes(40)
    extra_slots: dict[int, bytes] = field(default_factory=dict)
    length: int | None = None

    def build(self) -> bytes:
        count = len(self.entries) if self.count is None else self.count
        header = fmt.HEADER_STRUCT.pack(
            self.magic,
            self.version,
            self.header_size,
            fmt.ENTRY_SIZE,
            fmt.ALIGN_LOG2,
            self.slots,
            count,
            self.reserved,
        )
        end = fmt.index_end(min(self.slots, 64))
        image = bytearray(header + b"".join(e.encode() for e in self.entries))
        for slot, raw in self.extra_slots.items():
            at = fmt.HEADER_SIZE + slot * fmt.ENTRY_SIZE
            image[len(image) : at] = bytes(max(0, at - len(image)))
            image[at : at + len(raw)] = raw
        image.extend(bytes(max(0, end - len(image))))
        cursor = end
        for i, entry in enumerate(self.entries):
            if entry.size < 1 << 20:
                image.extend(bytes(cursor - len(image)))
                image.extend(bytes([65 + i]) * entry.size)
                cursor = fmt.align_up(cursor + entry.size)
        data = bytes(image)
        return data if self.length is None else data[: self.length].ljust(self.length, b"\0")


def ok(name: bytes, size: int = 3) -> Raw:
    return Raw(name, size)


HOSTILE: dict[str, tuple[bytes, str, int | None, str | None]] = {
    # id: (image, key part of the message, entry index, entry name)
    "empty file": (b"", "is 0 bytes, too short for the 64-byte header", None, None),
    "truncated header": (
        fmt.MAGIC + b"\1\0",
        "is 10 bytes, too short for the 64-byte header",
        None,
        None,
    ),
    "bad magic": (Craft((), magic=b"NOTANIMG").build(), "bad magic b'NOTANIMG'", None, None),
    "bad version": (
        Craft((), version=2).build(),
        "unsupported format version 2 (this reader supports 1)",
        None,
        None,
    ),
    "bad header size": (
        Craft((), header_size=65).build(),
        "header field header_size is 65",
        None,
        None,
    ),
    "reserved header": (
        Craft((), reserved=b"\1" + bytes(39)).build(),
        "header reserved bytes",
        None,
        None,
    ),
    "zero slots": (Craft((), slots=0).build(), "declares 0 entry slots", None, None),
    "huge slot count": (
        Craft((), slots=0xFFFFFFFF).build(),
        "declares 4294967295 entry slots, outside the allowed range 1..65536",
        None,
        None,
    ),
    "count over slots": (
        Craft((), count=16).build(),
        "declares 16 entries but only 15 slots",
        None,
        None,
    ),
    "index truncated": (
        Craft((), slots=1000, length=4096).build(),
        "index of 1000 slots needs 258048 bytes but the image is only 4096 bytes",
        None,
        None,
    ),
    "slash": (Craft((ok(b"a/b"),)).build(), "name contains '/'", 0, "a/b"),
    "dotdot path": (
        Craft((ok(b"../../etc/cron.d/x"),)).build(),
        "name contains '/'",
        0,
        "../../etc/cron.d/x",
    ),
    "dotdot": (Craft((ok(b".."),)).build(), "name is '..'", 0, ".."),
    "dot": (Craft((ok(b"."),)).build(), "name is '.'", 0, "."),
    "absolute": (
        Craft((ok(b"/etc/passwd"),)).build(),
        "name is an absolute path",
        0,
        "/etc/passwd",
    ),
    "nul": (Craft((ok(b"a\0b"),)).build(), "name contains a NUL byte", 0, "a\0b"),
    "empty name": (Craft((ok(b""),)).build(), "name is empty", 0, ""),
    "backslash": (Craft((ok(b"a\\b"),)).build(), "name contains '\\'", 0, "a\\b"),
    "not utf-8": (Craft((ok(b"\xff.txt"),)).build(), "not valid UTF-8", 0, "\\xff.txt"),
    "bidi override": (Craft((ok("x\u202etxt".encode()),)).build(), "U+202E", 0, "x\u202etxt"),
    "name too long": (
        Craft((Raw(b"a" * 240, 3, name_len=300),)).build(),
        "name length 300",
        0,
        "a" * 240,
    ),
    "hidden bytes after name": (
        Craft((Raw(b"a", 3, tail=b"\0X"),)).build(),
        "nonzero bytes after the name",
        0,
        "a",
    ),
    "flags": (Craft((Raw(b"a", 3, flags=1),)).build(), "flags=1 reserved=0", 0, "a"),
    "duplicate": (
        Craft((ok(b"a"), ok(b"b"), ok(b"a"))).build(),
        "duplicate name (entry #0 has the same name)",
        2,
        "a",
    ),
    "size overflows u64": (
        Craft((ok(b"a"), Raw(b"big", fmt.U64_MASK))).build(),
        "size 18446744073709551615 at offset 8192 runs past the end",
        1,
        "big",
    ),
    "size wraps offsets": (
        Craft((Raw(b"a", fmt.U64_MASK - 4095), ok(b"b"))).build(),
        "size 18446744073709547520 at offset 4096 runs past the end",
        0,
        "a",
    ),
    "data truncated": (
        Craft((ok(b"a"), Raw(b"b", 5000))).build()[:-1],
        "size 5000 at offset 8192 runs past the end of the 13191-byte image",
        1,
        "b",
    ),
    "unused slot not zero": (
        Craft((ok(b"a"),), extra_slots={1: ok(b"hidden").encode()}).build(),
        "unused slot #1 is not all zero",
        None,
        None,
    ),
}


def sandbox_listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_image_is_refused_before_anything_is_written(tmp_path: Path, case: str) -> None:
    image, message, index, name = HOSTILE[case]
    (tmp_path / "bad.img").write_bytes(image)
    with pytest.raises(bundle.ImageFormatError) as info:
        bundle.extract(tmp_path / "bad.img", tmp_path / "out")
    err = info.value
    assert message in str(err)
    assert (err.index, err.name) == (index, name)
    assert str(err).startswith(str(tmp_path / "bad.img"))
    assert "\n" not in str(err) and "; " in str(err)  # one line: problem; what to do
    assert sandbox_listing(tmp_path) == ["bad.img"]  # not even the target directory
    with pytest.raises(bundle.ImageFormatError):
        bundle.list_entries(tmp_path / "bad.img")


def test_exact_message_for_a_traversal_name(tmp_path: Path) -> None:
    (tmp_path / "bad.img").write_bytes(Craft((ok(b"fine"), ok(b"../x"))).build())
    with pytest.raises(bundle.ImageFormatError) as info:
        bundle.list_entries(tmp_path / "bad.img")
    assert str(info.value) == (
        f"{tmp_path / 'bad.img'}, entry #1 (name '../x'): name contains '/', which would write "
        "outside the target directory; rebuild the image with 'intervm image pack' from "
        "trusted files"
    )


def test_valid_entries_before_a_bad_one_are_not_written(tmp_path: Path) -> None:
    (tmp_path / "bad.img").write_bytes(Craft((ok(b"a"), ok(b"b"), ok(b"../c"))).build())
    (tmp_path / "out").mkdir()
    with pytest.raises(bundle.ImageFormatError, match="entry #2"):
        bundle.extract(tmp_path / "bad.img", tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []  # existing DIR kept, and empty


def _good_image(tmp_path: Path, files: dict[str, bytes]) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    for name, data in files.items():
        (src / name).write_bytes(data)
    bundle.pack(src, tmp_path / "good.img")
    return tmp_path / "good.img"


def test_symlink_at_a_target_name_is_refused_even_with_overwrite(tmp_path: Path) -> None:
    image = _good_image(tmp_path, {"a": b"1", "passwd": b"owned"})
    outside = tmp_path / "outside"
    outside.write_bytes(b"precious")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "passwd").symlink_to(outside)
    for overwrite in (False, True):
        with pytest.raises(bundle.ImageTargetError) as info:
            bundle.extract(image, tmp_path / "out", overwrite=overwrite)
        assert "already exists (a symlink)" in str(info.value)
        assert (info.value.index, info.value.name) == (1, "passwd")
    assert outside.read_bytes() == b"precious"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["passwd"]


def test_existing_file_or_directory_at_a_target_name_is_refused(tmp_path: Path) -> None:
    image = _good_image(tmp_path, {"a": b"1", "b": b"2"})
    (tmp_path / "out" / "b").mkdir(parents=True)
    with pytest.raises(bundle.ImageTargetError, match=r"already exists \(not a regular file\)"):
        bundle.extract(image, tmp_path / "out", overwrite=True)
    (tmp_path / "out" / "b").rmdir()
    (tmp_path / "out" / "a").write_bytes(b"mine")
    with pytest.raises(bundle.ImageTargetError, match=r"already exists \(a regular file\)"):
        bundle.extract(image, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a"]
    assert (tmp_path / "out" / "a").read_bytes() == b"mine"


def test_image_shrinking_mid_extraction_rolls_everything_back(tmp_path: Path) -> None:
    image = _good_image(tmp_path, {"a": b"A" * 10000, "b": b"B" * 10000})

    def truncate_after_first_file(p: bundle.Progress) -> None:
        if p.files_done == 1:
            os.truncate(image, 4096)

    with pytest.raises(bundle.ImageFormatError) as info:
        bundle.extract(image, tmp_path / "out", progress=truncate_after_first_file)
    assert "so the image shrank during extraction" in str(info.value)
    assert (info.value.index, info.value.name) == (1, "b")
    assert not (tmp_path / "out").exists()


def test_interrupt_mid_extraction_leaves_nothing(tmp_path: Path) -> None:
    image = _good_image(tmp_path, {"a": b"1", "b": b"2", "c": b"3"})
    (tmp_path / "out").mkdir()

    def interrupt(p: bundle.Progress) -> None:
        if p.files_done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        bundle.extract(image, tmp_path / "out", progress=interrupt)
    assert list((tmp_path / "out").iterdir()) == []


def test_unknown_name_is_refused_before_writing(tmp_path: Path) -> None:
    image = _good_image(tmp_path, {"a": b"1"})
    with pytest.raises(bundle.ImageRequestError, match="has no entry named 'nope'"):
        bundle.extract(image, tmp_path / "out", ["a", "nope"])
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------ CLI


@pytest.mark.parametrize("case", ["bad magic", "dotdot path", "size overflows u64", "empty file"])
@pytest.mark.parametrize("command", ["list", "extract"])
def test_cli_bad_image_is_one_error_line_and_exit_1(
    tmp_path: Path, case: str, command: str
) -> None:
    image, message, _, _ = HOSTILE[case]
    (tmp_path / "bad.img").write_bytes(image)
    args = ["image", command, str(tmp_path / "bad.img")]
    result = CliRunner().invoke(
        main, [*args, str(tmp_path / "out")] if command == "extract" else args
    )
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and result.output.startswith("Error: ")
    assert message in result.output and "Traceback" not in result.output
    assert sandbox_listing(tmp_path) == ["bad.img"]


def test_cli_missing_image_and_bad_usage_are_one_line(tmp_path: Path) -> None:
    missing = CliRunner().invoke(main, ["image", "list", str(tmp_path / "nope.img")])
    assert missing.exit_code == 1 and missing.output.count("\n") == 1
    assert "No such file or directory (ENOENT)" in missing.output
    usage = CliRunner().invoke(main, ["image", "extract", str(tmp_path / "nope.img")])
    assert usage.exit_code != 0 and usage.output.strip() == "Error: Missing argument 'DIRECTORY'."


def test_cli_list_shows_names_verbatim_not_as_markup(tmp_path: Path) -> None:
    image = _good_image(tmp_path, {"[red]x": b"12345"})
    result = CliRunner().invoke(main, ["image", "list", str(image)])
    assert result.exit_code == 0 and "[red]x" in result.output and "5" in result.output


def test_cli_real_subprocess_bad_image(tmp_path: Path) -> None:
    (tmp_path / "bad.img").write_bytes(HOSTILE["dotdot path"][0])
    exe = shutil.which("intervm")
    cmd = [exe] if exe else [sys.executable, "-c", "from intervm.cli import main; main()"]
    proc = subprocess.run(
        [*cmd, "image", "extract", str(tmp_path / "bad.img"), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "entry #0 (name '../../etc/cron.d/x'): name contains '/'" in proc.stderr
    assert sandbox_listing(tmp_path) == ["bad.img"]


# ----------------------------------------------------------------------------- fuzz

BASE_FILES = {"alpha": b"a" * 5000, "empty": b"", "gamma": bytes(range(256)) * 3}
BASE = Craft(
    tuple(Raw(n.encode(), len(d)) for n, d in BASE_FILES.items()),
    slots=15,
).build()
FIELD_OFFSETS = [f.offset for f in fmt.HEADER_FIELDS] + [
    fmt.HEADER_SIZE + slot * fmt.ENTRY_SIZE + f.offset
    for slot in range(4)
    for f in fmt.ENTRY_FIELDS
]
INTERESTING = [0, 1, 2, 0x7F, 0xFF, 0xFFFF, 0xFFFFFFFF, 1 << 62, fmt.U64_MASK, 4096, 4095, 8191]

mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, len(BASE) * 8 - 1), st.just(0)),
    st.tuples(st.just("flip"), st.integers(0, 4096 * 8 - 1), st.just(0)),  # index, more often
    st.tuples(st.just("flip"), st.integers(4096 * 8, len(BASE) * 8 - 1), st.just(0)),  # data
    st.tuples(st.just("truncate"), st.integers(0, len(BASE)), st.just(0)),
    st.tuples(st.just("byte"), st.integers(80, 84), st.integers(0x20, 0x7E)),  # rename
    st.tuples(st.just("field"), st.sampled_from(FIELD_OFFSETS), st.sampled_from(INTERESTING)),
    st.tuples(st.just("byte"), st.integers(80, 120), st.sampled_from(list(b"/.\\\0\xff\n"))),
)


def mutate(image: bytes, ops: list[tuple[str, int, int]]) -> bytes:
    data = bytearray(image)
    for op, at, value in ops:
        if op == "flip" and at // 8 < len(data):
            data[at // 8] ^= 1 << (at % 8)
        elif op == "truncate":
            del data[at:]
        elif op == "field":
            raw = value.to_bytes(8, "little")
            data[at : at + 8] = raw[: len(data[at : at + 8])]
        elif op == "byte" and at < len(data):
            data[at] = value
    return bytes(data)


@settings(
    max_examples=1000,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(mutation, min_size=1, max_size=4))
def test_fuzzed_images_extract_correctly_or_fail_cleanly(ops: list[tuple[str, int, int]]) -> None:
    image = mutate(BASE, ops)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "x.img").write_bytes(image)
        try:
            result = bundle.extract(root / "x.img", root / "out")
        except bundle.ImageFormatError as err:
            event(f"refused: {err.problem.split(' ')[0]}")
            assert "\n" not in str(err)
            assert sandbox_listing(root) == ["x.img"]
            return
        event(f"extracted {len(result.entries)} files")
        written = {p.name: p.read_bytes() for p in (root / "out").iterdir()}
        expected = {e.name: image[e.offset : e.offset + e.size] for e in result.entries}
        assert written == expected
        assert sandbox_listing(root) == sorted(["x.img", "out", *(f"out/{n}" for n in expected)])
