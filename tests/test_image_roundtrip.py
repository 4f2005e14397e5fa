"""Image bundles: pack → list → extract round-trips, selection, progress, copy fallbacks."""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intervm.impl import image as bundle
from intervm.spec import image_format as fmt

NAME_CHARS = st.characters(
    blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"),
    blacklist_characters="/\\\x00",
)
NAMES = st.text(NAME_CHARS, min_size=1, max_size=30).filter(
    lambda n: n not in (".", "..") and len(n.encode()) <= fmt.MAX_NAME_BYTES
)


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (root / name).write_bytes(data)
    return root


def read_tree(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in root.iterdir()}


@settings(
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.dictionaries(NAMES, st.binary(max_size=9000), max_size=8))
def test_pack_list_extract_round_trips_byte_for_byte(files: dict[str, bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src = write_tree(Path(tmp, "src"), files)
        image = Path(tmp, "b.img")
        packed = bundle.pack(src, image)
        listed = bundle.list_entries(image)
        assert listed == packed
        assert sorted(e.name for e in listed) == sorted(files)
        assert [e.name.encode() for e in listed] == sorted(n.encode() for n in files)
        result = bundle.extract(image, Path(tmp, "out"))
        assert read_tree(Path(tmp, "out")) == files
        assert result.total_bytes == sum(map(len, files.values()))
        sizes = [e.size for e in listed]
        assert image.stat().st_size == fmt.align_up(
            fmt.data_end(sizes, fmt.default_slots(len(sizes)))
        )


def test_file_images_sit_at_the_derived_aligned_offsets(tmp_path: Path) -> None:
    src = write_tree(tmp_path / "src", {"a": b"A" * 5000, "b": b"", "c": b"C" * 3})
    entries = bundle.pack(src, tmp_path / "b.img")
    raw = (tmp_path / "b.img").read_bytes()
    assert [e.offset for e in entries] == [4096, 12288, 12288]
    assert raw[4096:9096] == b"A" * 5000 and raw[12288:12291] == b"CCC"
    assert raw[9096:12288] == bytes(12288 - 9096)  # alignment padding is zero
    assert len(raw) == 16384 and raw[12291:] == bytes(16384 - 12291)  # padded to whole blocks


def test_fixed_slots_and_image_size_pad_the_image(tmp_path: Path) -> None:
    src = write_tree(tmp_path / "src", {"a": b"xyz"})
    bundle.pack(src, tmp_path / "b.img", slots=100, image_size=1 << 20)
    index = bundle.read_index(tmp_path / "b.img")
    assert (index.header.slots, index.image_len) == (100, 1 << 20)
    assert index.entries[0].offset == fmt.index_end(100) == 28672
    bundle.extract(tmp_path / "b.img", tmp_path / "out")
    assert read_tree(tmp_path / "out") == {"a": b"xyz"}


def test_empty_directory_packs_to_an_index_only_image(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    assert bundle.pack(tmp_path / "src", tmp_path / "b.img") == ()
    assert (tmp_path / "b.img").stat().st_size == 4096
    assert bundle.extract(tmp_path / "b.img", tmp_path / "out").entries == ()
    assert list((tmp_path / "out").iterdir()) == []


def test_extract_selected_names_only(tmp_path: Path) -> None:
    src = write_tree(tmp_path / "src", {"a": b"1", "b": b"22", "c": b"333"})
    bundle.pack(src, tmp_path / "b.img")
    result = bundle.extract(tmp_path / "b.img", tmp_path / "out", ["c", "a"])
    assert [e.name for e in result.entries] == ["a", "c"]
    assert read_tree(tmp_path / "out") == {"a": b"1", "c": b"333"}


def test_progress_reports_every_file_and_ends_at_the_total(tmp_path: Path) -> None:
    src = write_tree(tmp_path / "src", {f"f{i}": bytes([i]) * (i * 1000) for i in range(5)})
    bundle.pack(src, tmp_path / "b.img")
    seen: list[bundle.Progress] = []
    bundle.extract(tmp_path / "b.img", tmp_path / "out", progress=seen.append)
    assert seen[-1].files_done == seen[-1].files_total == 5
    assert seen[-1].bytes_done == seen[-1].bytes_total == 10000
    assert [p.bytes_done for p in seen] == sorted(p.bytes_done for p in seen)


def test_large_file_is_copied_in_bounded_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bundle, "CHUNK", 4096)
    data = os.urandom(5 * 4096 + 17)
    bundle.pack(write_tree(tmp_path / "src", {"big": data}), tmp_path / "b.img")
    seen: list[int] = []
    bundle.extract(
        tmp_path / "b.img", tmp_path / "out", progress=lambda p: seen.append(p.bytes_done)
    )
    assert seen[:6] == [4096, 8192, 12288, 16384, 20480, len(data)]
    assert (tmp_path / "out" / "big").read_bytes() == data


def _refuse(code: int) -> Callable[..., int]:
    def refuse(*_args: object, **_kwargs: object) -> int:
        raise OSError(code, os.strerror(code))

    return refuse


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        ({"copy_file_range": errno.EXDEV}, bundle.CopyMethod.SENDFILE),
        ({"copy_file_range": errno.EINVAL, "sendfile": errno.EINVAL}, bundle.CopyMethod.READ_WRITE),
        ({"copy_file_range": 0, "sendfile": 0}, bundle.CopyMethod.READ_WRITE),
    ],
)
def test_copy_falls_back_when_the_kernel_refuses(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    broken: dict[str, int],
    expected: bundle.CopyMethod,
) -> None:
    data = {"a": os.urandom(70000), "b": b"", "c": os.urandom(10)}
    bundle.pack(write_tree(tmp_path / "src", data), tmp_path / "b.img")
    for name, code in broken.items():
        monkeypatch.setattr(os, name, _refuse(code) if code else (lambda *_a: 0))
    result = bundle.extract(tmp_path / "b.img", tmp_path / "out")
    assert result.method is expected
    assert read_tree(tmp_path / "out") == data


def test_block_device_length_comes_from_seeking_to_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loop devices need root, so the S_ISBLK branch is exercised by patching the stat check."""
    data = {"a": b"alpha", "b": os.urandom(9000)}
    bundle.pack(write_tree(tmp_path / "src", data), tmp_path / "b.img", image_size=1 << 16)
    seeks: list[tuple[int, int]] = []
    real_lseek = os.lseek

    def spy(fd: int, pos: int, how: int) -> int:
        seeks.append((pos, how))
        return real_lseek(fd, pos, how)

    monkeypatch.setattr(bundle, "_is_block_device", lambda _mode: True)
    monkeypatch.setattr(os, "lseek", spy)
    index = bundle.read_index(tmp_path / "b.img")
    assert (index.kind, index.image_len) == (bundle.SourceKind.BLOCK, 1 << 16)
    assert (0, os.SEEK_END) in seeks
    result = bundle.extract(tmp_path / "b.img", tmp_path / "out")
    assert result.kind is bundle.SourceKind.BLOCK
    assert read_tree(tmp_path / "out") == data


def test_character_device_and_fifo_are_refused_without_hanging(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    for path in ("/dev/null", tmp_path / "fifo"):
        with pytest.raises(bundle.ImageFormatError, match="neither a regular file nor a block"):
            bundle.list_entries(path)


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda d: (d / "sub").mkdir(), "'sub' is not a regular file"),
        (lambda d: (d / "link").symlink_to("/etc/passwd"), "'link' is not a regular file"),
        (
            lambda d: (d / "bad\\name").write_bytes(b""),
            "entry #0 (name 'bad\\\\name'): name contains '\\'",
        ),
    ],
)
def test_pack_refuses_what_the_format_cannot_hold(
    tmp_path: Path, setup: Callable[[Path], object], expected: str
) -> None:
    src = write_tree(tmp_path / "src", {"ok": b"1"})
    setup(src)
    with pytest.raises(bundle.ImagePackError) as info:
        bundle.pack(src, tmp_path / "b.img")
    assert expected in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]  # no image, no temporary


def test_pack_refuses_too_few_slots_and_too_small_size(tmp_path: Path) -> None:
    src = write_tree(tmp_path / "src", {"a": b"1", "b": b"2"})
    with pytest.raises(bundle.ImagePackError, match="2 files do not fit 1 slots"):
        bundle.pack(src, tmp_path / "b.img", slots=1)
    with pytest.raises(bundle.ImagePackError, match="need 8193 bytes but image_size is 100"):
        bundle.pack(src, tmp_path / "b.img", image_size=100)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_overwrite_replaces_regular_files_only(tmp_path: Path) -> None:
    bundle.pack(write_tree(tmp_path / "src", {"a": b"new"}), tmp_path / "b.img")
    write_tree(tmp_path / "out", {"a": b"old"})
    bundle.extract(tmp_path / "b.img", tmp_path / "out", overwrite=True)
    assert read_tree(tmp_path / "out") == {"a": b"new"}


@pytest.mark.parametrize("publish", ["renameat2", "link", "rename"])
def test_every_publish_path_never_clobbers_a_file_created_mid_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, publish: str
) -> None:
    if publish != "renameat2":
        monkeypatch.setattr(bundle._NoReplace, "load", staticmethod(lambda: None))
    if publish == "rename":
        monkeypatch.setattr(os, "link", _refuse(errno.EPERM))
    bundle.pack(write_tree(tmp_path / "src", {"a": b"1", "b": b"2"}), tmp_path / "b.img")
    bundle.extract(tmp_path / "b.img", tmp_path / "ok")
    assert read_tree(tmp_path / "ok") == {"a": b"1", "b": b"2"}

    def racer(p: bundle.Progress) -> None:  # someone creates 'b' after the preflight check
        if p.files_done == 2:
            (tmp_path / "out" / "b").write_bytes(b"theirs")

    (tmp_path / "out").mkdir()
    with pytest.raises(bundle.ImageTargetError, match=r"'b'\): target .* already exists"):
        bundle.extract(tmp_path / "b.img", tmp_path / "out", progress=racer)
    assert read_tree(tmp_path / "out") == {"b": b"theirs"}  # untouched, and 'a' rolled back
