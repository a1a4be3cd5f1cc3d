"""Bits received per second over the last minute, as a sparkline.

The app counts bits into one-second buckets (from progress samples and ended
transfers) and calls ``show`` once a second with the last 60 buckets.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Sparkline

from sigchat.tui.model import THROUGHPUT_WINDOW as WINDOW
from sigchat.format import human_rate
from sigchat.tui.text import MUTED_STYLE
from sigchat.tui.widgets.fitted import FittedLine, Item


class Throughput(Widget):
    """A sparkline of the last 60 one-second buckets and a one-line summary."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        # Kept, not queried: the app may update them before they are mounted.
        self._summary = FittedLine(id="throughput-summary")
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
        # One row (CSS) that drops "peak" rather than cut a number when narrow; a repaint, no layout (issue #6).
        self._summary.show(
            [
                Item.of(("now ", MUTED_STYLE), (human_rate(last), "bold"), keep=2),
                Item.of(("peak ", MUTED_STYLE), (human_rate(max(data)), "bold"), keep=1),
            ]
        )
