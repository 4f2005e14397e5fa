"""The normative layout: geometry, cache-line separation, generated docs."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from intervm.spec import layout as L

DOCS = Path(__file__).resolve().parents[1] / "docs" / "layout.md"


def test_docs_layout_md_is_generated_from_the_data() -> None:
    assert DOCS.read_text() == L.render_markdown(), (
        "docs/layout.md is stale: regenerate with python -c \"from intervm.spec.layout import "
        "render_markdown; open('docs/layout.md', 'w').write(render_markdown())\""
    )


def test_pinned_offsets_of_version_1() -> None:
    lay = L.build_layout(capacity=256)
    offsets = {f.name: (f.offset, f.size) for f in lay.fields}
    assert offsets == {
        "magic": (0, 8), "version": (8, 4), "capacity": (12, 4), "slot_size": (16, 4),
        "reserved0": (20, 4), "total_size": (24, 8),
        "tail": (64, 4), "pwait": (68, 4),
        "head": (128, 4), "flag": (132, 4),
        "timer_seq": (192, 4), "time_lo": (196, 4), "time_hi": (200, 4), "reserved1": (204, 4),
        "time64": (208, 8), "tick_ns": (216, 8),
        "slot_id": (256, 8), "slot_stamp": (264, 8),
    }
    assert lay.total_size == 256 + 256 * 16 == 4352
    assert L.MAGIC.to_bytes(8, "little") == b"IVMSHMv1"
    assert [(d.name, d.fd_position) for d in lay.doorbells] == [("irq", 0), ("done", 1)]


@pytest.mark.parametrize(("capacity", "slot_size"), [(1, 16), (8, 24), (1024, 64), (1 << 20, 16)])
def test_fields_aligned_disjoint_and_inside(capacity: int, slot_size: int) -> None:
    lay = L.build_layout(capacity, slot_size)
    cells: list[tuple[int, int, str]] = []
    for f in lay.fields:
        assert f.align == f.size and f.offset % f.align == 0 and f.stride % f.align == 0
        assert f.end <= lay.total_size
        for i in (range(f.count) if f.count < 64 else (0, 1, f.count - 1)):
            start = f.offset + i * f.stride
            cells.append((start, start + f.size, f.name))
    cells.sort()
    for (_, end, a), (start, _, b) in itertools.pairwise(cells):
        assert end <= start, f"{a} overlaps {b}"
    assert lay.total_size % L.CACHE_LINE == 0


def test_writers_never_share_a_cache_line() -> None:
    lay = L.build_layout(capacity=4)
    lines: dict[int, set[L.Writer]] = {}
    for f in lay.fields:
        if f.count == 1:
            lines.setdefault(f.offset // L.CACHE_LINE, set()).add(f.writer)
    assert all(len(w) == 1 for w in lines.values()), lines
    assert lay.field("tail").offset // 64 != lay.field("head").offset // 64


@pytest.mark.parametrize(
    ("capacity", "slot_size"), [(0, 16), (3, 16), (1 << 21, 16), (8, 12), (8, 20)]
)
def test_bad_geometry_is_rejected_with_reason(capacity: int, slot_size: int) -> None:
    with pytest.raises(ValueError, match=r"capacity|slot size"):
        L.build_layout(capacity, slot_size)


def test_array_bounds_and_unknown_names() -> None:
    lay = L.build_layout(capacity=4)
    assert lay.field("slot_stamp").offset_of(3) == 256 + 3 * 16 + 8
    with pytest.raises(IndexError, match=r"outside 0\.\.3"):
        lay.field("slot_id").offset_of(4)
    with pytest.raises(IndexError, match="array"):
        lay.field("slot_id").offset_of()
    with pytest.raises(KeyError, match="no field 'nope'"):
        lay.field("nope")


def test_commit_point_rule_is_documented() -> None:
    text = L.render_markdown()
    assert "at most ONE duplicate per consumer crash" in text
    assert "SCM_RIGHTS" in text and L.REGION_ENV in text
