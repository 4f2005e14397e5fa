"""Load users' protocol files for ``intervm verify path/to/protocol.py``.

A file may define :class:`~intervm.spec.protocol.Protocol` objects (variants with
declared verdicts) or plain :class:`~intervm.spec.syntax.Spec` objects (one variant,
``default``, declared to satisfy every property). ``--spec module:object`` names
one object explicitly.

>>> import pathlib, tempfile
>>> src = '''
... from intervm.spec.syntax import *
... from intervm.spec.expr import G, eq, add
... spec = Spec("counter", ghosts=(Ghost("n", NAT),), processes=(
...     Process("P", steps=(Step("inc", Assign(()), ghost=(("n", add(G("n"), 1)),)),
...                         Step("stop", Halt()))),),
...     properties=(Sometimes("counted", eq(G("n"), 1)),))
... '''
>>> path = pathlib.Path(tempfile.mkdtemp()) / "counter.py"
>>> _ = path.write_text(src)
>>> [(p.name, [v.name for v in p.variants]) for p in load_protocols(str(path))]
[('counter', ['default'])]
"""

from __future__ import annotations

import importlib.util
import sys
import traceback
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from intervm.model import memory
from intervm.spec._site import show_site
from intervm.spec.errors import SpecError, ended_by
from intervm.spec.protocol import Protocol, Variant
from intervm.spec.syntax import Spec
from intervm.spec.textfile import read_text
from intervm.spec.validate import validate


@dataclass(frozen=True, slots=True)
class _Fixed:
    """The builder of a one-variant protocol: always ``spec`` (picklable, so that
    ``intervm verify`` can hand it to worker processes)."""

    spec: Spec

    def __call__(self, _knobs: Any) -> Spec:
        return self.spec


def protocol_of_spec(spec: Spec, source: str) -> Protocol:
    """Wrap a single Spec as a protocol with one variant declared to satisfy everything."""
    spec = replace(spec, source=source)
    validate(spec)
    finite = {p.name: p.default for p in spec.params}
    unbounded: dict[str, int | None] = {
        p.name: (None if p.symbolic_ok else p.default) for p in spec.params
    }
    return Protocol(
        name=spec.name,
        doc=spec.doc.strip().splitlines()[0] if spec.doc.strip() else f"from {source}",
        build=_Fixed(spec),
        variants=(Variant("default", None, f"the protocol declared in {source}"),),
        finite_params=finite,
        unbounded_params=unbounded,
    )


def _raised_at(e: BaseException, path: Path | None) -> str:
    """``file:line`` of the deepest frame of ``e`` in ``path`` (or outside intervm)."""
    frames = traceback.extract_tb(e.__traceback__)
    here = str(Path(__file__).resolve().parent.parent)
    target = None if path is None else path.resolve()
    mine = [f for f in frames if (target is not None and Path(f.filename).resolve() == target)
            or (target is None and not str(Path(f.filename).resolve()).startswith(here))]
    return f"{show_site(mine[-1].filename)}:{mine[-1].lineno}: " if mine else ""


def check_protocol(proto: Protocol, path: Path | None = None) -> None:
    """Build and validate every variant of ``proto``; check what each declares.

    Raises :class:`SpecError` naming the file and line of the mistake, before any
    engine runs: a variant whose builder raises, a malformed spec, or a variant
    that declares a verdict for a property or memory model that does not exist.
    """
    at = f"{show_site(proto.where)}: " if proto.where else ""
    if not proto.variants:
        raise SpecError(f"{at}protocol {proto.name!r} has no variants; give it at least "
                        "one Variant(...)")
    for v in proto.variants:
        vat = f"{show_site(v.where)}: " if v.where else at
        where = f"protocol {proto.name!r}, variant {v.name!r}"
        try:
            spec = proto.spec(v.name)
        except SpecError:
            raise
        except Exception as e:
            raise SpecError(f"{_raised_at(e, path) or vat}{where}: building its spec raised "
                            f"{type(e).__name__}: {e}; fix the builder or the knobs") from None
        except BaseException as e:  # sys.exit(), KeyboardInterrupt: not a spec either
            raise SpecError(f"{_raised_at(e, path) or vat}{where}: building its spec "
                            f"{ended_by(e)}; a builder must return a Spec") from None
        if not isinstance(spec, Spec):
            raise SpecError(f"{vat}{where}: the builder returned {type(spec).__name__}, "
                            "not a Spec; return Spec(...) from it")
        validate(spec)
        props = [p.name for p in spec.properties]
        for prop, models in v.violated.items():
            if prop not in props:
                raise SpecError(f"{vat}{where}: declares property {prop!r} violated, but the "
                                f"spec has no such property; its properties are "
                                f"{', '.join(props)}")
            for m in sorted(set(models) - set(memory.names())):
                raise SpecError(f"{vat}{where}: declares {prop!r} violated under memory model "
                                f"{m!r}, which is unknown; use {', '.join(memory.names())}")
        for m in v.memory_models:
            if m not in memory.names():
                raise SpecError(f"{vat}{where}: memory model {m!r} is unknown; use "
                                f"{', '.join(memory.names())}")
        declared = {p.name for p in spec.params}
        for name in [*proto.finite_params, *v.params]:
            if name not in declared:
                raise SpecError(f"{vat}{where}: sets parameter {name!r}, which the spec does "
                                "not declare; add ParamDecl(...) to the spec or drop it")


def _exec_file(path: Path, warned: list[warnings.WarningMessage]) -> dict[str, Any]:
    """Run the protocol file; its SyntaxWarnings go to ``warned`` (not to stderr), so
    that an error can carry them on its one line."""
    if not path.is_file() and not path.is_dir():
        raise SpecError(f"protocol file {str(path)!r} does not exist or is not a file")
    read_text(path, "protocol file", SpecError, allow_empty=True)  # one line on bad bytes
    name = f"intervm_user_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SpecError(f"protocol file {str(path)!r} cannot be loaded as Python; name it "
                        "*.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SyntaxWarning)
        try:
            spec.loader.exec_module(module)
        except SpecError as e:
            raise SpecError(f"{e}{_noted(caught)}") from None
        except Exception as e:
            where = _raised_at(e, path) or f"{path}: "
            raise SpecError(f"{where}running the protocol file raised "
                            f"{type(e).__name__}: {e}{_noted(caught)}") from None
        except BaseException as e:  # sys.exit(0) would end intervm silently, with status 0
            raise SpecError(f"{_raised_at(e, path) or ''}protocol file {str(path)!r} "
                            f"{ended_by(e)} while being imported; a protocol file must only "
                            "declare protocols (put the rest under if __name__ == '__main__':)"
                            ) from None
    for w in caught:
        if issubclass(w.category, SyntaxWarning):
            warned.append(w)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return vars(module)


def _noted(caught: list[warnings.WarningMessage]) -> str:
    """What Python warned about while compiling the file, for the end of an error line
    (``'int' object is not callable; perhaps you missed a comma?``)."""
    notes = [f"line {w.lineno}: {w.message}" for w in caught
             if issubclass(w.category, SyntaxWarning)]
    return f" (Python warned at {'; '.join(notes[:2])})" if notes else ""


def load_protocols(target: str | Path) -> list[Protocol]:
    """Protocols from ``path.py`` or ``path.py:object`` / ``module:object``.

    >>> [p.name for p in load_protocols("intervm.spec.protocols:COALESCING")]
    ['coalescing']

    Every variant of every protocol found is built and validated first
    (:func:`check_protocol`), so mistakes are reported with their file and line.
    """
    if isinstance(target, Path):
        target = str(target)
    if not isinstance(target, str) or not target:
        raise SpecError(f"load_protocols() takes a file name or MODULE:OBJECT, got "
                        f"{type(target).__name__} {target!r:.40}")
    file_part, _, obj = target.partition(":") if not Path(target).is_file() else (target, "", "")
    warned: list[warnings.WarningMessage] = []
    if file_part.endswith(".py") or Path(file_part).is_file() or Path(file_part).is_dir():
        path: Path | None = Path(file_part)
        namespace = _exec_file(Path(file_part), warned)
        source = file_part
    else:
        try:
            module = importlib.import_module(file_part)
        except ImportError as e:
            raise SpecError(f"cannot import module {file_part!r}: {e}") from None
        except Exception as e:  # the module itself raised while importing
            raise SpecError(f"{_raised_at(e, None)}importing module {file_part!r} raised "
                            f"{type(e).__name__}: {' '.join(str(e).split())}") from None
        except BaseException as e:
            raise SpecError(f"{_raised_at(e, None)}module {file_part!r} {ended_by(e)} while "
                            "being imported; a protocol module must only declare "
                            "protocols") from None
        namespace = vars(module)
        source = file_part
        path = None
    try:
        out = _protocols_in(namespace, obj, source, path)
    except SpecError as e:
        raise SpecError(f"{e}{_noted(warned)}") from None
    for w in warned:  # the file loaded: Python's warnings are shown as usual
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return out


def _protocols_in(namespace: dict[str, Any], obj: str, source: str,
                  path: Path | None) -> list[Protocol]:
    if obj:
        if obj not in namespace:
            raise SpecError(f"{source} defines no object named {obj!r}")
        candidates = {obj: namespace[obj]}
    else:
        candidates = {k: v for k, v in namespace.items() if not k.startswith("_")}
    out: list[Protocol] = []
    for name, value in candidates.items():
        if isinstance(value, Protocol):
            check_protocol(value, path)
            out.append(value)
        elif isinstance(value, Spec):
            out.append(protocol_of_spec(value, f"{source}:{name}"))
    if not out:
        raise SpecError(f"{source} defines no Spec or Protocol object; declare one at module "
                        "level (spec = Spec(...)) or name it with FILE.py:OBJECT")
    return out
