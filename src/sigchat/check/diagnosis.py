"""What went wrong, in words a student understands, from the signals themselves.

Every function here is pure: the signals a client sent (or a server printed)
and what was expected go in, one diagnosis comes out: the first wrong byte and
bit, what arrived instead, the likely cause named, and the signals around the
fault (``1`` = SIGUSR1, ``2`` = SIGUSR2, a caret under the first wrong one).
"""

from __future__ import annotations

from collections.abc import Sequence

from sigchat.format import human_duration, number, plural
from sigchat.proto.classic.infer import bit_position, compare, expected_symbols, infer_client
from sigchat.proto.classic.profile import Profile
from sigchat.proto.wire import ZERO

CONTEXT = 16
"""Signals shown on each side of a fault."""


def signal_of(symbol: int | None) -> str:
    return "nothing" if symbol is None else ("SIGUSR1" if symbol == ZERO else "SIGUSR2")


def digits(symbols: Sequence[int]) -> str:
    return "".join("1" if s == ZERO else "2" for s in symbols)


def around(expected: Sequence[int], got: Sequence[int], index: int) -> str:
    """Two lines, expected over received, from ``CONTEXT`` signals before ``index``, and a caret."""
    start = max(0, index - CONTEXT)
    end = min(index + CONTEXT, max(len(expected), len(got)))
    return (
        f"signals {number(start)}-{number(end - 1)} (1 = SIGUSR1, 2 = SIGUSR2):\n"
        f"  expected {digits(expected[start:end])}\n"
        f"  received {digits(got[start:end])}\n"
        f"           {' ' * (index - start)}^"
    )


def where(index: int, profile: Profile, message: bytes) -> str:
    """``bit 2,497 (message byte 312, bit 1 as sent)`` for symbol ``index``."""
    part, byte, bit = bit_position(index, profile, len(message))
    if part == "handshake":
        return f"signal {number(index)} (the handshake)"
    what = {"length": "length byte", "message": "message byte", "nul": "the NUL,"}[part]
    byte_text = f" {number(byte)}" if part != "nul" else ""
    return f"bit {number(index)} ({what}{byte_text} bit {bit} as sent)"


def median_gap(times: Sequence[float]) -> float | None:
    gaps = sorted(b - a for a, b in zip(times, times[1:]))
    return gaps[len(gaps) // 2] if gaps else None


def differences(wanted: Profile, found: Profile) -> list[str]:
    """How a client's own conventions (``found``) differ from the profile it was checked with."""
    said = []
    if found.bit_order != wanted.bit_order:
        said.append(f"bit order reversed: your client sends each byte {found.bit_order.upper()} first")
    if found.one != wanted.one:
        said.append(f"SIGUSR1 and SIGUSR2 swapped: your client sends a 1 bit as SIG{found.one.upper()}")
    if found.framing != wanted.framing:
        said.append(f"framing: your client sends {found.framing}, not {wanted.framing}")
    elif found.length_order != wanted.length_order:
        said.append(f"the length's byte order: your client sends it {found.length_order}, not {wanted.length_order}")
    if found.nul_counted != wanted.nul_counted:
        said.append("your client's length " + ("counts" if found.nul_counted else "does not count") + " the NUL")
    if found.handshake != wanted.handshake:
        said.append("your client " + ("opens with a handshake SIGUSR1" if found.handshake else "sends no handshake"))
    return said


def client_message(
    message: bytes,
    profile: Profile,
    got: Sequence[int],
    times: Sequence[float],
    *,
    waits: bool,
    hung: bool,
    returncode: int | None,
) -> str:
    """Why a client's message did not arrive intact: ``got`` is what it sent (arrival ``times``); ``waits``:
    whether it waited for acks; ``hung``: still running at the timeout."""
    expected = expected_symbols(message, profile)
    gap = median_gap(times)
    pace = f" (its signals came every {human_duration(gap)})" if gap is not None else ""
    # A client that waits for each ack cannot finish while fewer signals arrived than it sent: one ack each.
    unacked = not waits or (not hung and returncode == 0 and len(got) < len(expected))
    if not got:
        if hung:
            return "your client sent no signal at all and was still running at the timeout"
        return f"your client sent no signal at all (exit status {returncode})"
    difference = compare(expected, got)
    kind, index = difference.kind, difference.index
    matches = infer_client(got, message, most=1)
    if kind not in ("same", "short") and matches and matches[0].errors == 0:
        named = differences(profile, matches[0].profile)
        if named:
            return (
                "; ".join(named) + f" (its signals are exactly {matches[0].profile}: "
                f"check it with --profile {matches[0].profile})\n" + around(expected, got, index)
            )
    at = where(index, profile, message)
    if kind == "same":
        if hung:
            return (
                f"your client sent the whole message ({plural(len(got), 'signal')}) but was still running at the "
                "timeout: it waits for something the profile does not send (an end ack?)"
            )
        return "every signal was right, yet nothing was delivered"
    if kind == "short":
        if profile.nul and len(expected) - len(got) == 8 and index == len(expected) - 8:
            return "your client never sent the NUL (its last 8 bits): the message never ended\n" + around(expected, got, index)
        if hung:
            return (
                f"your client stopped at {at}, {number(len(got))} of {number(len(expected))} signals, and hung: "
                f"it waits for an ack that never comes\n" + around(expected, got, index)
            )
        return (
            f"your client stopped at {at} after {number(len(got))} of {number(len(expected))} signals "
            f"(exit status {returncode})\n" + around(expected, got, index)
        )
    merged = (
        f"your client does not wait for acks{pace}, and standard signals sent that close merge (they do not queue)"
    )
    if unacked and kind != "lost" and len(got) < len(expected):
        return (
            f"only {number(len(got))} of {number(len(expected))} signals arrived, the first wrong at {at}: {merged}\n"
            + around(expected, got, index)
        )
    if kind == "lost":
        cause = f": {merged}" if unacked else ": two signals merged (standard signals do not queue)"
        return f"one {signal_of(difference.expected)} lost at {at}{cause}\n" + around(expected, got, index)
    if kind == "long":
        return f"your client sent {plural(len(got) - len(expected), 'signal')} too many after the message ends\n" + around(expected, got, index)
    what = {"extra": "one signal too many", "flipped": "one signal flipped"}.get(kind, "the signals go wrong")
    cause = f" ({merged})" if unacked else ""
    return (
        f"{what} at {at}: {signal_of(difference.got)} arrived instead of {signal_of(difference.expected)}{cause}\n"
        + around(expected, got, index)
    )
