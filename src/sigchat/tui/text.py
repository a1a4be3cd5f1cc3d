"""Safe display of untrusted text (message bytes, process names) in the widgets.

Numbers, sizes, rates and times are formatted by ``sigchat.format``, shared with
the command line.

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
