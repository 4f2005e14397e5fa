"""Malformed specs are rejected before any engine runs, with a message that names the
object, says what is wrong and what to do."""

from __future__ import annotations

import re

import pytest

from intervm.model.compile import compile_spec
from intervm.spec.errors import ParamError, SpecError
from intervm.spec.expr import G, L, LocalOf, Mem, eq
from intervm.spec.protocols import get_protocol
from intervm.spec.syntax import (
    NAT,
    Branch,
    Ghost,
    Halt,
    Load,
    Local,
    ParamDecl,
    Process,
    Shared,
    Sometimes,
    Spec,
    Step,
    Store,
)
from intervm.spec.validate import validate

OK_PROP = Sometimes("started", eq(G("g"), 0))


def spec_with(*steps: Step, props: tuple[object, ...] = (OK_PROP,), **kw: object) -> Spec:
    base: dict[str, object] = {
        "shared": (Shared("x", NAT), Shared("ring", NAT, length="cap")),
        "ghosts": (Ghost("g", NAT),),
        "params": (ParamDecl("cap", 2, minimum=1),),
        "processes": (Process("P", locals=(Local("r", NAT),), steps=steps),),
        "properties": props,
    }
    base.update(kw)
    return Spec("demo", **base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ((Step("s", Store("y", 1)), Step("h", Halt())),
         "step 's': shared variable 'y' is not declared; add Shared('y', ...) to the spec"),
        ((Step("s", Load("q", "x")), Step("h", Halt())),
         "step 's': local 'q' is not declared in process P; declare it with Local('q', ...)"),
        ((Step("s", Load("r", "ring")), Step("h", Halt())),
         "step 's': 'ring' is an array: give an index"),
        ((Step("s", Branch(eq(L("r"), 0), "nowhere")), Step("h", Halt())),
         "jumps to 'nowhere', which is not a label of P; labels are s, h"),
        ((Step("s", Store("x", L("r"))),),
         "step 's': is the last step and falls off the end; end the process with Halt()"),
        ((Step("s", Store("x", 1), ghost=(("h", 1),)), Step("h", Halt())),
         "writes ghost 'h', which is not declared"),
        ((Step("s", Store("x", G("g"))), Step("h", Halt())),
         "G is not allowed here"),
        ((Step("s", Store("x", 1)), Step("s", Halt())),
         "label 's' is used twice"),
    ],
)
def test_step_mistakes(steps: tuple[Step, ...], message: str) -> None:
    with pytest.raises(SpecError) as e:
        validate(spec_with(*steps))
    assert message in str(e.value)
    # the step was written in this file: the message opens with its file:line
    assert re.match(r"\S*test_spec_errors\.py:\d+: spec 'demo', ", str(e.value))


def test_property_over_a_missing_variable() -> None:
    bad = Sometimes("seen", eq(Mem("nosuch"), 1))
    with pytest.raises(SpecError, match="property 'seen': shared variable 'nosuch' is not "
                                         "declared"):
        validate(spec_with(Step("s", Store("x", 1)), Step("h", Halt()), props=(bad,)))


def test_local_in_property_must_name_its_process() -> None:
    bad = Sometimes("seen", eq(LocalOf("Q", "r"), 1))
    with pytest.raises(SpecError, match="process 'Q' is not declared"):
        validate(spec_with(Step("s", Store("x", 1)), Step("h", Halt()), props=(bad,)))


def test_a_spec_without_sometimes_is_refused() -> None:
    with pytest.raises(SpecError, match="no Sometimes property is declared"):
        validate(spec_with(Step("s", Store("x", 1)), Step("h", Halt()), props=()))


def test_duplicate_names_share_one_namespace() -> None:
    with pytest.raises(SpecError, match="name 'x': is declared more than once"):
        validate(spec_with(Step("h", Halt()), ghosts=(Ghost("x", NAT), Ghost("g", NAT))))


def test_parameter_errors() -> None:
    proto = get_protocol("coalescing")
    with pytest.raises(ParamError, match="parameter 'bogus' is not declared by protocol "
                                         "'coalescing'; its parameters are: capacity, requests"):
        compile_spec(proto.spec("correct"), {"bogus": 1})
    with pytest.raises(ParamError, match=r"capacity=0 .* below its minimum 1"):
        compile_spec(proto.spec("correct"), {"capacity": 0})
    with pytest.raises(ParamError, match="memory model 'power' is unknown"):
        compile_spec(proto.spec("correct"), {}, "power")
    with pytest.raises(ParamError, match="has no variant 'nope'; its variants are: correct"):
        proto.variant("nope")
