"""The public spec API: everything a user needs to declare and check a protocol.

>>> from intervm.spec.api import *
>>> def build(fenced: bool) -> Spec:
...     def vm(me: str, mine: str, theirs: str) -> Process:
...         mb = (Step("mb", Fence(), doc="smp_mb()"),) if fenced else ()
...         return Process(me, locals=(Local("r", BIT),), steps=(
...             Step("store", Store(mine, 1)), *mb,
...             Step("load", Load("r", theirs)), Step("done", Halt())))
...     both = and_(At("A", "done"), At("B", "done"))
...     return Spec("sb", shared=(Shared("x", BIT), Shared("y", BIT)),
...                 processes=(vm("A", "x", "y"), vm("B", "y", "x")),
...                 properties=(
...                     Always("one_sees_the_other", not_(and_(
...                         both, eq(LocalOf("A", "r"), 0), eq(LocalOf("B", "r"), 0)))),
...                     Sometimes("both_done", both)))
>>> proto = Protocol("sb", "store buffering (Dekker)", build, variants=(
...     Variant("fenced", True, "smp_mb() between the store and the load"),
...     Variant("no_fence", False, "the smp_mb() is missing",
...             violated={"one_sees_the_other": frozenset({"tso", "pso"})})),
...     finite_params={}, unbounded_params={})
>>> from intervm.model.check import Checker, CheckOptions
>>> checker = Checker(proto, CheckOptions(engine="explicit"))
>>> for variant in ("fenced", "no_fence"):
...     for model in ("sc", "tso"):
...         cell = checker.check(variant, model, "one_sees_the_other")
...         print(variant, model, cell.verdict.status.name, cell.verdict.depth, cell.matches)
fenced sc HOLDS None True
fenced tso HOLDS None True
no_fence sc HOLDS None True
no_fence tso VIOLATED 4 True

Save such a file as ``sb.py`` (with ``proto`` at module level) and run
``intervm verify sb.py`` for the whole matrix; ``docs/user-protocols.md`` is the
guide. Import from here rather than from the modules that define the names
(:mod:`intervm.spec.syntax`, :mod:`intervm.spec.expr`,
:mod:`intervm.spec.protocol`): this list is the stable surface, following the
package's semantic version.

Names, by role:

* domains: ``Bits``, ``Nat``, ``BIT``, ``NAT``
* declarations: ``Shared``, ``Ghost``, ``Local``, ``Doorbell``, ``ParamDecl``
  (``minimum=``, optional ``maximum=``: the range a finite instance may take)
* steps: ``Step`` with ops ``Load``, ``Store``, ``Fence``, ``Rmw``, ``Assign``,
  ``Branch``, ``Choose``, ``Await``, ``Notify``, ``Wait``, ``Halt``
* processes and specs: ``Process``, ``Spec``
* properties: ``Always``, ``Sometimes``, ``Eventually``
* variants and declared verdicts: ``Protocol``, ``Variant``
* expressions: ``L``, ``LocalOf``, ``G``, ``Mem``, ``At``, ``Param``, ``Pending``,
  ``Const``, ``TRUE``, ``FALSE`` and ``add``, ``sub``, ``mul``, ``mod``, ``eq``,
  ``ne``, ``lt``, ``le``, ``gt``, ``ge``, ``implies``, ``and_``, ``or_``, ``not_``,
  ``ite``; ``show`` renders one; ``Expr`` is their type, for annotating helpers
* checking a file: ``validate``, ``load_protocols``, ``SpecError``
"""


from intervm.spec.errors import SpecError
from intervm.spec.expr import (
    FALSE,
    TRUE,
    At,
    Const,
    Expr,
    G,
    L,
    LocalOf,
    Mem,
    Param,
    Pending,
    add,
    and_,
    eq,
    ge,
    gt,
    implies,
    ite,
    le,
    lt,
    mod,
    mul,
    ne,
    not_,
    or_,
    show,
    sub,
)
from intervm.spec.loader import load_protocols
from intervm.spec.protocol import Protocol, Variant
from intervm.spec.syntax import (
    BIT,
    NAT,
    Always,
    Assign,
    Await,
    Bits,
    Branch,
    Choose,
    Doorbell,
    Eventually,
    Fence,
    Ghost,
    Halt,
    Load,
    Local,
    Nat,
    Notify,
    ParamDecl,
    Process,
    Rmw,
    Shared,
    Sometimes,
    Spec,
    Step,
    Store,
    Wait,
)
from intervm.spec.validate import validate

__all__ = [
    "BIT",
    "FALSE",
    "NAT",
    "TRUE",
    "Always",
    "Assign",
    "At",
    "Await",
    "Bits",
    "Branch",
    "Choose",
    "Const",
    "Doorbell",
    "Eventually",
    "Expr",
    "Fence",
    "G",
    "Ghost",
    "Halt",
    "L",
    "Load",
    "Local",
    "LocalOf",
    "Mem",
    "Nat",
    "Notify",
    "Param",
    "ParamDecl",
    "Pending",
    "Process",
    "Protocol",
    "Rmw",
    "Shared",
    "Sometimes",
    "Spec",
    "SpecError",
    "Step",
    "Store",
    "Variant",
    "Wait",
    "add",
    "and_",
    "eq",
    "ge",
    "gt",
    "implies",
    "ite",
    "le",
    "load_protocols",
    "lt",
    "mod",
    "mul",
    "ne",
    "not_",
    "or_",
    "show",
    "sub",
    "validate",
]
