"""Data safety: ``--region`` never clobbers a user's file, outputs are written whole.

Every case of the audit (issue 22, item 1): an existing file or a symlink given as
``--region``, and every output-writing command pointed at a missing directory, a
"directory" that is a file, an unwritable directory, a directory or a symlink. Each
must give one ``Error:`` line and a non-zero exit, change nothing and leave no
temporary file.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from intervm.cli import main
from intervm.commands import _output
from intervm.commands._output import OutputError, write_output
from intervm.impl.region import DEFAULT_DIR, Region
from intervm.impl.region_file import Existing, RegionPathRefused
from intervm.spec import layout as L

RUN = ["run", "-n", "20", "--window", "4", "--capacity", "4", "--tick-us", "1000"]


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def one_error_line(r: Result, *words: str) -> str:
    """The result is a refusal: exit != 0, exactly one ``Error:`` line, no traceback."""
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert r.exit_code != 0, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert len(lines) == 1 and lines[0].startswith("Error: "), r.output
    assert "Traceback" not in r.output
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.fixture
def precious(tmp_path: Path) -> tuple[Path, bytes]:
    data = os.urandom(1 << 20)
    path = tmp_path / "precious.dat"
    path.write_bytes(data)
    return path, data


# -- --region -----------------------------------------------------------------------


def test_region_refuses_an_existing_file_that_is_not_a_region(
    tmp_path: Path, precious: tuple[Path, bytes]
) -> None:
    path, data = precious
    r = cli(*RUN, "--region", str(path))
    one_error_line(r, f"refusing to overwrite {path}", "not an intervm region",
                   "no header magic", "--force")
    assert path.read_bytes() == data
    assert files_under(tmp_path) == {"precious.dat"}


def test_region_never_follows_a_symlink(tmp_path: Path, precious: tuple[Path, bytes]) -> None:
    target, data = precious
    link = tmp_path / "link.region"
    link.symlink_to(target)
    for extra in ([], ["--force"]):
        r = cli(*RUN, "--region", str(link), *extra)
        one_error_line(r, f"refusing to overwrite {link}", "symbolic link", "never follows")
        assert target.read_bytes() == data and link.is_symlink()
    dangling = tmp_path / "dangling.region"
    dangling.symlink_to(tmp_path / "nowhere")
    one_error_line(cli(*RUN, "--region", str(dangling)), "symbolic link")
    assert not (tmp_path / "nowhere").exists()


def test_region_refuses_a_directory(tmp_path: Path) -> None:
    one_error_line(cli(*RUN, "--region", str(tmp_path), "--force"), "is a directory")


def test_region_in_a_bad_directory_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    one_error_line(cli(*RUN, "--region", str(tmp_path / "no" / "r")), "does not exist")
    one_error_line(cli(*RUN, "--region", str(tmp_path / "file" / "r")), "is not a directory")
    assert files_under(tmp_path) == {"file"}


def test_force_replaces_a_file_that_is_not_a_region(precious: tuple[Path, bytes]) -> None:
    path, _ = precious
    r = cli(*RUN, "--region", str(path), "--force")
    assert r.exit_code == 0, r.output
    region = Region.attach(path)
    assert (region.layout.capacity, path.stat().st_size) == (4, L.total_size_for(4, 16))
    region.close()


def test_force_needs_a_region_path() -> None:
    one_error_line(cli(*RUN, "--force"), "--force", "--region")


def test_an_intervm_region_is_reused_as_a_new_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.region"
    first = Region.create(path, 8)
    first.store("tail", 7)
    first.close()
    peer = Region.attach(path)  # a stale peer still mapping the old region
    r = cli(*RUN, "--region", str(path))
    assert r.exit_code == 0, r.output
    assert peer.load("tail") == 7  # its memory was not truncated under it
    peer.close()
    again = Region.attach(path)  # reinitialised with the new geometry, head = 21
    assert (again.layout.capacity, again.load("head")) == (4, 21)
    again.close()
    assert files_under(tmp_path) == {"mine.region"}


def test_a_region_in_use_is_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "busy.region"
    live = Region.create(path, 8)
    try:
        live.store("tail", 5)
        one_error_line(cli(*RUN, "--region", str(path)), "in use")
        assert live.load("tail") == 5 and Region.attach(path).load("tail") == 5
    finally:
        live.close()


def test_a_region_with_a_broken_header_is_not_reused(tmp_path: Path) -> None:
    path = tmp_path / "torn.region"
    Region.create(path, 8).close()
    os.truncate(path, 300)
    before = path.read_bytes()
    one_error_line(cli(*RUN, "--region", str(path)), "header is invalid", "total_size",
                   "--force")
    assert path.read_bytes() == before


def test_region_create_refuses_any_existing_path_by_default(tmp_path: Path) -> None:
    path = tmp_path / "r"
    Region.create(path, 1).close()
    before = path.read_bytes()
    with pytest.raises(RegionPathRefused, match="already exists; choose a new path"):
        Region.create(path, 2)
    assert path.read_bytes() == before
    Region.create(path, 2, existing=Existing.REUSE).close()
    assert Region.attach(path).layout.capacity == 2


def test_default_region_in_dev_shm_is_removed_after_the_run() -> None:
    if not DEFAULT_DIR.is_dir():
        pytest.skip("no /dev/shm")
    mine = f"intervm-{os.getpid()}-"
    r = cli(*RUN)
    assert r.exit_code == 0, r.output
    assert not [p for p in DEFAULT_DIR.iterdir() if p.name.startswith(mine)]


# -- output files ---------------------------------------------------------------------


@pytest.fixture
def unwritable(tmp_path: Path) -> Iterator[Path]:
    """A directory in which no file can be created, even by root."""
    if os.geteuid() != 0:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    # root ignores permission bits; sysfs refuses to create regular files for anyone
    folder = Path("/sys")
    try:
        fd, name = tempfile.mkstemp(dir=folder)
    except OSError:
        yield folder
        return
    os.close(fd)
    os.unlink(name)
    pytest.skip("no unwritable directory available here")


def _commands(tmp_path: Path, out: Path) -> dict[str, list[str]]:
    """Every output option, with arguments that fail fast otherwise (a missing trace)."""
    trace = str(tmp_path / "no-such-trace.json")
    o = str(out)
    return {
        "run --plot": [*RUN, "--plot", o + ".png"],
        "report": ["report", o + ".html", "-p", "coalescing", "-v", "correct"],
        "graph --out": ["graph", "coalescing", "no_recheck", "--out", o + ".dot"],
        "graph --trace-out": ["graph", "coalescing", "no_recheck", "--param", "requests=1",
                              "--param", "capacity=1", "--out", str(tmp_path / "g.dot"),
                              "--trace-out", o + ".json"],
        "diagram": ["diagram", trace, "--out", o + ".svg"],
        "export": ["export", "promela", "-o", o + ".pml"],
        "conformance run --json": ["conformance", "run", "--role", "consumer", "--json",
                                   o + ".json", "--", "/no/such/binary"],
        "conformance run --junit": ["conformance", "run", "--role", "consumer", "--junit",
                                    o + ".xml", "--", "/no/such/binary"],
        "inprocess --save": ["conformance", "inprocess", "nosuchmodule:impl", "--save",
                             o + ".json"],
        "inprocess --json": ["conformance", "inprocess", "nosuchmodule:impl", "--json",
                             o + ".json"],
        "inprocess --junit": ["conformance", "inprocess", "nosuchmodule:impl", "--junit",
                              o + ".xml"],
        "check-trace --json": ["conformance", "check-trace", trace, "--json", o + ".json"],
        "check-trace --junit": ["conformance", "check-trace", trace, "--junit", o + ".xml"],
        "image pack": ["image", "pack", str(tmp_path), o + ".img"],
    }


COMMANDS = list(_commands(Path("t"), Path("o")))
EXIT = {"conformance run --json": 2, "conformance run --junit": 2, "check-trace --json": 2,
        "check-trace --junit": 2}  # their documented usage status; 1 for the others


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("where", ["missing dir", "parent is a file", "unwritable dir"])
def test_output_in_a_bad_directory_is_one_line(
    tmp_path: Path, unwritable: Path, command: str, where: str
) -> None:
    (tmp_path / "file").write_text("x")
    folder = {"missing dir": tmp_path / "missing", "parent is a file": tmp_path / "file",
              "unwritable dir": unwritable}[where]
    args = _commands(tmp_path, folder / "out")[command]
    before = files_under(tmp_path)
    key = {"missing dir": "does not exist", "parent is a file": "is not a directory",
           "unwritable dir": str(folder)}[where]
    r = cli(*args)
    one_error_line(r, "cannot write", str(folder / "out"), key)
    assert r.exit_code == EXIT.get(command, 1)
    assert files_under(tmp_path) == before


@pytest.mark.parametrize("command", COMMANDS)
def test_output_that_is_a_directory_or_a_symlink_is_refused(
    tmp_path: Path, command: str
) -> None:
    args = _commands(tmp_path, tmp_path / "out")[command]
    target = next(a for a in args if a.startswith(str(tmp_path / "out")))
    Path(target).mkdir()
    before = files_under(tmp_path)
    line = one_error_line(cli(*args), str(target))
    assert "directory" in line
    assert files_under(tmp_path) == before
    Path(target).rmdir()
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    Path(target).symlink_to(victim)
    before = files_under(tmp_path)
    one_error_line(cli(*args), "cannot write", str(target), "symbolic link")
    assert victim.read_bytes() == b"precious" and Path(target).is_symlink()
    assert files_under(tmp_path) == before


def test_an_existing_output_is_replaced_whole_keeping_its_mode(tmp_path: Path) -> None:
    out = tmp_path / "m.pml"
    out.write_text("old")
    out.chmod(0o640)
    r = cli("export", "promela", "-o", str(out))
    assert r.exit_code == 0, r.output
    assert out.read_text().startswith("/*") and stat.S_IMODE(out.stat().st_mode) == 0o640
    assert files_under(tmp_path) == {"m.pml"}


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), SystemExit(143),
                                 OSError(errno.ENOSPC, "No space left on device")])
def test_an_interrupted_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exc: BaseException
) -> None:
    out = tmp_path / "r.json"
    out.write_text("old")

    def fail(fd: int) -> None:
        raise exc

    monkeypatch.setattr(_output.os, "fsync", fail)
    with pytest.raises(OutputError if isinstance(exc, OSError) else type(exc)) as info:
        write_output(out, "new" * 1000, "--json")
    if isinstance(exc, OSError):
        assert str(info.value) == (f"cannot write --json {out}: No space left on device; "
                                   "check the directory, its permissions and free space")
    assert out.read_text() == "old" and files_under(tmp_path) == {"r.json"}


@pytest.mark.parametrize("reuse", [False, True])
def test_an_interrupted_region_creation_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reuse: bool
) -> None:
    path = tmp_path / "r.region"
    if reuse:
        Region.create(path, 8).close()
    before = path.read_bytes() if reuse else None

    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("intervm.impl.region.mmap.mmap", interrupted)
    with pytest.raises(KeyboardInterrupt):
        Region.create(path, 4, existing=Existing.REUSE)
    assert (path.read_bytes() if reuse else path.exists()) == (before if reuse else False)
    assert files_under(tmp_path) == ({"r.region"} if reuse else set())
