"""What ``sigchat-check`` checks: the public testers' case list, and ours.

The messages follow ``../shared/notes/minitalk-conventions.md``, "What the
public testers check": empty, one char, ~100, 1,000 (timed), 10,000 chars of
ASCII art with newlines, quotes, backslashes and backticks, the same message
15 times in a row without a restart, Unicode, leading and trailing
whitespace. ``--quick`` keeps every case but shortens the long messages.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from sigchat.format import number

PROBE = "sigchat ✓ 42".encode()
"""The known first message that profile detection sends (or has a client send): asymmetric bits, a
length no byte order reads the same way, and a multi-byte character."""

ART_LINE = r"""  /\_/\  "quotes" 'single' back\slash `backticks` $HOME %s \n {braces} [x] <tag> ~ | # & * ( )"""
UNICODE = "日本語 中文 한국어 · עברית العربية · 👩‍👩‍👧 👍🏽 ❤️ 🏳️‍🌈 · e\u0301 n\u0303 a\u0308 · ✓ ∑ ∞ ≠"
WHITESPACE = "   leading and trailing whitespace, a tab\tand a double  space   "
REPEATS = 15
FAST_1000 = 1.0
"""Seconds: what the public testers call fast for 1,000 chars."""
CLIENT_TIMEOUT = 10.0
"""Seconds a client may take for one message (the public testers' timeout)."""


def art(length: int) -> bytes:
    """``length`` bytes of ASCII art: lines of ``ART_LINE`` cut to size, each ending in a newline."""
    text = ""
    row = 0
    while len(text) < length:
        text += f"{row:04d}{ART_LINE}\n"
        row += 1
    return text[:length].encode()


def prose(length: int) -> bytes:
    words = "the quick brown fox jumps over the lazy dog while sigchat counts every bit".split()
    text = ""
    index = 0
    while len(text) < length:
        text += words[index % len(words)] + " "
        index += 1
    return text[: length - 1].encode() + b"." if length else b""


@dataclass(frozen=True)
class MessageCase:
    """A message to send (``repeat`` times in a row to one server)."""

    name: str
    message: bytes
    repeat: int = 1
    timed: bool = False
    mandatory: bool = True


def message_cases(quick: bool) -> list[MessageCase]:
    long_art = art(2_000 if quick else 10_000)
    return [
        MessageCase("empty message", b""),
        MessageCase("1 char", b"x"),
        MessageCase("100 chars", prose(100)),
        MessageCase("1,000 chars (timed)", prose(1_000), timed=True),
        MessageCase(f"{number(len(long_art))} chars: newlines, quotes, \\ and `", long_art),
        MessageCase(f"{REPEATS} in a row, no restart", prose(40), repeat=REPEATS),
        MessageCase("Unicode (CJK, RTL, emoji, combining)", UNICODE.encode()),
        MessageCase("leading/trailing whitespace", WHITESPACE.encode()),
    ]


EXIT_CODE = "exit code 0"
INNOCENT = "PID of an innocent process"
SERVER_GONE = "server gone mid-message"
PID_LINE = "prints its PID"
TWO_CLIENTS = "two clients at once"
SPEED = "speed"
SPOOFER = "a spoofer sending random signals"
SEND_COMMAND = [sys.executable, "-m", "sigchat", "send"]
"""sigchat's own sender, the speed case's yardstick (this interpreter, whatever installed it)."""


def bad_arguments(name: str) -> str:
    return f"bad arguments: {name}"


def planned(target: str, quick: bool) -> list[str]:
    """Every case's name, in the order a ``target`` (``client``/``server``) check runs them."""
    messages = [case.name for case in message_cases(quick)]
    if target == "client":
        return [*messages, EXIT_CODE, *map(bad_arguments, BAD_ARGUMENTS), INNOCENT, SERVER_GONE, TWO_CLIENTS, SPEED]
    return [PID_LINE, *messages, TWO_CLIENTS, SPOOFER]


BAD_ARGUMENTS = {
    "no arguments": [],
    "PID not a number": ["abc", "hello"],
    "PID 0": ["0", "hello"],
    "negative PID": ["-{group}", "hello"],
}
"""Client arguments that must make it exit without a signal (``{group}``: the catcher's process group)."""
