"""Find in the log: a one-row bar under it (``/`` or ctrl+f), as in toolong.

Typing jumps to the newest row that matches (case-insensitive: the message,
the sender's pid and name, why a transfer failed); enter goes on to the next
older match, escape closes the bar and leaves the highlight where it is. In
the log, n and N repeat the search, older and newer. The bar only says what
the app found (``show_status``); the app does the searching
(``SigchatApp.find``), over the rows in the view.

Hidden until opened; opening and closing lay the screen out (a key press, never
while a transfer runs on its own); updating the status only repaints it.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message
from textual.widgets import Input, Label

from sigchat.tui.text import MUTED_STYLE
from sigchat.tui.widgets.fitted import FittedLine, Item


class SearchBar(Horizontal):
    """``Find: [query]  2/5 · enter: older · esc: close``."""

    BINDINGS = [Binding("escape", "close", "Close", show=False)]

    class Closed(Message):
        """The user closed the bar (escape)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.input = Input(placeholder="text, pid or name", id="search-input", compact=True)
        self.status = FittedLine(id="search-status")

    def compose(self) -> ComposeResult:
        yield Label("Find:", id="search-label")
        yield self.input
        yield self.status

    def on_mount(self) -> None:
        self.input.cursor_blink = False

    @property
    def query(self) -> str:
        return self.input.value

    def open(self) -> None:
        self.display = True
        self.input.focus()

    def action_close(self) -> None:
        self.display = False
        self.post_message(self.Closed())

    def show_status(self, position: int | None, count: int) -> None:
        """``position`` of ``count`` matches (1 = oldest), or no match."""
        if not self.query:
            items = [Item.of(("type to find · enter: older · esc: close", MUTED_STYLE))]
        elif count == 0:
            items = [Item.of(("no match", "$text-warning bold"), keep=9)]
        else:
            where = f"{position}/{count}" if position is not None else f"{count}"
            items = [
                Item.of((where, "bold"), (" matches" if position is None else "", MUTED_STYLE), keep=9),
                Item.of(("enter: older", MUTED_STYLE), keep=2),
                Item.of(("esc: close", MUTED_STYLE), keep=1),
            ]
        self.status.show(items, prefix=Content("  "))
