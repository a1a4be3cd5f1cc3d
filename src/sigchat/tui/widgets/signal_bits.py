"""The first bytes of a message shown as the signals that carried them.

Every byte is sent most significant bit first, one signal per bit: SIGUSR1
carries 0 and SIGUSR2 carries 1 (``wire.symbols_of``). Under each decoded
character this widget shows the byte in hex, its eight bits and the number of
the signal (1 or 2) that carried each bit.
"""

from __future__ import annotations

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


class SignalBits(Widget):
    """Bytes, hex, bits and signals in aligned columns, as many per row as fit."""

    DEFAULT_CSS = """
    SignalBits { height: auto; }
    """

    def __init__(self, data: bytes, *, limit: int = 32, id: str | None = None) -> None:
        super().__init__(id=id)
        self.data = data[:limit]
        self.labels = byte_labels(data, limit)

    @staticmethod
    def per_row(width: int) -> int:
        return max(1, (width - LABEL) // CELL)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if not self.data:
            return 1
        groups = -(-len(self.data) // self.per_row(width))
        return groups * (len(ROWS) + 1) - 1

    def render(self) -> Content:
        data = self.data
        if not data:
            return Content.styled("(no bytes)", MUTED_STYLE)
        per_row = self.per_row(self.size.width or 80)
        labels = self.labels
        symbols = symbols_of(data)
        lines: list[Content] = []
        for start in range(0, len(data), per_row):
            if start:
                lines.append(Content(""))
            indexes = range(start, min(len(data), start + per_row))
            rows: dict[str, list[str | tuple[str, str]]] = {row: [(f"{row:<{LABEL}}", MUTED_STYLE)] for row in ROWS}
            for index in indexes:
                shown, style = labels[index]
                if cell_len(shown) > CELL - 1:
                    shown = shown[: CELL - 2] + "…"
                rows["char"] += [(shown, style), " " * (CELL - cell_len(shown))]
                rows["hex"] += [(f"0x{data[index]:02x}", "bold"), " " * (CELL - 4)]
                bits = symbols[8 * index : 8 * index + 8]
                rows["bits"] += [(str(bit), ONE_STYLE if bit else ZERO_STYLE) for bit in bits] + [" "]
                rows["SIGUSR"] += [(str(bit + 1), ONE_STYLE if bit else ZERO_STYLE) for bit in bits] + [" "]
            lines.extend(Content.assemble(*rows[row]) for row in ROWS)
        return Content("\n").join(lines)
