"""The Textual app: Pilot tests for every key and screen, snapshots, and one
run with the real receiver and real ``sigchat-send`` processes.

Events are injected the way the receiver thread delivers them: through
``app.sink`` (``on_event`` / ``on_refused``) and ``app.bridge.on_progress``,
which post one message per event. PID, clocks, time zone, ``/proc`` lookups and the
receiver are injected, so everything here is deterministic. The sample
sessions come from ``sigchat.tui.demo`` (the README screenshots use them too).
"""

from __future__ import annotations

import asyncio
import datetime
import gc
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from array import array
from pathlib import Path

import pytest
from peers import conventions
from textual.command import CommandPalette
from textual.widgets import Input, OptionList, Sparkline, Static

from sigchat.proto import api as protocol
from sigchat.proto.classic.api import parse_profile
from sigchat.server import records
from sigchat.tui import demo
from sigchat.sigio import masks as sigio
from sigchat.sigio.receiver import Receiver
from sigchat.server.sink import EventSink, Kind
from sigchat.tui.app import CLOCK_INTERVAL, SigchatApp, receiver_factory
from sigchat.tui.bridge import Bridge
from sigchat.tui.model import log_records
from sigchat.tui.demo import (
    MONO0,
    NAMES,
    PID,
    SIZE,
    WALL0,
    Clock,
    deliver,
    failed_session,
    make_stats,
    sample_session,
    start_in_flight,
)
from sigchat.tui.messages import ServerEventReceived, TransferProgress
from sigchat.tui.model import SenderState
from sigchat.format import human_rate
from sigchat.tui.text import decode_prefix, safe_content, safe_name
from sigchat.tui.widgets.help import HelpScreen
from sigchat.tui.widgets.inspector import InspectorScreen, hex_dump
from sigchat.tui.widgets.latency import histogram, summarize
from sigchat.tui.widgets.save_dialog import SaveDialog
from sigchat.tui.widgets.signal_bits import SignalBits, byte_labels
from sigchat.tui.widgets.xray import FrameXRay, LiveXRayScreen

SRC = Path(__file__).resolve().parent.parent / "src" / "sigchat" / "tui"
BIN = Path(sys.executable).parent
SEND_CMD = [str(BIN / "sigchat-send")] if (BIN / "sigchat-send").exists() else [sys.executable, "-m", "sigchat", "send"]


# --------------------------------------------------------------------------- fakes and helpers


class FakeReceiver:
    """Stands in for ``sigio.receiver.Receiver``: the test reports events through the sink."""

    def __init__(self, sink: EventSink, bridge: Bridge) -> None:
        self.sink = sink
        self.bridge = bridge
        self.started = False
        self.stopped = False
        self.error: BaseException | None = None
        self.watch: int | None = None  # (the live X-ray sets it)

    def start(self) -> None:
        self.started = True

    def stop(self, timeout: float = 1.0) -> None:
        self.stopped = True

    @property
    def alive(self) -> bool:
        return self.started and not self.stopped and self.error is None


def make_app(clock: Clock | None = None, *, alive: set[int] | None = None, **kwargs) -> SigchatApp:
    kwargs.setdefault("receiver_factory", FakeReceiver)
    # No terminal, no tool known: copying says so and never runs a real clipboard tool.
    kwargs.setdefault("environ", {})
    kwargs.setdefault("which", lambda name: None)
    return demo.make_app(clock, alive=alive, **kwargs)


def notifications(app: SigchatApp) -> list[str]:
    """The notifications shown so far, ``title: message``."""
    return [f"{n.title}: {n.message}" if n.title else n.message for n in app._notifications]


def run(coro_fn, app: SigchatApp, size=SIZE):
    """Run ``coro_fn(app, pilot)`` inside ``app.run_test``; returns its result."""

    async def main():
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            return await coro_fn(app, pilot)

    return asyncio.run(main())


async def settle(pilot, app: SigchatApp) -> None:
    """Let the app handle everything posted so far and render it."""
    await pilot.pause()
    app._tick()
    await pilot.pause()


async def wait_for(pilot, predicate, timeout: float = 5.0):
    """Let the app run until ``predicate()`` is true (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.01)
    return value


def log_text(app: SigchatApp) -> list[str]:
    """The rendered lines of every row of the log view (not only the visible ones)."""
    log = app.log_view
    style = log.get_visual_style("option-list--option")
    return [strip.text for option in log.options for strip in log._get_option_render(option, style)]


def screen_lines(app: SigchatApp) -> str:
    from io import StringIO

    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=StringIO(), record=True, color_system=None, legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


# --------------------------------------------------------------------------- the bridge (receiver-thread side)


def test_bridge_posts_one_message_per_event_and_reads_the_name_at_contact():
    posted = []
    names = {4242: "bash"}
    bridge = EventSink(Bridge(posted.append, monotonic=lambda: MONO0, comm=names.get), wall_clock=lambda: WALL0)
    bridge.on_event(protocol.TransferStarted(4242, MONO0))
    del names[4242]  # the sender exits: its name is kept
    event = protocol.MessageDelivered(4242, b"hi", make_stats(4242, 2, MONO0))
    bridge.on_event(event)
    bridge.output.on_progress((4242, 10, 100, MONO0, MONO0 + 0.1))
    bridge.on_refused(4243, "it exited")
    assert [type(m).__name__ for m in posted] == ["ServerEventReceived", "ServerEventReceived", "TransferProgress", "SenderRefused"]
    assert posted[0].name == "bash" and posted[1].name == "bash"
    assert posted[1].event is event and posted[1].wall_time == WALL0
    assert posted[3].name is None


def test_bridge_holds_a_native_start_and_header_until_the_next_report_and_keeps_the_order():
    posted = []
    bridge = EventSink(Bridge(posted.append, monotonic=lambda: MONO0, comm=NAMES.get), wall_clock=lambda: WALL0)

    def kinds() -> list[str]:
        return [type(m.event).__name__ if isinstance(m, ServerEventReceived) else type(m).__name__ for m in posted]

    # A short message: nothing is drawn while it travels, all of it at the end, in order.
    bridge.on_event(protocol.TransferStarted(4242, MONO0))
    bridge.on_event(protocol.HeaderReceived(4242, 1, 2, 0, MONO0))
    assert posted == []
    bridge.on_event(protocol.MessageDelivered(4242, b"hi", make_stats(4242, 2, MONO0)))
    assert kinds() == ["TransferStarted", "HeaderReceived", "MessageDelivered"]
    # A long one: its first progress report brings the start and the header.
    posted.clear()
    bridge.on_event(protocol.TransferStarted(4250, MONO0))
    bridge.on_event(protocol.HeaderReceived(4250, 1, 20_000, 0, MONO0))
    bridge.output.on_progress((4250, 10, 100, MONO0, MONO0 + 0.1))
    assert kinds() == ["TransferStarted", "HeaderReceived", "TransferProgress"]
    # Any other event goes out after the held ones; a classic transfer's start is not held.
    posted.clear()
    bridge.on_event(protocol.TransferStarted(4311, MONO0))
    bridge.on_event(protocol.SenderQueued(4312, 1, MONO0))
    bridge.on_event(protocol.TransferStarted(4313, MONO0, mode="classic"))
    bridge.on_event(protocol.HeaderReceived(4313, 0, 5, 0, MONO0))
    assert kinds() == ["TransferStarted", "SenderQueued", "TransferStarted", "HeaderReceived"]
    assert [m.event.pid for m in posted] == [4311, 4312, 4313, 4313]
    posted.clear()
    bridge.on_event(protocol.TransferStarted(4320, MONO0))
    bridge.on_refused(4321, "it exited")
    assert kinds() == ["TransferStarted", "SenderRefused"]
    posted.clear()
    bridge.on_event(protocol.TransferStarted(4330, MONO0))
    bridge.output.on_progress(None)  # (no transfer to report) still posts what was held
    assert kinds() == ["TransferStarted"]


def test_bridge_posts_nothing_while_a_paced_classic_client_streams_then_all_of_it_in_order():
    """The receiver's ``on_paced(True)``: a classic client that sends without waiting for acks
    streams, and a drawing app thread would cost it bits; everything waits until ``on_paced(False)``."""
    posted = []
    looked_up = []  # the pids whose name was read

    def comm(pid: int) -> str | None:
        looked_up.append(pid)
        return NAMES.get(pid)

    bridge = EventSink(Bridge(posted.append, monotonic=lambda: MONO0, comm=comm), wall_clock=lambda: WALL0)
    output = bridge.output
    output.on_paced(True)
    assert output.paced
    bridge.on_event(protocol.TransferStarted(4313, MONO0, mode="classic"))
    bridge.on_event(protocol.HeaderReceived(4313, 0, 5, 0, MONO0))
    bridge.on_refused(4314, "it exited")
    output.on_progress((4313, 10, 100, MONO0, MONO0 + 0.1))
    # Not even the names are read meanwhile: that cost the receiver 0.1-0.16 ms for a new process.
    assert posted == [] and looked_up == []
    output.on_paced(False)
    assert not output.paced
    assert looked_up == [4313, 4314]
    assert [m.name for m in posted[:1]] == [NAMES.get(4313)]
    assert [type(m.event).__name__ if isinstance(m, ServerEventReceived) else type(m).__name__ for m in posted] == [
        "TransferStarted", "HeaderReceived", "SenderRefused", "TransferProgress"]
    bridge.on_event(protocol.MessageDelivered(4313, b"hello", make_stats(4313, 5, MONO0)))
    assert len(posted) == 5  # posted at once again


def test_the_sink_appends_to_the_log_before_on_event_returns(tmp_path):
    path = tmp_path / "log.jsonl"
    log = records.DurableLog(str(path))
    posted = []
    bridge = EventSink(Bridge(posted.append, comm=NAMES.get), log=log, wall_clock=lambda: WALL0)
    event = protocol.MessageDelivered(4242, b"hello \xff", make_stats(4242, 7, MONO0))
    bridge.on_event(event)
    # Written (and fsynced) by the time on_event returns, before the app saw anything.
    lines = path.read_text().splitlines()
    assert [json.loads(line) for line in lines] == [records.delivered_record(event, WALL0)]
    bridge.on_event(protocol.MessageDelivered(4242, b"hello \xff", event.stats, duplicate=True))
    bridge.on_event(protocol.TransferAborted(4242, protocol.AbortReason.CORRUPT, event.stats))
    assert len(path.read_text().splitlines()) == 1  # repeats and aborts are not logged (as in plain mode)
    log.close()


def test_progress_messages_replace_older_queued_ones():
    older = TransferProgress(1, 10, 100, 0.0, 0.1, 0.1)
    newer = TransferProgress(1, 20, 100, 0.0, 0.2, 0.2)
    assert older.can_replace(newer)


def test_events_posted_from_another_thread_reach_the_ui():
    async def body(app, pilot):
        def receiver_thread():
            for i in range(20):
                deliver(app, 4242, f"message {i}".encode(), advance=0.1)

        thread = threading.Thread(target=receiver_thread)
        thread.start()
        thread.join(5)
        deadline = time.monotonic() + 5
        while len(app.entries) < 20 and time.monotonic() < deadline:
            await pilot.pause(0.01)
        assert [e.data for e in app.entries] == [f"message {i}".encode() for i in range(20)]
        assert app.totals.messages == 20
        assert app.receiver.started

    run(body, make_app())


# --------------------------------------------------------------------------- what the screen shows


def test_empty_state_shows_the_pid_and_the_send_command():
    async def body(app, pilot):
        text = screen_lines(app)
        assert f"sigchat-send {PID} 'hello'" in text
        assert "No messages yet." in text
        assert "SERVER PID" in text

    run(body, make_app())


def test_delivered_messages_show_text_sender_and_statistics():
    async def body(app, pilot):
        sample_session(app)
        await settle(pilot, app)
        lines = "\n".join(log_text(app))
        assert "hello from bash" in lines
        assert "▍4250 python3" in lines  # grouped by sender
        bits = protocol.frame_bit_count(15)
        assert f"✓ 15 B · {bits} bits · {bits + 1} signals in session · " in lines  # (no retransmission: no "resent")
        assert " · 1 resent · " in lines  # (the one with a retransmission)
        assert app.totals.messages == 7
        assert app.totals.bytes == sum(len(e.data) for e in app.entries)
        assert app.totals.bits == sum(e.stats.bits for e in app.entries)
        senders = app.senders
        assert senders[4242].messages == 3 and senders[4242].name == "bash"
        assert senders[4250].state is SenderState.IDLE
        text = screen_lines(app)
        assert "7 messages" in text and "0 failed/aborted" in text

    run(body, make_app())


def test_control_characters_and_invalid_utf8_are_escaped():
    data = b"a\x1b[31mred\x07\x00\r\xff\xfe\xe2\x80\xae\tz\n"
    text, cut = decode_prefix(data, 100)
    assert not cut
    plain = safe_content(text).plain
    assert plain == "a\\e[31mred\\x07\\0\\r\\xff\\xfe\\u202e\\tz↵\n"
    assert not any(ord(c) < 32 and c != "\n" for c in plain)
    assert safe_name("evil\x1b]0;x\x07") == "evil\\e]0;x\\x07"
    # A multi-byte character cut by the limit is left out, not shown as invalid.
    assert decode_prefix("ééé".encode(), 3) == ("é", True)

    async def body(app, pilot):
        deliver(app, 4242, data)
        await settle(pilot, app)
        lines = log_text(app)
        assert any("a\\e[31mred\\x07\\0\\r\\xff\\xfe\\u202e\\tz↵" in line for line in lines)
        for line in lines:
            assert "\x1b" not in line and "\x07" not in line

    run(body, make_app())


def test_long_messages_are_folded_and_space_expands_them():
    long = ("0123456789" * 100).encode()

    async def body(app, pilot):
        deliver(app, 4242, long)
        await settle(pilot, app)
        folded = "\n".join(log_text(app))
        assert "+760 B (space: expand)" in folded
        await pilot.press("down", "space")
        expanded = "\n".join(log_text(app))
        assert "(space: fold)" in expanded and "+760 B" not in expanded
        assert sum(char.isdigit() for line in log_text(app)[1:-1] for char in line[9:]) == 1000
        await pilot.press("space")
        assert "+760 B (space: expand)" in "\n".join(log_text(app))

    run(body, make_app())


def test_follow_mode_pauses_when_scrolled_up_and_end_resumes():
    async def body(app, pilot):
        log = app.log_view
        for i in range(30):
            deliver(app, 4242, f"line {i}".encode())
        await settle(pilot, app)
        assert log.following and log.scroll_y == log.max_scroll_y > 0
        log.scroll_to(y=0, animate=False)
        await pilot.pause()
        assert not log.following
        for i in range(3):
            deliver(app, 4242, f"later {i}".encode())
        await settle(pilot, app)
        assert log.scroll_y == 0  # the user's place is kept
        assert "3 new" in log.border_subtitle
        await pilot.press("end")
        await settle(pilot, app)
        assert log.following and log.scroll_y == log.max_scroll_y
        deliver(app, 4242, b"newest")
        await settle(pilot, app)
        assert log.scroll_y == log.max_scroll_y

    run(body, make_app())


def test_the_view_is_bounded_but_saving_keeps_everything(tmp_path):
    async def body(app, pilot):
        for i in range(50):
            deliver(app, 4242 + i % 2, f"message {i}".encode(), advance=0.5)
        await settle(pilot, app)
        assert len(app.entries) == 50
        assert app.log_view.option_count <= 20
        assert app.log_view.shown[-1].data == b"message 49"
        assert "▍" in log_text(app)[0]  # the first row still names its sender
        app.save_log(str(tmp_path / "all.jsonl"))
        await app.workers.wait_for_complete()
        lines = (tmp_path / "all.jsonl").read_text().splitlines()
        assert [json.loads(line)["text"] for line in lines] == [f"message {i}" for i in range(50)]

    run(body, make_app(max_rows=20))


def test_in_flight_transfer_shows_progress_rate_and_eta():
    async def body(app, pilot):
        await start_in_flight(app, pilot, steps=10)
        total = protocol.frame_bit_count(10_240)
        active = app.active[4250]
        assert active.total == total and active.bits == 21_500
        assert active.rate == pytest.approx(21_500, rel=0.01)
        assert active.eta == pytest.approx((total - 21_500) / 21_500, rel=0.02)
        text = screen_lines(app)
        assert "26%" in text and "21,500 / 82,057 bits" in text and "21.5 kbit/s" in text and "ETA 2.82 s" in text
        assert "waiting: #1 4311 sigchat-send" in text
        assert app.senders[4311].state is SenderState.WAITING
        assert app.senders[4250].state is SenderState.SENDING
        # It ends: the bar goes away, the bits count in the throughput.
        stats = make_stats(4250, 10_240, active.started)
        app.sink.on_event(protocol.MessageDelivered(4250, b"x" * 10_240, stats))
        await settle(pilot, app)
        assert not app.active and "No transfer in progress" in screen_lines(app)
        assert sum(app.session._buckets.values()) == stats.bits

    run(body, make_app())


def test_progress_line_fills_with_the_fraction_and_shows_100_percent_only_when_done():
    async def body(app, pilot):
        await start_in_flight(app, pilot, steps=1)
        bar = app.query_one("#inflight-bar")
        width = bar.content_region.width
        for done, total, percent in [(0, 100, "0%"), (50, 100, "50%"), (999, 1000, "99%"), (1000, 1000, "100%"), (5, 0, "0%")]:
            bar.update(done, total)
            text = bar.render()
            assert text.plain.endswith(f" {percent}") and text.cell_length == width, (done, total, text.plain)
        bar.update(1, 2)
        filled = [span for span in bar.render().spans if "success" in str(span.style)]
        assert filled and filled[0].end - filled[0].start == (width - len("   50%")) // 2

    run(body, make_app())


def test_transfers_never_lay_the_screen_out(monkeypatch):
    """While a transfer runs, the app's thread takes its time from the receiver's (the GIL):
    a layout of this screen costs ~17 ms. New senders, new log rows, the bar appearing and
    going, progress and the once-a-second update only repaint."""
    from textual.screen import Screen

    layouts = []
    refresh_layout = Screen._refresh_layout

    def counted(screen, *args, **kwargs):
        layouts.append(screen)
        return refresh_layout(screen, *args, **kwargs)

    async def body(app, pilot):
        deliver(app, 4242, b"the first message")
        await settle(pilot, app)
        monkeypatch.setattr(Screen, "_refresh_layout", counted)
        for pid in (4250, 4251, 4252):  # a new sender each time, as each sigchat-send is
            app.clock.t += 1.0
            start = app.clock.mono()
            app.sink.on_event(protocol.TransferStarted(pid, start))
            app.sink.on_event(protocol.HeaderReceived(pid, 1, 100, 0, start))
            for step in range(1, 4):
                app.clock.t += 0.25
                app.bridge.on_progress((pid, 200 * step, protocol.frame_bit_count(100), start, app.clock.mono()))
                await pilot.pause()
            app._tick()
            await settle(pilot, app)
            assert "▶ " + str(pid) in screen_lines(app)
            stats = make_stats(pid, 100, start)
            app.sink.on_event(protocol.MessageDelivered(pid, b"y" * 100, stats))
            await settle(pilot, app)
        assert [e.pid for e in app.entries] == [4242, 4250, 4251, 4252]
        assert "No transfer in progress" in screen_lines(app) and "4252" in screen_lines(app)
        assert layouts == []

    run(body, make_app())


def test_the_clock_is_a_plain_event_loop_timer_and_no_textual_timer_runs():
    """The once-a-second tick is scheduled with the event loop's call_later (SigchatApp._clock):
    a Textual Timer costs the app's thread ~0.3 ms each time it fires, and a classic client that
    does not wait for acks loses bits to that (measured in _clock's docstring). No widget of the
    idle app keeps a Textual timer running either."""
    ticks = []

    async def body(app, pilot):
        nodes = [app, app.screen, *app.screen.walk_children(with_self=False)]
        running = [
            (node, timer.name)
            for node in nodes
            for timer in node._timers
            if timer._task is not None and not timer._task.done() and timer._active.is_set()
        ]
        assert running == []
        handle = app._clock_handle
        assert isinstance(handle, asyncio.TimerHandle) and not handle.cancelled()
        assert 0 < handle.when() - asyncio.get_running_loop().time() <= CLOCK_INTERVAL
        app._tick = lambda: ticks.append(app.clock.mono())  # the clock calls whatever _tick is now
        await wait_for(pilot, lambda: len(ticks) >= 1, timeout=10 * CLOCK_INTERVAL)
        assert app._clock_handle is not handle and not app._clock_handle.cancelled()
        return app._clock_handle

    last = run(body, make_app())
    assert last.cancelled()  # unmounting stops the clock


def test_aborted_rejected_and_refused_transfers_are_marked():
    async def body(app, pilot):
        failed_session(app)
        await settle(pilot, app)
        kinds = [e.kind for e in app.entries]
        assert kinds == [Kind.DELIVERED, Kind.ABORTED, Kind.REJECTED, Kind.ABORTED, Kind.REFUSED]
        text = "\n".join(log_text(app))
        assert "✗ ABORTED integrity check failed · 31 of 64 B arrived, dropped" in text
        assert "dropped: this one got corrupted on the w" in text
        assert "✗ REJECTED 20,000,000 B is over the server's limit of 16,777,216 B" in text
        assert "✗ ABORTED sender exited mid-transfer" in text
        assert "✗ NOT ANSWERED SIGUSR1 and SIGUSR2 would kill it" in text
        assert app.totals.failed == 4 and app.totals.messages == 1
        assert app.senders[4250].state is SenderState.GONE  # exited mid-transfer
        assert "4 failed/aborted" in screen_lines(app)
        # A refused pid that keeps trying is logged once per REFUSED_REPEAT seconds.
        app.sink.on_refused(4500, "again")
        await settle(pilot, app)
        assert len(app.entries) == 5
        # Every kind of entry can be inspected.
        for entry in app.entries:
            await app.push_screen(InspectorScreen(entry, tz=app.tz))
            await pilot.pause()
            assert "Transfer #" in app.screen.query_one("#inspector").border_title
            app.pop_screen()

    run(body, make_app())


def test_classic_minitalk_clients_are_shown_as_such():
    from sigchat.proto.classic import api as classic

    profile = str(classic.DEFAULT_PROFILE)

    async def body(app, pilot):
        start = app.clock.mono()
        app.sink.on_event(protocol.TransferStarted(4400, start, "classic", profile))
        await settle(pilot, app)
        assert app.active[4400].mode == "classic" and "classic client" in screen_lines(app)
        stats = make_stats(4400, 5, start)
        app.sink.on_event(protocol.MessageDelivered(4400, b"hello", stats, False, "classic", profile))
        await settle(pilot, app)
        entry = app.entries[-1]
        assert entry.classic and entry.profile == profile
        text = "\n".join(log_text(app))
        assert f"classic minitalk client ({profile})" in text and "○ classic, no integrity check · 5 B" in text
        assert re.search(r"1 msg · 5 B · classic", screen_lines(app))
        assert next(iter(log_records(app.entries)))["mode"] == "classic"

    run(body, make_app())


def test_sender_states_waiting_sending_idle_gone():
    alive = {4242, 4311}

    async def body(app, pilot):
        app.sink.on_event(protocol.TransferStarted(4242, MONO0))
        app.sink.on_event(protocol.SenderQueued(4311, 1, MONO0 + 0.1))
        await settle(pilot, app)
        assert app.senders[4242].state is SenderState.SENDING
        assert app.senders[4311].state is SenderState.WAITING
        deliver(app, 4242, b"x", advance=0)
        await settle(pilot, app)
        assert app.senders[4242].state is SenderState.IDLE
        alive.discard(4242)
        await settle(pilot, app)
        assert app.senders[4242].state is SenderState.GONE
        assert app.senders[4242].name == "bash"  # kept after it exited
        text = screen_lines(app)
        assert re.search(r"4242 bash +gone", text) and re.search(r"4311 sigchat-send +waiting #1", text)

    run(body, make_app(alive=alive))


def test_entry_rendering_wraps_with_a_hanging_indent():
    async def body(app, pilot):
        deliver(app, 4242, b"word " * 40)
        await settle(pilot, app)
        lines = log_text(app)
        assert lines[0].startswith("▍4242 bash")
        assert re.match(r"\d\d:\d\d:\d\d word word", lines[1])
        assert lines[2].startswith(" " * 9 + "word")  # wrapped under the message, not under the time
        assert lines[-1].startswith(" " * 9 + "✓ 200 B")

    run(body, make_app())


# --------------------------------------------------------------------------- keys and screens


def test_filter_key_picks_a_sender_and_all_shows_everything():
    async def body(app, pilot):
        sample_session(app)
        await settle(pilot, app)
        await pilot.press("f")
        assert app.focused is app.sender_list
        await pilot.press("down", "down", "down", "enter")  # all, then the idle ones newest first: 4242, 4311, 4250
        await settle(pilot, app)
        assert app.log_view.filter_pid == 4250
        assert {e.pid for e in app.log_view.shown} == {4250}
        assert app.log_view.border_title == "Messages from 4250 python3"
        assert app.focused is app.log_view
        deliver(app, 4242, b"not shown while filtered")
        deliver(app, 4250, b"shown while filtered")
        await settle(pilot, app)
        assert [e.data for e in app.log_view.shown][-1] == b"shown while filtered"
        await pilot.press("a")
        await settle(pilot, app)
        assert app.log_view.filter_pid is None and len(app.log_view.shown) == len(app.entries) == 9
        await pilot.press("f", "enter")  # the highlighted "All senders" row
        assert app.log_view.filter_pid is None

    run(body, make_app())


def test_enter_with_nothing_highlighted_inspects_the_newest_message():
    """Right after launch nothing is highlighted; enter (shown in the footer) must still inspect."""

    async def body(app, pilot):
        sample_session(app)
        await settle(pilot, app)
        app.log_view.focus()
        app.log_view.highlighted = None
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, InspectorScreen)
        assert app.screen.entry.data == b"ping"

    run(body, make_app())


def test_enter_opens_the_inspector_with_signals_hex_latency_and_timings():
    async def body(app, pilot):
        sample_session(app)
        await settle(pilot, app)
        await pilot.press("up")  # highlight the newest message ("ping")
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, InspectorScreen)
        assert screen.entry.data == b"ping"
        bits = screen.query_one(SignalBits)
        assert bits.data == b"ping"
        text = screen_lines(app)
        assert "0x70" in text and "01110000" in text and "12221111" in text  # 'p' = 0x70: USR1/USR2 per bit
        assert "00000000  70 69 6e 67" in text and "│ping│" in text
        assert re.search(r"min \d+ µs  median \d+ µs  p99 [\d.]+ (µs|ms)  max [\d.]+ ms", text)
        timings = str(screen.query_one("#inspector-timings", Static).content)
        assert "0 bit retransmissions reported by the sender" in timings and "attempt 1" in timings
        assert screen.query_one(Sparkline).data
        await pilot.press("c")
        assert app.clipboard == "ping"
        assert notifications(app)[-1].startswith("Copy the message from 4242")  # how it went, as the log's c says
        await pilot.press("escape")
        assert not isinstance(app.screen, InspectorScreen)
        await pilot.press("i")  # the same from anywhere
        assert isinstance(app.screen, InspectorScreen)
        await pilot.press("q")  # q closes the inspector, it does not quit
        assert not isinstance(app.screen, InspectorScreen) and app.is_running

    run(body, make_app())


def test_turbo_transfers_say_so_in_flight_in_the_log_and_in_the_inspector():
    """The UI shows which mode a transfer used: turbo words or 1 bit per signal."""

    async def body(app, pilot):
        clock = app.clock
        start = clock.mono()
        data = bytes(range(60)) * 100
        app.sink.on_event(protocol.TransferStarted(4250, start))
        app.sink.on_event(protocol.HeaderReceived(4250, 3, len(data), 0, start + 0.004, turbo=True))
        app.bridge.on_progress((4250, 200, protocol.frame_bit_count(len(data)), start, start + 0.01))
        await settle(pilot, app)
        assert "5.9 KiB message · turbo words (6 bytes per signal)" in screen_lines(app)
        stats = make_stats(4250, len(data), start)
        stats.turbo, stats.pairs, stats.triples, stats.words = True, True, True, protocol.word_count(len(data))
        clock.t = stats.ended_at - demo.MONO0
        app.sink.on_event(protocol.MessageDelivered(4250, data, stats))
        deliver(app, 4242, b"one bit at a time")
        await settle(pilot, app)
        turbo_entry, plain_entry = app.entries
        log = "\n".join(log_text(app))
        assert "signals in session · " in log and log.count(" · turbo") == 1
        records_ = [json.loads(records.dumps(records.delivered_record(entry.event, 0.0))) for entry in app.entries]
        assert [r["turbo"] for r in records_] == [True, False]
        modes = []
        for entry in (turbo_entry, plain_entry):
            app.push_screen(InspectorScreen(entry))
            await pilot.pause()
            timings = str(app.screen.query_one("#inspector-timings", Static).content)
            modes.append(timings.split("mode", 1)[1].split("\n")[0].strip())
            await pilot.press("escape")
        assert modes == [
            f"turbo: the payload in {protocol.word_count(len(data)):,} sigqueue words of 6 bytes (+ a 16-bit tag),"
            " three per round trip, header and CRC 1 bit per signal",
            "1 bit per signal",
        ]

    run(body, make_app())


def test_v_opens_the_live_xray_of_the_transfer_in_flight_it_grows_then_shows_the_delivery():
    async def body(app, pilot):
        await pilot.press("v")
        assert notifications(app)[-1] == "No transfer in flight" and not isinstance(app.screen, LiveXRayScreen)
        start = app.clock.mono()
        data = b"live, signal by signal"
        total = protocol.frame_bit_count(len(data))
        app.sink.on_event(protocol.TransferStarted(4242, start))
        app.sink.on_event(protocol.HeaderReceived(4242, 7, len(data), 0, start + 0.01))
        app.bridge.on_progress((4242, 100, total, start, start + 0.02))
        await settle(pilot, app)
        await pilot.press("v")
        screen = app.screen
        assert isinstance(screen, LiveXRayScreen) and screen.pid == 4242 and app.receiver.watch == 4242
        xray = screen.query_one(FrameXRay)
        for bits in (100, 89 + 8 * 6 + 5):
            stats = protocol.TransferStats(pid=4242, started_at=start, ended_at=start + 0.02, length=len(data),
                                           message_id=7, bits=bits, gaps=array("f", [1e-4] * (bits - 1)))
            app.bridge.on_snapshot(4242, (data[: (bits - 89) // 8], stats))
            app.bridge.on_snapshot(4343, (b"", protocol.TransferStats(pid=4343, started_at=0.0, ended_at=0.0)))
            await pilot.pause()
            assert xray.rebuilt.signals == 8 + bits and not xray.rebuilt.complete  # (the signature counted)
        assert "in flight · 6 B so far" in str(screen.query_one("#inspector-kind", Static).content)
        app.sink.on_event(protocol.MessageDelivered(4242, data, make_stats(4242, len(data), start)))
        await settle(pilot, app)
        assert screen.finished and xray.rebuilt.complete and xray.rebuilt.signals == 8 + total
        assert app.receiver.watch is None  # no more snapshots needed
        await pilot.press("escape")
        assert not isinstance(app.screen, LiveXRayScreen)
        # Closed while the transfer is still in flight: the watch ends with the screen.
        app.sink.on_event(protocol.TransferStarted(4242, start + 1.0))
        app.bridge.on_progress((4242, 10, None, start + 1.0, start + 1.01))
        await settle(pilot, app)
        await pilot.press("v")
        assert isinstance(app.screen, LiveXRayScreen) and app.receiver.watch == 4242
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, LiveXRayScreen) and app.receiver.watch is None

    run(body, make_app())


def test_copy_message_and_copy_send_command():
    async def body(app, pilot):
        await pilot.press("c")  # nothing yet: a warning, no crash
        deliver(app, 4242, b"copy me \xff")
        await settle(pilot, app)
        await pilot.press("c")
        assert app.clipboard == "copy me \\xff"
        await pilot.press("p")
        assert app.clipboard == f"sigchat-send {PID} 'hello'"

    run(body, make_app())


def test_save_key_writes_every_transfer_as_json_lines(tmp_path):
    async def body(app, pilot):
        failed_session(app)
        deliver(app, 4242, b"bytes \xff\x00", duplicate=True)
        await settle(pilot, app)
        await pilot.press("s")
        assert isinstance(app.screen, SaveDialog)
        field = app.screen.query_one(Input)
        assert re.fullmatch(re.escape(str(tmp_path)) + rf"/sigchat-{PID}-20251124-1600\d\d\.jsonl", field.value)
        field.value = str(tmp_path / "saved.jsonl")
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        saved = [json.loads(line) for line in (tmp_path / "saved.jsonl").read_text().splitlines()]
        assert saved == list(log_records(app.entries))
        assert [r["event"] for r in saved] == ["delivered", "aborted", "aborted", "aborted", "delivered"]
        assert saved[0]["text"] == "a message that made it" and saved[-1]["duplicate"] is True
        assert "base64" in saved[-1]
        assert saved[1]["reason"] == "integrity check failed"
        # An existing file is not overwritten; escape cancels.
        await pilot.press("s")
        app.screen.query_one(Input).value = str(tmp_path / "saved.jsonl")
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert len((tmp_path / "saved.jsonl").read_text().splitlines()) == 5
        await pilot.press("s", "escape")
        assert not isinstance(app.screen, SaveDialog)

    run(body, make_app(data_dir=str(tmp_path)))


def test_clear_key_empties_the_view_but_not_the_session():
    async def body(app, pilot):
        sample_session(app)
        await settle(pilot, app)
        await pilot.press("x")
        await settle(pilot, app)
        assert app.log_view.option_count == 0 and len(app.entries) == 7
        assert "View cleared." in screen_lines(app)
        deliver(app, 4242, b"after clearing")
        await settle(pilot, app)
        assert [e.data for e in app.log_view.shown] == [b"after clearing"]
        assert len(list(log_records(app.entries))) == 8

    run(body, make_app())


def test_help_key_and_escape():
    async def body(app, pilot):
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert "copy the command that sends this server a message" in screen_lines(app)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("question_mark")
        assert not isinstance(app.screen, HelpScreen)

    run(body, make_app())


def test_quit_key_exits_at_once_and_stops_the_receiver():
    async def body(app, pilot):
        await start_in_flight(app, pilot, steps=3)  # quitting during a transfer
        await settle(pilot, app)
        await pilot.press("q")
        return app.receiver, time.monotonic()

    app = make_app()
    receiver, pressed = run(body, app)
    assert time.monotonic() - pressed < 1.0  # ~0.05 s headless; the pty test measures a real terminal
    assert receiver.stopped and app.return_code == 0


def test_run_app_ends_with_the_line_plain_mode_ends_with(monkeypatch):
    """``run_app`` words its last stderr line and picks its exit code with ``report_stop``, as plain mode does."""
    from sigchat.server.options import build_parser
    from sigchat.tui import app as app_module

    calls = []
    monkeypatch.setattr(SigchatApp, "run", lambda self, *args, **kwargs: None)
    monkeypatch.setattr(app_module, "report_stop", lambda *args: calls.append(args) or 7)
    assert app_module.run_app(build_parser().parse_args([])) == 7
    ((messages, nbytes, counts, uptime, error),) = calls
    assert (messages, nbytes, counts, error) == (0, 0, ["0 transfers failed"], None) and uptime >= 0


def test_command_palette_runs_app_commands():
    async def body(app, pilot):
        deliver(app, 4250, b"x")
        await settle(pilot, app)
        await pilot.press("ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        app.screen.query_one(Input).value = "copy send command"
        await wait_for(pilot, lambda: app.screen.query_one(OptionList).option_count)
        await pilot.press("down", "enter")
        await pilot.pause()
        assert app.clipboard == f"sigchat-send {PID} 'hello'"
        await pilot.press("ctrl+p")
        app.screen.query_one(Input).value = "show only 4250"
        await wait_for(pilot, lambda: app.screen.query_one(OptionList).option_count)
        await pilot.press("down", "enter")
        await settle(pilot, app)
        assert app.log_view.filter_pid == 4250

    run(body, make_app())


def test_themes_work_and_the_stylesheet_has_no_literal_colours():
    css = (SRC / "app.tcss").read_text()
    code = "\n".join(p.read_text() for p in [SRC / "app.py", *sorted((SRC / "widgets").glob("*.py"))])
    literal = re.compile(r"#[0-9a-fA-F]{3,8}\b|\brgba?\(|\b(red|green|blue|yellow|magenta|cyan|white|black)\b")
    assert not literal.findall(re.sub(r"/\*.*?\*/", "", css, flags=re.S)), "use theme variables in app.tcss"
    assert not re.findall(r'"[^"]*\b(red|green|blue|yellow|magenta|cyan)\b[^"]*"', code.replace("red?", ""))

    async def body(app, pilot):
        sample_session(app)
        await start_in_flight(app, pilot, steps=3)
        await settle(pilot, app)
        before = app.log_view.get_visual_style("option-list--option").background
        for theme in ("textual-light", "nord", "gruvbox", "textual-dark"):
            app.theme = theme
            await settle(pilot, app)
            assert "hello from bash" in screen_lines(app)
        app.theme = "textual-light"
        await pilot.pause()
        assert app.log_view.get_visual_style("option-list--option").background != before

    run(body, make_app())


def test_receiver_death_is_shown():
    async def body(app, pilot):
        app.receiver.error = OSError(28, "No space left on device")
        await settle(pilot, app)
        assert "RECEIVER STOPPED" in screen_lines(app)

    run(body, make_app())


def test_widgets_never_read_clocks_pids_or_proc():
    for path in sorted((SRC / "widgets").glob("*.py")):
        text = path.read_text()
        for forbidden in ("os.getpid", "time.time", "time.monotonic", "procfs", "import time", "datetime.now"):
            assert forbidden not in text, f"{path.name} uses {forbidden}"


def test_inspector_helpers():
    assert hex_dump(b"AB\x00").plain == "00000000  41 42 00" + " " * 41 + "│AB.│"
    labels = byte_labels(b"\xc3\xa9\n\xff\xc3")
    assert [label for label, _ in labels] == ["é", "┄", "\\n", "\\xff", "\\xc3"]
    # A character cut by the limit is still shown whole.
    assert [label for label, _ in byte_labels("a✓b".encode(), 2)] == ["a", "✓"]
    summary, sampled = summarize(array("f", [1e-5, 2e-5, 3e-5, 4e-5]))
    assert not sampled and summary.min == pytest.approx(1e-5) and summary.max == pytest.approx(4e-5)
    assert "2" in histogram(array("f", [1e-5, 1.5e-5, 3e-3])).plain
    assert human_rate(21_500) == "21.5 kbit/s"


# --------------------------------------------------------------------------- issue 17: a new user's first session


def test_send_program_is_the_short_name_on_path_else_the_scripts_absolute_path(tmp_path):
    from sigchat.tui.settings import send_program

    assert send_program(which=lambda name: f"/usr/bin/{name}", scripts=str(tmp_path)) == "sigchat-send"
    # Not on PATH (a new shell after `make run`): the venv's script, by its absolute path.
    script = tmp_path / "my venv" / "bin" / "sigchat-send"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    assert send_program(which=lambda name: None, scripts=str(script.parent)) == f"'{script}'"  # (quoted for the shell)
    script.chmod(0o644)  # not runnable: this Python with -m
    assert send_program(which=lambda name: None, scripts=str(script.parent), executable="/x/python") == "/x/python -m sigchat send"


def test_the_send_command_shown_and_copied_is_the_one_injected():
    command = "/home/student/sigchat/.venv/bin/sigchat-send"

    async def body(app, pilot):
        text = screen_lines(app)
        assert f"{command} {PID} 'hello'" in text  # the banner and the empty log's hint
        assert text.count(f"{command} {PID} 'hello'") == 2
        await pilot.press("p")
        assert app.clipboard == f"{command} {PID} 'hello'"
        assert any(c.help == f"Copy: {command} {PID} 'hello'" for c in app.get_system_commands(app.screen))

    run(body, make_app(send_program=command))


def test_run_app_shows_the_absolute_send_command_when_sigchat_send_is_not_on_path(monkeypatch, tmp_path):
    from sigchat.server.options import build_parser
    from sigchat.tui import app as app_module

    apps = []
    monkeypatch.setattr(SigchatApp, "run", lambda self, *args, **kwargs: apps.append(self))
    monkeypatch.setattr(app_module, "report_stop", lambda *args: 0)
    monkeypatch.setattr(app_module.settings, "send_program", lambda which: "sigchat-send" if which("sigchat-send") else "/abs/bin/sigchat-send")
    env = {"HOME": str(tmp_path)}
    app_module.run_app(build_parser().parse_args([]), environ=env, which=lambda name: None)
    app_module.run_app(build_parser().parse_args([]), environ=env, which=lambda name: f"/usr/bin/{name}")
    assert [a.send_command for a in apps] == [f"/abs/bin/sigchat-send {os.getpid()} 'hello'", f"sigchat-send {os.getpid()} 'hello'"]
    assert not (tmp_path / ".config").exists() and not (tmp_path / ".local").exists()  # nothing written at start


def test_the_all_row_counts_every_sender_even_between_ticks():
    async def body(app, pilot):
        for pid in range(6000, 6013):
            deliver(app, pid, b"hi", advance=0.1)
        await pilot.pause()  # the events only, no once-a-second update
        first = app.sender_list.get_option_at_index(0).prompt.plain
        assert "13 senders · 13 msgs" in first, first

    run(body, make_app())


def test_an_aborted_transfer_shows_the_rate_of_what_arrived_not_of_its_length():
    async def body(app, pilot):
        start = app.clock.mono()
        app.sink.on_event(protocol.TransferStarted(4250, start))
        stats = make_stats(4250, 1_000, start)
        stats.length, stats.ended_at = 22_000, start + 3.0  # 22 KB announced, 1,000 B arrived in 3 s
        app.sink.on_event(protocol.TransferAborted(4250, protocol.AbortReason.SENDER_GONE, stats, b"x" * 1_000))
        app.clock.t += 1.0
        start = app.clock.mono()
        app.sink.on_event(protocol.TransferStarted(4251, start))
        stats = make_stats(4251, 0, start)
        stats.length, stats.ended_at = 50, start + 1.0  # nothing arrived: no rate at all
        app.sink.on_event(protocol.TransferAborted(4251, protocol.AbortReason.SILENT, stats, b""))
        await settle(pilot, app)
        text = "\n".join(log_text(app))
        assert human_rate(8 * 1_000 / 3.0) in text  # 2.67 kbit/s
        assert human_rate(8 * 22_000 / 3.0) not in text  # (not 58.7 kbit/s)
        stats_lines = [line for line in log_text(app) if "✗ " in line and "signals" in line]
        assert len(stats_lines) == 2 and "bit/s" not in stats_lines[1]

    run(body, make_app())


@pytest.fixture
def afternoon(monkeypatch):
    """A class's afternoon: ``sample_session``, then 16 sigchat-send processes, one message each, each gone after it."""
    for pid in range(6000, 6016):
        monkeypatch.setitem(demo.NAMES, pid, "sigchat-send")

    def setup(app: SigchatApp) -> None:
        sample_session(app)
        for pid in range(6000, 6016):
            deliver(app, pid, f"send {pid}".encode(), advance=0.5)

    return setup


def test_senders_put_active_and_waiting_on_top_and_fold_the_gone_by_name(afternoon):
    async def body(app, pilot):
        afternoon(app)
        await start_in_flight(app, pilot, steps=2)  # 4250 sends, 4311 waits
        await settle(pilot, app)
        senders = app.sender_list
        ids = [option.id for option in senders.options]
        assert ids == ["all", "pid-4250", "pid-4311", "pid-4242", "gone:sigchat-send"]
        prompts = [option.prompt.plain for option in senders.options]
        assert prompts[0].startswith("● All senders\n  19 senders · 23 msgs")
        assert re.match(r"  4250 python3 +sending\n", prompts[1]) and "waiting #1" in prompts[2]
        assert re.match(r"▸ sigchat-send ×16 +gone\n  16 msgs · ", prompts[4])
        text = screen_lines(app)
        assert "4250 python3" in text and "sigchat-send ×16" in text
        # Enter unfolds the group (newest first), enter again folds it.
        await pilot.press("1")
        assert app.focused is senders
        senders.highlighted = 4
        await pilot.press("enter")
        await pilot.pause()
        assert [o.id for o in senders.options][4:7] == ["gone:sigchat-send", "pid-6015", "pid-6014"]
        assert senders.highlighted_option.id == "gone:sigchat-send" and app.log_view.filter_pid is None
        await pilot.press("down", "enter")  # a member: the log shows only it, and it keeps its own row
        await settle(pilot, app)
        assert app.log_view.filter_pid == 6015
        await pilot.press("1")
        senders.highlighted = [o.id for o in senders.options].index("gone:sigchat-send")
        await pilot.press("enter")
        await settle(pilot, app)
        # (the one the log shows stays out of the fold, with the idle ones, newest first)
        assert [o.id for o in senders.options][3:6] == ["pid-6015", "pid-4242", "gone:sigchat-send"]
        assert "sigchat-send ×15" in senders.options[5].prompt.plain

    run(body, make_app())


SUMMARY = re.compile(r"  \d[\d,]* (msg|msgs|senders?)( · [\d.]+ (B|KiB|MiB|msgs?))*( · ✗\d[\d,]*)?( · (native|classic))?( · [\d.]+ (B|KiB|MiB))?( · (now|\d+[smh] ago))?")


def test_at_80x24_every_row_and_summary_is_whole(afternoon):
    """Rows are drawn for the list's width: items that do not fit are left out, never cut or wrapped."""

    async def body(app, pilot):
        afternoon(app)
        app.sink.on_event(protocol.MessageDelivered(4242, b"x", make_stats(4242, 1, app.clock.mono()), True))
        await start_in_flight(app, pilot, steps=2)
        await settle(pilot, app)
        senders = app.sender_list
        style = senders.get_visual_style("option-list--option")
        width = senders.scrollable_content_region.width
        assert width < 30  # (narrower than at 120 columns)
        for option in senders.options:
            strips = senders._get_option_render(option, style)
            assert len(strips) == 2, option.prompt.plain  # never wrapped
            first, summary = (strip.text.rstrip() for strip in strips)
            assert len(first) <= width and SUMMARY.fullmatch(summary), (first, summary)
        text = screen_lines(app)
        assert re.search(r"  4250 python3 +sending", text) and "waiting #1" in text and "sigchat-send ×16" in text
        for line in ("send-line", "status-line", "totals-line", "throughput-summary"):
            assert not app.query_one(f"#{line}").text.endswith((",", "·", " ")), line
        totals = app.query_one("#totals-line").text
        assert re.fullmatch(r"23 messages · [\d.]+ (B|KiB) · 0 failed/aborted · 1 repeat ignored", totals), totals
        assert app.query_one("#send-line").text == f"Send a message:   sigchat-send {PID} 'hello'   p copies it"

    run(body, make_app(), size=(80, 24))


def test_the_log_keeps_the_newest_row_in_view_after_a_resize():
    async def body(app, pilot):
        for i in range(30):
            deliver(app, 4242, f"message {i} ".encode() * 8)
        await settle(pilot, app)
        log = app.log_view
        assert log.following and log.scroll_y == log.max_scroll_y
        await pilot.resize_terminal(70, 24)  # narrower: every row wraps onto more lines
        await settle(pilot, app)
        await pilot.pause(0.05)
        assert log.following and log.scroll_y == log.max_scroll_y > 0
        assert "message 29" in screen_lines(app)

    run(body, make_app())


def test_fit_leaves_out_whole_items_least_important_first():
    from sigchat.tui.widgets.fitted import Item, fit

    items = [Item.of("3 msgs", keep=9), Item.of("62 B", keep=5), Item.of("✗1", keep=7), Item.of("7s ago", keep=1)]
    assert fit(items, 40).plain == "3 msgs · 62 B · ✗1 · 7s ago"
    assert fit(items, 26).plain == "3 msgs · 62 B · ✗1"
    assert fit(items, 13, prefix="  ").plain == "  3 msgs · ✗1"
    assert fit(items, 12, prefix="  ").plain == "  3 msgs"
    assert fit(items, 3).plain == "3 msgs"  # the one kept longest stays


def test_copy_under_tmux_uses_a_clipboard_tool_and_says_which():
    runs = []

    def tool(command, text):
        runs.append((list(command), text))
        return None

    env = {"TMUX": "/tmp/tmux-1000/default,1,0", "DISPLAY": ":0", "TERM": "xterm-kitty"}
    which = {"xclip": "/usr/bin/xclip", "wl-copy": "/usr/bin/wl-copy"}.get  # (no Wayland display: not wl-copy)

    async def body(app, pilot):
        deliver(app, 4242, b"copy me")
        await settle(pilot, app)
        await pilot.press("c")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert runs == [(["/usr/bin/xclip", "-selection", "clipboard"], "copy me")]
        assert app.clipboard == "copy me"  # (OSC 52 went out too)
        assert notifications(app)[-1] == "Copied the message from 4242 bash (7 bytes) with xclip"

    run(body, make_app(environ=env, which=which, clipboard_tool=tool))


def test_copy_without_a_tool_says_it_went_out_as_osc52_and_how_to_enable_it():
    async def body(app, pilot):
        await pilot.press("p")
        assert notifications(app)[-1] == (
            f"Copy sigchat-send {PID} 'hello': Sent to the terminal's clipboard (OSC 52);"
            " if nothing was copied, enable it: tmux set -g set-clipboard on"
        )

    run(body, make_app(environ={"TMUX": "x", "DISPLAY": ":0"}, which=lambda name: None))


def test_copy_says_copied_only_where_the_terminal_is_known_to_take_osc52_and_reports_a_failing_tool():
    from sigchat.tui import clipboard

    assert clipboard.route({"TERM": "xterm-kitty"}, lambda name: "/usr/bin/x").osc52_known
    assert clipboard.route({"TERM": "xterm-256color", "WEZTERM_PANE": "0"}, lambda name: None).osc52_known
    unknown = clipboard.route({"TERM": "xterm-256color", "WAYLAND_DISPLAY": "wayland-0"}, {"wl-copy": "/bin/wl-copy"}.get)
    assert unknown.tool == ("/bin/wl-copy",) and not unknown.osc52_known
    assert "install wl-copy" in clipboard.route({}, lambda name: None).osc52_note()
    assert clipboard.route({"TMUX": "x", "TERM": "xterm-kitty"}, lambda name: None).osc52_known is False
    assert clipboard.run_tool(["true"], "x") is None and clipboard.run_tool(["false"], "x") == "exit status 1"

    async def body(app, pilot):
        await pilot.press("p")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert notifications(app) == [f"Copied sigchat-send {PID} 'hello'"]
        app._clipboard_route = clipboard.Route(("/usr/bin/xsel", "--clipboard", "--input"), False, True)
        await pilot.press("p")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert notifications(app)[-1].startswith("Copy: xsel failed (exit status 1). Sent to the terminal's clipboard (OSC 52)")

    run(body, make_app(environ={"TERM": "foot"}, clipboard_tool=lambda command, text: "exit status 1"))


def test_ctrl_c_quits_as_in_plain_mode_even_from_an_input():
    async def body(app, pilot):
        assert "^c Quit" in screen_lines(app).splitlines()[-1]
        await pilot.press("s")  # the save dialog: its input has the focus
        assert isinstance(app.focused, Input)
        await pilot.press("ctrl+c")
        return app.receiver

    app = make_app()
    receiver = run(body, app)
    assert receiver.stopped and app.return_code == 0 and not app.is_running

    async def help_lists_it(app, pilot):
        await pilot.press("question_mark")
        return screen_lines(app)

    assert "q ctrl+c" in run(help_lists_it, make_app())


def test_theme_option_is_checked_with_one_clear_line(monkeypatch, capsys, tmp_path):
    from sigchat.server.options import build_parser
    from sigchat.tui import app as app_module

    monkeypatch.setattr(SigchatApp, "run", lambda self, *args, **kwargs: pytest.fail("must not start"))
    code = app_module.run_app(build_parser().parse_args(["--theme", "nordd"]), environ={"HOME": str(tmp_path)})
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith("sigchat-server: unknown theme 'nordd'; the themes are: ") and "nord," in err


def test_theme_comes_from_the_option_the_environment_or_the_palette_and_the_palette_choice_is_remembered(monkeypatch, tmp_path):
    from sigchat.server.options import build_parser
    from sigchat.tui import app as app_module
    from sigchat.tui import settings

    env = {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    config = tmp_path / "config" / "sigchat"
    started = []
    monkeypatch.setattr(SigchatApp, "run", lambda self, *args, **kwargs: started.append(self))
    monkeypatch.setattr(app_module, "report_stop", lambda *args: 0)

    def start(*argv: str, **more: str) -> SigchatApp:
        app_module.run_app(build_parser().parse_args(list(argv)), environ={**env, **more}, which=lambda name: None)
        return started[-1]

    assert start("--theme", "nord").theme == "nord"
    assert start().config_dir == str(config) and not config.exists()

    async def choose_gruvbox(app, pilot):
        await pilot.press("ctrl+p")
        app.screen.query_one(Input).value = "theme"
        await wait_for(pilot, lambda: app.screen.query_one(OptionList).option_count)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette) and "Search for themes" in screen_lines(app))
        app.screen.query_one(Input).value = "gruvbox"
        await wait_for(pilot, lambda: app.screen.query_one(OptionList).option_count)
        await pilot.press("enter")
        await wait_for(pilot, lambda: (config / "settings.json").exists())

    run(choose_gruvbox, make_app(config_dir=str(config)))
    assert json.loads((config / "settings.json").read_text()) == {"theme": "gruvbox"}
    assert settings.remembered_theme(str(config)) == "gruvbox"
    assert start().theme == "gruvbox"  # read at the next start
    assert start("--theme", "nord").theme == "nord"  # the option wins
    assert start(TEXTUAL_THEME="textual-light").theme != "gruvbox"  # so does the environment (Textual reads it)
    (config / "settings.json").write_text('{"theme": "no-such-theme"}')
    assert start().theme == "textual-dark"  # a theme that no longer exists is ignored


def test_help_documents_the_theme_sources_and_where_files_go(tmp_path):
    async def body(app, pilot):
        await pilot.press("question_mark")
        help_text = " ".join(str(s.content) for s in app.screen.query(Static))
        assert "TEXTUAL_THEME" in help_text and "--theme NAME" in help_text
        assert f"remembered in {tmp_path}/config/settings.json" in help_text
        assert f"go to {tmp_path}/data" in help_text
        assert "/ ctrl+f" in help_text and "1 2" in help_text

    run(body, make_app(config_dir=str(tmp_path / "config"), data_dir=str(tmp_path / "data")))


def test_sessions_and_screenshots_go_to_the_data_directory_made_on_demand(tmp_path):
    data = tmp_path / "share" / "sigchat"

    async def body(app, pilot):
        deliver(app, 4242, b"keep me")
        await settle(pilot, app)
        await pilot.press("s")
        dialog = app.screen
        assert isinstance(dialog, SaveDialog)
        assert f"Saved sessions go to {data} (made if needed)" in str(dialog.query_one("#save-where", Static).content)
        assert dialog.query_one(Input).value.startswith(f"{data}/sigchat-{PID}-")
        assert not data.exists()
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        (saved,) = data.glob("*.jsonl")
        assert notifications(app)[-1] == f"Saved 1 transfer to {saved}"
        # The palette's Screenshot: into the same directory, and it says where.
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        assert commands["Screenshot"].help == f"Save an SVG screenshot in {data}"
        commands["Screenshot"].callback()
        await wait_for(pilot, lambda: list(data.glob("*.svg")))
        (shot,) = data.glob("*.svg")
        assert shot.name == f"sigchat-{PID}-20251124-160002.svg" and "<svg" in shot.read_text()
        assert notifications(app)[-1] == f"Screenshot: Saved to {shot}"

    run(body, make_app(data_dir=str(data)))


def test_dirs_follow_xdg_and_default_to_the_home():
    from sigchat.tui import settings

    assert settings.config_dir({"HOME": "/h"}) == "/h/.config/sigchat"
    assert settings.data_dir({"HOME": "/h"}) == "/h/.local/share/sigchat"
    assert settings.config_dir({"HOME": "/h", "XDG_CONFIG_HOME": "/c"}) == "/c/sigchat"
    assert settings.data_dir({"HOME": "/h", "XDG_DATA_HOME": "relative"}) == "/h/.local/share/sigchat"  # (XDG: absolute only)


def test_find_in_the_log_jumps_to_matches_and_escape_closes_it():
    async def body(app, pilot):
        for i, text in enumerate(["alpha one", "beta", "Alpha two", "gamma", "alpha three", "delta"]):
            deliver(app, 4242 if i % 2 else 4250, text.encode())
        await settle(pilot, app)
        log = app.log_view
        shown = lambda: log.highlighted_entry.data.decode()  # noqa: E731
        assert "/ Find" in screen_lines(app).splitlines()[-1]
        await pilot.press("slash")
        bar = app.search_bar
        assert bar.display and app.focused is bar.input
        await pilot.press(*"alpha")
        assert shown() == "alpha three"  # the newest match, case-insensitive
        assert bar.status.text.strip().startswith("3/3")
        await pilot.press("enter")
        assert shown() == "Alpha two"
        await pilot.press("enter", "enter")
        assert shown() == "alpha three"  # wrapped around
        await pilot.press("escape")
        assert not bar.display and app.focused is log
        await pilot.press("n")
        assert shown() == "Alpha two"
        await pilot.press("N")
        assert shown() == "alpha three"
        await pilot.press("ctrl+f")
        assert bar.display and app.focused is bar.input
        bar.input.value = "4242"  # the pid (and the name) match too
        await pilot.pause()
        assert log.highlighted_entry.pid == 4242
        bar.input.value = "zzz"
        await pilot.pause()
        assert "no match" in bar.status.text
        await pilot.press("escape")
        # One key per pane.
        await pilot.press("1")
        assert app.focused is app.sender_list
        await pilot.press("2")
        assert app.focused is log
        assert "1 2 Pane" in screen_lines(app).splitlines()[-1]

    run(body, make_app())


# --------------------------------------------------------------------------- snapshots (look at the SVGs before accepting)


def settled_with(setup=None, then=None):
    """A ``run_before`` for ``snap_compare``: post the events, let the app show them, then ``then``."""

    async def run_before(pilot) -> None:
        if setup is not None:
            result = setup(pilot.app)
            if asyncio.iscoroutine(result):
                await result
        await settle(pilot, pilot.app)
        if then is not None:
            await then(pilot)

    return run_before


def test_snapshot_empty(snap_compare):
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=settled_with())


def test_snapshot_senders_and_messages(snap_compare):
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=settled_with(sample_session))


def test_snapshot_in_flight_transfer(snap_compare):
    async def in_flight(pilot):
        await start_in_flight(pilot.app, pilot)
        await settle(pilot, pilot.app)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=settled_with(sample_session, in_flight))


def test_snapshot_inspector(snap_compare):
    async def open_inspector(pilot):
        pilot.app.log_view.highlighted = 3
        await pilot.press("enter")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=settled_with(sample_session, open_inspector))


def test_snapshot_failed_transfers(snap_compare):
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=settled_with(failed_session))


def test_snapshot_many_senders_at_80x24(snap_compare, afternoon):
    """A class's afternoon at 80x24: 16 sigchat-send gone (folded), one sending, one waiting."""

    async def in_flight(pilot):
        await start_in_flight(pilot.app, pilot, steps=10)
        await settle(pilot, pilot.app)

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=settled_with(afternoon, in_flight))


# --------------------------------------------------------------------------- the real receiver, real senders


@pytest.fixture
def blocked_signals():
    """SIGUSR1/SIGUSR2 blocked in this thread (so in the receiver thread too), as ``server.main`` does."""
    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, sigio.SIGNALS)
    previous = {signum: signal.getsignal(signum) for signum in sigio.SIGNALS}
    for signum in sigio.SIGNALS:
        signal.signal(signum, lambda *_: None)  # a signal landing on another thread must not kill pytest
    yield
    while signal.sigtimedwait(sigio.SIGNALS, 0) is not None:
        pass
    signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def test_a_transfer_shorter_than_the_progress_interval_gets_no_progress_report(blocked_signals):
    """The receiver's progress clock runs while it is idle, so a transfer's first report comes
    within an interval after its start, not at once. The bridge shows a transfer's start with
    that report, so a short message is not slowed down by drawing it (issue #6)."""
    events: list[object] = []
    reports: list[object] = []
    delivered = threading.Event()

    def on_event(event: object) -> None:
        events.append(event)
        if isinstance(event, protocol.MessageDelivered):
            delivered.set()

    receiver = Receiver(protocol.Server(), on_event, on_progress=reports.append, progress_interval=60.0, pin_cpu=False)
    receiver.start()
    try:
        result = subprocess.run(
            [*SEND_CMD, str(os.getpid()), "short"], preexec_fn=sigio.unblock_signals, capture_output=True, timeout=30
        )
        assert result.returncode == 0, result.stderr
        assert delivered.wait(10)
    finally:
        receiver.stop()
    assert [type(event).__name__ for event in events] == ["TransferStarted", "HeaderReceived", "MessageDelivered"]
    assert reports == []


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is needed to build the C minitalk peer")
@pytest.mark.parametrize("told", [True, False], ids=["on_paced", "plain"])
def test_the_receiver_tells_when_a_classic_client_that_paces_itself_streams(blocked_signals, tmp_path, told):
    """``on_paced(True)`` comes before the transfer's first event, ``on_paced(False)`` once it ended
    or paused (a message aborted mid-stream, e.g. a merged length header, may end while the client
    still streams: then after it), and no progress report between: the app draws nothing while
    such a client streams (``tui.bridge``). Meanwhile the cyclic GC is off, with or without
    ``on_paced`` (plain mode): its pauses, 0.05-1.4 ms, merged bits; it is on again after.
    Convention B's C client: no acks, ``usleep(100)`` per bit."""
    convention = conventions.CONVENTIONS["B"]
    client = conventions.build(tmp_path, ["B"])["B"][0]
    calls: list[object] = []
    collecting: list[tuple[object, bool]] = []  # (the call, whether the GC was on then)
    ended = threading.Event()

    def on_event(event: object) -> None:
        calls.append(type(event).__name__)
        collecting.append((type(event).__name__, gc.isenabled()))
        if isinstance(event, (protocol.MessageDelivered, protocol.TransferAborted)):
            ended.set()

    def on_paced(streaming: bool) -> None:
        calls.append(streaming)
        collecting.append((streaming, gc.isenabled()))

    assert gc.isenabled()
    server = protocol.Server(classic=parse_profile(convention.profile), classic_timeout=0.5)
    receiver = Receiver(server, on_event, on_progress=lambda _: calls.append("progress"),
                        on_paced=on_paced if told else None, progress_interval=0.001, pin_cpu=False)
    receiver.start()
    try:
        result = subprocess.run([str(client), str(os.getpid()), "paced " * 40], preexec_fn=sigio.unblock_signals,
                                capture_output=True, timeout=30)
        assert result.returncode == 0, result.stderr
        assert ended.wait(10)
    finally:
        receiver.stop()
    assert gc.isenabled()
    assert ("TransferStarted", False) in collecting, collecting
    if not told:
        return
    assert collecting[0] == (True, False) and calls[1] == "TransferStarted", calls[:5]
    assert (False, True) in collecting
    paced = False
    for call in calls:
        if isinstance(call, bool):
            assert call is not paced, calls  # (told of changes only)
            paced = call
        assert not (paced and call == "progress"), calls
    assert paced is False


def test_the_receiver_leaves_the_gc_off_after_a_paced_stream_when_it_was_off_before():
    """The receiver turns the cyclic GC on again only if it turned it off (a program may run without it)."""
    receiver = Receiver(protocol.Server(), lambda event: None, pin_cpu=False)
    gc.disable()
    try:
        receiver._tell_paced(True)
        assert not gc.isenabled()
        receiver._tell_paced(False)
        assert not gc.isenabled()
    finally:
        gc.enable()
    receiver._tell_paced(True)
    assert not gc.isenabled()
    receiver._tell_paced(False)
    assert gc.isenabled()


def test_real_receiver_and_real_senders(blocked_signals, tmp_path):
    """The app with ``signals.Receiver`` in its thread; three ``sigchat-send`` at once."""
    log = records.DurableLog(str(tmp_path / "log.jsonl"))
    # (pin_cpu=False: the receiver would gather pytest's own threads, and its children, on one CPU)
    app = SigchatApp(pid=os.getpid(), receiver_factory=receiver_factory(pin_cpu=False), log=log, tz=datetime.timezone.utc)
    app.animation_level = "none"
    messages = [f"real message {i} ✓".encode() for i in range(3)]

    async def body(app, pilot):
        procs = [
            subprocess.Popen(
                [*SEND_CMD, str(os.getpid()), message.decode()],
                preexec_fn=sigio.unblock_signals,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for message in messages
        ]
        try:
            deadline = time.monotonic() + 30
            while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
                await pilot.pause(0.02)
            codes = [p.wait(5) for p in procs]
            errors = [p.stderr.read().decode() for p in procs]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait(5)
                p.stderr.close()
        assert codes == [0, 0, 0], errors
        await settle(pilot, app)
        delivered = [e for e in app.entries if e.kind is Kind.DELIVERED]
        # Three senders at once may lose a bit (pitfall 3): then a transfer is
        # aborted and retried, and the log shows that too. Each message arrives once.
        assert sorted(e.data for e in delivered) == sorted(messages), [(e.kind, e.reason) for e in app.entries]
        assert all(e.name for e in delivered)
        assert {e.pid for e in delivered} == {p.pid for p in procs}
        assert app.receiver.alive
        text = "\n".join(log_text(app))
        for message in messages:
            assert message.decode() in text
        return app.receiver

    receiver = run(body, app)
    # Told to stop when the app quit (it polls its stop flag every 0.05 s; a loaded machine may take longer).
    assert receiver.stop_event.is_set()
    deadline = time.monotonic() + 10
    while receiver.alive and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not receiver.alive and receiver.error is None
    log.close()
    logged = [json.loads(line)["text"] for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert sorted(logged) == sorted(m.decode() for m in messages)


@pytest.mark.parametrize(
    ("integrity", "note", "verdict", "headline"),
    [
        ("acked", "", "○ classic: every bit acked", "hey"),
        ("unverified", "the NUL's last 2 bits never came: completed", "○ classic, unverified", "hey"),
        ("damaged", "bit lost at byte 1", "✗ classic, damaged (bit lost at byte 1)", "✗ DAMAGED (bit lost at byte 1) hey"),
    ],
)
def test_a_classic_entry_says_what_it_is_worth(integrity, note, verdict, headline) -> None:
    from sigchat.tui.model import Entry
    from sigchat.tui.widgets.chat_log import headline as headline_of, integrity as integrity_of

    stats = protocol.TransferStats(pid=4242, started_at=0.0, ended_at=1.0, length=3, bits=32)
    event = protocol.MessageDelivered(4242, b"hey", stats, False, "classic", "msb,usr2=1,nul,ack=none", integrity, note)
    entry = Entry(0, Kind.DELIVERED, 4242, None, 0.0, b"hey", stats, event=event, mode="classic", profile=event.profile)
    text, _ = integrity_of(entry)
    assert text.startswith(verdict) and (note in text)
    assert str(headline_of(entry, None)) == headline
    assert entry.damaged == (integrity == "damaged")
