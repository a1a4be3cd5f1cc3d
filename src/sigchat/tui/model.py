"""The session model: what the server's screen shows, without Textual.

``Session`` turns what the receiver thread reports (protocol events with
their ``Kind``, progress samples, refusals) into senders, log entries,
transfers in flight, totals and per-second throughput; the app
(``tui.app``) draws it with the widgets. Nothing here imports Textual, reads a
clock, ``/proc`` or a signal: times come with the reports, and whether a pid
still runs is asked through the injected ``is_alive``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sigchat.proto.events import (
    CLASSIC,
    NATIVE,
    AbortReason,
    HeaderReceived,
    MessageDelivered,
    ProfileDetected,
    SenderQueued,
    ServerEvent,
    TransferAborted,
    TransferStarted,
    TransferStats,
    event_time,
)
from sigchat.proto.wire import frame_bit_count
from sigchat.server.records import record_of
from sigchat.server.sink import Kind, profile_note

MAX_SENDERS = 200
"""Senders kept; the oldest that are gone (then idle) make room."""
REFUSED_REPEAT = 10.0
"""A pid refused again within this many seconds is not logged again."""
RATE_WINDOW = 1.0
"""Seconds of progress samples behind the "current" bits/s."""
THROUGHPUT_WINDOW = 60
"""Seconds of per-second throughput kept (the sparkline's width)."""
SEARCH_BYTES = 16 * 1024
"""Bytes of a message that searching the log looks at (what an expanded row shows)."""


@dataclass(slots=True, eq=False)
class Entry:
    """One row of the chat log: a delivered message or a transfer that failed.

    Attributes:
        seq: Position in the session (0, 1, 2...); stable id of the row.
        kind: What happened (``DELIVERED``, ``DUPLICATE``, ``ABORTED``, ``REJECTED``, ``REFUSED``, ``PROFILE``).
        pid: The sender.
        name: Its process name, if known.
        wall_time: When it happened (``time.time()``).
        data: The message (delivered) or the partial payload that was dropped.
        stats: The transfer's statistics (``None`` for a refused sender).
        reason: Why the transfer was aborted.
        refusal: Why the server would not answer (``REFUSED``).
        notice: A classic client's profile told from its signals, or a hint at it (``PROFILE``).
        event: The protocol event behind the entry (saved with ``records``).
        mode: ``native``, or ``classic`` for a classic minitalk client (no CRC).
        profile: The classic profile, if any.
        expanded: Whether the log shows the whole (long) message.
    """

    seq: int
    kind: Kind
    pid: int
    name: str | None
    wall_time: float
    data: bytes = b""
    stats: TransferStats | None = None
    reason: AbortReason | None = None
    refusal: str | None = None
    notice: str | None = None
    event: MessageDelivered | TransferAborted | None = None
    mode: str = NATIVE
    profile: str | None = None
    expanded: bool = False
    _search_text: str | None = field(default=None, repr=False)

    @property
    def classic(self) -> bool:
        return self.mode == CLASSIC

    @property
    def damaged(self) -> bool:
        """A delivered classic message known to have lost a bit (shown, but never as intact)."""
        return isinstance(self.event, MessageDelivered) and not self.event.believed_intact

    @property
    def payload_rate(self) -> float | None:
        """Payload bits per second of what arrived; ``None`` when nothing did or no time passed.

        A delivered message: its whole length. An aborted transfer: only the
        bytes that arrived, never the length its header announced.
        """
        stats = self.stats
        if stats is None or stats.duration <= 0:
            return None
        if self.kind is Kind.ABORTED or self.kind is Kind.REJECTED:
            return 8 * len(self.data) / stats.duration if self.data else None
        return stats.bits_per_second

    def search_text(self) -> str:
        """What a search in the log looks at, case-folded: the message (its first
        ``SEARCH_BYTES``), the sender's pid and name, why it failed."""
        text = self._search_text
        if text is None:
            parts = [
                self.data[:SEARCH_BYTES].decode("utf-8", "backslashreplace"),
                str(self.pid),
                self.name or "",
                self.refusal or "",
                self.notice or "",
                self.reason.value if self.reason is not None else "",
            ]
            text = self._search_text = "\n".join(parts).casefold()
        return text


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
    mode: str = NATIVE


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
    mode: str = NATIVE
    profile: str | None = None
    """The classic profile, if any (from ``TransferStarted``)."""
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


class Session:
    """The state of one server session, as the UI shows it."""

    def __init__(self, *, is_alive: Callable[[int], bool]) -> None:
        self.entries: list[Entry] = []
        self.senders: dict[int, SenderInfo] = {}
        self.active: dict[int, ActiveTransfer] = {}
        self.totals = Totals()
        self._is_alive = is_alive
        self._bits_seen: dict[int, int] = {}
        self._buckets: dict[int, float] = {}
        self._refused_at: dict[int, float] = {}

    # ------------------------------------------------------------------ reports
    def apply(self, event: ServerEvent, kind: Kind, wall_time: float, name: str | None) -> tuple[SenderInfo, Entry | None]:
        """A protocol event; returns its sender and the new log entry, if it made one."""
        sender = self.sender(event.pid, name, event_time(event))
        name = sender.name
        entry = None
        if isinstance(event, SenderQueued):
            sender.state = SenderState.WAITING
            sender.queue_position = event.position
        elif isinstance(event, TransferStarted):
            sender.state = SenderState.SENDING
            sender.queue_position = None
            sender.mode = event.mode
            self.active[event.pid] = ActiveTransfer(
                event.pid, name, event.at, last=event.at, mode=event.mode, profile=event.profile
            )
            self._bits_seen[event.pid] = 0
            if event.mode == NATIVE:
                # The queue moved up by one.
                for other in self.senders.values():
                    if other.state is SenderState.WAITING and other.queue_position and other.queue_position > 1:
                        other.queue_position -= 1
        elif isinstance(event, HeaderReceived):
            active = self.active.get(event.pid)
            if active is not None:
                active.length = event.length
                active.total = frame_bit_count(event.length)
                active.turbo = event.turbo
        elif isinstance(event, MessageDelivered):
            self._finish(event.pid, event.stats)
            sender.state = SenderState.IDLE
            if kind is Kind.DUPLICATE:
                self.totals.duplicates += 1
            else:
                sender.messages += 1
                sender.bytes += len(event.data)
                self.totals.messages += 1
                self.totals.bytes += len(event.data)
            entry = self._add(kind, sender, wall_time, event, data=event.data)
        elif isinstance(event, TransferAborted):
            self._finish(event.pid, event.stats)
            sender.state = SenderState.GONE if event.reason is AbortReason.SENDER_GONE else SenderState.IDLE
            sender.failed += 1
            self.totals.failed += 1
            entry = self._add(kind, sender, wall_time, event, data=event.partial, reason=event.reason)
        elif isinstance(event, ProfileDetected):
            entry = self._add(kind, sender, wall_time, notice=profile_note(event), mode=event.mode, profile=event.profile)
        return sender, entry

    def progress(self, pid: int, bits: int, total: int | None, last: float, at: float) -> bool:
        """A progress sample of ``pid``'s transfer; False when it ended meanwhile."""
        active = self.active.get(pid)
        if active is None:
            return False
        self._account_bits(pid, bits, last)
        active.bits = bits
        active.total = total if total is not None else active.total
        active.last = last
        samples = active.samples
        samples.append((at, bits))
        while len(samples) > 2 and samples[1][0] <= at - RATE_WINDOW:
            samples.pop(0)
        return True

    def refused(self, pid: int, reason: str, wall_time: float, at: float, name: str | None) -> tuple[SenderInfo, Entry | None]:
        """The server will not answer ``pid``; a log entry unless it was refused moments ago."""
        sender = self.sender(pid, name, at)
        sender.state = SenderState.GONE if "exited" in reason else SenderState.IDLE
        previous = self._refused_at.get(pid)
        self._refused_at[pid] = at
        if previous is not None and at - previous <= REFUSED_REPEAT:
            return sender, None
        sender.failed += 1
        self.totals.failed += 1
        self.totals.refused += 1
        return sender, self._add(Kind.REFUSED, sender, wall_time, refusal=reason)

    def tick(self, now: float) -> None:
        """Once a second: mark senders that exited, drop old throughput."""
        for sender in self.senders.values():
            if sender.state in (SenderState.IDLE, SenderState.WAITING) and not self._is_alive(sender.pid):
                sender.state = SenderState.GONE
                sender.queue_position = None
        second = int(now)
        for old in [key for key in self._buckets if key <= second - THROUGHPUT_WINDOW]:
            del self._buckets[old]

    # ------------------------------------------------------------------ queries
    def sender(self, pid: int, name: str | None, at: float) -> SenderInfo:
        """``pid``'s row, made at first sight; ``name`` updates it when known."""
        sender = self.senders.get(pid)
        if sender is None:
            sender = self.senders[pid] = SenderInfo(pid, name, at, at)
        elif name is not None and name != sender.name:
            sender.name = name
        sender.last_seen = max(sender.last_seen, at)
        return sender

    def forget_old_senders(self, keep: int | None = None) -> list[int]:
        """Keep at most ``MAX_SENDERS``: forget the oldest gone, then idle ones (never ``keep``)."""
        forgotten: list[int] = []
        for state in (SenderState.GONE, SenderState.IDLE):
            if len(self.senders) <= MAX_SENDERS:
                break
            candidates = sorted(
                (s for s in self.senders.values() if s.state is state and s.pid != keep), key=lambda s: s.last_seen
            )
            for sender in candidates[: len(self.senders) - MAX_SENDERS]:
                del self.senders[sender.pid]
                forgotten.append(sender.pid)
        return forgotten

    def in_flight(self) -> tuple[list[ActiveTransfer], list[SenderInfo]]:
        """Transfers in flight (native first) and waiting senders (by queue position)."""
        transfers = sorted(self.active.values(), key=lambda a: (a.mode != NATIVE, a.started))
        waiting = sorted(
            (s for s in self.senders.values() if s.state is SenderState.WAITING), key=lambda s: s.queue_position or 0
        )
        return transfers, waiting

    def queued(self) -> int:
        return sum(1 for s in self.senders.values() if s.state is SenderState.WAITING)

    def throughput(self, now: float) -> list[float]:
        """Frame bits received in each of the last ``THROUGHPUT_WINDOW`` seconds."""
        second = int(now)
        return [self._buckets.get(s, 0.0) for s in range(second - THROUGHPUT_WINDOW + 1, second + 1)]

    # ------------------------------------------------------------------ internals
    def _add(self, kind: Kind, sender: SenderInfo, wall_time: float, event=None, **fields) -> Entry:
        if event is not None:
            fields.update(stats=event.stats, mode=event.mode, profile=event.profile)
        entry = Entry(len(self.entries), kind, sender.pid, sender.name, wall_time, event=event, **fields)
        self.entries.append(entry)
        return entry

    def _finish(self, pid: int, stats: TransferStats) -> None:
        self._account_bits(pid, stats.bits, stats.ended_at)
        self._bits_seen.pop(pid, None)
        self.active.pop(pid, None)
        self.totals.bits += stats.bits

    def _account_bits(self, pid: int, bits: int, at: float) -> None:
        """Add the bits ``pid`` sent since the last count to the second ``at`` falls in."""
        delta = bits - self._bits_seen.get(pid, 0)
        self._bits_seen[pid] = bits
        if delta > 0:
            second = int(at)
            self._buckets[second] = self._buckets.get(second, 0.0) + delta


def log_records(entries: Iterable[Entry]) -> Iterable[dict]:
    """The JSON records of a session (``server.records`` format): deliveries and aborted transfers.

    A refused sender has no record: no transfer took place.
    """
    for entry in entries:
        record = record_of(entry.event, entry.wall_time)
        if record is not None:
            yield record
