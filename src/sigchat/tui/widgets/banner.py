"""The banner: the server PID in large digits, the command to send a message,
uptime and totals.

The PID and all numbers are given by the app (it gets the PID injected); this
widget never asks the operating system.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Digits, Label

from sigchat import SEND_COMMAND
from sigchat.tui.model import Totals
from sigchat.format import bits, human_bytes, noun, number, plural, uptime
from sigchat.tui.text import MUTED_STYLE
from sigchat.tui.widgets.fitted import FittedLine, Item

ACCENT = "$text-accent bold"


def send_command(pid: int, program: str = SEND_COMMAND) -> str:
    """The exact command a person types to send this server a message.

    ``program``: how to run ``sigchat-send`` from any shell (``tui.settings.send_program``:
    the absolute path when it is not on ``PATH``); the short name by default.
    """
    return f"{program} {pid} 'hello'"


class ServerBanner(Widget):
    """Big PID on the left; how to send, uptime and totals on the right.

    Each line on the right is one row that leaves out its least important
    parts when the terminal is narrow (``widgets.fitted``): the command and
    the counts are never cut.
    """

    def __init__(self, pid: int, *, command: str | None = None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.pid = pid
        self.command = command if command is not None else send_command(pid)
        # Kept, not queried: the app may update them before they are mounted.
        self._send = FittedLine(self._send_items(), separator="   ", id="send-line")
        self._status = FittedLine(id="status-line")
        self._totals = FittedLine(id="totals-line")

    def compose(self) -> ComposeResult:
        with Vertical(id="pid-box"):
            yield Label("SERVER PID", id="pid-label")
            yield Digits(str(self.pid), id="pid-digits")
        with Vertical(id="banner-text"):
            yield self._send
            yield self._status
            yield self._totals

    def _send_items(self) -> list[Item]:
        return [
            Item.of(("Send a message:", MUTED_STYLE), keep=1),
            Item.of((self.command, ACCENT), keep=9),
            Item.of(("p", "$text-primary bold"), (" copies it", MUTED_STYLE), keep=2),
        ]

    def update_status(
        self, *, up: float, totals: Totals, error: str | None = None, queued: int = 0, note: str | None = None
    ) -> None:
        """Show uptime and totals (``up`` in seconds); ``error`` if the receiver stopped."""
        if error:
            status = [Item.of(("✗ RECEIVER STOPPED: ", "$text-error bold"), (error, "$text-error"), keep=9)]
        else:
            status = [
                Item.of(("● listening", "$text-success bold"), (" on SIGUSR1/SIGUSR2", MUTED_STYLE), keep=9),
                Item.of((f"up {uptime(up)}", MUTED_STYLE), keep=3),
            ]
            if note:
                status.append(Item.of((note, MUTED_STYLE), keep=1))
            if queued:
                status.append(Item.of((f"{number(queued)} waiting", "$text-warning"), keep=5))
        # One row each (CSS): a repaint, no layout, which matters while a transfer runs (issue #6).
        self._status.show(status)
        failed_style = "$text-error bold" if totals.failed else MUTED_STYLE
        counts = [
            Item.of((number(totals.messages), "bold"), (f" {noun(totals.messages, 'message')}", MUTED_STYLE), keep=9),
            Item.of((human_bytes(totals.bytes), "bold"), keep=4),
            Item.of((bits(totals.bits), "bold"), (" received", MUTED_STYLE), keep=1),
            Item.of((f"{number(totals.failed)} failed/aborted", failed_style), keep=8),
        ]
        if totals.duplicates:
            counts.append(Item.of((f"{plural(totals.duplicates, 'repeat')} ignored", MUTED_STYLE), keep=2))
        self._totals.show(counts)
