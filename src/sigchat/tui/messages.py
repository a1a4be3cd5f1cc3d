"""What the receiver thread tells the Textual app: the ``Message`` classes it posts.

The receiver thread (through ``tui.bridge.Bridge``) only ever calls
``App.post_message`` with one of these: one ``ServerEventReceived`` per
protocol event, one ``TransferProgress`` at most every
``app.PROGRESS_INTERVAL`` while a transfer runs (a newer one replaces an older
one still in the queue), with it a ``TransferSnapshot`` of the transfer the
live X-ray watches, and ``SenderRefused`` when the server will not answer
a process.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from sigchat.proto.events import ServerEvent, TransferStats
from sigchat.server.sink import Kind

# --------------------------------------------------------------------------- messages (receiver thread -> app)


@dataclass
class ServerEventReceived(Message):
    """One protocol event, as the receiver thread saw it.

    Attributes:
        event: The protocol event.
        kind: What it means (``server.sink.kind_of``).
        wall_time: ``time.time()`` when it was handled (for display and records).
        name: The sender's process name (``/proc/PID/comm``), read by the
            receiver thread when the sender made contact; ``None`` if unknown.
    """

    event: ServerEvent
    kind: Kind
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
class TransferSnapshot(Message):
    """A transfer in flight so far, for the live X-ray (``Server.snapshot`` of the watched pid).

    Attributes:
        pid: The sender.
        data: The payload (classic: the message) received so far.
        stats: A copy of the transfer's stats (``bits``: the frame signals so far).
    """

    pid: int
    data: bytes
    stats: TransferStats

    def can_replace(self, message: Message) -> bool:
        # Only the newest snapshot of a transfer matters.
        return isinstance(message, TransferSnapshot) and message.pid == self.pid


@dataclass
class SenderRefused(Message):
    """The server will not answer ``pid`` (a signal would kill it, or it exited)."""

    pid: int
    reason: str
    wall_time: float
    at: float
    name: str | None = None
