"""Image bundle throughput against GNU tar and Python's tarfile, side by side.

Regenerate (from the repository root)::

    python bench/bench_image.py            # writes bench/results/image.md
    python bench/bench_image.py --quick    # smaller workloads, for a smoke run

Each tool packs the same source directory and extracts its own archive into an
empty directory, on the repository's filesystem (``bench/out``) and on tmpfs
(``/dev/shm``, when present: no disk, so it shows CPU and system-call cost).
Page cache is warm; ``os.sync()`` runs (untimed) before every timed step so one
run's writeback does not land on the next.  The *best* of ``--repeat`` runs is
reported: on a shared machine interference only ever adds time.  ``intervm`` is timed in-process (library call)
and as the ``intervm image`` CLI in a subprocess (adds interpreter start-up), GNU
tar as a subprocess, tarfile in-process.

>>> _ratio(2.0, 1.0)
'2.00×'
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from intervm.impl import image as bundle

ROOT = Path(__file__).resolve().parent
OUT = ROOT / "out"
RESULT = ROOT / "results" / "image.md"


@dataclass(frozen=True)
class Workload:
    name: str
    files: int
    size: int


@dataclass(frozen=True)
class Tool:
    name: str
    pack: Callable[[Path, Path], None]
    extract: Callable[[Path, Path], None]


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def _cli() -> list[str]:
    exe = shutil.which("intervm")
    return [exe] if exe else [sys.executable, "-c", "from intervm.cli import main; main()"]


def _intervm_pack(src: Path, archive: Path) -> None:
    bundle.pack(src, archive)


def _intervm_extract(archive: Path, dest: Path) -> None:
    bundle.extract(archive, dest)


def _tarfile_pack(src: Path, archive: Path) -> None:
    with tarfile.open(archive, "w") as tar:
        for path in sorted(src.iterdir()):
            tar.add(path, arcname=path.name)


def _tarfile_extract(archive: Path, dest: Path) -> None:
    dest.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")


def _tar_extract(archive: Path, dest: Path) -> None:
    dest.mkdir()
    _run("tar", "-xf", str(archive), "-C", str(dest))


TOOLS = (
    Tool("intervm", _intervm_pack, _intervm_extract),
    Tool(
        "intervm CLI",
        lambda s, a: _run(*_cli(), "image", "pack", str(s), str(a)),
        lambda a, d: _run(*_cli(), "image", "extract", "--no-progress", str(a), str(d)),
    ),
    Tool(
        "GNU tar",
        lambda s, a: _run("tar", "-cf", str(a), "-C", str(s), "."),
        _tar_extract,
    ),
    Tool("tarfile", _tarfile_pack, _tarfile_extract),
)


def _make_source(work: Workload, where: Path) -> Path:
    src = where / f"src-{work.name}"
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    for i in range(work.files):
        (src / f"file{i:05d}.bin").write_bytes(os.urandom(work.size))
    return src


def _timed(step: Callable[[], None], before: Callable[[], None]) -> float:
    before()
    os.sync()
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def _clear(*paths: Path) -> None:
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _measure(tool: Tool, src: Path, where: Path, repeat: int) -> tuple[float, float]:
    """Best pack and extract times of ``repeat`` runs, after checking the extraction."""
    archive = where / "archive"
    dest = where / "dest"
    packs = [
        _timed(lambda: tool.pack(src, archive), lambda: _clear(archive)) for _ in range(repeat)
    ]
    extracts = [
        _timed(lambda: tool.extract(archive, dest), lambda: _clear(dest)) for _ in range(repeat)
    ]
    _verify(src, dest)
    _clear(archive, dest)
    return min(packs), min(extracts)


def _verify(src: Path, dest: Path) -> None:
    names = sorted(p.name for p in src.iterdir())
    got = sorted(p.name for p in dest.iterdir())
    if got != names or any((src / n).read_bytes() != (dest / n).read_bytes() for n in names):
        raise SystemExit(f"extraction into {dest} does not match {src}")


def _ratio(reference: float, ours: float) -> str:
    return f"{reference / ours:.2f}×"


def _rate(total: int, seconds: float) -> str:
    return f"{total / seconds / 1e6:,.0f} MB/s ({seconds * 1e3:,.0f} ms)"


Results = dict[tuple[str, str, str], tuple[float, float]]


def _table(results: Results, works: list[Workload], places: list[tuple[str, Path]]) -> str:
    names = [tool.name for tool in TOOLS]
    head = ["filesystem", "workload", "step", *names, "intervm vs GNU tar", "intervm vs tarfile"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for place, _ in places:
        for work in works:
            total = work.files * work.size
            for step, k in (("pack", 0), ("extract", 1)):
                times = {name: results[place, work.name, name][k] for name in names}
                cells = [_rate(total, times[name]) for name in names]
                ours = times["intervm"]
                label = f"{work.files} × {_human(work.size)}"
                ratios = [_ratio(times["GNU tar"], ours), _ratio(times["tarfile"], ours)]
                rows.append("| " + " | ".join([place, label, step, *cells, *ratios]) + " |")
    return "\n".join(rows)


def _human(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n >> 10} KiB"


def _environment() -> str:
    tar = subprocess.run(["tar", "--version"], capture_output=True, text=True, check=True)
    return (
        f"Python {platform.python_version()}, {tar.stdout.splitlines()[0]}, "
        f"Linux {platform.release()}, {os.cpu_count()} CPUs; source, archive and target on "
        "the same filesystem; page cache warm, `os.sync()` before each timed step."
    )


def _places() -> list[tuple[str, Path]]:
    places = [("disk (ext4)" if _fstype(OUT) == "ext4" else "disk", OUT)]
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        places.append(("tmpfs", shm / f"intervm-bench-{os.getpid()}"))
    return places


def _fstype(path: Path) -> str:
    best = ("", "")
    with open("/proc/mounts", encoding="utf-8") as mounts:
        for line in mounts:
            _, point, kind, *_ = line.split()
            if str(path.resolve()).startswith(point) and len(point) > len(best[0]):
                best = (point, kind)
    return best[1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small workloads (smoke run)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--output", type=Path, default=RESULT)
    args = parser.parse_args(argv)
    works = (
        [Workload("small", 200, 4096), Workload("large", 2, 8 << 20)]
        if args.quick
        else [Workload("small", 2000, 4096), Workload("large", 4, 64 << 20)]
    )
    places = _places()
    results: Results = {}
    for place, where in places:
        where.mkdir(parents=True, exist_ok=True)
        try:
            _bench_place(place, where, works, args.repeat, results)
        finally:
            if where != OUT:
                shutil.rmtree(where, ignore_errors=True)
    body = (
        "## Image bundle vs tar (`python bench/bench_image.py`)\n\n"
        + _table(results, works, places)
        + "\n\nThroughput is file bytes / wall time (best of "
        + f"{args.repeat} runs); ratios are tar time / intervm time "
        "(above 1× means intervm is faster). `intervm` is the library in-process, "
        "`intervm CLI` includes interpreter start-up. " + _environment() + "\n"
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(body, encoding="utf-8")
    sys.stdout.write(body)


def _bench_place(
    place: str, where: Path, works: list[Workload], repeat: int, results: Results
) -> None:
    for work in works:
        src = _make_source(work, where)
        for tool in TOOLS:
            scratch = where / "scratch"
            _clear(scratch)
            scratch.mkdir()
            results[place, work.name, tool.name] = _measure(tool, src, scratch, repeat)
            _clear(scratch)
        shutil.rmtree(src)


if __name__ == "__main__":
    main()
