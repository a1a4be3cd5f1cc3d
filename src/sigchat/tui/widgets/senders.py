"""The senders list: every pid that contacted the server, and an "all" entry.

Selecting a sender (enter or click) filters the chat log to it; selecting
"all senders" shows everything again. The app updates the rows; "last seen"
is computed from the ``now`` it passes in (its injected monotonic clock).
"""

from __future__ import annotations

from collections.abc import Iterable

from textual.binding import Binding
from textual.content import Content
from textual.widgets.option_list import Option, OptionDoesNotExist

from sigchat.tui.model import SenderInfo, SenderState, Totals
from sigchat.format import human_ago, human_bytes
from sigchat.tui.text import MUTED_STYLE, safe_name
from sigchat.tui.widgets.fixed_list import FixedOptionList

ALL_ID = "all"

STATE_STYLES = {
    SenderState.SENDING: "$text-success bold",
    SenderState.WAITING: "$text-warning bold",
    SenderState.IDLE: "$text-primary",
    SenderState.GONE: "$text-muted strike",
}


def sender_id(pid: int) -> str:
    return f"pid-{pid}"


def sender_prompt(sender: SenderInfo, now: float, *, selected: bool, width: int = 32) -> Content:
    """Two lines: ``● 4242 bash        sending`` / ``  3 msgs · 67 B · ✗1 · 7s ago``."""
    marker = ("● ", "$text-accent") if selected else ("  ", "")
    name = safe_name(sender.name) if sender.name else "?"
    state = sender.state.value
    if sender.state is SenderState.WAITING and sender.queue_position:
        state = f"waiting #{sender.queue_position}"
    left = f"{sender.pid} "
    room = width - 2 - len(left) - len(state) - 1
    if len(name) > room:
        name = name[: max(1, room - 1)] + "…"
    pad = max(1, width - 2 - len(left) - len(name) - len(state))
    messages = "1 msg" if sender.messages == 1 else f"{sender.messages} msgs"
    return Content.assemble(
        marker,
        (left, "bold"),
        (name, "$text-secondary" if sender.state is not SenderState.GONE else MUTED_STYLE),
        " " * pad,
        (state, STATE_STYLES[sender.state]),
        "\n",
        (f"  {messages} · {human_bytes(sender.bytes)}", MUTED_STYLE),
        (f" · ✗{sender.failed}" if sender.failed else "", "$text-error"),
        (f" · {sender.mode}" if sender.mode != "native" else "", "$text-warning"),
        (f" · {human_ago(now - sender.last_seen)}", MUTED_STYLE),
    )


def all_prompt(totals: Totals, count: int, *, selected: bool) -> Content:
    marker = ("● ", "$text-accent") if selected else ("  ", "")
    senders = "1 sender" if count == 1 else f"{count} senders"
    messages = "1 msg" if totals.messages == 1 else f"{totals.messages} msgs"
    return Content.assemble(
        marker,
        ("All senders", "bold"),
        "\n",
        (f"  {senders} · {messages} · {human_bytes(totals.bytes)}", MUTED_STYLE),
    )


class SenderList(FixedOptionList):
    """One option per sender, newest contact last, after the "all" option."""

    BINDINGS = [Binding("enter", "select", "Show only")]

    def __init__(self, *, id: str | None = None) -> None:
        first = all_prompt(Totals(), 0, selected=True)
        super().__init__(Option(first, id=ALL_ID), id=id)
        self.selected_pid: int | None = None
        self._prompts: dict[str, Content] = {ALL_ID: first}

    def on_mount(self) -> None:
        self.highlighted = 0

    def _set(self, option_id: str, prompt: Content) -> None:
        previous = self._prompts.get(option_id)
        if previous is not None and previous.is_same(prompt):
            return
        self._prompts[option_id] = prompt
        try:
            self.get_option_index(option_id)
        except OptionDoesNotExist:
            self.add_option(Option(prompt, id=option_id))
        else:
            self.replace_option_prompt(option_id, prompt)

    def update_senders(self, senders: Iterable[SenderInfo], totals: Totals, now: float) -> None:
        """Add or update a row per sender (rows whose text did not change are left alone)."""
        senders = list(senders)
        self._set(ALL_ID, all_prompt(totals, len(senders), selected=self.selected_pid is None))
        for sender in senders:
            self._set(sender_id(sender.pid), sender_prompt(sender, now, selected=self.selected_pid == sender.pid))

    def forget(self, pid: int) -> None:
        option_id = sender_id(pid)
        self._prompts.pop(option_id, None)
        try:
            self.remove_option(option_id)
        except OptionDoesNotExist:
            pass

    @staticmethod
    def pid_of(option_id: str | None) -> int | None:
        if option_id is None or option_id == ALL_ID:
            return None
        return int(option_id.removeprefix("pid-"))
