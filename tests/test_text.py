"""Safe display of untrusted text (``sigchat.tui.text``) and how the chat log renders it.

Issue 17, item 7: every escape reads one way only (a literal backslash is
``\\\\``, a code point from U+0080 is ``\\uNNNN`` and never looks like an
undecodable byte), joined emoji are not escaped, wrapping never splits an
escape or a joined character, and a mostly binary payload is one line.
"""

from __future__ import annotations

import re

import pytest
from textual.content import Content

from sigchat.server.sink import Kind
from sigchat.tui import demo
from sigchat.tui.model import Entry
from sigchat.tui.text import (
    ESCAPE_STYLE,
    INVALID_STYLE,
    break_offsets,
    decode_prefix,
    is_binary,
    safe_content,
    safe_name,
    safe_parts,
    wrap_lines,
)
from sigchat.tui.widgets.chat_log import CLASSIC_NOTE, message_content, stats_content
from sigchat.tui.widgets.help import NOTES
from test_app import log_text as log_lines, make_app, run as run_app

FAMILY = "👩\u200d👩\u200d👧"  # woman, ZWJ, woman, ZWJ, girl
RAINBOW_FLAG = "🏳\ufe0f\u200d🌈"
SCOTLAND = "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"
ESCAPE = re.compile(r"\\(?:x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8}|[0etrn\\])")
"""One escape as ``safe_parts`` writes it (a backslash always starts one)."""


def shown(data: bytes) -> str:
    return safe_content(decode_prefix(data, 1 << 20)[0]).plain


# --------------------------------------------------------------------------- unambiguous escapes


def test_a_literal_backslash_sequence_and_the_byte_it_spells_look_different():
    """``\\xff`` typed as four characters vs the byte 0xFF: they used to be shown the same."""
    assert shown(b"\\xff") == "\\\\xff"
    assert shown(b"\xff") == "\\xff"
    assert shown(b"\\xff") != shown(b"\xff")
    assert shown(b"C:\\dir\\file") == "C:\\\\dir\\\\file"
    # The backslash is styled as an escape, the undecodable byte as invalid.
    assert ("\\\\", ESCAPE_STYLE) in safe_parts("\\")
    assert safe_parts(decode_prefix(b"\xff", 8)[0]) == [("\\xff", INVALID_STYLE)]
    assert safe_name("a\\b") == "a\\\\b"


def test_a_code_point_from_u0080_is_never_shown_like_an_undecodable_byte():
    """U+0085 (a C1 control, valid UTF-8 c2 85) and the lone byte 0x85 used to be both ``\\x85``."""
    assert shown("\u0085".encode()) == "\\u0085"
    assert shown(b"\x85") == "\\x85"
    assert shown("\u00ad".encode()) == "\\u00ad"  # soft hyphen (Cf)
    assert shown(b"\x07\x7f") == "\\x07\\x7f"  # ASCII controls: the character is the byte
    assert shown("\U000e0001".encode()) == "\\U000e0001"


@pytest.mark.parametrize(
    "data",
    [
        b"\\xff\xff\\\\\x00\\0\x1b\\e\t\\t",
        "\u202e\\u202e\u0085\\x85".encode() + b"\x85",
        bytes(range(256)),
        b"\\",
        b"\\\\x",
    ],
)
def test_every_escape_reads_one_way_only(data):
    """The shown text reads back into exactly the original bytes: no two payloads look alike."""
    named = {"\\\\": b"\\", "\\0": b"\0", "\\e": b"\x1b", "\\t": b"\t", "\\r": b"\r", "\\n": b"\n"}
    back = b""
    for match in re.finditer(r"\\(?:x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8}|.)|↵\n|.", shown(data), re.S):
        token = match.group()
        if token == "↵\n":
            back += b"\n"
        elif token in named:
            back += named[token]
        elif token.startswith("\\x"):
            back += bytes([int(token[2:], 16)])  # an ASCII control, or an undecodable byte: the byte itself
        elif token.startswith(("\\u", "\\U")):
            back += chr(int(token[2:], 16)).encode()
        else:
            assert token != "\\", "a backslash that starts no escape"
            back += token.encode()
    assert back == data


# --------------------------------------------------------------------------- joined characters


@pytest.mark.parametrize(
    "text",
    [FAMILY, RAINBOW_FLAG, SCOTLAND, "❤\ufe0f", "1\ufe0f\u20e3", "👍🏽", "🧑\u200d💻", "🇫🇷", "e\u0301", "ä"],
)
def test_joined_emoji_variation_selectors_and_combining_marks_are_not_escaped(text):
    assert shown(text.encode()) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\u200db", "a\\u200db"),  # a ZWJ between letters: not an emoji sequence
        ("\u200d👩", "\\u200d👩"),  # nothing before it
        ("👩\u200d", "👩\\u200d"),  # nothing after it
        ("👩\u200d\u202e", "👩\\u200d\\u202e"),
        ("x\u202ey", "x\\u202ey"),  # a bidi override, always
        ("\U000e0067", "\\U000e0067"),  # a tag without its flag
        ("a\u2060b", "a\\u2060b"),  # a word joiner
    ],
)
def test_a_lone_or_bidi_format_character_is_still_escaped(text, expected):
    assert shown(text.encode()) == expected


# --------------------------------------------------------------------------- wrapping


def pieces(content: Content, width: int) -> list[str]:
    return [line.plain for line in wrap_lines(content, width)]


@pytest.mark.parametrize("width", range(6, 40))
def test_wrapping_never_splits_an_escape(width):
    text = "see" + "\u202e" * 3 + "x\x07y" + "\xff" + "\\u202e" + "z" * 7 + " " + "\U000e0001" * 2 + " end"
    content = safe_content(decode_prefix(text.encode("utf-8", "surrogateescape"), 1000)[0])
    lines = pieces(content, width)
    assert "".join(lines).replace(" ", "") == content.plain.replace(" ", "")
    for line in lines:
        assert ESCAPE.sub("", line).count("\\") == 0, (width, lines)  # every backslash starts a whole escape
        assert len(line) <= width or ESCAPE.fullmatch(line.strip()), (width, lines)


@pytest.mark.parametrize("width", range(2, 12))
def test_wrapping_never_splits_a_joined_emoji_or_a_combining_mark(width):
    for unit in (FAMILY, RAINBOW_FLAG, SCOTLAND, "e\u0301", "👍🏽", "🇫🇷"):
        lines = pieces(safe_content(unit * 12), width)
        assert "".join(lines) == unit * 12
        for line in lines:
            assert line == unit * (len(line) // len(unit)), (unit, width, lines)


def test_wrapping_breaks_words_where_textual_does():
    """Ordinary text wraps exactly as Textual would wrap it."""
    text = "A long message. " * 9 + "and-a-very-long-word-that-must-be-folded-somewhere-in-the-middle end"
    for width in (10, 17, 33, 60):
        assert pieces(Content(text), width) == [line.plain for line in Content(text).wrap(width)]
    assert break_offsets("short", 10) == []


def test_the_chat_log_keeps_an_escape_whole_when_it_wraps_a_message():
    """In the app: an escape that would straddle the wrap point moves to the next row whole."""

    async def body(app, pilot):
        demo.deliver(app, 4242, b"x")
        await pilot.pause()
        width = len(log_lines(app)[1]) - 9  # the body's width (the row is padded to it)
        demo.deliver(app, 4242, b"x" * (width - 3) + "\u202e".encode() + b"tail")
        await pilot.pause()
        text = [line[9:].rstrip() for line in log_lines(app)]
        assert "x" * (width - 3) in text and "\\u202etail" in text, text
        for line in text:
            assert ESCAPE.sub("", line).count("\\") == 0, text

    run_app(body, make_app(), size=(80, 30))


@pytest.mark.parametrize("width", range(24, 90, 3))  # (the longest field, 22 cells, fits)
def test_a_statistics_line_wraps_between_its_fields(width):
    """``31.7 ms · 6.32 kbit/s`` never leaves ``kbit/s`` alone on the next row."""
    stats = demo.make_stats(4242, 25, 0.0, retrans=1, attempt=2)
    line = stats_content(Entry(0, Kind.DELIVERED, 4242, "bash", demo.WALL0, b"x" * 25, stats=stats))
    fields = line.plain.split(" · ")
    lines = [piece.plain for piece in wrap_lines(line, width, separator=" · ")]
    assert " ".join(lines) == line.plain
    for piece in lines:
        assert len(piece) <= width
        assert all(field in fields for field in piece.removesuffix(" ·").split(" · ")), (width, lines)


def test_the_chat_log_wraps_statistics_between_fields():
    async def body(app, pilot):
        demo.sample_session(app)
        await pilot.pause()
        text = [line[9:].strip() for line in log_lines(app)]
        assert any(line.startswith("✓ ") and line.endswith(" ·") for line in text), text  # some wrapped
        units = ("kbit/s", "ms", "bits", "signals", "in session", "resent", "B ")
        assert not any(line.startswith(units) for line in text), text

    run_app(body, make_app(), size=(100, 60))


# --------------------------------------------------------------------------- binary payloads


def test_a_mostly_binary_payload_is_binary_and_text_is_not():
    assert is_binary(bytes(range(256)) * 4)
    assert is_binary(b"\x00" * 31 + b"a" * 69)  # 31 % controls
    assert not is_binary(b"\x00" * 30 + b"a" * 70)  # 30 %: still text
    assert not is_binary(b"\xff" * 30 + b"a" * 70)
    assert is_binary(b"\xff" * 31 + b"a" * 69)
    assert not is_binary("line one\r\n\ttabbed, ünïcödé ✓ 👩\u200d👩\u200d👧\n".encode() * 50)
    assert not is_binary(b"a\x1b[31mred\x07\x00\r\xff\xfe\xe2\x80\xae\tz\n")  # the escapes test's text: 5 of 24
    assert not is_binary(b"")


def entry(data: bytes, **kwargs) -> Entry:
    return Entry(0, Kind.DELIVERED, 4242, "bash", demo.WALL0, data, **kwargs)


def test_a_binary_payload_is_one_line_in_the_log():
    data = bytes(range(256)) * 4096  # 1 MiB
    content = message_content(entry(data))
    assert content.plain == "binary, 1.0 MiB — enter for hex"
    assert "\n" not in content.plain and "\\x" not in content.plain
    assert message_content(entry(data, expanded=True)).plain == "binary, 1.0 MiB — enter for hex"
    assert message_content(entry(b"\x00\x01\x02")).plain == "binary, 3 B — enter for hex"
    assert message_content(entry(b"hello \x07")).plain == "hello \\x07"


def test_enter_on_a_binary_payload_opens_the_hex_dump():
    async def body(app, pilot):
        demo.deliver(app, 4242, bytes(range(256)) * 16)
        await pilot.pause()
        assert [line[9:].rstrip() for line in log_lines(app)][1] == "binary, 4.0 KiB — enter for hex"
        await pilot.press("enter")
        await pilot.pause()
        hex_dump = str(app.screen.query_one("#inspector-hex").content)
        assert hex_dump.startswith("00000000  00 01 02 03")

    run_app(body, make_app(), size=(80, 30))


# --------------------------------------------------------------------------- the help explains the marks


def test_the_help_explains_every_mark_the_log_uses():
    keys = {key for key, _ in NOTES}
    assert "○ …" in keys and "binary, …" in keys and "\\\\" in keys and "in session" in keys
    assert CLASSIC_NOTE == "○ classic, no integrity check"
