"""``intervm image``: pack, list and extract single-volume image bundles.

>>> import tempfile
>>> from pathlib import Path
>>> from click.testing import CliRunner
>>> tmp = Path(tempfile.mkdtemp())
>>> (tmp / "src").mkdir()
>>> (tmp / "src" / "a.txt").write_bytes(b"hi")
2
>>> CliRunner().invoke(image, ["pack", str(tmp / "src"), str(tmp / "b.img")]).exit_code
0
>>> out = CliRunner().invoke(image, ["list", str(tmp / "b.img")])
>>> out.exit_code, "a.txt" in out.output
(0, True)
>>> CliRunner().invoke(image, ["extract", str(tmp / "b.img"), str(tmp / "out")]).exit_code
0
>>> (tmp / "out" / "a.txt").read_bytes()
b'hi'
>>> bad = CliRunner().invoke(image, ["list", str(tmp / "src" / "a.txt")])
>>> bad.exit_code, bad.output.count("\\n"), "too short" in bad.output
(1, 1, True)
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from intervm.commands._common import OneLineErrors
from intervm.commands._output import OutputError, check_output
from intervm.commands._usage import OneLineGroup
from intervm.impl import image as bundle
from intervm.spec.image_format import one_line

PROGRESS_MIN_BYTES = 64 << 20
"""Extractions at least this large show a progress bar (on a terminal)."""


def _os_message(exc: OSError) -> str:
    where = os.fsdecode(exc.filename) if exc.filename is not None else "intervm image"
    code = errno.errorcode.get(exc.errno or 0, "error")
    what = exc.strerror or str(exc)
    return one_line(f"{where!r}: {what} ({code}); check the path, permissions and free space")


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """Turn library and OS errors into a single ``Error:`` line and exit status 1."""
    try:
        yield
    except (bundle.ImageError, OutputError) as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(_os_message(exc)) from None


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:,.1f} {unit}"


@click.group("image", cls=OneLineGroup)
def image() -> None:
    """Pack, list and extract single-volume image bundles (see docs/image-format.md)."""


@image.command("pack", cls=OneLineErrors)
@click.argument("directory", type=click.Path(path_type=Path))
@click.argument("image_path", metavar="IMAGE", type=click.Path(path_type=Path))
@click.option("--slots", type=click.IntRange(1), help="Index entry slots (default: fit files).")
@click.option("--image-size", type=click.IntRange(0), help="Pad the image to this many bytes.")
def pack_command(
    directory: Path, image_path: Path, slots: int | None, image_size: int | None
) -> None:
    """Pack the regular files directly in DIRECTORY into IMAGE."""
    with _one_line_errors():
        check_output(image_path, "IMAGE")
        entries = bundle.pack(directory, image_path, slots=slots, image_size=image_size)
    total = sum(entry.size for entry in entries)
    click.echo(f"packed {len(entries)} files ({_size(total)}) into {image_path}")


@image.command("list", cls=OneLineErrors)
@click.argument("image_path", metavar="IMAGE", type=click.Path(path_type=Path))
def list_command(image_path: Path) -> None:
    """List the files in IMAGE (after validating its whole index)."""
    with _one_line_errors():
        index = bundle.read_index(image_path)
    console = Console()
    console.print(
        Text(
            f"{image_path}: {index.kind.value}, {index.image_len:,} bytes, "
            f"{len(index.entries)} of {index.header.slots} slots used"
        )
    )
    table = Table()
    table.add_column("#", justify="right")
    table.add_column("name")
    table.add_column("size", justify="right")
    table.add_column("offset", justify="right")
    for entry in index.entries:
        # Text(), not a str: names are untrusted and must not be read as rich markup.
        table.add_row(str(entry.index), Text(entry.name), f"{entry.size:,}", f"{entry.offset:,}")
    console.print(table)


@contextmanager
def _progress_bar(show: bool) -> Iterator[bundle.ProgressCallback | None]:
    if not show:
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("extracting", total=None)
        yield _updater(bar, task)


def _updater(bar: Progress, task: Any) -> Callable[[bundle.Progress], None]:
    def update(p: bundle.Progress) -> None:
        bar.update(
            task,
            completed=p.bytes_done,
            total=p.bytes_total,
            description=f"{p.files_done}/{p.files_total} files",
        )

    return update


@image.command("extract", cls=OneLineErrors)
@click.argument("image_path", metavar="IMAGE", type=click.Path(path_type=Path))
@click.argument("directory", type=click.Path(path_type=Path))
@click.argument("names", nargs=-1)
@click.option("--overwrite", is_flag=True, help="Replace existing regular files.")
@click.option(
    "--progress/--no-progress",
    default=None,
    help=f"Progress bar (default: on a terminal, for images over {_size(PROGRESS_MIN_BYTES)}).",
)
def extract_command(
    image_path: Path,
    directory: Path,
    names: tuple[str, ...],
    overwrite: bool,
    progress: bool | None,
) -> None:
    """Extract NAMES (default: all files) from IMAGE into DIRECTORY, all or nothing."""
    with _one_line_errors():
        index = bundle.read_index(image_path)
        big = index.image_len >= PROGRESS_MIN_BYTES and sys.stderr.isatty()
        with _progress_bar(big if progress is None else progress) as callback:
            result = bundle.extract(
                image_path, directory, names or None, progress=callback, overwrite=overwrite
            )
    click.echo(
        f"extracted {len(result.entries)} files ({_size(result.total_bytes)}) into {directory}"
    )
