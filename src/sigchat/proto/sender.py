"""The sending side of the native protocol: ``Sender``, one message's state machine.

Sans-IO (docs/PROTOCOL.md is the spec): the caller sends the symbols it gets
back and passes in every reply and deadline expiry with the current time. The
rules cited below ("rule 4") are PROTOCOL.md's "Guarantees".

On the send path: only ``base`` and ``wire`` are imported (see ``sigchat.send``).
"""

from __future__ import annotations

from sigchat.proto.base import Choice, LocalProtocolError, Record, Timing, choices
from sigchat.proto.wire import (
    CRC_BITS,
    DEFAULT_TIMEOUT,
    DIGIT_SYMBOLS,
    FLAG_PAIRS,
    FLAG_TRIPLES,
    FLAG_TURBO,
    GO,
    HEADER,
    HEADER_BYTES,
    HELLO,
    HELLO_RETRY,
    LENGTH_CHECK_INDEX,
    MAX_ATTEMPTS,
    MAX_LENGTH,
    ONE,
    PAIRS_CHECK_INDEX,
    PAYLOAD_START_INDEX,
    PROTOCOL_VERSION,
    QUEUED_HELLO_INTERVAL,
    QUIET_MARGIN,
    RETRY_INITIAL,
    RETRY_MAX,
    RUN_LIMIT,
    SESSION_IDLE_TIMEOUT,
    SIGNATURE_ACK,
    SIGNATURE_LENGTH,
    START_BIT,
    TAIL,
    TRIPLES_CHECK_INDEX,
    TURBO_CHECK_INDEX,
    VERSION_CHECK_INDEX,
    WORD_PAYLOAD_BYTES,
    WORD_TAG_SHIFT,
    ack_run,
    ack_symbol,
    frame_bit_count,
    frame_crc,
    group_words,
    turbo_key,
    word_count,
    word_symbol,
    word_values,
)

CLASSIC_EVIDENCE = 4
"""SIGUSR1 replies to the start bit, with never a SIGUSR2, that make a server a classic minitalk one
(``Outcome.CLASSIC_PEER``): a sigchat server answers the start bit with SIGUSR2, and a late GO (the
answer to a repeated hello) is one SIGUSR1 per hello repeated, which takes a server silent for
``HELLO_RETRY`` each; a classic server answers every one of the start bit's resends with SIGUSR1."""


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
    CLASSIC_PEER = "answers like a classic minitalk server"


class SenderStats(Timing, Record):
    """What sending one message cost. ``turbo``: the server took turbo words (in the last attempt);
    ``pairs``: two of them per round trip; ``triples``: three."""

    __slots__ = (
        "length", "frame_bits", "signals_sent", "signals_received", "stale_replies", "retransmissions", "desyncs",
        "attempts", "started_at", "sending_at", "ended_at", "queued", "turbo", "pairs", "triples", "words",
    )

    def __init__(self, length: int = 0) -> None:
        self.length = length
        self.frame_bits = self.signals_sent = self.signals_received = self.stale_replies = 0
        self.retransmissions = self.desyncs = self.attempts = self.words = 0
        self.started_at = self.sending_at = self.ended_at = 0.0
        self.queued = self.turbo = self.pairs = self.triples = False

    @property
    def group(self) -> int:
        """Turbo words per round trip: 3 in triples, 2 in pairs, else 1."""
        return 3 if self.triples else 2 if self.pairs else 1


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


class WordRun(Record):
    """Word pairs or triples a sender's caller may exchange without calling ``Sender.receive`` for each.

    As ``BitRun``: before it sends group *k* the caller must have the reply
    ``expect[k]`` from the server, in time; it stops at the first reply that
    differs, is late or does not come, and reports the groups it sent with
    ``Sender.word_ran``. A pair is ``sigqueue`` of SIGUSR1 with ``firsts[k]``,
    then of SIGUSR2 with ``seconds[k]``; a triple (``thirds`` not ``None``) is a
    SIGUSR1 with ``firsts[k]`` to the server's receiving thread, then SIGUSR1
    with ``seconds[k]`` and SIGUSR2 with ``thirds[k]`` to the process
    (``wire.TRIPLE_SYMBOLS``).
    """

    __slots__ = ("expect", "firsts", "seconds", "thirds", "timeout")

    def __init__(
        self, expect: bytes, firsts: list[int], seconds: list[int], thirds: list[int] | None, timeout: float
    ) -> None:
        self.expect, self.firsts, self.seconds, self.thirds, self.timeout = expect, firsts, seconds, thirds, timeout


class Sender:
    """The sending side of one message.

    Use: ``symbol = start(now)``, send it; then for every reply from the server
    ``symbol = receive(reply, now)`` and for every expiry of ``deadline``
    ``symbol = timeout(now)``; send ``symbol`` when it is not ``None``. When
    ``drain`` is true, discard every signal already pending from the server
    before sending (stale replies to repeated hellos). Stop when ``outcome`` is
    set.

    With ``turbo=True`` the sender asks for turbo words (rule 7), with
    ``pairs`` (the default) for two of them per round trip, and with
    ``triples`` as well for three (only a caller that can queue a signal to
    the server's receiving thread may ask); ``word_retry``: the retry time while
    words are in flight (default: ``retry_initial``). While ``value`` is not
    ``None``, the returned symbol must be sent as a word: with ``sigqueue`` and
    ``si_value = value``, to the receiving thread when ``to_thread`` is true;
    then each ``(symbol, value)`` of ``more_words`` the same way, to the process,
    right after it.
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
        pairs: bool = True,
        triples: bool = False,
        word_retry: float | None = None,
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
        self.word_retry = retry_initial if word_retry is None else word_retry
        """The retry time while turbo words are in flight: a resent word is never a
        duplicate (the server drops a word it has), so it may be shorter."""
        wanted = FLAG_TURBO | (FLAG_PAIRS | (FLAG_TRIPLES if triples else 0) if pairs else 0)
        self.flags = flags | (wanted if turbo else 0)
        self.value: int | None = None
        self.to_thread = False
        self.more_words: tuple[tuple[int, int], ...] = ()
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
        self._ones_received = 0  # replies that were SIGUSR2 (ONE): a classic server sends none
        self._late_gos = 0  # SIGUSR1 replies to the start bit (CLASSIC_EVIDENCE)
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
        self._ones_received += symbol
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
            self.stats.signals_sent += len(self.more_words)  # (a pair or triple goes again whole)
            return self._send(word_symbol(self._word, self.stats.group), now)  # no settling: the server ignores a repeated word
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

    def word_run(self) -> WordRun | None:
        """The next whole word pairs or triples as a ``WordRun``; ``None`` when the next reply needs ``receive``."""
        word = self._word
        group = self.stats.group
        if self.state is not SenderState.SENDING or word < 0 or group == 1:
            return None
        # The group in flight is answered first; the run sends the whole groups after it.
        start = word + group
        count = min((self._words - start) // group, RUN_LIMIT)
        if count <= 0:
            return None
        values = word_values(self.data, start, group * count, self._key)
        timeout = min(self.word_retry, self.session_margin())
        thirds = values[2::3] if group == 3 else None
        return WordRun(ack_run(word // group, count), values[0::group], values[1::group], thirds, timeout)

    def word_ran(self, count: int, now: float) -> None:
        """``count`` groups of the last ``word_run()`` went out, each after its expected reply, the last at ``now``.

        The same as ``receive`` of each of those replies.
        """
        if count:
            stats = self.stats
            words = stats.group * count
            stats.signals_received += count
            stats.signals_sent += words
            stats.words += words
            stats.frame_bits += WORD_TAG_SHIFT * words  # (whole groups: the last word is never among them)
            self._word += words
            self._load_words()  # the group in flight, should it have to be resent
            self._retry = self.word_retry
            self._last_reply = self._last_sent = now
            self.deadline = now + self._retry

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
        self.stats.turbo = self.stats.pairs = self.stats.triples = False
        self._word = -1
        self._clear_words()
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
        return digits[skip : skip + stop - start].encode().translate(DIGIT_SYMBOLS)

    def _fill_tail(self) -> None:
        offset = HEADER_BYTES + len(self.data)
        retransmissions = min(self._attempt_retransmissions, 0xFFFF)
        crc = frame_crc(bytes(self._body[:offset]), retransmissions)
        self._body[offset:] = TAIL.pack(retransmissions, crc)

    def _load_words(self) -> int:
        """``value``, ``to_thread`` and ``more_words`` for the group of words from ``_word``; how many signals they are."""
        word, group = self._word, self.stats.group
        count = group_words(word, self._words, group)
        values = word_values(self.data, word, count, self._key)
        self.value, self.to_thread = values[0], group == 3
        self.more_words = tuple((word_symbol(word + k, group), values[k]) for k in range(1, count))
        return count

    def _clear_words(self) -> None:
        self.value, self.to_thread, self.more_words = None, False, ()

    def _send_word(self, now: float) -> int:
        """Send the group of words from ``_word`` (its first on ``word_symbol``, the others in ``more_words``)."""
        self.stats.signals_sent += self._load_words() - 1
        return self._send(word_symbol(self._word, self.stats.group), now)

    def _on_word_reply(self, symbol: int, now: float) -> int | None:
        word, group = self._word, self.stats.group
        # One reply per group of words (the parity of the group's index).
        if symbol != ack_symbol(word // group):
            self.stats.stale_replies += 1  # not this group's ack (each group is answered once)
            return None
        self._last_reply = now
        self._retry = self.word_retry
        step = group_words(word, self._words, group)
        self.stats.words += step
        self.stats.frame_bits += min(WORD_TAG_SHIFT * step, 8 * (len(self.data) - WORD_PAYLOAD_BYTES * word))
        word += step
        if word < self._words:
            self._word = word
            return self._send_word(now)
        self._word = -1
        self._clear_words()
        self._retry = self.retry_initial
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
        elif index == PAIRS_CHECK_INDEX and self.stats.turbo and self.flags & FLAG_PAIRS and symbol != (index & 1) ^ 1:
            # "Yes" to two words per round trip: believed like the turbo "yes" above.
            self.stats.pairs = True
            symbol ^= 1
        elif index == TRIPLES_CHECK_INDEX and self.stats.pairs and self.flags & FLAG_TRIPLES and symbol != (index & 1) ^ 1:
            # "Yes" to three words per round trip: believed the same way.
            self.stats.triples = True
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
                    self._late_gos += 1
                    if self._late_gos >= CLASSIC_EVIDENCE and not self._ones_received:
                        # Not one SIGUSR2 ever: every signal got a SIGUSR1, the per-bit ack of a
                        # classic minitalk server, which takes our bits for a message of its own.
                        return self._fail(Outcome.CLASSIC_PEER, now)
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
                self._retry = self.word_retry
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
