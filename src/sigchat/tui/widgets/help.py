"""The help screen (``?``): keys, and what the columns and states mean."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from sigchat.tui.text import MUTED_STYLE

KEYS = (
    ("q / ctrl+q", "quit (also during a transfer)"),
    ("↑ ↓ pgup pgdn", "move in the log; scrolling up pauses follow mode"),
    ("end", "jump to the newest message and follow again"),
    ("enter", "inspect the highlighted transfer (signals, hex, latency, timings)"),
    ("space", "expand or fold a long message"),
    ("f", "filter: pick a sender in the list (enter), 'All senders' shows everything"),
    ("a", "show all senders again"),
    ("c", "copy the highlighted message"),
    ("p", "copy the command that sends this server a message"),
    ("s", "save every transfer of this session as JSON lines"),
    ("x", "clear the view (saving still writes everything)"),
    ("tab", "move between the senders list and the log"),
    ("ctrl+p", "command palette (themes, all of the above)"),
    ("?", "this help"),
)

NOTES = (
    ("sending", "holds the session: its bits are being received"),
    ("waiting", "queued behind the sender that holds the session (#position)"),
    ("idle", "finished its transfers, still running"),
    ("gone", "the process has exited (its name is kept)"),
    ("✓ / ✗ …", "CRC-32 verdict · size · frame bits · signals · bits resent · duration · payload bits/s"),
    ("↵ \\x07 \\u202e", "newlines, control and format characters are shown escaped"),
    ("\\xff", "a byte that is not valid UTF-8"),
)


def _table(rows: tuple[tuple[str, str], ...], width: int) -> Content:
    return Content("\n").join(
        Content.assemble((f"{key:>{width}}  ", "$text-accent bold"), (text, "")) for key, text in rows
    )


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static("Keys", classes="section")
            yield Static(_table(KEYS, 14))
            yield Static("What you see", classes="section")
            yield Static(_table(NOTES, 14))
            yield Static(Content.styled("escape closes this help", MUTED_STYLE))

    def on_mount(self) -> None:
        self.query_one("#help").border_title = "sigchat-server help"
