"""Text helpers shared by the widgets: safe display of untrusted text, and number formats.

Anything that came from another process (message bytes, process names) goes
through ``safe_content`` before it is shown: control and format characters
are shown escaped (``\\x07``, ``\\u202e``), bytes that are not UTF-8 as
``\\xNN``, so a message can never move the cursor, change colours or break the
layout. Only a bounded prefix is ever decoded, so a 16 MiB message costs the
UI thread no more than a short one.

Colours are theme variables (``$text-warning``...), never literal colours.
"""

from __future__ import annotations

import codecs
import datetime
import re
import unicodedata

from textual.content import Content

ESCAPE_STYLE = "$text-warning"
INVALID_STYLE = "$text-error"
MUTED_STYLE = "$text-muted"

# Characters that need a second look: anything outside printable ASCII.
_NEEDS_CHECK = re.compile(r"[^\x20-\x7e]+")
# Categories shown escaped: controls, format (bidi overrides, zero-width...),
# surrogates, unassigned, line/paragraph separators.
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Cn", "Zl", "Zp"})
_NAMED_ESCAPES = {"\t": "\\t", "\r": "\\r", "\x1b": "\\e", "\x00": "\\0"}


def decode_prefix(data: bytes, limit: int) -> tuple[str, bool]:
    """Decode at most ``limit`` bytes of ``data``; invalid bytes become lone surrogates.

    Returns:
        The text and whether ``data`` was cut. A multi-byte character cut at
        the limit is left out rather than shown as invalid.
    """
    cut = len(data) > limit
    decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
    return decoder.decode(data[:limit], final=not cut), cut


def _escape_char(char: str) -> tuple[str, str] | None:
    """``(shown, style)`` for a character that must not reach the terminal as is."""
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte (surrogateescape)
        return f"\\x{code - 0xDC00:02x}", INVALID_STYLE
    if unicodedata.category(char) not in _ESCAPED_CATEGORIES:
        return None
    if char in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[char], ESCAPE_STYLE
    if code < 0x100:
        return f"\\x{code:02x}", ESCAPE_STYLE
    if code < 0x10000:
        return f"\\u{code:04x}", ESCAPE_STYLE
    return f"\\U{code:08x}", ESCAPE_STYLE


def safe_parts(text: str, *, style: str = "", newlines: bool = True) -> list[tuple[str, str]]:
    """Split ``text`` into ``(text, style)`` parts that are safe to show.

    Args:
        text: Decoded text (lone surrogates stand for invalid bytes).
        style: Style of the ordinary characters.
        newlines: Keep ``\\n`` as a line break (shown with a ``↵`` mark);
            otherwise show it as ``\\n``.
    """
    parts: list[tuple[str, str]] = []
    position = 0
    for match in _NEEDS_CHECK.finditer(text):
        start = match.start()
        if start > position:
            parts.append((text[position:start], style))
        run = []
        for char in match.group():
            if char == "\n":
                if run:
                    parts.append(("".join(run), style))
                    run = []
                parts.append(("↵\n", MUTED_STYLE) if newlines else ("\\n", ESCAPE_STYLE))
                continue
            escaped = _escape_char(char)
            if escaped is None:
                run.append(char)
            else:
                if run:
                    parts.append(("".join(run), style))
                    run = []
                parts.append(escaped)
        if run:
            parts.append(("".join(run), style))
        position = match.end()
    if position < len(text):
        parts.append((text[position:], style))
    return parts


def safe_content(text: str, *, style: str = "", newlines: bool = True) -> Content:
    """``safe_parts`` as one ``Content`` (never parsed as markup)."""
    return Content.assemble(*safe_parts(text, style=style, newlines=newlines))


def safe_name(name: str | None) -> str:
    """A process name as plain, single-line, printable text."""
    if not name:
        return "?"
    return "".join(part for part, _ in safe_parts(name, newlines=False))


def sender_label(pid: int, name: str | None) -> str:
    return f"{pid} {safe_name(name)}" if name else str(pid)


def clock_time(wall_time: float, tz: datetime.tzinfo | None, *, millis: bool = False) -> str:
    moment = datetime.datetime.fromtimestamp(wall_time, tz)
    return moment.strftime("%H:%M:%S") + (f".{moment.microsecond // 1000:03d}" if millis else "")


def human_bytes(count: float) -> str:
    if count < 1024:
        return f"{int(count)} B"
    for unit in ("KiB", "MiB", "GiB"):
        count /= 1024
        if count < 1024 or unit == "GiB":
            return f"{count:.1f} {unit}"
    raise AssertionError("unreachable")


def human_count(count: float, unit: str) -> str:
    """``1234567 bits`` -> ``1.23 Mbit`` style (SI prefixes)."""
    for prefix, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if count >= scale:
            return f"{count / scale:.3g} {prefix}{unit}"
    return f"{count:.0f} {unit}"


def human_rate(bits_per_second: float) -> str:
    return human_count(bits_per_second, "bit/s")


def human_duration(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def human_ago(seconds: float) -> str:
    if seconds < 1:
        return "now"
    if seconds < 60:
        return f"{seconds:.0f}s ago"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m ago"
    return f"{seconds // 3600:.0f}h ago"


def uptime(seconds: float) -> str:
    minutes, secs = divmod(int(max(0.0, seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
