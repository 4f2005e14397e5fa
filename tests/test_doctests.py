"""Every public module's docstring opens with a runnable example, and it stays true."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import intervm

PACKAGES = ("intervm.spec", "intervm.model", "intervm.impl", "intervm.conformance")
EXAMPLE_OPTIONAL = ("intervm.commands",)  # CLI modules: examples are in the README


def modules(prefixes: tuple[str, ...]) -> list[str]:
    out = []
    for info in pkgutil.walk_packages(intervm.__path__, "intervm."):
        if info.name.startswith(prefixes) and not info.name.rsplit(".", 1)[-1].startswith("_"):
            out.append(info.name)
    return sorted(out)


@pytest.mark.parametrize("name", modules(PACKAGES))
def test_public_module_has_a_true_example(name: str) -> None:
    module = importlib.import_module(name)
    if module.__file__ and module.__file__.endswith("__init__.py") and not module.__doc__:
        pytest.skip("package marker without docstring")
    assert module.__doc__ and ">>>" in module.__doc__, f"{name} needs a runnable example"
    result = doctest.testmod(module, verbose=False, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted >= 1


@pytest.mark.parametrize("name", modules(EXAMPLE_OPTIONAL))
def test_cli_module_examples_stay_true(name: str) -> None:
    module = importlib.import_module(name)
    assert doctest.testmod(module, verbose=False).failed == 0
