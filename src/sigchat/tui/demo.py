"""A made-up sample session for ``sigchat-server``'s app, shared by the README
screenshots (``scripts/make_screenshots.py``) and the snapshot and Pilot tests
(``tests/test_app.py``).

Everything that varies is fixed: the PID, both clocks (they move only when the
session moves them), the time zone, process names and which senders still run.
Events go through ``app.bridge`` exactly as the receiver thread posts them. The
transfers are shaped like real ones: per-bit round trips of ~45-70 µs with a
few slow bits, a retransmission here and there.
"""

from __future__ import annotations

import datetime
from array import array
from collections.abc import Collection

from sigchat.proto import wire
from sigchat.proto.events import AbortReason, HeaderReceived, MessageDelivered, SenderQueued, TransferAborted, TransferStarted, TransferStats
from sigchat.tui.app import SigchatApp

SIZE = (120, 40)
PID = 48213
WALL0 = 1_764_000_000.0  # 2025-11-24 16:00:00 UTC
MONO0 = 5_000.0
NAMES = {4242: "bash", 4250: "python3", 4311: "sigchat-send", 4388: "sigchat-send", 4400: "minitalk_client"}
ALIVE = frozenset({4242, 4250, 4311})


class Clock:
    """Wall and monotonic time that only move when the session (or a test) moves them."""

    def __init__(self) -> None:
        self.t = 0.0

    def wall(self) -> float:
        return WALL0 + self.t

    def mono(self) -> float:
        return MONO0 + self.t


def make_app(clock: Clock | None = None, *, alive: Collection[int] | None = None, **kwargs) -> SigchatApp:
    """The app with everything injected (``alive``: the pids that still run); ``app.clock`` is the clock."""
    clock = clock or Clock()
    alive = ALIVE if alive is None else alive
    app = SigchatApp(
        pid=PID,
        wall_clock=clock.wall,
        monotonic=clock.mono,
        tz=datetime.timezone.utc,
        comm=NAMES.get,
        is_alive=lambda pid: pid in alive,
        **kwargs,
    )
    app.animation_level = "none"
    app.clock = clock
    return app


def make_stats(pid: int, length: int, start: float, *, retrans: int = 0, attempt: int = 0, gap: float = 45e-6):
    bits = wire.frame_bit_count(length)
    gaps = array("f", (gap * (1 + (i % 7) / 10) + (3e-3 if i % 97 == 13 else 0.0) for i in range(bits - 1)))
    return TransferStats(
        pid=pid,
        started_at=start,
        ended_at=start + sum(gaps),
        length=length,
        message_id=0x1234ABCD,
        attempt=attempt,
        bits=bits,
        signals_received=bits + 1 + retrans,
        signals_sent=bits + 1,
        retransmissions=retrans,
        gaps=gaps,
    )


def deliver(app: SigchatApp, pid: int, data: bytes, *, retrans: int = 0, duplicate: bool = False, advance: float = 2.0):
    """A whole transfer, as the receiver thread reports it."""
    clock = app.clock
    clock.t += advance
    start = clock.mono()
    app.sink.on_event(TransferStarted(pid, start))
    app.sink.on_event(HeaderReceived(pid, 1, len(data), 0, start + 0.004))
    stats = make_stats(pid, len(data), start, retrans=retrans)
    clock.t = stats.ended_at - MONO0
    event = MessageDelivered(pid, data, stats, duplicate)
    app.sink.on_event(event)
    return event


def abort(app: SigchatApp, pid: int, reason: AbortReason, partial: bytes = b"", length: int | None = 64):
    """A transfer that ends with ``reason`` after ``partial`` of ``length`` bytes."""
    clock = app.clock
    clock.t += 1.0
    start = clock.mono()
    app.sink.on_event(TransferStarted(pid, start))
    stats = make_stats(pid, len(partial), start, retrans=3)
    stats.length = length
    if reason is AbortReason.TOO_LARGE:
        stats = TransferStats(pid=pid, started_at=start, ended_at=start + 0.01, length=length, bits=89, signals_received=90)
    clock.t = stats.ended_at - MONO0
    event = TransferAborted(pid, reason, stats, partial)
    app.sink.on_event(event)
    return event


def sample_session(app: SigchatApp) -> None:
    """Seven messages from three senders: text, UTF-8, control characters, invalid bytes, a long one."""
    deliver(app, 4242, b"hello from bash")
    deliver(app, 4242, b"the quick brown fox jumps over the lazy dog")
    deliver(app, 4250, b"python says: 2 + 2 = 4\n")
    deliver(app, 4250, "Grüße aus Köln — ✓".encode(), retrans=1)
    deliver(app, 4311, b"tab\there, bell\x07, escape \x1b[31mred\x1b[0m, invalid \xff\xfe bytes")
    deliver(app, 4311, ("A long message. " * 40).encode())
    deliver(app, 4242, b"ping")


def failed_transfers(app: SigchatApp) -> None:
    """A transfer that failed its integrity check and one rejected as too large."""
    abort(app, 4388, AbortReason.CORRUPT, b"this one got corrupted on the w")
    abort(app, 4400, AbortReason.TOO_LARGE, length=20_000_000)


def failed_session(app: SigchatApp) -> None:
    """One delivery, ``failed_transfers``, a cut-short transfer and a refused sender."""
    deliver(app, 4242, b"a message that made it")
    failed_transfers(app)
    abort(app, 4250, AbortReason.SENDER_GONE, b"half a mess", length=22)
    app.clock.t += 1.0
    app.sink.on_refused(4500, "SIGUSR1 and SIGUSR2 would kill it (neither blocked, caught nor ignored)")


async def start_in_flight(app: SigchatApp, pilot, *, steps: int = 30) -> None:
    """10 KB from 4250 at 21.5 kbit/s, ``steps`` progress reports 0.1 s apart; 4311 waits."""
    clock = app.clock
    clock.t += 1.0
    start = clock.mono()
    app.sink.on_event(TransferStarted(4250, start))
    app.sink.on_event(HeaderReceived(4250, 9, 10_240, 0, start + 0.004))
    app.sink.on_event(SenderQueued(4311, 1, start + 0.5))
    total = wire.frame_bit_count(10_240)
    for step in range(1, steps + 1):
        clock.t = start + step * 0.1 - MONO0
        app.bridge.on_progress((4250, int(step * 0.1 * 21_500), total, start, clock.mono()))
        await pilot.pause()  # one at a time, as the throttled receiver sends them
