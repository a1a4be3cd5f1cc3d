"""The one consumer of the receiver's callbacks: durable log first, then the output.

Both outputs (plain mode's ``plain.PlainOutput`` and the Textual UI's
``tui.bridge.Bridge``) get every protocol event through an ``EventSink``, which

* appends a delivered message to the ``--log`` file (fsynced) *before* it
  returns: the receiver sends the "intact" verdict after this returns
  (docs/PROTOCOL.md, "Guarantees"), so a sender that exits 0 has its message
  on disk;
* hands the event on with its wall-clock time and its ``Kind``, the one
  mapping from events to what an output shows.

Everything here runs in the receiver thread and must be quick.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from typing import Protocol

from sigchat.proto.events import (
    AbortReason,
    HeaderReceived,
    MessageDelivered,
    ProfileDetected,
    SenderQueued,
    ServerEvent,
    TransferAborted,
    TransferStarted,
)
from sigchat.format import percent
from sigchat.proto.classic.profile import parse_profile
from sigchat.server.records import DurableLog, delivered_record


class Kind(enum.Enum):
    """What an event (or a refusal) means to someone watching the server."""

    QUEUED = "queued"
    STARTED = "started"
    HEADER = "header"
    DELIVERED = "delivered"
    DUPLICATE = "duplicate"
    ABORTED = "aborted"
    REJECTED = "rejected"
    REFUSED = "refused"
    PROFILE = "profile"
    """A classic client's profile told from its signals (``--classic auto``), or a hint at it."""

    @property
    def failed(self) -> bool:
        return self in (Kind.ABORTED, Kind.REJECTED, Kind.REFUSED)

    @property
    def ends_transfer(self) -> bool:
        return self in (Kind.DELIVERED, Kind.DUPLICATE, Kind.ABORTED, Kind.REJECTED)


def kind_of(event: ServerEvent) -> Kind:
    if isinstance(event, MessageDelivered):
        return Kind.DUPLICATE if event.duplicate else Kind.DELIVERED
    if isinstance(event, TransferAborted):
        return Kind.REJECTED if event.reason is AbortReason.TOO_LARGE else Kind.ABORTED
    if isinstance(event, TransferStarted):
        return Kind.STARTED
    if isinstance(event, SenderQueued):
        return Kind.QUEUED
    if isinstance(event, HeaderReceived):
        return Kind.HEADER
    if isinstance(event, ProfileDetected):
        return Kind.PROFILE
    raise TypeError(f"not a server event: {event!r}")


def profile_note(event: ProfileDetected) -> str:
    """A ``ProfileDetected`` in one line, the same in plain mode and the UI."""
    profile = parse_profile(event.profile)
    sure = "" if event.confidence >= 1 else f", {percent(event.confidence)} sure"
    others = f" (or {', '.join(parse_profile(p).short() for p in event.alternatives)})" if event.alternatives and sure else ""
    if event.active:
        then = ("classic clients are decoded with it from now on" if not sure
                else "decoded with it; the next classic client is read again")
        return f"classic client {event.pid} follows {profile.short()}{sure}{others}: {profile.describe()}; {then}"
    return (f"classic client {event.pid}'s bits read as garbage with {event.serving}, as text with {profile.short()}"
            f"{sure}{others}: restart with --classic {profile.short()} (or --classic auto)")


class Output(Protocol):
    """Where an ``EventSink`` hands events on (plain output, the UI's bridge)."""

    def on_event(self, event: ServerEvent, kind: Kind, wall_time: float) -> None: ...

    def on_refused(self, pid: int, reason: str, wall_time: float) -> None: ...


class EventSink:
    """The receiver's ``on_event``/``on_refused``: log first, then ``output``."""

    def __init__(self, output: Output, *, log: DurableLog | None = None, wall_clock: Callable[[], float] = time.time) -> None:
        self.output = output
        self.log = log
        self._wall = wall_clock

    def on_event(self, event: ServerEvent) -> None:
        wall = self._wall()
        kind = kind_of(event)
        if kind is Kind.DELIVERED and self.log is not None:
            self.log.append(delivered_record(event, wall))  # before returning: the verdict follows
        self.output.on_event(event, kind, wall)

    def on_refused(self, pid: int, reason: str) -> None:
        self.output.on_refused(pid, reason, self._wall())
