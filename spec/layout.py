"""Normative binary layout of the intervm shared region, as data.

Everything a third party needs to implement either side in C lives in the
values below: every shared word with its offset, size, alignment, writer and
meaning; the doorbells and how their file descriptors are handed over; and the
rule that makes a consumer crash safe. ``docs/layout.md`` is generated from
this module by :func:`render_markdown` (a test keeps it current).

>>> layout = build_layout(capacity=8)
>>> layout.field("tail").offset, layout.field("head").offset
(64, 128)
>>> layout.field("slot_id").offset_of(3), layout.total_size
(304, 384)
>>> layout.field("tail").offset // CACHE_LINE != layout.field("head").offset // CACHE_LINE
True
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

LAYOUT_VERSION = 1
"""Bumped on any incompatible change; readers must reject other versions."""

MAGIC = int.from_bytes(b"IVMSHMv1", "little")
"""First 8 bytes of the region, little-endian u64 ``0x31764d48534d5649``."""

CACHE_LINE = 64
"""Fields written by different parties never share a 64-byte line."""

HEADER_SIZE = 256
"""Bytes before the first slot: header, producer, consumer and timer lines."""

SLOT_WORDS_SIZE = 16
"""Bytes of every slot the protocol defines (``slot_id`` and ``slot_stamp``)."""

MAX_CAPACITY = 1 << 20
MAX_SLOT_SIZE = 4096
INDEX_MASK = 0xFFFF_FFFF
"""Ring indices are free-running u32 values; all index arithmetic is mod 2**32."""

FLAG_ACTIVE = 0
FLAG_SLEEPING = 1
PWAIT_RUNNING = 0
PWAIT_WAITING = 1
STOP_REQUEST_ID = 0xFFFF_FFFF_FFFF_FFFF
"""A request whose ``slot_id`` is this value asks the consumer to finish."""

REGION_ENV = "INTERVM_REGION"
"""Environment variable naming the region file (default under ``/dev/shm``)."""

CONTROL_ENV = "INTERVM_CONTROL"
"""Environment variable naming the host's unix stream socket for fd hand-over."""


class Writer(enum.Enum):
    """Which party may store to a field (everyone else only loads it)."""

    CREATOR = "creator"
    PRODUCER = "producer"
    CONSUMER = "consumer"
    TIMER = "timer"


@dataclass(frozen=True)
class Field:
    """One little-endian unsigned word, or an array of them (``count`` > 1).

    Element ``i`` of an array lives at ``offset + i * stride``.
    """

    name: str
    offset: int
    size: int
    writer: Writer
    meaning: str
    count: int = 1
    stride: int = 0

    @property
    def align(self) -> int:
        """Required alignment in bytes: natural alignment of the word."""
        return self.size

    def offset_of(self, index: int | None = None) -> int:
        """Byte offset of element ``index`` (``None`` for a scalar field)."""
        if index is None:
            if self.count != 1:
                raise IndexError(
                    f"field {self.name!r} is an array of {self.count}: pass an index in "
                    f"0..{self.count - 1}"
                )
            return self.offset
        if not 0 <= index < self.count:
            raise IndexError(
                f"field {self.name!r}: index {index} is outside 0..{self.count - 1}; "
                "reduce ring positions modulo the capacity"
            )
        return self.offset + index * self.stride

    @property
    def end(self) -> int:
        """One past the last byte of the last element."""
        return self.offset + (self.count - 1) * self.stride + self.size


@dataclass(frozen=True)
class Doorbell:
    """A latched notification: a Linux eventfd in counter mode."""

    name: str
    fd_position: int
    sender: Writer
    receiver: Writer
    meaning: str


@dataclass(frozen=True)
class Rule:
    """A normative rule that is not a single field."""

    name: str
    text: str


@dataclass(frozen=True)
class Layout:
    """The complete layout for one ring capacity and slot size."""

    version: int
    capacity: int
    slot_size: int
    total_size: int
    fields: tuple[Field, ...]
    doorbells: tuple[Doorbell, ...]
    rules: tuple[Rule, ...]

    def field(self, name: str) -> Field:
        """The field called ``name``; ``KeyError`` naming the known fields otherwise."""
        for f in self.fields:
            if f.name == name:
                return f
        known = ", ".join(f.name for f in self.fields)
        raise KeyError(f"layout v{self.version} has no field {name!r}; known fields: {known}")

    def doorbell(self, name: str) -> Doorbell:
        """The doorbell called ``name``."""
        for d in self.doorbells:
            if d.name == name:
                return d
        known = ", ".join(d.name for d in self.doorbells)
        raise KeyError(f"layout v{self.version} has no doorbell {name!r}; known: {known}")


def check_geometry(capacity: int, slot_size: int) -> None:
    """Raise ``ValueError`` unless ``capacity``/``slot_size`` are allowed by v1."""
    if not (1 <= capacity <= MAX_CAPACITY and capacity & (capacity - 1) == 0):
        raise ValueError(
            f"capacity {capacity} is not a power of two in 1..{MAX_CAPACITY}; u32 indices "
            "wrap mod 2**32, so only a power of two keeps slot = index % capacity continuous"
        )
    if not (SLOT_WORDS_SIZE <= slot_size <= MAX_SLOT_SIZE and slot_size % 8 == 0):
        raise ValueError(
            f"slot size {slot_size} must be a multiple of 8 in {SLOT_WORDS_SIZE}..{MAX_SLOT_SIZE}"
            " so every slot word stays naturally aligned"
        )


def total_size_for(capacity: int, slot_size: int) -> int:
    """Region size in bytes: header lines plus slots, rounded up to a cache line."""
    raw = HEADER_SIZE + capacity * slot_size
    return (raw + CACHE_LINE - 1) // CACHE_LINE * CACHE_LINE


_RULES = (
    Rule(
        "creation",
        "The creator sizes the file to `total_size`, zero-fills it, writes every header "
        "word and stores `magic` last (release). A peer that maps the region loads each "
        "header word once, rejects the region unless magic, version, capacity, slot_size "
        "and total_size are all valid and the file is exactly `total_size` bytes, and "
        "never reads the header again.",
    ),
    Rule(
        "indices",
        "`tail` and `head` are free-running u32 counters; request k lives in slot "
        "`k % capacity`. Valid states satisfy `(tail - head) mod 2**32 <= capacity`. "
        "Indices only move forward: a reader keeps the last value it saw and rejects "
        "a new value outside [last, bound] (mod 2**32).",
    ),
    Rule(
        "producer",
        "Write slot_id and slot_stamp of slot `tail % capacity`, store tail+1 (release), "
        "FULL FENCE, load `flag` once; if SLEEPING write the `irq` doorbell. Optimisation: "
        "if the producer already rang `irq` when tail was T and a head load (after the "
        "fence) shows head < T, it may skip ringing: that doorbell is latched and the "
        "consumer drains to at least T before it sleeps again. The producer may only "
        "reuse a slot after `head` has passed it.",
    ),
    Rule(
        "consumer",
        "Store flag=ACTIVE, then repeat: load tail once, for each request load its slot "
        "words once, process it, store head+1 (release). When empty: store flag=SLEEPING, "
        "FULL FENCE, load tail again; if not empty store flag=ACTIVE and drain, else "
        "block on `irq` (with a timeout, then re-check).",
    ),
    Rule(
        "completion wake-up",
        "A producer that waits for free slots or completions stores pwait=WAITING, FULL "
        "FENCE, reloads head, and blocks on `done` only if head has not moved. The consumer "
        "issues FULL FENCE and loads `pwait` at least every capacity/4 commits and "
        "always before it sleeps; if WAITING it writes `done`.",
    ),
    Rule(
        "commit point (crash safety)",
        "The store of `head` is the consumer's commit point. A request with ring index k "
        "is committed once head > k. A consumer restarted after SIGKILL reloads head and "
        "re-processes every request at indices >= head, so delivery is at-least-once with "
        "at most ONE duplicate per consumer crash (the request in flight between "
        "processing and its head store) and no loss; requests whose head store was "
        "visible before the crash are never processed again.",
    ),
    Rule(
        "timer seqlock",
        "Writer (sole): seq+=1 (odd), store time_lo, time_hi, seq+=1 (even), all stores "
        "in program order (release). Reader: load seq, retry if odd, load time_lo, "
        "time_hi, load seq again, retry if it changed; give up with an error after a "
        "bounded number of attempts. tick = time_hi << 32 | time_lo. Readers reject a "
        "tick smaller than the last one they accepted.",
    ),
    Rule(
        "timer single word",
        "`time64` carries the same tick as one aligned u64 store; readers load it once. "
        "`tick_ns` is stored once before the first publish (0 = timer not running).",
    ),
    Rule(
        "doorbell hand-over",
        "The host listens on a unix stream socket named by INTERVM_CONTROL. A VM "
        "connects and receives one frame (u32 little-endian length + UTF-8 JSON) carrying "
        "SCM_RIGHTS ancillary data with the eventfds in `fd_position` order [irq, done] "
        "(as vhost-user passes kick/call fds). The region path is in INTERVM_REGION. "
        "Notify = write the u64 value 1; wait = poll for readable with a timeout, then "
        "read 8 bytes (resets the counter, so any number of notifies is one wake-up).",
    ),
)


def build_layout(capacity: int, slot_size: int = SLOT_WORDS_SIZE) -> Layout:
    """The v1 layout for ``capacity`` slots of ``slot_size`` bytes."""
    check_geometry(capacity, slot_size)
    p, c, t = CACHE_LINE, 2 * CACHE_LINE, 3 * CACHE_LINE
    fields = (
        Field("magic", 0, 8, Writer.CREATOR, f"{MAGIC:#x} (ASCII 'IVMSHMv1'); stored last"),
        Field("version", 8, 4, Writer.CREATOR, f"layout version, {LAYOUT_VERSION}"),
        Field("capacity", 12, 4, Writer.CREATOR, "number of slots, a power of two"),
        Field("slot_size", 16, 4, Writer.CREATOR, "bytes per slot, multiple of 8, >= 16"),
        Field("reserved0", 20, 4, Writer.CREATOR, "must be 0"),
        Field("total_size", 24, 8, Writer.CREATOR, "region size in bytes"),
        Field("tail", p, 4, Writer.PRODUCER, "u32 index one past the last published request"),
        Field("pwait", p + 4, 4, Writer.PRODUCER, "0 RUNNING, 1 WAITING for `done`"),
        Field("head", c, 4, Writer.CONSUMER, "u32 index one past the last committed request"),
        Field("flag", c + 4, 4, Writer.CONSUMER, "0 ACTIVE, 1 SLEEPING (wake me via `irq`)"),
        Field("timer_seq", t, 4, Writer.TIMER, "seqlock sequence; odd while writing"),
        Field("time_lo", t + 4, 4, Writer.TIMER, "low 32 bits of the tick count"),
        Field("time_hi", t + 8, 4, Writer.TIMER, "high 32 bits of the tick count"),
        Field("reserved1", t + 12, 4, Writer.TIMER, "must be 0"),
        Field("time64", t + 16, 8, Writer.TIMER, "tick count as one u64 (single-word variant)"),
        Field("tick_ns", t + 24, 8, Writer.TIMER, "tick period in ns; 0 until the timer runs"),
        Field(
            "slot_id",
            HEADER_SIZE,
            8,
            Writer.PRODUCER,
            f"request id; {STOP_REQUEST_ID:#x} asks the consumer to finish",
            count=capacity,
            stride=slot_size,
        ),
        Field(
            "slot_stamp",
            HEADER_SIZE + 8,
            8,
            Writer.PRODUCER,
            "shared-timer tick at submit (0 when not profiling)",
            count=capacity,
            stride=slot_size,
        ),
    )
    doorbells = (
        Doorbell("irq", 0, Writer.PRODUCER, Writer.CONSUMER, "requests available, flag was SLEEPING"),
        Doorbell("done", 1, Writer.CONSUMER, Writer.PRODUCER, "head moved, pwait was WAITING"),
    )
    return Layout(
        version=LAYOUT_VERSION,
        capacity=capacity,
        slot_size=slot_size,
        total_size=total_size_for(capacity, slot_size),
        fields=fields,
        doorbells=doorbells,
        rules=_RULES,
    )


def render_markdown() -> str:
    """The normative layout document (``docs/layout.md``), generated from the data."""
    example = build_layout(capacity=256)
    out = [
        "# intervm shared region layout, version "
        f"{LAYOUT_VERSION}",
        "",
        "<!-- generated by intervm.spec.layout.render_markdown(); do not edit by hand -->",
        "",
        "All words are little-endian unsigned integers, naturally aligned, accessed with "
        "single atomic loads (acquire) and stores (release). \"FULL FENCE\" is a sequentially "
        "consistent fence (`atomic_thread_fence(memory_order_seq_cst)`, MFENCE / DMB ISH). "
        f"Fields written by different parties sit on different {CACHE_LINE}-byte cache lines.",
        "",
        f"- magic: `{MAGIC:#018x}` (bytes `IVMSHMv1`)",
        f"- header lines: {HEADER_SIZE} bytes; slots start at offset {HEADER_SIZE}",
        "- capacity: power of two in 1.."
        f"{MAX_CAPACITY}; slot_size: multiple of 8 in {SLOT_WORDS_SIZE}..{MAX_SLOT_SIZE}",
        f"- total_size = round_up({HEADER_SIZE} + capacity * slot_size, {CACHE_LINE})",
        f"- environment: `{REGION_ENV}` = region path, `{CONTROL_ENV}` = hand-over socket path",
        "",
        "## Fields",
        "",
        "Offsets for arrays are of element 0; element i is at offset + i * slot_size. "
        f"Example geometry: capacity {example.capacity}, slot_size {example.slot_size}, "
        f"total_size {example.total_size}.",
        "",
        "| field | offset | size | align | count | cache line | writer | meaning |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for f in example.fields:
        count = "capacity" if f.count > 1 else "1"
        line = "slots" if f.count > 1 else str(f.offset // CACHE_LINE)
        out.append(
            f"| `{f.name}` | {f.offset} | {f.size} | {f.align} | {count} | {line} | "
            f"{f.writer.value} | {f.meaning} |"
        )
    out += [
        "",
        "Values: flag ACTIVE = "
        f"{FLAG_ACTIVE}, SLEEPING = {FLAG_SLEEPING}; pwait RUNNING = {PWAIT_RUNNING}, "
        f"WAITING = {PWAIT_WAITING}. Any other value is a protocol violation.",
        "",
        "## Doorbells",
        "",
        "| doorbell | fd position | sender | receiver | meaning |",
        "|---|---|---|---|---|",
    ]
    for d in example.doorbells:
        out.append(
            f"| `{d.name}` | {d.fd_position} | {d.sender.value} | {d.receiver.value} | "
            f"{d.meaning} |"
        )
    out += ["", "## Rules", ""]
    for r in example.rules:
        out.append(f"- **{r.name}.** {r.text}")
    out.append("")
    return "\n".join(out)
