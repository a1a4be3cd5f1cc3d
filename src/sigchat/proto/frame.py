"""Every signal of one transfer, rebuilt from what the server kept (sans-IO).

The server does not keep the bits it received. It keeps the payload (or, for
a transfer that failed or is still in flight, the part of it that arrived) and
the transfer's ``TransferStats``: length, message id, attempt, the
retransmission count, how many frame bits arrived, turbo or not. The other
signals follow from the spec (docs/PROTOCOL.md, "The frame" and "Classic
minitalk clients"), so they can be rebuilt: the signature, the start bit, the
header, the retransmission count and the CRC-32 that the sender computed.
The inspector's X-ray (``tui.widgets.xray``) draws the result.

A rebuilt transfer is a few ``Span``\\ s, one per field, each reading its bits
from a ``bytes`` object on demand: a 16 MiB message costs a handful of objects,
not 134 million. A span knows how many of its signals reached the server
(``arrived``) and how many of those have a value known here (``known``); a
signal that arrived with a value nobody kept (the bits of a byte that never
completed, the CRC of a corrupt frame) is ``None``.

What cannot be known exactly, and is said by ``Rebuilt``:

* The header's flags byte is not kept: it is rebuilt as ``FLAG_TURBO`` when the
  payload came as turbo words (with ``FLAG_PAIRS`` when they came in pairs, and
  ``FLAG_TRIPLES`` too in triples), else 0 (``flags_assumed``). A sender that
  asked a ``--no-turbo`` server for words sent 0x07 (0x03 when it did not know
  the server's receiving thread or came before word triples, 0x01 before word
  pairs), and its real CRC differs from the rebuilt one.
* Resent signals are not kept either: only the sender knows which bits it
  resent. ``probably_resent`` picks the likely ones from the gaps.
* Only the last signature is shown: repeated hellos of a queued sender are not.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import compress

from sigchat.proto.classic.profile import HANDSHAKE, Profile, parse_profile
from sigchat.proto.events import CLASSIC, NATIVE, AbortReason, TransferStats
from sigchat.proto.wire import (
    CRC_BITS,
    FLAG_PAIRS,
    FLAG_TRIPLES,
    FLAG_TURBO,
    GO,
    HEADER,
    LENGTH_CHECK_INDEX,
    ONE,
    PAIRS_CHECK_INDEX,
    TRIPLES_CHECK_INDEX,
    PAYLOAD_START_INDEX,
    PROTOCOL_VERSION,
    RETRANSMISSION_BITS,
    SIGNATURE_ACK,
    SIGNATURE_LENGTH,
    TAG_MASK,
    TURBO_CHECK_INDEX,
    VERSION_CHECK_INDEX,
    WORD_PAYLOAD_BYTES,
    WORD_TAG_SHIFT,
    ack_symbol,
    frame_bit_count,
    frame_crc,
    turbo_key,
    word_count,
    word_symbol,
)

# The fields, in the order they travel. Native:
SIGNATURE = "signature"
START = "start"
VERSION = "version"
FLAGS = "flags"
ATTEMPT = "attempt"
MESSAGE_ID = "message id"
LENGTH = "length"
PAYLOAD = "payload"
WORDS = "words"
RETRANSMISSIONS = "retransmissions"
CRC = "CRC-32"
# Classic minitalk (a classic length header is ``LENGTH`` too):
HANDSHAKE_FIELD = "handshake"
LENGTH_WIDTH = "length width"
MESSAGE = "message"
NUL = "NUL"

DELIVERED = "delivered"
ABORTED = "aborted"
IN_FLIGHT = "in flight"

RESENT_GAP = 0.010
"""A gap at least this long before a signal suggests it was resent: the sender's first retry
comes after 10 ms when it can read the server's ``/proc``, after 100 ms otherwise."""

# What the server answered (``Rebuilt.reply``):
ACK = "ack"
SIGNATURE_REPLY = "signature ack"
GO_REPLY = "GO"
TURBO_YES = "turbo yes"
PAIRS_YES = "pairs yes"
TRIPLES_YES = "triples yes"
WITH_ITS_GROUP = "answered with its group"
NAK = "NAK"
ECHO = "echo"
VERDICT = "verdict"
END_ACK = "ack and end ack"
NO_REPLY = "no reply"


@dataclass(frozen=True, slots=True)
class Span:
    """One field's signals: ``count`` of them from transfer position ``first``.

    ``index``: the frame index of its first signal (native; the signature's is
    -8), or its first bit in the classic message. Bit *i* of the span is bit
    ``offset + i`` of ``source`` (most significant first, or least with
    ``lsb``); a 1 bit travels as ``one``. A turbo span (``key`` set) carries one
    word per signal: word *i* is sent as ``i & 1`` with the value
    ``(key + i) << 48 | payload bytes 6i..6i+5``.
    """

    field: str
    first: int
    count: int
    index: int
    source: bytes = b""
    offset: int = 0
    known: int = 0
    arrived: int = 0
    lsb: bool = False
    one: int = ONE
    byteorder: str = "big"
    key: int | None = None
    group: int = 1
    """Words: how many per round trip (``wire.word_symbol``: in triples the first is a SIGUSR1 to the thread)."""

    @property
    def end(self) -> int:
        """The position after its last signal that arrived."""
        return self.first + self.arrived

    @property
    def words(self) -> bool:
        return self.key is not None

    def bit(self, i: int) -> int | None:
        """The bit that signal ``i`` carried, ``None`` when not known (a word carries 64)."""
        if not 0 <= i < self.known or self.key is not None:
            return None
        at = self.offset + i
        shift = at & 7 if self.lsb else 7 - (at & 7)
        return (self.source[at >> 3] >> shift) & 1

    def symbol(self, i: int) -> int | None:
        """The signal ``i`` travelled as (``ZERO`` = SIGUSR1, ``ONE`` = SIGUSR2), ``None`` when not known."""
        if self.key is not None:
            return word_symbol(i, self.group) if 0 <= i < self.arrived else None
        bit = self.bit(i)
        return None if bit is None else bit ^ self.one ^ 1

    def chunk(self, i: int) -> bytes:
        """The payload bytes of word ``i`` (``WORD_PAYLOAD_BYTES``, zero-padded after the last byte)."""
        start = WORD_PAYLOAD_BYTES * i
        return self.source[start : start + WORD_PAYLOAD_BYTES].ljust(WORD_PAYLOAD_BYTES, b"\0")

    def tag(self, i: int) -> int:
        return (self.key + i) & TAG_MASK  # type: ignore[operator]

    def value(self, i: int) -> int | None:
        """The ``si_value`` of word ``i``, ``None`` when not known."""
        if self.key is None or not 0 <= i < self.known:
            return None
        return self.tag(i) << WORD_TAG_SHIFT | int.from_bytes(self.chunk(i), "big")

    def number(self) -> int | None:
        """The whole field as an integer (its bytes in ``byteorder``), ``None`` unless all of it is known."""
        if self.known < self.count or self.key is not None or self.offset & 7 or self.count & 7:
            return None
        start = self.offset >> 3
        return int.from_bytes(self.source[start : start + (self.count >> 3)], self.byteorder)


@dataclass(frozen=True, slots=True)
class Rebuilt:
    """A transfer's signals, field by field (see the module docstring).

    ``expected``: the signals of the whole transfer (``None`` while the length
    is unknown); the spans cover them all, and only the signals that
    ``arrived`` were received. ``gap_base``: the position of the signal that
    ``stats.gaps[0]`` is measured from (the native start bit; a classic
    message's first signal).
    """

    mode: str
    outcome: str
    spans: tuple[Span, ...]
    expected: int | None
    gap_base: int
    flags_assumed: bool = False
    """The flags byte is not kept: rebuilt as 0 (see the module docstring)."""
    profile: Profile | None = None
    reason: AbortReason | None = None
    turbo: bool = False
    """The server said yes to turbo words (the reply at ``TURBO_CHECK_INDEX``)."""
    pairs: bool = False
    """And to word pairs (the reply at ``PAIRS_CHECK_INDEX``): one reply per two words."""
    triples: bool = False
    """And to word triples (the reply at ``TRIPLES_CHECK_INDEX``): one reply per three words."""

    @property
    def signals(self) -> int:
        """How many signals arrived (the positions ``0 .. signals - 1``)."""
        return sum(span.arrived for span in self.spans)

    @property
    def complete(self) -> bool:
        """Every signal of the transfer arrived and is known."""
        return self.expected is not None and all(span.known == span.count for span in self.spans)

    def locate(self, position: int) -> tuple[Span, int]:
        """The span of the signal at ``position`` and its offset in it."""
        firsts = [span.first for span in self.spans]
        span = self.spans[max(0, bisect_right(firsts, position) - 1)]
        if not 0 <= position - span.first < span.arrived:
            raise IndexError(position)
        return span, position - span.first

    def symbols(self) -> list[int | None]:
        """Every signal that arrived, in order (for tests: a 1 MiB frame is 8 million of them)."""
        return [span.symbol(i) for span in self.spans for i in range(span.arrived)]

    def values(self) -> list[int | None]:
        """Like ``symbols``, with each turbo word's ``si_value`` in place of its symbol."""
        return [span.value(i) if span.words else span.symbol(i) for span in self.spans for i in range(span.arrived)]

    def fields(self) -> list[tuple[str, int, int | None]]:
        """``(field, index, bit)`` of every signal that arrived: the frame index (classic: the bit of
        the message; a turbo word: the word number, with its ``si_value`` for the bit)."""
        out = []
        for span in self.spans:
            if span.words:
                out += [(span.field, i, span.value(i)) for i in range(span.arrived)]
            else:
                out += [(span.field, span.index + i, span.bit(i)) for i in range(span.arrived)]
        return out

    def reply(self, position: int) -> tuple[int | None, str]:
        """What the server answered to the signal at ``position``: ``(symbol or None, what)``.

        ``what`` is one of ``ACK``, ``SIGNATURE_REPLY``, ``GO_REPLY``, ``TURBO_YES``,
        ``PAIRS_YES``, ``TRIPLES_YES``, ``WITH_ITS_GROUP`` (a word of a pair or triple but its last: none of its own), ``NAK``, ``ECHO``, ``VERDICT``, ``END_ACK``, ``NO_REPLY``.
        """
        span, i = self.locate(position)
        last = position == self.signals - 1
        if self.mode == CLASSIC:
            profile = self.profile
            if span.field == HANDSHAKE_FIELD:
                return profile.handshake_symbol, ACK
            if last and self.outcome == DELIVERED and profile.end_ack is not None:
                return profile.end_ack_symbol, END_ACK
            return (profile.ack_symbol, ACK) if profile.ack is not None else (None, NO_REPLY)
        if span.field == SIGNATURE:
            return (GO, GO_REPLY) if i == SIGNATURE_LENGTH - 1 else (SIGNATURE_ACK, SIGNATURE_REPLY)
        if span.words:
            group = 3 if self.triples else 2 if self.pairs else 1
            if i % group != group - 1 and i + 1 < span.count:
                return None, WITH_ITS_GROUP
            return ack_symbol(i // group), ACK
        index = span.index + i
        if span.field == CRC:
            symbol = span.symbol(i) if self.outcome == DELIVERED else None
            return symbol, VERDICT if last and self.outcome == DELIVERED else ECHO
        nak = ack_symbol(index) ^ 1
        if last and self.outcome == ABORTED and (
            (index == VERSION_CHECK_INDEX and self.reason is AbortReason.BAD_VERSION)
            or (index == LENGTH_CHECK_INDEX and self.reason is AbortReason.TOO_LARGE)
        ):
            return nak, NAK
        if index == TURBO_CHECK_INDEX and self.turbo:
            return nak, TURBO_YES
        if index == PAIRS_CHECK_INDEX and self.pairs:
            return nak, PAIRS_YES
        if index == TRIPLES_CHECK_INDEX and self.triples:
            return nak, TRIPLES_YES
        return ack_symbol(index), ACK

    def round_trip(self, gaps: Sequence[float], position: int) -> float | None:
        """Seconds from the signal at ``position`` to the next one, as the server saw it (``None``: no sample)."""
        at = position - self.gap_base
        return gaps[at] if 0 <= at < len(gaps) else None

    def since_previous(self, gaps: Sequence[float], position: int) -> float | None:
        """Seconds from the previous signal to the one at ``position``."""
        return self.round_trip(gaps, position - 1) if position > self.gap_base else None


# --------------------------------------------------------------------------- building them


class _Builder:
    """Appends spans one after the other; ``arrived(count)`` says how many of the next span's came."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.position = 0

    def add(self, field: str, count: int, index: int, source: bytes, *, known: int, arrived: int, **kwargs) -> None:
        arrived = max(0, min(arrived, count))
        self.spans.append(
            Span(field, self.position, count, index, source, known=max(0, min(known, arrived)), arrived=arrived, **kwargs)
        )
        self.position += count


def native_frame(
    data: bytes,
    message_id: int | None,
    attempt: int = 0,
    *,
    flags: int = 0,
    retransmissions: int | None = 0,
    length: int | None = None,
    arrived: int | None = None,
    words: int | None = None,
    turbo: bool = False,
    pairs: bool = False,
    triples: bool = False,
    crc: bool = True,
    version: bool = True,
    outcome: str = DELIVERED,
    reason: AbortReason | None = None,
    flags_assumed: bool = False,
) -> Rebuilt:
    """The native transfer of ``data``: signature, start bit, header, payload (or words), tail.

    With only the first arguments, the whole frame of a delivered message (its
    CRC is ``wire.frame_crc``). For a partial one: ``message_id`` ``None`` when
    the header never completed (then only the fields before it are known, and
    ``length`` if given), ``length`` (from the header), ``arrived`` (frame signals that reached the server, the start bit
    included: ``TransferStats.bits``), ``words`` (turbo words that arrived),
    ``retransmissions`` (``None`` when the tail never arrived) and ``crc``
    (whether the CRC is the sender's: true only for a delivered frame).
    """
    header_known = message_id is not None
    if header_known and length is None:
        length = len(data)
    b = _Builder()
    b.add(SIGNATURE, SIGNATURE_LENGTH, -SIGNATURE_LENGTH, b"\xff", known=SIGNATURE_LENGTH, arrived=SIGNATURE_LENGTH)
    reached = frame_bit_count(length or 0) if arrived is None else arrived
    result = {"outcome": outcome, "gap_base": SIGNATURE_LENGTH, "flags_assumed": flags_assumed, "reason": reason, "turbo": turbo,
              "pairs": turbo and pairs, "triples": turbo and pairs and triples}

    def bits(field: str, index: int, count: int, value: int | None) -> None:
        source = b"" if value is None else value.to_bytes(count // 8, "big")
        b.add(field, count, index, source, known=count if value is not None else 0, arrived=reached - index)

    b.add(START, 1, 0, b"\0", known=1, arrived=reached)
    bits(VERSION, 1, 8, PROTOCOL_VERSION if version and reached > VERSION_CHECK_INDEX else None)
    bits(FLAGS, 9, 8, flags if reached > TURBO_CHECK_INDEX else None)
    bits(ATTEMPT, 17, 8, attempt if header_known else None)
    bits(MESSAGE_ID, 25, 32, message_id if header_known else None)
    bits(LENGTH, 57, 32, length if header_known or reached > LENGTH_CHECK_INDEX else None)
    if not header_known:
        return Rebuilt(NATIVE, spans=tuple(b.spans), expected=None, **result)
    tail = PAYLOAD_START_INDEX + 8 * length
    if turbo and length:
        count = word_count(length)
        came = count if words is None else words
        b.add(WORDS, count, PAYLOAD_START_INDEX, data, known=count if len(data) >= length else len(data) // WORD_PAYLOAD_BYTES,
              arrived=came, key=turbo_key(message_id, attempt), group=3 if result["triples"] else 2 if result["pairs"] else 1)
    else:
        b.add(PAYLOAD, 8 * length, PAYLOAD_START_INDEX, data, known=8 * len(data), arrived=reached - PAYLOAD_START_INDEX)
    if crc and retransmissions is not None:
        header = HEADER.pack(PROTOCOL_VERSION, flags, attempt, message_id, length)
        crc_value: int | None = frame_crc(header + data, retransmissions)
    else:
        crc_value = None
    bits(RETRANSMISSIONS, tail, RETRANSMISSION_BITS, retransmissions)
    bits(CRC, tail + RETRANSMISSION_BITS, CRC_BITS, crc_value)
    return Rebuilt(NATIVE, spans=tuple(b.spans), expected=b.position, **result)


def classic_message(
    data: bytes,
    profile: Profile,
    *,
    handshake: bool | None = None,
    length: int | None = None,
    arrived: int | None = None,
    outcome: str = DELIVERED,
    reason: AbortReason | None = None,
) -> Rebuilt:
    """A classic minitalk message of ``data`` per ``profile``: handshake, length header, bytes, NUL.

    With only ``data`` and ``profile``, the delivered message (``encode``'s symbols,
    after the handshake when the profile has one). For a partial one (any other
    ``outcome``): ``length`` (the payload length, once the length header
    completed), ``arrived`` (message bits that came, the handshake excluded:
    ``TransferStats.bits``) and ``handshake`` (whether one came).
    """
    b = _Builder()
    if profile.handshake if handshake is None else handshake:
        # SIGUSR1 (a 0 bit read as a native symbol), whatever a 1 bit is in this profile.
        b.add(HANDSHAKE_FIELD, 1, -1, bytes([HANDSHAKE]), known=1, arrived=1)
    style = {"lsb": profile.bit_order == "lsb", "one": profile.one_symbol}
    order = "big" if profile.length_order == "be" else "little"
    delivered = outcome == DELIVERED
    if delivered:
        length = len(data)
    width_signal, header = None, b""
    if length is not None and profile.has_length:
        width_signal, header = profile.length_header(length + profile.nul_counted)
    header_bits = 8 * len(header) if header else 8 * profile.header_size()
    came = None if arrived is None else arrived
    if profile.length_typed:
        # One signal picks the length's width: SIGUSR1 32 bits, SIGUSR2 64 (unknown until it came).
        if came is None or came:
            b.add(LENGTH_WIDTH, 1, 0, b"" if width_signal is None else bytes([width_signal]),
                  known=0 if width_signal is None else 1, arrived=1, lsb=True)  # bit 0 is the symbol
        header_index = 1
    else:
        header_index = 0
    if came is None:
        came = header_index + header_bits + 8 * length + 8 * profile.nul
    if header_bits:
        b.add(LENGTH, header_bits, header_index, header, known=header_bits if header else 0, arrived=came - header_index,
              byteorder=order, **style)
    header_bits += header_index
    if length is None:
        # The end is not known yet (a NUL-only message, or the length header never completed).
        if not header_bits:
            b.add(MESSAGE, came, 0, data, known=8 * len(data), arrived=came, **style)
        return Rebuilt(CLASSIC, outcome, tuple(b.spans), None, 0, profile=profile, reason=reason)
    framing = reason is AbortReason.FRAMING  # the byte where the NUL belongs is the last one of ``data``
    message = data[:-1] if framing else data
    b.add(MESSAGE, 8 * length, header_bits, message, known=8 * len(message), arrived=came - header_bits, **style)
    if profile.nul:
        end = data[-1:] if framing else b"\0"
        b.add(NUL, 8, header_bits + 8 * length, end, known=8 if delivered or framing else 0,
              arrived=came - header_bits - 8 * length, **style)
    return Rebuilt(CLASSIC, outcome, tuple(b.spans), b.position, 0, profile=profile, reason=reason)


def rebuild(
    data: bytes,
    stats: TransferStats,
    *,
    mode: str = NATIVE,
    profile: str | Profile | None = None,
    outcome: str = DELIVERED,
    reason: AbortReason | None = None,
) -> Rebuilt:
    """The signals of a transfer the server reported: ``data`` (delivered, or the partial payload),
    its ``stats``, and for a classic one its profile. ``outcome``: ``DELIVERED``, ``ABORTED`` or
    ``IN_FLIGHT`` (then ``stats`` is a snapshot: ``bits`` the frame bits so far)."""
    if mode == CLASSIC:
        if not isinstance(profile, Profile):
            profile = parse_profile(profile or "")
        handshake = profile.handshake and stats.signals_received > stats.bits
        if outcome == DELIVERED:
            return classic_message(data, profile, handshake=handshake)
        return classic_message(data, profile, handshake=handshake, length=stats.length, arrived=stats.bits,
                               outcome=outcome, reason=reason)
    flags = (FLAG_TURBO | (FLAG_PAIRS if stats.pairs else 0) | (FLAG_TRIPLES if stats.triples else 0)) if stats.turbo else 0
    if outcome == DELIVERED:
        return native_frame(data, stats.message_id, stats.attempt, flags=flags, retransmissions=stats.retransmissions,
                            turbo=stats.turbo, pairs=stats.pairs, triples=stats.triples, flags_assumed=not stats.turbo)
    length = stats.length
    crc_start = None if length is None else PAYLOAD_START_INDEX + 8 * length + RETRANSMISSION_BITS
    return native_frame(
        data, stats.message_id, stats.attempt, flags=flags,
        retransmissions=stats.retransmissions if crc_start is not None and stats.bits >= crc_start else None,
        length=length, arrived=stats.bits, words=stats.words, turbo=stats.turbo, pairs=stats.pairs, triples=stats.triples, crc=False,
        version=reason is not AbortReason.BAD_VERSION, outcome=outcome, reason=reason, flags_assumed=not stats.turbo,
    )


def probably_resent(rebuilt: Rebuilt, gaps: Sequence[float], retransmissions: int, threshold: float = RESENT_GAP) -> list[int]:
    """Positions of the signals that were probably resent, in order.

    The server cannot know which signals its sender resent: a lost signal is
    never seen, its resend just comes late. So: the signals that came at least
    ``threshold`` after the previous one, at most the ``retransmissions`` the
    sender reported, the longest waits first. None when it reported none.
    """
    if retransmissions <= 0 or not gaps:
        return []
    late = list(compress(range(len(gaps)), map(threshold.__le__, gaps)))
    if len(late) > retransmissions:
        late = sorted(sorted(late, key=gaps.__getitem__, reverse=True)[:retransmissions])
    return [rebuilt.gap_base + 1 + at for at in late if rebuilt.gap_base + 1 + at < rebuilt.signals]
