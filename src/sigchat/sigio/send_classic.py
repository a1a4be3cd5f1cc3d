"""The classic send loop: one ``proto.classic.sender.ClassicSender`` over real signals.

Loaded only for ``sigchat-send --classic`` (it imports the classic core).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sigchat.proto.base import Record
from sigchat.proto.classic.profile import (
    DEFAULT_ACK_TIMEOUT,
    DEFAULT_END_TIMEOUT,
    DEFAULT_PACE,
    DEFAULT_PROFILE,
    Profile,
)
from sigchat.proto.classic.sender import ClassicSender, SenderStats, SendOutcome
from sigchat.sigio.link import FOREIGN, PeerLink


class ClassicSendResult(Record):
    """How ``send_classic`` ended."""

    __slots__ = ("outcome", "stats", "server_gone", "foreign_signals")

    def __init__(self, outcome: SendOutcome | None, stats: SenderStats) -> None:
        self.outcome, self.stats = outcome, stats
        self.server_gone = False
        self.foreign_signals = 0


def send_classic(
    pid: int,
    data: bytes,
    profile: Profile = DEFAULT_PROFILE,
    *,
    ack_timeout: float = DEFAULT_ACK_TIMEOUT,
    end_timeout: float = DEFAULT_END_TIMEOUT,
    pace: float = DEFAULT_PACE,
    clock: Callable[[], float] = time.monotonic,
) -> ClassicSendResult:
    """Send ``data`` to the classic minitalk server ``pid``; signals must already be blocked.

    Raises ``ProcessLookupError`` / ``PermissionError`` only for the first
    signal, and ``LocalProtocolError`` (before any signal) for a message the
    profile cannot carry (a NUL in a NUL-terminated profile).
    """
    sender = ClassicSender(data, profile, ack_timeout=ack_timeout, end_timeout=end_timeout, pace=pace)
    link = PeerLink(pid, clock)
    result = ClassicSendResult(None, sender.stats)
    link.start(sender.start(clock()))
    while sender.outcome is None:
        reply, now = link.wait(sender.deadline)
        if reply == FOREIGN:
            continue
        if reply is None:
            if now < sender.deadline:
                continue
            if not sender.pacing and not link.alive():
                return _gone(result, link, now)
            symbol = sender.timeout(now)
            if sender.drain:
                sender.drain = False
                link.drain()  # a late ack must not count for the next bit
        else:
            symbol = sender.receive(reply, now)
        if symbol is not None and not link.send(symbol):
            return _gone(result, link, clock())
    if sender.outcome is not SendOutcome.CONFIRMED and not link.alive():
        result.server_gone = True  # it may have died of a signal: nothing confirms the message
    result.outcome = sender.outcome
    result.foreign_signals = link.foreign_signals
    return result


def _gone(result: ClassicSendResult, link: PeerLink, now: float) -> ClassicSendResult:
    result.server_gone = True
    result.stats.ended_at = now
    result.foreign_signals = link.foreign_signals
    return result
