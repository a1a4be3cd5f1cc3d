"""What the receiver thread tells the Textual app, and what the app keeps.

The receiver thread only ever calls ``App.post_message`` with one of the
``Message`` classes below: one ``ServerEventReceived`` per protocol event, one
``TransferProgress`` at most every 0.1 s while a transfer runs (a newer one
replaces an older one still in the queue), and ``SenderRefused`` when the
server will not answer a process. Everything else here is plain data that the
app builds from those messages and the widgets render; nothing in this module
reads a clock, ``/proc`` or a signal.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from textual.message import Message

from sigchat import protocol

# --------------------------------------------------------------------------- messages (receiver thread -> app)


@dataclass
class ServerEventReceived(Message):
    """One protocol event, as the receiver thread saw it.

    Attributes:
        event: The ``protocol`` event.
        wall_time: ``time.time()`` when it was handled (for display and records).
        name: The sender's process name (``/proc/PID/comm``), read by the
            receiver thread when the sender made contact; ``None`` if unknown.
    """

    event: protocol.ServerEvent
    wall_time: float
    name: str | None = None


@dataclass
class TransferProgress(Message):
    """``Server.progress()`` of the running transfer, throttled by the receiver.

    Attributes:
        pid: The sender holding the session.
        bits: Frame bits received so far.
        total: Frame bits in all, once the header has arrived; else ``None``.
        started: When the session started (receiver's monotonic clock).
        last: When the last bit arrived (receiver's monotonic clock).
        at: When this sample was taken (receiver's monotonic clock).
    """

    pid: int
    bits: int
    total: int | None
    started: float
    last: float
    at: float

    def can_replace(self, message: Message) -> bool:
        # Only the newest sample matters: a queued older one is dropped.
        return isinstance(message, TransferProgress)


@dataclass
class SenderRefused(Message):
    """The server will not answer ``pid`` (a signal would kill it, or it exited)."""

    pid: int
    reason: str
    wall_time: float
    at: float
    name: str | None = None


# --------------------------------------------------------------------------- what the app keeps


class EntryKind(enum.Enum):
    DELIVERED = "delivered"
    DUPLICATE = "duplicate"
    ABORTED = "aborted"
    REJECTED = "rejected"
    REFUSED = "refused"

    @property
    def failed(self) -> bool:
        return self in (EntryKind.ABORTED, EntryKind.REJECTED, EntryKind.REFUSED)


@dataclass(slots=True, eq=False)
class Entry:
    """One row of the chat log: a delivered message or a transfer that failed.

    Attributes:
        seq: Position in the session (0, 1, 2...); stable id of the row.
        kind: What happened.
        pid: The sender.
        name: Its process name, if known.
        wall_time: When it happened (``time.time()``).
        data: The message (delivered) or the partial payload that was dropped.
        stats: The transfer's statistics (``None`` for a refused sender).
        reason: Why the transfer was aborted.
        refusal: Why the server would not answer (``REFUSED``).
        event: The protocol event behind the entry (saved with ``records``).
        mode: ``native``, or ``classic`` for a classic minitalk client (no CRC).
        profile: The classic profile, if any.
        expanded: Whether the log shows the whole (long) message.
    """

    seq: int
    kind: EntryKind
    pid: int
    name: str | None
    wall_time: float
    data: bytes = b""
    stats: protocol.TransferStats | None = None
    reason: protocol.AbortReason | None = None
    refusal: str | None = None
    event: protocol.MessageDelivered | protocol.TransferAborted | None = None
    mode: str = "native"
    profile: str | None = None
    expanded: bool = False

    @property
    def classic(self) -> bool:
        return self.mode == "classic"


class SenderState(enum.Enum):
    SENDING = "sending"
    WAITING = "waiting"
    IDLE = "idle"
    GONE = "gone"


@dataclass(slots=True, eq=False)
class SenderInfo:
    """What the app knows about one sender pid."""

    pid: int
    name: str | None
    first_seen: float
    last_seen: float
    state: SenderState = SenderState.IDLE
    messages: int = 0
    bytes: int = 0
    failed: int = 0
    queue_position: int | None = None
    mode: str = "native"


@dataclass(slots=True, eq=False)
class ActiveTransfer:
    """A transfer in flight, from ``TransferStarted`` to its end."""

    pid: int
    name: str | None
    started: float
    bits: int = 0
    total: int | None = None
    length: int | None = None
    last: float = 0.0
    mode: str = "native"
    turbo: bool = False
    """The payload comes as turbo words (known from the header on)."""
    samples: list[tuple[float, int]] = field(default_factory=list)
    """Recent ``(time, bits)`` samples, for the current rate (last ~second)."""

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, self.bits / self.total)

    @property
    def rate(self) -> float:
        """Frame bits per second over the recent samples (until there are two: since the start)."""
        if len(self.samples) >= 2:
            (t0, b0), (t1, b1) = self.samples[0], self.samples[-1]
            if t1 > t0:
                return (b1 - b0) / (t1 - t0)
        elapsed = self.last - self.started
        return self.bits / elapsed if elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        rate = self.rate
        if self.total is None or rate <= 0:
            return None
        return max(0.0, (self.total - self.bits) / rate)


@dataclass(slots=True)
class Totals:
    messages: int = 0
    bytes: int = 0
    bits: int = 0
    failed: int = 0
    duplicates: int = 0
    refused: int = 0
