"""The transfer in flight: a progress bar (the length is known from the
header), % done, current bits/s and ETA, plus the senders waiting their turn.

The protocol runs one session at a time (rule 1), so there is at most one bar;
queued senders are listed under it. The app calls ``show`` a few times a second
(the receiver throttles progress to ``app.PROGRESS_INTERVAL``).

While a transfer runs, every millisecond the app's thread spends here is taken
from the receiver thread (they share the GIL, and the receiver waits for it),
so an update must be cheap (issue #6). ``Static.update`` lays the whole screen
out again by default: 10 times a second that cost the receiver about a third of
its speed. Textual's ``ProgressBar`` (three widgets with reactive attributes)
cost ~5 ms of the app's thread per update. So the title and detail lines are
one row high (CSS) and repaint without a layout, a line is only updated when
its text changes, and the bar is one widget that draws itself as text and is
blank between transfers (showing or hiding a widget lays the screen out).
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Static

from sigchat.tui.model import ActiveTransfer, SenderInfo
from sigchat.format import bits, human_bytes, human_duration, human_rate, noun, number
from sigchat.tui.text import MUTED_STYLE, safe_name, sender_label


class ProgressLine(Widget):
    """A one-row progress bar with its percentage, drawn as text; blank while ``total`` is ``None``.

    Blank rather than hidden: showing or hiding a widget lays the screen out.
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.done = 0
        self.total: int | None = None

    def update(self, done: int, total: int | None) -> None:
        if (done, total) != (self.done, self.total):
            self.done, self.total = done, total
            self.refresh()

    def render(self) -> Content:
        if self.total is None:
            return Content("")
        fraction = min(max(self.done / self.total, 0.0), 1.0) if self.total > 0 else 0.0
        percent = min(round(fraction * 100), 99) if fraction < 1.0 else 100  # (100% only when done)
        label = f"  {percent:3d}%"
        width = max(self.content_region.width - len(label), 0)
        halves = int(fraction * width * 2)  # "╸" draws the last half cell
        full, half = divmod(halves, 2)
        return Content.assemble(
            ("━" * full + "╸" * half, "$success"),
            ("━" * (width - full - half), "$foreground 15%"),
            (label, ""),
        )


class InFlight(Widget):
    """Progress of the running transfer and the queue behind it."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        # Kept, not queried: the app may update them before they are mounted.
        self._title = Static(id="inflight-title")
        self._bar = ProgressLine(id="inflight-bar")
        self._detail = Static(id="inflight-detail")
        self._queue = Static(id="inflight-queue")
        self._shown: dict[Static, Content | str] = {}
        self.show(None, [])

    def compose(self) -> ComposeResult:
        yield self._title
        yield self._bar
        yield self._detail
        yield self._queue

    def show(
        self, active: ActiveTransfer | None, waiting: Sequence[SenderInfo], others: Sequence[ActiveTransfer] = ()
    ) -> None:
        """``active``: the transfer with the bar; ``others``: classic clients receiving meanwhile."""
        title, bar, detail, queue, line = self._title, self._bar, self._detail, self._queue, self._line
        if active is None:
            line(title, Content.styled("No transfer in progress", MUTED_STYLE))
            bar.update(0, None)
            line(detail, "")
        else:
            size = f"{human_bytes(active.length)} message" if active.length is not None else "reading the header…"
            if active.mode != "native":
                size = f"{active.mode} client" + (f", {human_bytes(active.length)}" if active.length is not None else "")
            elif active.turbo:
                size += " · turbo words (6 bytes per signal)"
            line(
                title,
                Content.assemble(
                    ("▶ ", "$text-success bold"),
                    (f"{active.pid} ", "bold"),
                    (safe_name(active.name) if active.name else "", "$text-secondary"),
                    (f"  {size}", MUTED_STYLE),
                ),
            )
            bar.update(active.bits, active.total or 0)
            eta = active.eta
            line(
                detail,
                Content.assemble(
                    (number(active.bits), "bold"),
                    (f" / {bits(active.total)}" if active.total else f" {noun(active.bits, 'bit')}", MUTED_STYLE),
                    (" · ", MUTED_STYLE),
                    (human_rate(active.rate), "bold"),
                    (" · ETA ", MUTED_STYLE),
                    (human_duration(eta) if eta is not None else "–", "bold"),
                ),
            )
        lines: list[Content] = []
        if others:
            names = ", ".join(f"{sender_label(other.pid, other.name)} ({other.mode})" for other in others[:4])
            more = f" +{len(others) - 4}" if len(others) > 4 else ""
            lines.append(Content.assemble(("also receiving: ", "$text-success"), (names + more, MUTED_STYLE)))
        if waiting:
            names = ", ".join(
                f"#{sender.queue_position or '?'} {sender_label(sender.pid, sender.name)}" for sender in waiting[:6]
            )
            more = f" +{len(waiting) - 6}" if len(waiting) > 6 else ""
            lines.append(Content.assemble(("waiting: ", "$text-warning"), (names + more, MUTED_STYLE)))
        line(queue, Content("\n").join(lines) if lines else "", layout=True)  # (its height varies)

    def _line(self, widget: Static, content: Content | str, *, layout: bool = False) -> None:
        if self._shown.get(widget) != content:
            self._shown[widget] = content
            widget.update(content, layout=layout)
