"""How far a classic message can be trusted: acked, unverified or damaged.

Sans-IO. The verdicts are ``MessageDelivered.integrity`` values (``proto.events``). Classic minitalk has no checksum (docs/PROTOCOL.md, "Classic minitalk
clients", "What a classic message is worth"), so the server says what it knows:

``ACKED``
    Every bit was answered with the profile's ack, and the client waits for
    it: one signal is in flight at a time, so none can merge with another.
    Believed intact.
``UNVERIFIED``
    The client paces itself (no ack in the profile, or the server does not
    answer it). Two equal signals sent while the server was late merge into
    one and nothing on the wire tells. Delivered, marked unverified. Two
    different ones both wait, handed SIGUSR1 first: the arrival times tell
    those, and the note says where their order may be swapped
    (``pending_at_once``).
``DAMAGED``
    An unverified message whose bytes are not UTF-8: every minitalk sends its
    argument, i.e. text, byte by byte, and one lost bit shifts every later bit
    into a neighbour byte, which almost never stays UTF-8. The note names the
    byte where the bit was most likely lost: the longest wait between two
    signals in the few bytes before the first broken one (a merge needs the
    server to be late). Also an acked message whose ack was sent again after
    another process signalled: its bit may have merged into that signal
    (``ClassicServer.nudged``). Plain stdout never prints a damaged message.

``complete_nul`` is the one repair: a NUL-terminated message whose sender went
away (or silent) after part of its NUL, every bit of it a zero. The NUL is
eight SIGUSR1 in a row, the likeliest signals to merge, and all message bytes
came whole, so the message is delivered (unverified, with a note; acked, with
the note, for a client that got acks and exited with UTF-8 bytes sent). With a
length header that says where the NUL is, and text before it, any number of its
bits may be missing. (Restoring merged bits elsewhere from the arrival times
was tried in a simulation of the kernel and left out: the text came out whole
but wrong for one repair in four, mostly where both kinds were pending.)
"""

from __future__ import annotations

from collections.abc import Sequence

from sigchat.proto.events import DAMAGED, UNVERIFIED

LOOK_BACK_BYTES = 3
"""How many bytes before the first broken one may hold the lost bit (a shift breaks UTF-8 fast)."""


def first_broken_byte(data: bytes) -> int | None:
    """The offset of the first byte that is not UTF-8 (a truncated sequence at the end counts)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        return error.start
    return None


def assess(data: bytes, gaps: Sequence[float], first_byte_signal: int) -> tuple[str, str]:
    """The verdict on an unverified message: ``(UNVERIFIED or DAMAGED, note)``.

    ``gaps[i]`` is the wait before signal ``i + 1`` of the transfer (``TransferStats.gaps``);
    the message's first byte starts at signal ``first_byte_signal`` (after the handshake and
    the length header).
    """
    broken = first_broken_byte(data)
    if broken is None:
        return UNVERIFIED, order_note(pending_at_once(gaps, first_byte_signal))
    start_byte = max(0, broken - LOOK_BACK_BYTES)
    first = max(1, first_byte_signal + 8 * start_byte)
    last = min(len(gaps), first_byte_signal + 8 * (broken + 1))
    lost_at = broken
    if first < last:
        widest = max(range(first, last), key=lambda signal: gaps[signal - 1])
        lost_at = max(0, (widest - first_byte_signal) // 8)
    return DAMAGED, f"bit lost at byte {lost_at}"


BOTH_PENDING = 20e-6
"""A signal read less than this after the one before it was pending already (``pending_at_once``)."""
TYPICAL_WAIT_SAMPLES = 1024
"""How many waits, spread over the message, give its typical wait (a median of all would cost
~0.3 s for a message of 128 kB, in the receiver thread)."""


def pending_at_once(gaps: Sequence[float], first_byte_signal: int) -> list[int]:
    """Where two signals of a paced client were pending at the server at once: the offsets of the
    message bytes whose bits they carry (the first's), ``-1`` before the message bytes.

    A wait under ``BOTH_PENDING`` before a signal, in a stream whose typical wait is over five
    times longer, cannot be the client's pace (it sleeps between two signals): the server was
    late and read a signal that had waited. Two of one kind merge into one, so these two were of
    different kinds, and the kernel hands SIGUSR1 first: their order is the kernel's, which is
    the client's only half the time. ``gaps`` and ``first_byte_signal`` are ``assess``'s.
    """
    if not gaps:
        return []
    step = max(1, len(gaps) // TYPICAL_WAIT_SAMPLES)
    sample = sorted(gaps[::step])
    if sample[len(sample) // 2] < 5 * BOTH_PENDING:
        return []  # a client that does not sleep between signals: short waits tell nothing
    return [(index - first_byte_signal) // 8 if index >= first_byte_signal else -1
            for index, gap in enumerate(gaps) if gap < BOTH_PENDING]


def order_note(places: list[int]) -> str:
    """The note on an unverified message for ``pending_at_once``'s places (``""``: none)."""
    if not places:
        return ""
    first = places[0]
    where = "before the text" if first < 0 else f"at byte {first}"
    if len(places) > 1:
        where = f"at {len(places)} places, the first {where}"
    return f"two signals waited at once {where}: their order may be swapped"


NUL_MIN_BITS = 5
"""Zero bits of a NUL that must have come for ``complete_nul``: merges cost the NUL one or two
of its eight here, while text bytes start with up to four zeros (a newline, 0x0A, MSB first), so
a client stopped early in such a byte is not taken for one whose NUL merged. (LSB first, a space
starts with five: a client killed right there is still completed, and its note says so.)"""


def complete_nul(nbits: int, partial: int, *, framed: bool = False) -> str | None:
    """The note for a NUL cut short (``nbits`` of its bits came, reading ``partial``), when it can be
    completed: at least ``NUL_MIN_BITS`` came and every one is a zero; ``None`` otherwise.

    ``framed``: a length header said the NUL is the message's last byte, and every byte before it
    is text (the caller checks): then no text byte can be taken for it, and any of its bits may be
    missing, all eight too (eight SIGUSR1 in a row merge easily, into as few as one)."""
    if (0 if framed else NUL_MIN_BITS) <= nbits < 8 and partial == 0:
        missing = 8 - nbits
        return f"the NUL's last {missing} bit{'s' if missing != 1 else ''} never came: completed"
    return None
