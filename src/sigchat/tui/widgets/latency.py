"""Per-bit round-trip latency of one transfer: a histogram on a log scale.

``stats.gaps`` holds the time from one bit to the next as the server saw it
(its reply plus the sender's turnaround). Huge transfers are summarised from
an even sample of at most ``SAMPLE_LIMIT`` gaps, so opening the inspector
never holds the interpreter for long (the receiver thread needs it).
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Sequence

from textual.content import Content
from textual.widgets import Static

from sigchat.proto.events import LatencySummary
from sigchat.format import bits, human_duration, number
from sigchat.tui.text import MUTED_STYLE

SAMPLE_LIMIT = 200_000
EDGES = (10e-6, 20e-6, 50e-6, 100e-6, 200e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3, 20e-3, 50e-3, 100e-3, 500e-3)
BAR = 36
BLOCKS = " ▏▎▍▌▋▊▉█"


def sample(gaps: Sequence[float]) -> tuple[Sequence[float], bool]:
    """At most ``SAMPLE_LIMIT`` evenly spaced gaps, and whether it is a sample."""
    if len(gaps) <= SAMPLE_LIMIT:
        return gaps, False
    step = -(-len(gaps) // SAMPLE_LIMIT)
    return gaps[::step], True


def summarize(gaps: Sequence[float]) -> tuple[LatencySummary | None, bool]:
    sampled, is_sample = sample(gaps)
    return LatencySummary.of(array("f", sampled) if not isinstance(sampled, array) else sampled), is_sample


def downsample(gaps: Sequence[float], points: int = 240) -> list[float]:
    """The largest gap of each of ``points`` consecutive chunks (spikes stay visible)."""
    if len(gaps) <= points:
        return list(gaps)
    step = len(gaps) / points
    return [max(gaps[int(i * step) : max(int(i * step) + 1, int((i + 1) * step))]) for i in range(points)]


def _edge_label(low: float | None, high: float | None) -> str:
    if low is None:
        return f"< {human_duration(high)}"
    if high is None:
        return f"≥ {human_duration(low)}"
    return f"{human_duration(low)}–{human_duration(high)}"


def histogram(gaps: Sequence[float]) -> Content:
    """Counts per log-scale bucket, between the first and last non-empty bucket."""
    sampled, is_sample = sample(gaps)
    if not sampled:
        return Content.styled("(no samples)", MUTED_STYLE)
    counts = [0] * (len(EDGES) + 1)
    for gap in sampled:
        counts[bisect.bisect_right(EDGES, gap)] += 1
    used = [index for index, count in enumerate(counts) if count]
    first, last = used[0], used[-1]
    peak = max(counts)
    bounds = (None, *EDGES, None)
    labels = [_edge_label(bounds[i], bounds[i + 1]) for i in range(first, last + 1)]
    width = max(len(label) for label in labels)
    lines = []
    for label, index in zip(labels, range(first, last + 1)):
        eighths = round(BAR * 8 * counts[index] / peak)
        bar = "█" * (eighths // 8) + (BLOCKS[eighths % 8] if eighths % 8 else "")
        lines.append(
            Content.assemble(
                (f"{label:>{width}} ", MUTED_STYLE),
                (f"{bar:<{BAR}}", "$text-primary"),
                (f" {number(counts[index])}", "bold"),
            )
        )
    if is_sample:
        lines.append(Content.styled(f"(an even sample of {number(len(sampled))} of {bits(len(gaps))})", MUTED_STYLE))
    return Content("\n").join(lines)


class LatencyHistogram(Static):
    """The histogram of ``gaps`` (computed once, when created)."""

    def __init__(self, gaps: Sequence[float], *, id: str | None = None) -> None:
        super().__init__(histogram(gaps), id=id)
