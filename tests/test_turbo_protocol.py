"""Turbo words (protocol rule 7), in memory: wire format, negotiation, fallback and adversity.

Words are built here from the module docstring, independently of the
protocol's helpers. The adversity tests reuse ``test_protocol``'s harness
(``SimKernel`` with pending slots that also carry ``si_value``, the session
watch and the safety/liveness checks), so turbo is held to the same
guarantees as 1-bit mode: nothing delivered that was not sent, nothing
delivered twice, no mixing, DELIVERED only when delivered.
"""

from __future__ import annotations

import random
import zlib

import pytest
from hypothesis import example, given, note
from hypothesis import strategies as st

from sigchat.proto import api as P
from simkernel import SimKernel
from test_protocol import DT, PID, bits_of, check_liveness, check_safety, examples, feed, of_type, open_session, run_bounded, seeds, watch_sessions

OTHER = 4343
GOLDEN = 0x9E3779B97F4A7C15


def documented_key(message_id: int, attempt: int) -> int:
    return ((((message_id << 8) | attempt) * GOLDEN) >> 32) & 0xFFFF


def documented_words(data: bytes, message_id: int, attempt: int = 0) -> list[int]:
    """Word i: tag ``(key + i) & 0xFFFF`` in the top 16 bits, then 6 payload bytes, zero-padded."""
    key = documented_key(message_id, attempt)
    words = []
    for i in range(0, len(data), 6):
        chunk = data[i : i + 6].ljust(6, b"\0")
        words.append((((key + i // 6) & 0xFFFF) << 48) | int.from_bytes(chunk, "big"))
    return words


def header_bits(data: bytes, message_id: int, *, flags: int = P.FLAG_TURBO, attempt: int = 0) -> list[int]:
    header = bytes([P.PROTOCOL_VERSION, flags, attempt]) + message_id.to_bytes(4, "big") + len(data).to_bytes(4, "big")
    return [P.START_BIT] + [bit for byte in header for bit in bits_of(byte, 8)]


def tail_bits(data: bytes, message_id: int, *, flags: int = P.FLAG_TURBO, attempt: int = 0, retransmissions: int = 0) -> list[int]:
    header = bytes([P.PROTOCOL_VERSION, flags, attempt]) + message_id.to_bytes(4, "big") + len(data).to_bytes(4, "big")
    counted = retransmissions.to_bytes(2, "big")
    crc = zlib.crc32(header + data + counted)
    return [bit for byte in counted for bit in bits_of(byte, 8)] + bits_of(crc, 32)


def exchange(sender: P.Sender, server: P.Server, pid: int = PID, now: float = 0.0) -> tuple[list[tuple[int, int | None]], float]:
    """A perfect link: every signal arrives, every reply arrives. Returns what the sender sent, as (symbol, value)."""
    sent = []
    symbol = sender.start(now)
    while sender.outcome is None:
        now += DT
        if symbol is None:
            now = max(now, sender.deadline)
            server.tick(now)
            symbol = sender.timeout(now)
            continue
        value = sender.value
        sent.append((symbol, value))
        reply = server.receive(pid, symbol, now) if value is None else server.receive_word(pid, value, now)
        server.outbox.clear()
        now += DT
        symbol = None if reply is None else sender.receive(reply, now)
    return sent, now


# =========================================================================== wire format and negotiation


@examples(60)
@given(data=st.binary(max_size=40), message_id=st.integers(0, 2**32 - 1))
@example(data=b"", message_id=0)
@example(data=b"abcdef", message_id=2**32 - 1)
@example(data=b"\xff" * 13, message_id=5)
def test_server_reads_words_built_from_the_documentation(data, message_id):
    """Header as 1-bit signals with FLAG_TURBO; the reply to index 16 is the
    "yes" (ack_symbol(16) ^ 1); then one word per 6 bytes, each acked with the
    parity of its word index; then the 1-bit tail and CRC echoes."""
    server = P.Server(turbo=True)
    now = open_session(server, PID, 0.0)
    replies, now = feed(server, PID, header_bits(data, message_id), now)
    expected = [P.ack_symbol(k) for k in range(89)]
    expected[P.TURBO_CHECK_INDEX] ^= 1
    assert replies == expected
    assert server.wants_words is bool(data)
    for i, word in enumerate(documented_words(data, message_id)):
        now += DT
        assert server.receive_word(PID, word, now) == P.ack_symbol(i)
    assert not server.wants_words
    tail = tail_bits(data, message_id)
    replies, now = feed(server, PID, tail, now)
    start = P.PAYLOAD_START_INDEX + 8 * len(data)
    assert replies[:16] == [P.ack_symbol(start + k) for k in range(16)]
    assert replies[16:] == tail[16:]  # all echoes equal: intact
    (delivered,) = of_type(server.events, P.MessageDelivered)
    assert delivered.data == data and delivered.stats.turbo and delivered.stats.words == len(documented_words(data, message_id))
    assert delivered.stats.bits == P.frame_bit_count(len(data))


@examples(40)
@given(data=st.binary(max_size=64), message_id=st.integers(0, 2**32 - 1))
def test_sender_sends_the_documented_words(data, message_id):
    sent, _ = exchange(P.Sender(data, message_id, turbo=True), P.Server(turbo=True))
    signature = [(P.ONE, None)] * P.SIGNATURE_LENGTH
    header = [(bit, None) for bit in header_bits(data, message_id)]
    words = [(i & 1, word) for i, word in enumerate(documented_words(data, message_id))]
    tail = [(bit, None) for bit in tail_bits(data, message_id)]
    assert sent == signature + header + words + tail


@pytest.mark.parametrize(("sender_turbo", "server_turbo"), [(True, True), (True, False), (False, True), (False, False)])
def test_turbo_is_negotiated_and_falls_back_to_one_bit(sender_turbo, server_turbo):
    """Turbo only when both sides want it; otherwise the same message goes 1 bit per signal."""
    data = bytes(range(256)) * 3
    sender, server = P.Sender(data, 11, turbo=sender_turbo), P.Server(turbo=server_turbo)
    sent, _ = exchange(sender, server)
    turbo = sender_turbo and server_turbo
    assert sender.outcome is P.Outcome.DELIVERED
    (delivered,) = of_type(server.events, P.MessageDelivered)
    assert delivered.data == data
    assert sender.stats.turbo is turbo and delivered.stats.turbo is turbo
    words = [value for _, value in sent if value is not None]
    assert len(words) == (P.word_count(len(data)) if turbo else 0)
    assert len(sent) == P.SIGNATURE_LENGTH + (89 + len(words) + 48 if turbo else P.frame_bit_count(len(data)))
    assert sender.stats.frame_bits == P.frame_bit_count(len(data))


def turbo_session(data: bytes, message_id: int = 77) -> tuple[P.Server, float]:
    server = P.Server(turbo=True)
    now = open_session(server, PID, 0.0)
    _, now = feed(server, PID, header_bits(data, message_id), now)
    return server, now


def test_forged_misplaced_and_repeated_words():
    """Only the expected word advances the payload, and each word is answered
    exactly once: a repeat, a word with any other tag, from another pid,
    outside a turbo session or after a tail bit is ignored without a reply."""
    data = b"0123456789abcdefgh"  # three words
    words = documented_words(data, 77)
    server, now = turbo_session(data)
    assert server.receive_word(OTHER, words[0], now) is None  # another pid
    assert server.receive_word(PID, words[1], now) is None  # out of order
    assert server.receive_word(PID, words[0] ^ (1 << 63), now) is None  # bad tag
    assert server.receive(PID, P.ONE, now) is None  # a 1-bit signal while words are due: a late header bit repeat
    assert server.receive_word(PID, words[0], now) == P.ack_symbol(0)
    assert server.receive_word(PID, words[0], now) is None  # repeated: not answered again
    assert server.receive_word(PID, words[1], now) == P.ack_symbol(1)
    assert server.receive_word(PID, words[2], now) == P.ack_symbol(2)
    assert server.receive_word(PID, words[2], now) is None
    assert server.receive_word(PID, words[1], now) is None
    tail = tail_bits(data, 77)
    replies, now = feed(server, PID, tail[:1], now)
    assert replies == [P.ack_symbol(P.PAYLOAD_START_INDEX + 8 * len(data))]
    assert server.receive_word(PID, words[2], now) is None  # a tail bit came: no more words
    feed(server, PID, tail[1:], now)
    (delivered,) = of_type(server.events, P.MessageDelivered)
    assert delivered.data == data and server.counters.stray == 8


def test_words_without_a_turbo_session_are_ignored():
    server = P.Server(turbo=True)
    word = documented_words(b"abc", 1)[0]
    assert server.receive_word(PID, word, 0.0) is None
    now = open_session(server, PID, 0.0)
    _, now = feed(server, PID, header_bits(b"abc", 1, flags=0), now)  # no FLAG_TURBO: a 1-bit frame
    assert not server.wants_words and server.receive_word(PID, word, now) is None


def test_a_forged_word_that_guesses_the_tag_fails_the_crc_and_the_retry_delivers():
    """Rule 2 still holds if a forger guesses a tag: the CRC fails, nothing is
    delivered from that frame, and the sender's retry delivers exactly once."""
    data = b"important message!"
    sender, server = P.Sender(data, 5, turbo=True), P.Server(turbo=True)
    receive_word = server.receive_word
    forged = []

    def forging(pid: int, value: int, now: float):
        if not forged and server.progress()[1] > P.PAYLOAD_START_INDEX:
            forged.append(value)
            value ^= 0xFF  # same tag, different payload: as if a forger guessed the tag first
        return receive_word(pid, value, now)

    server.receive_word = forging
    exchange(sender, server)
    assert forged
    assert sender.outcome is P.Outcome.DELIVERED and sender.stats.attempts == 2
    assert [e.reason for e in of_type(server.events, P.TransferAborted)] == [P.AbortReason.CORRUPT]
    assert [e.data for e in of_type(server.events, P.MessageDelivered)] == [data]


# =========================================================================== adversity, as for 1-bit mode

TURBO_ADVERSITY = {
    "loss": dict(loss=0.003),
    "stray": dict(stray=0.05),
    "forged-words": dict(forge=0.05),
    "spoofed-senders": dict(spoof_senders=0.02),
    "slow": dict(slow=0.02),
    "late-replies": dict(late=0.004),
    "everything": dict(loss=0.002, stray=0.02, forge=0.02, spoof_senders=0.01, slow=0.003, late=0.002),
}
messages_for_words = st.binary(max_size=200)


class WordBlindSpotKernel(SimKernel):
    """The /proc blind spot (see ``simkernel``) for words only: 1-bit mode's own
    answer to a repeated bit (a desync, then a retry) is tested elsewhere."""

    def _in_flight(self, pid: int) -> bool:
        sender = next(sim.proto for sim in self.senders if sim.process.pid == pid)
        if sender.value is None:
            saved, self.blind_spot = self.blind_spot, 0.0
            try:
                return super()._in_flight(pid)
            finally:
                self.blind_spot = saved
        return super()._in_flight(pid)


def simulate_turbo(
    seed: int, messages: list[bytes], turbo: list[bool], *, precise: bool = False, kernel_class=SimKernel, **conditions
) -> tuple[SimKernel, list[str]]:
    kernel = kernel_class(random.Random(seed), turbo=True, precise=precise, punctual_timers=precise, **conditions)
    problems = watch_sessions(kernel)
    for data, wants in zip(messages, turbo):
        kernel.add_sender(data, turbo=wants, **({"retry_initial": 0.01} if precise else {}))
    run_bounded(kernel)
    return kernel, problems


@pytest.mark.parametrize("condition", list(TURBO_ADVERSITY), ids=list(TURBO_ADVERSITY))
@examples(12)
@given(seed=seeds, messages=st.lists(messages_for_words, min_size=1, max_size=4), turbo=st.lists(st.booleans(), min_size=4, max_size=4))
def test_turbo_safety_under_adversity(condition, seed, messages, turbo):
    """Turbo and 1-bit senders mixed, under loss, stray and forged signals, a
    slow server and late replies: safety always holds."""
    kernel, problems = simulate_turbo(seed, messages, turbo, **TURBO_ADVERSITY[condition])
    note(f"outcomes: {[sim.proto.outcome for sim in kernel.senders]}")
    check_safety(kernel, problems)


@examples(30)
@given(
    seed=seeds,
    messages=st.lists(messages_for_words, min_size=1, max_size=4),
    late=st.floats(0.0, 0.01),
    slow=st.floats(0.0, 0.005),
    stray=st.floats(0.0, 0.02),
    forge=st.floats(0.0, 0.05),
)
def test_precise_turbo_senders_deliver_everything_once(seed, messages, late, slow, stray, forge):
    """With the real sender's /proc view, turbo senders deliver every message
    exactly once in one attempt, even with forged words arriving all along."""
    kernel, problems = simulate_turbo(seed, messages, [True] * len(messages), precise=True, late=late, slow=slow, stray=stray, forge=forge)
    fresh = check_safety(kernel, problems)
    check_liveness(kernel, fresh)
    for sim in kernel.senders:
        assert sim.proto.stats.attempts == 1 and sim.proto.stats.desyncs == 0
        assert sim.proto.stats.turbo is True


@examples(25)
@given(seed=seeds, messages=st.lists(messages_for_words, min_size=1, max_size=3), late=st.floats(0.005, 0.03))
@example(seed=0, messages=[bytes(range(200))], late=0.03)
@example(seed=812, messages=[b"\x00", b""], late=0.005859375)  # failed when repeats were answered again
def test_words_resent_by_a_wrong_lost_verdict_never_stall_a_transfer(seed, messages, late):
    """The /proc check can call a word lost that the server took but has not
    answered yet; the resent copy then arrives twice. Each word must still be
    answered exactly once: an answer to the repeat, delivered after the next
    word's ack (SIGUSR1 first), would be taken for the ack of the word after,
    and the sender would run ahead of the server until the attempt failed."""
    kernel, problems = simulate_turbo(
        seed, messages, [True] * len(messages), precise=True, late=late, late_delay=(0.012, 0.03), blind_spot=1.0,
        kernel_class=WordBlindSpotKernel,
    )  # fmt: skip
    fresh = check_safety(kernel, problems)
    check_liveness(kernel, fresh)
    for sim in kernel.senders:
        assert sim.proto.stats.attempts == 1, sim.proto.stats


def test_the_blind_spot_scenario_really_resends_words():
    """The property above is not vacuous: its explicit example resends words."""
    kernel, _ = simulate_turbo(
        0, [bytes(range(200))], [True], precise=True, late=0.03, late_delay=(0.012, 0.03), blind_spot=1.0,
        kernel_class=WordBlindSpotKernel,
    )  # fmt: skip
    (sim,) = kernel.senders
    assert sim.proto.stats.retransmissions >= 3 and kernel.server.counters.stray >= 3


def test_ten_kilobytes_in_turbo_with_interference():
    """A bigger message while other processes signal the server (lost words,
    stray and forged signals): delivered once, as words, in one attempt.

    (Lost *acks* are not simulated here: only a process that signals the sender
    can cause one, and then, as in 1-bit mode, the attempt fails and is retried,
    because the server answers each word exactly once.)"""
    rng = random.Random(3)
    data = rng.randbytes(10_000)
    kernel, problems = simulate_turbo(3, [data], [True], precise=True, stray=0.01, forge=0.01)
    fresh = check_safety(kernel, problems)
    check_liveness(kernel, fresh)
    (sim,) = kernel.senders
    assert sim.proto.stats.words == P.word_count(len(data)) and sim.proto.stats.turbo
    assert sim.proto.stats.attempts == 1 and sim.proto.stats.retransmissions > 0
