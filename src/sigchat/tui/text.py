"""Safe display of untrusted text (message bytes, process names) in the widgets.

Numbers, sizes, rates and times are worded by ``sigchat.format``, shared with
the command line.

Anything that came from another process (message bytes, process names) goes
through ``safe_content`` before it is shown, so a message can never move the
cursor, change colours or break the layout, and every escape reads one way
only:

==============  ===============================================================
``\\\\``          a backslash (so a backslash shown alone never occurs: every
                ``\\`` starts an escape)
``\\xNN``        below ``\\x80``: that ASCII control character (``\\x07``);
                from ``\\x80``: a byte that is not UTF-8 (``\\xff``, in the
                error colour)
``\\uNNNN``      a code point that must not reach the terminal as is: other
                controls, format characters (``\\u202e``, a bidi override),
                separators, unassigned code points; ``\\UNNNNNNNN`` above FFFF
``\\0 \\e \\t \\r``  NUL, ESC, tab, carriage return (``\\n`` where a newline
                cannot break the line)
==============  ===============================================================

Joined emoji stay whole: a zero-width joiner (U+200D) between two emoji and
the tag characters of a flag (🏴 + tags) are shown as they are, and variation
selectors and combining marks were never escaped. Only a bounded prefix is
ever decoded, so a 16 MiB message costs the UI thread no more than a short
one; a payload that is mostly undecodable or control bytes is ``is_binary``
(the chat log then shows one line instead of rows of escapes).

``wrap_lines`` wraps such text without ever splitting an escape or a joined
character (an emoji sequence, a letter and its combining marks).

Colours are theme variables (``$text-warning``...), never literal colours.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

from rich.cells import cell_len
from textual.content import Content

from sigchat.format import plural

ESCAPE_STYLE = "$text-warning"
INVALID_STYLE = "$text-error"
MUTED_STYLE = "$text-muted"

# Characters that need a second look: the backslash and anything outside printable ASCII.
_NEEDS_CHECK = re.compile(r"[^\x20-\x5b\x5d-\x7e]+")
# Categories shown escaped: controls, format (bidi overrides, zero-width...),
# surrogates, unassigned, line/paragraph separators.
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Cn", "Zl", "Zp"})
_NAMED_ESCAPES = {"\t": "\\t", "\r": "\\r", "\x1b": "\\e", "\x00": "\\0", "\\": "\\\\"}
ZWJ = "\u200d"
_BLACK_FLAG = 0x1F3F4  # 🏴, the base of a flag tag sequence (🏴 + tags + cancel tag)
_TAGS = range(0xE0020, 0xE0080)
_MODIFIERS = range(0x1F3FB, 0x1F400)  # emoji skin tones
_REGIONAL = range(0x1F1E6, 0x1F200)  # two of them make a flag

BINARY_SAMPLE = 4096
"""``is_binary`` looks at this many bytes of a payload..."""
BINARY_SHARE = 0.30
"""...and calls it binary when more than this share of them is undecodable or control bytes."""
_TEXT_CONTROLS = frozenset("\t\n\r")


def decode_prefix(data: bytes, limit: int) -> tuple[str, bool]:
    """Decode at most ``limit`` bytes of ``data``; invalid bytes become lone surrogates.

    Returns:
        The text and whether ``data`` was cut. A multi-byte character cut at
        the limit is left out rather than shown as invalid.
    """
    cut = len(data) > limit
    decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
    return decoder.decode(data[:limit], final=not cut), cut


def is_binary(data: bytes, sample: int = BINARY_SAMPLE) -> bool:
    """Whether more than ``BINARY_SHARE`` of the first ``sample`` bytes are undecodable or controls.

    Tab, newline and carriage return are text. Each undecodable byte and each
    control character counts once.
    """
    if not data:
        return False
    text, _ = decode_prefix(data, sample)
    bad = sum(
        1
        for char in text
        if (0xDC80 <= ord(char) <= 0xDCFF) or (unicodedata.category(char) == "Cc" and char not in _TEXT_CONTROLS)
    )
    return bad > BINARY_SHARE * min(len(data), sample)


def _pictographic(char: str) -> bool:
    """An emoji or another pictograph (what a zero-width joiner joins)."""
    code = ord(char)
    return 0x1F000 <= code <= 0x1FAFF or unicodedata.category(char) == "So"


def _joined(text: str, index: int) -> bool:
    """Whether the format character ``text[index]`` belongs to an emoji sequence (shown as is)."""
    char = text[index]
    code = ord(char)
    if char == ZWJ:
        before = index - 1
        while before >= 0 and (text[before] in "\ufe0e\ufe0f" or ord(text[before]) in _MODIFIERS):
            before -= 1
        return before >= 0 and index + 1 < len(text) and _pictographic(text[before]) and _pictographic(text[index + 1])
    if code in _TAGS:
        before = index - 1
        while before >= 0 and ord(text[before]) in _TAGS:
            before -= 1
        return before >= 0 and ord(text[before]) == _BLACK_FLAG
    return False


def _escape_char(char: str) -> tuple[str, str] | None:
    """``(shown, style)`` for a character that must not reach the terminal as is."""
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte (surrogateescape)
        return f"\\x{code - 0xDC00:02x}", INVALID_STYLE
    if char in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[char], ESCAPE_STYLE
    if unicodedata.category(char) not in _ESCAPED_CATEGORIES:
        return None
    if code < 0x80:  # an ASCII control: the character and the byte are the same thing
        return f"\\x{code:02x}", ESCAPE_STYLE
    if code < 0x10000:  # (not \xNN from 0x80 on: that is an undecodable byte)
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
        run: list[str] = []
        for index in range(start, match.end()):
            char = text[index]
            if char == "\n":
                if run:
                    parts.append(("".join(run), style))
                    run = []
                parts.append(("↵\n", MUTED_STYLE) if newlines else ("\\n", ESCAPE_STYLE))
                continue
            escaped = _escape_char(char)
            if escaped is None or (escaped[1] == ESCAPE_STYLE and char != "\\" and _joined(text, index)):
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


def message_label(pid: int, name: str | None, size: int) -> str:
    """A message in a notification: ``the message from 4242 bash (7 bytes)``."""
    return f"the message from {sender_label(pid, name)} ({plural(size, 'byte')})"


# --------------------------------------------------------------------------- wrapping

_ESCAPE_LENGTHS = {"x": 4, "u": 6, "U": 10}
_WORD = re.compile(r" *[^ ]+ *| +")


def _extends(char: str) -> bool:
    """Whether ``char`` belongs to the character before it (a mark, a selector, a skin tone, a tag)."""
    code = ord(char)
    return unicodedata.category(char) in ("Mn", "Me", "Mc") or code in _MODIFIERS or code in _TAGS


def atom_end(text: str, start: int) -> int:
    """Where the unit that starts at ``start`` ends: an escape, or a character with what joins it.

    An escape is ``\\`` and what follows it (shown text always escapes a
    backslash, so every ``\\`` starts one); a character takes its combining
    marks, variation selectors, skin tones and tags, a zero-width joiner and
    the character after it, and a regional indicator its pair.
    """
    end = len(text)
    char = text[start]
    if char == "\\":
        following = text[start + 1] if start + 1 < end else ""
        return min(end, start + _ESCAPE_LENGTHS.get(following, 2))
    index = start + 1
    if ord(char) in _REGIONAL and index < end and ord(text[index]) in _REGIONAL:
        index += 1
    while index < end:
        if text[index] == ZWJ and index + 1 < end and text[index + 1] not in " \\":
            index += 2
        elif _extends(text[index]):
            index += 1
        else:
            break
    return index


def break_offsets(text: str, width: int) -> list[int]:
    """Where to break one line of shown text so that each piece fits ``width`` cells.

    Like Textual's wrapping (words move to the next line; a word longer than
    the width is folded), except that a fold never splits an escape or a
    joined character (``atom_end``). A unit wider than the whole width gets a
    line of its own.
    """
    breaks: list[int] = []
    offset = 0
    for match in _WORD.finditer(text):
        start, end = match.span()
        word = match.group()
        length = cell_len(word.rstrip(" "))
        if offset + length <= width:
            offset += cell_len(word)
            continue
        if length <= width:
            if offset and start:
                breaks.append(start)
            offset = cell_len(word)
            continue
        # Fold the word, between units.
        if start and offset:
            breaks.append(start)
        offset = 0
        position = start
        while position < end:
            stop = atom_end(text, position)
            size = cell_len(text[position:stop])
            if offset and offset + size > width and text[position] != " ":
                breaks.append(position)
                offset = 0
            offset += size
            position = stop
    return breaks


def field_break_offsets(text: str, width: int, separator: str) -> list[int]:
    """``break_offsets``, but breaking only after a ``separator`` (``" · "``) when a field fits a line.

    So ``… · 31.7 ms · 6.32 kbit/s`` moves ``6.32 kbit/s`` to the next line
    whole; a field wider than the line is wrapped inside as usual.
    """
    breaks: list[int] = []
    offset = 0
    start = 0
    while start < len(text):
        found = text.find(separator, start)
        end = len(text) if found < 0 else found + len(separator)
        field = text[start:end]
        length = cell_len(field.rstrip(" "))
        if offset + length > width and offset:
            breaks.append(start)
            offset = 0
        if length > width:
            inner = break_offsets(field, width)
            breaks.extend(start + inner_offset for inner_offset in inner)
            offset = cell_len(field[inner[-1] :] if inner else field)
        else:
            offset += cell_len(field)
        start = end
    return breaks


def wrap_lines(content: Content, width: int, *, separator: str | None = None) -> list[Content]:
    """``content`` as lines of at most ``width`` cells (``break_offsets`` for each of its lines).

    With ``separator``, lines break after a separator where they can (``field_break_offsets``).
    """
    width = max(1, width)
    lines: list[Content] = []
    for line in content.split("\n", allow_blank=True):
        if line.cell_length <= width:
            lines.append(line)
            continue
        plain = line.plain
        offsets = field_break_offsets(plain, width, separator) if separator else break_offsets(plain, width)
        pieces = line.divide(offsets)
        lines.extend(piece.rstrip() for piece in pieces[:-1])
        lines.append(pieces[-1])
    return lines
