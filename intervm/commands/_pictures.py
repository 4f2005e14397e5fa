"""What ``graph``, ``diagram`` and ``report`` share: rebuilding a trace's system and
picking a trace out of a file (output files: :mod:`intervm.commands._output`)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

from intervm.model.compile import compile_spec
from intervm.model.replay import replay
from intervm.model.system import System
from intervm.model.trace import Trace
from intervm.spec.errors import TraceError
from intervm.spec.protocol import Protocol
from intervm.spec.protocols import get_protocol
from intervm.spec.syntax import Spec
from intervm.spec.textfile import read_text


def load_trace(path: Path, prop: str | None = None, memory_model: str | None = None) -> Trace:
    """A trace file (``Trace.to_json``), or the first counterexample in the output of
    ``intervm verify --json`` that matches ``prop``/``memory_model``."""
    text = read_text(path, "trace file", TraceError)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise TraceError(f"{path} is not JSON ({e.msg} at line {e.lineno}); give a trace "
                         "file or the output of intervm verify --json") from None
    if isinstance(data, dict) and "cells" in data:
        for cell in data["cells"]:
            v = cell.get("verdict") if isinstance(cell, dict) else None
            if not v or not v.get("trace") or v.get("status") != "VIOLATED":
                continue
            if prop is not None and cell.get("property") != prop:
                continue
            if memory_model is not None and cell.get("memory_model") != memory_model:
                continue
            return Trace.from_json(v["trace"])
        raise TraceError(f"{path} (intervm verify --json output) has no counterexample"
                         + (f" for property {prop}" if prop else "")
                         + (f" under {memory_model}" if memory_model else "")
                         + "; run verify with the variant that breaks it")
    return Trace.from_json(text)


def system_for(trace: Trace, protocols: list[Protocol] | None = None) -> tuple[System, Spec]:
    """Compile the system ``trace`` ran on (its protocol, variant, parameters, memory
    model, store-buffer size read off its states) and check the trace replays on it."""
    if protocols is None:
        proto = get_protocol(trace.system)
    else:
        found = [p for p in protocols if p.name == trace.system]
        if not found:
            raise TraceError(f"trace is of protocol {trace.system!r}, which the given file "
                             f"does not declare ({', '.join(p.name for p in protocols)})")
        proto = found[0]
    if not trace.variant:
        raise TraceError("trace names no variant; it cannot be matched to a spec")
    spec = proto.spec(proto.variant(trace.variant).name)
    slots = [int(m.group(1)) for k in trace.init
             if (m := re.fullmatch(r"sb\.[^.]+\.val(\d+)", k))]
    buffer = max(slots) + 1 if slots else 2
    system = compile_spec(spec, dict(trace.params), trace.memory_model, buffer)
    system = replace(system, variant=trace.variant)
    replay(trace, system)
    return system, spec
