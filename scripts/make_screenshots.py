"""Write SVG screenshots of sigchat-server's app with realistic sample data.

``make screenshots`` runs this; the files go to ``screenshots/`` and the
README shows them. The data is made up but shaped like real transfers
(per-bit gaps of ~40-60 µs with a few slow bits, a retransmission or two), and
the clock, PID and time zone are fixed, so the output only changes when the
app does. Never edit the SVGs by hand: change the app and run this again.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import random
import sys
from array import array
from pathlib import Path

os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")

from sigchat import protocol  # noqa: E402
from sigchat.app import SigchatApp  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "screenshots"
SIZE = (120, 40)
PID = 48213
WALL0 = 1_764_000_000.0  # 2025-11-24 16:00:00 UTC
MONO0 = 5_000.0


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def wall(self) -> float:
        return WALL0 + self.t

    def mono(self) -> float:
        return MONO0 + self.t


def stats_for(pid: int, data: bytes, start: float, rng: random.Random, *, retrans: int = 0, attempt: int = 0):
    bits = protocol.frame_bit_count(len(data))
    gaps = array("f", (rng.lognormvariate(-10.0, 0.25) + (rng.random() < 0.01) * rng.uniform(2e-4, 3e-3) for _ in range(bits - 1)))
    duration = sum(gaps) + retrans * 0.1
    stats = protocol.TransferStats(
        pid=pid, started_at=start, ended_at=start + duration, length=len(data), message_id=rng.getrandbits(32),
        attempt=attempt, bits=bits, signals_received=bits + 1 + retrans, signals_sent=bits + 1,
        retransmissions=retrans, gaps=gaps,
    )
    return stats


def demo_app(clock: Clock) -> SigchatApp:
    alive = {4242, 4250, 4311}
    names = {4242: "bash", 4250: "python3", 4311: "sigchat-send", 4400: "minitalk_client", 4388: "sigchat-send"}
    return SigchatApp(
        pid=PID,
        wall_clock=clock.wall,
        monotonic=clock.mono,
        tz=datetime.timezone.utc,
        comm=names.get,
        is_alive=lambda pid: pid in alive,
    )


async def feed(app: SigchatApp, clock: Clock, pilot, *, in_flight: bool = True) -> None:
    """Post a realistic session through the bridge (as the receiver thread would)."""
    rng = random.Random(7)
    bridge = app.bridge
    messages = [
        (4242, b"hello from bash \xf0\x9f\x91\x8b", 0),
        (4242, b"the quick brown fox jumps over the lazy dog", 0),
        (4250, b"python says: 2 + 2 = 4\n", 0),
        (4250, "Grüße aus Köln — ünïcödé ✓, 日本語もOK".encode(), 1),
        (4311, b"tab\there, bell\x07, escape \x1b[31mred?\x1b[0m and invalid \xff\xfe bytes", 0),
        (4311, ("A long message. " * 40).encode(), 0),
        (4242, b"ping", 0),
    ]
    t = 0.0
    for pid, data, retrans in messages:
        t += rng.uniform(1.5, 4.0)
        clock.t = t
        start = MONO0 + t
        bridge.on_event(protocol.TransferStarted(pid, start))
        bridge.on_event(protocol.HeaderReceived(pid, 1, len(data), 0, start + 0.004))
        stats = stats_for(pid, data, start, rng, retrans=retrans)
        clock.t = stats.ended_at - MONO0
        bridge.on_event(protocol.MessageDelivered(pid, data, stats))
    # A transfer that failed its integrity check, and one rejected as too large.
    t = clock.t + 2.0
    clock.t = t
    data = b"this one got corrupted on the w"
    stats = stats_for(4388, data, MONO0 + t, rng, retrans=3)
    stats.length = 64
    bridge.on_event(protocol.TransferStarted(4388, MONO0 + t))
    bridge.on_event(protocol.TransferAborted(4388, protocol.AbortReason.CORRUPT, stats, data))
    clock.t = t + 1.0
    big = protocol.TransferStats(pid=4400, started_at=MONO0 + t + 1, ended_at=MONO0 + t + 1.01, length=20_000_000, bits=89, signals_received=90)
    bridge.on_event(protocol.TransferStarted(4400, MONO0 + t + 1))
    bridge.on_event(protocol.TransferAborted(4400, protocol.AbortReason.TOO_LARGE, big))
    if in_flight:
        # 4250 is sending 10 KB right now; 4311 waits its turn.
        t = clock.t + 1.0
        start = MONO0 + t
        bridge.on_event(protocol.TransferStarted(4250, start))
        bridge.on_event(protocol.HeaderReceived(4250, 9, 10_240, 0, start + 0.004))
        bridge.on_event(protocol.SenderQueued(4311, 1, start + 0.5))
        total = protocol.frame_bit_count(10_240)
        for step in range(1, 31):
            now = start + step * 0.1
            clock.t = now - MONO0
            bits = int(step * 0.1 * 21_500)
            bridge.on_progress((4250, bits, total, start, now))
            await pilot.pause()  # one report at a time, as the receiver sends them
    clock.t += 0.3


async def shoot() -> list[str]:
    OUT.mkdir(exist_ok=True)
    written = []

    async def run(name: str, setup) -> None:
        clock = Clock()
        app = demo_app(clock)
        async with app.run_test(size=SIZE) as pilot:
            await setup(app, clock, pilot)
            await pilot.pause()
            app._tick()
            await pilot.pause()
            written.append(app.save_screenshot(f"{name}.svg", path=str(OUT)))

    async def main_view(app, clock, pilot):
        await feed(app, clock, pilot)

    async def inspector(app, clock, pilot):
        await feed(app, clock, pilot, in_flight=False)
        await pilot.pause()
        log = app.log_view
        log.highlighted = 3
        await pilot.press("enter")
        await pilot.pause()

    async def empty(app, clock, pilot):
        await pilot.pause()

    await run("server", main_view)
    await run("inspector", inspector)
    await run("empty", empty)
    return written


def main() -> int:
    for path in asyncio.run(shoot()):
        print(os.path.relpath(path, ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
