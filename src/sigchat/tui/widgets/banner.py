"""The banner: the server PID in large digits, the command to send a message,
uptime and totals.

The PID and all numbers are given by the app (it gets the PID injected); this
widget never asks the operating system.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Digits, Label, Static

from sigchat import SEND_COMMAND
from sigchat.tui.model import Totals
from sigchat.format import human_bytes, human_count, uptime
from sigchat.tui.text import MUTED_STYLE


def send_command(pid: int) -> str:
    """The exact command a person types to send this server a message."""
    return f"{SEND_COMMAND} {pid} 'hello'"


class ServerBanner(Widget):
    """Big PID on the left; how to send, uptime and totals on the right."""

    def __init__(self, pid: int, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.pid = pid
        # Kept, not queried: the app may update them before they are mounted.
        self._status = Static(id="status-line")
        self._totals = Static(id="totals-line")

    def compose(self) -> ComposeResult:
        with Vertical(id="pid-box"):
            yield Label("SERVER PID", id="pid-label")
            yield Digits(str(self.pid), id="pid-digits")
        with Vertical(id="banner-text"):
            yield Static(self._send_line(), id="send-line")
            yield self._status
            yield self._totals

    def _send_line(self) -> Content:
        return Content.assemble(
            ("Send a message:  ", MUTED_STYLE),
            (send_command(self.pid), "$text-accent bold"),
            ("   p", "$text-primary bold"),
            (" copies it", MUTED_STYLE),
        )

    def update_status(
        self, *, up: float, totals: Totals, error: str | None = None, queued: int = 0, note: str | None = None
    ) -> None:
        """Show uptime and totals (``up`` in seconds); ``error`` if the receiver stopped."""
        if error:
            status = Content.assemble(("✗ RECEIVER STOPPED: ", "$text-error bold"), (error, "$text-error"))
        else:
            status = Content.assemble(
                ("● listening", "$text-success bold"),
                (f" on SIGUSR1/SIGUSR2 · up {uptime(up)}", MUTED_STYLE),
                (f" · {note}" if note else "", MUTED_STYLE),
                (f" · {queued} waiting" if queued else "", "$text-warning"),
            )
        # One row each (CSS): no layout needed, which matters while a transfer runs (issue #6).
        self._status.update(status, layout=False)
        failed_style = "$text-error bold" if totals.failed else MUTED_STYLE
        self._totals.update(
            Content.assemble(
                (f"{totals.messages:,}", "bold"),
                (" messages · ", MUTED_STYLE),
                (human_bytes(totals.bytes), "bold"),
                (" · ", MUTED_STYLE),
                (human_count(totals.bits, " bits") if totals.bits >= 10_000 else f"{totals.bits:,} bits", "bold"),
                (" received · ", MUTED_STYLE),
                (f"{totals.failed:,} failed/aborted", failed_style),
                (f" · {totals.duplicates} repeats ignored" if totals.duplicates else "", MUTED_STYLE),
            ),
            layout=False,
        )
