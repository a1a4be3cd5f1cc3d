"""The senders list: every pid that contacted the server, and an "all" entry.

Every ``sigchat-send`` is a new pid, so after a few sends most senders are
gone. The rows are ordered by what matters now: "All senders", the sender
that holds the session, those waiting (by queue position), the idle ones
(most recent first), then the gone ones folded by process name into one row
each (``sigchat-send ×14 gone``; enter unfolds it). A gone sender alone under
its name keeps its own row, and so does the one the log is filtered to.

Selecting a sender (enter or click) filters the chat log to it; selecting
"all senders" shows everything again. The app updates the rows; "last seen"
is computed from the ``now`` it passes in (its injected monotonic clock).
Each row is two lines drawn for the list's width: the summary leaves out
whole items that do not fit (``widgets.fitted``), so nothing is cut or
wrapped in the middle of a number.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from textual.binding import Binding
from textual.content import Content
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from sigchat.tui.model import SenderInfo, SenderState, Totals
from sigchat.format import human_ago, human_bytes, number, plural
from sigchat.tui.text import MUTED_STYLE, safe_name
from sigchat.tui.widgets.fitted import Item, fit
from sigchat.tui.widgets.fixed_list import FixedOptionList

ALL_ID = "all"
GROUP_PREFIX = "gone:"
DEFAULT_WIDTH = 33
"""The rows' width until the list has a size."""

STATE_STYLES = {
    SenderState.SENDING: "$text-success bold",
    SenderState.WAITING: "$text-warning bold",
    SenderState.IDLE: "$text-primary",
    SenderState.GONE: "$text-muted strike",
}


def sender_id(pid: int) -> str:
    return f"pid-{pid}"


def group_id(name: str | None) -> str:
    return f"{GROUP_PREFIX}{name if name is not None else ''}"


@dataclass(slots=True)
class GoneGroup:
    """The gone senders of one process name, most recent first."""

    name: str | None
    members: list[SenderInfo]

    @property
    def id(self) -> str:
        return group_id(self.name)

    @property
    def last_seen(self) -> float:
        return max(member.last_seen for member in self.members)


def arrange(
    senders: Iterable[SenderInfo], *, selected: int | None = None, expanded: Collection[str] = ()
) -> list[SenderInfo | GoneGroup]:
    """The rows under "All senders", in order (see the module docstring)."""
    sending: list[SenderInfo] = []
    waiting: list[SenderInfo] = []
    idle: list[SenderInfo] = []
    gone: dict[str | None, list[SenderInfo]] = {}
    for sender in senders:
        if sender.state is SenderState.SENDING:
            sending.append(sender)
        elif sender.state is SenderState.WAITING:
            waiting.append(sender)
        elif sender.state is SenderState.GONE and sender.pid != selected:
            gone.setdefault(sender.name, []).append(sender)
        else:
            idle.append(sender)
    waiting.sort(key=lambda s: s.queue_position or 1 << 30)
    idle.sort(key=lambda s: s.last_seen, reverse=True)
    rows: list[SenderInfo | GoneGroup] = [*sending, *waiting, *idle]
    groups = [GoneGroup(name, sorted(members, key=lambda s: s.last_seen, reverse=True)) for name, members in gone.items()]
    for group in sorted(groups, key=lambda g: g.last_seen, reverse=True):
        if len(group.members) == 1:
            rows.append(group.members[0])
            continue
        rows.append(group)
        if group.id in expanded:
            rows.extend(group.members)
    return rows


def _first_line(marker: tuple[str, str], left: Content, state: str, state_style: str, width: int) -> Content:
    """``● 4242 bash        sending``: ``left`` shortened (…) to leave room for the state."""
    room = width - 2 - len(state) - 1
    if left.cell_length > room:
        left = left[: max(1, room - 1)] + "…"
    pad = max(1, width - 2 - left.cell_length - len(state))
    return Content.assemble(marker, left, " " * pad, (state, state_style))


def _ago(now: float, last_seen: float) -> Item:
    return Item.of((human_ago(now - last_seen), MUTED_STYLE), keep=1)


def _summary(messages: int, size: int, failed: int, *more: Item, width: int) -> Content:
    items = [
        Item.of((plural(messages, "msg"), MUTED_STYLE), keep=9),
        Item.of((human_bytes(size), MUTED_STYLE), keep=5),
    ]
    if failed:
        items.append(Item.of((f"✗{number(failed)}", "$text-error"), keep=7))
    items.extend(more)
    return fit(items, width, prefix="  ")


def sender_prompt(sender: SenderInfo, now: float, *, selected: bool, width: int = DEFAULT_WIDTH) -> Content:
    """Two lines: ``● 4242 bash        sending`` / ``  3 msgs · 67 B · ✗1 · 7s ago``."""
    marker = ("● ", "$text-accent") if selected else ("  ", "")
    gone = sender.state is SenderState.GONE
    left = Content.assemble(
        (f"{sender.pid} ", "bold"),
        (safe_name(sender.name) if sender.name else "?", MUTED_STYLE if gone else "$text-secondary"),
    )
    state = sender.state.value
    if sender.state is SenderState.WAITING and sender.queue_position:
        state = f"waiting #{sender.queue_position}"
    more = [Item.of((sender.mode, "$text-warning"), keep=3)] if sender.mode != "native" else []
    return Content.assemble(
        _first_line(marker, left, state, STATE_STYLES[sender.state], width),
        "\n",
        _summary(sender.messages, sender.bytes, sender.failed, *more, _ago(now, sender.last_seen), width=width),
    )


def group_prompt(group: GoneGroup, now: float, *, expanded: bool, width: int = DEFAULT_WIDTH) -> Content:
    """Two lines: ``▸ sigchat-send ×14         gone`` / ``  14 msgs · 1.2 KiB · 3s ago``."""
    members = group.members
    left = Content.assemble(
        (safe_name(group.name) if group.name else "(name unknown)", "$text-secondary"),
        (f" ×{number(len(members))}", "bold"),
    )
    return Content.assemble(
        _first_line(("▾ " if expanded else "▸ ", "$text-accent"), left, "gone", STATE_STYLES[SenderState.GONE], width),
        "\n",
        _summary(
            sum(m.messages for m in members),
            sum(m.bytes for m in members),
            sum(m.failed for m in members),
            _ago(now, group.last_seen),
            width=width,
        ),
    )


def all_prompt(totals: Totals, count: int, *, selected: bool, width: int = DEFAULT_WIDTH) -> Content:
    """``● All senders`` / ``  13 senders · 40 msgs · 1.2 KiB``: ``count`` is every sender known."""
    marker = ("● ", "$text-accent") if selected else ("  ", "")
    items = [
        Item.of((plural(count, "sender"), MUTED_STYLE), keep=9),
        Item.of((plural(totals.messages, "msg"), MUTED_STYLE), keep=5),
        Item.of((human_bytes(totals.bytes), MUTED_STYLE), keep=3),
    ]
    return Content.assemble(marker, ("All senders", "bold"), "\n", fit(items, width, prefix="  "))


class SenderList(FixedOptionList):
    """"All senders", then one row per sender or folded group of gone senders (see the module docstring).

    ``update_senders`` always gets every sender. Rows whose text did not change
    are left alone; when the order changes, the rows are set again, keeping the
    highlighted row and the scroll position. Neither lays the screen out.
    """

    BINDINGS = [Binding("enter", "select", "Show only")]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(Option(all_prompt(Totals(), 0, selected=True), id=ALL_ID), id=id)
        self.selected_pid: int | None = None
        self.expanded: set[str] = set()
        """Ids of the groups of gone senders shown unfolded."""
        self._last: tuple[list[SenderInfo], Totals, float] = ([], Totals(), 0.0)
        self._prompts: dict[str, tuple[tuple, Content]] = {}

    def on_mount(self) -> None:
        self.highlighted = 0

    def on_resize(self) -> None:
        self._draw()

    @property
    def row_width(self) -> int:
        width = self.scrollable_content_region.width
        return width if width > 0 else DEFAULT_WIDTH

    def update_senders(self, senders: Iterable[SenderInfo], totals: Totals, now: float) -> None:
        """Show every sender (``senders``: all of them; the count in "All senders" is theirs)."""
        self._last = (list(senders), totals, now)
        self._draw()

    def toggle_group(self, option_id: str) -> None:
        """Fold or unfold a group of gone senders."""
        self.expanded.symmetric_difference_update({option_id})
        self._draw()

    def forget(self, pid: int) -> None:
        self._prompts.pop(sender_id(pid), None)

    def _prompt(self, option_id: str, key: tuple, make) -> Content:
        """The row's prompt, made again only when what it shows (``key``) changed."""
        cached = self._prompts.get(option_id)
        if cached is not None and cached[0] == key:
            return cached[1]
        prompt = make()
        self._prompts[option_id] = (key, prompt)
        return prompt

    def _draw(self) -> None:
        senders, totals, now = self._last
        width = self.row_width
        selected = self.selected_pid
        wanted: list[tuple[str, Content]] = [
            (
                ALL_ID,
                self._prompt(
                    ALL_ID,
                    (width, selected is None, len(senders), totals.messages, totals.bytes),
                    lambda: all_prompt(totals, len(senders), selected=selected is None, width=width),
                ),
            )
        ]
        folded: dict[str, str] = {}  # a folded sender's row id -> its group's
        for row in arrange(senders, selected=selected, expanded=self.expanded):
            if isinstance(row, GoneGroup):
                expanded = row.id in self.expanded
                members = row.members
                if not expanded:
                    folded.update((sender_id(m.pid), row.id) for m in members)
                key = (
                    width,
                    expanded,
                    len(members),
                    sum(m.messages for m in members),
                    sum(m.bytes for m in members),
                    sum(m.failed for m in members),
                    human_ago(now - row.last_seen),
                )
                make = lambda row=row, expanded=expanded: group_prompt(row, now, expanded=expanded, width=width)
                wanted.append((row.id, self._prompt(row.id, key, make)))
            else:
                s = row
                option_id = sender_id(s.pid)
                key = (
                    width,
                    s.pid == selected,
                    s.name,
                    s.state,
                    s.queue_position,
                    s.messages,
                    s.bytes,
                    s.failed,
                    s.mode,
                    human_ago(now - s.last_seen),
                )
                make = lambda s=s: sender_prompt(s, now, selected=s.pid == selected, width=width)
                wanted.append((option_id, self._prompt(option_id, key, make)))
        self._show(wanted, folded)

    def _show(self, wanted: list[tuple[str, Content]], folded: dict[str, str]) -> None:
        options = self.options
        if [option.id for option in options] == [option_id for option_id, _ in wanted]:
            for index, (option, (_, prompt)) in enumerate(zip(options, wanted)):
                if option.prompt is not prompt:
                    self.replace_option_prompt_at_index(index, prompt)
            return
        # The order changed: set the rows again, keeping the highlighted row and the scroll position.
        highlighted = self.highlighted_option.id if self.highlighted_option is not None else None
        scroll_y = self.scroll_y
        self.set_options(Option(prompt, id=option_id) for option_id, prompt in wanted)
        ids = [option_id for option_id, _ in wanted]
        highlighted = folded.get(highlighted, highlighted) if highlighted is not None else None
        index = ids.index(highlighted) if highlighted in ids else 0
        self.set_reactive(OptionList.highlighted, index)
        self.scroll_y = min(scroll_y, self.max_scroll_y)
        if self.has_focus:
            self.scroll_to_highlight()
        for stale in set(self._prompts) - set(ids):
            del self._prompts[stale]

    @staticmethod
    def is_group(option_id: str | None) -> bool:
        return option_id is not None and option_id.startswith(GROUP_PREFIX)

    @staticmethod
    def pid_of(option_id: str | None) -> int | None:
        if option_id is None or option_id == ALL_ID or option_id.startswith(GROUP_PREFIX):
            return None
        return int(option_id.removeprefix("pid-"))
