"""The receiving side: ``Server``, the native session, its queue, and classic clients beside it.

Sans-IO (docs/PROTOCOL.md is the spec; "rule N" cites its "Guarantees"): feed
it ``receive(pid, symbol, now)``, ``receive_word``, ``tick(now)`` and
``sender_gone``; send back what they return and what collects in ``outbox``;
hand on ``events`` before the reply that follows them. Classic minitalk
clients are decoded by a ``ClassicServer`` the server owns
(``proto.classic``); the I/O layer asks ``classic_replies`` which of their
replies it may send.

Over 500 lines on purpose: the native session is one state machine (the
hello, the queue, the frame, turbo words, the verdict), and its hot paths
(``_feed``, ``receive_run``, ``receive_word``) read best next to the state they
change.
"""

from __future__ import annotations

from sigchat.proto.base import LocalProtocolError
from sigchat.proto.classic.auto import LearningClassicServer
from sigchat.proto.classic.policy import ReplyPolicy
from sigchat.proto.classic.profile import DEFAULT_IDLE_TIMEOUT, HANDSHAKE, Profile, encode
from sigchat.proto.events import (
    AbortReason,
    HeaderReceived,
    MessageDelivered,
    SenderQueued,
    ServerCounters,
    ServerEvent,
    TransferAborted,
    TransferStarted,
    TransferStats,
)
from sigchat.proto.wire import (
    CONTACT_TTL,
    CRC_BITS,
    DEDUP_TTL,
    DEFAULT_MAX_BYTES,
    FLAG_PAIRS,
    FLAG_TRIPLES,
    FLAG_TURBO,
    GO,
    GO_TIMEOUT,
    HEADER,
    HELLO,
    LENGTH_CHECK_INDEX,
    MAX_GAP_SAMPLES,
    MAX_LENGTH,
    ONE,
    PAIRS_CHECK_INDEX,
    PAYLOAD_START_INDEX,
    PROTOCOL_VERSION,
    QUEUE_TTL,
    RUN_LIMIT,
    SESSION_IDLE_TIMEOUT,
    SIGNATURE_ACK,
    SIGNATURE_LENGTH,
    START_BIT,
    SYMBOL_DIGITS,
    TAG_MASK,
    TRIPLES_CHECK_INDEX,
    TURBO_CHECK_INDEX,
    VERSION_CHECK_INDEX,
    WAIT,
    WORD_PAYLOAD_BYTES,
    WORD_PAYLOAD_MASK,
    WORD_TAG_SHIFT,
    ack_run,
    ack_symbol,
    frame_bit_count,
    frame_crc,
    group_words,
    turbo_key,
    word_count,
    word_payloads,
)


WARM_UP_CLIENTS = 9
"""How many scratch classic clients ``Server.warm_up_classic`` serves (more than CPython's 8 calls)."""


class _Transfer:
    """The server's state for the sender that holds the session."""

    __slots__ = (
        "pid", "index", "acc", "header", "payload", "length", "message_id", "attempt", "total",
        "crc_start", "expected_crc", "poisoned", "stats", "last_at", "retransmissions_field", "skipped_hello",
        "turbo", "group", "in_words", "word", "words", "key", "partial",
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
        self.group = 1  # words per round trip: 2 accepted at PAIRS_CHECK_INDEX, 3 at TRIPLES_CHECK_INDEX
        self.in_words = False  # the payload is arriving as words
        self.word = 0  # index of the next word (in pairs and triples: the first of its group)
        self.words = 0
        self.key = 0
        self.partial: dict[int, int] = {}  # the payloads of the group's words in so far, by offset in the group


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
        classic: Profile | None = None,
        classic_timeout: float = DEFAULT_IDLE_TIMEOUT,
        classic_auto: bool = False,
        turbo: bool = False,
    ) -> None:
        """``classic``: a ``Profile`` to also serve classic minitalk clients (``proto.classic``);
        ``classic_auto``: learn it from the first classic client instead (``proto.classic.auto``).

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
        self.classic: LearningClassicServer | None = None
        """Per-pid decoders of classic clients and the line (``proto.classic.server``); its
        events and extra replies are moved to ``events``/``outbox`` after every call."""
        self.classic_replies: ReplyPolicy | None = None
        """Which classic replies the I/O layer may send, and when (``proto.classic.policy``)."""
        if classic is not None:
            self.classic = LearningClassicServer(classic, auto=classic_auto, max_bytes=max_bytes, timeout=classic_timeout)
            self.classic_replies = ReplyPolicy(self.classic)

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

    def snapshot(self, pid: int) -> tuple[bytes, TransferStats] | None:
        """``pid``'s transfer in flight so far: its payload, and a copy of its stats (``bits``: the
        frame signals so far, ``ended_at``: its last signal); ``None`` when ``pid`` has none.

        For the UI's live X-ray, on demand (it copies the payload): never on the hot path.
        """
        t = self._active
        if t is None or t.pid != pid:
            return self.classic.snapshot(pid) if self.classic is not None else None
        return bytes(t.payload), t.stats.copy(bits=t.index, ended_at=t.last_at)

    def warm_up_classic(self) -> None:
        """Serve ``WARM_UP_CLIENTS`` classic clients a short message each, on scratch state with these settings.

        For a server about to read real classic clients: CPython runs a function slowly until it
        has run a few times (3.11 specializes it after 8 calls), and a server runs its first-contact
        code once per message. A client that does not wait for acks sends its next bit ~0.12 ms
        after its first, whatever the server does; that first signal took 0.08-0.15 ms on the
        Textual app, 0.04-0.09 ms after this (and one pass through the classic decoder alone, the
        warm-up before, had cut ~0.4 ms to that).
        """
        classic = self.classic
        if classic is None:
            return
        profile = classic.profile
        # (Not learning: an auto server's inference would cost ~15 ms of start-up here.)
        scratch = Server(max_bytes=self.max_bytes, classic=profile, classic_timeout=1.0)
        symbols = ([HANDSHAKE] if profile.handshake else []) + encode(b"warm-up", profile)  # (the handshake's ask)
        for pid in range(1, WARM_UP_CLIENTS + 1):
            start = 10.0 * pid  # one after the other, each with the line free
            for index, symbol in enumerate(symbols):
                scratch.receive(pid, symbol, start + index * 1e-4)
                scratch.classic_bit_run()
            scratch.progress()
            scratch.tick(start + 5.0)
            scratch.events.clear()
            scratch.outbox.clear()

    def known_pids(self) -> int:
        """How many pids the server holds state for (bounded: see ``tick``)."""
        classic = self.classic.clients() if self.classic is not None else 0
        return len(self._queue) + len(self._delivered) + len(self._lingering) + len(self._contacts) + (self._active is not None) + classic

    def _native_leftover(self, pid: int, now: float) -> bool:
        """A bit from a sigchat sender whose message was just delivered (a resent last bit)."""
        delivered = self._delivered.get(pid)
        return delivered is not None and now - (delivered[1] - DEDUP_TTL) < self.session_timeout

    def may_be_classic(self, pid: int) -> bool:
        """Whether ``pid`` is (or may still turn out to be) a classic client: its replies are classic acks."""
        return self.classic is not None and (self.classic.owns(pid) or pid in self._contacts)

    @property
    def classic_holder(self) -> int | None:
        """The classic client that holds the line (is mid-message), if any."""
        return self.classic.holder if self.classic is not None else None

    def classic_bit_run(self) -> tuple[int, int | None, int | None, int, bool, int] | None:
        """A run of classic bits the I/O layer may answer itself (``ClassicServer.bit_run``)."""
        return self.classic.bit_run() if self.classic is not None else None

    def classic_receive_run(self, pid: int, symbols: bytes, times: list[float]) -> None:
        """The signals of ``classic_bit_run``'s run, all answered alike: as ``receive`` for each."""
        self.counters.signals += len(symbols)
        self._from_line(self.classic.receive_run(pid, symbols, times))

    def classic_paced_streaming(self, now: float, within: float) -> bool:
        """Whether a classic client that paces itself is mid-message and sent a bit less than ``within`` ago."""
        return self.classic is not None and self.classic.paced_streaming(now, within)

    def classic_overdue(self, now: float) -> tuple[int, int] | None:
        """A classic reply to send again (``ClassicServer.overdue``), if one is due."""
        return self.classic.overdue(now) if self.classic is not None else None

    def classic_nudged(self, pid: int) -> None:
        self.classic.nudged(pid)

    def classic_nudge_at(self) -> float | None:
        """When ``classic_overdue`` may next have one (``ClassicServer.nudge_at``)."""
        return self.classic.nudge_at() if self.classic is not None else None

    def waiting_pids(self) -> list[int]:
        """Senders waiting for their turn: queued native senders and paused classic clients."""
        return [*self._queue, *(self.classic.waiting if self.classic is not None else ())]

    def totals(self) -> ServerCounters:
        """``counters`` plus the classic clients' (deliveries, aborts, bytes)."""
        return self.counters.plus(self.classic.counters) if self.classic is not None else self.counters

    # ------------------------------------------------------------------ input
    def other_signal(self, pid: int, symbol: int, now: float) -> None:
        """A signal read from ``pid`` (``receive``; the I/O layer for one it does not pass there: a
        turbo word, a foreign one): a classic line holder's bit may have merged into it
        (``ClassicServer.nudged``)."""
        classic = self.classic
        if classic is not None and classic.holder is not None and pid != classic.holder:
            classic.other_signal(pid, symbol, now)

    def receive(self, pid: int, symbol: int, now: float) -> int | None:
        self.counters.signals += 1
        t = self._active
        classic = self.classic
        if classic is not None:
            self.other_signal(pid, symbol, now)
        if t is not None and t.pid == pid:
            if classic is not None and classic.holder is not None:
                # A classic client is mid-message and cannot resend a bit lost
                # in a merge with ours: this signal counts as lost (rule 4).
                self.counters.held += 1
                return None
            return self._feed(t, symbol, now)
        if classic is not None and classic.owns(pid):
            return self._from_line(classic.receive(pid, symbol, now))
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
            return self._from_line(classic.first_contact(pid, ones, last, symbol, now))
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
        self._signals_arrived(t, times)
        # Bits 0..7 of payload byte j arrive at indexes PAYLOAD_START_INDEX + 8j + 0..7;
        # t.acc holds the ones of the byte in progress.
        held = (t.index - PAYLOAD_START_INDEX) & 7
        digits = (format(t.acc, f"0{held}b") if held else "") + symbols.translate(SYMBOL_DIGITS).decode()
        whole = len(digits) >> 3
        if whole:
            t.payload += int(digits[: 8 * whole], 2).to_bytes(whole, "big")
        rest = digits[8 * whole :]
        t.acc = int(rest, 2) if rest else 0
        t.index += count

    def word_run(self) -> tuple[int, list[list[int]], bytes] | None:
        """``(pid, tags, replies)`` when the active sender's next signals are whole word pairs or triples.

        ``tags`` has a list per place in the group (two for pairs, three for
        triples): group *k* of the run is the words tagged ``tags[0][k]``,
        ``tags[1][k]`` (and ``tags[2][k]``), all from ``pid`` (SI_QUEUE); the
        caller may answer it itself with ``replies[k]`` once it has them all, and
        then must pass the groups' values (in word order) to ``receive_word_run``
        before anything else. ``None``: the next signal needs ``receive`` or
        ``receive_word``.
        """
        t = self._active
        if t is None or not t.in_words or t.group == 1 or t.partial or (
            self.classic is not None and self.classic.holder is not None
        ):
            return None
        group = t.group
        count = min((t.words - t.word) // group, RUN_LIMIT)
        if count <= 0:
            return None
        tags = [(t.key + t.word + k) & TAG_MASK for k in range(group * count)]
        return t.pid, [tags[place::group] for place in range(group)], ack_run(t.word // group, count)

    def receive_word_run(self, pid: int, values: list[int], times: list[float]) -> None:
        """The word groups received from ``pid`` during ``word_run()``'s run, all answered:
        ``values`` in word order, and the time each was taken.

        The same as ``receive_word`` for each, in order.
        """
        if not times:
            return
        t = self._active
        words = len(times)
        if (
            t is None or t.pid != pid or not t.in_words or len(values) != words or words % t.group
            or t.word + words > t.words
        ):
            raise LocalProtocolError("receive_word_run without a matching word_run")
        self.counters.signals += words
        stats = t.stats
        stats.signals_received += words
        stats.signals_sent += words // t.group
        stats.words += words
        self._signals_arrived(t, times)
        t.payload += word_payloads(values)
        t.word += words
        if t.word >= t.words:  # (the run's groups were whole: only the padding of the last word is cut)
            del t.payload[t.length :]
            t.in_words = False
            t.index = PAYLOAD_START_INDEX + 8 * t.length

    def receive_word(self, pid: int, value: int, now: float) -> int | None:
        """A turbo word (a ``sigqueue`` signal with ``si_value`` = ``value``) from ``pid``.

        Returns the reply symbol, or ``None`` for anything but the expected word
        (a repeat, a forged, stale or misplaced word): every word is answered
        exactly once (docs/PROTOCOL.md, rule 7).
        """
        self.counters.signals += 1
        t = self._active
        if t is None or t.pid != pid or not t.turbo:
            self.counters.stray += 1
            return None
        if self.classic is not None and self.classic.holder is not None:
            self.counters.held += 1  # as in receive(): counts as lost, the sender resends it
            return None
        word, group, partial = t.word, t.group, t.partial
        offset = ((value >> WORD_TAG_SHIFT) - t.key - word) & TAG_MASK  # 0: the expected word
        step = group_words(word, t.words, group) if t.in_words else 0
        if offset >= step or offset in partial:
            # A group's words may come in any order (a later one alone when an
            # earlier one was lost), each once.
            self.counters.stray += 1
            return None
        stats = t.stats
        stats.signals_received += 1
        stats.words += 1
        partial[offset] = value & WORD_PAYLOAD_MASK
        self._word_arrived(t, now)
        if len(partial) < step:
            return None  # the group is answered once all of its words are in
        chunk = b"".join(partial[place].to_bytes(WORD_PAYLOAD_BYTES, "big") for place in range(step))
        partial.clear()
        reply = ack_symbol(word // group)
        stats.signals_sent += 1
        word += step
        t.word = word
        if word < t.words:
            t.payload += chunk
        else:
            t.payload += chunk[: t.length - len(t.payload)]
            t.in_words = False
            t.index = PAYLOAD_START_INDEX + 8 * t.length  # the 1-bit tail follows
        return reply

    @staticmethod
    def _signals_arrived(t: _Transfer, times: list[float]) -> None:
        """The gaps of signals that arrived at ``times`` in a run (as many as are kept)."""
        gaps = t.stats.gaps
        room = MAX_GAP_SAMPLES - len(gaps)
        if room > 0:
            previous = t.last_at
            for at in times[:room]:
                gaps.append(at - previous)
                previous = at
        t.last_at = times[-1]

    @staticmethod
    def _word_arrived(t: _Transfer, now: float) -> None:
        gaps = t.stats.gaps
        if len(gaps) < MAX_GAP_SAMPLES:
            gaps.append(now - t.last_at)
        t.last_at = now

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
            self._from_line(None)

    def sender_gone(self, pid: int, now: float) -> None:
        """The I/O layer found that ``pid`` exited: drop its session or queue place."""
        self._queue.pop(pid, None)
        if self.classic is not None:
            self.classic.sender_gone(pid, now)
            self._from_line(None)
        t = self._active
        if t is not None and t.pid == pid:
            self._abort(t, AbortReason.SENDER_GONE, now)
            self._next(now)

    # ------------------------------------------------------------------ internals
    def _from_line(self, reply: int | None) -> int | None:
        """Move the classic line's events and extra replies to ours (in order); pass ``reply`` on."""
        line = self.classic
        if line.events:
            self.events.extend(line.events)
            line.events.clear()
        if line.outbox:
            self.outbox.extend(line.outbox)
            line.outbox.clear()
        return reply

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
                if (index == PAIRS_CHECK_INDEX and t.group > 1) or (index == TRIPLES_CHECK_INDEX and t.group == 3):
                    return index & 1  # "yes, two (three) words per round trip"
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
                # Answered at the next indexes: pairs at PAIRS_CHECK_INDEX, triples at TRIPLES_CHECK_INDEX.
                t.group = (3 if byte & FLAG_TRIPLES else 2) if byte & FLAG_PAIRS else 1
                t.stats.pairs, t.stats.triples = t.group > 1, t.group == 3
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
