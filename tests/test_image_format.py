"""The image bundle format spec: tables, rendered doc, Z3 layout proof, names, headers."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intervm.commands import image as image_cli
from intervm.impl import image as bundle
from intervm.spec import image_format as fmt

DOC = Path(__file__).resolve().parent.parent / "docs" / "image-format.md"


def test_field_tables_match_the_structs_byte_for_byte() -> None:
    for fields, packer, size in (
        (fmt.HEADER_FIELDS, fmt.HEADER_STRUCT, fmt.HEADER_SIZE),
        (fmt.ENTRY_FIELDS, fmt.ENTRY_STRUCT, fmt.ENTRY_SIZE),
    ):
        assert packer.size == size
        cursor = 0
        for field in fields:
            assert field.offset == cursor, field
            cursor += field.width
        assert cursor == size


def test_rendered_doc_is_in_sync_with_the_spec() -> None:
    assert DOC.read_text(encoding="utf-8") == fmt.render_markdown(), (
        "docs/image-format.md is stale: regenerate it with "
        'python -c "from intervm.spec.image_format import write_markdown; '
        "write_markdown('docs/image-format.md')\""
    )


@pytest.mark.parametrize("module", [fmt, bundle, image_cli])
def test_module_docstring_examples_hold(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)  # type: ignore[arg-type]
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("entries", [0, 1, 2, 3, 4])
def test_z3_accepted_layouts_are_in_bounds_aligned_and_disjoint(entries: int) -> None:
    assert fmt.prove_layout(entries) == fmt.ProofResult(entries, True, None)


@pytest.mark.parametrize(
    ("dropped", "entries"), [("image_size", 2), ("size", 2), ("index_fits", 0)]
)
def test_z3_finds_a_counterexample_when_a_check_is_dropped(dropped: str, entries: int) -> None:
    result = fmt.prove_layout(entries, omit=frozenset({dropped}))
    assert not result.proved and result.counterexample is not None


@settings(max_examples=200, derandomize=True, database=None)
@given(
    st.integers(1, 40) | st.integers(1, fmt.MAX_SLOTS),
    st.lists(st.integers(0, 1 << 16) | st.integers(0, fmt.U64_MASK), max_size=6),
    st.integers(0, 1 << 18) | st.integers(0, fmt.U64_MASK),
)
def test_validator_on_ints_accepts_only_disjoint_in_bounds_extents(
    slots: int, sizes: list[int], image_len: int
) -> None:
    layout = fmt.layout_checks(fmt.INT_ARITH, slots, sizes, image_len)
    if not all(check.holds for check in layout.checks):
        return
    assert list(layout.offsets) == list(fmt.derive_offsets(sizes, slots))
    extents = [(o, o + s) for o, s in zip(layout.offsets, sizes, strict=True)]
    for i, (start, end) in enumerate(extents):
        assert fmt.index_end(slots) <= start and end <= image_len and start % fmt.ALIGNMENT == 0
        for start2, _ in extents[i + 1 :]:
            assert end <= start2


@settings(max_examples=100, derandomize=True, database=None)
@given(
    st.lists(
        st.tuples(st.from_regex(r"[a-z0-9._-]{1,12}", fullmatch=True), st.integers(0, 1 << 20)),
        max_size=20,
        unique_by=lambda t: t[0],
    )
)
def test_index_encode_then_parse_round_trips(files: list[tuple[str, int]]) -> None:
    files = [(n, s) for n, s in files if n not in (".", "..")]
    slots = fmt.default_slots(len(files))
    raw = fmt.encode_index(files, slots)
    length = fmt.data_end([s for _, s in files], slots)
    header = fmt.parse_header(raw, length)
    entries = fmt.parse_index(raw, header, length)
    assert [(e.name, e.size) for e in entries] == files
    assert [e.offset for e in entries] == list(fmt.derive_offsets([s for _, s in files], slots))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", "name is empty"),
        (b"x" * 241, "name is 241 bytes, over the 240-byte limit"),
        (b"a\x00b", "NUL byte"),
        (b"\xff\xfe", "not valid UTF-8 (bad byte at position 0)"),
        (b"/etc/passwd", "absolute path"),
        (b"../escape", "contains '/'"),
        (b"a/b", "contains '/'"),
        (b"a\\b", "contains '\\'"),
        (b".", "name is '.'"),
        (b"..", "name is '..'"),
        (b"a\x07b", "unprintable character U+0007"),
        ("evil\u202etxt.exe".encode(), "unprintable character U+202E"),
        ("line\u2028break".encode(), "unprintable character U+2028"),
    ],
)
def test_bad_names_are_refused_with_a_reason(raw: bytes, expected: str) -> None:
    found = fmt.name_problem(raw)
    assert found is not None
    assert expected in fmt.describe_name_problem(*found)


@pytest.mark.parametrize(
    "raw", [b"a", b"x" * 240, "caf\u00e9.txt".encode(), b"-rf", b"...", b" a "]
)
def test_plain_names_are_accepted(raw: bytes) -> None:
    assert fmt.name_problem(raw) is None


def test_default_slots_fill_whole_index_blocks() -> None:
    assert [fmt.default_slots(n) for n in (0, 1, 15, 16, 2000)] == [15, 15, 15, 31, 2015]
    assert all(fmt.index_end(fmt.default_slots(n)) == fmt.index_end(max(n, 1)) for n in range(99))


def test_error_messages_are_one_line_and_name_the_entry() -> None:
    err = fmt.ImageFormatError("bad\nthing", "fix it", source="x.img", index=3, raw_name=b"a\nb")
    assert str(err) == "x.img, entry #3 (name 'a\\nb'): bad\\nthing; fix it"
    assert (err.index, err.name, err.raw_name) == (3, "a\nb", b"a\nb")
    assert isinstance(err, ValueError)


@settings(max_examples=300, derandomize=True, database=None)
@given(st.binary(max_size=12) | st.text(max_size=6).map(lambda t: t.encode("utf-8", "replace")))
def test_ascii_fast_path_gives_the_same_verdict_as_the_full_name_checks(
    raw: bytes,
) -> None:
    fast = fmt.name_problem(raw)
    original = fmt._PLAIN_ASCII
    try:
        fmt._PLAIN_ASCII = re.compile(rb"(?!)")  # never matches: forces the full checks
        slow = fmt.name_problem(raw)
    finally:
        fmt._PLAIN_ASCII = original
    assert fast == slow
