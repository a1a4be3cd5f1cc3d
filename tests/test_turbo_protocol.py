"""Turbo words (protocol rule 7), in memory: wire format, negotiation, fallback and adversity.

Three generations of turbo meet here: one word per round trip (a sender or
server that ignores flags bit 1), word pairs (``FLAG_PAIRS``: a SIGUSR1 and a
SIGUSR2 word, one reply per pair; a server of that generation ignores flags
bit 2) and word triples (``FLAG_TRIPLES``: a SIGUSR1 word to the server's
receiving thread, a SIGUSR1 and a SIGUSR2 word to the process, one reply per
triple). Every pair of generations must agree on one of them.

Words are built here from the module docstring, independently of the
protocol's helpers. The adversity tests reuse ``test_protocol``'s harness
(``SimKernel`` with pending slots that also carry ``si_value``, the session
watch and the safety/liveness checks), so turbo is held to the same
guarantees as 1-bit mode: nothing delivered that was not sent, nothing
delivered twice, no mixing, DELIVERED only when delivered.
"""

from __future__ import annotations

import random
from collections import Counter
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


def exchange(
    sender: P.Sender, server: P.Server, pid: int = PID, now: float = 0.0, threads: list[bool] | None = None
) -> tuple[list[tuple[int, int | None]], float]:
    """A perfect link: every signal arrives, every reply arrives. Returns what the sender sent, as (symbol, value);
    ``threads`` collects, per signal, whether it went to the server's receiving thread."""
    sent = []
    threads = [] if threads is None else threads
    symbol = sender.start(now)
    while sender.outcome is None:
        now += DT
        if symbol is None:
            now = max(now, sender.deadline)
            server.tick(now)
            symbol = sender.timeout(now)
            continue
        value, more = sender.value, sender.more_words
        sent.append((symbol, value))
        threads.append(sender.to_thread)
        reply = server.receive(pid, symbol, now) if value is None else server.receive_word(pid, value, now)
        for more_symbol, more_value in more:
            assert symbol == P.ZERO and reply is None  # a pair or triple is answered once, after its last word
            sent.append((more_symbol, more_value))
            threads.append(False)
            reply = server.receive_word(pid, more_value, now)
        server.outbox.clear()
        now += DT
        symbol = None if reply is None else sender.receive(reply, now)
    return sent, now


def old_server(monkeypatch, generation: str = "old turbo") -> None:
    """Servers from now on behave like those of an earlier generation: "old turbo", flags bit 1
    unknown, never a pair; "pairs", flags bit 2 unknown, never a triple."""
    from sigchat.proto import server as server_module

    monkeypatch.setattr(server_module, "FLAG_PAIRS" if generation == "old turbo" else "FLAG_TRIPLES", 0)


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


PAIRS = P.FLAG_TURBO | P.FLAG_PAIRS


def test_word_pairs_are_answered_once_and_only_complete():
    """The checks of single words, for pairs: another pid, a word of another pair,
    a bad tag or a 1-bit signal never complete a pair; a repeated word of the
    pair in progress or of a pair already answered is dropped without a reply."""
    data = b"0123456789abcdefghijklmnopq"  # five words: pairs (0, 1), (2, 3), (4)
    w = documented_words(data, 77)
    server = P.Server(turbo=True)
    now = open_session(server, PID, 0.0)
    _, now = feed(server, PID, header_bits(data, 77, flags=PAIRS), now)
    assert server.receive_word(OTHER, w[0], now) is None  # another pid
    assert server.receive_word(PID, w[2], now) is None  # the next pair's word
    assert server.receive_word(PID, w[1] ^ (1 << 62), now) is None  # bad tag
    assert server.receive(PID, P.ONE, now) is None  # a late repeat of the last header bit
    assert server.receive_word(PID, w[1], now) is None  # half of the pair: no reply yet
    assert server.receive_word(PID, w[1], now) is None  # its repeat
    assert server.receive_word(PID, w[0], now) == P.ack_symbol(0)
    assert server.receive_word(PID, w[0], now) is None and server.receive_word(PID, w[1], now) is None
    assert server.receive_word(PID, w[4], now) is None  # not the pair in progress
    assert server.receive_word(PID, w[2], now) is None
    assert server.receive_word(PID, w[3], now) == P.ack_symbol(1)
    assert server.receive_word(PID, w[4] + (1 << 48), now) is None  # no word 5: not the odd word of pair 2
    assert server.receive_word(PID, w[4], now) == P.ack_symbol(2)  # a pair of one
    feed(server, PID, tail_bits(data, 77, flags=PAIRS), now)
    (delivered,) = of_type(server.events, P.MessageDelivered)
    assert delivered.data == data and server.counters.stray == 9


TRIPLES = PAIRS | P.FLAG_TRIPLES


@pytest.mark.parametrize("group", [2, 3], ids=["pairs", "triples"])
@examples(60)
@given(data=st.binary(max_size=60), message_id=st.integers(0, 2**32 - 1), orders=st.lists(st.permutations([0, 1, 2]), min_size=5, max_size=5))
@example(data=b"abcdefghijklmnopqr", message_id=9, orders=[[0, 1, 2]] * 5)
@example(data=b"abcdefghijklmnopqrst", message_id=9, orders=[[2, 1, 0]] * 5)  # a last group of one word
@example(data=b"abcdefghijklmnopqrstuvwxyz", message_id=9, orders=[[1, 2, 0]] * 5)  # a last triple of two words
def test_server_reads_word_groups_built_from_the_documentation(group, data, message_id, orders):
    """With flags bit 1 set, index 17 (the first attempt bit) is answered with the "yes"
    too (ack_symbol(17) ^ 1), and with bit 2 as well index 18; then words 2p and 2p+1 form
    pair p (3q, 3q+1 and 3q+2 triple q), taken in any order (a word lost and resent after
    the others), answered once with ack_symbol(p) when all are in; a short last group
    likewise."""
    flags = TRIPLES if group == 3 else PAIRS
    server = P.Server(turbo=True)
    now = open_session(server, PID, 0.0)
    replies, now = feed(server, PID, header_bits(data, message_id, flags=flags), now)
    expected = [P.ack_symbol(k) for k in range(89)]
    for index in (16, 17, 18)[:group]:
        expected[index] ^= 1
    assert replies == expected
    words = documented_words(data, message_id)
    for first in range(0, len(words), group):
        words_of_group = words[first : first + group]
        order = [k for k in orders[(first // group) % len(orders)] if k < len(words_of_group)]
        for n, k in enumerate(order):
            now += DT
            reply = server.receive_word(PID, words_of_group[k], now)
            assert server.receive_word(PID, words_of_group[k], now) is None  # a repeat: never answered
            assert reply == (P.ack_symbol(first // group) if n == len(words_of_group) - 1 else None)
    assert not server.wants_words
    tail = tail_bits(data, message_id, flags=flags)
    replies, now = feed(server, PID, tail, now)
    assert replies[16:] == tail[16:]  # all echoes equal: intact
    (delivered,) = of_type(server.events, P.MessageDelivered)
    assert delivered.data == data and delivered.stats.words == len(words)
    assert delivered.stats.pairs and delivered.stats.triples is (group == 3)


def test_word_triples_are_answered_once_and_only_complete():
    """The checks of pairs, for triples: a word of another triple, another pid or a bad
    tag never completes a triple; repeats are dropped without a reply."""
    data = b"0123456789abcdefghijklmnopq"  # five words: triples (0, 1, 2), (3, 4)
    w = documented_words(data, 77)
    server = P.Server(turbo=True)
    now = open_session(server, PID, 0.0)
    _, now = feed(server, PID, header_bits(data, 77, flags=TRIPLES), now)
    assert server.receive_word(PID, w[3], now) is None  # the next triple's word
    assert server.receive_word(OTHER, w[2], now) is None  # another pid
    assert server.receive_word(PID, w[2] ^ (1 << 62), now) is None  # bad tag
    assert server.receive_word(PID, w[2], now) is None  # a third of the triple: no reply yet
    assert server.receive_word(PID, w[0], now) is None  # two thirds
    assert server.receive_word(PID, w[2], now) is None  # a repeat
    assert server.word_run() is None  # no run while a triple is in part
    assert server.receive_word(PID, w[1], now) == P.ack_symbol(0)
    assert server.receive_word(PID, w[1], now) is None  # a repeat of a triple answered
    assert server.receive_word(PID, w[4] + (1 << 48), now) is None  # no word 5: not in the last triple
    assert server.receive_word(PID, w[4], now) is None
    assert server.receive_word(PID, w[3], now) == P.ack_symbol(1)  # a triple of two
    feed(server, PID, tail_bits(data, 77, flags=TRIPLES), now)
    (delivered,) = of_type(server.events, P.MessageDelivered)
    assert delivered.data == data and server.counters.stray == 6


GROUPS = {1: dict(pairs=False), 2: dict(), 3: dict(triples=True)}
"""Sender arguments for one, two and three words per round trip."""


@examples(40)
@given(data=st.binary(max_size=64), message_id=st.integers(0, 2**32 - 1), group=st.sampled_from(list(GROUPS)))
def test_sender_sends_the_documented_words(data, message_id, group):
    """Word *i* travels on SIGUSR1 for even *i*, SIGUSR2 for odd *i*, with one word or two
    per round trip: in pairs the SIGUSR2 word follows its SIGUSR1 word without waiting for
    a reply. In triples words 3q and 3q+1 go on SIGUSR1, 3q to the receiving thread, and
    3q+2 on SIGUSR2, all three without waiting."""
    flags = P.FLAG_TURBO | (0, 0, P.FLAG_PAIRS, TRIPLES)[group]
    threads: list[bool] = []
    sent, _ = exchange(P.Sender(data, message_id, turbo=True, **GROUPS[group]), P.Server(turbo=True), threads=threads)
    signature = [(P.ONE, None)] * P.SIGNATURE_LENGTH
    header = [(bit, None) for bit in header_bits(data, message_id, flags=flags)]
    words = [((0, 0, 1)[i % 3] if group == 3 else i & 1, word) for i, word in enumerate(documented_words(data, message_id))]
    tail = [(bit, None) for bit in tail_bits(data, message_id, flags=flags)]
    assert sent == signature + header + words + tail
    to_thread = [i for i, thread in enumerate(threads) if thread]
    first = len(signature) + len(header)
    assert to_thread == (list(range(first, first + len(words), 3)) if group == 3 else [])


SENDERS = {
    "1-bit": dict(), "words": dict(turbo=True, pairs=False), "pairs": dict(turbo=True), "triples": dict(turbo=True, triples=True),
}
"""Senders of each generation: no turbo, one word per round trip, word pairs, word triples."""
SERVERS = ("no turbo", "old turbo", "pairs", "triples")
"""Servers: --no-turbo, turbo before pairs and before triples (old_server), this version."""
SENDER_GROUPS = {"words": 1, "pairs": 2, "triples": 3}
SERVER_GROUPS = {"old turbo": 1, "pairs": 2, "triples": 3}


@pytest.mark.parametrize("server_kind", SERVERS)
@pytest.mark.parametrize("sender_kind", list(SENDERS))
def test_turbo_is_negotiated_and_falls_back(sender_kind, server_kind, monkeypatch):
    """Triples only when both sides have them, else pairs when both have those, one word per
    round trip when both do turbo and one of them is older, 1 bit per signal otherwise: old
    peers still talk to new ones, and the same message arrives either way."""
    if server_kind in ("old turbo", "pairs"):
        old_server(monkeypatch, server_kind)
    data = bytes(range(256)) * 3 + b"odd"  # 129 words: the last pair is one word, the last triple all three
    sender, server = P.Sender(data, 11, **SENDERS[sender_kind]), P.Server(turbo=server_kind != "no turbo")
    sent, _ = exchange(sender, server)
    turbo = sender_kind != "1-bit" and server_kind != "no turbo"
    group = min(SENDER_GROUPS[sender_kind], SERVER_GROUPS[server_kind]) if turbo else 0
    assert sender.outcome is P.Outcome.DELIVERED
    (delivered,) = of_type(server.events, P.MessageDelivered)
    assert delivered.data == data
    assert sender.stats.turbo is turbo and delivered.stats.turbo is turbo
    assert sender.stats.pairs is delivered.stats.pairs is (group >= 2)
    assert sender.stats.triples is delivered.stats.triples is (group == 3)
    words = [value for _, value in sent if value is not None]
    assert len(words) == (P.word_count(len(data)) if turbo else 0) == sender.stats.words == delivered.stats.words
    round_trips = -(-len(words) // group) if turbo else 0
    # The server's replies: GO, the header, one per round trip of words (or payload bit), the tail.
    assert delivered.stats.signals_sent == 1 + (89 + round_trips + 48 if turbo else P.frame_bit_count(len(data)))
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
    seed: int, messages: list[bytes], kinds: list[str], *, precise: bool = False, kernel_class=SimKernel, **conditions
) -> tuple[SimKernel, list[str]]:
    """``kinds``: one of ``SENDERS`` per message ("1-bit", "words", "pairs")."""
    kernel = kernel_class(random.Random(seed), turbo=True, precise=precise, punctual_timers=precise, **conditions)
    problems = watch_sessions(kernel)
    for data, kind in zip(messages, kinds):
        kernel.add_sender(data, **SENDERS[kind], **({"retry_initial": 0.01} if precise else {}))
    run_bounded(kernel)
    return kernel, problems


sender_kinds = st.lists(st.sampled_from(list(SENDERS)), min_size=4, max_size=4)


@pytest.mark.parametrize("condition", list(TURBO_ADVERSITY), ids=list(TURBO_ADVERSITY))
@examples(12)
@given(seed=seeds, messages=st.lists(messages_for_words, min_size=1, max_size=4), kinds=sender_kinds)
def test_turbo_safety_under_adversity(condition, seed, messages, kinds):
    """Word-pair, single-word and 1-bit senders mixed, under loss, stray and forged
    signals, a slow server and late replies: safety always holds."""
    kernel, problems = simulate_turbo(seed, messages, kinds, **TURBO_ADVERSITY[condition])
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
    kinds=st.lists(st.sampled_from(list(SENDER_GROUPS)), min_size=4, max_size=4),
)
def test_precise_turbo_senders_deliver_everything_once(seed, messages, late, slow, stray, forge, kinds):
    """With the real sender's /proc view, turbo senders (triples, pairs and single words mixed)
    deliver every message exactly once in one attempt, even with forged words arriving
    all along."""
    kernel, problems = simulate_turbo(seed, messages, kinds, precise=True, late=late, slow=slow, stray=stray, forge=forge)
    fresh = check_safety(kernel, problems)
    check_liveness(kernel, fresh)
    for sim, kind in zip(kernel.senders, kinds):
        assert sim.proto.stats.attempts == 1 and sim.proto.stats.desyncs == 0
        assert sim.proto.stats.turbo is True and sim.proto.stats.group == SENDER_GROUPS[kind]


@examples(25)
@given(
    seed=seeds, messages=st.lists(messages_for_words, min_size=1, max_size=3), late=st.floats(0.005, 0.03),
    kind=st.sampled_from(list(SENDER_GROUPS)),
)
@example(seed=9, messages=[bytes(range(200))], late=0.03, kind="pairs")
@example(seed=2, messages=[bytes(range(200))], late=0.03, kind="triples")
@example(seed=0, messages=[bytes(range(200))], late=0.03, kind="words")
@example(seed=812, messages=[b"\x00", b""], late=0.005859375, kind="words")  # failed when repeats were answered again
def test_words_resent_by_a_wrong_lost_verdict_never_stall_a_transfer(seed, messages, late, kind):
    """The /proc check can call a word lost that the server took but has not
    answered yet; the resent copy then arrives twice. Each word must still be
    answered exactly once: an answer to the repeat, delivered after the next
    word's ack (SIGUSR1 first), would be taken for the ack of the word after,
    and the sender would run ahead of the server until the attempt failed."""
    kernel, problems = simulate_turbo(
        seed, messages, [kind] * len(messages), precise=True, late=late, late_delay=(0.012, 0.03), blind_spot=1.0,
        kernel_class=WordBlindSpotKernel,
    )  # fmt: skip
    fresh = check_safety(kernel, problems)
    check_liveness(kernel, fresh)
    for sim in kernel.senders:
        assert sim.proto.stats.attempts == 1, sim.proto.stats


@pytest.mark.parametrize(("kind", "seed"), [("words", 0), ("pairs", 9), ("triples", 2)])
def test_the_blind_spot_scenario_really_resends_words(kind, seed):
    """The property above is not vacuous: these examples of it resend words."""
    kernel, _ = simulate_turbo(
        seed, [bytes(range(200))], [kind], precise=True, late=0.03, late_delay=(0.012, 0.03), blind_spot=1.0,
        kernel_class=WordBlindSpotKernel,
    )  # fmt: skip
    (sim,) = kernel.senders
    assert sim.proto.stats.retransmissions >= 3 and kernel.server.counters.stray >= 3


@pytest.mark.parametrize("kind", ["pairs", "triples"])
def test_ten_kilobytes_in_turbo_with_interference(kind):
    """A bigger message while other processes signal the server (lost words,
    stray and forged signals): delivered once, as words, in one attempt.

    (Lost *acks* are not simulated here: only a process that signals the sender
    can cause one, and then, as in 1-bit mode, the attempt fails and is retried,
    because the server answers each word exactly once.)"""
    rng = random.Random(3)
    data = rng.randbytes(10_000)
    kernel, problems = simulate_turbo(3, [data], [kind], precise=True, stray=0.01, forge=0.01)
    fresh = check_safety(kernel, problems)
    check_liveness(kernel, fresh)
    (sim,) = kernel.senders
    assert sim.proto.stats.words == P.word_count(len(data)) and sim.proto.stats.group == SENDER_GROUPS[kind]
    assert sim.proto.stats.attempts == 1 and sim.proto.stats.retransmissions > 0


# =========================================================================== word runs


def exchange_groups(data: bytes, *, runs: bool, cuts: set[int], group: int = 2) -> tuple[list, list, P.Sender, P.Server]:
    """One pair (``group`` 3: triple) sender and one server on a perfect link, the real I/O loops' way.

    With ``runs``, each side exchanges word groups from its word run while that
    lasts (``Sender.word_run``, ``Server.word_run``), ending it early after the
    round trips counted in ``cuts``, as a due tick would. Returns every signal
    the sender sent as ``(symbol, value)``, every reply, and both ends.
    """
    server, sender = P.Server(turbo=True), P.Sender(data, 99, turbo=True, **GROUPS[group])
    now = 0.0
    symbol = sender.start(now)
    batch = [(symbol, None)]
    sent, replies = [], []
    server_run: list | None = None  # [tags, replies, values, times]
    sender_run: list | None = None  # [WordRun, groups sent, time of the last send]
    for count in range(100_000):
        if sender.outcome is not None:
            break
        sent += batch
        reply = None
        run_group = len(batch) == group and all(value is not None for _, value in batch)
        if server_run is not None and run_group and len(server_run[3]) < group * len(server_run[1]):
            k = len(server_run[3]) // group
            assert [value >> 48 for _, value in batch] == [tags[k] for tags in server_run[0]]
            for _, value in batch:
                now += DT
                server_run[2].append(value)
                server_run[3].append(now)
            reply = server_run[1][k]
        else:
            if server_run is not None:
                server.receive_word_run(PID, server_run[2], server_run[3])
                server_run = None
            for symbol, value in batch:
                now += DT
                answer = server.receive(PID, symbol, now) if value is None else server.receive_word(PID, value, now)
                reply = answer if answer is not None else reply
        if server_run is not None and count in cuts:
            server.receive_word_run(PID, server_run[2], server_run[3])
            server_run = None
        if runs and server_run is None and reply is not None:
            started = server.word_run()
            if started is not None:
                server_run = [*started[1:], [], []]
        assert reply is not None
        replies.append(reply)
        now += DT
        if sender_run is not None and reply == sender_run[0].expect[sender_run[1]]:
            run, k = sender_run[0], sender_run[1]
            if run.thirds is None:
                batch = [(P.ZERO, run.firsts[k]), (P.ONE, run.seconds[k])]
            else:
                batch = [(P.ZERO, run.firsts[k]), (P.ZERO, run.seconds[k]), (P.ONE, run.thirds[k])]
            sender_run[1:] = [k + 1, now]
            if k + 1 == len(run.firsts) or count in cuts:
                sender.word_ran(k + 1, now)
                sender_run = None
        else:
            if sender_run is not None:
                sender.word_ran(sender_run[1], sender_run[2])
                sender_run = None
            symbol = sender.receive(reply, now)
            batch = [] if symbol is None else [(symbol, sender.value), *sender.more_words]
        if runs and sender_run is None:
            started = sender.word_run()
            if started is not None:
                sender_run = [started, 0, now]
        if not batch:
            break
    if server_run is not None:
        server.receive_word_run(PID, server_run[2], server_run[3])
    return sent, replies, sender, server


@pytest.mark.parametrize("group", [2, 3])
@examples(40)
@given(data=st.binary(max_size=400), cuts=st.sets(st.integers(0, 300), max_size=6))
@example(data=bytes(range(256)) * 4, cuts=set())
@example(data=bytes(range(256)) * 4 + b"x", cuts={95, 96, 150})
def test_word_runs_change_nothing_but_speed(data, cuts, group):
    """The same pair or triple exchange with and without word runs (cut at random points):
    the same signals and values both ways, the same delivery, the same statistics."""
    plain = exchange_groups(data, runs=False, cuts=cuts, group=group)
    fast = exchange_groups(data, runs=True, cuts=cuts, group=group)
    assert fast[0] == plain[0] and fast[1] == plain[1]
    assert fast[2].outcome is plain[2].outcome is P.Outcome.DELIVERED
    assert fast[2].stats == plain[2].stats and fast[2].stats.group == group
    assert [(e.data, e.stats) for e in of_type(fast[3].events, P.MessageDelivered)] == [
        (e.data, e.stats) for e in of_type(plain[3].events, P.MessageDelivered)
    ] == [(data, plain[3].events[-1].stats)]
    assert fast[3].counters == plain[3].counters


@pytest.mark.parametrize("group", [2, 3])
def test_word_runs_cover_the_whole_groups(monkeypatch, group):
    """Runs are really used: of a 6 KB message's 1,000 words, the server's per-word call
    sees none in pairs (its run starts with the header's last reply) and only the last
    word in triples (a triple of one), the sender's per-reply call only the replies to
    the last whole group and to that short one besides the 1-bit ones."""
    calls = Counter()
    for end, name in ((P.Server, "receive_word"), (P.Sender, "receive")):
        original = getattr(end, name)

        def counted(self, *args, original=original, name=name):
            calls[name] += 1
            return original(self, *args)

        monkeypatch.setattr(end, name, counted)
    data = bytes(range(200)) * 30
    _, _, sender, server = exchange_groups(data, runs=True, cuts=set(), group=group)
    assert sender.outcome is P.Outcome.DELIVERED and server.events[-1].data == data
    short = P.word_count(len(data)) % group  # 1,000 words: 500 pairs, or 333 triples and one word
    assert calls["receive_word"] == short
    assert calls["receive"] == P.SIGNATURE_LENGTH + P.PAYLOAD_START_INDEX + 1 + bool(short) + 48


def test_word_run_api_refuses_a_run_it_did_not_offer():
    data = bytes(range(30))  # five words
    server = P.Server(turbo=True)
    now = open_session(server, PID, 0.0)
    with pytest.raises(P.LocalProtocolError):
        server.receive_word_run(PID, [0, 0], [now, now])
    _, now = feed(server, PID, header_bits(data, 77, flags=PAIRS), now)
    run_pid, (evens, odds), replies = server.word_run()
    w = documented_words(data, 77)
    assert run_pid == PID and evens == [w[0] >> 48, w[2] >> 48] and odds == [w[1] >> 48, w[3] >> 48]
    assert list(replies) == [P.ack_symbol(0), P.ack_symbol(1)]  # whole pairs only: word 4 goes alone
    with pytest.raises(P.LocalProtocolError):
        server.receive_word_run(PID, w[:6], [now] * 6)  # past the whole pairs
    with pytest.raises(P.LocalProtocolError):
        server.receive_word_run(OTHER, w[:2], [now] * 2)
    assert server.receive_word(PID, w[1], now) is None  # half a pair: no run until it is whole
    assert server.word_run() is None


def test_a_triple_word_run_offers_three_tags_per_round_trip():
    data = bytes(range(48))  # eight words: two whole triples, then two words
    server = P.Server(turbo=True)
    now = open_session(server, PID, 0.0)
    _, now = feed(server, PID, header_bits(data, 77, flags=TRIPLES), now)
    run_pid, tags, replies = server.word_run()
    w = [word >> 48 for word in documented_words(data, 77)]
    assert run_pid == PID and tags == [[w[0], w[3]], [w[1], w[4]], [w[2], w[5]]]
    assert list(replies) == [P.ack_symbol(0), P.ack_symbol(1)]
    with pytest.raises(P.LocalProtocolError):
        server.receive_word_run(PID, documented_words(data, 77)[:2], [now] * 2)  # not whole triples
