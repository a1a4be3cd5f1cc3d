"""The frame X-ray: every signal of one transfer, field by field, one bit at a time.

The server keeps the message and the transfer's statistics, not the signals
it received, so ``proto.frame.rebuild`` rebuilds them (the panel says so):
native transfers from the signature to the last CRC echo, classic ones from
the handshake to the NUL. ``FrameXRay`` draws them one row per field (a
payload: several bytes a row), coloured by field; ←/→ (or a click) steps
through the signals, and ``XRayPanel`` shows the one under the cursor: its
byte in ``SignalBits`` (the lens), its value, its signal, the server's reply,
its round trip (``stats.gaps``) and whether it was probably resent.

``FrameXRay`` is a line widget (``ScrollView``): it renders only the rows on
screen, computed from a few ``frame.Span`` objects, so a 16 MiB message opens
as fast as a short one. It can also take a growing prefix (``set_frame``,
``LiveXRayScreen``) for a transfer still in flight.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from typing import NamedTuple

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.geometry import Size
from textual.message import Message
from textual.screen import ModalScreen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.visual import Visual
from textual.widgets import Footer, Static

from sigchat.format import attempt, human_bytes, human_duration, number, plural
from sigchat.proto import frame as F
from sigchat.proto.events import CLASSIC, AbortReason, TransferStats
from sigchat.proto.wire import FLAG_PAIRS, FLAG_TRIPLES, FLAG_TURBO, MAX_GAP_SAMPLES, SYMBOL_SIGNALS, WORD_PAYLOAD_BYTES
from sigchat.server.sink import Kind
from sigchat.tui.model import Entry
from sigchat.tui.text import MUTED_STYLE, safe_name
from sigchat.tui.widgets.signal_bits import CURSOR_STYLE, UNKNOWN, Group, SignalBits, byte_labels

FIELD_STYLES = {
    F.SIGNATURE: "$text-secondary",
    F.HANDSHAKE_FIELD: "$text-secondary",
    F.LENGTH_WIDTH: "$text-success",
    F.START: "$text-error bold",
    F.VERSION: "$text-primary",
    F.FLAGS: "$text-primary",
    F.ATTEMPT: "$text-primary",
    F.MESSAGE_ID: "$text-accent",
    F.LENGTH: "$text-success",
    F.PAYLOAD: "$foreground",
    F.WORDS: "$foreground",
    F.MESSAGE: "$foreground",
    F.RETRANSMISSIONS: "$text-warning on $warning-muted",
    F.CRC: "$text-success on $success-muted",
    F.NUL: "$text-error on $error-muted",
}
"""Each field's colour: theme variables only, so every theme works."""
LABELS = {
    F.SIGNATURE: "signature",
    F.HANDSHAKE_FIELD: "handshake",
    F.LENGTH_WIDTH: "length width",
    F.START: "start",
    F.VERSION: "version",
    F.FLAGS: "flags",
    F.ATTEMPT: "attempt",
    F.MESSAGE_ID: "message id",
    F.LENGTH: "length",
    F.PAYLOAD: "payload",
    F.WORDS: "words",
    F.MESSAGE: "message",
    F.RETRANSMISSIONS: "resent",
    F.CRC: "CRC-32",
    F.NUL: "NUL",
}
LEGEND = {F.VERSION: "version, flags, attempt", F.RETRANSMISSIONS: "resent count", F.WORDS: "turbo words"}
"""Legend entries that say more than the row label (fields that share a colour are listed once)."""
DATA_FIELDS = (F.PAYLOAD, F.WORDS, F.MESSAGE)
LABEL = 10
CELL = 9
WORD_BITS_WIDTH = 8 * CELL - 1
"""A word's 64 bits, as 8 groups: shown as bits when that fits, else in hex."""
TAG_STYLE = "$text-accent italic"
"""A turbo word's tag (it derives from the message id and attempt: the message id's colour, in italics)."""
RESENT_MARK = "↻"
RESENT_STYLE = "underline"


def signal_name(symbol: int | None) -> str:
    return "?" if symbol is None else SYMBOL_SIGNALS[symbol]


def ascii_of(data: bytes, unknown: int = 0) -> str:
    """Printable ASCII as is, anything else as ``.``; ``unknown`` more bytes as ``·``."""
    return "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in data) + UNKNOWN * unknown


# --------------------------------------------------------------------------- rows


class Row(NamedTuple):
    """One line of the X-ray: ``count`` signals of ``span`` from its signal ``start`` (``span`` ``None``: the note)."""

    span: F.Span | None
    start: int
    count: int

    @property
    def first(self) -> int:
        return self.span.first + self.start if self.span is not None else -1


class Layout:
    """How the spans of a ``Rebuilt`` fall into rows ``width`` cells wide (computed per span, not per row)."""

    def __init__(self, rebuilt: F.Rebuilt, width: int) -> None:
        self.rebuilt = rebuilt
        self.width = width
        self.digits = max(3, len(number(rebuilt.expected or rebuilt.signals)))
        self.x0 = self.digits + 1 + LABEL + 1
        per_row = max(1, (width - self.x0 - 3) // (CELL + 1))
        self.bytes_per_row = 1 << (per_row.bit_length() - 1) if per_row < 8 else 8
        self.spans = [span for span in rebuilt.spans if span.arrived]
        self.starts = [span.first for span in self.spans]
        self.firsts: list[int] = []  # the row of each span's first signal
        rows = 0
        for span in self.spans:
            self.firsts.append(rows)
            rows += -(-span.arrived // self.per_row(span))
        self.note = not rebuilt.complete
        self.rows = rows + self.note

    def per_row(self, span: F.Span) -> int:
        """Signals in one of ``span``'s rows."""
        if span.words or span.field in (F.START, F.HANDSHAKE_FIELD):
            return 1
        if span.field == F.SIGNATURE:
            return span.count
        return 8 * self.bytes_per_row

    def row(self, y: int) -> Row | None:
        if not 0 <= y < self.rows:
            return None
        at = bisect_right(self.firsts, y) - 1
        if at < 0 or y >= self.rows - self.note:
            return Row(None, 0, 0)
        span = self.spans[at]
        per_row = self.per_row(span)
        start = (y - self.firsts[at]) * per_row
        return Row(span, start, min(per_row, span.arrived - start))

    def row_of(self, position: int) -> int:
        """The row that shows the signal at ``position`` (0 when there is none yet)."""
        if not self.spans:
            return 0
        at = max(0, bisect_right(self.starts, position) - 1)
        span = self.spans[at]
        return self.firsts[at] + (position - span.first) // self.per_row(span)

    def column_of(self, row: Row, i: int) -> int:
        """The cell of signal ``i`` of ``row`` (its offset in the row)."""
        if row.span.words:
            return self.x0
        return self.x0 + (i // 8) * CELL + i % 8

    def signal_at(self, y: int, x: int) -> int | None:
        """The position of the signal drawn at cell ``(x, y)``, if any."""
        row = self.row(y)
        if row is None or row.span is None or x < self.x0:
            return None
        if row.span.words:
            return row.first
        group, bit = divmod(x - self.x0, CELL)
        i = 8 * group + bit
        return row.first + i if bit < 8 and i < row.count else None


# --------------------------------------------------------------------------- what a field says


def field_value(rebuilt: F.Rebuilt, span: F.Span) -> tuple[str, str]:
    """The value a header or tail field carried, as ``(text, style)``: ``not kept`` when unknown."""
    field = span.field
    value = span.number()
    if field == F.SIGNATURE:
        return "0xFF, 8 × SIGUSR2: a sigchat sender", ""
    if field == F.START:
        return "always 0", ""
    if field == F.HANDSHAKE_FIELD:
        reply = rebuilt.profile.handshake_reply.upper() if rebuilt.profile is not None else "USR1"
        return f"SIGUSR1, answered SIG{reply}", ""
    if field == F.LENGTH_WIDTH:
        if span.known < span.count:
            return "not kept", MUTED_STYLE
        return ("SIGUSR1: a 32-bit length" if span.source[0] == 0 else "SIGUSR2: a 64-bit length"), ""
    if field == F.LENGTH and rebuilt.profile is not None and rebuilt.profile.length_digits and span.known == span.count:
        value = rebuilt.profile.header_length(span.source)
    if field == F.NUL:
        if span.known < span.count:
            return "not kept" if span.arrived == span.count else "", MUTED_STYLE
        end = span.source[0]
        return ("end of message", "") if end == 0 else (f"0x{end:02x}, not NUL: framing error", "$text-error")
    if value is None:
        if field == F.CRC and rebuilt.outcome != F.DELIVERED and span.arrived == span.count:
            return "not kept (the server's own CRC did not match)" if rebuilt.reason is AbortReason.CORRUPT else "not kept", MUTED_STYLE
        return "not kept", MUTED_STYLE
    if field == F.VERSION:
        return f"{value}", ""
    if field == F.FLAGS:
        words = "no turbo"
        if value & FLAG_TURBO:
            group = " (three per round trip)" if value & FLAG_TRIPLES else " (two per round trip)" if value & FLAG_PAIRS else ""
            words = "turbo words asked for" + group
        return f"0x{value:02x}: {words}" + (" (assumed: flags are not kept)" if rebuilt.flags_assumed else ""), ""
    if field == F.ATTEMPT:
        return f"{value}: {attempt(value)}", ""
    if field == F.MESSAGE_ID:
        return f"0x{value:08x}", ""
    if field == F.LENGTH:
        if rebuilt.profile is not None and rebuilt.profile.length_digits:
            return f"{span.source.decode('ascii')}: " + plural(value, "byte") + (" (the NUL counted)" if rebuilt.profile.nul_counted else ""), ""
        return plural(value, "byte") + (" (the NUL counted)" if rebuilt.profile is not None and rebuilt.profile.nul_counted else ""), ""
    if field == F.RETRANSMISSIONS:
        return plural(value, "bit") + " resent by the sender", ""
    if field == F.CRC:
        if rebuilt.outcome == F.DELIVERED:
            return f"0x{value:08x}, every bit echoed: intact", ""
        return f"0x{value:08x}", ""
    return f"{value}", ""


def missing_note(rebuilt: F.Rebuilt) -> Content:
    """The last row: what did not arrive, or what is not known."""
    came = rebuilt.signals
    if rebuilt.outcome == F.IN_FLIGHT:
        total = f" of {number(rebuilt.expected)}" if rebuilt.expected is not None else ""
        return Content.styled(f"… in flight: {number(came)}{total} signals so far", "$text-accent")
    reason = f" ({rebuilt.reason.value})" if rebuilt.reason is not None else ""
    if rebuilt.expected is None:
        return Content.styled(f"… then nothing more: the transfer ended{reason}, its length unknown", "$text-error")
    rest = rebuilt.expected - came
    if rest <= 0:
        return Content.styled("· = arrived, but the value was not kept", MUTED_STYLE)
    fields = []
    for span in rebuilt.spans:
        if span.arrived < span.count and span.count:
            name = LEGEND.get(span.field, LABELS[span.field])
            if span.field in DATA_FIELDS and span.arrived and not span.words:
                name += f" from byte {number(span.arrived // 8)}"
            elif span.field == F.WORDS and span.arrived:
                name += f" from word {number(span.arrived)}"
            fields.append(name)
    return Content.styled(f"… {plural(rest, 'more signal')} never came{reason}: {', '.join(fields)}", "$text-error")


# --------------------------------------------------------------------------- the widget


class FrameXRay(ScrollView, can_focus=True):
    """Every signal of a ``Rebuilt`` transfer, a row per field (or per few payload bytes); a cursor on one signal."""

    DEFAULT_CSS = """
    FrameXRay {
        height: auto;
        max-height: 35vh;
        min-height: 3;
        scrollbar-size-vertical: 1;
        overflow-x: hidden;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    BINDINGS = [
        Binding("left", "step(-1)", "Step", key_display="←→"),
        Binding("right", "step(1)", "Step", show=False),
        Binding("up", "row(-1)", "Row", show=False),
        Binding("down", "row(1)", "Row", show=False),
        Binding("pageup", "page(-1)", "Page", show=False),
        Binding("pagedown", "page(1)", "Page", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
        Binding("r", "next_resent", "Next resent"),
    ]

    class Moved(Message):
        """The cursor is on another signal."""

        def __init__(self, xray: FrameXRay, position: int) -> None:
            super().__init__()
            self.xray = xray
            self.position = position

    def __init__(self, rebuilt: F.Rebuilt, *, resent: Sequence[int] = (), cursor: int | None = None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rebuilt = rebuilt
        self.resent = list(resent)
        self._layout: Layout | None = None
        self.position = self._valid(first_data_signal(rebuilt) if cursor is None else cursor)

    # ------------------------------------------------------------------ the frame
    def set_frame(self, rebuilt: F.Rebuilt, *, resent: Sequence[int] = (), follow: bool | None = None) -> None:
        """Show ``rebuilt`` instead (a growing prefix: ``follow``, by default when the cursor is on the last signal)."""
        if follow is None:
            follow = self.position >= self.rebuilt.signals - 1
        self.rebuilt = rebuilt
        self.resent = list(resent)
        self._layout = None
        self._update_size()
        self.move_to(rebuilt.signals - 1 if follow else self.position, force=True)
        self.refresh()
        self.refresh_bindings()

    def _valid(self, position: int) -> int:
        return max(0, min(position, self.rebuilt.signals - 1))

    def layout_for(self, width: int) -> Layout:
        layout = self._layout
        if layout is None or layout.width != width:
            layout = self._layout = Layout(self.rebuilt, width)
        return layout

    @property
    def layout(self) -> Layout:
        return self.layout_for(self.scrollable_content_region.width or self.size.width or 80)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return self.layout_for(max(1, width - 1)).rows  # (one column for the scrollbar)

    def on_resize(self) -> None:
        self._update_size()
        self._scroll_to_cursor()

    def _update_size(self) -> None:
        layout = self.layout
        self.virtual_size = Size(self.scrollable_content_region.width, layout.rows)
        self.refresh(layout=True)

    # ------------------------------------------------------------------ the cursor
    def move_to(self, position: int, *, force: bool = False) -> None:
        position = self._valid(position)
        if position == self.position and not force:
            return
        layout = self.layout
        old_row = layout.row_of(self.position)
        self.position = position
        self.refresh_lines(old_row)
        self.refresh_lines(layout.row_of(position))
        self._scroll_to_cursor()
        self.post_message(self.Moved(self, position))

    def _scroll_to_cursor(self) -> None:
        if not self.rebuilt.signals:
            return
        row = self.layout.row_of(self.position)
        height = self.scrollable_content_region.height or 1
        top = self.scroll_offset.y
        if row < top:
            self.scroll_to(y=row, animate=False, immediate=True)
        elif row >= top + height:
            self.scroll_to(y=row - height + 1, animate=False, immediate=True)

    def action_step(self, delta: int) -> None:
        self.move_to(self.position + delta)

    def action_row(self, delta: int) -> None:
        """The signal in the row above or below, in the same column (or the nearest one before it)."""
        if not self.rebuilt.signals:
            return
        layout = self.layout
        row = layout.row_of(self.position)
        here = layout.row(row)
        column = layout.column_of(here, self.position - here.first)
        target = layout.row(row + delta)
        if target is None or target.span is None:
            return
        best = target.first
        for i in range(target.count):
            if layout.column_of(target, i) <= column:
                best = target.first + i
        self.move_to(best)

    def action_page(self, delta: int) -> None:
        height = max(1, (self.scrollable_content_region.height or 1) - 1)
        layout = self.layout
        rows = layout.rows - layout.note
        target = layout.row(max(0, min(rows - 1, layout.row_of(self.position) + delta * height)))
        if target is not None and target.span is not None:
            self.move_to(target.first)

    def action_jump(self, position: int) -> None:
        self.move_to(position if position >= 0 else self.rebuilt.signals - 1)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return bool(self.resent) if action == "next_resent" else True

    def action_next_resent(self) -> None:
        if not self.resent:
            return
        at = bisect_right(self.resent, self.position)
        self.move_to(self.resent[at % len(self.resent)])

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        position = self.layout.signal_at(offset.y + self.scroll_offset.y, offset.x + self.scroll_offset.x)
        if position is not None:
            self.focus()
            self.move_to(position)

    # ------------------------------------------------------------------ drawing
    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        layout = self.layout
        row = layout.row(y + self.scroll_offset.y)
        style = self.visual_style
        if row is None:
            return Strip.blank(width, style.rich_style)
        content = missing_note(self.rebuilt) if row.span is None else self.row_content(layout, row)
        strip = Visual.to_strips(self, content, width, 1, style, pad=True)[0]
        return strip.crop(0, width)

    def row_content(self, layout: Layout, row: Row) -> Content:
        span = row.span
        field_style = FIELD_STYLES[span.field]
        first = row.first
        cursor = self.position - first if first <= self.position < first + row.count else None
        resent = self.resent
        low = bisect_left(resent, first)
        marked = {p - first for p in resent[low : bisect_left(resent, first + row.count)]}
        if span.field in DATA_FIELDS and row.start:
            label = f"+{number(row.start // 8 if not span.words else row.start * WORD_PAYLOAD_BYTES)}"
            parts: list[str | tuple[str, str]] = [(f"{number(first + 1):>{layout.digits}} ", MUTED_STYLE), (f"{label:>{LABEL}} ", MUTED_STYLE)]
        else:
            parts = [(f"{number(first + 1):>{layout.digits}} ", MUTED_STYLE), (f"{LABELS[span.field]:<{LABEL}} ", field_style)]
        if span.words:
            parts += self._word_cells(layout, span, row.start, cursor is not None, bool(marked))
            value = ascii_of(span.chunk(row.start)) if row.start < span.known else UNKNOWN * WORD_PAYLOAD_BYTES
            width = WORD_BITS_WIDTH if layout.bytes_per_row >= 8 else len(word_hex(span, row.start))
            parts.append(" " * max(2, CELL * layout.bytes_per_row - 1 - width + 2))
            parts.append((f"│{value}│", "$text-secondary"))
        else:
            for i in range(row.count):
                if i and i % 8 == 0:
                    parts.append(" ")
                bit = span.bit(row.start + i)
                text, style = (UNKNOWN, MUTED_STYLE) if bit is None else (str(bit), field_style)
                if i in marked:
                    style = f"{style} {RESENT_STYLE}"
                if i == cursor:
                    style = f"{style} {CURSOR_STYLE}"
                parts.append((text, style))
            used = row.count + (row.count - 1) // 8
            parts.append(" " * (CELL * layout.bytes_per_row + 1 - used if span.field in DATA_FIELDS else 2))
            if span.field in DATA_FIELDS:
                start = (span.offset + row.start) // 8
                whole = min(row.count, max(0, span.known - row.start)) // 8
                shown = ascii_of(span.source[start : start + whole], -(-row.count // 8) - whole)
                parts.append((f"│{shown}│", "$text-secondary"))
            elif row.start == 0:
                parts.append(field_value(self.rebuilt, span))
        if marked:
            parts.append((f"  {RESENT_MARK}", "$text-warning bold"))
        return Content.assemble(*parts)

    def _word_cells(self, layout: Layout, span: F.Span, i: int, cursor: bool, marked: bool) -> list[tuple[str, str]]:
        extra = (f" {RESENT_STYLE}" if marked else "") + (f" {CURSOR_STYLE}" if cursor else "")
        if layout.bytes_per_row < 8:
            return [(word_hex(span, i), FIELD_STYLES[span.field] + extra)]
        value = span.value(i)
        if value is None:
            return [(" ".join([UNKNOWN * 8] * 8), MUTED_STYLE + extra)]
        digits = format(value, "064b")
        groups = [digits[8 * k : 8 * k + 8] for k in range(8)]
        return [(" ".join(groups[:2]) + " ", TAG_STYLE + extra), (" ".join(groups[2:]), FIELD_STYLES[span.field] + extra)]


def word_hex(span: F.Span, i: int) -> str:
    """A turbo word in hex: ``tag 3f2a  70 69 6e 67 00 00``."""
    if i >= span.known:
        return f"tag {span.tag(i):04x}  " + " ".join([UNKNOWN * 2] * WORD_PAYLOAD_BYTES)
    return f"tag {span.tag(i):04x}  " + span.chunk(i).hex(" ")


def first_data_signal(rebuilt: F.Rebuilt) -> int:
    """Where the cursor starts: the first payload signal that arrived, else the first signal."""
    for span in rebuilt.spans:
        if span.field in DATA_FIELDS and span.arrived:
            return span.first
    return 0


# --------------------------------------------------------------------------- the lens and the words under the cursor

LENS_LABELS = {F.SIGNATURE: "hello", F.MESSAGE_ID: "msg id", F.HANDSHAKE_FIELD: "hndshake", F.RETRANSMISSIONS: "resent"}


def lens(row: Row) -> tuple[bytes, list[Group]]:
    """The bytes of ``row`` and their columns for ``SignalBits``: character (or field), hex, bits, signals."""
    span = row.span
    if span is None:
        return b"", []
    if span.words:
        i = row.start
        symbol = span.symbol(i)
        tag = span.tag(i).to_bytes(2, "big")
        known = i < span.known
        chunk = span.chunk(i) if known else b""
        labels = [("tag", TAG_STYLE), ("┄", MUTED_STYLE)] + byte_labels(chunk) + [(UNKNOWN, MUTED_STYLE)] * (WORD_PAYLOAD_BYTES - len(chunk))
        groups = []
        for k, (label, style) in enumerate(labels):
            byte = (tag + chunk)[k] if k < 2 + len(chunk) else None
            bits = [None] * 8 if byte is None else [(byte >> (7 - j)) & 1 for j in range(8)]
            groups.append(Group(label, style, UNKNOWN * 2 if byte is None else f"0x{byte:02x}", bits, [symbol] * 8))
        return tag + chunk, groups
    data = bytearray()
    groups = []
    if span.field in DATA_FIELDS:
        start = (span.offset + row.start) // 8
        context = max(0, start - 3)
        known_bytes = max(0, min(row.count, span.known - row.start)) // 8
        labels = byte_labels(span.source[context : start + known_bytes])[start - context :]
    else:
        labels = [(LENS_LABELS.get(span.field, LABELS[span.field]), FIELD_STYLES[span.field])]
    for g, at in enumerate(range(row.start, row.start + row.count, 8)):
        count = min(8, row.start + row.count - at)
        bits = [span.bit(at + k) for k in range(count)]
        signals = [span.symbol(at + k) for k in range(count)]
        label, style = labels[g] if g < len(labels) else ((UNKNOWN, MUTED_STYLE) if span.field in DATA_FIELDS else ("┄", MUTED_STYLE))
        if count == 8 and None not in bits:
            byte = span.source[(span.offset + at) // 8]
            data.append(byte)
            hex_ = f"0x{byte:02x}"
        else:
            hex_ = UNKNOWN * 2 if count == 8 else ""
        groups.append(Group(label, style, hex_, bits, signals))
    return bytes(data), groups


REPLIES = {
    F.ACK: "the ack",
    F.SIGNATURE_REPLY: "the classic-style ack of a signature bit",
    F.GO_REPLY: "GO: the session is this sender's",
    F.TURBO_YES: "the NAK symbol here means yes to turbo words",
    F.PAIRS_YES: "the NAK symbol here means yes to two words per round trip",
    F.TRIPLES_YES: "the NAK symbol here means yes to three words per round trip",
    F.NAK: "a NAK: the session ended",
    F.ECHO: "the echo: the same bit while every CRC bit matched",
    F.VERDICT: "the last echo, the verdict: intact (sent after the delivery)",
}


def what_it_is(rebuilt: F.Rebuilt, span: F.Span, i: int) -> str:
    """Which bit of which field the signal ``i`` of ``span`` is."""
    field = span.field
    if span.words:
        start = WORD_PAYLOAD_BYTES * i
        return (
            f"turbo word {number(i + 1)} of {number(span.count)}: payload bytes {number(start)}–{number(start + WORD_PAYLOAD_BYTES - 1)}"
            f", tag 0x{span.tag(i):04x} = turbo_key + {number(i)}"
        )
    index = "" if rebuilt.mode == CLASSIC or field == F.SIGNATURE else f" · frame index {number(span.index + i)}"
    if field in DATA_FIELDS:
        byte, bit = divmod(i, 8)
        return f"{LABELS[field]} byte {number(byte)} bit {bit + 1}/8 ({'LSB' if span.lsb else 'MSB'} first){index}"
    name = LABELS[field] if field in (F.VERSION, F.RETRANSMISSIONS) else LEGEND.get(field, LABELS[field])
    if field == F.RETRANSMISSIONS:
        name = "retransmission count"
    if span.count == 1:
        return f"{name} bit{index}"
    return f"{name} bit {i + 1}/{span.count}{index}"


def describe(rebuilt: F.Rebuilt, stats: TransferStats, position: int, resent: Sequence[int]) -> Content:
    """The signal at ``position``: what it carried and where; the reply and the round trip; probably resent?"""
    if not rebuilt.signals:
        return Content.styled("No signal has arrived yet.", MUTED_STYLE)
    span, i = rebuilt.locate(position)
    symbol = span.symbol(i)
    first: list[str | tuple[str, str]] = [(f"signal {number(position + 1)} of {number(rebuilt.signals)}: ", "bold")]
    if span.words:
        value = span.value(i)
        shown = "si_value not kept" if value is None else f"si_value 0x{value:016x}"
        target = ", to the receiving thread" if span.group == 3 and i % 3 == 0 else ""
        first.append((f"sigqueue({signal_name(symbol)}{target}), {shown}", "bold"))
    elif span.field == F.HANDSHAKE_FIELD:
        first.append(("SIGUSR1", "bold"))
    else:
        bit = span.bit(i)
        first.append(("value not kept" if bit is None else f"{bit} → {signal_name(symbol)}", "bold"))
    first += [" · ", (what_it_is(rebuilt, span, i), FIELD_STYLES[span.field].split(" on ")[0])]
    reply, what = rebuilt.reply(position)
    second: list[str | tuple[str, str]] = []
    if what == F.NO_REPLY:
        second.append(("no reply (the profile has no acks)", MUTED_STYLE))
    elif what == F.WITH_ITS_GROUP:
        group = "triple" if span.group == 3 else "pair"
        second.append((f"no reply of its own: the {group} is answered after its SIGUSR2 word", MUTED_STYLE))
    elif what == F.END_ACK:
        profile = rebuilt.profile
        second.append(f"answered {signal_name(profile.ack_symbol) if profile.ack else 'nothing'}, then the end ack {signal_name(reply)}")
    elif rebuilt.mode == CLASSIC:
        second.append(f"answered {signal_name(reply)} (the profile's ack)")
    else:
        second.append(f"answered {signal_name(reply) if reply is not None else '(not kept)'}: {REPLIES[what]}")
    gaps = stats.gaps
    trip = rebuilt.round_trip(gaps, position)
    if trip is not None:
        second += [" · round trip ", (human_duration(trip), "bold")]
    elif position >= rebuilt.gap_base and position - rebuilt.gap_base >= MAX_GAP_SAMPLES:
        second.append((f" · no round trip kept (the server keeps the first {number(MAX_GAP_SAMPLES)})", MUTED_STYLE))
    lines = [Content.assemble(*first), Content.assemble(*second)]
    at = bisect_left(resent, position)
    if at < len(resent) and resent[at] == position:
        since = rebuilt.since_previous(gaps, position) or 0.0
        lines.append(Content.assemble(
            (f"{RESENT_MARK} probably resent", "$text-warning bold"),
            (f": it came {human_duration(since)} after the previous signal and the sender reported"
             f" {plural(stats.retransmissions, 'retransmission')}; the server cannot see which signals they were", "$text-warning"),
        ))
    return Content("\n").join(lines)


def legend(rebuilt: F.Rebuilt, resent: Sequence[int] = ()) -> Content:
    """A swatch per colour of the fields in this transfer, then the marks it uses."""
    parts: list[str | tuple[str, str]] = []
    seen: set[str] = set()
    for span in rebuilt.spans:
        style = FIELD_STYLES[span.field]
        if style in seen:
            continue
        seen.add(style)
        parts += [("■ ", style.replace(" bold", "")), (LEGEND.get(span.field, LABELS[span.field]), style), "  "]
        if span.words:
            parts += [("■ ", TAG_STYLE), ("word tag", TAG_STYLE), "  "]
    if any(span.known < span.arrived for span in rebuilt.spans):
        parts.append((f"{UNKNOWN} not kept  ", MUTED_STYLE))
    if resent:
        parts.append((f"{RESENT_MARK} probably resent", "$text-warning"))
    return Content.assemble(*parts)


def headline(rebuilt: F.Rebuilt) -> str:
    count = number(rebuilt.signals)
    if rebuilt.outcome == F.IN_FLIGHT:
        return f"Signals: {count} so far, rebuilt from what has arrived"
    if rebuilt.outcome == F.DELIVERED:
        return f"Signals: all {count}, rebuilt from the delivered message"
    return f"Signals: the {count} that arrived, rebuilt from the partial payload"


def about(rebuilt: F.Rebuilt) -> Content:
    """What the X-ray is built from, and what it cannot know (for the inspector's body)."""
    text = [
        "The server keeps the message and the transfer's statistics, not the signals it received: the X-ray"
        " rebuilds them from the spec (docs/PROTOCOL.md). ←/→ or a click steps through them, ↑/↓ goes a row"
        " up or down, home/end to the first or last, r to the next signal that was probably resent."
    ]
    if rebuilt.mode == CLASSIC:
        text.append(f"Classic minitalk, profile {rebuilt.profile}: the bits are shown in the order they travelled.")
    else:
        text.append(
            "Only the last signature is shown (a queued sender repeats its hello). A signal is marked probably resent"
            f" when it came at least {human_duration(F.RESENT_GAP)} after the previous one (a sender's first retry) and the"
            " sender reported retransmissions; only the sender knows which bits it resent."
        )
        if rebuilt.flags_assumed:
            text.append(
                "The flags byte is not kept: shown as 0x00. A sender that asked a --no-turbo server for turbo words"
                " sent 0x07 (0x03 or 0x01 from older senders), and its CRC-32 differs from the one shown."
            )
    if rebuilt.outcome != F.DELIVERED:
        text.append(f"{UNKNOWN}: the signal arrived but its value was not kept (a byte that never completed, a CRC never checked).")
    return Content.styled(" ".join(text), MUTED_STYLE)


class XRayPanel(Vertical):
    """The X-ray with its title, legend, lens (``SignalBits``) and the words on the signal under the cursor."""

    DEFAULT_CSS = """
    XRayPanel { height: auto; }
    XRayPanel > #xray-title { color: $text-primary; text-style: bold underline; }
    XRayPanel > #xray-detail { height: auto; }
    XRayPanel.-compact > SignalBits { display: none; }
    """

    COMPACT_HEIGHT = 32
    """Screens lower than this get no lens (the X-ray rows show the bits too)."""

    def __init__(self, rebuilt: F.Rebuilt, stats: TransferStats, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rebuilt = rebuilt
        self.stats = stats
        self.resent = F.probably_resent(rebuilt, stats.gaps, stats.retransmissions)

    def compose(self) -> ComposeResult:
        yield Static(headline(self.rebuilt), id="xray-title")
        yield Static(legend(self.rebuilt, self.resent), id="xray-legend")
        yield FrameXRay(self.rebuilt, resent=self.resent, id="xray")
        yield SignalBits(b"", id="inspector-signals")
        yield Static("", id="xray-detail")

    def on_mount(self) -> None:
        self.fit(self.app.size.height)
        self._show_cursor(self.query_one(FrameXRay).position)

    def fit(self, screen_height: int) -> None:
        """Hide the lens on a low screen (the screens call this when they are resized)."""
        self.set_class(screen_height < self.COMPACT_HEIGHT, "-compact")

    def show(self, rebuilt: F.Rebuilt, stats: TransferStats, *, follow: bool | None = None) -> None:
        """Show another (a longer) version of the transfer, e.g. while it is in flight."""
        self.rebuilt = rebuilt
        self.stats = stats
        self.resent = F.probably_resent(rebuilt, stats.gaps, stats.retransmissions)
        self.query_one("#xray-title", Static).update(headline(rebuilt))
        self.query_one("#xray-legend", Static).update(legend(rebuilt, self.resent))
        xray = self.query_one(FrameXRay)
        xray.set_frame(rebuilt, resent=self.resent, follow=follow)
        self._show_cursor(xray.position)

    def on_frame_xray_moved(self, message: FrameXRay.Moved) -> None:
        message.stop()
        self._show_cursor(message.position)

    def _show_cursor(self, position: int) -> None:
        xray = self.query_one(FrameXRay)
        layout = xray.layout
        row = layout.row(layout.row_of(position)) if self.rebuilt.signals else None
        data, groups = lens(row) if row is not None else (b"", [])
        cursor = None
        if row is not None and row.span is not None:
            cursor = 0 if row.span.words else position - row.first
        self.query_one(SignalBits).show(data, groups, cursor)
        self.query_one("#xray-detail", Static).update(describe(self.rebuilt, self.stats, position, self.resent))


def rebuilt_of(entry: Entry) -> F.Rebuilt | None:
    """The signals of a log entry's transfer (``None``: no transfer took place)."""
    if entry.stats is None:
        return None
    outcome = F.DELIVERED if entry.kind in (Kind.DELIVERED, Kind.DUPLICATE) else F.ABORTED
    return F.rebuild(entry.data, entry.stats, mode=entry.mode, profile=entry.profile, outcome=outcome, reason=entry.reason)


class LiveXRayScreen(ModalScreen[None]):
    """The X-ray of a transfer still in flight, growing with every report (slow, classic transfers).

    The app pushes it for a transfer in flight, calls ``update(data, stats)``
    with each snapshot of that transfer (the payload so far, and its stats
    with ``bits`` = the signals so far), and ``finish(entry)`` when the
    transfer ends. The cursor follows the newest signal until moved.
    """

    BINDINGS = [Binding("escape,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    LiveXRayScreen { align: center middle; background: $background 60%; }
    LiveXRayScreen > #live-xray { width: 96%; height: auto; max-height: 92%; border: thick $primary;
        border-title-color: $text-accent; border-title-style: bold; background: $surface; padding: 0 1; }
    LiveXRayScreen FrameXRay { max-height: 60vh; }
    """

    def __init__(self, pid: int, name: str | None = None, *, mode: str = F.NATIVE, profile: str | None = None) -> None:
        super().__init__()
        self.pid = pid
        self.sender_name = name
        self.mode = mode
        self.profile = profile
        self.finished = False
        empty = TransferStats(pid=pid, started_at=0.0, ended_at=0.0)
        self._first = (F.rebuild(b"", empty, mode=mode, profile=profile, outcome=F.IN_FLIGHT), empty)

    def compose(self) -> ComposeResult:
        with Vertical(id="live-xray"):
            yield Static(Content.styled("in flight", "$text-accent bold"), id="inspector-kind")
            yield XRayPanel(*self._first, id="xray-panel")
        yield Footer()

    def on_resize(self, event: events.Resize) -> None:
        self.query_one(XRayPanel).fit(event.size.height)

    def on_mount(self) -> None:
        name = f" ({safe_name(self.sender_name)})" if self.sender_name else ""
        self.query_one("#live-xray").border_title = f"Live: the transfer from {self.pid}{name}"
        self.query_one(FrameXRay).focus()

    def update(self, data: bytes, stats: TransferStats) -> None:
        """A snapshot of the transfer: the payload so far and its stats (``bits``: frame signals so far)."""
        if not self.finished:
            rebuilt = F.rebuild(data, stats, mode=self.mode, profile=self.profile, outcome=F.IN_FLIGHT)
            self.query_one(XRayPanel).show(rebuilt, stats)
            self.query_one("#inspector-kind", Static).update(
                Content.styled(f"in flight · {human_bytes(len(data))} so far", "$text-accent bold")
            )

    def finish(self, entry: Entry) -> None:
        """The transfer ended (delivered or not): show it whole, as the inspector would."""
        rebuilt = rebuilt_of(entry)
        if rebuilt is None:
            return
        self.finished = True
        self.query_one(XRayPanel).show(rebuilt, entry.stats)
        done = "delivered" if entry.kind in (Kind.DELIVERED, Kind.DUPLICATE) else "ended without a delivery"
        self.query_one("#inspector-kind", Static).update(Content.styled(f"{done} · {plural(len(entry.data), 'byte')}", "bold"))

