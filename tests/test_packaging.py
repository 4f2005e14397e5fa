"""The README's first command is ``pip install .`` (not editable): every package of
``intervm`` must be listed in pyproject.toml, or the installed CLI cannot import it."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_is_installed_by_pip_install() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    on_disk = {".".join(Path(d).relative_to(ROOT).parts)  # intervm/model etc. are symlinks
               for d, _, files in os.walk(ROOT / "intervm", followlinks=True)
               if "__init__.py" in files}
    assert on_disk - listed == set(), "add these to [tool.setuptools] packages"
    assert listed - on_disk == set()
