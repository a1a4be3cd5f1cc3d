"""The "save log" dialog: asks where to write the session's JSON lines.

It proposes a file in the app's data directory (``tui.settings.data_dir``,
made when the file is written) and says so; any other path may be typed.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from sigchat.tui.text import MUTED_STYLE


class SaveDialog(ModalScreen[str | None]):
    """Dismisses with the path typed (enter), or ``None`` (escape)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, default_path: str, count: int, *, directory: str | None = None) -> None:
        super().__init__()
        self.default_path = default_path
        self.count = count
        self.directory = directory

    def compose(self) -> ComposeResult:
        with Vertical(id="save-dialog"):
            yield Static(
                Content.assemble(
                    f"Save all {self.count:,} transfers of this session as JSON lines",
                    (" (same format as --json / --log).", MUTED_STYLE),
                )
            )
            if self.directory is not None:
                yield Static(
                    Content.assemble(
                        ("Saved sessions go to ", MUTED_STYLE),
                        (self.directory, "$text-accent"),
                        (" (made if needed); type another path to save elsewhere.", MUTED_STYLE),
                    ),
                    id="save-where",
                )
            yield Input(self.default_path, id="save-path")
            yield Static(Content.styled("enter saves · escape cancels · an existing file is not overwritten", MUTED_STYLE))

    def on_mount(self) -> None:
        self.query_one("#save-dialog").border_title = "Save log"
        self.query_one(Input).cursor_blink = False

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
