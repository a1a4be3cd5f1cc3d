"""The sigchat native protocol, version 1: a sans-IO state machine.

Nothing here sends a signal, reads a clock or starts a thread. The caller turns
received signals into *symbols* (``ZERO`` for SIGUSR1, ``ONE`` for SIGUSR2),
passes them in together with the current time, and sends back the symbols this
module returns. ``docs/PROTOCOL.md`` has the same description with a diagram.

Wire format
===========

Every signal carries one symbol. A sender has at most one signal in flight: it
sends, then waits for the server's reply before sending again (standard signals
do not queue, and SIGUSR1 overtakes SIGUSR2, so anything else loses or reorders
bits).

1. Hello. A sender opens with the *signature*: ``SIGNATURE_LENGTH`` (8) ONEs,
   i.e. the byte 0xFF, which never occurs in UTF-8 text, so a classic minitalk
   client (whose first bits are text) is never taken for a sigchat sender. The
   server answers the first seven with ZERO (the classic per-bit ack: it cannot
   know yet who is talking) and the eighth with ``GO`` (ZERO) when it is free or
   ``WAIT`` (ONE) when another sender holds the session. A ONE at any point of
   the signature means WAIT. A waiting sender is queued (FIFO) and later gets an
   unsolicited ``GO``. While queued, it sends ``HELLO`` (ONE) every
   ``QUEUED_HELLO_INTERVAL`` seconds and the server answers ``WAIT`` again
   (proof that it is alive; the caller may also report other proof, such as
   the server process being alive, with ``Sender.server_alive``). A sender
   that got ``GO`` has ``GO_TIMEOUT`` seconds to send its start bit.
2. Frame. After ``GO`` the sender streams the frame, one bit per signal, and
   every bit *k* (frame index, from 0) is answered:

   ======================  ==========================================================
   index 0                 start bit, always ZERO (a ONE here is a repeated hello
                           or signature bit; the server answers ``GO`` again)
   indexes 1..88           header, 11 bytes MSB first: version u8 (=1), flags u8,
                           attempt u8, message id u32, payload length u32
                           (the first ONE at indexes 1..7, where version 1 has
                           zeros, is taken for a stale queued hello: ignored,
                           no reply; a real bit is then resent by its sender)
   next 8 x length         payload bytes, MSB first
   next 16                 tail: the sender's bit retransmissions so far, u16
   last 32                 CRC-32 (zlib) of header + payload + retransmissions
   ======================  ==========================================================

   Replies: bits before the CRC are acknowledged with ``ack_symbol(k)``: ONE
   for even *k*, ZERO for odd *k*. The other symbol is a NAK, and the server
   only sends it at two places: index 8 (unsupported version) and index 88
   (length above the server's limit: refused before any payload is sent). A
   non-matching symbol anywhere else is a stale reply and the sender ignores it.

   Each CRC bit is answered with an *echo*: the bit as received while every
   CRC bit so far matched the server's own CRC of what it received, its
   complement from the first mismatch on. The sender's success is "all 32
   echoes equal what I sent"; the server's delivery is "all 32 bits matched".
   The server delivers (and, with a durable log, writes and fsyncs) before it
   sends the last echo.
3. Turbo (rule 7). A sender that sets ``FLAG_TURBO`` in the header's flags asks
   to send the payload as *words*: signals sent with ``sigqueue(3)``, whose
   64-bit ``si_value`` carries a 16-bit tag (high bits) and 6 payload bytes
   (MSB first; the last word is zero-padded). The server accepts by answering
   the last flags bit (index 16) with the NAK symbol, ``ack_symbol(16) ^ 1``; a
   server that cannot read ``si_value`` (or does not want to) simply acks it,
   and the frame goes on in 1-bit mode: that is the fallback. Once accepted,
   the payload bits (indexes 89 ..) are replaced by ``word_count(length)``
   words, each answered with ``ack_symbol(word index)``; then the tail follows
   as 1-bit signals at its usual indexes. Word *i* carries the tag
   ``(turbo_key(message id, attempt) + i) & 0xFFFF``. The server takes only
   the word with the expected tag and answers each word exactly once: a repeat
   (the sender wrongly thought it lost) is ignored, because an answer to it
   could reach the sender after the next word's ack (SIGUSR1 is delivered
   first) and pass for the ack of the word after. A forged ``si_pid``
   (possible with ``rt_sigqueueinfo``) has to guess the tag, and then still
   fails the CRC.

Invariants
==========

Rule 1: one session at a time. Bits are only accepted from the pid that holds
the session, so two senders' bits never mix; other senders wait in a queue.
Rule 2: nothing is delivered unless the CRC-32 over header, payload and tail
matches, so a corrupt, shifted or partial frame is never delivered.
Rule 3: exactly once. A retry carries the same message id; the server
remembers the last delivered id per pid and does not deliver it again.
Rule 4: a lost bit (coalesced with another process's signal) is retransmitted
after ``RETRY_INITIAL`` seconds; the server never saw it, so the resend is not a
duplicate. A reply slower than that can cause a duplicate bit; rule 2 catches
it and the sender retries the whole message (at most ``MAX_ATTEMPTS`` times),
after a quiet period long enough for the server to drop the broken session.
Rule 5: a session silent for ``SESSION_IDLE_TIMEOUT`` seconds is dropped and
the next queued sender gets ``GO``.
Rule 6: after a session that failed (integrity, NAK, silence), the server
ignores that pid for ``SESSION_IDLE_TIMEOUT`` from the failure (it "lingers"), so
the leftover bits of a desynchronised sender are never read as a new hello. A
sender that gets no valid reply for ``SESSION_IDLE_TIMEOUT - QUIET_MARGIN``
seconds stops, stays silent until ``SESSION_IDLE_TIMEOUT + QUIET_MARGIN``
after its last signal, then starts a new attempt with a hello.
Rule 7: turbo changes only how the payload travels. Hello, queue, header,
tail, CRC verdict and message id are the same, so rules 1-6 hold as they are.

Bit runs (an API for speed; the wire is the same)
=================================================

Where the next replies are known in advance (a sender's header and payload
bits while every ack matches; the server's payload bits, whose acks depend
only on the index), ``Sender.bit_run`` and ``Server.bit_run`` hand the caller
a run of up to ``RUN_LIMIT`` signals to exchange in a tight loop, and
``Sender.ran`` / ``Server.receive_run`` take the result. Calling the state
machine for every signal cost about as much Python per bit as the whole raw
ping-pong (issue #6). Anything unexpected ends the run and goes through
``receive`` / ``timeout`` as usual, so a run changes nothing but speed.
"""

from __future__ import annotations

import struct
import zlib

TYPE_CHECKING = False  # typing's constant without importing typing (start-up)
if TYPE_CHECKING:
    from array import array

ZERO = 0
"""Symbol carried by SIGUSR1."""
ONE = 1
"""Symbol carried by SIGUSR2."""

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
``signals.UNCHECKED_GRACE`` and ``signals.DOES_NOT_WAIT``). Measured under
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
"""Most signals in one bit run (see ``BitRun``): the caller gets back to its other
duties (progress, ticks, stop requests) at least this often (~30 ms at 1-bit speed)."""

_ACKS_FROM_EVEN = bytes([ONE, ZERO]) * (RUN_LIMIT // 2 + 1)
"""``ack_symbol(k)`` for k = 0, 1, 2, ...: slice it at ``index & 1`` for a run from ``index``."""
_DIGIT_SYMBOLS = bytes.maketrans(b"01", bytes([ZERO, ONE]))
_SYMBOL_DIGITS = bytes.maketrans(bytes([ZERO, ONE]), b"01")


class ProtocolError(Exception):
    """Base class for protocol misuse."""


class LocalProtocolError(ProtocolError):
    """The caller used this module wrongly (e.g. a message over the length field)."""


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


# --------------------------------------------------------------------------- records


class Record:
    """Base of the plain records below: ``repr`` and ``==`` from their ``__slots__``.

    Not dataclasses: ``sigchat-send`` imports this module, and importing
    ``dataclasses`` (which imports ``inspect``) took ~20 ms here, about as long
    as Python's own start-up; the start-up goal is 2x ``python3 -c pass``.
    Events are never changed after they are made; treat them as immutable.
    """

    __slots__ = ()
    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def field_names(cls) -> list[str]:
        return [name for klass in reversed(cls.__mro__) for name in klass.__dict__.get("__slots__", ())]

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.field_names())
        return f"{type(self).__name__}({fields})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.field_names())


class Choice:
    """A member of a closed set of named values (a subclass), like an ``enum.Enum`` member:
    ``name``, ``value``, compared by identity, and the same object after copy or pickle.

    Not ``enum``: importing it (with functools and collections) was about a quarter of
    ``sigchat-send``'s start-up. ``@choices`` turns a subclass's UPPER_CASE attributes
    into its members, in order; ``members()`` lists them.
    """

    __slots__ = ("name", "value")

    def __init__(self, name: str, value: str) -> None:
        self.name, self.value = name, value

    @classmethod
    def members(cls) -> list:
        return [member for member in vars(cls).values() if type(member) is cls]

    def __repr__(self) -> str:
        return f"<{type(self).__name__}.{self.name}: {self.value!r}>"

    def __reduce__(self) -> tuple:
        return getattr, (type(self), self.name)


def choices(cls: type[Choice]) -> type[Choice]:
    for name, value in list(vars(cls).items()):
        if name.isupper():
            setattr(cls, name, cls(name, value))
    return cls


# --------------------------------------------------------------------------- statistics


class Timing:
    """``duration`` and payload ``bits_per_second`` of stats with ``length``, ``started_at`` and ``ended_at``."""

    __slots__ = ()

    @property
    def duration(self) -> float:
        return max(0.0, self.ended_at - self.started_at)

    @property
    def payload_bits(self) -> int:
        return 8 * (self.length or 0)

    @property
    def bits_per_second(self) -> float:
        """Payload bits per second (goodput) over the whole exchange."""
        duration = self.duration
        return self.payload_bits / duration if duration > 0 else 0.0


class LatencySummary(Record):
    """Per-bit round trip as the server sees it: from one bit to the next."""

    __slots__ = ("samples", "min", "median", "p99", "max")

    def __init__(self, samples: int, min: float, median: float, p99: float, max: float) -> None:  # noqa: A002
        self.samples, self.min, self.median, self.p99, self.max = samples, min, median, p99, max

    @classmethod
    def of(cls, gaps: array) -> LatencySummary | None:
        if not gaps:
            return None
        ordered = sorted(gaps)
        count = len(ordered)
        return cls(count, ordered[0], ordered[count // 2], ordered[min(count - 1, (count * 99) // 100)], ordered[-1])


class TransferStats(Timing, Record):
    """What one transfer (one session) cost, as seen by the server.

    ``turbo``: the payload travelled as turbo words (else one bit per signal);
    ``gaps``: seconds between consecutive signals (at most MAX_GAP_SAMPLES).
    """

    __slots__ = (
        "pid", "started_at", "ended_at", "length", "message_id", "attempt", "bits", "signals_received",
        "signals_sent", "retransmissions", "turbo", "words", "gaps",
    )

    def __init__(
        self,
        pid: int,
        started_at: float,
        ended_at: float,
        length: int | None = None,
        message_id: int | None = None,
        attempt: int = 0,
        bits: int = 0,
        signals_received: int = 0,
        signals_sent: int = 0,
        retransmissions: int = 0,
        turbo: bool = False,
        words: int = 0,
        gaps: array | None = None,
    ) -> None:
        self.pid, self.started_at, self.ended_at = pid, started_at, ended_at
        self.length, self.message_id, self.attempt, self.bits = length, message_id, attempt, bits
        self.signals_received, self.signals_sent, self.retransmissions = signals_received, signals_sent, retransmissions
        self.turbo, self.words = turbo, words
        if gaps is None:
            # Imported here: array imports collections, and sigchat-send never needs it (start-up).
            from array import array

            gaps = array("f")
        self.gaps = gaps

    def latency(self) -> LatencySummary | None:
        return LatencySummary.of(self.gaps)


# --------------------------------------------------------------------------- server events


class SenderQueued(Record):
    """``pid`` waits for the session at ``position`` (1 = next)."""

    __slots__ = ("pid", "position", "at")

    def __init__(self, pid: int, position: int, at: float) -> None:
        self.pid, self.position, self.at = pid, position, at


class TransferStarted(Record):
    """The server gave ``pid`` the session (sent GO)."""

    __slots__ = ("pid", "at", "mode")

    def __init__(self, pid: int, at: float, mode: str = "native") -> None:
        self.pid, self.at, self.mode = pid, at, mode


class HeaderReceived(Record):
    """The frame header arrived: the payload length is now known; ``turbo``: it comes as words (rule 7)."""

    __slots__ = ("pid", "message_id", "length", "attempt", "at", "turbo")

    def __init__(self, pid: int, message_id: int, length: int, attempt: int, at: float, turbo: bool = False) -> None:
        self.pid, self.message_id, self.length, self.attempt, self.at, self.turbo = pid, message_id, length, attempt, at, turbo


class MessageDelivered(Record):
    """A whole message arrived intact. ``duplicate`` means it was delivered before.

    ``mode``: ``native`` or ``classic`` (then an instance of ``classic.ClassicDelivered``, with the profile).
    """

    __slots__ = ("pid", "data", "stats", "duplicate", "mode")

    def __init__(self, pid: int, data: bytes, stats: TransferStats, duplicate: bool = False, mode: str = "native") -> None:
        self.pid, self.data, self.stats, self.duplicate, self.mode = pid, data, stats, duplicate, mode


@choices
class AbortReason(Choice):
    __slots__ = ()
    SILENT = "sender silent for too long"
    SENDER_GONE = "sender exited mid-transfer"
    CORRUPT = "integrity check failed"
    TOO_LARGE = "message larger than the server's limit"
    BAD_VERSION = "unsupported protocol version"
    INCOMPLETE = "incomplete: the client went silent mid-message"
    FRAMING = "no NUL where the length header says the message ends"


class TransferAborted(Record):
    """A session ended without a delivery; any partial payload was dropped."""

    __slots__ = ("pid", "reason", "stats", "partial", "mode")

    def __init__(self, pid: int, reason: AbortReason, stats: TransferStats, partial: bytes = b"", mode: str = "native") -> None:
        self.pid, self.reason, self.stats, self.partial, self.mode = pid, reason, stats, partial, mode


ServerEvent = SenderQueued | TransferStarted | HeaderReceived | MessageDelivered | TransferAborted


# --------------------------------------------------------------------------- server


class _Transfer:
    """The server's state for the sender that holds the session."""

    __slots__ = (
        "pid", "index", "acc", "header", "payload", "length", "message_id", "attempt", "total",
        "crc_start", "expected_crc", "poisoned", "stats", "last_at", "retransmissions_field", "skipped_hello",
        "turbo", "in_words", "word", "words", "key",
    )

    def __init__(self, pid: int, now: float) -> None:
        self.pid = pid
        self.index = 0
        self.acc = 0
        self.header = bytearray()
        self.payload = bytearray()
        self.length = -1
        self.message_id = 0
        self.attempt = 0
        self.total = frame_bit_count(0)
        self.crc_start = self.total - CRC_BITS
        self.expected_crc = 0
        self.poisoned = False
        self.stats = TransferStats(pid=pid, started_at=now, ended_at=now)
        self.last_at = now
        self.retransmissions_field = 0
        self.skipped_hello = False
        self.turbo = False  # accepted at TURBO_CHECK_INDEX
        self.in_words = False  # the payload is arriving as words
        self.word = 0  # index of the next word
        self.words = 0
        self.key = 0


class ServerCounters(Record):
    """Totals since the server started. ``held``: native session signals ignored while a
    classic client was mid-message (the sender resends them)."""

    __slots__ = ("signals", "stray", "delivered", "duplicates", "aborted", "bytes", "held")

    def __init__(self) -> None:
        self.signals = self.stray = self.delivered = self.duplicates = self.aborted = self.bytes = self.held = 0


class Server:
    """The receiving side. Feed it ``receive(pid, symbol, now)`` and ``tick(now)``.

    ``receive`` returns the symbol to send back to ``pid`` (or ``None``). Signals
    for other pids (a ``GO`` to the next queued sender) collect in ``outbox``;
    events collect in ``events``. The caller must handle ``events`` *before* it
    sends the returned reply: the last CRC echo is the "intact" verdict, and a
    durable log has to be written before it.
    """

    def __init__(
        self,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        session_timeout: float = SESSION_IDLE_TIMEOUT,
        classic: classic.Profile | None = None,  # noqa: F821 (imported only when given)
        classic_timeout: float | None = None,
        turbo: bool = False,
    ) -> None:
        """``classic``: a ``classic.Profile`` to also serve classic minitalk clients (see ``classic``).

        ``turbo``: accept turbo words (rule 7); only when the caller can read
        ``si_value`` and passes words to ``receive_word``.
        """
        if not 0 <= max_bytes <= MAX_LENGTH:
            raise LocalProtocolError(f"max_bytes must be between 0 and {MAX_LENGTH}")
        self.max_bytes = max_bytes
        self.turbo = turbo
        self.turbo_session = False
        """Whether the active session took turbo: the caller must read ``si_value``
        until it ends (a repeated last word may still come after it). An attribute,
        not a property: the receiver reads it for every signal."""
        self.session_timeout = session_timeout
        self.events: list[ServerEvent] = []
        self.outbox: list[tuple[int, int]] = []
        self.counters = ServerCounters()
        self._active: _Transfer | None = None
        self._queue: dict[int, float] = {}  # pid -> last hello time, in arrival order
        self._delivered: dict[int, tuple[int, float]] = {}  # pid -> (message id, expires)
        self._lingering: dict[int, float] = {}  # pid -> ignored until (rule 6)
        self._contacts: dict[int, tuple[int, float]] = {}  # pid -> (signature bits seen, last)
        self.classic = None  # classic.ClassicServer: per-pid decoders of classic clients
        if classic is not None:
            from sigchat.classic import DEFAULT_IDLE_TIMEOUT, ClassicServer  # (classic imports this module)

            timeout = DEFAULT_IDLE_TIMEOUT if classic_timeout is None else classic_timeout
            self.classic = ClassicServer(classic, self.events, self.outbox, self.counters, max_bytes=max_bytes, timeout=timeout)

    # ------------------------------------------------------------------ queries
    @property
    def active_pid(self) -> int | None:
        return self._active.pid if self._active is not None else None

    @property
    def queued_pids(self) -> list[int]:
        return list(self._queue)

    @property
    def wants_words(self) -> bool:
        """Whether the next signal of the active sender is a turbo word."""
        t = self._active
        return t is not None and t.in_words

    def progress(self) -> tuple[int, int, int | None, float, float] | None:
        """``(pid, frame bits received, frame bits or None, started, last signal)`` of the active transfer."""
        t = self._active
        if t is None:
            return None
        bits = t.index + min(8 * t.length, WORD_TAG_SHIFT * t.word) if t.in_words else t.index
        return (t.pid, bits, t.total if t.length >= 0 else None, t.stats.started_at, t.last_at)

    def known_pids(self) -> int:
        """How many pids the server holds state for (bounded: see ``tick``)."""
        classic = len(self.classic.decoders) if self.classic is not None else 0
        return len(self._queue) + len(self._delivered) + len(self._lingering) + len(self._contacts) + (self._active is not None) + classic

    def _native_leftover(self, pid: int, now: float) -> bool:
        """A bit from a sigchat sender whose message was just delivered (a resent last bit)."""
        delivered = self._delivered.get(pid)
        return delivered is not None and now - (delivered[1] - DEDUP_TTL) < self.session_timeout

    def may_be_classic(self, pid: int) -> bool:
        """Whether ``pid`` is (or may still turn out to be) a classic client: its replies are classic acks."""
        return self.classic is not None and (pid in self.classic.decoders or pid in self._contacts)

    # ------------------------------------------------------------------ input
    def receive(self, pid: int, symbol: int, now: float) -> int | None:
        self.counters.signals += 1
        t = self._active
        classic = self.classic
        if t is not None and t.pid == pid:
            if classic is not None and classic.holder is not None:
                # A classic client is mid-message and cannot resend a bit lost
                # in a merge with ours: this signal counts as lost (rule 4).
                self.counters.held += 1
                return None
            return self._feed(t, symbol, now)
        if classic is not None and pid in classic.decoders:
            return classic.receive(pid, symbol, now)
        if pid in self._lingering:
            if now < self._lingering[pid]:
                # Not extended: the sender stops within SESSION_IDLE_TIMEOUT -
                # QUIET_MARGIN of its last valid reply and retries after a quiet
                # period, so a fixed linger covers its leftover bits.
                self.counters.stray += 1
                return None
            del self._lingering[pid]
        if pid in self._queue:
            if symbol == HELLO:
                self._queue[pid] = now
                return WAIT
            self.counters.stray += 1
            return None
        if classic is not None and (symbol != ONE or not classic.native) and not self._native_leftover(pid, now):
            # Not (the rest of) a signature: a classic client. Replay the ONEs it sent.
            ones, last = self._contacts.pop(pid, (0, now))
            return classic.first_contact(pid, ones, last, symbol, now)
        if symbol != ONE:
            # First contact that is not a signature: not a sigchat sender (a
            # spoofer, or a classic client). Ignored.
            self._contacts.pop(pid, None)
            self.counters.stray += 1
            return None
        seen = self._contacts.get(pid, (0, now))[0] + 1
        if seen < SIGNATURE_LENGTH:
            self._contacts[pid] = (seen, now)
            return SIGNATURE_ACK
        self._contacts.pop(pid, None)
        if t is None:
            stats = self._start(pid, now)
            stats.signals_received += 1
            return GO
        self._queue[pid] = now
        self.events.append(SenderQueued(pid, len(self._queue), now))
        return WAIT

    def bit_run(self) -> tuple[int, bytes] | None:
        """``(pid, replies)`` when the active sender's next signals are plain payload bits.

        Their replies do not depend on their values (``ack_symbol`` of the
        index), so the caller may answer them itself, ``replies[k]`` to the
        *k*-th, as long as each comes from ``pid`` (kernel-filled), and then
        must pass what it received to ``receive_run`` before anything else.
        ``None``: the next signal needs ``receive``.
        """
        t = self._active
        if t is None or t.in_words or (self.classic is not None and self.classic.holder is not None):
            return None
        index = t.index
        end = PAYLOAD_START_INDEX + 8 * t.length  # (length is -1 until the header is in)
        if index < PAYLOAD_START_INDEX or index >= end:
            return None
        return t.pid, ack_run(index, min(end - index, RUN_LIMIT))

    def receive_run(self, pid: int, symbols: bytes, times: list[float]) -> None:
        """The payload bits received from ``pid`` at ``times`` during ``bit_run()``'s run, all answered.

        The same as ``receive`` for each, in order, returning the run's replies.
        """
        count = len(symbols)
        if not count:
            return
        t = self._active
        if t is None or t.pid != pid or t.in_words or t.index + count > PAYLOAD_START_INDEX + 8 * t.length:
            raise LocalProtocolError("receive_run without a matching bit_run")
        self.counters.signals += count
        stats = t.stats
        stats.signals_received += count
        stats.signals_sent += count
        gaps = stats.gaps
        room = MAX_GAP_SAMPLES - len(gaps)
        if room > 0:
            previous = t.last_at
            for at in times[:room]:
                gaps.append(at - previous)
                previous = at
        t.last_at = times[-1]
        # Bits 0..7 of payload byte j arrive at indexes PAYLOAD_START_INDEX + 8j + 0..7;
        # t.acc holds the ones of the byte in progress.
        held = (t.index - PAYLOAD_START_INDEX) & 7
        digits = (format(t.acc, f"0{held}b") if held else "") + symbols.translate(_SYMBOL_DIGITS).decode()
        whole = len(digits) >> 3
        if whole:
            t.payload += int(digits[: 8 * whole], 2).to_bytes(whole, "big")
        rest = digits[8 * whole :]
        t.acc = int(rest, 2) if rest else 0
        t.index += count

    def receive_word(self, pid: int, value: int, now: float) -> int | None:
        """A turbo word (a ``sigqueue`` signal with ``si_value`` = ``value``) from ``pid``.

        Returns the reply symbol, or ``None`` for anything but the expected word
        (a repeat, a forged, stale or misplaced word): every word is answered
        exactly once (see rule 7 in the module docstring).
        """
        self.counters.signals += 1
        t = self._active
        if t is None or t.pid != pid or not t.turbo:
            self.counters.stray += 1
            return None
        if self.classic is not None and self.classic.holder is not None:
            self.counters.held += 1  # as in receive(): counts as lost, the sender resends it
            return None
        word = t.word
        tag = value >> WORD_TAG_SHIFT
        if not t.in_words or tag != (t.key + word) & TAG_MASK:
            self.counters.stray += 1
            return None
        stats = t.stats
        stats.signals_received += 1
        stats.signals_sent += 1
        stats.words += 1
        gaps = stats.gaps
        if len(gaps) < MAX_GAP_SAMPLES:
            gaps.append(now - t.last_at)
        t.last_at = now
        chunk = (value & WORD_PAYLOAD_MASK).to_bytes(WORD_PAYLOAD_BYTES, "big")
        word += 1
        t.word = word
        if word < t.words:
            t.payload += chunk
        else:
            t.payload += chunk[: t.length - len(t.payload)]
            t.in_words = False
            t.index = PAYLOAD_START_INDEX + 8 * t.length  # the 1-bit tail follows
        return ack_symbol(word - 1)

    def tick(self, now: float) -> None:
        """Expire a silent session, stale queue entries and old dedup records."""
        for pid, last in list(self._queue.items()):
            if now - last > QUEUE_TTL:
                del self._queue[pid]
        t = self._active
        if t is not None and now - t.last_at > (self.session_timeout if t.index else GO_TIMEOUT):
            self._abort(t, AbortReason.SILENT, now)
        for pid, (_, expires) in list(self._delivered.items()):
            if now >= expires:
                del self._delivered[pid]
        for pid, until in list(self._lingering.items()):
            if now >= until:
                del self._lingering[pid]
        for pid, (_, last) in list(self._contacts.items()):
            if now - last > CONTACT_TTL:
                del self._contacts[pid]
        if self._active is None:
            self._next(now)
        if self.classic is not None:
            self.classic.tick(now)

    def sender_gone(self, pid: int, now: float) -> None:
        """The I/O layer found that ``pid`` exited: drop its session or queue place."""
        self._queue.pop(pid, None)
        if self.classic is not None:
            self.classic.sender_gone(pid, now)
        t = self._active
        if t is not None and t.pid == pid:
            self._abort(t, AbortReason.SENDER_GONE, now)
            self._next(now)

    # ------------------------------------------------------------------ internals
    def _start(self, pid: int, now: float) -> TransferStats:
        """Give ``pid`` the session; the caller sends it GO."""
        self._active = _Transfer(pid, now)
        self._active.stats.signals_sent = 1
        self.events.append(TransferStarted(pid, now))
        return self._active.stats

    def _next(self, now: float) -> None:
        if self._active is None and self._queue:
            pid = next(iter(self._queue))
            del self._queue[pid]
            self._start(pid, now)
            self.outbox.append((pid, GO))

    def _end(self, t: _Transfer, now: float) -> None:
        t.stats.ended_at = now
        t.stats.bits = t.index
        self._active = None
        self.turbo_session = False
        self._next(now)

    def _abort(self, t: _Transfer, reason: AbortReason, now: float) -> None:
        self.counters.aborted += 1
        if reason is not AbortReason.SENDER_GONE and t.index > 0:
            # From now, not from its last bit: a sender stopped for longer than
            # the session timeout may still send a leftover bit when it resumes.
            self._lingering[t.pid] = now + self.session_timeout
        self.events.append(TransferAborted(t.pid, reason, t.stats, bytes(t.payload)))
        self._end(t, now)

    def _feed(self, t: _Transfer, symbol: int, now: float) -> int | None:
        if t.in_words:
            # Only words advance the payload: this is a late repeat of the last
            # header bit, which was answered already.
            self.counters.stray += 1
            return None
        stats = t.stats
        stats.signals_received += 1
        stats.signals_sent += 1
        index = t.index
        if index == 0:
            t.last_at = now
            if symbol != START_BIT:
                return GO  # a repeated hello or signature bit: our GO is late or lost
            t.index = 1
            return ack_symbol(0)
        if symbol and index < VERSION_CHECK_INDEX and not t.skipped_hello:
            # Bits 1-7 are the leading zeros of version 1, so a ONE here is most
            # likely the sender's last queued HELLO, overtaken by its start bit
            # (SIGUSR1 is delivered first). Ignore one, without a reply: were it a
            # real bit (another version), its sender gets no reply and resends it.
            t.skipped_hello = True
            stats.signals_sent -= 1
            return None
        gaps = stats.gaps
        if len(gaps) < MAX_GAP_SAMPLES:
            gaps.append(now - t.last_at)
        t.last_at = now
        t.index = index + 1
        if index < t.crc_start:
            acc = (t.acc << 1) | symbol
            if index & 7:  # byte not complete yet (bytes end at indexes 8, 16, ...)
                t.acc = acc
                return (index & 1) ^ 1
            t.acc = 0
            if index >= PAYLOAD_START_INDEX + 7 and index < PAYLOAD_START_INDEX + 8 * t.length:
                t.payload.append(acc)
                return (index & 1) ^ 1
            return self._boundary(t, acc, index, now)
        # CRC bits: echo the bit received while everything matched, its
        # complement from the first mismatch on (that bit included).
        shift = CRC_BITS - 1 - (index - t.crc_start)
        if symbol != (t.expected_crc >> shift) & 1:
            t.poisoned = True
        echo = symbol ^ 1 if t.poisoned else symbol
        if index + 1 < t.total:
            return echo
        return self._finish(t, echo, now)

    def _boundary(self, t: _Transfer, byte: int, index: int, now: float) -> int | None:
        """A header or tail byte completed at ``index``."""
        if index <= LENGTH_CHECK_INDEX:
            t.header.append(byte)
            if index == VERSION_CHECK_INDEX and byte != PROTOCOL_VERSION:
                self._abort(t, AbortReason.BAD_VERSION, now)
                return ack_symbol(index) ^ 1
            if index == TURBO_CHECK_INDEX and byte & FLAG_TURBO and self.turbo:
                t.turbo = t.stats.turbo = self.turbo_session = True
                return ack_symbol(index) ^ 1  # "yes, send words"
            if index == LENGTH_CHECK_INDEX:
                _, _, t.attempt, t.message_id, t.length = HEADER.unpack(t.header)
                stats = t.stats
                stats.length, stats.message_id, stats.attempt = t.length, t.message_id, t.attempt
                if t.length > self.max_bytes:
                    self._abort(t, AbortReason.TOO_LARGE, now)
                    return ack_symbol(index) ^ 1
                t.total = frame_bit_count(t.length)
                t.crc_start = t.total - CRC_BITS
                if t.turbo and t.length:
                    t.in_words = True
                    t.words = word_count(t.length)
                    t.key = turbo_key(t.message_id, t.attempt)
                self.events.append(HeaderReceived(t.pid, t.message_id, t.length, t.attempt, now, t.turbo))
            return ack_symbol(index)
        # The two tail bytes (retransmission count); the CRC follows.
        t.retransmissions_field = ((t.retransmissions_field << 8) | byte) & 0xFFFF
        if index + 1 == t.crc_start:
            t.stats.retransmissions = t.retransmissions_field
            t.expected_crc = frame_crc(bytes(t.header) + bytes(t.payload), t.retransmissions_field)
        return ack_symbol(index)

    def _finish(self, t: _Transfer, echo: int, now: float) -> int:
        t.stats.ended_at = now
        t.stats.bits = t.total
        if t.poisoned:
            self._abort(t, AbortReason.CORRUPT, now)
            return echo
        previous = self._delivered.get(t.pid)
        duplicate = previous is not None and previous[0] == t.message_id
        self._delivered[t.pid] = (t.message_id, now + DEDUP_TTL)
        counters = self.counters
        if duplicate:
            counters.duplicates += 1
        else:
            counters.delivered += 1
            counters.bytes += len(t.payload)
        self.events.append(MessageDelivered(t.pid, bytes(t.payload), t.stats, duplicate))
        self._end(t, now)
        return echo


# --------------------------------------------------------------------------- sender


@choices
class SenderState(Choice):
    __slots__ = ()
    NEW = "new"
    HELLO = "hello"
    QUEUED = "queued"
    SENDING = "sending"
    SETTLING = "settling"
    QUIET = "quiet"
    DONE = "done"


@choices
class Outcome(Choice):
    __slots__ = ()
    DELIVERED = "delivered"
    NO_ANSWER = "no answer"
    TOO_LARGE = "rejected as too large"
    BAD_VERSION = "server speaks another protocol version"
    CORRUPT = "integrity check failed after retries"


class SenderStats(Timing, Record):
    """What sending one message cost. ``turbo``: the server took turbo words (in the last attempt)."""

    __slots__ = (
        "length", "frame_bits", "signals_sent", "signals_received", "stale_replies", "retransmissions", "desyncs",
        "attempts", "started_at", "sending_at", "ended_at", "queued", "turbo", "words",
    )

    def __init__(self, length: int = 0) -> None:
        self.length = length
        self.frame_bits = self.signals_sent = self.signals_received = self.stale_replies = 0
        self.retransmissions = self.desyncs = self.attempts = self.words = 0
        self.started_at = self.sending_at = self.ended_at = 0.0
        self.queued = self.turbo = False


class BitRun(Record):
    """Signals a sender's caller may exchange without calling ``Sender.receive`` for each.

    Before it sends ``send[k]`` the caller must have the reply ``expect[k]`` from
    the server (kernel-filled, from the server's pid), received by the deadline:
    ``Sender.deadline`` for the first, ``timeout`` seconds after the previous send
    for the others. It stops at the first reply that differs, is late or does not
    come, reports how many it sent with ``Sender.ran``, and only then handles that
    reply (or the timeout) the usual way.
    """

    __slots__ = ("expect", "send", "timeout")

    def __init__(self, expect: bytes, send: bytes, timeout: float) -> None:
        self.expect, self.send, self.timeout = expect, send, timeout


class Sender:
    """The sending side of one message.

    Use: ``symbol = start(now)``, send it; then for every reply from the server
    ``symbol = receive(reply, now)`` and for every expiry of ``deadline``
    ``symbol = timeout(now)``; send ``symbol`` when it is not ``None``. When
    ``drain`` is true, discard every signal already pending from the server
    before sending (stale replies to repeated hellos). Stop when ``outcome`` is
    set.

    With ``turbo=True`` the sender asks for turbo words (rule 7). While
    ``value`` is not ``None``, the returned symbol must be sent as a word: with
    ``sigqueue`` and ``si_value = value``.
    """

    def __init__(
        self,
        data: bytes,
        message_id: int,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_attempts: int = MAX_ATTEMPTS,
        retry_initial: float = RETRY_INITIAL,
        retry_max: float = RETRY_MAX,
        flags: int = 0,
        turbo: bool = False,
    ) -> None:
        if len(data) > MAX_LENGTH:
            raise LocalProtocolError("message longer than 4 GiB - 1 bytes")
        if not 0 <= message_id <= 0xFFFFFFFF:
            raise LocalProtocolError("message id must fit in 32 bits")
        self.data = bytes(data)
        self.message_id = message_id
        self.timeout_seconds = timeout
        self.max_attempts = max_attempts
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.flags = flags | (FLAG_TURBO if turbo else 0)
        self.value: int | None = None
        self.state = SenderState.NEW
        self.outcome: Outcome | None = None
        self.deadline = 0.0
        self.drain = False
        self.stats = SenderStats(length=len(data))
        self.total = frame_bit_count(len(data))
        self.crc_start = self.total - CRC_BITS
        self._tail_index = 1 + 8 * (HEADER_BYTES + len(data))
        self._body = bytearray()
        self._index = 0
        self._retry = retry_initial
        self._last_reply = 0.0
        self._last_sent = 0.0
        self._echo_failed = False
        self._attempt_retransmissions = 0
        self._resent_current = False
        self._settled_symbol = 0
        self._signature_sent = 0
        self._word = -1  # index of the word in flight (-1: not sending words)
        self._words = word_count(len(data))
        self._key = 0  # turbo_key of the current attempt

    # ------------------------------------------------------------------ API
    def start(self, now: float) -> int:
        self.stats.started_at = now
        self._last_reply = now
        return self._new_attempt(now)

    def receive(self, symbol: int, now: float) -> int | None:
        self.stats.signals_received += 1
        state = self.state
        if state is SenderState.SENDING:
            if now - self._last_sent > self.session_margin():
                # The reply waited for us (we were stopped?): the server may have
                # dropped the session meanwhile, so do not carry on blindly.
                return self._retry_attempt(now)
            if self._word >= 0:
                return self._on_word_reply(symbol, now)
            return self._on_bit_reply(symbol, now)
        if state is SenderState.SETTLING:
            # A second reply to a retransmitted bit: the server got it twice.
            return self._desync(now)
        if state is SenderState.HELLO or state is SenderState.QUEUED:
            self._last_reply = now
            if state is SenderState.HELLO and symbol == SIGNATURE_ACK and self._signature_sent < SIGNATURE_LENGTH:
                self._retry = self.retry_initial
                self._signature_sent += 1
                return self._send(ONE, now)
            if symbol == GO:
                self.state = SenderState.SENDING
                self.stats.sending_at = now
                self.drain = True
                self._index = 0
                return self._send(START_BIT, now)
            if state is SenderState.HELLO:
                self.state = SenderState.QUEUED
                self.stats.queued = True
            self.deadline = now + QUEUED_HELLO_INTERVAL
            return None
        self.stats.stale_replies += 1  # QUIET or DONE: nothing is expected
        return None

    def timeout(self, now: float) -> int | None:
        state = self.state
        if state is SenderState.DONE:
            return None
        if state is SenderState.QUIET:
            return self._new_attempt(now)
        if state is SenderState.SETTLING:
            self.state = SenderState.SENDING
            return self._send(self._settled_symbol, now)
        if now - self._last_reply > self.timeout_seconds:
            return self._fail(Outcome.NO_ANSWER, now)
        if state is SenderState.QUEUED:
            self.deadline = now + QUEUED_HELLO_INTERVAL
            return self._send(HELLO, now)
        if state is SenderState.SENDING and (
            now - self._last_sent > self.session_margin() or now - self._last_reply > self.session_margin()
        ):
            # We were silent (stopped?) or unanswered long enough for the server
            # to drop or ignore the session (rule 6): start over after a quiet period.
            return self._retry_attempt(now)
        # No reply in time: the signal or its reply was lost. Resend the same one.
        self.stats.retransmissions += 1
        self._attempt_retransmissions += 1
        self._retry = min(self._retry * 2, self.retry_max)
        if state is SenderState.HELLO:
            return self._send(ONE, now)
        if self._word >= 0:
            return self._send(self._word & 1, now)  # no settling: the server ignores a repeated word
        self._resent_current = True
        return self._send(self._bit(self._index), now)

    def postpone(self, now: float, delay: float) -> int | None:
        """The deadline passed, but the caller knows the last signal is still in flight.

        (E.g. it is still pending at the server, or the server is busy.) Wait
        ``delay`` more without resending: a resend now would be a duplicate. The
        silence limits still apply, so this may end the attempt or the transfer.
        """
        if now - self._last_reply > self.timeout_seconds:
            return self._fail(Outcome.NO_ANSWER, now)
        if self.state is SenderState.SENDING and now - self._last_reply > self.session_margin():
            return self._retry_attempt(now)
        self.deadline = now + delay
        return None

    def bit_run(self) -> BitRun | None:
        """The next header and payload bits as a ``BitRun``; ``None`` when the next reply needs ``receive``."""
        if self.state is not SenderState.SENDING or self._word >= 0 or self._resent_current:
            return None
        index = self._index  # the bit in flight
        end = self._tail_index  # (the tail is only filled in after the payload)
        if self.stats.turbo and self._words and index < PAYLOAD_START_INDEX:
            end = PAYLOAD_START_INDEX  # words follow
        count = min(end - 1 - index, RUN_LIMIT)
        if count <= 0:
            return None
        # A reply within the retry time is also within the session margin, which
        # receive() would otherwise check.
        timeout = min(self.retry_initial, self.session_margin())
        return BitRun(ack_run(index, count), self._symbols(index + 1, index + 1 + count), timeout)

    def ran(self, count: int, now: float) -> None:
        """``count`` signals of the last ``bit_run()`` went out, each after its expected reply, the last at ``now``.

        The same as ``receive`` of each of those replies.
        """
        if count:
            stats = self.stats
            stats.signals_received += count
            stats.signals_sent += count
            stats.frame_bits += count
            self._index += count
            self._retry = self.retry_initial
            self._last_reply = self._last_sent = now
            self.deadline = now + self._retry

    def server_alive(self, now: float) -> None:
        """Proof of life from outside the protocol (the server process runs).

        Only counts while queued: the server answered once, and a long queue
        can legitimately keep us waiting longer than ``timeout``.
        """
        if self.state is SenderState.QUEUED:
            self._last_reply = now

    def session_margin(self) -> float:
        return SESSION_IDLE_TIMEOUT - QUIET_MARGIN

    # ------------------------------------------------------------------ internals
    def _send(self, symbol: int, now: float) -> int:
        self.stats.signals_sent += 1
        self._last_sent = now
        state = self.state
        if state is SenderState.HELLO:
            self.deadline = now + max(self._retry, HELLO_RETRY)
        elif state is not SenderState.QUEUED:
            self.deadline = now + self._retry
        return symbol

    def _new_attempt(self, now: float) -> int | None:
        """Start (another) attempt: a fresh frame, opened with the signature."""
        if self.stats.attempts >= self.max_attempts:
            return self._fail(self._exhausted(), now)
        self.stats.attempts += 1
        self._attempt_retransmissions = 0
        self._echo_failed = False
        self._resent_current = False
        self.stats.turbo = False
        self._word = -1
        self.value = None
        attempt = min(self.stats.attempts - 1, 255)
        self._key = turbo_key(self.message_id, attempt)
        self._body = bytearray(
            HEADER.pack(PROTOCOL_VERSION, self.flags, attempt, self.message_id, len(self.data)) + self.data + bytes(TAIL.size)
        )
        self.state = SenderState.HELLO
        self._retry = self.retry_initial
        self._last_reply = now
        self._signature_sent = 1
        return self._send(ONE, now)

    def _exhausted(self) -> Outcome:
        """Every attempt failed: an integrity failure, unless not one frame bit was ever answered."""
        return Outcome.CORRUPT if self.stats.frame_bits else Outcome.NO_ANSWER

    def _retry_attempt(self, now: float) -> int | None:
        if self.stats.attempts >= self.max_attempts:
            return self._fail(self._exhausted(), now)
        self.state = SenderState.QUIET
        self.deadline = max(now, self._last_sent + SESSION_IDLE_TIMEOUT + QUIET_MARGIN)
        return None

    def _desync(self, now: float) -> int | None:
        self.stats.desyncs += 1
        return self._retry_attempt(now)

    def _fail(self, outcome: Outcome, now: float) -> None:
        self.outcome = outcome
        self.state = SenderState.DONE
        self.stats.ended_at = now
        return None

    def _bit(self, index: int) -> int:
        if index == 0:
            return START_BIT
        if index == self._tail_index:
            self._fill_tail()
        position = index - 1
        return (self._body[position >> 3] >> (7 - (position & 7))) & 1

    def _symbols(self, start: int, stop: int) -> bytes:
        """Frame bits ``start`` .. ``stop - 1`` as symbols (1 <= start < stop <= the tail's index)."""
        first = (start - 1) >> 3  # frame index i is bit i - 1 of the body
        chunk = self._body[first : ((stop - 2) >> 3) + 1]
        digits = format(int.from_bytes(chunk, "big"), f"0{8 * len(chunk)}b")
        skip = (start - 1) & 7
        return digits[skip : skip + stop - start].encode().translate(_DIGIT_SYMBOLS)

    def _fill_tail(self) -> None:
        offset = HEADER_BYTES + len(self.data)
        retransmissions = min(self._attempt_retransmissions, 0xFFFF)
        crc = frame_crc(bytes(self._body[:offset]), retransmissions)
        self._body[offset:] = TAIL.pack(retransmissions, crc)

    def _send_word(self, now: float) -> int:
        word = self._word
        start = WORD_PAYLOAD_BYTES * word
        chunk = self.data[start : start + WORD_PAYLOAD_BYTES]
        payload = int.from_bytes(chunk, "big") << 8 * (WORD_PAYLOAD_BYTES - len(chunk))
        self.value = (((self._key + word) & TAG_MASK) << WORD_TAG_SHIFT) | payload
        return self._send(word & 1, now)

    def _on_word_reply(self, symbol: int, now: float) -> int | None:
        word = self._word
        if symbol != (word & 1) ^ 1:
            self.stats.stale_replies += 1  # not this word's ack (each word is answered once)
            return None
        self._last_reply = now
        self._retry = self.retry_initial
        self.stats.words += 1
        self.stats.frame_bits += min(WORD_TAG_SHIFT, 8 * (len(self.data) - WORD_PAYLOAD_BYTES * word))
        word += 1
        if word < self._words:
            self._word = word
            return self._send_word(now)
        self._word = -1
        self.value = None
        self._index = PAYLOAD_START_INDEX + 8 * len(self.data)
        return self._send(self._bit(self._index), now)

    def _on_bit_reply(self, symbol: int, now: float) -> int | None:
        index = self._index
        if index == TURBO_CHECK_INDEX and self.flags & FLAG_TURBO and symbol != (index & 1) ^ 1:
            # "Yes" (rule 7). Believed even after a retransmission: were it the
            # reply to a duplicated bit, the server is one bit ahead, and the
            # parity of the very next reply shows it (a desync, then a retry).
            self.stats.turbo = True
            symbol ^= 1
        if index < self.crc_start:
            if symbol != (index & 1) ^ 1:
                # A NAK is only believed when nothing was retransmitted in this
                # attempt; otherwise it may be the reply to a duplicated bit.
                if self._attempt_retransmissions == 0:
                    if index == VERSION_CHECK_INDEX:
                        return self._fail(Outcome.BAD_VERSION, now)
                    if index == LENGTH_CHECK_INDEX:
                        return self._fail(Outcome.TOO_LARGE, now)
                if index == 0:
                    self.stats.stale_replies += 1  # a late GO for a repeated hello
                    return None
                # Only a retransmitted bit can produce a reply of the other
                # parity: the server counted that bit twice.
                return self._desync(now)
        elif symbol != self._bit(index):
            self._echo_failed = True
        self._last_reply = now
        self._retry = self.retry_initial
        index += 1
        self._index = index
        self.stats.frame_bits += 1
        if index < self.total:
            if index == PAYLOAD_START_INDEX and self.stats.turbo and self._words:
                # (Words need no settling: the server answers each one once.)
                self._resent_current = False
                self._word = 0
                return self._send_word(now)
            if self._resent_current:
                # The ack of a retransmitted bit may be the late ack of the
                # original; wait briefly for a second ack that would prove a
                # duplicate before building on it.
                self._resent_current = False
                self._settled_symbol = self._bit(index)
                self.state = SenderState.SETTLING
                self.deadline = now + self.retry_initial / 2
                return None
            return self._send(self._bit(index), now)
        if self._echo_failed:
            return self._retry_attempt(now)
        self.outcome = Outcome.DELIVERED
        self.state = SenderState.DONE
        self.stats.ended_at = now
        return None
