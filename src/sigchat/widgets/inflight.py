"""The transfer in flight: a progress bar (the length is known from the
header), % done, current bits/s and ETA, plus the senders waiting their turn.

The protocol runs one session at a time (rule 1), so there is at most one bar;
queued senders are listed under it. The app calls ``show`` at most ~10 times a
second (the receiver throttles progress to 0.1 s).
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.content import Content
from textual.widget import Widget
from textual.widgets import ProgressBar, Static

from sigchat.messages import ActiveTransfer, SenderInfo
from sigchat.widgets import MUTED_STYLE, human_bytes, human_duration, human_rate, safe_name, sender_label


class InFlight(Widget):
    """Progress of the running transfer and the queue behind it."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        # Kept, not queried: the app may update them before they are mounted.
        self._title = Static(id="inflight-title")
        self._bar = ProgressBar(total=1, show_eta=False, id="inflight-bar")
        self._detail = Static(id="inflight-detail")
        self._queue = Static(id="inflight-queue")
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
        title, bar, detail, queue = self._title, self._bar, self._detail, self._queue
        if active is None:
            title.update(Content.styled("No transfer in progress", MUTED_STYLE))
            bar.display = False
            detail.update("")
        else:
            size = f"{human_bytes(active.length)} message" if active.length is not None else "reading the header…"
            if active.mode != "native":
                size = f"{active.mode} client" + (f", {human_bytes(active.length)}" if active.length is not None else "")
            elif active.turbo:
                size += " · turbo words (6 bytes per signal)"
            title.update(
                Content.assemble(
                    ("▶ ", "$text-success bold"),
                    (f"{active.pid} ", "bold"),
                    (safe_name(active.name) if active.name else "", "$text-secondary"),
                    (f"  {size}", MUTED_STYLE),
                )
            )
            bar.display = True
            if active.total:
                bar.update(total=active.total, progress=min(active.bits, active.total))
            else:
                bar.update(total=1, progress=0)
            eta = active.eta
            detail.update(
                Content.assemble(
                    (f"{active.bits:,}", "bold"),
                    (f" / {active.total:,} bits" if active.total else " bits", MUTED_STYLE),
                    (" · ", MUTED_STYLE),
                    (human_rate(active.rate), "bold"),
                    (" · ETA ", MUTED_STYLE),
                    (human_duration(eta) if eta is not None else "–", "bold"),
                )
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
        queue.update(Content("\n").join(lines) if lines else "")
