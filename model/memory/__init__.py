"""The memory models, one module each, and their registry (built once, at import).

>>> from intervm.model import memory
>>> memory.names()
('sc', 'tso', 'pso', 'arm')
>>> memory.get("pso").title
'PSO (SPARC partial store order)'
>>> memory.get("arm7")
Traceback (most recent call last):
...
intervm.spec.errors.ParamError: memory model 'arm7' is unknown; choose one of sc, tso, pso, arm

Adding a model is one new module here defining ``MODEL`` (an instance of a
:class:`~intervm.model.memory.base.MemoryModel` subclass); it is found at import.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from types import MappingProxyType

from intervm.model.memory.base import MemoryModel
from intervm.spec.errors import ParamError

_NOT_MODELS = frozenset({"base", "buffer", "storebuffer"})


def _discover() -> Mapping[str, MemoryModel]:
    found: list[MemoryModel] = []
    for info in pkgutil.iter_modules(__path__):
        if info.name in _NOT_MODELS or info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        model = getattr(mod, "MODEL", None)
        if not isinstance(model, MemoryModel):
            raise TypeError(f"model/memory/{info.name}.py defines no MODEL = "
                            "<MemoryModel instance>; every module here is a memory model")
        found.append(model)
    found.sort(key=lambda m: (m.rank, m.name))
    return MappingProxyType({m.name: m for m in found})


MODELS: Mapping[str, MemoryModel] = _discover()


def names() -> tuple[str, ...]:
    """Every model's public name, strongest first."""
    return tuple(MODELS)


def defaults() -> tuple[str, ...]:
    """The models a variant is checked under unless it lists its own (strongest
    first): every model whose ``in_default`` is set.

    >>> defaults()
    ('sc', 'tso', 'pso')
    """
    return tuple(n for n, m in MODELS.items() if m.in_default)


def get(name: str) -> MemoryModel:
    """The model called ``name``; an unknown name is a :class:`ParamError`."""
    model = MODELS.get(name)
    if model is None:
        raise ParamError(f"memory model {name!r} is unknown; choose one of "
                         f"{', '.join(MODELS)}")
    return model


__all__ = ["MODELS", "MemoryModel", "defaults", "get", "names"]
