"""Recorded shared-memory events: the JSON-lines trace format, parsed line by line.

One line is one access an implementation made, named as the implementation names
it (layout fields from :mod:`intervm.spec.layout`, doorbells ``irq``/``done``,
roles ``producer``/``consumer``/``writer``/``reader``); ``docs/trace-format.md``
describes every field. Blank lines and lines starting with ``#`` are skipped; an
optional first line ``{"format": "intervm-trace/1", ...}`` is a header (protocol,
variant, params) read by :func:`read_header`.

>>> e = parse_line('{"process": "consumer", "op": "load", "field": "tail", "value": 3}', 7)
>>> e.process, e.op, e.field, e.value, e.line
('consumer', 'load', 'tail', 3, 7)
>>> parse_line(event_to_json(e), 7) == e
True
>>> parse_line('{"process": "consumer", "op": "lod", "field": "tail"}', 9)
Traceback (most recent call last):
...
intervm.spec.errors.TraceError: line 9: op 'lod' is not one of load, store, rmw, fence, notify, wait; fix the recorder or the line
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from intervm.spec.errors import TraceError

FORMAT = "intervm-trace/1"
OPS = ("load", "store", "rmw", "fence", "notify", "wait")
FENCES = ("full", "store", "load")
_KEYS = frozenset({"process", "op", "field", "index", "value", "old", "fence", "t_ns", "seq"})


@dataclass(frozen=True, slots=True)
class Event:
    """One recorded access.

    ``field``: layout field (load/store/rmw) or doorbell (notify/wait); ``index``:
    slot index of an array field; ``value``: the value loaded or stored (rmw: the
    new value; wait: 1 woken, 0 timed out); ``old``: the value an rmw returned;
    ``fence``: full | store; ``t_ns``: an optional timestamp (not checked).
    ``line`` is the 1-based line of the file the event came from.
    """

    line: int
    process: str
    op: str
    field: str | None = None
    index: int | None = None
    value: int | None = None
    old: int | None = None
    fence: str | None = None
    t_ns: int | None = None

    def describe(self) -> str:
        """Short human form: ``consumer: load tail = 3``."""
        where = "" if self.field is None else self.field
        if self.index is not None:
            where += f"[{self.index}]"
        match self.op:
            case "load":
                return f"{self.process}: load {where} = {self.value}"
            case "store":
                return f"{self.process}: store {where} := {self.value}"
            case "rmw":
                return f"{self.process}: rmw {where} {self.old} -> {self.value}"
            case "fence":
                return f"{self.process}: {self.fence} fence"
            case "notify":
                return f"{self.process}: notify {where}"
            case "wait":
                how = "woken" if self.value else "timed out"
                return f"{self.process}: wait {where} ({how})"
            case _:
                return f"{self.process}: {self.op} {where}"


def _fail(line: int, what: str) -> TraceError:
    return TraceError(f"line {line}: {what}")


def _int(d: dict[str, Any], key: str, line: int, required: bool) -> int | None:
    v = d.get(key)
    if v is None:
        if required:
            raise _fail(line, f"a {d.get('op')} event needs an integer {key!r}; add it")
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise _fail(line, f"{key!r} is {v!r}, not an integer")
    if v < 0:
        raise _fail(line, f"{key!r} is {v}, but recorded words are unsigned")
    return v


def _from_dict(d: Any, line: int) -> Event:
    if not isinstance(d, dict):
        raise _fail(line, f"an event is a JSON object, not {type(d).__name__}")
    extra = sorted(set(d) - _KEYS)
    if extra:
        raise _fail(line, f"unknown key {extra[0]!r}; an event has keys "
                          f"{', '.join(sorted(_KEYS - {'seq'}))}")
    proc = d.get("process")
    if not isinstance(proc, str) or not proc:
        raise _fail(line, "'process' (the role that made the access) is missing or not a "
                          "string")
    op = d.get("op")
    if op not in OPS:
        raise _fail(line, f"op {op!r} is not one of {', '.join(OPS)}; fix the recorder or "
                          "the line")
    fld = d.get("field")
    if op == "fence":
        if fld is not None:
            raise _fail(line, "a fence has no 'field'; remove it")
        kind = d.get("fence", "full")
        if kind not in FENCES:
            raise _fail(line, f"fence kind {kind!r} is not full, store or load")
    else:
        kind = None
        if not isinstance(fld, str) or not fld:
            raise _fail(line, f"a {op} event needs 'field' (a layout field or doorbell name)")
    value = _int(d, "value", line, op in ("load", "store", "rmw", "wait"))
    old = _int(d, "old", line, op == "rmw")
    if op == "wait" and value not in (0, 1):
        raise _fail(line, f"a wait's 'value' is 1 (woken) or 0 (timed out), not {value}")
    return Event(line, proc, op, fld, _int(d, "index", line, False), value, old, kind,
                 _int(d, "t_ns", line, False))


def parse_line(text: str, line: int) -> Event:
    """Parse one JSON-lines event; raises :class:`TraceError` naming ``line``."""
    try:
        d = json.loads(text)
    except json.JSONDecodeError as e:
        raise _fail(line, f"not JSON ({e.msg} at column {e.colno})") from None
    return _from_dict(d, line)


def event_to_json(e: Event) -> str:
    """One line (no newline) that :func:`parse_line` reads back as ``e``."""
    d: dict[str, Any] = {"process": e.process, "op": e.op}
    if e.field is not None:
        d["field"] = e.field
    for key in ("index", "value", "old", "fence", "t_ns"):
        v = getattr(e, key)
        if v is not None:
            d[key] = v
    return json.dumps(d, separators=(",", ":"))


def _is_header(text: str) -> bool:
    return '"format"' in text


def read_header(lines: Iterable[str]) -> dict[str, Any]:
    """The header object of a trace (``{}`` when there is none)."""
    for n, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        if not _is_header(text):
            return {}
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise _fail(n, f"header is not JSON ({e.msg})") from None
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise _fail(n, f"header must be an object with \"format\": \"{FORMAT}\"")
        return d
    return {}


def _lines(source: str | Path | Iterable[str]) -> Iterator[str]:
    if isinstance(source, (str, Path)):
        try:
            with open(source, encoding="utf-8") as f:
                yield from f
        except OSError as e:
            raise TraceError(f"{source}: cannot read the trace ({e.strerror}); check the "
                             "path") from None
        except UnicodeDecodeError as e:
            raise TraceError(f"{source}: not UTF-8 text (byte {e.start}); a trace is "
                             "JSON lines") from None
    else:
        yield from source


def read_events(source: str | Path | Iterable[str]) -> Iterator[Event]:
    """Events of a trace file (path) or of an iterable of lines, lazily.

    Raises :class:`TraceError` ``"FILE:LINE: what is wrong"`` on the first bad line.
    """
    name = str(source) if isinstance(source, (str, Path)) else "trace"
    seen_event = False
    for n, raw in enumerate(_lines(source), start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        try:
            if not seen_event and _is_header(text):
                d = json.loads(text)
                if isinstance(d, dict) and "format" in d:
                    if d["format"] != FORMAT:
                        raise _fail(n, f"format {d['format']!r} is not {FORMAT!r}")
                    seen_event = True
                    continue
            seen_event = True
            yield parse_line(text, n)
        except json.JSONDecodeError as e:
            raise TraceError(f"{name}:{n}: not JSON ({e.msg})") from None
        except TraceError as e:
            raise TraceError(f"{name}:{str(e).removeprefix('line ')}") from None
