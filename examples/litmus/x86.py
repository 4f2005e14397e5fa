"""x86 litmus tests as an ordinary protocol file: one variant per published test.

Each variant is one litmus test, written in a herd-like notation and compiled to a
:class:`Spec` by ``build`` below (public API only). The test's final-state
condition (herd's ``exists`` clause) is the property ``exists``, a ``Sometimes``:
REACHED means the outcome is allowed, UNREACHABLE that it is forbidden. Every
variant declares, per memory model, which of the two it should get.

Where the tests come from
-------------------------
* ``catalogue/x86/tests/*.litmus`` of herdtools7, all 23 (the 21 of its ``@all``,
  the SB, R, 2+2W, LB, MP and S families with and without ``MFENCE``, and the
  ``SB+rfi-pos`` and ``R+mfence+rfi-po`` that its ``shelf.py`` adds). The
  published files give the program and the ``exists`` clause, not the verdict;
  the x86-TSO column is what herd7's ``x86tso.cat`` gives: its preserved program
  order is ``po`` minus store→load pairs, ``rfi`` (reading one's own buffered
  store) is not global, and ``MFENCE`` / locked instructions order everything. So
  a test is allowed under TSO exactly when each of its critical cycles needs an
  unfenced store→load pair (or an ``rfi``): SB, SB+mfence+po, SB+rfi-pos, R,
  R+mfence+po, R+mfence+rfi-po. SC (``sc.cat``) forbids every one of them.
* The x86-TSO paper (Sewell, Sarkar, Owens, Zappa Nardelli, Myreen, CACM 53(7),
  2010) and the Intel SDM vol. 3A §8.2.3 examples it discusses: ``SDM-8-4``
  (loads see the own older store), ``WRC`` (8-6, transitive visibility), ``IRIW``
  (8-7), ``IRIW+xchgs`` (8-8, locked instructions have a total order),
  ``SB+xchgs`` (8-9, loads are not reordered with locks), ``MP+xchg+po`` (8-10,
  stores are not reordered with locks); 8-1/8-2/8-3/8-5 are MP, LB, SB and
  SB+rfi-pos above. ``amd3`` is SB "with additional writes inserted in the middle
  of each thread, of 2 to x and y" (the paper's description of AMD's third test);
  its outcome is SB's, which needs two buffered stores per thread. ``n4``,
  ``n5`` (coherence with one location; forbidden), ``n6`` (forwarding lets a
  thread see its own store before another's later store to the same location;
  allowed) and ``n7`` (n6's shape with a third thread; allowed) are the paper's
  tests of those names. (n1–n3 and n8 are not included: no stored copy of them
  could be read to transcribe them faithfully.)
* ``SB+3W`` and ``SB+3W-other`` are ours: SB with three stores per thread before
  the load (to the same location, and to three locations). Both outcomes are
  allowed by ``x86tso.cat`` (stores may be delayed past the load however many
  there are) and need three buffered stores in one thread — the case a store
  buffer of two entries hides.

Cross-check: herd7 built from herdtools7 (commit 61e77efde) with its
``x86tso.cat`` and ``sc.cat`` gives, on these 36 tests transcribed to herd's x86
syntax, exactly the TSO and SC columns declared here (checked once by hand; the
tests do not need herd7).

PSO column
----------
SPARC PSO as intervm compiles it: stores to *different* locations may reach
memory out of order (store→store), loads may pass older stores (store→load),
loads stay in order and before later stores, a thread reads its own buffered
store (forwarding), writes are multi-copy atomic, and ``MFENCE`` and a locked RMW
(``xchg``) drain the buffer (so they order everything, as on x86). Derivation:
an outcome allowed under TSO stays allowed (PSO only adds behaviours). A
TSO-forbidden outcome becomes allowed exactly when every cycle that TSO uses to
forbid it contains an unfenced pair of stores to different locations in one
thread: MP, MP+po+mfence, S, S+po+mfence, 2+2W, 2+2W+mfence+po, R+po+mfence.
LB, WRC, IRIW and the same-location tests (n4, n5, SDM-8-4) have no such pair
and stay forbidden; the xchg tests stay forbidden because the locked RMW drains
the buffer. ``SB+3W-other`` needs two entries under PSO (``x=1`` stays buffered
while ``a=1`` waits behind it, then ``a=1`` drains first and makes room for
``b=1``), ``SB+3W`` still three (same location: in order).

Notation
--------
``x=1`` store, ``r0=x`` load, ``mfence``, ``r0=xchg(x,1)`` locked exchange; a
condition like ``1:r0=1 x=2`` means P1's ``r0`` is 1 and memory ``x`` is 2 when
every thread has finished. Each thread ends with a draining ``mfence`` (after its
last instruction, so it changes no outcome) so that "finished" means its stores
are in memory and ``x=2`` is the final value of ``x``.

Run: ``intervm verify examples/litmus/x86.py -m tso`` (``-v SB`` for one test).
"""

from dataclasses import dataclass

from intervm.spec.api import (
    NAT,
    At,
    Expr,
    Fence,
    Halt,
    Load,
    Local,
    LocalOf,
    Mem,
    Process,
    Protocol,
    Rmw,
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


@dataclass(frozen=True)
class Litmus:
    """One test: its threads (one instruction string each) and its ``exists``."""

    threads: tuple[tuple[str, ...], ...]
    exists: str


def _step(i: int, text: str) -> Step:
    label = f"i{i}"
    if text == "mfence":
        return Step(label, Fence(), doc="MFENCE")
    lhs, rhs = (part.strip() for part in text.split("="))
    if rhs.startswith("xchg("):
        var, value = rhs[len("xchg("):-1].split(",")
        return Step(label, Rmw(lhs, var.strip(), int(value)), doc=f"XCHG [{var}],{value}")
    if lhs.startswith("r"):
        return Step(label, Load(lhs, rhs), doc=f"MOV {lhs},[{rhs}]")
    return Step(label, Store(lhs, int(rhs)), doc=f"MOV [{lhs}],${rhs}")


def _registers(code: tuple[str, ...]) -> tuple[str, ...]:
    regs = {t.split("=")[0].strip() for t in code if t != "mfence"}
    return tuple(sorted(r for r in regs if r.startswith("r")))


def _locations(test: Litmus) -> tuple[str, ...]:
    out: set[str] = set()
    for code in test.threads:
        for t in code:
            if t == "mfence":
                continue
            lhs, rhs = (part.strip() for part in t.split("="))
            if rhs.startswith("xchg("):
                out.add(rhs[len("xchg("):].split(",")[0].strip())
            elif lhs.startswith("r"):
                out.add(rhs)
            else:
                out.add(lhs)
    return tuple(sorted(out))


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
    for i, code in enumerate(test.threads):
        steps = [_step(k, t) for k, t in enumerate(code)]
        if any(":" not in atom for atom in test.exists.split()):
            steps.append(Step("drain", Fence(), doc="end of the thread: its stores reach memory"))
        steps.append(Step("done", Halt()))
        procs.append(Process(f"P{i}", locals=tuple(Local(r, WORD) for r in _registers(code)),
                             steps=tuple(steps)))
    return Spec(
        "x86_litmus",
        shared=tuple(Shared(v, WORD) for v in _locations(test)),
        processes=tuple(procs),
        properties=(Sometimes("exists", _condition(test),
                              doc="the test's final state (herd's exists clause)"),),
    )


_ALL = frozenset({"sc", "tso", "pso"})


def litmus(name: str, threads: tuple[tuple[str, ...], ...], exists: str, *,
         allowed: frozenset[str], doc: str) -> Variant:
    """A variant for the published test ``name``: ``allowed`` lists the memory models
    under which its final state is reachable; under the others it is forbidden."""
    return Variant(name, Litmus(threads, exists), doc,
                   violated={"exists": _ALL - allowed})


NONE: frozenset[str] = frozenset()
TSO_PSO = frozenset({"tso", "pso"})
PSO = frozenset({"pso"})

TESTS = (
    # --- store buffering (SDM 8-3, CACM §1) --------------------------------------
    litmus("SB", (("x=1", "r0=y"), ("y=1", "r0=x")), "0:r0=0 1:r0=0", allowed=TSO_PSO,
         doc="herdtools7 catalogue/x86 SB: both loads pass the older stores"),
    litmus("SB+mfence+po", (("x=1", "mfence", "r0=y"), ("y=1", "r0=x")), "0:r0=0 1:r0=0",
         allowed=TSO_PSO, doc="herdtools7 SB+mfence+po: one fence is not enough"),
    litmus("SB+mfences", (("x=1", "mfence", "r0=y"), ("y=1", "mfence", "r0=x")),
         "0:r0=0 1:r0=0", allowed=NONE, doc="herdtools7 SB+mfences: forbidden"),
    litmus("SB+rfi-pos", (("x=1", "r0=x", "r1=y"), ("y=1", "r0=y", "r1=x")),
         "0:r0=1 0:r1=0 1:r0=1 1:r1=0", allowed=TSO_PSO,
         doc="herdtools7 SB+rfi-pos (SDM 8-5): forwarding from the own buffer"),
    litmus("SB+xchgs", (("r0=xchg(x,1)", "r1=y"), ("r0=xchg(y,1)", "r1=x")),
         "0:r1=0 1:r1=0", allowed=NONE,
         doc="SDM 8-9: loads are not reordered with locked instructions"),
    litmus("amd3", (("x=1", "x=2", "r0=y"), ("y=1", "y=2", "r0=x")), "0:r0=0 1:r0=0",
         allowed=TSO_PSO, doc="amd3 (CACM): SB with a second store; needs 2 entries"),
    litmus("SB+3W", (("x=1", "x=2", "x=3", "r0=y"), ("y=1", "y=2", "y=3", "r0=x")),
         "0:r0=0 1:r0=0", allowed=TSO_PSO,
         doc="ours: SB with three stores to one location; needs 3 entries (TSO, PSO)"),
    litmus("SB+3W-other", (("x=1", "a=1", "b=1", "r0=y"), ("y=1", "c=1", "d=1", "r0=x")),
         "0:r0=0 1:r0=0", allowed=TSO_PSO,
         doc="ours: SB with three stores to three locations; needs 3 entries under "
             "TSO, 2 under PSO"),
    # --- R ------------------------------------------------------------------------
    litmus("R", (("x=1", "y=1"), ("y=2", "r0=x")), "y=2 1:r0=0", allowed=TSO_PSO,
         doc="herdtools7 R"),
    litmus("R+mfence+po", (("x=1", "mfence", "y=1"), ("y=2", "r0=x")), "y=2 1:r0=0",
         allowed=TSO_PSO, doc="herdtools7 R+mfence+po"),
    litmus("R+po+mfence", (("x=1", "y=1"), ("y=2", "mfence", "r0=x")), "y=2 1:r0=0",
         allowed=PSO, doc="herdtools7 R+po+mfence: forbidden by TSO; PSO reorders "
                          "P0's stores"),
    litmus("R+mfences", (("x=1", "mfence", "y=1"), ("y=2", "mfence", "r0=x")), "y=2 1:r0=0",
         allowed=NONE, doc="herdtools7 R+mfences"),
    litmus("R+mfence+rfi-po", (("x=1", "mfence", "y=1"), ("y=2", "r0=y", "r1=x")),
         "y=2 1:r0=2 1:r1=0", allowed=TSO_PSO,
         doc="herdtools7 R+mfence+rfi-po: rfi is not global in x86tso.cat"),
    # --- 2+2W ----------------------------------------------------------------------
    litmus("2+2W", (("x=2", "y=1"), ("y=2", "x=1")), "x=2 y=2", allowed=PSO,
         doc="herdtools7 2+2W: TSO keeps stores in order"),
    litmus("2+2W+mfence+po", (("x=2", "mfence", "y=1"), ("y=2", "x=1")), "x=2 y=2",
         allowed=PSO, doc="herdtools7 2+2W+mfence+po"),
    litmus("2+2W+mfences", (("x=2", "mfence", "y=1"), ("y=2", "mfence", "x=1")), "x=2 y=2",
         allowed=NONE, doc="herdtools7 2+2W+mfences"),
    # --- LB (SDM 8-2) ----------------------------------------------------------------
    litmus("LB", (("r0=x", "y=1"), ("r0=y", "x=1")), "0:r0=1 1:r0=1", allowed=NONE,
         doc="herdtools7 LB (SDM 8-2): stores are not reordered with older loads"),
    litmus("LB+mfence+po", (("r0=x", "mfence", "y=1"), ("r0=y", "x=1")), "0:r0=1 1:r0=1",
         allowed=NONE, doc="herdtools7 LB+mfence+po"),
    litmus("LB+mfences", (("r0=x", "mfence", "y=1"), ("r0=y", "mfence", "x=1")),
         "0:r0=1 1:r0=1", allowed=NONE, doc="herdtools7 LB+mfences"),
    # --- MP (SDM 8-1) ----------------------------------------------------------------
    litmus("MP", (("x=1", "y=1"), ("r0=y", "r1=x")), "1:r0=1 1:r1=0", allowed=PSO,
         doc="herdtools7 MP (SDM 8-1): stores in order, loads in order"),
    litmus("MP+mfence+po", (("x=1", "mfence", "y=1"), ("r0=y", "r1=x")), "1:r0=1 1:r1=0",
         allowed=NONE, doc="herdtools7 MP+mfence+po"),
    litmus("MP+po+mfence", (("x=1", "y=1"), ("r0=y", "mfence", "r1=x")), "1:r0=1 1:r1=0",
         allowed=PSO, doc="herdtools7 MP+po+mfence"),
    litmus("MP+mfences", (("x=1", "mfence", "y=1"), ("r0=y", "mfence", "r1=x")),
         "1:r0=1 1:r1=0", allowed=NONE, doc="herdtools7 MP+mfences"),
    litmus("MP+xchg+po", (("r0=xchg(x,1)", "y=1"), ("r0=y", "r1=x")), "1:r0=1 1:r1=0",
         allowed=NONE, doc="SDM 8-10: stores are not reordered with locked instructions"),
    # --- S -----------------------------------------------------------------------
    litmus("S", (("x=2", "y=1"), ("r0=y", "x=1")), "x=2 1:r0=1", allowed=PSO,
         doc="herdtools7 S"),
    litmus("S+mfence+po", (("x=2", "mfence", "y=1"), ("r0=y", "x=1")), "x=2 1:r0=1",
         allowed=NONE, doc="herdtools7 S+mfence+po"),
    litmus("S+po+mfence", (("x=2", "y=1"), ("r0=y", "mfence", "x=1")), "x=2 1:r0=1",
         allowed=PSO, doc="herdtools7 S+po+mfence"),
    litmus("S+mfences", (("x=2", "mfence", "y=1"), ("r0=y", "mfence", "x=1")), "x=2 1:r0=1",
         allowed=NONE, doc="herdtools7 S+mfences"),
    # --- multi-copy atomicity and causality ------------------------------------------
    litmus("WRC", (("x=1",), ("r0=x", "y=1"), ("r0=y", "r1=x")), "1:r0=1 2:r0=1 2:r1=0",
         allowed=NONE, doc="SDM 8-6 (CACM): stores are transitively visible"),
    litmus("IRIW", (("x=1",), ("y=1",), ("r0=x", "r1=y"), ("r0=y", "r1=x")),
         "2:r0=1 2:r1=0 3:r0=1 3:r1=0", allowed=NONE,
         doc="SDM 8-7: stores are seen in one order by the other processors"),
    litmus("IRIW+xchgs", (("r0=xchg(x,1)",), ("r0=xchg(y,1)",), ("r0=x", "r1=y"),
                        ("r0=y", "r1=x")),
         "2:r0=1 2:r1=0 3:r0=1 3:r1=0", allowed=NONE,
         doc="SDM 8-8: locked instructions have a total order"),
    # --- one location, forwarding (CACM n-tests, SDM 8-4) -----------------------------
    litmus("SDM-8-4", (("x=1", "r0=x"),), "0:r0=0", allowed=NONE,
         doc="SDM 8-4: a load sees the own older store to the same location"),
    litmus("n4", (("r0=x", "x=1"), ("r0=x", "x=2")), "0:r0=2 1:r0=1", allowed=NONE,
         doc="CACM n4: a load is not reordered with a later store to its location"),
    litmus("n5", (("x=1", "r0=x"), ("x=2", "r0=x")), "0:r0=2 1:r0=1", allowed=NONE,
         doc="CACM n5: coherence, each thread reads the other's store last"),
    litmus("n6", (("x=1", "r0=x", "r1=y"), ("y=2", "x=2")), "0:r0=1 0:r1=0 x=1",
         allowed=TSO_PSO, doc="CACM n6: forwarding, P0's x=1 reaches memory last"),
    litmus("n7", (("x=1", "r0=x", "r1=y"), ("y=1",), ("r0=y", "r1=x")),
         "0:r0=1 0:r1=0 2:r0=1 2:r1=0", allowed=TSO_PSO,
         doc="CACM n7: P0 reads its own x before P2 can see it"),
)

proto = Protocol("x86_litmus", "x86 litmus tests (herdtools7 catalogue, SDM, x86-TSO paper)",
                 build, variants=TESTS, finite_params={}, unbounded_params={})
