"""Errors raised when a peer breaks the shared-memory protocol.

>>> err = ProtocolViolation("flag", 7, "must be 0 (ACTIVE) or 1 (SLEEPING)")
>>> str(err)
"shared field 'flag' holds 7: must be 0 (ACTIVE) or 1 (SLEEPING); the peer is faulty or hostile: stop using this region and recreate it"
>>> (err.field, err.value)
('flag', 7)
"""

from __future__ import annotations


class ProtocolViolation(Exception):
    """A shared field holds a value the protocol forbids.

    ``field`` names the field, ``value`` is the (single) value that was loaded,
    ``rule`` says which rule of ``docs/layout.md`` it breaks.
    """

    def __init__(self, field: str, value: int, rule: str) -> None:
        self.field = field
        self.value = value
        self.rule = rule
        super().__init__(
            f"shared field {field!r} holds {value}: {rule}; the peer is faulty or hostile: "
            "stop using this region and recreate it"
        )


class PeerTimeout(TimeoutError):
    """A bounded wait for the peer ran out (the peer is dead, stuck or too slow)."""
