"""The native wire format, version 1: symbols, frame layout, timers, turbo words.

``docs/PROTOCOL.md`` is the normative spec; this module is its numbers and its
pure functions, and the names below cite its rules ("rule 4"). Nothing here
sends a signal, reads a clock or starts a thread.

Symbols: ``ZERO`` travels as SIGUSR1, ``ONE`` as SIGUSR2. A frame of *n*
payload bytes is ``frame_bit_count(n)`` signals: start bit, 11 header bytes
(version, flags, attempt, message id, length; MSB first), the payload, a
16-bit retransmission count and a CRC-32. Frame bit *k* before the CRC is
answered with ``ack_symbol(k)``; the other symbol is a NAK (only at
``VERSION_CHECK_INDEX`` and ``LENGTH_CHECK_INDEX``) or, at
``TURBO_CHECK_INDEX``, ``PAIRS_CHECK_INDEX`` and ``TRIPLES_CHECK_INDEX``, the
server's "yes" to turbo words, to two and to three words per round trip (rule 7).
"""

from __future__ import annotations

import struct
import zlib

ZERO = 0
"""Symbol carried by SIGUSR1."""
ONE = 1
"""Symbol carried by SIGUSR2."""
SYMBOL_SIGNALS = ("SIGUSR1", "SIGUSR2")
"""The name of the signal that carries each symbol (for messages)."""

SIGNATURE_LENGTH = 8
SIGNATURE_ACK = ZERO
HELLO = ONE
GO = ZERO
WAIT = ONE
START_BIT = ZERO
PROTOCOL_VERSION = 1

HEADER = struct.Struct(">BBBII")
"""version, flags, attempt, message id, payload length."""
TAIL = struct.Struct(">HI")
"""sender retransmissions, CRC-32."""
HEADER_BYTES = HEADER.size  # 11
VERSION_CHECK_INDEX = 8
LENGTH_CHECK_INDEX = 8 * HEADER_BYTES  # 88
PAYLOAD_START_INDEX = LENGTH_CHECK_INDEX + 1
RETRANSMISSION_BITS = 16
CRC_BITS = 32
MAX_LENGTH = 0xFFFFFFFF

FLAG_TURBO = 0x01
"""Header flags bit 0: the sender can send turbo words (rule 7)."""
TURBO_CHECK_INDEX = 16
"""Frame index of the last flags bit: its reply says whether the server takes turbo words."""
FLAG_PAIRS = 0x02
"""Header flags bit 1: the sender can send two turbo words per round trip (with FLAG_TURBO)."""
PAIRS_CHECK_INDEX = TURBO_CHECK_INDEX + 1
"""Frame index of the first attempt bit: its reply says whether the server takes word pairs."""
FLAG_TRIPLES = 0x04
"""Header flags bit 2: the sender can send three turbo words per round trip (with FLAG_PAIRS)."""
TRIPLES_CHECK_INDEX = PAIRS_CHECK_INDEX + 1
"""Frame index of the second attempt bit: its reply says whether the server takes word triples."""
TRIPLE_SYMBOLS = (ZERO, ZERO, ONE)
"""The symbol of each word of a triple: the first goes to the server's receiving thread (its own
pending SIGUSR1), the second and third to the process; the third (SIGUSR2) wakes the receiver."""
WORD_PAYLOAD_BYTES = 6
"""Payload bytes per turbo word; the word's top 16 bits are its tag."""
WORD_TAG_SHIFT = 8 * WORD_PAYLOAD_BYTES
WORD_PAYLOAD_MASK = (1 << WORD_TAG_SHIFT) - 1
TAG_MASK = 0xFFFF

SESSION_IDLE_TIMEOUT = 2.0
"""Seconds of silence after which the server drops a session."""
QUEUED_HELLO_INTERVAL = 2.0
"""Seconds between the hellos of a queued sender (each may cost the active sender a lost bit)."""
QUIET_MARGIN = 0.5
"""Extra seconds a sender stays silent beyond SESSION_IDLE_TIMEOUT before a retry."""
RETRY_INITIAL = 0.1
"""Seconds a sender waits for a reply before it retransmits (doubles per retry)."""
RETRY_MAX = 0.8
HELLO_RETRY = 0.1
"""Seconds before a signature bit is resent, at the earliest, however short the
caller's retry timer. The server may hold its first answers to an unknown pid
for a moment (it first checks that a classic client would survive them), and
takes a pid that sends again within 50 ms without an answer for a classic
client that does not wait for answers, which then gets none (see
``proto.classic.policy``). Measured under
load: a 10 ms resend tripped that and cost the hello 1.3 s."""
MAX_ATTEMPTS = 5
DEFAULT_TIMEOUT = 5.0
"""Longest silence from the server that a sender accepts."""
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
DEDUP_TTL = 120.0
"""Seconds the server remembers a delivered message id per sender pid."""
QUEUE_TTL = 60.0
"""Seconds a queued sender may stay silent before it is forgotten. A fallback only:
the I/O layer removes queued senders that exit (``Server.sender_gone``); a live
one must never be forgotten, or its next hello would look like a first contact."""
CONTACT_TTL = DEFAULT_TIMEOUT
"""Seconds the server keeps a partial signature: as long as a sender keeps trying."""
GO_TIMEOUT = 5.0
"""Seconds a sender that was given GO has to send its start bit (it repeats its
hello every QUEUED_HELLO_INTERVAL, which also recovers a lost GO)."""
MAX_GAP_SAMPLES = 1 << 20
"""Per-bit inter-arrival samples kept per transfer (bounds memory)."""
RUN_LIMIT = 2048
"""Most signals in one bit run (see ``sender.BitRun``): the caller gets back to its other
duties (progress, ticks, stop requests) at least this often (~30 ms at 1-bit speed)."""

_ACKS_FROM_EVEN = bytes([ONE, ZERO]) * (RUN_LIMIT // 2 + 1)
"""``ack_symbol(k)`` for k = 0, 1, 2, ...: slice it at ``index & 1`` for a run from ``index``."""
DIGIT_SYMBOLS = bytes.maketrans(b"01", bytes([ZERO, ONE]))
SYMBOL_DIGITS = bytes.maketrans(bytes([ZERO, ONE]), b"01")


def ack_symbol(index: int) -> int:
    """The symbol that acknowledges frame bit ``index`` (ONE for even indexes)."""
    return (index & 1) ^ 1


def frame_bit_count(length: int) -> int:
    """Signals in a frame carrying ``length`` payload bytes."""
    return 1 + 8 * (HEADER_BYTES + length) + RETRANSMISSION_BITS + CRC_BITS


def symbols_of(data: bytes) -> list[int]:
    """The symbols that carry ``data``, MSB first (for inspection and tests)."""
    return [(byte >> shift) & 1 for byte in data for shift in range(7, -1, -1)]


def word_count(length: int) -> int:
    """Turbo words that carry ``length`` payload bytes."""
    return -(-length // WORD_PAYLOAD_BYTES)


def group_words(word: int, words: int, group: int) -> int:
    """Words in the group of ``group`` (1: one word per round trip, 2: pairs, 3: triples) that
    starts at word ``word`` of ``words``: ``group``, or fewer for a short last group."""
    return min(group, words - word)


def word_symbol(word: int, group: int) -> int:
    """The symbol word ``word`` travels as: by its parity (one word per round trip, pairs), or by
    its place in its triple (``TRIPLE_SYMBOLS``)."""
    return TRIPLE_SYMBOLS[word % 3] if group == 3 else word & 1


def word_values(data: bytes, word: int, count: int, key: int) -> list[int]:
    """The ``si_value`` of turbo words ``word`` .. ``word + count - 1`` of ``data``.

    Word *i* is its tag ``(key + i) & TAG_MASK`` in the top 16 bits, then payload
    bytes 6i .. 6i+5, big-endian, zero-padded after the last byte. Built for a
    whole word run at once: the bytes are laid out 8 per word with C-level slice
    copies and read back with one ``struct`` call (per word in Python, this was a
    tenth of a word pair's round trip).
    """
    start = WORD_PAYLOAD_BYTES * word
    chunk = data[start : start + WORD_PAYLOAD_BYTES * count].ljust(WORD_PAYLOAD_BYTES * count, b"\0")
    laid = bytearray(8 * count)
    for k in range(WORD_PAYLOAD_BYTES):
        laid[8 - WORD_PAYLOAD_BYTES + k :: 8] = chunk[k::WORD_PAYLOAD_BYTES]
    first = key + word
    return [((first + i) & TAG_MASK) << WORD_TAG_SHIFT | payload for i, payload in enumerate(struct.unpack(f">{count}Q", laid))]


def word_payloads(values: list[int]) -> bytes:
    """The payload bytes that turbo words carry, in order, from their ``si_value`` (tags dropped)."""
    laid = struct.pack(f">{len(values)}Q", *values)
    payload = bytearray(WORD_PAYLOAD_BYTES * len(values))
    for k in range(WORD_PAYLOAD_BYTES):
        payload[k::WORD_PAYLOAD_BYTES] = laid[8 - WORD_PAYLOAD_BYTES + k :: 8]
    return bytes(payload)


def turbo_key(message_id: int, attempt: int) -> int:
    """The 16-bit tag of word 0 (word *i* has ``(key + i) & 0xFFFF``).

    Derived from the message id and attempt, which only ever travelled as
    kernel-stamped 1-bit signals: a process that forges ``si_pid`` with
    ``rt_sigqueueinfo`` cannot see them, so its words fail the tag check.
    """
    return (((message_id << 8) | (attempt & 0xFF)) * 0x9E3779B97F4A7C15 >> 32) & TAG_MASK


def frame_crc(header_and_payload: bytes, retransmissions: int) -> int:
    """CRC-32 over header, payload and the retransmission count."""
    return zlib.crc32(retransmissions.to_bytes(2, "big"), zlib.crc32(header_and_payload))


def ack_run(index: int, count: int) -> bytes:
    """``ack_symbol(k)`` for the ``count`` indexes from ``index`` (count <= RUN_LIMIT)."""
    first = index & 1
    return _ACKS_FROM_EVEN[first : first + count]
