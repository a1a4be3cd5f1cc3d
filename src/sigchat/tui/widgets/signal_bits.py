"""Bytes shown as the signals that carried them: character, hex, bits, signal.

By default every byte is sent most significant bit first, one signal per bit:
SIGUSR1 carries 0 and SIGUSR2 carries 1 (``wire.symbols_of``). Under each
decoded character this widget shows the byte in hex, its eight bits and the
number of the signal (1 or 2) that carried each bit.

The frame X-ray (``widgets.xray``) uses it as its lens: the groups of the
row under the cursor, with any bit order, signal mapping or unknown bits
(``Group``), and the bit under the cursor highlighted (``show``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from rich.cells import cell_len
from textual.content import Content
from textual.geometry import Size
from textual.widget import Widget

from sigchat.proto.wire import symbols_of
from sigchat.tui.text import INVALID_STYLE, MUTED_STYLE, decode_prefix, safe_parts

LABEL = 7
CELL = 9
ROWS = ("char", "hex", "bits", "SIGUSR")
ZERO_STYLE = "$text-primary"
ONE_STYLE = "$text-accent bold"
UNKNOWN = "·"
CURSOR_STYLE = "reverse bold"


def byte_labels(data: bytes, limit: int | None = None) -> list[tuple[str, str]]:
    """For each of the first ``limit`` bytes: how to show it in the "char" row, and the style.

    A character that straddles the limit is still decoded (from the bytes after it).
    """
    limit = len(data) if limit is None else min(limit, len(data))
    text, _ = decode_prefix(data, limit + 3)
    labels: list[tuple[str, str]] = []
    for char in text:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:
            labels.append((f"\\x{code - 0xDC00:02x}", INVALID_STYLE))
            continue
        width = len(char.encode("utf-8"))
        shown = "".join(part for part, _ in safe_parts(char, newlines=False))
        if shown == " ":
            shown = "␠"
        labels.append((shown, "bold" if shown == char else "$text-warning"))
        labels.extend([("┄", MUTED_STYLE)] * (width - 1))
    # A character cut at the end of ``data`` was left out by the decoder.
    labels.extend([("┄", MUTED_STYLE)] * (limit - len(labels)))
    return labels[:limit]


class Group(NamedTuple):
    """One column: a label ("char" row), the hex, and the bits with the signal of each (``None``: unknown)."""

    label: str
    label_style: str
    hex: str
    bits: Sequence[int | None]
    signals: Sequence[int | None]


def byte_groups(data: bytes, limit: int | None = None) -> list[Group]:
    """The columns of ``data``'s first ``limit`` bytes, sent MSB first, SIGUSR2 = 1."""
    labels = byte_labels(data, limit)
    data = data[: len(labels)]
    symbols = symbols_of(data)
    return [
        Group(label, style, f"0x{byte:02x}", symbols[8 * i : 8 * i + 8], symbols[8 * i : 8 * i + 8])
        for i, (byte, (label, style)) in enumerate(zip(data, labels))
    ]


class SignalBits(Widget):
    """Bytes, hex, bits and signals in aligned columns, as many per row as fit."""

    DEFAULT_CSS = """
    SignalBits { height: auto; }
    """

    def __init__(self, data: bytes, *, limit: int = 32, id: str | None = None) -> None:
        super().__init__(id=id)
        self.data = data[:limit]
        self.groups = byte_groups(data, limit)
        self.labels = [(group.label, group.label_style) for group in self.groups]
        self.cursor: int | None = None
        """The bit highlighted, counted over all groups' bits."""

    def show(self, data: bytes, groups: list[Group], cursor: int | None = None) -> None:
        """Show ``groups`` (the bytes ``data``) with bit ``cursor`` highlighted."""
        self.data = data
        self.groups = groups
        self.labels = [(group.label, group.label_style) for group in groups]
        self.cursor = cursor
        self.refresh(layout=True)

    @staticmethod
    def per_row(width: int) -> int:
        return max(1, (width - LABEL) // CELL)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if not self.groups:
            return 1
        rows = -(-len(self.groups) // self.per_row(width))
        return rows * (len(ROWS) + 1) - 1

    def render(self) -> Content:
        groups = self.groups
        if not groups:
            return Content.styled("(no bytes)", MUTED_STYLE)
        per_row = self.per_row(self.size.width or 80)
        first_bits = [0]
        for group in groups:
            first_bits.append(first_bits[-1] + len(group.bits))
        lines: list[Content] = []
        for start in range(0, len(groups), per_row):
            if start:
                lines.append(Content(""))
            rows: dict[str, list[str | tuple[str, str]]] = {row: [(f"{row:<{LABEL}}", MUTED_STYLE)] for row in ROWS}
            for index in range(start, min(len(groups), start + per_row)):
                group = groups[index]
                shown, style = group.label, group.label_style
                if cell_len(shown) > CELL - 1:
                    shown = shown[: CELL - 2] + "…"
                rows["char"] += [(shown, style), " " * (CELL - cell_len(shown))]
                rows["hex"] += [(group.hex, "bold"), " " * (CELL - cell_len(group.hex))]
                for row, values, offset in (("bits", group.bits, 0), ("SIGUSR", group.signals, 1)):
                    for k, value in enumerate(values):
                        text, style = (UNKNOWN, MUTED_STYLE) if value is None else (str(value + offset), ONE_STYLE if value else ZERO_STYLE)
                        if first_bits[index] + k == self.cursor:
                            style = f"{style} {CURSOR_STYLE}"
                        rows[row].append((text, style))
                    rows[row].append(" " * (CELL - len(values)))
            lines.extend(Content.assemble(*rows[row]) for row in ROWS)
        return Content("\n").join(lines)
