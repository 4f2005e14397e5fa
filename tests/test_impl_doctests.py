"""Every impl/layout/CLI module's docstring example stays true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "intervm.spec.layout",
    "intervm.impl.access",
    "intervm.impl.errors",
    "intervm.impl.doorbell",
    "intervm.impl.region",
    "intervm.impl.coalescing",
    "intervm.impl.timer",
    "intervm.impl.profiler",
    "intervm.impl.vm",
    "intervm.impl.host",
    "intervm.impl.experiment",
    "intervm.impl.litmus",
    "intervm.commands",
    "intervm.commands.run",
]


@pytest.mark.parametrize("name", MODULES)
def test_module_docstring_example(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__doc__ and ">>>" in module.__doc__, f"{name} needs a runnable example"
    result = doctest.testmod(module, verbose=False)
    assert result.failed == 0 and result.attempted >= 1
