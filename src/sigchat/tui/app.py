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
``/proc`` lookups, the log, the environment and ``which`` for the clipboard,
the send command, the config and data directories) is injected through
``SigchatApp(...)``, so tests and screenshots are deterministic; widgets never
read clocks or ``/proc``. ``run_app`` passes the real ones
(``tui.settings``: where files go, the remembered theme, ``sigchat-send``'s path).
SIGUSR1/SIGUSR2 are blocked by ``sigchat.serve`` before this module starts any
thread (Textual's own threads inherit the mask).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.theme import BUILTIN_THEMES, Theme
from textual.widgets import Footer, Input, OptionList

from sigchat import SEND_COMMAND, SERVER_COMMAND, exit_codes
from sigchat.proto.server import Server
from sigchat.server.options import allowed_uids, build_server, classic_note
from sigchat.proto.wire import DEFAULT_MAX_BYTES
from sigchat.server.plain import open_log, report_stop
from sigchat.server.records import DurableLog, dumps
from sigchat.server.sink import EventSink, Kind
from sigchat.sigio import procfs
from sigchat.sigio.masks import STOP_SIGNALS
from sigchat.sigio.receiver import Receiver
from sigchat.tui import clipboard, settings
from sigchat.tui.bridge import Bridge
from sigchat.tui.messages import SenderRefused, ServerEventReceived, TransferProgress, TransferSnapshot
from sigchat.tui.model import Entry, SenderInfo, Session, log_records
from sigchat.format import human_bytes, plural
from sigchat.tui.text import MUTED_STYLE, message_label, sender_label
from sigchat.tui.widgets.banner import ServerBanner, send_command
from sigchat.tui.widgets.chat_log import ChatLog
from sigchat.tui.widgets.help import HelpScreen
from sigchat.tui.widgets.inflight import InFlight
from sigchat.tui.widgets.inspector import InspectorScreen
from sigchat.tui.widgets.save_dialog import SaveDialog
from sigchat.tui.widgets.search import SearchBar
from sigchat.tui.widgets.senders import SenderList
from sigchat.tui.widgets.throughput import WINDOW, Throughput
from sigchat.tui.widgets.xray import LiveXRayScreen

CLOCK_INTERVAL = 1.0
"""Seconds between two ticks of the app's clock (uptime, idle senders, throughput): see `_clock`."""

PROGRESS_INTERVAL = 0.25
"""Seconds between the receiver's progress reports to the UI. Each costs the app's
thread ~2 ms of rendering, taken from the receiver thread (they share the GIL):
at 0.1 s the UI cost 1-bit transfers ~15 % of their speed (issue #6)."""


class ReceiverLike(Protocol):
    """What the app needs from ``sigio.receiver.Receiver`` (tests pass a fake)."""

    error: BaseException | None
    watch: int | None
    """The pid whose transfer the live X-ray shows (snapshots come with the progress reports), or ``None``."""

    def start(self) -> object: ...

    def stop(self, timeout: float = ...) -> None: ...

    @property
    def alive(self) -> bool: ...


ReceiverFactory = Callable[[EventSink, Bridge], ReceiverLike]
ClipboardTool = Callable[[Sequence[str], str], "str | None"]
PANES = Binding.Group("Pane")


class SigchatApp(App[int]):
    """The server's screen: PID banner, senders, chat log, transfer in flight, throughput."""

    CSS_PATH = "app.tcss"
    TITLE = SERVER_COMMAND
    BINDINGS = [
        # ctrl+c quits as it does in plain mode (Textual would only say "press ctrl+q"), in an input too.
        # The footer keeps to what fits in 80 columns; the help screen lists every key.
        Binding("ctrl+c", "quit", "Quit", key_display="^c", priority=True),
        Binding("q", "quit", "Quit", show=False),
        Binding("question_mark,f1", "help", "Help", key_display="?"),
        Binding("slash,ctrl+f", "find", "Find", key_display="/"),
        Binding("n", "find_next", "Next match", show=False),
        Binding("N", "find_previous", "Previous match", show=False),
        Binding("f", "filter", "Filter", show=False),  # (1 does nearly the same, and is in the footer)
        Binding("a", "show_all", "All", show=False),
        Binding("i", "inspect", "Inspect", show=False),
        Binding("v", "xray_live", "X-ray live", show=False),
        Binding("c", "copy_message", "Copy"),
        Binding("p", "copy_command", "Copy cmd", show=False),  # (the banner says "p copies it")
        Binding("s", "save", "Save"),
        Binding("x", "clear", "Clear", show=False),
        Binding("1", "focus_senders", "Senders", group=PANES),
        Binding("2", "focus_log", "Log", group=PANES),
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
        data_dir: str = ".",
        config_dir: str | None = None,
        theme: str | None = None,
        send_program: str = SEND_COMMAND,
        environ: Mapping[str, str] | None = None,
        which: Callable[[str], str | None] = shutil.which,
        clipboard_tool: ClipboardTool = clipboard.run_tool,
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
            data_dir: Where "save log" proposes to write and screenshots go
                (made when a file is written; ``tui.settings.data_dir``).
            config_dir: Where the theme chosen in the palette is remembered
                (``tui.settings.config_dir``); ``None``: not remembered.
            theme: The theme to start with (``None``: Textual's default).
            send_program: How a shell runs ``sigchat-send`` (``tui.settings.send_program``),
                in the command shown and copied.
            environ: The environment, for how to copy (``None``: ``os.environ``).
            which: Finds a clipboard tool on ``PATH`` (``shutil.which``).
            clipboard_tool: Gives text to a clipboard tool (``clipboard.run_tool``;
                runs in a worker thread).
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
        self.data_dir = data_dir
        self.config_dir = config_dir
        self.send_command = send_command(pid, send_program)
        """The command shown and copied (``widgets.banner.send_command`` words it)."""
        self._environ = os.environ if environ is None else environ
        self._which = which
        self._clipboard_tool = clipboard_tool
        self._clipboard_route: clipboard.Route | None = None
        if theme is not None:
            self.theme = theme
        self._remembered_theme: str | None = None
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
        self._clock_handle: asyncio.TimerHandle | None = None
        self._live: LiveXRayScreen | None = None

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        # The widgets are made here once and kept: events update them whatever screen is on top.
        self.banner = ServerBanner(self.pid, command=self.send_command, id="banner")
        self.sender_list = SenderList(id="senders")
        self.log_view = ChatLog(tz=self.tz, max_rows=self.max_rows, max_bytes=self.max_bytes, id="log")
        self.search_bar = SearchBar(id="search")
        self.search_bar.display = False
        self._find_anchor: int | None = None
        self.inflight = InFlight(id="inflight")
        self.throughput = Throughput(id="throughput")
        yield self.banner
        with Horizontal(id="main"):
            yield self.sender_list
            with Vertical(id="log-column"):
                yield self.log_view
                yield self.search_bar
        with Horizontal(id="bottom"):
            yield self.inflight
            yield self.throughput
        yield Footer(compact=True)  # (compact: the keys that matter fit in 80 columns)

    def on_mount(self) -> None:
        self.sender_list.border_title = "Senders"
        self.log_view.border_title = "Messages"
        self.inflight.border_title = "In flight"
        self.throughput.border_title = f"Throughput, last {WINDOW} s"
        self.log_view.focus()
        self._update_empty_hint()
        self._clock()
        self._remembered_theme = self.theme
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        if self._handle_signals:
            loop = asyncio.get_running_loop()
            for signum in STOP_SIGNALS:
                loop.add_signal_handler(signum, self.exit)
        if self._receiver_factory is not None:
            self.receiver = self._receiver_factory(self.sink, self.bridge)
            self.receiver.start()

    def on_unmount(self) -> None:
        if self._clock_handle is not None:
            self._clock_handle.cancel()
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
        if entry is not None and entry.kind is Kind.PROFILE:
            # A hint says the server runs with the wrong profile: worth more than a row in the log.
            if not message.event.active:
                self.notify(entry.notice or "", title="Classic profile", severity="warning", timeout=20)
            return
        live = self._live
        if entry is not None and live is not None and entry.pid == live.pid and not live.finished:
            live.finish(entry)
            self._watch(None)

    def on_transfer_snapshot(self, message: TransferSnapshot) -> None:
        live = self._live
        if live is not None and message.pid == live.pid:
            live.update(message.data, message.stats)

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
        self.sender_list.update_senders(self.senders.values(), self.totals, self._monotonic())

    def _show_inflight(self) -> None:
        transfers, waiting = self.session.in_flight()
        self.inflight.show(transfers[0] if transfers else None, waiting, transfers[1:])

    # ------------------------------------------------------------------ once a second
    def _clock(self) -> None:
        """Tick now and again in CLOCK_INTERVAL seconds, from a plain event-loop timer.

        Not `set_interval`: a Textual Timer is a task that wakes, checks, `invoke`s and re-arms,
        ~0.3 ms of Python on the main thread each second even when `_tick` returns at once. That
        holds the GIL while the receiver thread reads a classic client that does not wait for acks,
        and two of its bits merge. Measured with unacked C clients (B/C at usleep(0) and (50),
        1,000 characters, a fresh UI per message, interleaved): 16 of 64 intact with this clock,
        3 of 64 with set_interval.
        """
        self._clock_handle = asyncio.get_running_loop().call_later(CLOCK_INTERVAL, self._clock)
        try:
            self._tick()
        except Exception as error:  # as a Textual Timer does: the app shows it and exits
            self._handle_exception(error)

    def _tick(self) -> None:
        if self.bridge.paced:
            return  # draw nothing while a classic client that does not wait for acks streams (tui.bridge)
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
                (self.send_command, "$text-accent bold"),
                (
                    "\n\nEach message appears here with its transfer statistics,"
                    " failed and rejected transfers too. ? shows all keys.",
                    MUTED_STYLE,
                ),
            )
        )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if isinstance(event.option_list, SenderList) and SenderList.is_group(event.option_id):
            self.sender_list.toggle_group(event.option_id)
        elif isinstance(event.option_list, SenderList):
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

    def action_xray_live(self) -> None:
        """The frame X-ray of the transfer in flight (the one the in-flight pane shows first), growing live."""
        transfers, _ = self.session.in_flight()
        if not transfers:
            self.notify("No transfer in flight", severity="warning")
            return
        transfer = transfers[0]
        self._live = LiveXRayScreen(transfer.pid, transfer.name, mode=transfer.mode, profile=transfer.profile)
        self._watch(transfer.pid)
        self.push_screen(self._live, self._live_closed)

    def _live_closed(self, _: object = None) -> None:
        self._live = None
        self._watch(None)

    def _watch(self, pid: int | None) -> None:
        """Ask the receiver for snapshots of ``pid``'s transfer (``None``: no more)."""
        if self.receiver is not None:
            self.receiver.watch = pid

    def action_copy_message(self) -> None:
        entry = self._current_entry()
        if entry is None or entry.kind in (Kind.REFUSED, Kind.PROFILE):
            self.notify("No message to copy", severity="warning")
            return
        what = message_label(entry.pid, entry.name, len(entry.data))
        self.copy_to_clipboard(entry.data.decode("utf-8", "backslashreplace"), what)

    def action_copy_command(self) -> None:
        self.copy_to_clipboard(self.send_command, self.send_command)

    # ------------------------------------------------------------------ the clipboard
    @property
    def clipboard_route(self) -> clipboard.Route:
        """How a copy gets to the clipboard here (looked up once)."""
        if self._clipboard_route is None:
            self._clipboard_route = clipboard.route(self._environ, self._which)
        return self._clipboard_route

    def copy_to_clipboard(self, text: str, what: str | None = None) -> None:
        """Copy with OSC 52 and, where the terminal may drop it, with a clipboard tool too.

        ``what``: the words for the notification, which says how the text was
        copied (``tui.clipboard``); ``None``: only a failure is reported.
        """
        super().copy_to_clipboard(text)
        route = self.clipboard_route
        if route.tool is not None:
            self._copy_with_tool(route, text, what)
        elif what is not None and route.osc52_known:
            self.notify(f"Copied {what}")
        elif what is not None:
            self.notify(route.osc52_note(), title=f"Copy {what}", severity="warning", timeout=10)

    @work(thread=True, group="clipboard")
    def _copy_with_tool(self, route: clipboard.Route, text: str, what: str | None) -> None:
        assert route.tool is not None
        problem = self._clipboard_tool(route.tool, text)
        if problem is None:
            if what is not None:
                self.call_from_thread(self.notify, f"Copied {what} with {route.tool_name}")
            return
        self.call_from_thread(
            self.notify,
            f"{route.tool_name} failed ({problem}). {route.osc52_note()}",
            title="Copy",
            severity="warning",
            timeout=10,
        )

    # ------------------------------------------------------------------ find in the log, panes
    def _on_main_screen(self) -> bool:
        return self.screen is self.screen_stack[0]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("find", "find_next", "find_previous", "focus_senders", "focus_log", "xray_live"):
            return self._on_main_screen()
        return True

    def action_find(self) -> None:
        self._find_anchor = self.log_view.highlighted
        self.search_bar.open()
        self.find(0)

    def action_find_next(self) -> None:
        if not self.search_bar.query:
            self.action_find()
        else:
            self.find(-1)

    def action_find_previous(self) -> None:
        if not self.search_bar.query:
            self.action_find()
        else:
            self.find(1)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input is self.search_bar.input:
            self.find(0)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input is self.search_bar.input:
            event.stop()
            self.find(-1)

    def on_search_bar_closed(self, _: SearchBar.Closed) -> None:
        self.log_view.focus()

    def find(self, step: int) -> int | None:
        """Highlight a row of the log that matches the search bar's text; its index.

        ``step`` 0: the newest match at or above where the search started (as
        you type); -1: the next older match; 1: the next newer one (both wrap).
        Only the rows in the view are searched (the filter and ``max_rows`` apply).
        """
        bar = self.search_bar
        log = self.log_view
        query = bar.query.casefold()
        shown = log.shown
        matches = [index for index, entry in enumerate(shown) if query in entry.search_text()] if query else []
        if not matches:
            bar.show_status(None, 0)
            return None
        current = log.highlighted
        if step == 0:
            anchor = self._find_anchor if self._find_anchor is not None else len(shown) - 1
            target = next((i for i in reversed(matches) if i <= anchor), matches[-1])
        elif step < 0:
            below = current if current is not None else len(shown)
            target = next((i for i in reversed(matches) if i < below), matches[-1])
        else:
            above = current if current is not None else -1
            target = next((i for i in matches if i > above), matches[0])
        log.highlighted = target
        bar.show_status(matches.index(target) + 1, len(matches))
        return target

    def action_focus_senders(self) -> None:
        self.sender_list.focus()

    def action_focus_log(self) -> None:
        self.log_view.focus()

    def action_clear(self) -> None:
        self._view_start = len(self.entries)
        self.log_view.set_entries([])
        self._update_empty_hint(cleared=True)
        self.notify(f"View cleared; saving still writes all {plural(len(self.entries), 'transfer')}")

    def action_help(self) -> None:
        settings_file = settings.settings_path(self.config_dir) if self.config_dir is not None else None
        self.push_screen(HelpScreen(settings_file=settings_file, data_dir=self.data_dir))

    # ------------------------------------------------------------------ files: the theme, saved sessions, screenshots
    def _remember_theme(self, theme: Theme) -> None:
        """The theme changed (the palette): remember it for the next start."""
        if theme.name == self._remembered_theme or self.config_dir is None:
            return
        self._remembered_theme = theme.name
        try:
            settings.remember_theme(self.config_dir, theme.name)
        except OSError as error:
            self.notify(f"Could not remember the theme: {error}", severity="warning")

    def _file_name(self, suffix: str) -> str:
        stamp = datetime.datetime.fromtimestamp(self._wall(), self.tz).strftime("%Y%m%d-%H%M%S")
        return f"sigchat-{self.pid}-{stamp}{suffix}"

    def default_save_path(self) -> str:
        return os.path.join(self.data_dir, self._file_name(".jsonl"))

    def _make_data_dir(self, path: str) -> None:
        """Make the data directory when ``path`` is in it (a path typed elsewhere must exist)."""
        directory = os.path.dirname(os.path.abspath(path))
        if directory == os.path.abspath(self.data_dir):
            os.makedirs(directory, exist_ok=True)

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """Save an SVG of the screen in the data directory (Textual's default, ~/Downloads, may not exist)."""
        target = os.path.join(path or self.data_dir, filename or self._file_name(".svg"))
        try:
            self._make_data_dir(target)
            saved = self.save_screenshot(os.path.basename(target), os.path.dirname(target))
        except OSError as error:
            self.notify(f"Could not save the screenshot: {error}", title="Screenshot", severity="error")
            return
        self.notify(f"Saved to {os.path.abspath(saved)}", title="Screenshot")

    def action_save(self) -> None:
        def chosen(path: str | None) -> None:
            if path:
                self.save_log(path)

        count = sum(1 for entry in self.entries if entry.event is not None)
        self.push_screen(SaveDialog(self.default_save_path(), count, directory=self.data_dir), chosen)

    def save_log(self, path: str) -> None:
        """Write every transfer of the session (not only the view) to ``path`` as JSON lines."""
        self._write_log(path, list(self.entries))

    @work(thread=True, exclusive=True, group="save")
    def _write_log(self, path: str, entries: list[Entry]) -> None:
        count = 0
        try:
            self._make_data_dir(path)
            with open(path, "x", encoding="utf-8") as file:
                for record in log_records(entries):
                    file.write(dumps(record) + "\n")
                    count += 1
        except OSError as error:
            self.call_from_thread(self.notify, f"Could not save: {error}", severity="error")
            return
        self.call_from_thread(self.notify, f"Saved {plural(count, 'transfer')} to {os.path.abspath(path)}")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title != "Screenshot":  # (Textual's saves to ~/Downloads, which may not exist)
                yield command
        yield SystemCommand(
            "Screenshot", f"Save an SVG screenshot in {self.data_dir}", lambda: self.set_timer(0.1, self.action_screenshot)
        )
        yield SystemCommand("Copy send command", f"Copy: {self.send_command}", self.action_copy_command)
        yield SystemCommand("Copy message", "Copy the highlighted message", self.action_copy_message)
        yield SystemCommand("Inspect transfer", "Signals, hex dump, latency and timings", self.action_inspect)
        yield SystemCommand("X-ray live", "The frame of the transfer in flight, signal by signal", self.action_xray_live)
        yield SystemCommand("Save log", "Write every transfer as JSON lines", self.action_save)
        yield SystemCommand("Clear view", "Empty the log view (saving still writes everything)", self.action_clear)
        yield SystemCommand("Show all senders", "Remove the sender filter", self.action_show_all)
        for sender in list(self.senders.values())[-20:]:
            label = sender_label(sender.pid, sender.name)
            yield SystemCommand(
                f"Show only {label}",
                f"{plural(sender.messages, 'message')}, {human_bytes(sender.bytes)}, {sender.state.value}",
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
            on_snapshot=bridge.on_snapshot,
            on_paced=bridge.on_paced,
            allowed_uids=allowed_uids,
            progress_interval=PROGRESS_INTERVAL,
            pin_cpu=pin_cpu,
            gather=True,
        )

    return build


def run_app(
    args: argparse.Namespace,
    *,
    environ: Mapping[str, str] = os.environ,
    which: Callable[[str], str | None] = shutil.which,
) -> int:
    """Run the app on this terminal until the user quits; the exit code.

    ``environ`` and ``which``: where the settings and files go, the theme, how
    to run ``sigchat-send`` and how to copy (tests pass their own).
    """
    theme = args.theme
    if theme is not None and theme not in BUILTIN_THEMES:
        names = ", ".join(sorted(BUILTIN_THEMES))
        print(f"{SERVER_COMMAND}: unknown theme {theme!r}; the themes are: {names}", file=sys.stderr)
        return exit_codes.USAGE
    config_dir = settings.config_dir(environ)
    theme = settings.pick_theme(theme, environ, settings.remembered_theme(config_dir), BUILTIN_THEMES)
    log, opened = open_log(args)
    if not opened:
        return exit_codes.FAILURE
    factory = receiver_factory(lambda: build_server(args), allowed_uids=allowed_uids(args), pin_cpu=not args.no_affinity)
    app = SigchatApp(
        pid=os.getpid(),
        receiver_factory=factory,
        log=log,
        max_bytes=args.max_bytes,
        note=classic_note(args.classic, auto=args.classic_auto, short=True),
        data_dir=settings.data_dir(environ),
        config_dir=config_dir,
        theme=theme,
        send_program=settings.send_program(which=which),
        environ=environ,
        which=which,
        handle_signals=True,
    )
    try:
        app.run()
    finally:
        app.stop_receiver()
        if log is not None:
            log.close()
    t = app.totals
    return report_stop(t.messages, t.bytes, [f"{plural(t.failed, 'transfer')} failed"], app.uptime, app.receiver_error)
