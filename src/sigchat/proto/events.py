"""What a server reports: events, one transfer's statistics, and its running totals.

``Server.events`` collects the events of both the native session and classic
clients (``mode`` tells them apart; a classic event also names its
``profile``). The caller hands them on *before* it sends the reply that
followed them: the last CRC echo is the "intact" verdict (docs/PROTOCOL.md,
"Guarantees"), and a durable log must be written first. Events are never
changed once made.

Server side only: a plain ``sigchat-send`` never imports this module.
"""

from __future__ import annotations

import enum
from array import array
from dataclasses import dataclass, field, replace

from sigchat.proto.base import Timing

NATIVE = "native"
"""``mode`` of the native protocol's events."""
CLASSIC = "classic"
"""``mode`` of a classic minitalk client's events (no integrity check exists there)."""


# --------------------------------------------------------------------------- statistics


@dataclass(frozen=True, slots=True)
class LatencySummary:
    """Per-bit round trip as the server sees it: from one bit to the next."""

    samples: int
    min: float
    median: float
    p99: float
    max: float

    @classmethod
    def of(cls, gaps: array) -> LatencySummary | None:
        if not gaps:
            return None
        ordered = sorted(gaps)
        count = len(ordered)
        return cls(count, ordered[0], ordered[count // 2], ordered[min(count - 1, (count * 99) // 100)], ordered[-1])


@dataclass(slots=True, eq=True)
class TransferStats(Timing):
    """What one transfer (one session) cost, as seen by the server.

    ``bits``: signals that carried the frame (a classic message: its bits,
    length header and NUL included); ``turbo``: the payload travelled as turbo
    words (rule 7), else one bit per signal; ``pairs``/``triples``: two/three of
    them per round trip; ``gaps``: seconds between
    consecutive signals (at most ``wire.MAX_GAP_SAMPLES``).
    """

    pid: int
    started_at: float
    ended_at: float
    length: int | None = None
    message_id: int | None = None
    attempt: int = 0
    bits: int = 0
    signals_received: int = 0
    signals_sent: int = 0
    retransmissions: int = 0
    turbo: bool = False
    pairs: bool = False
    triples: bool = False
    words: int = 0
    gaps: array = field(default_factory=lambda: array("f"))

    def latency(self) -> LatencySummary | None:
        return LatencySummary.of(self.gaps)

    def copy(self, **changes) -> TransferStats:
        """A copy with its own ``gaps`` (and ``changes``): a snapshot the server goes on without changing."""
        return replace(self, gaps=array("f", self.gaps), **changes)


@dataclass(slots=True)
class ServerCounters:
    """Totals since a server started. ``held``: native session signals ignored while a
    classic client was mid-message (the sender resends them; docs/PROTOCOL.md,
    "Classic minitalk clients"). ``nudges``: classic acks sent again to a client that
    went on waiting (``ClassicServer.overdue``)."""

    signals: int = 0
    stray: int = 0
    delivered: int = 0
    duplicates: int = 0
    aborted: int = 0
    bytes: int = 0
    held: int = 0
    nudges: int = 0

    def plus(self, other: ServerCounters) -> ServerCounters:
        return ServerCounters(*(a + b for a, b in zip(self.values(), other.values())))

    def values(self) -> tuple[int, ...]:
        return (self.signals, self.stray, self.delivered, self.duplicates, self.aborted, self.bytes, self.held, self.nudges)


# --------------------------------------------------------------------------- events


class AbortReason(enum.Enum):
    SILENT = "sender silent for too long"
    SENDER_GONE = "sender exited mid-transfer"
    CORRUPT = "integrity check failed"
    TOO_LARGE = "message larger than the server's limit"
    BAD_VERSION = "unsupported protocol version"
    INCOMPLETE = "incomplete: the client went silent mid-message"
    FRAMING = "no NUL where the length header says the message ends"


@dataclass(frozen=True, slots=True)
class SenderQueued:
    """``pid`` waits for the session at ``position`` (1 = next)."""

    pid: int
    position: int
    at: float


@dataclass(frozen=True, slots=True)
class TransferStarted:
    """The server gave ``pid`` the session (sent GO), or a classic client's first signal of a message came."""

    pid: int
    at: float
    mode: str = NATIVE
    profile: str | None = None


@dataclass(frozen=True, slots=True)
class HeaderReceived:
    """The frame header arrived: the payload length is now known; ``turbo``: it comes as words (rule 7)."""

    pid: int
    message_id: int
    length: int
    attempt: int
    at: float
    turbo: bool = False


INTACT = "intact"
"""``MessageDelivered.integrity`` of a native message: its CRC-32 matched (rule 2)."""
ACKED = "acked"
"""A classic message whose every bit was acked, the client waiting for each ack (believed intact)."""
UNVERIFIED = "unverified"
"""A classic message from a client that paces itself: nothing tells whether two signals merged."""
DAMAGED = "damaged"
"""A classic message known or likely to have lost a bit (``proto.classic.integrity``)."""


@dataclass(frozen=True, slots=True)
class MessageDelivered:
    """A whole message arrived (native: intact, rule 2). ``duplicate``: it was delivered before (rule 3).

    ``integrity``: ``INTACT`` (native), or for a classic message ``ACKED``, ``UNVERIFIED`` or
    ``DAMAGED``; ``note`` says more (e.g. ``bit lost at byte 12``), or is empty.
    """

    pid: int
    data: bytes
    stats: TransferStats
    duplicate: bool = False
    mode: str = NATIVE
    profile: str | None = None
    integrity: str = INTACT
    note: str = ""

    @property
    def believed_intact(self) -> bool:
        """Whether an output may show it as the message that was sent (plain stdout prints only these)."""
        return self.integrity != DAMAGED


@dataclass(frozen=True, slots=True)
class TransferAborted:
    """A transfer ended without a delivery; ``partial`` holds the payload that arrived (dropped)."""

    pid: int
    reason: AbortReason
    stats: TransferStats
    partial: bytes = b""
    mode: str = NATIVE
    profile: str | None = None


@dataclass(frozen=True, slots=True)
class ProfileDetected:
    """A classic client's signals decode as clean text under ``profile`` (``proto.classic.infer``).

    ``active``: the server now decodes classic clients with it (``--classic auto``); else a hint:
    the server's own profile (``serving``) read the client's bits as garbage, this one would not.
    ``confidence`` 0..1 (1: no other profile explains the signals); ``alternatives``: the next
    best profiles, if any explain them too.
    """

    pid: int
    profile: str
    confidence: float
    at: float
    active: bool
    serving: str | None = None
    alternatives: tuple[str, ...] = ()
    mode: str = CLASSIC


ServerEvent = SenderQueued | TransferStarted | HeaderReceived | MessageDelivered | TransferAborted | ProfileDetected


def event_time(event: ServerEvent) -> float:
    """When ``event`` happened (the server's clock)."""
    if isinstance(event, (MessageDelivered, TransferAborted)):
        return event.stats.ended_at
    return event.at
