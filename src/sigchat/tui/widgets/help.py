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
    ("q ctrl+c", "quit (also during a transfer); ctrl+q too"),
    ("↑ ↓ pgup pgdn", "move in the log; scrolling up pauses follow mode"),
    ("end", "jump to the newest message and follow again"),
    ("enter", "inspect the highlighted transfer (signals, hex, latency, timings)"),
    ("space", "expand or fold a long message"),
    ("v", "X-ray live: the frame of the transfer in flight, signal by signal, as it arrives"),
    ("/ ctrl+f", "find in the log: typing jumps to the newest match, enter to the next older one"),
    ("n N", "in the log: next older / newer match of the last search; escape closes the search"),
    ("f", "filter: pick a sender in the list (enter), 'All senders' shows everything"),
    ("a", "show all senders again"),
    ("c", "copy the highlighted message"),
    ("p", "copy the command that sends this server a message"),
    ("s", "save every transfer of this session as JSON lines"),
    ("x", "clear the view (saving still writes everything)"),
    ("1 2", "jump to the senders list (1) or the log (2); tab moves between them"),
    ("ctrl+p", "command palette (themes, screenshot, all of the above)"),
    ("?", "this help"),
)

NOTES = (
    ("sending", "holds the session: its bits are being received"),
    ("waiting", "queued behind the sender that holds the session (#position)"),
    ("idle", "finished its transfers, still running"),
    ("gone", "the process has exited (its name is kept)"),
    ("✓ / ✗ …", "CRC-32 verdict · size · frame bits · signals in session · bits resent (if any) · duration · payload bits/s"),
    ("in session", "signals the server counted from the signature's last bit (sigchat-send -v counts all 8)"),
    ("○ …", "classic minitalk message: delivered, but classic has no integrity check"),
    ("↵ \\x07 \\u202e", "newlines, control and format characters are shown escaped"),
    ("\\xff", "a byte that is not valid UTF-8 (\\x80 and up; below, an ASCII control)"),
    ("\\\\", "a backslash: every other \\ starts an escape"),
    ("binary, …", "a mostly binary payload: enter shows its hex dump"),
)


def _table(rows: tuple[tuple[str, str], ...], width: int) -> Content:
    return Content("\n").join(
        Content.assemble((f"{key:>{width}}  ", "$text-accent bold"), (text, "")) for key, text in rows
    )


def settings_rows(*, settings_file: str | None, data_dir: str) -> tuple[tuple[str, str], ...]:
    """Where the theme comes from and where files go."""
    remembered = f"remembered in {settings_file}" if settings_file else "not remembered in this session"
    return (
        ("--theme NAME", "start with this theme (sigchat-server --theme nord)"),
        ("TEXTUAL_THEME", "the same from the environment (TEXTUAL_THEME=nord sigchat-server), when --theme is not given"),
        ("ctrl+p Theme", f"the theme chosen in the palette is {remembered}, and used when neither is given"),
        ("s, Screenshot", f"saved sessions and the palette's screenshots go to {data_dir}"),
    )


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]

    def __init__(self, *, settings_file: str | None = None, data_dir: str = ".") -> None:
        super().__init__()
        self.settings = settings_rows(settings_file=settings_file, data_dir=data_dir)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static("Keys", classes="section")
            yield Static(_table(KEYS, 14))
            yield Static("What you see", classes="section")
            yield Static(_table(NOTES, 14))
            yield Static("Theme and files", classes="section")
            yield Static(_table(self.settings, 14))
            yield Static(Content.styled("escape closes this help", MUTED_STYLE))

    def on_mount(self) -> None:
        self.query_one("#help").border_title = "sigchat-server help"
