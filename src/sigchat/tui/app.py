"""``sigchat-server``'s Textual app: it draws the session model, the receiver thread feeds it.

Threads and what runs where:

* The receiver thread (``sigio.receiver.Receiver``) calls an
  ``server.sink.EventSink`` (``app.sink``): the ``--log`` file first, then
  ``tui.bridge.Bridge``, which posts one message per event (see there).
* The main thread runs Textual. Each message updates the Textual-free
  ``tui.model.Session`` (``app.session``), then the widgets that show what
  changed. It only does small updates per message, so it rarely holds the GIL
  the receiver thread needs for every bit: no layout while a transfer runs
  (``widgets.fixed_list``, ``widgets.inflight``), and no widget that is costly
  to update. The receiver thread gathers Textual's threads on its own CPU
  (``sigio.cpus.place_other_threads``), so that the GIL changes hands without
  waking another CPU.

Everything that varies (the PID, both clocks, the time zone, the receiver,
``/proc`` lookups, the log) is injected through ``SigchatApp(...)``, so tests
and screenshots are deterministic; widgets never read clocks or ``/proc``.
SIGUSR1/SIGUSR2 are blocked by ``sigchat.serve`` before this module starts any
thread (Textual's own threads inherit the mask).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import time
from collections.abc import Callable, Iterable
from typing import Protocol

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, OptionList

from sigchat import SERVER_COMMAND, exit_codes
from sigchat.proto.server import Server
from sigchat.server.options import allowed_uids, build_server, classic_note
from sigchat.proto.wire import DEFAULT_MAX_BYTES
from sigchat.server.plain import open_log, report_stop
from sigchat.server.records import DurableLog, dumps
from sigchat.server.sink import EventSink, Kind
from sigchat.sigio import procfs
from sigchat.sigio.masks import STOP_SIGNALS
from sigchat.sigio.receiver import Receiver
from sigchat.tui.bridge import Bridge
from sigchat.tui.messages import SenderRefused, ServerEventReceived, TransferProgress
from sigchat.tui.model import Entry, SenderInfo, Session, log_records
from sigchat.format import human_bytes
from sigchat.tui.text import MUTED_STYLE, sender_label
from sigchat.tui.widgets.banner import ServerBanner, send_command
from sigchat.tui.widgets.chat_log import ChatLog
from sigchat.tui.widgets.help import HelpScreen
from sigchat.tui.widgets.inflight import InFlight
from sigchat.tui.widgets.inspector import InspectorScreen
from sigchat.tui.widgets.save_dialog import SaveDialog
from sigchat.tui.widgets.senders import SenderList
from sigchat.tui.widgets.throughput import WINDOW, Throughput

PROGRESS_INTERVAL = 0.25
"""Seconds between the receiver's progress reports to the UI. Each costs the app's
thread ~2 ms of rendering, taken from the receiver thread (they share the GIL):
at 0.1 s the UI cost 1-bit transfers ~15 % of their speed (issue #6)."""


class ReceiverLike(Protocol):
    """What the app needs from ``sigio.receiver.Receiver`` (tests pass a fake)."""

    error: BaseException | None

    def start(self) -> object: ...

    def stop(self, timeout: float = ...) -> None: ...

    @property
    def alive(self) -> bool: ...


ReceiverFactory = Callable[[EventSink, Bridge], ReceiverLike]


class SigchatApp(App[int]):
    """The server's screen: PID banner, senders, chat log, transfer in flight, throughput."""

    CSS_PATH = "app.tcss"
    TITLE = SERVER_COMMAND
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("f", "filter", "Filter"),
        Binding("a", "show_all", "All", show=False),
        Binding("i", "inspect", "Inspect", show=False),
        Binding("c", "copy_message", "Copy msg"),
        Binding("p", "copy_command", "Copy cmd"),
        Binding("s", "save", "Save"),
        Binding("x", "clear", "Clear"),
        Binding("question_mark,f1", "help", "Help", key_display="?"),
    ]

    def __init__(
        self,
        *,
        pid: int,
        receiver_factory: ReceiverFactory | None = None,
        wall_clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        tz: datetime.tzinfo | None = None,
        log: DurableLog | None = None,
        comm: Callable[[int], str | None] = procfs.comm,
        is_alive: Callable[[int], bool] = procfs.is_alive,
        max_bytes: int | None = DEFAULT_MAX_BYTES,
        max_rows: int = 1000,
        save_dir: str = ".",
        note: str | None = None,
        handle_signals: bool = False,
    ) -> None:
        """
        Args:
            pid: The server's PID (shown, and in the send command).
            receiver_factory: Builds the receiver from the bridge; started on
                mount, stopped on unmount. ``None``: no receiver (tests post
                through ``app.bridge`` themselves).
            wall_clock: ``time.time`` (times shown and saved).
            monotonic: ``time.monotonic`` (uptime, rates; the receiver's clock).
            tz: Time zone for times shown (``None``: local).
            log: The ``--log`` file, appended to from the receiver thread.
            comm: Reads a process name (receiver thread, at contact).
            is_alive: Whether a pid still runs (once a second, for "gone").
            max_bytes: The server's limit, shown with rejected messages.
            max_rows: Rows the log view keeps (saving keeps everything).
            save_dir: Where "save log" proposes to write.
            note: A few words on the server's configuration, shown in the banner.
            handle_signals: Quit cleanly on SIGTERM/SIGINT/SIGHUP (``run_app``).
        """
        super().__init__()
        self.pid = pid
        self._receiver_factory = receiver_factory
        self._wall = wall_clock
        self._monotonic = monotonic
        self.tz = tz
        self._is_alive = is_alive
        self.max_bytes = max_bytes
        self.max_rows = max_rows
        self.save_dir = save_dir
        self._handle_signals = handle_signals
        self.note = note
        self.bridge = Bridge(self.post_message, monotonic=monotonic, comm=comm)
        self.sink = EventSink(self.bridge, log=log, wall_clock=wall_clock)
        """What the receiver calls (tests call it as the receiver would)."""
        self.session = Session(is_alive=is_alive)
        self.receiver: ReceiverLike | None = None
        self._started = monotonic()
        self._view_start = 0
        self._receiver_error_shown = False

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        # The widgets are made here once and kept: events update them whatever screen is on top.
        self.banner = ServerBanner(self.pid, id="banner")
        self.sender_list = SenderList(id="senders")
        self.log_view = ChatLog(tz=self.tz, max_rows=self.max_rows, max_bytes=self.max_bytes, id="log")
        self.inflight = InFlight(id="inflight")
        self.throughput = Throughput(id="throughput")
        yield self.banner
        with Horizontal(id="main"):
            yield self.sender_list
            yield self.log_view
        with Horizontal(id="bottom"):
            yield self.inflight
            yield self.throughput
        yield Footer()

    def on_mount(self) -> None:
        self.sender_list.border_title = "Senders"
        self.log_view.border_title = "Messages"
        self.inflight.border_title = "In flight"
        self.throughput.border_title = f"Throughput, last {WINDOW} s"
        self.log_view.focus()
        self._update_empty_hint()
        self._tick()
        self.set_interval(1.0, self._tick)
        if self._handle_signals:
            loop = asyncio.get_running_loop()
            for signum in STOP_SIGNALS:
                loop.add_signal_handler(signum, self.exit)
        if self._receiver_factory is not None:
            self.receiver = self._receiver_factory(self.sink, self.bridge)
            self.receiver.start()

    def on_unmount(self) -> None:
        self.stop_receiver()
        if self._handle_signals:
            loop = asyncio.get_running_loop()
            for signum in STOP_SIGNALS:
                loop.remove_signal_handler(signum)

    def stop_receiver(self) -> None:
        """Stop the receiver thread (it polls its stop flag every 0.05 s)."""
        if self.receiver is not None:
            self.receiver.stop(0.5)

    @property
    def uptime(self) -> float:
        return self._monotonic() - self._started

    @property
    def receiver_error(self) -> BaseException | None:
        return self.receiver.error if self.receiver is not None else None

    # ------------------------------------------------------------------ the session model
    @property
    def entries(self) -> list[Entry]:
        return self.session.entries

    @property
    def senders(self) -> dict[int, SenderInfo]:
        return self.session.senders

    @property
    def active(self) -> dict:
        return self.session.active

    @property
    def totals(self):
        return self.session.totals

    # ------------------------------------------------------------------ messages from the receiver thread
    def on_server_event_received(self, message: ServerEventReceived) -> None:
        sender, entry = self.session.apply(message.event, message.kind, message.wall_time, message.name)
        self._shown(sender, entry)
        self._show_inflight()

    def on_transfer_progress(self, message: TransferProgress) -> None:
        if self.session.progress(message.pid, message.bits, message.total, message.last, message.at):
            self._show_inflight()

    def on_sender_refused(self, message: SenderRefused) -> None:
        self._shown(*self.session.refused(message.pid, message.reason, message.wall_time, message.at, message.name))

    def _shown(self, sender: SenderInfo, entry: Entry | None) -> None:
        for pid in self.session.forget_old_senders(keep=self.sender_list.selected_pid):
            self.sender_list.forget(pid)
        if entry is not None:
            self.log_view.add_entry(entry)
        self.sender_list.update_senders([sender], self.totals, self._monotonic())

    def _show_inflight(self) -> None:
        transfers, waiting = self.session.in_flight()
        self.inflight.show(transfers[0] if transfers else None, waiting, transfers[1:])

    # ------------------------------------------------------------------ once a second
    def _tick(self) -> None:
        now = self._monotonic()
        self.session.tick(now)
        error = self.receiver_error
        if error is not None and not self._receiver_error_shown:
            self._receiver_error_shown = True
            self.notify(f"The receiver thread stopped: {error}", title="Receiver stopped", severity="error", timeout=30)
        self.banner.update_status(
            up=self.uptime,
            totals=self.totals,
            error=f"{type(error).__name__}: {error}" if error is not None else None,
            queued=self.session.queued(),
            note=self.note,
        )
        self.sender_list.update_senders(self.senders.values(), self.totals, now)
        self.throughput.show(self.session.throughput(now))

    # ------------------------------------------------------------------ user actions
    def _current_entry(self) -> Entry | None:
        log = self.log_view
        entry = log.highlighted_entry
        if entry is None and log.shown:
            entry = log.shown[-1]
        return entry

    def set_filter(self, pid: int | None) -> None:
        """Show only ``pid``'s transfers (``None``: everybody's)."""
        senders = self.sender_list
        log = self.log_view
        senders.selected_pid = pid
        log.filter_pid = pid
        log.set_entries(self.entries[self._view_start :])
        if pid is None:
            log.border_title = "Messages"
        else:
            sender = self.senders.get(pid)
            log.border_title = f"Messages from {sender_label(pid, sender.name if sender else None)}"
        self._update_empty_hint()
        senders.update_senders(self.senders.values(), self.totals, self._monotonic())

    def _update_empty_hint(self, *, cleared: bool = False) -> None:
        log = self.log_view
        pid = log.filter_pid
        if pid is not None:
            sender = self.senders.get(pid)
            first = f"Nothing from {sender_label(pid, sender.name if sender else None)} in this view yet."
        elif cleared:
            first = "View cleared. New messages appear here; s still saves the whole session."
        else:
            first = "No messages yet."
        log.set_empty_hint(
            Content.assemble(
                (first, "bold"),
                ("\n\nSend one from another terminal:\n\n  ", MUTED_STYLE),
                (send_command(self.pid), "$text-accent bold"),
                (
                    "\n\nEach message appears here with its transfer statistics,"
                    " failed and rejected transfers too. ? shows all keys.",
                    MUTED_STYLE,
                ),
            )
        )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if isinstance(event.option_list, SenderList):
            self.set_filter(SenderList.pid_of(event.option_id))
            self.log_view.focus()
        elif isinstance(event.option_list, ChatLog):
            self.action_inspect()

    def action_filter(self) -> None:
        senders = self.sender_list
        senders.focus()
        selected = senders.selected_pid
        option_id = "all" if selected is None else f"pid-{selected}"
        try:
            senders.highlighted = senders.get_option_index(option_id)
        except Exception:
            senders.highlighted = 0

    def action_show_all(self) -> None:
        self.set_filter(None)

    def action_inspect(self) -> None:
        entry = self._current_entry()
        if entry is None:
            self.notify("Nothing to inspect yet", severity="warning")
            return
        self.push_screen(InspectorScreen(entry, tz=self.tz))

    def action_copy_message(self) -> None:
        entry = self._current_entry()
        if entry is None or entry.kind is Kind.REFUSED:
            self.notify("No message to copy", severity="warning")
            return
        self.copy_to_clipboard(entry.data.decode("utf-8", "backslashreplace"))
        self.notify(f"Copied the message from {sender_label(entry.pid, entry.name)} ({len(entry.data):,} bytes)")

    def action_copy_command(self) -> None:
        self.copy_to_clipboard(send_command(self.pid))
        self.notify(f"Copied: {send_command(self.pid)}")

    def action_clear(self) -> None:
        self._view_start = len(self.entries)
        self.log_view.set_entries([])
        self._update_empty_hint(cleared=True)
        self.notify(f"View cleared; saving still writes all {len(self.entries):,} transfers")

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def default_save_path(self) -> str:
        stamp = datetime.datetime.fromtimestamp(self._wall(), self.tz).strftime("%Y%m%d-%H%M%S")
        return os.path.join(self.save_dir, f"sigchat-{self.pid}-{stamp}.jsonl")

    def action_save(self) -> None:
        def chosen(path: str | None) -> None:
            if path:
                self.save_log(path)

        count = sum(1 for entry in self.entries if entry.event is not None)
        self.push_screen(SaveDialog(self.default_save_path(), count), chosen)

    def save_log(self, path: str) -> None:
        """Write every transfer of the session (not only the view) to ``path`` as JSON lines."""
        self._write_log(path, list(self.entries))

    @work(thread=True, exclusive=True, group="save")
    def _write_log(self, path: str, entries: list[Entry]) -> None:
        count = 0
        try:
            with open(path, "x", encoding="utf-8") as file:
                for record in log_records(entries):
                    file.write(dumps(record) + "\n")
                    count += 1
        except OSError as error:
            self.call_from_thread(self.notify, f"Could not save: {error}", severity="error")
            return
        self.call_from_thread(self.notify, f"Saved {count:,} transfers to {path}")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Copy send command", f"Copy: {send_command(self.pid)}", self.action_copy_command)
        yield SystemCommand("Copy message", "Copy the highlighted message", self.action_copy_message)
        yield SystemCommand("Inspect transfer", "Signals, hex dump, latency and timings", self.action_inspect)
        yield SystemCommand("Save log", "Write every transfer as JSON lines", self.action_save)
        yield SystemCommand("Clear view", "Empty the log view (saving still writes everything)", self.action_clear)
        yield SystemCommand("Show all senders", "Remove the sender filter", self.action_show_all)
        for sender in list(self.senders.values())[-20:]:
            label = sender_label(sender.pid, sender.name)
            yield SystemCommand(
                f"Show only {label}",
                f"{sender.messages} messages, {human_bytes(sender.bytes)}, {sender.state.value}",
                lambda pid=sender.pid: self.set_filter(pid),
            )
        yield SystemCommand("Help", "Keys and what the screen shows", self.action_help)


def receiver_factory(
    server_factory: Callable[[], Server] = Server,
    *,
    allowed_uids: frozenset[int] | None = None,
    pin_cpu: bool = True,
) -> ReceiverFactory:
    """A factory for the real receiver: ``sigio.receiver.Receiver`` on ``server_factory()``."""

    def build(sink: EventSink, bridge: Bridge) -> ReceiverLike:
        return Receiver(
            server_factory(),
            sink.on_event,
            on_progress=bridge.on_progress,
            on_refused=sink.on_refused,
            allowed_uids=allowed_uids,
            progress_interval=PROGRESS_INTERVAL,
            pin_cpu=pin_cpu,
            gather=True,
        )

    return build


def run_app(args: argparse.Namespace) -> int:
    """Run the app on this terminal until the user quits; the exit code."""
    log, opened = open_log(args)
    if not opened:
        return exit_codes.FAILURE
    factory = receiver_factory(lambda: build_server(args), allowed_uids=allowed_uids(args), pin_cpu=not args.no_affinity)
    app = SigchatApp(
        pid=os.getpid(),
        receiver_factory=factory,
        log=log,
        max_bytes=args.max_bytes,
        note=classic_note(args.classic, short=True),
        handle_signals=True,
    )
    try:
        app.run()
    finally:
        app.stop_receiver()
        if log is not None:
            log.close()
    t = app.totals
    return report_stop(t.messages, t.bytes, [f"{t.failed} transfers failed"], app.uptime, app.receiver_error)
