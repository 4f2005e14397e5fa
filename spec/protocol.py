"""Protocols with named variants and the verdicts each variant is declared to have.

A :class:`Protocol` builds one :class:`~intervm.spec.syntax.Spec` per variant from a
single declaration; variants are knob settings, never copies.

>>> from intervm.spec.protocols import get_protocol
>>> proto = get_protocol("coalescing")
>>> proto.variant("no_producer_fence").expected("no_lost_wakeup", "tso")
'violated'
>>> proto.variant("no_producer_fence").expected("no_lost_wakeup", "sc")
'holds'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from intervm.model import memory
from intervm.spec import _check
from intervm.spec._site import creation_site
from intervm.spec.errors import ParamError
from intervm.spec.syntax import Spec


def violations(*props: str, under: frozenset[str]) -> dict[str, frozenset[str]]:
    """Declare ``props`` violated under the memory models ``under`` (for ``Variant``)."""
    return {p: under for p in props}


def merged(*parts: Mapping[str, frozenset[str]]) -> dict[str, frozenset[str]]:
    """Union of several ``violations(...)`` declarations."""
    out: dict[str, frozenset[str]] = {}
    for part in parts:
        for k, v in part.items():
            out[k] = out.get(k, frozenset()) | v
    return out


@dataclass(frozen=True, slots=True)
class Variant:
    """One variant: its knobs, the real system it models, and its expected verdicts.

    >>> v = Variant("no_fence", {"fence": False}, "the fence is missing (bug B1)",
    ...             violated={"no_lost_wakeup": frozenset({"tso", "pso"})})
    >>> v.expected("no_lost_wakeup", "tso"), v.expected("no_lost_wakeup", "sc")
    ('violated', 'holds')

    ``violated`` maps a property name to the memory models under which the variant
    is declared to violate it; every other (property, model) pair is declared to hold.
    ``params`` overrides the protocol's finite-check parameters for this variant.
    """

    name: str
    knobs: Any
    doc: str
    violated: Mapping[str, frozenset[str]] = field(default_factory=dict)
    params: Mapping[str, int] = field(default_factory=dict)
    memory_models: tuple[str, ...] = field(default_factory=memory.defaults)
    symbolic: tuple[str, ...] | None = None  # params an unbounded proof may leave open
    where: str = field(default="", compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.where or not isinstance(self.where, str):
            object.__setattr__(self, "where", creation_site())
        _check.check_fields(self, _VARIANT)

    def expected(self, prop: str, memory_model: str) -> str:
        """``'violated'`` or ``'holds'``: what this variant declares."""
        return "violated" if memory_model in self.violated.get(prop, frozenset()) else "holds"


@dataclass(frozen=True, slots=True)
class Protocol:
    """A protocol family: one builder, many variants.

    >>> from intervm.spec.syntax import Ghost, Halt, Process, Sometimes, Spec, Step, NAT
    >>> from intervm.spec.expr import G, eq
    >>> def build(knobs: int) -> Spec:
    ...     return Spec("tiny", ghosts=(Ghost("g", NAT, init=knobs),),
    ...                 processes=(Process("P", steps=(Step("done", Halt()),)),),
    ...                 properties=(Sometimes("zero", eq(G("g"), 0)),))
    >>> proto = Protocol("tiny", "a protocol that does nothing", build,
    ...                  variants=(Variant("zero", 0, "g starts at 0"),
    ...                            Variant("one", 1, "g starts at 1")),
    ...                  finite_params={}, unbounded_params={})
    >>> proto.spec("one").ghosts[0].init
    1

    ``build`` maps a variant's ``knobs`` to its :class:`~intervm.spec.syntax.Spec`;
    ``finite_params`` are the parameter values of finite checks and
    ``unbounded_params`` those of unbounded proofs (``None``: left symbolic).

    ``prove`` is the proof plan: the properties for which ``intervm verify``'s auto
    engine attempts an unbounded (symbolic-parameter) proof after the exhaustive
    finite check; the others are reported for the finite instance, with the reason.
    """

    name: str
    doc: str
    build: Callable[[Any], Spec]
    variants: tuple[Variant, ...]
    finite_params: Mapping[str, int]
    unbounded_params: Mapping[str, int | None]
    prove: frozenset[str] | None = None  # properties worth an unbounded proof (None: all)
    where: str = field(default="", compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.where or not isinstance(self.where, str):
            object.__setattr__(self, "where", creation_site())
        _check.check_fields(self, _PROTOCOL)

    def variant(self, name: str) -> Variant:
        for v in self.variants:
            if v.name == name:
                return v
        raise ParamError(
            f"protocol {self.name!r} has no variant {name!r}; its variants are: "
            f"{', '.join(v.name for v in self.variants)}"
        )

    def spec(self, variant: str) -> Spec:
        """The spec of ``variant``."""
        return self.build(self.variant(variant).knobs)

    def params_for(self, variant: str, *, unbounded: bool) -> dict[str, int | None]:
        """Parameters for a finite check, or for an unbounded proof (None = symbolic)."""
        v = self.variant(variant)
        base: dict[str, int | None] = dict(self.finite_params)
        base.update(v.params)
        if unbounded:
            for k, val in self.unbounded_params.items():
                if val is None and (v.symbolic is None or k in v.symbolic):
                    base[k] = None
        return base


# ---------------------------------------------------------------- argument kinds

_MODELS = _check.name_set("memory model names", "frozenset({'tso', 'pso'})")
_PARAMS = _check.mapping(_check.name, _check.integer, "parameter values",
                         "{'capacity': 2}")
_VARIANT = (
    ("name", _check.name), ("doc", _check.text),
    ("violated", _check.mapping(_check.name, _MODELS, "property names to memory models",
                                "{'no_lost_wakeup': frozenset({'tso', 'pso'})}")),
    ("params", _PARAMS),
    ("memory_models", _check.tuple_of(_check.name, "memory model names",
                                      "'sc', 'tso'")),
    ("symbolic", _check.optional(_check.tuple_of(_check.name, "parameter names",
                                                 "'capacity'"))),
)
_PROTOCOL = (
    ("name", _check.name), ("doc", _check.text),
    ("build", _check.function("a function from a variant's knobs to a Spec",
                              "pass the builder itself: build, not build(...)")),
    ("variants", _check.tuple_of(_check.instance(Variant, "a Variant",
                                                 "write Variant(name, knobs, doc)"),
                                 "Variant", "Variant('fenced', True, 'with the fence')")),
    ("finite_params", _PARAMS),
    ("unbounded_params", _check.mapping(_check.name, _check.optional(_check.integer),
                                        "parameter values (None: symbolic)",
                                        "{'capacity': None}")),
    ("prove", _check.optional(_check.name_set("property names",
                                              "frozenset({'no_lost_wakeup'})"))),
)
