"""ARMv8 (AArch64) litmus tests as an ordinary protocol file: one variant per test.

Each variant is one litmus test, written in a herd-like notation and compiled to a
:class:`Spec` by ``build`` below (public API only). The test's final-state
condition (herd's ``exists`` clause) is the property ``exists``, a ``Sometimes``:
REACHED means the outcome is allowed, UNREACHABLE that it is forbidden. Every
variant declares its verdict under SC, TSO and PSO, and ``ARM_EXPECTED`` holds the
verdict of herd7's ``aarch64.cat`` (ARMv8, other-multi-copy-atomic, normal memory)
for each test.

Where the tests come from
-------------------------
The families MP, SB, LB, S, R, 2+2W, WRC, ISA2, IRIW and the coherence tests CoRR,
CoWR, CoRW1, CoRW2, CoWW. Tests whose names carry no mark below are herdtools7's
``catalogue/aarch64/tests`` (their ``kinds.txt`` gives the published verdict:
``MP``, ``MP+dmb.sy+po``, ``MP+po+dmb.sy``, ``MP+dmb.sys``, ``MP+rel+acq``, ``SB``,
``SB+dmb.sy+po``, ``SB+dmb.sys``, ``SB+dmb.sy+rel-acq``, ``LB``, ``LB+dmb.sy+po``,
``LB+dmb.sys``, ``S``, ``S+dmb.sy+po``, ``S+po+dmb.sy``, ``S+dmb.sys``, ``R``,
``R+dmb.sy+po``, ``R+po+dmb.sy``, ``R+dmb.sys``, ``2+2W``, ``2+2W+dmb.sy+po``,
``2+2W+dmb.sys`` and the five coherence tests). The others (marked "diy" in their
doc) are the classic shapes named as herdtools7's ``diy7`` names them: ``dmb.sy``,
``dmb.st``, ``dmb.ld`` a barrier, ``addr`` / ``data`` / ``ctrl`` a dependency, ``po``
nothing, ``popl`` program order into a release store (``stlr``), ``poa`` program
order out of an acquire load (``ldar``), ``rel-acq`` a thread doing ``stlr`` then
``ldar``, a plural (``dmb.sys``, ``datas``) the same on every thread.

Barriers are the inner-shareable ones: ``dmb`` is ``Fence("full")`` (``DMB ISH``),
``dmb.st`` is ``Fence("store")`` (``DMB ISHST``) and ``dmb.ld`` is ``Fence("load")``
(``DMB ISHLD``). ``aarch64.cat`` puts ``DMB SY`` and ``DMB ISH`` in the same class
(likewise ``ST``/``ISHST``, ``LD``/``ISHLD``), so the catalogue's ``dmb.sy`` tests
keep their verdicts with ``DMB ISH``.

Not expressible, hence not here: ``isb`` (so no ``ctrl+isb`` / ``ctrlisb``
variants), an *address* dependency into a store (``Store(deps=...)`` is a data
dependency, so ``LB+addrs`` and ``ISA2+dmb.st+addr+addr`` appear as ``LB+datas``
and ``ISA2+dmb.st+data+addr``: ``aarch64.cat`` orders both the same way, through
``dob``), exclusives and the CAS/SWP/LDADD catalogue tests.

``examples/litmus/herd/arm/*.litmus`` are these tests in herd's AArch64 syntax;
``python bench/herd_crosscheck.py /opt/herdtools7/bin/herd7`` runs herd7 on each
and compares its Allowed/Forbidden with ``ARM_EXPECTED``.

SC, TSO and PSO columns
-----------------------
SC forbids every outcome here: each is a cycle of program order and
communication edges (herd7's ``sc.cat`` forbids all 70). Under x86-TSO (as intervm compiles it) acquire loads and
release stores are plain moves and the store and load barriers order nothing
that is not already ordered; only store→load pairs are relaxed, and a full
barrier drains the buffer. So a test is TSO-allowed exactly when each of its
critical cycles has an unfenced store→load pair: the SB family (unless both
threads have ``dmb``), R (unless P1 has ``dmb``) and ``R+popl+rel-acq`` (P1's
``stlr``/``ldar`` are plain under TSO).

PSO adds store→store reordering to different locations. Loads stay in order and
before later stores (so a load barrier, ``ldar`` and every dependency are free), a
store barrier orders the stores around it, and a release store is ordered after
every older store of its thread (not before later loads). A TSO-allowed outcome
stays allowed; a TSO-forbidden one becomes allowed exactly when each of its cycles
contains an unordered pair of stores to different locations in one thread: MP,
MP+po+dmb.sy, MP+po+poa, S, S+po+dmb.sy, R+po+dmb.sy, 2+2W, 2+2W+dmb.sy+po and
ISA2 (P0's two stores).

Arm column
----------
What herd7's ``aarch64.cat`` gives (herdtools7 built from source, commit
61e77efde, ``herd7 -model aarch64.cat``); for the 28 catalogue tests it equals
the published verdict (``kinds.txt``), on herdtools7's own files and on ours. In short: ``dmb`` orders everything; ``dmb.st`` orders
stores; ``dmb.ld`` orders loads before everything later; ``ldar`` orders
everything after it, ``stlr`` everything before it, and ``stlr`` then ``ldar``
are ordered (RCsc); an address dependency orders a later load, a data or control
dependency a later store (a control dependency alone does not order a later
load); stores are other-multi-copy-atomic, so WRC, ISA2 and IRIW are forbidden as
soon as every thread orders its pair. The column is also kept in
``ARM_EXPECTED`` (``bench/herd_crosscheck.py`` compares herd7 with it). ``arm`` is
not among the models a variant gets by default, so every test lists it in
``memory_models``.

Notation
--------
``x=1`` store (``STR``), ``x=1 rel`` release store (``STLR``), ``y=1 data r0`` a
store whose value depends on ``r0``, ``r0=x`` load (``LDR``), ``r0=x acq`` acquire
load (``LDAR``), ``r1=x addr r0`` a load whose address depends on ``r0``, ``ctrl
r0`` a branch on ``r0`` to the next instruction (``CBNZ``), ``dmb`` / ``dmb.st`` /
``dmb.ld`` barriers. A condition like ``1:r0=1 x=2`` means P1's ``r0`` is 1 and
memory ``x`` is 2 when every thread has finished; when it names memory, each
thread ends with a draining ``Fence()`` (after its last instruction, so it changes
no outcome).

Run: ``intervm verify examples/litmus/arm.py -m sc -m tso -m pso`` (``-v MP`` for
one test).
"""

from dataclasses import dataclass

from intervm.spec.api import (
    NAT,
    At,
    Branch,
    Const,
    Expr,
    Fence,
    Halt,
    L,
    Load,
    Local,
    LocalOf,
    Mem,
    Process,
    Protocol,
    Shared,
    Sometimes,
    Spec,
    Step,
    Store,
    Variant,
    and_,
    eq,
)

WORD = NAT  # stored values are constants, so every variable stays small
BARRIERS = {"dmb": ("full", "DMB ISH"), "dmb.st": ("store", "DMB ISHST"),
            "dmb.ld": ("load", "DMB ISHLD")}


@dataclass(frozen=True)
class Litmus:
    """One test: its threads (one instruction string each) and its ``exists``."""

    threads: tuple[tuple[str, ...], ...]
    exists: str


@dataclass(frozen=True)
class Instr:
    """One parsed instruction: ``kind`` is load, store, barrier or ctrl."""

    kind: str
    reg: str = ""  # the load's destination, the branch's register
    loc: str = ""
    value: int = 0
    order: str = "plain"
    dep: str = ""  # the register an address (load) or data (store) dependency is on
    barrier: str = ""


def parse(text: str) -> Instr:
    """``'r1=x addr r0'`` -> a load of ``x`` into ``r1`` with an address dependency.

    >>> parse("y=1 rel")
    Instr(kind='store', reg='', loc='y', value=1, order='release', dep='', barrier='')
    """
    words = text.split()
    if words[0] in BARRIERS:
        return Instr("barrier", barrier=words[0])
    if words[0] == "ctrl":
        return Instr("ctrl", reg=words[1])
    lhs, rhs = words[0].split("=")
    mods = words[1:]
    dep = mods[mods.index("addr") + 1] if "addr" in mods else (
        mods[mods.index("data") + 1] if "data" in mods else "")
    if lhs.startswith("r"):
        return Instr("load", reg=lhs, loc=rhs, order="acquire" if "acq" in mods else "plain",
                     dep=dep)
    return Instr("store", loc=lhs, value=int(rhs), order="release" if "rel" in mods else "plain",
                 dep=dep)


def _step(i: int, ins: Instr) -> Step:
    label = f"i{i}"
    deps = (ins.dep,) if ins.dep else ()
    match ins.kind:
        case "barrier":
            kind, asm = BARRIERS[ins.barrier]
            return Step(label, Fence(kind), doc=asm)
        case "ctrl":
            return Step(label, Branch(eq(L(ins.reg), 0), f"i{i + 1}"),
                        doc=f"CBNZ {ins.reg}: both ways lead on (a control dependency)")
        case "load":
            asm = "LDAR" if ins.order == "acquire" else "LDR"
            return Step(label, Load(ins.reg, ins.loc, order=ins.order, deps=deps),
                        doc=f"{asm} {ins.reg},[{ins.loc}]" + (f" addr {ins.dep}" if deps else ""))
        case _:
            asm = "STLR" if ins.order == "release" else "STR"
            return Step(label, Store(ins.loc, Const(ins.value), order=ins.order, deps=deps),
                        doc=f"{asm} #{ins.value},[{ins.loc}]" + (f" data {ins.dep}" if deps else ""))


def _condition(test: Litmus) -> Expr:
    conds: list[Expr] = [At(f"P{i}", "done") for i in range(len(test.threads))]
    for atom in test.exists.split():
        where, value = atom.split("=")
        if ":" in where:
            thread, reg = where.split(":")
            conds.append(eq(LocalOf(f"P{thread}", reg), int(value)))
        else:
            conds.append(eq(Mem(where), int(value)))
    return and_(*conds)


def build(test: Litmus) -> Spec:
    """The spec of one litmus test."""
    procs = []
    locations: set[str] = set()
    for i, code in enumerate(test.threads):
        instrs = [parse(t) for t in code]
        locations |= {ins.loc for ins in instrs if ins.loc}
        steps = [_step(k, ins) for k, ins in enumerate(instrs)]
        if any(":" not in atom for atom in test.exists.split()):
            steps.append(Step("drain", Fence(), doc="end of the thread: its stores reach memory"))
        steps.append(Step("done", Halt()))
        regs = sorted({ins.reg for ins in instrs if ins.kind == "load"})
        procs.append(Process(f"P{i}", locals=tuple(Local(r, WORD) for r in regs),
                             steps=tuple(steps)))
    return Spec(
        "arm_litmus",
        shared=tuple(Shared(v, WORD) for v in sorted(locations)),
        processes=tuple(procs),
        properties=(Sometimes("exists", _condition(test),
                              doc="the test's final state (herd's exists clause)"),),
    )


MODELS = ("sc", "tso", "pso", "arm")  # arm is opt-in: every variant lists it
ARM_EXPECTED: dict[str, bool] = {}
"""test name -> herd7 ``aarch64.cat`` verdict: True = Allowed, False = Forbidden."""

_ALL = frozenset({"sc", "tso", "pso", "arm"})
NONE: frozenset[str] = frozenset()
TSO_PSO = frozenset({"tso", "pso"})
PSO = frozenset({"pso"})


def litmus(name: str, threads: tuple[tuple[str, ...], ...], exists: str, *,
           allowed: frozenset[str], arm: bool, doc: str) -> Variant:
    """A variant for the test ``name``: ``allowed`` lists the models among SC, TSO and
    PSO under which its final state is reachable, ``arm`` is herd7's verdict."""
    ARM_EXPECTED[name] = arm
    forbidden = _ALL - allowed - ({"arm"} if arm else set())
    return Variant(name, Litmus(threads, exists), doc,
                   violated={"exists": forbidden}, memory_models=MODELS)


MP_EXISTS = "1:r0=1 1:r1=0"
SB_EXISTS = "0:r0=0 1:r0=0"
LB_EXISTS = "0:r0=1 1:r0=1"
S_EXISTS = "x=2 1:r0=1"
R_EXISTS = "y=2 1:r0=0"
W2_EXISTS = "x=2 y=2"
WRC_EXISTS = "1:r0=1 2:r0=1 2:r1=0"
IRIW_EXISTS = "2:r0=1 2:r1=0 3:r0=1 3:r1=0"


def mp(name: str, p0: tuple[str, ...], p1: tuple[str, ...], *, allowed: frozenset[str],
       arm: bool, doc: str) -> Variant:
    """MP: P0 writes x then y, P1 reads y then x; P1 sees y=1 but the old x."""
    return litmus(name, (p0, p1), MP_EXISTS, allowed=allowed, arm=arm, doc=doc)


W_XY = ("x=1", "y=1")
R_YX = ("r0=y", "r1=x")

TESTS = (
    # --- MP: message passing ---------------------------------------------------------
    mp("MP", W_XY, R_YX, allowed=PSO, arm=True,
       doc="catalogue MP: both pairs may be reordered"),
    mp("MP+dmb.sy+po", ("x=1", "dmb", "y=1"), R_YX, allowed=NONE, arm=True,
       doc="catalogue MP+dmb.sy+po: P1's loads are not ordered"),
    mp("MP+po+dmb.sy", W_XY, ("r0=y", "dmb", "r1=x"), allowed=PSO, arm=True,
       doc="catalogue MP+po+dmb.sy: P0's stores are not ordered"),
    mp("MP+dmb.sys", ("x=1", "dmb", "y=1"), ("r0=y", "dmb", "r1=x"), allowed=NONE, arm=False,
       doc="catalogue MP+dmb.sys"),
    mp("MP+dmb.st+dmb.ld", ("x=1", "dmb.st", "y=1"), ("r0=y", "dmb.ld", "r1=x"),
       allowed=NONE, arm=False, doc="diy: the light barriers suffice"),
    mp("MP+dmb.sy+addr", ("x=1", "dmb", "y=1"), ("r0=y", "r1=x addr r0"), allowed=NONE,
       arm=False, doc="diy: an address dependency orders the loads"),
    mp("MP+dmb.st+addr", ("x=1", "dmb.st", "y=1"), ("r0=y", "r1=x addr r0"), allowed=NONE,
       arm=False, doc="diy: the Linux rcu_assign_pointer/rcu_dereference pattern"),
    mp("MP+dmb.sy+ctrl", ("x=1", "dmb", "y=1"), ("r0=y", "ctrl r0", "r1=x"), allowed=NONE,
       arm=True, doc="diy: a control dependency does not order a later load (no isb)"),
    mp("MP+rel+acq", ("x=1", "y=1 rel"), ("r0=y acq", "r1=x"), allowed=NONE, arm=False,
       doc="catalogue MP+rel+acq (diy MP+popl+poa): stlr / ldar"),
    mp("MP+popl+po", ("x=1", "y=1 rel"), R_YX, allowed=NONE, arm=True,
       doc="diy: the release alone; P1's loads are not ordered"),
    mp("MP+po+poa", W_XY, ("r0=y acq", "r1=x"), allowed=PSO, arm=True,
       doc="diy: the acquire alone; P0's stores are not ordered"),
    mp("MP+popl+addr", ("x=1", "y=1 rel"), ("r0=y", "r1=x addr r0"), allowed=NONE, arm=False,
       doc="diy: release and address dependency"),
    mp("MP+dmb.st+poa", ("x=1", "dmb.st", "y=1"), ("r0=y acq", "r1=x"), allowed=NONE,
       arm=False, doc="diy: store barrier and acquire"),
    mp("MP+popl+dmb.ld", ("x=1", "y=1 rel"), ("r0=y", "dmb.ld", "r1=x"), allowed=NONE,
       arm=False, doc="diy: release and load barrier"),
    # --- SB: store buffering ---------------------------------------------------------
    litmus("SB", (("x=1", "r0=y"), ("y=1", "r0=x")), SB_EXISTS, allowed=TSO_PSO, arm=True,
           doc="catalogue SB"),
    litmus("SB+dmb.sy+po", (("x=1", "dmb", "r0=y"), ("y=1", "r0=x")), SB_EXISTS,
           allowed=TSO_PSO, arm=True, doc="catalogue SB+dmb.sy+po: one barrier is not enough"),
    litmus("SB+dmb.sys", (("x=1", "dmb", "r0=y"), ("y=1", "dmb", "r0=x")), SB_EXISTS,
           allowed=NONE, arm=False, doc="catalogue SB+dmb.sys"),
    litmus("SB+dmb.sy+rel-acq", (("x=1", "dmb", "r0=y"), ("y=1 rel", "r0=x acq")), SB_EXISTS,
           allowed=TSO_PSO, arm=False,
           doc="catalogue SB+dmb.sy+rel-acq: stlr then ldar are ordered (RCsc); under "
               "TSO/PSO they are plain"),
    litmus("SB+rel-acqs", (("x=1 rel", "r0=y acq"), ("y=1 rel", "r0=x acq")), SB_EXISTS,
           allowed=TSO_PSO, arm=False, doc="diy: stlr/ldar on both threads (RCsc)"),
    litmus("SB+dmb.sts", (("x=1", "dmb.st", "r0=y"), ("y=1", "dmb.st", "r0=x")), SB_EXISTS,
           allowed=TSO_PSO, arm=True, doc="diy: a store barrier does not order a later load"),
    litmus("SB+dmb.lds", (("x=1", "dmb.ld", "r0=y"), ("y=1", "dmb.ld", "r0=x")), SB_EXISTS,
           allowed=TSO_PSO, arm=True, doc="diy: a load barrier does not order an older store"),
    # --- LB: load buffering ----------------------------------------------------------
    litmus("LB", (("r0=x", "y=1"), ("r0=y", "x=1")), LB_EXISTS, allowed=NONE, arm=True,
           doc="catalogue LB: Arm lets a store pass an older load"),
    litmus("LB+dmb.sy+po", (("r0=x", "dmb", "y=1"), ("r0=y", "x=1")), LB_EXISTS,
           allowed=NONE, arm=True, doc="catalogue LB+dmb.sy+po"),
    litmus("LB+dmb.sys", (("r0=x", "dmb", "y=1"), ("r0=y", "dmb", "x=1")), LB_EXISTS,
           allowed=NONE, arm=False, doc="catalogue LB+dmb.sys"),
    litmus("LB+datas", (("r0=x", "y=1 data r0"), ("r0=y", "x=1 data r0")), LB_EXISTS,
           allowed=NONE, arm=False, doc="diy: data dependencies (no out-of-thin-air)"),
    litmus("LB+ctrls", (("r0=x", "ctrl r0", "y=1"), ("r0=y", "ctrl r0", "x=1")), LB_EXISTS,
           allowed=NONE, arm=False, doc="diy: a control dependency orders a later store"),
    litmus("LB+dmb.sy+ctrl", (("r0=x", "dmb", "y=1"), ("r0=y", "ctrl r0", "x=1")), LB_EXISTS,
           allowed=NONE, arm=False, doc="diy"),
    litmus("LB+popls", (("r0=x", "y=1 rel"), ("r0=y", "x=1 rel")), LB_EXISTS,
           allowed=NONE, arm=False, doc="diy: a release store is ordered after older loads"),
    litmus("LB+poas", (("r0=x acq", "y=1"), ("r0=y acq", "x=1")), LB_EXISTS,
           allowed=NONE, arm=False, doc="diy: an acquire load is ordered before later stores"),
    litmus("LB+dmb.lds", (("r0=x", "dmb.ld", "y=1"), ("r0=y", "dmb.ld", "x=1")), LB_EXISTS,
           allowed=NONE, arm=False, doc="diy: a load barrier orders loads before stores"),
    litmus("LB+dmb.sts", (("r0=x", "dmb.st", "y=1"), ("r0=y", "dmb.st", "x=1")), LB_EXISTS,
           allowed=NONE, arm=True, doc="diy: a store barrier does not order an older load"),
    # --- S -------------------------------------------------------------------------
    litmus("S", (("x=2", "y=1"), ("r0=y", "x=1")), S_EXISTS, allowed=PSO, arm=True,
           doc="catalogue S"),
    litmus("S+dmb.sy+po", (("x=2", "dmb", "y=1"), ("r0=y", "x=1")), S_EXISTS,
           allowed=NONE, arm=True, doc="catalogue S+dmb.sy+po"),
    litmus("S+po+dmb.sy", (("x=2", "y=1"), ("r0=y", "dmb", "x=1")), S_EXISTS,
           allowed=PSO, arm=True, doc="catalogue S+po+dmb.sy"),
    litmus("S+dmb.sys", (("x=2", "dmb", "y=1"), ("r0=y", "dmb", "x=1")), S_EXISTS,
           allowed=NONE, arm=False, doc="catalogue S+dmb.sys"),
    litmus("S+dmb.st+data", (("x=2", "dmb.st", "y=1"), ("r0=y", "x=1 data r0")), S_EXISTS,
           allowed=NONE, arm=False, doc="diy"),
    litmus("S+dmb.st+ctrl", (("x=2", "dmb.st", "y=1"), ("r0=y", "ctrl r0", "x=1")), S_EXISTS,
           allowed=NONE, arm=False, doc="diy"),
    litmus("S+popl+poa", (("x=2", "y=1 rel"), ("r0=y acq", "x=1")), S_EXISTS,
           allowed=NONE, arm=False, doc="diy: release / acquire"),
    # --- R -------------------------------------------------------------------------
    litmus("R", (("x=1", "y=1"), ("y=2", "r0=x")), R_EXISTS, allowed=TSO_PSO, arm=True,
           doc="catalogue R"),
    litmus("R+dmb.sy+po", (("x=1", "dmb", "y=1"), ("y=2", "r0=x")), R_EXISTS,
           allowed=TSO_PSO, arm=True, doc="catalogue R+dmb.sy+po"),
    litmus("R+po+dmb.sy", (("x=1", "y=1"), ("y=2", "dmb", "r0=x")), R_EXISTS,
           allowed=PSO, arm=True, doc="catalogue R+po+dmb.sy: forbidden by TSO"),
    litmus("R+dmb.sys", (("x=1", "dmb", "y=1"), ("y=2", "dmb", "r0=x")), R_EXISTS,
           allowed=NONE, arm=False, doc="catalogue R+dmb.sys"),
    litmus("R+dmb.st+dmb.sy", (("x=1", "dmb.st", "y=1"), ("y=2", "dmb", "r0=x")), R_EXISTS,
           allowed=NONE, arm=False, doc="diy: W->W needs only dmb.st"),
    litmus("R+popl+dmb.sy", (("x=1", "y=1 rel"), ("y=2", "dmb", "r0=x")), R_EXISTS,
           allowed=NONE, arm=False, doc="diy"),
    litmus("R+popl+rel-acq", (("x=1", "y=1 rel"), ("y=2 rel", "r0=x acq")), R_EXISTS,
           allowed=TSO_PSO, arm=False,
           doc="diy: stlr then ldar are ordered on Arm (RCsc), plain under TSO/PSO"),
    # --- 2+2W ------------------------------------------------------------------------
    litmus("2+2W", (("x=2", "y=1"), ("y=2", "x=1")), W2_EXISTS, allowed=PSO, arm=True,
           doc="catalogue 2+2W"),
    litmus("2+2W+dmb.sy+po", (("x=2", "dmb", "y=1"), ("y=2", "x=1")), W2_EXISTS,
           allowed=PSO, arm=True, doc="catalogue 2+2W+dmb.sy+po"),
    litmus("2+2W+dmb.sys", (("x=2", "dmb", "y=1"), ("y=2", "dmb", "x=1")), W2_EXISTS,
           allowed=NONE, arm=False, doc="catalogue 2+2W+dmb.sys"),
    litmus("2+2W+dmb.sts", (("x=2", "dmb.st", "y=1"), ("y=2", "dmb.st", "x=1")), W2_EXISTS,
           allowed=NONE, arm=False, doc="diy"),
    litmus("2+2W+popls", (("x=2", "y=1 rel"), ("y=2", "x=1 rel")), W2_EXISTS,
           allowed=NONE, arm=False, doc="diy: release stores"),
    # --- WRC: write-to-read causality --------------------------------------------------
    litmus("WRC", (("x=1",), ("r0=x", "y=1"), ("r0=y", "r1=x")), WRC_EXISTS,
           allowed=NONE, arm=True, doc="diy WRC (WRC+pos)"),
    litmus("WRC+data+addr", (("x=1",), ("r0=x", "y=1 data r0"), ("r0=y", "r1=x addr r0")),
           WRC_EXISTS, allowed=NONE, arm=False,
           doc="diy: dependencies suffice (ARMv8 is other-multi-copy-atomic)"),
    litmus("WRC+dmb.sy+addr", (("x=1",), ("r0=x", "dmb", "y=1"), ("r0=y", "r1=x addr r0")),
           WRC_EXISTS, allowed=NONE, arm=False, doc="diy"),
    litmus("WRC+po+addr", (("x=1",), ("r0=x", "y=1"), ("r0=y", "r1=x addr r0")),
           WRC_EXISTS, allowed=NONE, arm=True, doc="diy: P1's pair is not ordered"),
    litmus("WRC+popl+poa", (("x=1",), ("r0=x", "y=1 rel"), ("r0=y acq", "r1=x")),
           WRC_EXISTS, allowed=NONE, arm=False, doc="diy: release / acquire"),
    litmus("WRC+ctrl+dmb.ld", (("x=1",), ("r0=x", "ctrl r0", "y=1"),
                               ("r0=y", "dmb.ld", "r1=x")),
           WRC_EXISTS, allowed=NONE, arm=False, doc="diy"),
    # --- ISA2 --------------------------------------------------------------------------
    litmus("ISA2", (("x=1", "y=1"), ("r0=y", "z=1"), ("r0=z", "r1=x")), WRC_EXISTS,
           allowed=PSO, arm=True, doc="diy ISA2 (ISA2+pos)"),
    litmus("ISA2+dmb.st+data+addr", (("x=1", "dmb.st", "y=1"), ("r0=y", "z=1 data r0"),
                                     ("r0=z", "r1=x addr r0")),
           WRC_EXISTS, allowed=NONE, arm=False, doc="diy"),
    litmus("ISA2+dmb.sys", (("x=1", "dmb", "y=1"), ("r0=y", "dmb", "z=1"),
                            ("r0=z", "dmb", "r1=x")),
           WRC_EXISTS, allowed=NONE, arm=False, doc="diy"),
    litmus("ISA2+popl+popl+poa", (("x=1", "y=1 rel"), ("r0=y", "z=1 rel"),
                                  ("r0=z acq", "r1=x")),
           WRC_EXISTS, allowed=NONE, arm=False, doc="diy: release / acquire"),
    litmus("ISA2+dmb.sy+data+po", (("x=1", "dmb", "y=1"), ("r0=y", "z=1 data r0"),
                                   ("r0=z", "r1=x")),
           WRC_EXISTS, allowed=NONE, arm=True, doc="diy: P2's loads are not ordered"),
    # --- IRIW: independent reads of independent writes --------------------------------
    litmus("IRIW", (("x=1",), ("y=1",), ("r0=x", "r1=y"), ("r0=y", "r1=x")), IRIW_EXISTS,
           allowed=NONE, arm=True, doc="diy IRIW (IRIW+pos)"),
    litmus("IRIW+addrs", (("x=1",), ("y=1",), ("r0=x", "r1=y addr r0"),
                          ("r0=y", "r1=x addr r0")),
           IRIW_EXISTS, allowed=NONE, arm=False,
           doc="diy: ARMv8 is multi-copy-atomic here (writers are not readers)"),
    litmus("IRIW+dmb.sys", (("x=1",), ("y=1",), ("r0=x", "dmb", "r1=y"),
                            ("r0=y", "dmb", "r1=x")),
           IRIW_EXISTS, allowed=NONE, arm=False, doc="diy"),
    litmus("IRIW+poas", (("x=1",), ("y=1",), ("r0=x acq", "r1=y"), ("r0=y acq", "r1=x")),
           IRIW_EXISTS, allowed=NONE, arm=False, doc="diy: acquire loads"),
    # --- coherence ---------------------------------------------------------------------
    litmus("CoRR", (("x=1",), ("r0=x", "r1=x")), "1:r0=1 1:r1=0", allowed=NONE, arm=False,
           doc="catalogue CoRR: two loads of one location see it in order"),
    litmus("CoWR", (("x=1", "r0=x"),), "0:r0=0", allowed=NONE, arm=False,
           doc="catalogue CoWR: a load sees the own older store"),
    litmus("CoRW1", (("r0=x", "x=1"),), "0:r0=1", allowed=NONE, arm=False,
           doc="catalogue CoRW1: a load does not see the own later store"),
    litmus("CoRW2", (("x=1",), ("r0=x", "x=2")), "x=1 1:r0=1", allowed=NONE, arm=False,
           doc="catalogue CoRW2"),
    litmus("CoWW", (("x=1", "x=2"),), "x=1", allowed=NONE, arm=False,
           doc="catalogue CoWW: two stores to one location stay in order"),
)

proto = Protocol("arm_litmus", "ARMv8 litmus tests (herdtools7 catalogue/aarch64, diy shapes)",
                 build, variants=TESTS, finite_params={}, unbounded_params={})
