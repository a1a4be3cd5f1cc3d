"""The chat log: delivered messages and failed transfers, grouped by sender.

Each row is one ``Entry``: a header line when the sender differs from the row
above (chat style), the time and the message, and a line of transfer
statistics. Long messages are folded (space expands them). The log follows
new rows while the view is at the bottom and stops following when the user
scrolls up (End follows again). At most ``max_rows`` rows are kept; older
rows leave the view but stay in the app's entries (saving writes them all).
"""

from __future__ import annotations

import datetime
from collections.abc import Collection, Iterable, Sequence

from textual.binding import Binding
from textual.content import Content
from textual.css.styles import RulesMap
from textual.style import Style
from textual.strip import Strip
from textual.geometry import Spacing
from textual.visual import Padding, RenderOptions, Visual
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from sigchat.proto.events import ACKED, AbortReason, MessageDelivered
from sigchat.server.sink import Kind
from sigchat.tui.model import Entry
from sigchat.tui.widgets.fixed_list import FixedOptionList
from sigchat.format import attempt, bits, clock_time, exact_bytes, human_bytes, human_duration, human_rate, number, plural
from sigchat.tui.text import INVALID_STYLE, MUTED_STYLE, decode_prefix, is_binary, safe_content, safe_name, wrap_lines

FOLD_CHARS = 240
"""A message longer than this (characters) is folded..."""
FOLD_LINES = 3
"""...and so is one with more lines than this."""
EXPANDED_BYTES = 16 * 1024
"""An expanded message shows at most this many bytes (the inspector and the saved log have all)."""
GUTTER = 9
FIELD_SEPARATOR = " · "
"""Between the fields of a statistics line (where it wraps)."""

SENDER_STYLE = "$text-accent bold"
OK_STYLE = "$text-success"
FAIL_STYLE = "$text-error bold"
WARN_STYLE = "$text-warning"


class Rows(Visual):
    """Rows of ``(gutter, body)``: the body wraps with a hanging indent under the gutter.

    A row whose gutter is ``None`` uses the whole width. The rows whose index
    is in ``fields`` are `` · ``-separated fields (statistics): they wrap
    between fields, so a value keeps its unit.
    """

    def __init__(
        self, rows: Sequence[tuple[Content | None, Content]], gutter: int = GUTTER, *, fields: Collection[int] = ()
    ) -> None:
        self.rows = rows
        self.gutter = gutter
        self.fields = fields
        self._wrapped: dict[tuple[int, int], list[Content]] = {}

    def _body_width(self, gutter: Content | None, width: int) -> int:
        return max(1, width - self.gutter) if gutter is not None else max(1, width)

    def get_optimal_width(self, rules: RulesMap, container_width: int) -> int:
        return max(
            (body.get_optimal_width(rules, container_width) + (self.gutter if gutter is not None else 0))
            for gutter, body in self.rows
        )

    def _lines(self, index: int, width: int) -> list[Content]:
        """Row ``index``'s body wrapped to ``width`` (``text.wrap_lines``: escapes and joined characters stay whole)."""
        key = (index, width)
        lines = self._wrapped.get(key)
        if lines is None:
            separator = FIELD_SEPARATOR if index in self.fields else None
            lines = self._wrapped[key] = wrap_lines(self.rows[index][1], width, separator=separator)
        return lines

    def get_height(self, rules: RulesMap, width: int) -> int:
        return sum(
            line.get_height(rules, self._body_width(gutter, width))
            for index, (gutter, _) in enumerate(self.rows)
            for line in self._lines(index, self._body_width(gutter, width))
        )

    def render_strips(self, width: int, height: int | None, style: Style, options: RenderOptions) -> list[Strip]:
        strips: list[Strip] = []
        rich_style = style.rich_style
        for index, (gutter, _) in enumerate(self.rows):
            body_width = self._body_width(gutter, width)
            body_strips = [
                strip.extend_cell_length(body_width, rich_style)
                for line in self._lines(index, body_width)
                for strip in line.render_strips(body_width, None, style, options)
            ] or [Strip.blank(body_width, rich_style)]
            if gutter is None:
                strips.extend(body_strips)
                continue
            first = gutter.render_strips(self.gutter, 1, style, options)
            left = first[0].extend_cell_length(self.gutter, rich_style) if first else Strip.blank(self.gutter, rich_style)
            blank = Strip.blank(self.gutter, rich_style)
            for line_number, strip in enumerate(body_strips):
                strips.append(Strip.join([left if line_number == 0 else blank, strip]))
        if height is not None:
            strips = strips[:height]
        return strips


# --------------------------------------------------------------------------- rendering one entry


def _fold(text: str) -> tuple[str, bool]:
    """The folded preview of ``text`` and whether anything was left out."""
    cut = False
    if len(text) > FOLD_CHARS:
        text, cut = text[:FOLD_CHARS], True
    lines = text.split("\n")
    if len(lines) > FOLD_LINES:
        text, cut = "\n".join(lines[:FOLD_LINES]), True
    return text, cut


def binary_content(data: bytes) -> Content:
    """The one line that stands for a mostly binary payload (``text.is_binary``)."""
    return Content.assemble((f"binary, {human_bytes(len(data))}", "$text-secondary"), (" — enter for hex", MUTED_STYLE))


def message_content(entry: Entry, *, style: str = "") -> Content:
    """The message text, escaped, folded unless the entry is expanded; one line for a binary payload."""
    data = entry.data
    if not data:
        return Content.styled("(empty message)", MUTED_STYLE)
    if is_binary(data):
        return binary_content(data)
    text, _ = decode_prefix(data, EXPANDED_BYTES if entry.expanded else 4 * FOLD_CHARS)
    long_message = _fold(text)[1] or len(data) > EXPANDED_BYTES
    if not entry.expanded:
        text, _ = _fold(text)
    if text.endswith("\n"):
        body = safe_content(text[:-1], style=style) + Content.styled("↵", MUTED_STYLE)
    else:
        body = safe_content(text, style=style)
    rest = len(data) - len(text.encode("utf-8", "surrogateescape"))
    if rest > 0 and not entry.expanded:
        body += Content.styled(f" … +{exact_bytes(rest)} (space: expand)", MUTED_STYLE)
    elif rest > 0:
        body += Content.styled(f" … +{exact_bytes(rest)} not shown (enter: inspect, s: save)", MUTED_STYLE)
    elif entry.expanded and long_message:
        body += Content.styled("  (space: fold)", MUTED_STYLE)
    return body


CLASSIC_MARK = "○"
"""Starts the statistics of a classic message: delivered, but classic minitalk has no integrity check."""
CLASSIC_NOTE = f"{CLASSIC_MARK} classic, no integrity check"
"""The mark explained: on the first row under a sender's header (and in the help)."""


def integrity(entry: Entry) -> tuple[str, str]:
    """The integrity verdict of an entry: ``(text, style)``."""
    kind = entry.kind
    if entry.classic and kind is Kind.DELIVERED:
        event = entry.event
        note = f" ({event.note})" if isinstance(event, MessageDelivered) and event.note else ""
        if entry.damaged:
            return f"✗ classic, damaged{note}", FAIL_STYLE
        if isinstance(event, MessageDelivered) and event.integrity == ACKED:
            return f"{CLASSIC_MARK} classic: every bit acked, no checksum exists", WARN_STYLE
        return f"{CLASSIC_MARK} classic, unverified: its client does not wait for acks{note}", WARN_STYLE
    if kind is Kind.DELIVERED:
        return "✓ intact (CRC-32)", OK_STYLE
    if kind is Kind.DUPLICATE:
        return "✓ intact, a repeat", OK_STYLE
    if kind is Kind.REJECTED:
        return "✗ refused before the payload", FAIL_STYLE
    if entry.reason is AbortReason.CORRUPT:
        return "✗ CRC-32 mismatch", FAIL_STYLE
    if entry.reason is AbortReason.BAD_VERSION:
        return "✗ unsupported version", FAIL_STYLE
    return "✗ incomplete", FAIL_STYLE


SESSION_SIGNALS = "in session"
"""How the log labels its signal count: the server's, from the signature's last bit (the one that
opens the session) to the end; ``sigchat-send -v`` counts every signal it sent, the whole
signature included, and says so."""


def stats_content(entry: Entry, *, explain: bool = False) -> Content:
    """``✓ 53 B · 561 bits · 562 signals in session · 1 resent · 128 ms · 3.31 kbit/s``.

    A delivered message starts with ✓ (intact: CRC-32 matched), a failed
    transfer with ✗ and the verdict in words, a classic message with ○ (no
    integrity check), which ``explain`` spells out. The bits resent are shown
    when there are any (so the line keeps to one row in a normal window).
    """
    stats = entry.stats
    assert stats is not None
    length = stats.length
    size = human_bytes(length) if length is not None else "? B"
    if entry.kind is Kind.ABORTED and length is not None:
        size = f"{number(len(entry.data))}/{exact_bytes(length)}"
    verdict, verdict_style = integrity(entry)
    # ✓ or ✗: the headline (or the inspector) says the rest; ○ is explained under the header
    verdict = CLASSIC_NOTE + " ·" if explain and verdict[0] == CLASSIC_MARK else verdict[0]
    parts: list[str | tuple[str, str]] = [
        (verdict + " ", verdict_style),
        (
            f"{size} · {bits(stats.bits)} · {plural(stats.signals_received, 'signal')} {SESSION_SIGNALS}"
            + (f" · {number(stats.retransmissions)} resent" if stats.retransmissions else "")
            + f" · {human_duration(stats.duration)}"
            + (f" · {human_rate(rate)}" if (rate := entry.payload_rate) is not None else ""),  # (what arrived)
            MUTED_STYLE,
        ),
    ]
    if stats.turbo:
        parts.append((" · turbo", "$text-accent"))
    if stats.attempt:
        parts.append((f" · {attempt(stats.attempt)}", WARN_STYLE))
    return Content.assemble(*parts)


def headline(entry: Entry, max_bytes: int | None) -> Content:
    """The main line of an entry: the message, or what went wrong."""
    kind = entry.kind
    if kind is Kind.DELIVERED and entry.damaged:
        return Content.assemble((f"✗ DAMAGED ({entry.event.note}) ", FAIL_STYLE), message_content(entry, style=MUTED_STYLE))
    if kind is Kind.DELIVERED:
        return message_content(entry)
    if kind is Kind.DUPLICATE:
        return Content.assemble(("↻ repeat, already delivered: ", WARN_STYLE), message_content(entry, style=MUTED_STYLE))
    if kind is Kind.REFUSED:
        return Content.assemble(("✗ NOT ANSWERED ", FAIL_STYLE), safe_content(entry.refusal or "", newlines=False))
    if kind is Kind.PROFILE:
        return Content.assemble(("ⓘ PROFILE ", WARN_STYLE), safe_content(entry.notice or "", newlines=False))
    stats = entry.stats
    length = stats.length if stats is not None else None
    if kind is Kind.REJECTED:
        size = exact_bytes(length) if length is not None else "the message"
        limit = f" of {exact_bytes(max_bytes)}" if max_bytes is not None else ""
        return Content.assemble(("✗ REJECTED ", FAIL_STYLE), f"{size} is over the server's limit{limit}")
    reason = entry.reason.value if entry.reason is not None else "aborted"
    got = f"{number(len(entry.data))} of {exact_bytes(length)} arrived" if length is not None else "before the header"
    return Content.assemble(("✗ ABORTED ", FAIL_STYLE), f"{reason} · {got}, dropped")


def partial_content(entry: Entry) -> Content:
    preview = Entry(entry.seq, Kind.DELIVERED, entry.pid, entry.name, entry.wall_time, entry.data[:64])
    return Content.assemble(("dropped: ", MUTED_STYLE), message_content(preview, style=MUTED_STYLE))


def entry_visual(entry: Entry, *, header: bool, tz: datetime.tzinfo | None, max_bytes: int | None = None) -> Rows:
    rows: list[tuple[Content | None, Content]] = []
    if header:
        name = Content.styled(safe_name(entry.name), "$text-secondary") if entry.name else Content.styled("(name unknown)", MUTED_STYLE)
        rows.append((None, Content.assemble(("▍", SENDER_STYLE), (f"{entry.pid} ", SENDER_STYLE), name)))
    time_style = INVALID_STYLE if entry.kind.failed else MUTED_STYLE
    rows.append((Content.styled(clock_time(entry.wall_time, tz), time_style), headline(entry, max_bytes)))
    if entry.kind is Kind.ABORTED and entry.data:
        rows.append((Content(""), partial_content(entry)))
    fields = []
    if entry.stats is not None and entry.kind is not Kind.REJECTED:
        fields.append(len(rows))
        rows.append((Content(""), stats_content(entry, explain=header)))
    if entry.classic and header:
        rows[0] = (None, rows[0][1] + Content.styled(f"  classic minitalk client ({entry.profile or '?'})", MUTED_STYLE))
    return Rows(rows, fields=fields)


# --------------------------------------------------------------------------- the widget


class ChatLog(FixedOptionList):
    """The log view. The app gives it entries; it never reads clocks or ``/proc``."""

    BINDINGS = [
        Binding("enter", "select", "Inspect"),
        Binding("space", "toggle_fold", "Expand"),
        Binding("end", "last", "Follow", show=False),
    ]

    def action_select(self) -> None:
        """Enter: inspect the highlighted transfer, or the newest one when none is highlighted yet."""
        if self.highlighted is None:
            self.call_later(self.run_action, "app.inspect")
        else:
            super().action_select()

    def __init__(
        self,
        *,
        tz: datetime.tzinfo | None = None,
        max_rows: int = 1000,
        max_bytes: int | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.tz = tz
        self.max_rows = max(1, max_rows)
        self.max_bytes = max_bytes
        self._shown: list[Entry] = []
        self._headers: list[bool] = []
        self.following = True
        self._auto_scrolling = 0
        self.unseen = 0
        self.filter_pid: int | None = None

    # ------------------------------------------------------------------ the empty view
    empty_hint: Content = Content.styled("No messages yet.", MUTED_STYLE)
    """Shown while the view has no rows (the app sets it)."""

    def set_empty_hint(self, hint: Content) -> None:
        self.empty_hint = hint
        if not self._shown:
            self.refresh()

    def render_line(self, y: int) -> Strip:
        if self._options:
            return super().render_line(y)
        width = self.scrollable_content_region.width
        style = self.get_visual_style("option-list--option")
        strips = Visual.to_strips(self, Padding(self.empty_hint, Spacing(1, 2, 0, 2)), width, None, style)
        if y < len(strips):
            return strips[y].extend_cell_length(width, style.rich_style)
        return Strip.blank(width, style.rich_style)

    # ------------------------------------------------------------------ queries
    @property
    def shown(self) -> Sequence[Entry]:
        """The entries in the view, oldest first."""
        return self._shown

    @property
    def highlighted_entry(self) -> Entry | None:
        if self.highlighted is None or not self._shown:
            return None
        return self._shown[self.highlighted]

    def matches(self, entry: Entry) -> bool:
        return self.filter_pid is None or entry.pid == self.filter_pid

    # ------------------------------------------------------------------ changes
    def _option(self, entry: Entry, header: bool) -> Option:
        return Option(entry_visual(entry, header=header, tz=self.tz, max_bytes=self.max_bytes), id=str(entry.seq))

    def add_entry(self, entry: Entry) -> None:
        """Append one entry (if it passes the filter), trimming the oldest rows."""
        if not self.matches(entry):
            return
        header = not self._shown or self._shown[-1].pid != entry.pid
        self._shown.append(entry)
        self._headers.append(header)
        self.add_option(self._option(entry, header))
        if len(self._shown) > self.max_rows:
            self._trim(len(self._shown) - self.max_rows + max(0, self.max_rows // 10 - 1))
        if self.following:
            self._scroll_to_end()
        else:
            self.unseen += 1
            self._update_subtitle()

    def set_entries(self, entries: Iterable[Entry]) -> None:
        """Show these entries (those that pass the filter; the newest ``max_rows``)."""
        matching = [entry for entry in entries if self.matches(entry)][-self.max_rows :]
        self._shown = matching
        self._headers = [index == 0 or matching[index - 1].pid != entry.pid for index, entry in enumerate(matching)]
        self.set_options(self._option(entry, header) for entry, header in zip(matching, self._headers))
        self.following = True
        self.unseen = 0
        self._update_subtitle()
        self._scroll_to_end()

    def refresh_entry(self, entry: Entry) -> None:
        """Render ``entry`` again (after it was expanded or folded)."""
        try:
            index = self._shown.index(entry)
        except ValueError:
            return
        self.replace_option_prompt_at_index(
            index, entry_visual(entry, header=self._headers[index], tz=self.tz, max_bytes=self.max_bytes)
        )

    def _trim(self, count: int) -> None:
        """Drop the ``count`` oldest rows without moving what the user is looking at."""
        count = min(count, len(self._shown))
        removed_lines = sum(self._heights.get(index, 0) for index in range(count))
        highlighted = self.highlighted
        self.set_reactive(OptionList.highlighted, None)
        for _ in range(count):
            self.remove_option_at_index(0)
        del self._shown[:count]
        del self._headers[:count]
        if highlighted is not None and highlighted >= count:
            self.set_reactive(OptionList.highlighted, highlighted - count)
        if self._shown and not self._headers[0]:
            self._headers[0] = True
            self.replace_option_prompt_at_index(
                0, entry_visual(self._shown[0], header=True, tz=self.tz, max_bytes=self.max_bytes)
            )
        if not self.following and removed_lines:
            self._auto_scrolling += 1
            self.scroll_to(y=max(0, self.scroll_y - removed_lines), animate=False, immediate=True)
            self._auto_scrolling -= 1

    # ------------------------------------------------------------------ follow mode
    def _scroll_to_end(self) -> None:
        self._auto_scrolling += 1

        def done() -> None:
            self._auto_scrolling -= 1
            self.following = True

        self.scroll_end(animate=False, on_complete=done)

    def on_resize(self) -> None:
        # Rows wrap anew at the new width; a following view stays on the newest row.
        if self.following:
            self.call_after_refresh(self._scroll_to_end)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self._auto_scrolling:
            return
        following = new_value >= self.max_scroll_y
        if following != self.following:
            self.following = following
            if following:
                self.unseen = 0
            self._update_subtitle()

    def _update_subtitle(self) -> None:
        if self.following:
            self.border_subtitle = ""
        else:
            new = f"{self.unseen} new · " if self.unseen else ""
            self.border_subtitle = f"paused · {new}End: follow"

    def action_last(self) -> None:
        super().action_last()
        self.following = True
        self.unseen = 0
        self._update_subtitle()
        self._scroll_to_end()

    # ------------------------------------------------------------------ actions
    def action_toggle_fold(self) -> None:
        entry = self.highlighted_entry
        if entry is None:
            return
        entry.expanded = not entry.expanded
        self.refresh_entry(entry)
