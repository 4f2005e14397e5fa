"""Ill-typed calls of the public spec API are one SpecError line naming the file and
line, the object and the field, never another exception (issue 21); mutated user
protocol files fail only with IntervmError lines; bad CLI numbers and input files are
one error line."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intervm.cli import main
from intervm.model.compile import compile_spec
from intervm.spec import api
from intervm.spec.api import (
    BIT,
    NAT,
    Always,
    Assign,
    At,
    Await,
    Bits,
    Branch,
    Choose,
    Const,
    Doorbell,
    Eventually,
    Fence,
    G,
    Ghost,
    Halt,
    L,
    Load,
    Local,
    LocalOf,
    Mem,
    Nat,
    Notify,
    Param,
    ParamDecl,
    Pending,
    Process,
    Protocol,
    Rmw,
    Shared,
    Sometimes,
    Spec,
    SpecError,
    Step,
    Store,
    Variant,
    Wait,
    add,
    and_,
    eq,
)
from intervm.spec.errors import IntervmError
from intervm.spec.expr import Bin, Ite, Not, Select, Update, Var
from intervm.spec.loader import load_protocols

# ---------------------------------------------------------------- what each field accepts
# Written independently of spec/_check.py: the test states the documented contract.

EXPR_TYPES = (Const, L, LocalOf, G, Mem, At, Param, Pending, Var, Select, Update, Bin,
              Not, Ite)
OP_TYPES = (Load, Store, Fence, Rmw, Assign, Branch, Choose, Await, Notify, Wait, Halt)
Valid = Callable[[Any], bool]


def is_name(v: Any) -> bool:
    return type(v) is str and v != ""


def is_text(v: Any) -> bool:
    return isinstance(v, str)


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_flag(v: Any) -> bool:
    return isinstance(v, bool)


def is_expr(v: Any) -> bool:
    return isinstance(v, (int, *EXPR_TYPES))


def optional(ok: Valid) -> Valid:
    return lambda v: v is None or ok(v)


def seq(ok: Valid) -> Valid:
    return lambda v: isinstance(v, tuple | list) and all(ok(x) for x in v)


def pair(a: Valid, b: Valid) -> Valid:
    return lambda v: isinstance(v, tuple | list) and len(v) == 2 and a(v[0]) and b(v[1])


def instance(*types: type) -> Valid:
    return lambda v: isinstance(v, types)


def mapping(k: Valid, val: Valid) -> Valid:
    return lambda v: isinstance(v, dict) and all(k(a) and val(b) for a, b in v.items())


def names(v: Any) -> bool:
    return (isinstance(v, tuple | list | set | frozenset)
            and all(is_name(x) for x in v))


is_domain = instance(Bits, Nat)
assignments = seq(pair(is_name, is_expr))


def is_width(v: Any) -> bool:
    return is_int(v) and 1 <= v <= 64


def is_length(v: Any) -> bool:
    return v is None or is_name(v) or (is_int(v) and 1 <= v <= 4096)


def build(_knobs: Any) -> Spec:
    return Spec("t", ghosts=(Ghost("g", NAT),), processes=(Process("P", steps=(
        Step("done", Halt()),)),), properties=(Sometimes("z", eq(G("g"), 0)),))


STEP = Step("done", Halt())
PROC = Process("P", steps=(STEP,))
# constructor → (valid keyword arguments, {argument: what it accepts})
TABLE: dict[str, tuple[Callable[..., Any], dict[str, Any], dict[str, Valid]]] = {
    "Const": (Const, {"value": 1}, {"value": lambda v: isinstance(v, int)}),
    "L": (L, {"name": "r"}, {"name": is_name}),
    "G": (G, {"name": "g"}, {"name": is_name}),
    "Param": (Param, {"name": "n"}, {"name": is_name}),
    "Pending": (Pending, {"name": "irq"}, {"name": is_name}),
    "LocalOf": (LocalOf, {"process": "P", "name": "r"}, {"process": is_name, "name": is_name}),
    "At": (At, {"process": "P", "label": "done"}, {"process": is_name, "label": is_name}),
    "Mem": (Mem, {"name": "x", "index": None}, {"name": is_name, "index": optional(is_expr)}),
    "Bits": (Bits, {"width": 2}, {"width": is_width}),
    "Shared": (Shared, {"name": "x", "domain": NAT, "init": 0, "length": None, "doc": ""},
               {"name": is_name, "domain": is_domain, "init": is_int, "length": is_length,
                "doc": is_text}),
    "Ghost": (Ghost, {"name": "g", "domain": NAT, "init": 0, "doc": ""},
              {"name": is_name, "domain": is_domain, "init": is_int, "doc": is_text}),
    "Local": (Local, {"name": "r", "domain": BIT, "init": 0},
              {"name": is_name, "domain": is_domain, "init": is_int}),
    "Doorbell": (Doorbell, {"name": "irq", "latched": True, "doc": ""},
                 {"name": is_name, "latched": is_flag, "doc": is_text}),
    "ParamDecl": (ParamDecl, {"name": "n", "default": 2, "minimum": 0, "symbolic_ok": False,
                              "doc": ""},
                  {"name": is_name, "default": is_int, "minimum": is_int,
                   "symbolic_ok": is_flag, "doc": is_text}),
    "Load": (Load, {"dst": "r", "var": "x", "index": None},
             {"dst": is_name, "var": is_name, "index": optional(is_expr)}),
    "Store": (Store, {"var": "x", "value": 1, "index": None},
              {"var": is_name, "value": is_expr, "index": optional(is_expr)}),
    "Fence": (Fence, {"kind": "full"}, {"kind": lambda v: v in ("full", "store")
                                        and isinstance(v, str)}),
    "Rmw": (Rmw, {"dst": "r", "var": "x", "value": 1, "index": None},
            {"dst": is_name, "var": is_name, "value": is_expr, "index": optional(is_expr)}),
    "Assign": (Assign, {"assigns": (("r", 1),)}, {"assigns": assignments}),
    "Branch": (Branch, {"cond": True, "target": "done"}, {"cond": is_expr, "target": is_name}),
    "Choose": (Choose, {"options": ((True, "done"),)},
               {"options": seq(pair(is_expr, is_name))}),
    "Await": (Await, {"cond": True}, {"cond": is_expr}),
    "Notify": (Notify, {"doorbell": "irq"}, {"doorbell": is_name}),
    "Wait": (Wait, {"doorbell": "irq"}, {"doorbell": is_name}),
    "Step": (Step, {"label": "s", "op": Halt(), "then": None, "ghost": (), "progress": False,
                    "doc": "", "set": (), "branch": None},
             {"label": is_name, "op": instance(*OP_TYPES), "then": optional(is_name),
              "ghost": assignments, "progress": is_flag, "doc": is_text, "set": assignments,
              "branch": optional(pair(is_expr, is_name))}),
    "Process": (Process, {"name": "P", "locals": (), "steps": (STEP,), "fair": True, "doc": ""},
                {"name": is_name, "locals": seq(instance(Local)), "steps": seq(instance(Step)),
                 "fair": is_flag, "doc": is_text}),
    "Always": (Always, {"name": "a", "pred": True, "doc": ""},
               {"name": is_name, "pred": is_expr, "doc": is_text}),
    "Sometimes": (Sometimes, {"name": "a", "pred": True, "doc": ""},
                  {"name": is_name, "pred": is_expr, "doc": is_text}),
    "Eventually": (Eventually, {"name": "a", "pending": True, "doc": ""},
                   {"name": is_name, "pending": is_expr, "doc": is_text}),
    "Spec": (Spec, {"name": "s", "shared": (), "ghosts": (), "doorbells": (),
                    "processes": (PROC,), "properties": (), "params": (), "doc": "",
                    "source": ""},
             {"name": is_name, "shared": seq(instance(Shared)), "ghosts": seq(instance(Ghost)),
              "doorbells": seq(instance(Doorbell)), "processes": seq(instance(Process)),
              "properties": seq(instance(Always, Sometimes, Eventually)),
              "params": seq(instance(ParamDecl)), "doc": is_text, "source": is_text}),
    "Variant": (Variant, {"name": "v", "knobs": None, "doc": "", "violated": {}, "params": {},
                          "memory_models": ("sc",), "symbolic": None},
                {"name": is_name, "doc": is_text, "violated": mapping(is_name, names),
                 "params": mapping(is_name, is_int), "memory_models": seq(is_name),
                 "symbolic": optional(seq(is_name))}),
    "Protocol": (Protocol, {"name": "p", "doc": "", "build": build,
                            "variants": (Variant("v", None, ""),), "finite_params": {},
                            "unbounded_params": {}, "prove": None},
                 {"name": is_name, "doc": is_text,
                  "build": lambda v: callable(v) and not isinstance(v, type),
                  "variants": seq(instance(Variant)),
                  "finite_params": mapping(is_name, is_int),
                  "unbounded_params": mapping(is_name, optional(is_int)),
                  "prove": optional(names)}),
}
SMART = {"add": 2, "sub": 2, "mul": 2, "mod": 2, "eq": 2, "ne": 2, "lt": 2, "le": 2,
         "gt": 2, "ge": 2, "implies": 2, "not_": 1, "ite": 3, "and_": 3, "or_": 3}

ANYTHING = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=4),
    st.binary(max_size=3), st.lists(st.integers(-2, 2), max_size=3),
    st.tuples(st.text(max_size=2), st.integers(-2, 2)),
    st.tuples(st.tuples(st.text(max_size=2), st.sampled_from([1, "x", None]))),
    st.dictionaries(st.text(max_size=2), st.sampled_from([1, "x", None, 1.5]), max_size=2),
    st.frozensets(st.sampled_from(["sc", "tso", 3]), max_size=2),
    st.sampled_from([L("r"), eq(L("r"), 1), Halt(), Store("x", 1), STEP, PROC, NAT, BIT,
                     Local("r", NAT), Shared("x", NAT), int, str, Bits, Step, object(),
                     print, and_, Ellipsis, 1j, range(3), Always("a", True)]),
)


def one_line_spec_error(call: Callable[[], Any], field: str) -> str:
    with pytest.raises(SpecError) as e:
        call()
    msg = str(e.value)
    assert "\n" not in msg and field in msg and " must be " in msg and ", got " in msg
    # written in this file: the message opens with its file:line
    assert re.match(r"\S*test_api_types\.py:\d+: ", msg), msg
    return msg


def _construct(ctor: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    return ctor(**kwargs)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.filter_too_much])
@given(data=st.data(), name=st.sampled_from(sorted(TABLE)))
def test_ill_typed_constructor_calls_are_spec_errors(data: st.DataObject, name: str) -> None:
    ctor, good, accepts = TABLE[name]
    field = data.draw(st.sampled_from(sorted(accepts)), label="field")
    ok = accepts[field]
    value = data.draw(ANYTHING.filter(lambda v: not ok(v)), label="value")
    one_line_spec_error(lambda: _construct(ctor, {**good, field: value}), field)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.filter_too_much])
@given(data=st.data(), name=st.sampled_from(sorted(SMART)))
def test_ill_typed_expression_arguments_are_spec_errors(data: st.DataObject,
                                                        name: str) -> None:
    fn = getattr(api, name)
    n = SMART[name]
    bad = data.draw(st.integers(0, n - 1), label="position")
    args = [L("r")] * n
    args[bad] = data.draw(ANYTHING.filter(lambda v: not is_expr(v)), label="value")
    one_line_spec_error(lambda: fn(*args), f"argument {bad + 1}")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.filter_too_much])
@given(value=ANYTHING)
def test_show_validate_and_load_refuse_what_they_cannot_take(value: Any) -> None:
    if not is_expr(value):
        one_line_spec_error(lambda: api.show(value), "argument 1")
    if not isinstance(value, Spec):
        with pytest.raises(SpecError, match=r"^validate\(\) checks a Spec, got "):
            api.validate(value)
    if not (isinstance(value, str) and value):
        with pytest.raises(SpecError, match=r"^load_protocols\(\) takes a file name"):
            api.load_protocols(value)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_the_valid_calls_build(name: str) -> None:
    ctor, good, _ = TABLE[name]
    ctor(**good)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: Store("flag", "yes"),
     "Store(var='flag', value='yes'): value must be an expression (an int, a bool, or a "
     "node such as L('r'), G('g'), Mem('x'), Param('n'), eq(...)), got the str 'yes'; "
     "write L('yes') for a local, G('yes') for a ghost or Mem('yes') for shared memory, "
     "or a constant such as 1"),
    (lambda: Bits(-1), "Bits(width=-1): width must be a width in bits (1..64), got the int "
                       "-1; a variable is 1 to 64 bits wide; use NAT for unbounded counters"),
    (lambda: Shared("ring", NAT, length=10**9),
     "length must be a length of 1..4096 or a parameter's name, got the int 1000000000"),
    (lambda: Spec("s", shared=Shared("x", NAT)),
     "shared must be a tuple of Shared, got the Shared Shared('x', Nat(), 0, None, ''); "
     "wrap it in a tuple: (Shared('x', NAT),) (mind the trailing comma)"),
    (lambda: Step("s", eq(L("f"), 0)),
     "op must be a step operation (Load, Store, Fence, Rmw, Assign, Branch, Choose, Await, "
     "Notify, Wait or Halt), got the expression f == 0; a condition is not an op: write "
     "Await(cond), or branch=(cond, target) on the step"),
    (lambda: Step("s", Halt(), ghost=(("g", "yes"),)), "ghost[0][1] must be an expression"),
    (lambda: and_(At("P", "s"), "done"),
     "and_(P@s, 'done'): argument 2 must be an expression"),
    (lambda: Variant("v", None, "", violated={"p": "tso"}),
     "violated['p'] must be a set of memory model names, got the str 'tso'; write "
     "frozenset({'tso', 'pso'})"),
    (lambda: Protocol("p", "", build(None), variants=(), finite_params={},
                      unbounded_params={}),
     "build must be a function from a variant's knobs to a Spec, got the Spec"),
])
def test_messages_name_the_object_and_say_what_to_write(call: Callable[[], Any],
                                                        message: str) -> None:
    msg = one_line_spec_error(call, "must be")
    assert message in msg


def test_a_deep_expression_is_one_spec_error_not_a_recursion_error() -> None:
    deep = At("P", "done")
    for _ in range(10_000):
        deep = and_(deep, At("P", "done"))
    spec = Spec("deep", processes=(PROC,), properties=(Always("a", deep),
                                                        Sometimes("b", True)))
    with pytest.raises(SpecError, match=r"property 'a': an expression is nested 10001 "
                                        r"levels deep, more than the 64"):
        compile_spec(spec, {})
    # one long and_(*parts) call stays shallow and compiles
    wide = and_(*[At("P", "done")] * 10_000)
    compile_spec(Spec("wide", processes=(PROC,), properties=(Always("a", wide),
                                                             Sometimes("b", True))), {})


def test_an_expression_used_inside_itself_is_refused_in_linear_time() -> None:
    doubled: Any = L("r")
    for _ in range(40):  # 2**41 - 1 nodes written out: walking them was a hang
        doubled = add(doubled, doubled)
    spec = Spec("doubled", processes=(Process("P", locals=(Local("r", NAT),), steps=(
        Step("s", Assign((("r", doubled),))), STEP)),), properties=(Sometimes("b", True),))
    with pytest.raises(SpecError, match=r"step 's': an expression has 2199023255551 nodes "
                                        r"when written out, more than the 100000"):
        compile_spec(spec, {})


def test_many_conditionals_in_a_property_are_refused_by_the_promela_export() -> None:
    from intervm.model.promela import to_promela
    from intervm.spec.api import ite

    def spec_with(n: int) -> Spec:
        pred: Any = eq(LocalOf("P", "r"), 0)
        for _ in range(n):
            pred = ite(pred, 1, eq(LocalOf("P", "r"), 1))
        return Spec("ites", processes=(Process("P", locals=(Local("r", BIT),), steps=(STEP,)),),
                    properties=(Always("a", pred), Sometimes("b", True)))

    assert "ltl" in to_promela(compile_spec(spec_with(10), {}))
    # 2**40 copies of the formula was a hang; now one EngineError line (SPIN: UNKNOWN)
    with pytest.raises(IntervmError, match=r"^a property holds 40 conditional expressions "
                                           r"\(ite\);.*\(the limit is 10\); check this "
                                           r"property with another engine"):
        to_promela(compile_spec(spec_with(40), {}))


# ---------------------------------------------------------------- user protocol files

SOURCE = '''\
from intervm.spec.api import *

FLAG = Shared("flag", BIT, init=0)


def build(fenced):
    mb = (Step("mb", Fence()),) if fenced else ()
    return Spec(
        "sb",
        shared=(FLAG, Shared("tail", Bits(2)), Shared("ring", NAT, length=2)),
        ghosts=(Ghost("seen", NAT),),
        doorbells=(Doorbell("irq"),),
        processes=(
            Process("P", locals=(Local("n", NAT),), steps=(
                Step("publish", Store("tail", 1), set=(("n", add(L("n"), 1)),)),
                *mb,
                Step("arm", Store("flag", 1), ghost=(("seen", 1),)),
                Step("kick", Notify("irq")),
                Step("done", Halt()),
            )),
            Process("C", locals=(Local("r", BIT),), steps=(
                Step("wait", Wait("irq")),
                Step("read", Load("r", "flag"), branch=(eq(L("r"), 0), "wait")),
                Step("done", Halt()),
            )),
        ),
        properties=(
            Always("published", implies(At("C", "done"), eq(Mem("tail"), 1))),
            Sometimes("woken", At("C", "done")),
        ),
    )


proto = Protocol("sb", "a small protocol", build, variants=(
    Variant("fenced", True, "with the fence"),
    Variant("plain", False, "without it", violated={"published": frozenset({"tso"})}),
), finite_params={}, unbounded_params={})
'''
REPLACEMENTS = ["-1", "0", "1", "2", "99999", "10**9", "1.5", "'x'", "''", "None", "True",
                "()", "[]", "{}", "L('n')", "G('seen')", "Halt()", "Fence()", "NAT", "BIT",
                "Bits(0)", "Bits(65)", "lambda k: k", '"tail"', '"done"', "frozenset({'arm'})",
                "(1, 2)", "Step", "print", "float('nan')"]
VALUE = re.compile(r"\b(?!def\b|return\b|if\b|else\b|from\b|import\b)[A-Za-z_][A-Za-z_0-9]*\b"
                   r"(?!\s*[=(])|\b\d+\b|\"[^\"\n]*\"|'[^'\n]*'")  # not callees, not keywords


def mutate(source: str, rng: random.Random) -> str:
    """``source`` with one or two names, numbers or strings replaced by another value
    (so that most mutants still parse and reach the spec API)."""
    for _ in range(rng.randint(1, 2)):
        tokens = [t for t in VALUE.finditer(source) if t.start() > source.index("\n")]
        t = rng.choice(tokens)
        source = source[:t.start()] + rng.choice(REPLACEMENTS) + source[t.end():]
    return source


def test_the_fuzzed_template_itself_loads(tmp_path: Path) -> None:
    (tmp_path / "sb.py").write_text(SOURCE)
    (proto,) = load_protocols(str(tmp_path / "sb.py"))
    assert [v.name for v in proto.variants] == ["fenced", "plain"]


def test_mutated_protocol_files_fail_only_with_one_intervm_error_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    rng = random.Random(21)
    outcomes = {"loaded": 0, "refused": 0}
    for i in range(60):
        path = tmp_path / f"m{i}.py"  # a new name each time: no stale bytecode
        path.write_text(mutate(SOURCE, rng))
        r = CliRunner().invoke(main, ["verify", path.name, "--list"])
        assert "Traceback" not in r.output and r.exit_code in (0, 1), r.output
        if r.exit_code == 1:  # Python's SyntaxWarnings included: one line
            assert len(r.output.splitlines()) == 1 and r.output.startswith("Error: m"), (
                path.read_text(), r.output)
        path = path.rename(tmp_path / f"n{i}.py")  # loaded again below, compiled afresh
        try:
            for proto in load_protocols(str(path)):
                for v in proto.variants:
                    compile_spec(proto.spec(v.name), proto.params_for(v.name,
                                                                      unbounded=False))
            outcomes["loaded"] += 1
        except IntervmError as e:
            assert "\n" not in str(e), (path.read_text(), str(e))
            assert "Traceback" not in str(e)
            outcomes["refused"] += 1
        # any other exception fails the test with the mutated file in the traceback
    assert outcomes["refused"] >= 30 and outcomes["loaded"] >= 3, outcomes


# ---------------------------------------------------------------- the command line

CLI_CASES = {
    "verify_timeout_nan": (["verify", "-p", "coalescing", "--timeout", "nan"], 2,
                           "'nan' is not a finite number"),
    "verify_timeout_inf": (["verify", "-p", "coalescing", "--timeout", "inf"], 2,
                           "'inf' is not a finite number"),
    "verify_timeout_negative": (["verify", "-p", "coalescing", "--timeout", "-5"], 2,
                                "is not in the range 0.1<=x<=86400"),
    "verify_timeout_huge": (["verify", "-p", "coalescing", "--timeout", "1e300"], 2,
                            "is not in the range 0.1<=x<=86400"),
    "report_timeout_nan": (["report", "r.html", "--timeout", "nan"], 2,
                           "'nan' is not a finite number"),
    "conformance_seconds_inf": (["conformance", "run", "--role", "producer", "--seconds",
                                 "inf", "--", "true"], 2, "'inf' is not a finite number"),
    "conformance_watchdog_nan": (["conformance", "run", "--role", "producer", "--watchdog",
                                  "nan", "--", "true"], 2, "'nan' is not a finite number"),
    "verify_file_and_protocol": (["verify", "FILE", "-p", "coalescing"], 2,
                                 "give a protocol file or --protocol coalescing, not both"),
}


@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_cli_bad_numbers_and_conflicts_are_one_line(case: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sb.py").write_text(SOURCE)
    args, code, message = CLI_CASES[case]
    r = CliRunner().invoke(main, [a.replace("FILE", "sb.py") for a in args])
    assert r.exit_code == code, r.output
    assert len(r.output.strip().splitlines()) == 1 and message in r.output, r.output
    assert "Traceback" not in r.output


BAD_FILES = {
    "not_utf8": (b'{"x": 1}\n\xff\xfe\n', "is not UTF-8 text: byte 0xff at offset 9 "
                                          "(line 2) cannot be decoded; save the file as UTF-8"),
    "empty": (b"", "is empty; give a file with content"),
    "directory": (None, "is a directory; give a file"),
    "missing": (False, "does not exist; check the path"),
}
READERS = {
    "play_script": (["play", "coalescing", "no_recheck", "--script", "@IN@"], 1, "script file"),
    "inprocess_replay": (["conformance", "inprocess",
                          "intervm.conformance.implementation:REFERENCE_COALESCING",
                          "--replay", "@IN@"], 1, "replay file"),
    "check_trace": (["conformance", "check-trace", "@IN@"], 2, "trace file"),
    "diagram": (["diagram", "@IN@", "-o", "out.svg"], 1, "trace file"),
}


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("bad", sorted(BAD_FILES))
def test_cli_bad_input_files_are_one_line(reader: str, bad: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    content, message = BAD_FILES[bad]
    target = tmp_path / "input.txt"
    if content is None:
        target.mkdir()
    elif content is not False:
        target.write_bytes(content)
    args, code, what = READERS[reader]
    r = CliRunner().invoke(main, [a.replace("@IN@", "input.txt") for a in args])
    if reader in ("inprocess_replay", "diagram") and bad == "directory":
        # click's dir_okay=False refuses it before the command runs: one usage line, 2
        assert r.exit_code == 2 and r.output.endswith("'input.txt' is a directory.\n")
        assert len(r.output.splitlines()) == 1, r.output
        return
    assert r.exit_code == code, r.output
    assert r.output == f"Error: {what} input.txt {message}\n"


def test_python_syntax_warnings_join_the_one_error_line(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "comma.py").write_text(SOURCE.replace('set=(("n", add(L("n"), 1)),)',
                                                      'set=(("n", 1) ("n", 2))'))
    r = CliRunner().invoke(main, ["verify", "comma.py", "--list"])
    assert r.exit_code == 1
    assert r.output == ("Error: comma.py:15: protocol 'sb', variant 'fenced': building its "
                        "spec raised TypeError: 'tuple' object is not callable; fix the builder "
                        "or the knobs (Python warned at line 15: 'tuple' object is not "
                        "callable; perhaps you missed a comma?)\n")


def test_protocol_file_not_utf8_names_the_byte(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.py").write_bytes(SOURCE.encode().replace(b'"sb"', b'"s\xe9"'))
    r = CliRunner().invoke(main, ["verify", "bad.py"])
    assert r.exit_code == 1
    offset = SOURCE.index('"sb"') + 2
    line = SOURCE[:offset].count("\n") + 1
    assert r.output == (f"Error: protocol file bad.py is not UTF-8 text: byte 0xe9 at offset "
                        f"{offset} (line {line}) cannot be decoded; save the file as UTF-8\n")


def test_unpicklable_protocol_runs_in_one_process_with_a_note(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lam.py").write_text(SOURCE.replace("proto = Protocol(\"sb\", \"a small "
                                                    "protocol\", build,",
                                                    "proto = Protocol(\"sb\", \"a small "
                                                    "protocol\", lambda k: build(k),"))
    r = CliRunner().invoke(main, ["verify", "lam.py", "-m", "sc", "-j", "2",
                                                  "--property", "woken"])
    assert r.exit_code == 0, r.output
    assert "2 verdicts, 0 differ from what the variants declare" in r.stdout
    assert r.stderr.startswith("note: protocol 'sb' cannot be sent to worker processes "
                               "(PicklingError: ")
    assert r.stderr.rstrip().endswith("to check it with --jobs; checking in one process")
    assert len(r.stderr.strip().splitlines()) == 1
