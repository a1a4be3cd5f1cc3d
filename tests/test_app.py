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
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from array import array
from pathlib import Path

import pytest
from textual.command import CommandPalette
from textual.widgets import Input, OptionList, Sparkline, Static

from sigchat.proto import api as protocol
from sigchat.server import records
from sigchat.tui import demo
from sigchat.sigio import masks as sigio
from sigchat.sigio.receiver import Receiver
from sigchat.server.sink import EventSink, Kind
from sigchat.tui.app import SigchatApp, receiver_factory
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

    def start(self) -> None:
        self.started = True

    def stop(self, timeout: float = 1.0) -> None:
        self.stopped = True

    @property
    def alive(self) -> bool:
        return self.started and not self.stopped and self.error is None


def make_app(clock: Clock | None = None, *, alive: set[int] | None = None, **kwargs) -> SigchatApp:
    kwargs.setdefault("receiver_factory", FakeReceiver)
    return demo.make_app(clock, alive=alive, **kwargs)


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
        assert f"✓ 15 B · {bits} bits · {bits + 1} signals · 0 resent" in lines
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
        assert "+760 bytes (space: expand)" in folded
        await pilot.press("down", "space")
        expanded = "\n".join(log_text(app))
        assert "(space: fold)" in expanded and "+760 bytes" not in expanded
        assert sum(char.isdigit() for line in log_text(app)[1:-1] for char in line[9:]) == 1000
        await pilot.press("space")
        assert "+760 bytes (space: expand)" in "\n".join(log_text(app))

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
        assert f"classic minitalk client ({profile})" in text and "○ 5 B" in text
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
        await pilot.press("down", "down", "enter")  # all, 4242, 4250
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
        stats.turbo, stats.words = True, protocol.word_count(len(data))
        clock.t = stats.ended_at - demo.MONO0
        app.sink.on_event(protocol.MessageDelivered(4250, data, stats))
        deliver(app, 4242, b"one bit at a time")
        await settle(pilot, app)
        turbo_entry, plain_entry = app.entries
        log = "\n".join(log_text(app))
        assert "resent · " in log and log.count(" · turbo") == 1
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
            f"turbo: the payload in {protocol.word_count(len(data)):,} sigqueue words of 6 bytes (+ a 16-bit tag), header and CRC 1 bit per signal",
            "1 bit per signal",
        ]

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

    run(body, make_app(save_dir=str(tmp_path)))


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
