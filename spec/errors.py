"""The exceptions intervm raises on bad input, in one hierarchy.

>>> from intervm.spec.errors import SpecError
>>> issubclass(SpecError, ValueError)
True

Every message names the object, says what is wrong and why, and says what to do.
"""

from __future__ import annotations


class IntervmError(Exception):
    """Root of every error intervm raises on purpose."""


class SpecError(IntervmError, ValueError):
    """A protocol declaration is malformed (found before any engine runs).

    >>> from intervm.spec.syntax import Spec
    >>> from intervm.spec.validate import validate
    >>> try:
    ...     validate(Spec("nothing"))
    ... except SpecError as e:
    ...     print(e)
    spec 'nothing', properties: no Sometimes property is declared, so a spec ...

    Messages begin with ``file:line:`` when the object was written in a file.
    """


class ParamError(IntervmError, ValueError):
    """A parameter value does not fit the protocol or the engine."""


class TraceError(IntervmError, ValueError):
    """A trace does not parse, or does not replay on the spec."""


class EngineError(IntervmError, RuntimeError):
    """An engine cannot answer this question (say which and why)."""


def ended_by(e: BaseException) -> str:
    """What code that raised ``e`` did, in words; meant for a :class:`BaseException`
    that is not an :class:`Exception` (code that tried to end the program).

    >>> ended_by(SystemExit(0)), ended_by(SystemExit()), ended_by(KeyboardInterrupt())
    ('called sys.exit(0)', 'called sys.exit()', 'raised KeyboardInterrupt')
    """
    if isinstance(e, SystemExit):
        return f"called sys.exit({'' if e.code is None else repr(e.code)})"
    return f"raised {type(e).__name__}" + (f": {e}" if str(e) else "")
