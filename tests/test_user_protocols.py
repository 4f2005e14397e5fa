"""Mistakes in a user's protocol file are reported with file, line and object, before
any engine runs, by ``load_protocols`` and by ``intervm verify FILE.py`` (one line,
exit 1, no traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from intervm.cli import main
from intervm.spec.api import SpecError, load_protocols

# A correct 20-line protocol; each case below changes one placeholder.
TEMPLATE = '''\
from intervm.spec.api import *

flag = Shared("flag", BIT, init=INIT)
spec = Spec(
    "doorbell",
    shared=(flag, Shared("tail", NAT)),
    doorbells=(Doorbell("irq"),),
    processes=(
        Process("P", locals=(Local("n", NAT),), steps=(
            Step("publish", Store("TAIL", 1), set=(("SETVAR", 1),)),
            Step("arm", Store("flag", VALUE)),
            Step("kick", Notify("irq")),
            Step("done", Halt()),
        )),
        Process("C", steps=(Step("wait", Wait("irq")), Step("done", Halt()))),
    ),
    properties=(
        Always("published", implies(At("C", "done"), eq(Mem("MEMVAR"), 1))),
        SOMETIMES
    ),
)
'''
GOOD = {"INIT": "0", "TAIL": "tail", "SETVAR": "n", "VALUE": "1", "MEMVAR": "tail",
        "SOMETIMES": 'Sometimes("woken", At("C", "done")),'}

CASES = {
    "undeclared_variable": (
        {"TAIL": "tial"},
        "bad.py:10: spec 'doorbell', process P, step 'publish': shared variable 'tial' is "
        "not declared; add Shared('tial', ...) to the spec"),
    "writes_undeclared_local": (
        {"SETVAR": "m"},
        "bad.py:10: spec 'doorbell', process P, step 'publish': local 'm' is not declared in "
        "process P; declare it with Local('m', ...) in P's locals"),
    "store_overflows_width": (
        {"VALUE": "2"},
        "bad.py:11: spec 'doorbell', process P, step 'arm': writes the constant 2 to shared "
        "variable 'flag', of domain Bits(1) (values 0..1): 2 needs 2 bits; write a value in "
        "0..1 or declare the variable Bits(2)"),
    "negative_store": (
        {"VALUE": "-1"},
        "bad.py:11: spec 'doorbell', process P, step 'arm': writes the constant -1 to shared "
        "variable 'flag', of domain Bits(1) (values 0..1): Bits(1) (values 0..1) holds no "
        "negative values; write a value in 0..1"),
    "init_outside_domain": (
        {"INIT": "3"},
        "bad.py:3: spec 'doorbell', shared variable 'flag': init=3 is outside its domain "
        "Bits(1) (values 0..1): 3 needs 2 bits; give init a value in 0..1 or declare the "
        "variable Bits(2)"),
    "property_over_missing_variable": (
        {"MEMVAR": "tails"},
        "bad.py:18: spec 'doorbell', property 'published': shared variable 'tails' is not "
        "declared; add Shared('tails', ...) to the spec or fix the name"),
    "no_sometimes": (
        {"SOMETIMES": ""},
        "bad.py:4: spec 'doorbell', properties: no Sometimes property is declared, so a spec "
        "whose steps can never run would pass every check; add Sometimes(...) for a state "
        "the protocol must reach"),
}


def write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> str:
    monkeypatch.chdir(tmp_path)  # messages name files relative to the working directory
    (tmp_path / "bad.py").write_text(text)
    return "bad.py"


def fill(**changes: str) -> str:
    text = TEMPLATE
    for key, value in {**GOOD, **changes}.items():
        text = text.replace(key, value)
    return text


def test_the_template_itself_verifies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, monkeypatch, fill())
    r = CliRunner().invoke(main, ["verify", path, "-m", "sc", "-j", "1"])
    assert r.exit_code == 0, r.output
    assert "2 verdicts, 0 differ from what the variants declare" in r.output


@pytest.mark.parametrize("case", sorted(CASES))
def test_mistake_named_with_file_and_line(case: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    changes, message = CASES[case]
    path = write(tmp_path, monkeypatch, fill(**changes))
    with pytest.raises(SpecError) as e:
        load_protocols(path)
    assert str(e.value) == message


@pytest.mark.parametrize("case", sorted(CASES))
def test_cli_prints_one_error_line_and_exits_one(case: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    changes, message = CASES[case]
    path = write(tmp_path, monkeypatch, fill(**changes))
    r = CliRunner().invoke(main, ["verify", path])
    assert r.exit_code == 1
    assert r.output == f"Error: {message}\n"
    assert "Traceback" not in r.output


PROTOCOL = '''\
from intervm.spec.api import *


def build(knobs: int) -> Spec:
    return Spec("tiny", ghosts=(Ghost("g", NAT, init=int(knobs)),),
                processes=(Process("P", steps=(Step("done", Halt()),)),),
                properties=(Sometimes("zero", eq(G("g"), 0)),))


proto = Protocol("tiny", "a protocol that does nothing", build, variants=(
    Variant("zero", 0, "g starts at 0"),
    VARIANT
), finite_params={}, unbounded_params={})
'''


@pytest.mark.parametrize(("variant", "message"), [
    ('Variant("one", 1, "g starts at 1", violated={"zer0": frozenset({"sc"})}),',
     "bad.py:12: protocol 'tiny', variant 'one': declares property 'zer0' violated, but the "
     "spec has no such property; its properties are zero"),
    ('Variant("one", 1, "g starts at 1", violated={"zero": frozenset({"power"})}),',
     "bad.py:12: protocol 'tiny', variant 'one': declares 'zero' violated under memory "
     "model 'power', which is unknown; use sc, tso, pso, arm"),
    ('Variant("one", 1, "g starts at 1", params={"capacity": 2}),',
     "bad.py:12: protocol 'tiny', variant 'one': sets parameter 'capacity', which the spec "
     "does not declare; add ParamDecl(...) to the spec or drop it"),
    ('Variant("minus", -1, "a negative init is a NAT ghost sentinel: allowed"),', ""),
    ('Variant("boom", None, "the builder raises"),',
     "bad.py:5: protocol 'tiny', variant 'boom': building its spec raised "
     "TypeError: int() argument must be a string, a bytes-like object or a real number, "
     "not 'NoneType'; fix the builder or the knobs"),
])
def test_variant_declarations_are_checked(variant: str, message: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, monkeypatch, PROTOCOL.replace("VARIANT", variant))
    if not message:
        assert [p.name for p in load_protocols(path)] == ["tiny"]
        return
    with pytest.raises(SpecError) as e:
        load_protocols(path)
    assert str(e.value) == message


def test_a_file_that_raises_names_its_line(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, monkeypatch, fill().replace("flag = Shared(", "flag = Shraed("))
    r = CliRunner().invoke(main, ["verify", path])
    assert r.exit_code == 1
    assert r.output == ("Error: bad.py:3: running the protocol file raised NameError: "
                        "name 'Shraed' is not defined\n")


def test_a_plain_spec_file_runs_in_worker_processes(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # a Spec (not a Protocol) is wrapped in a builder that must pickle for -j 2
    path = write(tmp_path, monkeypatch, fill())
    r = CliRunner().invoke(main, ["verify", path, "-m", "sc", "-m", "tso", "-j", "2"])
    assert r.exit_code == 0, r.output
    assert "4 verdicts, 0 differ from what the variants declare" in r.output


@pytest.mark.parametrize(("source", "message"), [
    ("import sys\nsys.exit(0)\n",
     "bad.py:2: protocol file 'bad.py' called sys.exit(0) while being imported; a protocol "
     "file must only declare protocols (put the rest under if __name__ == '__main__':)"),
    ("raise KeyboardInterrupt\n",
     "bad.py:1: protocol file 'bad.py' raised KeyboardInterrupt while being imported; a "
     "protocol file must only declare protocols (put the rest under if __name__ == "
     "'__main__':)"),
    (PROTOCOL.replace("VARIANT", "").replace("    return Spec(", "    raise SystemExit(3)\n"
                                              "    return Spec("),
     "bad.py:5: protocol 'tiny', variant 'zero': building its spec called sys.exit(3); a "
     "builder must return a Spec"),
])
def test_a_file_that_exits_is_one_error_line_not_a_silent_success(
        source: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # sys.exit(0) at import used to end `intervm verify` with status 0 and no matrix
    path = write(tmp_path, monkeypatch, source)
    r = CliRunner().invoke(main, ["verify", path])
    assert r.exit_code == 1  # as every other bad protocol file
    assert r.output == f"Error: {message}\n"
    with pytest.raises(SpecError) as e:
        load_protocols(path)
    assert str(e.value) == message


def test_a_module_that_exits_at_import_is_one_error_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    write(tmp_path, monkeypatch, "import sys\nsys.exit(0)\n")
    r = CliRunner().invoke(main, ["verify", "--spec", "bad:spec"])
    assert r.exit_code == 1
    assert r.output == ("Error: bad.py:2: module 'bad' called sys.exit(0) while being "
                        "imported; a protocol module must only declare protocols\n")
