"""``sigchat-server``'s Textual app: the receiver thread posts, the UI shows.

Threads and what runs where:

* The receiver thread (``signals.Receiver``) calls ``Bridge.on_event``,
  ``on_progress`` and ``on_refused``. The bridge reads the sender's process
  name at contact, appends a delivered message to the ``--log`` file (fsynced,
  before the protocol sends its "intact" verdict), and posts exactly one
  message per event with ``App.post_message`` (thread-safe, never blocks; no
  ``call_from_thread``), in the order of the events. Progress is already
  throttled by the receiver (to ``PROGRESS_INTERVAL``), and a newer progress
  message replaces an older queued one. The start and header of a native
  transfer are held back until its first progress report or the next other
  event, whichever comes first: drawing them costs the app's thread ~20 ms
  while the transfer runs, which doubled the time of a short message.
* The main thread runs Textual. It only does small updates per message, so it
  rarely holds the GIL the receiver thread needs for every bit: no layout while
  a transfer runs (``widgets.FixedOptionList``, ``widgets/inflight.py``), and no
  widget that is costly to update. The receiver thread gathers Textual's
  threads on its own CPU (``signals.place_other_threads``), so that the GIL
  changes hands without waking another CPU.

Everything that varies (the PID, both clocks, the time zone, the receiver,
``/proc`` lookups, the log) is injected through ``SigchatApp(...)``, so tests
and screenshots are deterministic; widgets never read clocks or ``/proc``.
SIGUSR1/SIGUSR2 are blocked by ``server.main`` before this module starts any
thread (Textual's own threads inherit the mask).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import signal
import sys
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

from sigchat import exit_codes, procfs, protocol, records
from sigchat.messages import (
    ActiveTransfer,
    Entry,
    EntryKind,
    SenderInfo,
    SenderRefused,
    SenderState,
    ServerEventReceived,
    Totals,
    TransferProgress,
)
from sigchat.widgets import MUTED_STYLE, human_bytes, sender_label
from sigchat.widgets.banner import ServerBanner, send_command
from sigchat.widgets.chat_log import ChatLog
from sigchat.widgets.help import HelpScreen
from sigchat.widgets.inflight import InFlight
from sigchat.widgets.inspector import InspectorScreen
from sigchat.widgets.save_dialog import SaveDialog
from sigchat.widgets.senders import SenderList
from sigchat.widgets.throughput import WINDOW, Throughput

PROG = "sigchat-server"
MAX_SENDERS = 200
"""Senders kept in the list; the oldest that are gone (then idle) make room."""
REFUSED_REPEAT = 10.0
"""A pid refused again within this many seconds is not logged again."""
RATE_WINDOW = 1.0
"""Seconds of progress samples behind the "current" bits/s."""
PROGRESS_INTERVAL = 0.25
"""Seconds between the receiver's progress reports to the UI. Each costs the app's
thread ~2 ms of rendering, taken from the receiver thread (they share the GIL):
at 0.1 s the UI cost 1-bit transfers ~15 % of their speed (issue #6)."""


class ReceiverLike(Protocol):
    """What the app needs from ``signals.Receiver`` (tests pass a fake)."""

    error: BaseException | None

    def start(self) -> object: ...

    def stop(self, timeout: float = ...) -> None: ...

    @property
    def alive(self) -> bool: ...


class Bridge:
    """The receiver thread's side of the app: callbacks in, posted messages out.

    Every method runs in the receiver thread and must be quick. The ``post``
    callable is ``App.post_message``.
    """

    NAME_CACHE = 4096

    def __init__(
        self,
        post: Callable[[object], object],
        *,
        wall_clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        comm: Callable[[int], str | None] = procfs.comm,
        log: records.DurableLog | None = None,
    ) -> None:
        self._post = post
        self._wall = wall_clock
        self._monotonic = monotonic
        self._comm = comm
        self.log = log
        self._names: dict[int, str | None] = {}
        self._held: list[ServerEventReceived] = []  # a native transfer's start and header, not posted yet

    def _name(self, pid: int, *, contact: bool) -> str | None:
        """The process name, read from /proc at contact (each new transfer or queueing)."""
        names = self._names
        if contact or pid not in names:
            name = self._comm(pid)
            if name is not None or pid not in names:
                names.pop(pid, None)
                names[pid] = name
                if len(names) > self.NAME_CACHE:
                    del names[next(iter(names))]
        return names.get(pid)

    def post(self, message: object) -> None:
        try:
            self._post(message)
        except RuntimeError:  # the app's event loop is already closed: we are shutting down
            pass

    def on_event(self, event: protocol.ServerEvent) -> None:
        contact = isinstance(event, (protocol.SenderQueued, protocol.TransferStarted))
        name = self._name(event.pid, contact=contact)
        wall = self._wall()
        if isinstance(event, protocol.MessageDelivered) and not event.duplicate and self.log is not None:
            # Before returning: the protocol sends the "intact" verdict after this.
            self.log.append(records.delivered_record(event, wall))
        message = ServerEventReceived(event, wall, name)
        if self._holds(event):
            self._held.append(message)
            return
        self.flush()
        self.post(message)

    def _holds(self, event: protocol.ServerEvent) -> bool:
        """Whether ``event`` waits for the next progress report (see the module docstring)."""
        if isinstance(event, protocol.TransferStarted):
            return event.mode == "native"
        held = self._held
        return isinstance(event, protocol.HeaderReceived) and any(message.event.pid == event.pid for message in held)

    def flush(self) -> None:
        """Post the held events (the receiver's progress reports do)."""
        held, self._held = self._held, []
        for message in held:
            self.post(message)

    def on_progress(self, progress: tuple) -> None:
        self.flush()
        if progress is None:
            return
        pid, bits, total, started, last = progress
        self.post(TransferProgress(pid, bits, total, started, last, self._monotonic()))

    def on_refused(self, pid: int, reason: str) -> None:
        self.flush()
        name = self._name(pid, contact=True)
        self.post(SenderRefused(pid, reason, self._wall(), self._monotonic(), name))


ReceiverFactory = Callable[[Bridge], ReceiverLike]


def _event_time(event: protocol.ServerEvent) -> float:
    if isinstance(event, (protocol.MessageDelivered, protocol.TransferAborted)):
        return event.stats.ended_at
    return event.at


class SigchatApp(App[int]):
    """The server's screen: PID banner, senders, chat log, transfer in flight, throughput."""

    CSS_PATH = "app.tcss"
    TITLE = "sigchat-server"
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
        log: records.DurableLog | None = None,
        comm: Callable[[int], str | None] = procfs.comm,
        is_alive: Callable[[int], bool] = procfs.is_alive,
        max_bytes: int | None = protocol.DEFAULT_MAX_BYTES,
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
        self.bridge = Bridge(self.post_message, wall_clock=wall_clock, monotonic=monotonic, comm=comm, log=log)
        self.receiver: ReceiverLike | None = None
        self._started = monotonic()
        self.entries: list[Entry] = []
        self._view_start = 0
        self.senders: dict[int, SenderInfo] = {}
        self.active: dict[int, ActiveTransfer] = {}
        self.totals = Totals()
        self._bits_seen: dict[int, int] = {}
        self._buckets: dict[int, float] = {}
        self._refused_at: dict[int, float] = {}
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
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.add_signal_handler(signum, self.exit)
        if self._receiver_factory is not None:
            self.receiver = self._receiver_factory(self.bridge)
            self.receiver.start()

    def on_unmount(self) -> None:
        self.stop_receiver()
        if self._handle_signals:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
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

    # ------------------------------------------------------------------ state changes
    def _sender(self, pid: int, name: str | None, at: float) -> SenderInfo:
        sender = self.senders.get(pid)
        if sender is None:
            sender = self.senders[pid] = SenderInfo(pid, name, at, at)
            self._forget_old_senders()
        elif name is not None and name != sender.name:
            sender.name = name
        sender.last_seen = max(sender.last_seen, at)
        return sender

    def _forget_old_senders(self) -> None:
        if len(self.senders) <= MAX_SENDERS:
            return
        for state in (SenderState.GONE, SenderState.IDLE):
            candidates = sorted(
                (s for s in self.senders.values() if s.state is state and s.pid != self.sender_list.selected_pid),
                key=lambda s: s.last_seen,
            )
            for sender in candidates[: len(self.senders) - MAX_SENDERS]:
                del self.senders[sender.pid]
                self.sender_list.forget(sender.pid)
            if len(self.senders) <= MAX_SENDERS:
                return

    def _account_bits(self, pid: int, bits: int, at: float) -> None:
        """Add the bits ``pid`` sent since the last count to the second ``at`` falls in."""
        delta = bits - self._bits_seen.get(pid, 0)
        self._bits_seen[pid] = bits
        if delta > 0:
            second = int(at)
            self._buckets[second] = self._buckets.get(second, 0.0) + delta

    def _add_entry(self, entry: Entry) -> None:
        self.entries.append(entry)
        self.log_view.add_entry(entry)

    def _new_entry(
        self,
        kind: EntryKind,
        pid: int,
        name: str | None,
        wall: float,
        event: protocol.MessageDelivered | protocol.TransferAborted | None = None,
        **fields,
    ) -> Entry:
        if event is not None:
            fields.update(
                stats=event.stats, mode=getattr(event, "mode", "native"), profile=getattr(event, "profile", None) or None
            )
        return Entry(len(self.entries), kind, pid, name, wall, event=event, **fields)

    def _show_sender(self, sender: SenderInfo) -> None:
        self.sender_list.update_senders([sender], self.totals, self._monotonic())

    def _show_inflight(self) -> None:
        transfers = sorted(self.active.values(), key=lambda a: (a.mode != "native", a.started))
        waiting = sorted(
            (s for s in self.senders.values() if s.state is SenderState.WAITING),
            key=lambda s: s.queue_position or 0,
        )
        self.inflight.show(transfers[0] if transfers else None, waiting, transfers[1:])

    # ------------------------------------------------------------------ messages from the receiver thread
    def on_server_event_received(self, message: ServerEventReceived) -> None:
        event = message.event
        at = _event_time(event)
        sender = self._sender(event.pid, message.name, at)
        name = sender.name
        if isinstance(event, protocol.SenderQueued):
            sender.state = SenderState.WAITING
            sender.queue_position = event.position
        elif isinstance(event, protocol.TransferStarted):
            mode = getattr(event, "mode", "native")
            sender.state = SenderState.SENDING
            sender.queue_position = None
            sender.mode = mode
            self.active[event.pid] = ActiveTransfer(event.pid, name, event.at, last=event.at, mode=mode)
            self._bits_seen[event.pid] = 0
            if mode == "native":
                # The queue moved up by one.
                for other in self.senders.values():
                    if other.state is SenderState.WAITING and other.queue_position and other.queue_position > 1:
                        other.queue_position -= 1
        elif isinstance(event, protocol.HeaderReceived):
            active = self.active.get(event.pid)
            if active is not None:
                active.length = event.length
                active.total = protocol.frame_bit_count(event.length)
                active.turbo = event.turbo
        elif isinstance(event, protocol.MessageDelivered):
            self._finish(event.pid, event.stats)
            sender.state = SenderState.IDLE
            if event.duplicate:
                self.totals.duplicates += 1
                kind = EntryKind.DUPLICATE
            else:
                sender.messages += 1
                sender.bytes += len(event.data)
                self.totals.messages += 1
                self.totals.bytes += len(event.data)
                kind = EntryKind.DELIVERED
            self._add_entry(self._new_entry(kind, event.pid, name, message.wall_time, event, data=event.data))
        elif isinstance(event, protocol.TransferAborted):
            self._finish(event.pid, event.stats)
            gone = event.reason is protocol.AbortReason.SENDER_GONE
            sender.state = SenderState.GONE if gone else SenderState.IDLE
            sender.failed += 1
            self.totals.failed += 1
            kind = EntryKind.REJECTED if event.reason is protocol.AbortReason.TOO_LARGE else EntryKind.ABORTED
            self._add_entry(
                self._new_entry(kind, event.pid, name, message.wall_time, event, data=event.partial, reason=event.reason)
            )
        self._show_sender(sender)
        self._show_inflight()

    def _finish(self, pid: int, stats: protocol.TransferStats) -> None:
        self._account_bits(pid, stats.bits, stats.ended_at)
        self._bits_seen.pop(pid, None)
        self.active.pop(pid, None)
        self.totals.bits += stats.bits

    def on_transfer_progress(self, message: TransferProgress) -> None:
        active = self.active.get(message.pid)
        if active is None:
            return  # the transfer ended meanwhile
        self._account_bits(message.pid, message.bits, message.last)
        active.bits = message.bits
        active.total = message.total if message.total is not None else active.total
        active.last = message.last
        samples = active.samples
        samples.append((message.at, message.bits))
        while len(samples) > 2 and samples[1][0] <= message.at - RATE_WINDOW:
            samples.pop(0)
        self._show_inflight()

    def on_sender_refused(self, message: SenderRefused) -> None:
        sender = self._sender(message.pid, message.name, message.at)
        sender.state = SenderState.GONE if "exited" in message.reason else SenderState.IDLE
        previous = self._refused_at.get(message.pid)
        self._refused_at[message.pid] = message.at
        if previous is None or message.at - previous > REFUSED_REPEAT:
            sender.failed += 1
            self.totals.failed += 1
            self.totals.refused += 1
            self._add_entry(
                self._new_entry(EntryKind.REFUSED, message.pid, sender.name, message.wall_time, refusal=message.reason)
            )
        self._show_sender(sender)

    # ------------------------------------------------------------------ once a second
    def _tick(self) -> None:
        now = self._monotonic()
        for sender in self.senders.values():
            if sender.state in (SenderState.IDLE, SenderState.WAITING) and not self._is_alive(sender.pid):
                sender.state = SenderState.GONE
                sender.queue_position = None
        second = int(now)
        for old in [key for key in self._buckets if key <= second - WINDOW]:
            del self._buckets[old]
        error = self.receiver_error
        if error is not None and not self._receiver_error_shown:
            self._receiver_error_shown = True
            self.notify(f"The receiver thread stopped: {error}", title="Receiver stopped", severity="error", timeout=30)
        queued = sum(1 for s in self.senders.values() if s.state is SenderState.WAITING)
        self.banner.update_status(
            up=self.uptime,
            totals=self.totals,
            error=f"{type(error).__name__}: {error}" if error is not None else None,
            queued=queued,
            note=self.note,
        )
        self.sender_list.update_senders(self.senders.values(), self.totals, now)
        self.throughput.show([self._buckets.get(s, 0.0) for s in range(second - WINDOW + 1, second + 1)])

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
        if entry is None or entry.kind is EntryKind.REFUSED:
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
                    file.write(records.dumps(record) + "\n")
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


def log_records(entries: Iterable[Entry]) -> Iterable[dict]:
    """The JSON records of a session (``records`` format): deliveries and aborted transfers."""
    for entry in entries:
        event = entry.event
        if isinstance(event, protocol.MessageDelivered):
            yield records.delivered_record(event, entry.wall_time)
        elif isinstance(event, protocol.TransferAborted):
            yield records.aborted_record(event, entry.wall_time)
        # A refused sender has no record: no transfer took place.


def receiver_factory(
    server_factory: Callable[[], protocol.Server] = protocol.Server,
    *,
    allowed_uids: frozenset[int] | None = None,
    pin_cpu: bool = True,
) -> ReceiverFactory:
    """A factory for the real receiver: ``signals.Receiver`` on ``server_factory()``."""

    def build(bridge: Bridge) -> ReceiverLike:
        from sigchat import signals as sigio

        return sigio.Receiver(
            server_factory(),
            bridge.on_event,
            on_progress=bridge.on_progress,
            on_refused=bridge.on_refused,
            allowed_uids=allowed_uids,
            progress_interval=PROGRESS_INTERVAL,
            pin_cpu=pin_cpu,
            gather=True,
        )

    return build


def _classic_label(profile: object | None) -> str | None:
    """``+ classic msb,usr2=1,nul,ack=usr1`` (or ``classic only ...``) for the banner."""
    if profile is None:
        return None
    only = not getattr(profile, "native_compatible", True)
    return f"{'classic clients only' if only else '+ classic clients'}: {profile}"


def run_app(args: argparse.Namespace) -> int:
    """Run the app on this terminal until the user quits; the exit code."""
    try:
        log = records.DurableLog(args.log) if args.log else None
    except OSError as error:
        print(f"{PROG}: cannot open the --log file: {error}", file=sys.stderr)
        return exit_codes.FAILURE
    from sigchat.server import build_server, report_stop

    factory = receiver_factory(
        lambda: build_server(args),
        allowed_uids=frozenset({os.getuid(), 0, *args.allow_uid}),
        pin_cpu=not args.no_affinity,
    )
    app = SigchatApp(
        pid=os.getpid(),
        receiver_factory=factory,
        log=log,
        max_bytes=args.max_bytes,
        note=_classic_label(getattr(args, "classic", None)),
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


__all__ = ["Bridge", "ReceiverLike", "SigchatApp", "log_records", "run_app"]
