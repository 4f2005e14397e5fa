"""Regenerate the quoted output in docs/tutorial.md (``python docs/build_tutorial.py``),
or check it (``--check``, exit 1 with a diff when a block is stale).

A quoted block is a ``<!-- run: intervm ARGS -->`` line (optionally ``; input: a b c``,
the lines fed to stdin) followed by a fenced ``text`` block holding the output.
"""

from __future__ import annotations

import difflib
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from intervm.cli import main

TUTORIAL = Path(__file__).with_name("tutorial.md")
RUN = re.compile(r"<!-- run: intervm (?P<args>.*?)(?:; input: (?P<input>.*?))? -->\n"
                 r"```text\n(?P<body>.*?)```\n", re.S)


@dataclass(frozen=True)
class Block:
    args: str
    input: str | None
    quoted: str


def blocks(text: str) -> list[Block]:
    return [Block(m["args"].strip(), m["input"], m["body"]) for m in RUN.finditer(text)]


def run(block: Block) -> str:
    """The command's output as it is quoted (status line appended when non-zero)."""
    stdin = "\n".join(block.input.split()) + "\n" if block.input is not None else ""
    res = CliRunner().invoke(main, shlex.split(block.args), input=stdin)
    out = res.output if res.output.endswith("\n") else res.output + "\n"
    if res.exit_code:
        out += f"(exit status {res.exit_code})\n"
    return out


def rebuild(text: str) -> str:
    def sub(m: re.Match[str]) -> str:
        b = Block(m["args"].strip(), m["input"], m["body"])
        head = m.group(0).split("```text\n", 1)[0]
        return f"{head}```text\n{run(b)}```\n"

    return RUN.sub(sub, text)


def main_(argv: list[str]) -> int:
    text = TUTORIAL.read_text()
    new = rebuild(text)
    if "--check" in argv:
        if new != text:
            sys.stdout.writelines(difflib.unified_diff(
                text.splitlines(True), new.splitlines(True), "tutorial.md", "actual output"))
            print("docs/tutorial.md is stale: run python docs/build_tutorial.py")
            return 1
        return 0
    TUTORIAL.write_text(new)
    print(f"rebuilt {len(blocks(text))} quoted blocks in {TUTORIAL}")
    return 0


if __name__ == "__main__":
    sys.exit(main_(sys.argv[1:]))
