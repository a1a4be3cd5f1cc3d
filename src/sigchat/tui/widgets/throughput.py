"""Bits received per second over the last minute, as a sparkline.

The app counts bits into one-second buckets (from progress samples and ended
transfers) and calls ``show`` once a second with the last 60 buckets.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Sparkline, Static

from sigchat.tui.model import THROUGHPUT_WINDOW as WINDOW
from sigchat.format import human_rate
from sigchat.tui.text import MUTED_STYLE


class Throughput(Widget):
    """A sparkline of the last 60 one-second buckets and a one-line summary."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        # Kept, not queried: the app may update them before they are mounted.
        self._summary = Static(id="throughput-summary")
        self._sparkline = Sparkline([0.0] * WINDOW, id="throughput-sparkline")
        self.show([0.0] * WINDOW)

    def compose(self) -> ComposeResult:
        yield self._summary
        yield self._sparkline

    def show(self, buckets: Sequence[float]) -> None:
        """``buckets``: bits received in each of the last seconds, oldest first (the last is still filling)."""
        data = list(buckets)[-WINDOW:]
        data = [0.0] * (WINDOW - len(data)) + data
        self._sparkline.data = data
        last = data[-2] if len(data) > 1 else 0.0
        self._summary.update(
            Content.assemble(
                ("now ", MUTED_STYLE),
                (human_rate(last), "bold"),
                (" · peak ", MUTED_STYLE),
                (human_rate(max(data)), "bold"),
            ),
            layout=False,  # one row (CSS): no layout needed while a transfer runs (issue #6)
        )
