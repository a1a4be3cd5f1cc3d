"""The transfer inspector (enter on a message): what exactly came over the wire.

It shows every signal of the transfer, rebuilt and stepped through bit by bit
(the X-ray, ``widgets.xray``), a hex dump, the per-bit round-trip latency
(summary, a sparkline over the transfer and a histogram), the timings and the
retransmissions.
"""

from __future__ import annotations

import datetime

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Footer, Sparkline, Static

from sigchat.proto import wire
from sigchat.proto.events import TransferStats
from sigchat.server.sink import Kind
from sigchat.tui.model import Entry
from sigchat.format import clock_time, human_bytes, human_duration, human_rate
from sigchat.tui.text import MUTED_STYLE, message_label, safe_name
from sigchat.tui.widgets.chat_log import integrity
from sigchat.tui.widgets.latency import LatencyHistogram, downsample, summarize
from sigchat.tui.widgets.xray import LABELS, FrameXRay, XRayPanel, about, rebuilt_of

HEX_BYTES = 256


def hex_dump(data: bytes, limit: int = HEX_BYTES) -> Content:
    """``offset  hex bytes  |ascii|``, 16 bytes a line, at most ``limit`` bytes."""
    if not data:
        return Content.styled("(no bytes)", MUTED_STYLE)
    lines = []
    for offset in range(0, min(len(data), limit), 16):
        chunk = data[offset : offset + 16]
        hexes = " ".join(f"{byte:02x}" for byte in chunk[:8])
        if len(chunk) > 8:
            hexes += "  " + " ".join(f"{byte:02x}" for byte in chunk[8:])
        ascii_ = "".join(chr(byte) if 0x20 <= byte < 0x7F else "." for byte in chunk)
        lines.append(
            Content.assemble(
                (f"{offset:08x}  ", MUTED_STYLE),
                f"{hexes:<49}",
                ("│", MUTED_STYLE),
                (ascii_, "$text-secondary"),
                ("│", MUTED_STYLE),
            )
        )
    if len(data) > limit:
        lines.append(Content.styled(f"… {len(data) - limit:,} more bytes (s saves everything)", MUTED_STYLE))
    return Content("\n").join(lines)


def frame_layout(length: int | None) -> str:
    if length is None:
        return "the header never completed"
    total = wire.frame_bit_count(length)
    return (
        f"{total:,} frame bits = 1 start + {8 * wire.HEADER_BYTES} header + {8 * length:,} payload"
        f" + {wire.RETRANSMISSION_BITS} retransmission count + {wire.CRC_BITS} CRC-32"
    )


def classic_layout(entry: Entry) -> str:
    """``161 signals = 1 handshake + 32 length + 120 message + 8 NUL`` (the fields that arrived)."""
    rebuilt = rebuilt_of(entry)
    parts = [f"{span.arrived:,} {LABELS[span.field]}" for span in rebuilt.spans if span.arrived]
    return f"{rebuilt.signals:,} signals = {' + '.join(parts)}" if parts else "no signal"


WORDS_PER_ROUND_TRIP = {1: "one", 2: "two", 3: "three"}


def mode_of(stats: TransferStats) -> str:
    if stats.turbo:
        return (
            f"turbo: the payload in {stats.words:,} sigqueue words of {wire.WORD_PAYLOAD_BYTES} bytes"
            f" (+ a 16-bit tag), {WORDS_PER_ROUND_TRIP[3 if stats.triples else 2 if stats.pairs else 1]} per round trip,"
            " header and CRC 1 bit per signal"
        )
    return "1 bit per signal"


def timings(entry: Entry, tz: datetime.tzinfo | None) -> Content:
    stats = entry.stats
    if stats is None:
        return Content.styled("(no transfer took place)", MUTED_STYLE)
    started_wall = entry.wall_time - stats.duration
    verdict, verdict_style = integrity(entry)
    message_id = f"0x{stats.message_id:08x}" if stats.message_id is not None else "–"
    frame_rate = stats.bits / stats.duration if stats.duration > 0 else 0.0
    rows = [
        ("started", f"{clock_time(started_wall, tz, millis=True)}   ended {clock_time(entry.wall_time, tz, millis=True)}"
                    f"   duration {human_duration(stats.duration)}"),
        ("size", f"{human_bytes(stats.length or 0)} ({stats.length if stats.length is not None else '?'} bytes)"
                 f" · {classic_layout(entry) if entry.classic else frame_layout(stats.length)}"),
        ("signals", f"{stats.signals_received:,} received, {stats.signals_sent:,} sent (replies)"
                    f" · {stats.bits:,} frame bits counted"),
        ("resent", f"{stats.retransmissions:,} bit retransmissions reported by the sender"
                   f" · attempt {stats.attempt + 1} · message id {message_id}"),
        ("speed", f"{human_rate(stats.bits_per_second)} payload · {human_rate(frame_rate)} frame bits"),
        ("mode", mode_of(stats)),
    ]
    lines = [Content.assemble((f"{label:<9}", MUTED_STYLE), value) for label, value in rows]
    lines.append(Content.assemble(("result   ", MUTED_STYLE), (verdict, verdict_style)))
    if entry.reason is not None:
        lines.append(Content.assemble(("reason   ", MUTED_STYLE), (entry.reason.value, "$text-error")))
    return Content("\n").join(lines)


def latency_summary(entry: Entry) -> Content:
    stats = entry.stats
    if stats is None or not stats.gaps:
        return Content.styled("(no per-bit samples)", MUTED_STYLE)
    summary, is_sample = summarize(stats.gaps)
    assert summary is not None
    parts = []
    for label, value in (("min", summary.min), ("median", summary.median), ("p99", summary.p99), ("max", summary.max)):
        parts += [(f"{label} ", MUTED_STYLE), (human_duration(value), "bold"), ("  ", "")]
    parts.append((f"over {len(stats.gaps):,} bits" + (" (sampled)" if is_sample else ""), MUTED_STYLE))
    return Content.assemble(*parts)


def title_of(entry: Entry, tz: datetime.tzinfo | None) -> str:
    name = f" ({safe_name(entry.name)})" if entry.name else ""
    return f"Transfer #{entry.seq + 1} from {entry.pid}{name} at {clock_time(entry.wall_time, tz)}"


class InspectorScreen(ModalScreen[None]):
    """Everything about one transfer."""

    BINDINGS = [
        Binding("escape,q,enter", "dismiss", "Close"),
        Binding("c", "copy", "Copy message"),
    ]

    def __init__(self, entry: Entry, *, tz: datetime.tzinfo | None = None) -> None:
        super().__init__()
        self.entry = entry
        self.tz = tz

    def compose(self) -> ComposeResult:
        entry = self.entry
        stats = entry.stats
        with Vertical(id="inspector"):
            kind = {
                Kind.DELIVERED: ("delivered", "$text-success bold"),
                Kind.DUPLICATE: ("delivered again (a repeat; not shown as new)", "$text-warning bold"),
                Kind.ABORTED: ("ABORTED: the partial payload below was dropped", "$text-error bold"),
                Kind.REJECTED: ("REJECTED before the payload", "$text-error bold"),
                Kind.REFUSED: ("NOT ANSWERED", "$text-error bold"),
                Kind.PROFILE: ("CLASSIC PROFILE, told from the client's signals", "$text-warning bold"),
            }[entry.kind]
            if entry.damaged:
                kind = ("DAMAGED: a bit was lost; what arrived is below", "$text-error bold")
            size = f" · {len(entry.data):,} bytes" if entry.kind not in (Kind.REFUSED, Kind.PROFILE) else ""
            yield Static(Content.assemble(kind, (size, MUTED_STYLE)), id="inspector-kind")
            rebuilt = rebuilt_of(entry)
            if rebuilt is not None:
                yield XRayPanel(rebuilt, stats, id="xray-panel")
            with VerticalScroll(id="inspector-body"):
                if entry.refusal or entry.notice:
                    yield Static(entry.refusal or entry.notice, markup=False)
                turbo = stats is not None and stats.turbo
                yield Static("Hex dump", classes="section")
                yield Static(hex_dump(entry.data), id="inspector-hex")
                unit = "word" if turbo else "bit"
                yield Static(f"Round trip per {unit}", classes="section")
                yield Static(
                    Content.styled(f"Time from one {unit} to the next, as the server saw it.", MUTED_STYLE),
                    classes="legend",
                )
                yield Static(latency_summary(entry), id="inspector-latency")
                if stats is not None and stats.gaps:
                    yield Sparkline(downsample(stats.gaps), id="inspector-sparkline")
                    yield LatencyHistogram(stats.gaps, id="inspector-histogram")
                yield Static("Timings", classes="section")
                yield Static(timings(entry, self.tz), id="inspector-timings")
                if rebuilt is not None:
                    yield Static("About the signals", classes="section")
                    yield Static(about(rebuilt), id="inspector-about")
        yield Footer()

    def on_resize(self, event: events.Resize) -> None:
        for panel in self.query(XRayPanel):
            panel.fit(event.size.height)

    def on_mount(self) -> None:
        self.query_one("#inspector").border_title = title_of(self.entry, self.tz)
        xray = self.query(FrameXRay)
        (xray.first() if xray else self.query_one("#inspector-body")).focus()

    def action_copy(self) -> None:
        # The app's copy reports how it went (``tui.clipboard``), as its own ``c`` does.
        entry = self.entry
        what = message_label(entry.pid, entry.name, len(entry.data))
        self.app.copy_to_clipboard(entry.data.decode("utf-8", "backslashreplace"), what)
