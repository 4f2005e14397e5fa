"""`intervm report OUT.html`: the page's structure (every counterexample has its
diagram, narration and interleaving; nothing is fetched from anywhere) and a
headless Chromium screenshot showing that it renders."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from intervm.cli import main

# no_recheck and correct under SC, every property: counterexamples for no_recheck's
# no_lost_wakeup (10 steps), notification_budget (29), eventually_consumed (12 steps,
# a lasso) and correct's notification_budget (29); the rest hold or are reached.
ARGS = ("-p", "coalescing", "-v", "no_recheck", "-v", "correct", "-m", "sc",
        "--no-unbounded", "-j", "1")
EXPECTED = {
    "coalescing-no_recheck-sc-no_lost_wakeup": 10,
    "coalescing-no_recheck-sc-notification_budget": 29,
    "coalescing-no_recheck-sc-eventually_consumed": 12,
    "coalescing-correct-sc-notification_budget": 29,
}


class Page(HTMLParser):
    """Sections by id: their tags, list items and text; links; anything external."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, dict[str, int]] = {}
        self.text: dict[str, list[str]] = {}
        self.links: list[str] = []
        self.external: list[str] = []
        self.tags: set[str] = set()
        self._section: str | None = None
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.add(tag)
        for k, v in attrs:
            if k in ("src", "href", "xlink:href", "action", "data") and v and not v.startswith("#"):
                self.external.append(f"{tag} {k}={v}")
        if tag == "a" and a.get("href", "").startswith("#"):
            self.links.append(a["href"][1:])
        if tag == "section":
            self._section, self._depth = a.get("id") or "?", 0
            self.sections[self._section] = {}
            self.text[self._section] = []
        if self._section is not None:
            if tag == "section":
                self._depth += 1
            counts = self.sections[self._section]
            key = f"{tag}.{a['class']}" if a.get("class") else tag
            counts[key] = counts.get(key, 0) + 1
            counts[tag] = counts.get(tag, 0) + (1 if key != tag else 0)

    def handle_endtag(self, tag: str) -> None:
        if tag == "section" and self._section is not None:
            self._depth -= 1
            if self._depth == 0:
                self._section = None

    def handle_data(self, data: str) -> None:
        if self._section is not None:
            self.text[self._section].append(data)


# one xdist worker runs the report (module fixture ``report``) once for all its tests
pytestmark = pytest.mark.xdist_group("html_report")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("report") / "matrix.html"
    r = CliRunner().invoke(main, ["report", str(out), *ARGS])
    assert r.exit_code == 0, r.output
    return out, r.output


def test_report_explains_every_counterexample(report: tuple[Path, str]) -> None:
    out, text = report
    assert "14 verdicts, 4 counterexamples explained, 0 differ" in text
    html = out.read_text(encoding="utf-8")
    page = Page()
    page.feed(html)
    assert set(page.sections) == set(EXPECTED)
    for sid, steps in EXPECTED.items():
        counts, words = page.sections[sid], " ".join(page.text[sid])
        assert counts.get("svg") == 1, sid  # the sequence diagram
        assert counts.get("div.explanation") == 1 and counts.get("ol") == 1, sid
        # the narration: one sentence per step, then the invariant or loop paragraph
        assert counts["li"] - words.count("In the final state") >= steps, sid
        assert counts.get("table.trace") == 1 and counts["tr"] == steps + 2, sid
        assert f"{steps} steps" in words
    assert "A lost wakeup: the consumer sleeps with a request in the ring" in html
    assert "From step 12 the run repeats forever" in html
    # every VIOLATED cell of the matrix links to its section, and only those
    assert sorted(set(page.links) - {"top"}) == sorted(EXPECTED)


def test_report_is_self_contained(report: tuple[Path, str]) -> None:
    html = report[0].read_text(encoding="utf-8")
    page = Page()
    page.feed(html)
    assert page.external == []
    assert not page.tags & {"script", "link", "img", "iframe", "object", "embed"}
    assert "http" not in html and "url(" not in html.replace("url(#arr", "")
    assert "@import" not in html


def test_report_bad_input_is_one_line(tmp_path: Path) -> None:
    def run(*args: str) -> tuple[int, list[str]]:
        r = CliRunner().invoke(main, ["report", *args])
        assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
        return r.exit_code, r.output.strip().splitlines()

    code, lines = run(str(tmp_path / "r.pdf"), "-p", "coalescing")
    assert code == 1 and len(lines) == 1 and "ending in .html" in lines[0]
    code, lines = run(str(tmp_path / "r.html"), "-p", "nope")
    assert code == 1 and len(lines) == 1 and "'nope' is not built in" in lines[0]
    code, lines = run(str(tmp_path / "r.html"), "-p", "coalescing", "-v", "nope")
    assert code == 1 and len(lines) == 1 and "no variant named nope" in lines[0]
    code, lines = run(str(tmp_path / "r.html"), "--param", "x")
    assert code == 2 and len(lines) == 1 and "is not NAME=INTEGER" in lines[0]
    code, lines = run(str(tmp_path / "no" / "r.html"), "-p", "coalescing", "-v", "no_recheck",
                      "-m", "sc", "--property", "fifo", "--no-unbounded", "-j", "1")
    assert code == 1 and len(lines) == 1 and "does not exist" in lines[0]
    assert not list(tmp_path.iterdir())


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None,
                    reason="chromium is not installed (apt-get install chromium)")
def test_report_renders_in_headless_chromium(report: tuple[Path, str], tmp_path: Path) -> None:
    from PIL import Image

    shot = tmp_path / "shot.png"
    exe = _chromium()
    assert exe is not None
    done = subprocess.run(
        [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars",
         "--window-size=1280,1600", f"--screenshot={shot}", report[0].as_uri()],
        capture_output=True, timeout=120, check=False)
    assert done.returncode == 0 and shot.exists(), done.stderr.decode(errors="replace")[-2000:]
    img = Image.open(shot).convert("RGB")
    assert img.size == (1280, 1600)
    colours = img.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50  # text, tables, colours: not blank
    white = sum(n for n, c in colours if c == (255, 255, 255))
    assert white < 0.97 * 1280 * 1600
    # the matrix's green (holds) and red (violated) cell backgrounds are on screen
    have = {c for _, c in colours}
    assert (0xE9, 0xF7, 0xEF) in have and (0xFD, 0xED, 0xEC) in have
