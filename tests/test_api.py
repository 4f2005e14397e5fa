"""The public spec API: exactly the names it lists, each documented with a true example."""

from __future__ import annotations

import doctest
import inspect
import sys
from types import ModuleType

import pytest

import intervm.spec.api as api


def test_all_lists_exactly_the_public_names() -> None:
    # Hypothesis's _check_exports: no public name left out of __all__, none extra
    public = {name for name, value in vars(api).items()
              if not name.startswith("_") and not isinstance(value, ModuleType)}
    assert set(api.__all__) == public
    assert len(api.__all__) == len(set(api.__all__)) == 58


# type aliases carry no docstring of their own; the module docstring names them
TYPE_ALIASES = ("Expr",)


def test_type_aliases_are_named_in_the_module_docstring() -> None:
    for name in TYPE_ALIASES:
        assert f"``{name}`` is their type" in (api.__doc__ or "")


def test_star_import_gives_the_documented_names() -> None:
    ns: dict[str, object] = {}
    exec("from intervm.spec.api import *", ns)
    assert set(ns) - {"__builtins__"} == set(api.__all__)


def documented(name: str) -> object:
    obj = getattr(api, name)
    # constants (NAT, BIT, TRUE, FALSE) are documented by their class
    return obj if inspect.isclass(obj) or inspect.isroutine(obj) else type(obj)


@pytest.mark.parametrize("name", [n for n in api.__all__ if n not in TYPE_ALIASES])
def test_each_name_opens_its_docstring_with_a_true_example(name: str) -> None:
    obj = documented(name)
    doc = inspect.getdoc(obj)
    assert doc, f"{name} has no docstring"
    paragraphs = doc.split("\n\n")
    # a summary (one paragraph), then the example before any other prose
    assert paragraphs[0].strip() and ">>>" not in paragraphs[0], name
    assert paragraphs[1].lstrip().startswith(">>>"), f"{name}: example must follow the summary"
    module = sys.modules[obj.__module__]
    tests = [t for t in doctest.DocTestFinder(recurse=False).find(
        obj, name, module=module, globs=dict(vars(module))) if t.examples]
    assert tests, name
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for t in tests:
        runner.run(t)
    assert runner.failures == 0 and runner.tries >= 1, name


def test_module_docstring_opens_with_a_verified_protocol() -> None:
    doc = api.__doc__ or ""
    first = doc.split("\n\n")[1]
    assert first.startswith(">>> from intervm.spec.api import *")
    assert "CheckOptions(engine=\"explicit\")" in first
    assert "no_fence tso VIOLATED 4 True" in first
