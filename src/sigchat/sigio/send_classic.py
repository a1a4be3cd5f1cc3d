"""The classic send loop: one ``proto.classic.sender.ClassicSender`` over real signals.

Loaded only for ``sigchat-send --classic`` (it imports the classic core).

Unacked bits wait for more than their pace: the next one goes only once the
last one is no longer pending at the server, nor being handled there
(``procfs.PendingWatch``). Two equal signals pending at once merge into one,
a SIGUSR1 pending beside a SIGUSR2 is delivered first whatever the order they
were sent in, and a signal that comes while the server's handler for the
other one runs starts a second handler in the middle of the first: a server
that was not scheduled in time would lose, reorder or garble bits, and nothing
tells it. Waiting while the last signal is busy keeps any two bits from being
pending at once whatever the load (up to ``PENDING_LIMIT``: then the server is
stopped or gone, and the pace alone goes on); not every loss is gone at short
paces (docs/PROTOCOL.md, "The client side", has the numbers).
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
from sigchat.sigio import procfs
from sigchat.sigio.link import FOREIGN, PeerLink

PENDING_RECHECK = 20e-6
"""Seconds between two looks at whether the last unacked bit is still pending at the server."""
PENDING_LIMIT = 1.0
"""Seconds an unacked bit may stay pending before the pace alone goes on (the module docstring)."""


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
    watch = procfs.PendingWatch(pid)  # (before the first signal: how the server blocks signals at rest)
    sent_at = clock()
    link.start(sender.start(sent_at))
    recheck_at: float | None = None
    try:
        while sender.outcome is None:
            deadline = sender.deadline if recheck_at is None else recheck_at
            reply, now = link.wait(deadline)
            if reply == FOREIGN:
                continue
            if reply is None:
                if now < deadline:
                    continue
                if sender.pacing and now - sent_at < PENDING_LIMIT and watch.busy():
                    recheck_at = now + PENDING_RECHECK  # the last bit is not taken yet
                    continue
                recheck_at = None
                if not sender.pacing and not link.alive():
                    return _gone(result, link, now)
                symbol = sender.timeout(now)
                if sender.drain:
                    sender.drain = False
                    link.drain()  # a late ack must not count for the next bit
            else:
                symbol = sender.receive(reply, now)
            if symbol is not None:
                if not link.send(symbol):
                    return _gone(result, link, clock())
                sent_at = now
    finally:
        watch.close()
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
