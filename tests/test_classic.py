"""Classic minitalk interoperability, the pure parts: profiles, the decoder, the sender.

No signals, no processes: symbols and times are fed in by hand (the end-to-end
tests against independent C peers are in test_classic_e2e.py).
"""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sigchat.proto import api as protocol
from sigchat.proto.classic import api as classic
from sigchat.server import records
from sigchat.proto.classic.api import ClassicSender, ClassicServer, Profile, SendOutcome, encode, parse_profile
from sigchat.proto.api import ONE, ZERO, AbortReason

USR1, USR2 = ZERO, ONE
PID = 4242
STEP = 200e-6


# --------------------------------------------------------------------------- profiles


def test_default_profile_is_the_common_convention() -> None:
    p = parse_profile("")
    assert p == Profile() == classic.DEFAULT_PROFILE == parse_profile("default")
    assert str(p) == "msb,usr2=1,nul,ack=usr1"
    assert (p.bit_order, p.one, p.nul, p.length_bits, p.ack, p.end_ack, p.handshake) == (
        "msb", "usr2", True, 0, "usr1", None, False
    )


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("msb,usr2=1,nul,ack=usr1", "msb,usr2=1,nul,ack=usr1"),
        ("lsb", "lsb,usr2=1,nul,ack=usr1"),
        ("usr1=1", "msb,usr1=1,nul,ack=usr1"),
        ("usr2=0", "msb,usr1=1,nul,ack=usr1"),
        ("len32", "msb,usr2=1,len32,be,ack=usr1"),
        ("lsb,len32", "lsb,usr2=1,len32,le,ack=usr1"),
        ("LSB, LEN32, BE", "lsb,usr2=1,len32,be,ack=usr1"),
        ("len64+nul", "msb,usr2=1,len64+nul,be,ack=usr1"),
        ("len32,nul,nul-counted", "msb,usr2=1,len32+nul,be,nul-counted,ack=usr1"),
        ("ack=none", "msb,usr2=1,nul,ack=none"),
        ("ack=usr2,end-ack=usr1", "msb,usr2=1,nul,ack=usr2,end-ack=usr1"),
        ("end-ack=usr2,handshake", "msb,usr2=1,nul,ack=usr1,end-ack=usr2,handshake"),
        ("end-ack=none", "msb,usr2=1,nul,ack=usr1"),
        ("lsb,usr1=1,len-typed+nul,nul-counted,end-ack=usr2,handshake",
         "lsb,usr1=1,len-typed+nul,le,nul-counted,ack=usr1,end-ack=usr2,handshake"),
        ("lsb,dec10+nul", "lsb,usr2=1,dec10+nul,ack=usr1"),
        ("dec10", "msb,usr2=1,dec10,ack=usr1"),
        ("ack=usr2,handshake=usr2", "msb,usr2=1,nul,ack=usr2,handshake=usr2"),
        ("handshake=usr1", "msb,usr2=1,nul,ack=usr1,handshake"),
    ],
)
def test_parse_and_canonical_form(text: str, canonical: str) -> None:
    profile = parse_profile(text)
    assert str(profile) == canonical
    assert parse_profile(str(profile)) == profile


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("msb,lsb", "conflicting options 'msb' and 'lsb'"),
        ("usr1=1,usr2=1", "conflicting"),
        ("len32,len64", "conflicting options 'len32' and 'len64'"),
        ("be", "needs a binary length"),
        ("dec10,be", "needs a binary length"),
        ("len32,dec10", "conflicting options 'dec10' and 'len32'"),
        ("len-typed+len64", "conflicting options 'len-typed' and 'len64'"),
        ("handshake=usr3", "unknown profile option 'handshake=usr3'"),
        ("nul-counted", "needs both a length and a NUL"),
        ("len32,nul-counted", "needs both a length and a NUL"),
        ("ack=usr3", "ack must be usr1, usr2 or none"),
        ("end-ack=yes", "end-ack must be usr1, usr2 or none"),
        ("lsbfirst", "unknown profile option 'lsbfirst'"),
        ("msb;lsb", "unknown profile option"),
    ],
)
def test_bad_profiles_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(classic.ProfileError, match=message.replace("(", r"\(")):
        parse_profile(text)


def test_a_profile_needs_an_end() -> None:
    with pytest.raises(classic.ProfileError, match="needs a message end"):
        Profile(nul=False)


@pytest.mark.parametrize(
    ("text", "compatible"),
    [
        ("", True),  # 8 x SIGUSR2 = 0xFF: never UTF-8
        ("lsb", True),
        ("len32", True),  # 0xFF first: a length >= 4 GiB
        ("len64+nul", True),
        ("ack=none", True),
        ("handshake,usr1=1", True),  # its clients open with SIGUSR1
        ("usr1=1", False),  # 8 x SIGUSR2 = NUL: the empty message
        ("lsb,len32", False),  # little-endian: any low length byte, 0xFF too
        ("usr1=1,len32", False),
        ("ack=usr2", False),  # the signature acks (SIGUSR1) are not its acks
        ("ack=none,end-ack=usr1", False),  # a signature ack would read as "message received"
    ],
)
def test_native_compatibility(text: str, compatible: bool) -> None:
    assert parse_profile(text).native_compatible is compatible


def test_describe_is_words() -> None:
    assert parse_profile("lsb,len32+nul,nul-counted,ack=none,end-ack=usr2").describe() == (
        "LSB first, SIGUSR2 = 1 / SIGUSR1 = 0, a 32-bit little-endian length first and a final NUL "
        "(counted in the length), no per-bit ack, end-of-message ack SIGUSR2"
    )


# --------------------------------------------------------------------------- encoding


def test_encode_known_vectors() -> None:
    # 'A' = 0x41 = 01000001, then NUL; SIGUSR2 = 1.
    assert encode(b"A", Profile()) == [0, 1, 0, 0, 0, 0, 0, 1] + [0] * 8
    assert encode(b"A", parse_profile("lsb")) == [1, 0, 0, 0, 0, 0, 1, 0] + [0] * 8
    # SIGUSR1 = 1: symbols are inverted (ZERO is SIGUSR1).
    assert encode(b"A", parse_profile("usr1=1")) == [1, 0, 1, 1, 1, 1, 1, 0] + [1] * 8
    # A 32-bit big-endian length 1, then 'A'.
    assert encode(b"A", parse_profile("len32")) == [0] * 31 + [1] + [0, 1, 0, 0, 0, 0, 0, 1]
    # Little-endian, LSB first: the integer 1 sent from bit 0 up.
    assert encode(b"A", parse_profile("lsb,len32")) == [1] + [0] * 31 + [1, 0, 0, 0, 0, 0, 1, 0]


def test_new_length_headers() -> None:
    """``dec10`` sends the length as ASCII digits; ``len-typed`` sends a width signal, then the length."""
    assert classic.message_bytes(b"hi", parse_profile("lsb,dec10+nul")) == b"0000000002hi\0"
    typed = parse_profile("lsb,usr1=1,len-typed+nul,nul-counted")
    assert classic.message_bytes(b"hi", typed) == b"\3\0\0\0hi\0"
    symbols = classic.encode(b"hi", typed)
    assert symbols[0] == ZERO and len(symbols) == 1 + 8 * 7  # SIGUSR1: a 32-bit length follows
    assert typed.length_header(1 << 32) == (ONE, (1 << 32).to_bytes(8, "little"))
    assert typed.header_length(b"\3\0\0\0") == 3
    assert parse_profile("dec10").header_length(b"00000000x1") is None


def test_message_bytes_framing() -> None:
    assert classic.message_bytes(b"hi", parse_profile("len32+nul")) == b"\0\0\0\2hi\0"
    assert classic.message_bytes(b"hi", parse_profile("len32+nul,nul-counted")) == b"\0\0\0\3hi\0"
    assert classic.message_bytes(b"hi", parse_profile("len64,le")) == b"\2" + bytes(7) + b"hi"
    assert classic.message_bytes(b"a\0b", parse_profile("len32")) == b"\0\0\0\3a\0b"


def test_nul_cannot_travel_in_a_nul_terminated_profile() -> None:
    with pytest.raises(protocol.LocalProtocolError, match="NUL byte .at offset 1. cannot travel"):
        encode(b"a\0b", Profile())
    assert encode(b"a\0b", parse_profile("len32+nul"))  # with a length it can


# --------------------------------------------------------------------------- decoding


def feed(server: ClassicServer | protocol.Server, symbols: list[int], now: float, pid: int = PID) -> tuple[list, float]:
    replies = []
    for symbol in symbols:
        now += STEP
        replies.append(server.receive(pid, symbol, now))
    return replies, now


def delivered(events: list) -> list[bytes]:
    return [e.data for e in events if isinstance(e, protocol.MessageDelivered)]


def aborted(events: list) -> list[protocol.TransferAborted]:
    return [e for e in events if isinstance(e, protocol.TransferAborted)]


PROFILE_TEXTS = [
    "", "lsb", "usr1=1", "lsb,usr1=1", "len32", "lsb,len32", "len32,le", "lsb,len32,be", "len64", "len32+nul",
    "lsb,len64+nul,nul-counted", "ack=none", "ack=usr2,end-ack=usr1", "end-ack=usr2", "handshake", "handshake,ack=none",
    "lsb,usr1=1,len-typed+nul,nul-counted,end-ack=usr2,handshake", "lsb,dec10+nul", "ack=usr2,handshake=usr2",
]


@pytest.mark.parametrize("text", PROFILE_TEXTS)
def test_decoder_round_trip_several_messages(text: str) -> None:
    profile = parse_profile(text)
    server = ClassicServer(profile)
    now = 10.0
    messages = [b"", b"x", "héllo 😀 日本語".encode(), b'line1\nline2 "q" \'s\' \\', bytes(range(1, 256))]
    if not profile.has_length:
        messages.append(b"z" * 1000)
    else:
        messages.append(bytes(1000))
    for message in messages:
        symbols = ([classic.HANDSHAKE] if profile.handshake else []) + encode(message, profile)
        replies, now = feed(server, symbols, now)
        expected_ack = profile.ack_symbol
        if profile.handshake:
            assert replies[0] == profile.handshake_symbol
            replies = replies[1:]
        assert replies[:-1] == [expected_ack] * (len(replies) - 1)
    assert delivered(server.events) == messages
    assert not aborted(server.events)
    assert server.counters.delivered == len(messages)
    for event in server.events:
        assert event.mode == "classic" and event.profile == str(profile)


@settings(max_examples=150, deadline=None)
@given(
    bit_order=st.sampled_from(["msb", "lsb"]),
    one=st.sampled_from(["usr1", "usr2"]),
    framing=st.sampled_from(["nul", "len32", "len64", "len32+nul", "len64+nul", "len-typed", "len-typed+nul", "dec10", "dec10+nul"]),
    order=st.sampled_from(["", "be", "le"]),
    counted=st.booleans(),
    data=st.binary(max_size=64),
)
def test_decoder_round_trip_any_profile(bit_order, one, framing, order, counted, data) -> None:
    binary_length = framing.startswith("len")
    text = f"{bit_order},{one}=1,{framing}" + (f",{order}" if order and binary_length else "")
    if counted and framing.endswith("+nul"):
        text += ",nul-counted"
    profile = parse_profile(text)
    if framing == "nul":
        data = data.replace(b"\0", b"")
    server = ClassicServer(profile)
    feed(server, encode(data, profile) * 2, 1.0)
    assert delivered(server.events) == [data, data]


def test_end_ack_follows_the_last_ack() -> None:
    server = ClassicServer(parse_profile("end-ack=usr2"))
    replies, _ = feed(server, encode(b"ok", server.profile), 1.0)
    assert replies == [USR1] * 24
    assert server.outbox == [(PID, USR2)]
    assert server.events[-1].stats.signals_sent == 25


def test_end_ack_without_per_bit_ack_is_the_last_reply() -> None:
    server = ClassicServer(parse_profile("ack=none,end-ack=usr2"))
    replies, _ = feed(server, encode(b"ok", server.profile), 1.0)
    assert replies == [None] * 23 + [USR2]
    assert server.outbox == []


def test_end_ack_equal_to_the_ack_is_sent_once() -> None:
    server = ClassicServer(parse_profile("end-ack=usr1"))
    replies, _ = feed(server, encode(b"ok", server.profile), 1.0)
    assert replies == [USR1] * 24 and server.outbox == []


def test_muted_signals_are_never_returned() -> None:
    server = ClassicServer(parse_profile("end-ack=usr2"))
    server.receive(PID, USR1, 1.0)
    server.mute(PID, USR1)
    server.mute(PID, USR2)
    replies, _ = feed(server, encode(b"ok", server.profile)[1:], 1.0)
    assert replies == [None] * 23 and server.outbox == []
    assert delivered(server.events) == [b"ok"]
    assert server.events[-1].stats.signals_sent == 1  # only the ack before the mute


def test_silence_mid_byte_ends_the_message_incomplete_and_the_next_one_is_intact() -> None:
    server = ClassicServer(Profile(), timeout=0.5)
    symbols = encode(b"hello", server.profile)
    _, now = feed(server, symbols[:13], 1.0)  # "h" and 5 bits of "e"
    _, now = feed(server, symbols, now + 0.6)  # the client starts over after a pause
    assert delivered(server.events) == [b"hello"]
    (abort,) = aborted(server.events)
    assert abort.reason is AbortReason.INCOMPLETE and abort.partial == b"h" and abort.mode == "classic"
    assert abort.stats.bits == 13
    assert abort.stats.ended_at == pytest.approx(1.0 + 13 * STEP)


def test_tick_ends_a_silent_message_and_forgets_idle_clients() -> None:
    server = ClassicServer(Profile(), timeout=0.5)
    _, now = feed(server, encode(b"ab", server.profile)[:12], 1.0)
    server.tick(now + 0.4)
    assert not aborted(server.events) and server.owns(PID)
    assert server.progress() == [(PID, 12, None, 1.0 + STEP, now)]
    server.tick(now + 0.6)
    (abort,) = aborted(server.events)
    assert abort.reason is AbortReason.INCOMPLETE and abort.partial == b"a"
    assert not server.owns(PID)
    _, now = feed(server, encode(b"c", server.profile), now + 1)
    server.tick(now + 0.6)
    assert delivered(server.events) == [b"c"] and not server.owns(PID)


def test_length_progress_knows_the_total() -> None:
    server = ClassicServer(parse_profile("len32"))
    feed(server, encode(b"abc", server.profile)[:40], 1.0)
    ((pid, bits, total, _, _),) = server.progress()
    assert (pid, bits, total) == (PID, 40, 32 + 24)


def test_too_long_length_is_reported_and_the_rest_skipped() -> None:
    server = ClassicServer(parse_profile("len32"), max_bytes=4)
    _, now = feed(server, encode(b"toolong", server.profile), 1.0)
    (abort,) = aborted(server.events)
    assert abort.reason is AbortReason.TOO_LARGE and abort.stats.length == 7
    feed(server, encode(b"ok", server.profile), now)
    assert delivered(server.events) == [b"ok"]


def test_too_long_nul_message_is_reported_and_skipped_to_its_nul() -> None:
    server = ClassicServer(Profile(), max_bytes=4)
    replies, now = feed(server, encode(b"toolong", server.profile), 1.0)
    assert all(r == USR1 for r in replies)  # still acked: the client must finish
    (abort,) = aborted(server.events)
    assert abort.reason is AbortReason.TOO_LARGE and abort.partial == b"tool"
    feed(server, encode(b"ok", server.profile), now)
    assert delivered(server.events) == [b"ok"]


def test_missing_nul_after_the_length_is_a_framing_error() -> None:
    server = ClassicServer(parse_profile("len32+nul,nul-counted"))
    # A client that does not count the NUL: length 2 for "hi", then h, i, NUL.
    symbols = encode(b"hi", parse_profile("len32+nul"))
    _, now = feed(server, symbols, 1.0)
    (abort,) = aborted(server.events)
    assert abort.reason is AbortReason.FRAMING and abort.partial == b"hi"
    assert not delivered(server.events)


def test_handshake_opens_every_message() -> None:
    server = ClassicServer(parse_profile("handshake,end-ack=usr2"))
    for message in (b"a", b"bc"):
        replies, _ = feed(server, [classic.HANDSHAKE] + encode(message, server.profile), 1.0)
        assert replies[0] == classic.HANDSHAKE
    assert delivered(server.events) == [b"a", b"bc"]


def test_sender_gone_mid_message() -> None:
    server = ClassicServer(Profile())
    feed(server, encode(b"abc", server.profile)[:10], 1.0)
    server.sender_gone(PID, 2.0)
    (abort,) = aborted(server.events)
    assert abort.reason is AbortReason.SENDER_GONE and abort.partial == b"a"
    server.sender_gone(PID, 2.0)  # twice: nothing more
    assert len(aborted(server.events)) == 1


def test_clients_are_demultiplexed_by_pid() -> None:
    server = ClassicServer(Profile())
    a, b = encode(b"first", server.profile), encode("二番目".encode(), server.profile)
    now = 1.0
    for sa, sb in itertools.zip_longest(a, b):
        now += STEP
        if sa is not None:
            server.receive(1, sa, now)
        if sb is not None:
            server.receive(2, sb, now)
    assert sorted((e.pid, e.data) for e in server.events if isinstance(e, protocol.MessageDelivered)) == [
        (1, b"first"), (2, "二番目".encode())
    ]


def test_a_second_acked_client_waits_for_the_line() -> None:
    server = ClassicServer(Profile())
    first, second = encode(b"one", server.profile), encode(b"two", server.profile)
    now = 1.0
    assert server.receive(1, first[0], now) == USR1 and server.holder == 1
    assert server.receive(2, second[0], now) is None  # decoded, ack deferred
    assert server.waiting == {2: USR1}
    later = now + 5 * server.timeout
    server.tick(later)
    # The first client went silent: its message ended incomplete and the line
    # passed on. The paused client was not "silent": it got its ack, and its
    # silence is counted from now.
    assert [(e.pid, e.reason) for e in aborted(server.events)] == [(1, AbortReason.INCOMPLETE)]
    assert server.holder == 2 and server.outbox == [(2, USR1)] and server.waiting == {}
    assert server.receive(2, second[1], later + STEP) == USR1


def test_the_line_passes_on_when_a_message_ends() -> None:
    server = ClassicServer(Profile())
    first, second = encode(b"one", server.profile), encode(b"two", server.profile)
    now = 1.0
    server.receive(1, first[0], now)
    assert server.receive(2, second[0], now) is None
    replies, now = feed(server, first[1:], now, pid=1)
    assert replies == [USR1] * (len(first) - 1)
    assert server.holder == 2 and server.outbox == [(2, USR1)]  # its deferred ack
    server.outbox.clear()
    replies, now = feed(server, second[1:], now, pid=2)
    assert replies == [USR1] * (len(second) - 1) and server.holder is None
    assert delivered(server.events) == [b"one", b"two"]


def test_unacked_clients_cannot_be_paused() -> None:
    server = ClassicServer(parse_profile("ack=none"))
    server.receive(1, USR1, 1.0)
    assert server.receive(2, USR1, 1.0) is None and server.waiting == {}
    assert server.holder == 1


def test_the_line_is_released_when_its_holder_goes() -> None:
    server = ClassicServer(Profile())
    server.receive(1, USR1, 1.0)
    server.receive(2, USR1, 1.0)
    server.receive(3, USR1, 1.0)
    server.sender_gone(3, 1.0)  # a waiting client exits: forgotten
    server.sender_gone(1, 1.0)
    assert server.holder == 2 and server.outbox == [(2, USR1)] and server.waiting == {}


# --------------------------------------------------------------------------- protocol.Server routing


def test_without_a_profile_a_first_zero_is_still_stray() -> None:
    server = protocol.Server()
    assert server.receive(PID, ZERO, 1.0) is None
    assert server.counters.stray == 1 and server.classic is None and not server.may_be_classic(PID)


def test_server_routes_a_first_zero_to_the_classic_decoder() -> None:
    server = protocol.Server(classic=Profile())
    replies, _ = feed(server, encode(b"hi", Profile()), 1.0)
    assert replies == [USR1] * 24
    assert delivered(server.events) == [b"hi"]
    assert server.counters.stray == 0 and server.totals().delivered == 1
    assert server.may_be_classic(PID) and server.known_pids() == 1


@pytest.mark.parametrize("text", ["é", "😀 emoji first", "\x7f".join(["ÿ"]) + "x"])
def test_leading_ones_are_replayed_when_a_zero_follows(text: str) -> None:
    # A multi-byte UTF-8 character starts with 2-4 ONEs: acked as signature bits
    # (SIGUSR1, the classic ack), then replayed into the decoder.
    server = protocol.Server(classic=Profile())
    replies, _ = feed(server, encode(text.encode(), Profile()), 1.0)
    assert replies == [USR1] * len(replies)
    assert delivered(server.events) == [text.encode()]
    assert server.active_pid is None


def test_native_session_is_held_back_while_a_classic_client_streams() -> None:
    server = protocol.Server(classic=Profile())
    native = protocol.Sender(b"native", 7)
    now = 1.0
    symbol = native.start(now)
    while native.state is not protocol.SenderState.SENDING:
        now += STEP
        symbol = native.receive(server.receive(1, symbol, now), now)
    assert server.active_pid == 1
    assert server.receive(2, USR1, now) == USR1  # a classic client starts
    assert server.receive(1, symbol, now) is None and server.counters.held == 1  # as if lost
    _, now = feed(server, encode(b"hi", Profile())[1:], now, pid=2)
    assert server.classic.holder is None
    reply = server.receive(1, symbol, now + 0.1)  # the native sender's resend
    assert reply is not None and server.counters.held == 1


@pytest.mark.parametrize("other_signalled", [True, False])
def test_a_message_whose_ack_was_sent_again_after_another_process_signalled_is_not_believed_intact(
    other_signalled: bool,
) -> None:
    """Seen in a loaded suite run: a classic client's SIGUSR2 merged into a native sender's pending
    one, so the client waited; sent its ack again, it went on one bit short and the space after
    "classic" (0x20, its one bit lost) plus the next bit read as a NUL: "classic 0 ✓ classic" was
    printed as delivered. After another process's signal a nudge may answer a merged bit, so the
    message is damaged; with no other signal nothing could merge: the client missed its ack."""
    server = protocol.Server(classic=Profile())
    bits = encode(b"ab c", Profile())
    lost = 8 * 2 + 2  # the space's one bit
    assert bits[lost] == ONE
    _, now = feed(server, bits[:lost], 1.0)
    if other_signalled:
        server.receive(7, ONE, now + STEP / 2)  # a native sender's signature: the client's ONE merged into it
    due = server.classic_overdue(now + 0.003)
    assert due == (PID, USR1)
    server.classic_nudged(PID)
    _, now = feed(server, bits[lost + 1 :], now + 0.003)
    (first, *_) = [e for e in server.events if isinstance(e, protocol.MessageDelivered)]
    assert first.data == b"ab"
    if other_signalled:
        assert (first.integrity, first.note) == ("damaged", "a bit may have merged with PID 7's signal at byte 2 (its ack was sent again)")
        assert not first.believed_intact
    else:
        assert (first.integrity, first.note, first.believed_intact) == ("acked", "", True)


def test_a_nul_completed_after_a_nudge_is_still_delivered_acked() -> None:
    """The bit that merged was one of the NUL's, every byte before it came: completed, acked."""
    server = protocol.Server(classic=Profile())
    bits = encode(b"ok", Profile())
    _, now = feed(server, bits[:-1], 1.0)
    server.receive(7, bits[-1], now + STEP / 2)  # the NUL's last bit merged into this one
    assert server.classic_overdue(now + 0.003) == (PID, USR1)
    server.classic_nudged(PID)
    server.sender_gone(PID, now + 0.004)  # it took the nudge for its ack, and exited
    (event,) = [e for e in server.events if isinstance(e, protocol.MessageDelivered)]
    assert (event.data, event.integrity) == (b"ok", "acked") and "completed" in event.note


def test_eight_ones_are_a_native_hello_and_native_still_works_beside_classic() -> None:
    server = protocol.Server(classic=Profile())
    native = protocol.Sender(b"native", 7)
    classic_bits = encode(b"classic", Profile())
    now = 1.0
    symbol, native_due = native.start(now), now
    index = 0
    while native.outcome is None:
        now += STEP
        if index < len(classic_bits):  # a classic client streams at its own pace
            assert server.receive(2, classic_bits[index], now) == USR1
            index += 1
        if now < native_due:
            continue
        if symbol is None:
            symbol = native.timeout(now)
        else:
            reply = server.receive(1, symbol, now)
            symbol = native.receive(reply, now) if reply is not None else None
        native_due = now if symbol is not None else native.deadline
    assert native.outcome is protocol.Outcome.DELIVERED and index == len(classic_bits)
    assert server.counters.held > 0  # held back while the classic client streamed
    got = {(e.pid, e.mode, e.data) for e in server.events if isinstance(e, protocol.MessageDelivered)}
    assert got == {(1, "native", b"native"), (2, "classic", b"classic")}


def test_a_native_senders_leftover_bit_is_not_a_classic_client() -> None:
    server = protocol.Server(classic=Profile())
    native = protocol.Sender(b"n", 7)
    now = 1.0
    symbol = native.start(now)
    while native.outcome is None:
        now += STEP
        symbol = native.receive(server.receive(1, symbol, now), now)
    # The last echo was lost: the sender resends its last bit (a ZERO here; a
    # ONE would start a hello, as before).
    assert server.receive(1, ZERO, now + 0.1) is None
    assert server.counters.stray == 1 and not server.may_be_classic(1)
    # Much later the pid is anyone's again (pids are reused).
    assert server.receive(1, ZERO, now + 10) == USR1 and server.may_be_classic(1)


def test_ones_then_silence_then_zero_is_incomplete() -> None:
    server = protocol.Server(classic=Profile(), classic_timeout=0.5)
    _, now = feed(server, [ONE, ONE], 1.0)
    _, now = feed(server, encode(b"a", Profile()), now + 1.0)
    (abort,) = aborted(server.events)
    assert abort.reason is AbortReason.INCOMPLETE and abort.stats.bits == 2
    # The ZERO that ended the gap starts the next message, intact.
    assert delivered(server.events) == [b"a"]


def test_incompatible_profile_serves_classic_only() -> None:
    profile = parse_profile("usr1=1")
    server = protocol.Server(classic=profile)
    # The empty message in usr1=1 is 8 x SIGUSR2: the native signature.
    replies, _ = feed(server, encode(b"", profile), 1.0)
    assert delivered(server.events) == [b""]
    assert server.active_pid is None and replies == [USR1] * 8


def test_classic_sender_gone_through_the_server() -> None:
    server = protocol.Server(classic=Profile())
    feed(server, encode(b"abc", Profile())[:9], 1.0)
    server.sender_gone(PID, 2.0)
    assert [e.reason for e in aborted(server.events)] == [AbortReason.SENDER_GONE]
    assert not server.may_be_classic(PID)


def test_server_tick_expires_classic_messages() -> None:
    server = protocol.Server(classic=Profile(), classic_timeout=0.3)
    _, now = feed(server, encode(b"abc", Profile())[:9], 1.0)
    server.tick(now + 0.5)
    assert [e.reason for e in aborted(server.events)] == [AbortReason.INCOMPLETE]


# --------------------------------------------------------------------------- records


def test_records_label_classic_transfers() -> None:
    server = ClassicServer(parse_profile("lsb"), timeout=0.1)
    _, now = feed(server, encode("ok ✓".encode(), server.profile), 1.0)
    feed(server, encode(b"xy", server.profile)[:11], now)
    server.tick(now + 5)
    started = server.events[0]
    assert isinstance(started, protocol.TransferStarted) and started.mode == "classic"
    (done,) = [e for e in server.events if isinstance(e, protocol.MessageDelivered)]
    record = records.delivered_record(done, 0.0)
    assert record["mode"] == "classic" and record["profile"] == "lsb,usr2=1,nul,ack=usr1"
    assert record["text"] == "ok ✓" and record["bytes"] == 6 and record["bits"] == 56 and record["payload_bits"] == 48
    assert record["signals_received"] == 56 and record["signals_sent"] == 56
    (abort,) = aborted(server.events)
    record = records.aborted_record(abort, 0.0)
    assert record["mode"] == "classic" and record["reason"] == AbortReason.INCOMPLETE.value
    assert record["received"] == 1 and record["partial_text"] == "x"


def test_native_records_are_unchanged() -> None:
    stats = protocol.TransferStats(pid=1, started_at=0.0, ended_at=1.0, length=2)
    record = records.delivered_record(protocol.MessageDelivered(1, b"hi", stats), 0.0)
    assert record["mode"] == "native" and "profile" not in record
    record = records.aborted_record(protocol.TransferAborted(1, AbortReason.SILENT, stats, b"h"), 0.0)
    assert record["mode"] == "native" and "received" not in record and "partial_text" not in record


# --------------------------------------------------------------------------- the sender


def run_pair(
    data: bytes,
    sender_profile: Profile,
    server_profile: Profile | None = None,
    *,
    drop_acks_after: int | None = None,
    never_ack: bool = False,
    **kwargs,
) -> tuple[ClassicSender, ClassicServer]:
    """Run a sender against a decoder in memory; acks can be dropped."""
    server = ClassicServer(server_profile or sender_profile)
    sender = ClassicSender(data, sender_profile, **kwargs)
    now = 0.0
    symbol = sender.start(now)
    pending: list[int] = []
    steps = 0
    while sender.outcome is None:
        steps += 1
        assert steps < 200_000
        if symbol is not None:
            now += 50e-6
            reply = server.receive(PID, symbol, now)
            extra = [s for p, s in server.outbox if p == PID]
            server.outbox.clear()
            if never_ack or (drop_acks_after is not None and sender.stats.bits_sent > drop_acks_after):
                reply, extra = None, []
            pending = ([reply] if reply is not None else []) + extra
        symbol = None
        if pending:
            symbol = sender.receive(pending.pop(0), now)
            if sender.drain:
                sender.drain = False
                pending.clear()
        else:
            now = max(now, sender.deadline)
            symbol = sender.timeout(now)
            if sender.drain:
                sender.drain = False
                pending.clear()
    return sender, server


@pytest.mark.parametrize("text", PROFILE_TEXTS)
def test_sender_and_decoder_agree(text: str) -> None:
    profile = parse_profile(text)
    message = "bonjour ✓ 😀".encode()
    sender, server = run_pair(message, profile)
    assert delivered(server.events) == [message]
    expected = SendOutcome.SENT if (profile.ack is None and profile.end_ack is None and not profile.handshake) else SendOutcome.CONFIRMED
    assert sender.outcome is expected and sender.outcome.ok
    assert sender.stats.missing_acks == 0 and sender.stats.unexpected == 0
    assert sender.stats.bits == len(encode(message, profile)) == sender.stats.bits_sent


def test_sender_paces_without_acks() -> None:
    sender, server = run_pair(b"abc", parse_profile("ack=none"), pace=300e-6)
    assert sender.stats.paced and sender.outcome is SendOutcome.SENT
    assert sender.stats.duration == pytest.approx(32 * 300e-6)  # one pace per bit, the last one too
    assert delivered(server.events) == [b"abc"]


def test_sender_carries_on_when_a_server_never_acks() -> None:
    profile = Profile()
    sender, server = run_pair(b"hello", profile, never_ack=True, ack_timeout=0.01, pace=100e-6)
    assert delivered(server.events) == [b"hello"]  # the server still got every bit
    assert sender.outcome is SendOutcome.UNCONFIRMED and not sender.outcome.ok
    assert sender.stats.paced and sender.stats.missing_acks == classic.PROBE_BITS
    assert sender.stats.duration == pytest.approx(8 * 0.01 + 40 * 100e-6)  # 8 ack timeouts, then paced


def test_sender_reports_missing_acks() -> None:
    sender, server = run_pair(b"hello", Profile(), drop_acks_after=20, ack_timeout=0.01)
    assert delivered(server.events) == [b"hello"]
    assert sender.outcome is SendOutcome.ACKS_MISSING
    assert sender.stats.acks == 20 and sender.stats.missing_acks == 28 and not sender.stats.paced


def test_sender_reports_a_missing_end_ack() -> None:
    sender, server = run_pair(b"hi", parse_profile("end-ack=usr2"), Profile(), end_timeout=0.5)
    assert sender.outcome is SendOutcome.NO_END_ACK and sender.stats.end_acked is False
    assert delivered(server.events) == [b"hi"]


def test_sender_takes_an_end_ack_that_replaces_the_last_ack() -> None:
    profile = parse_profile("end-ack=usr2")
    sender = ClassicSender(b"", profile)
    assert sender.start(0.0) == USR1
    for _ in range(7):
        assert sender.receive(USR1, 0.0) == USR1
    assert sender.receive(USR2, 0.0) is None  # the end ack instead of the last ack
    assert sender.outcome is SendOutcome.CONFIRMED and sender.stats.end_acked


def test_sender_ignores_and_counts_unexpected_signals() -> None:
    sender = ClassicSender(b"a", Profile())
    first = sender.start(0.0)
    assert first == USR1
    assert sender.receive(USR2, 0.0) is None and sender.stats.unexpected == 1
    assert sender.receive(USR1, 0.0) == USR2  # bit 1 of 'a' (0x61)


def test_sender_handshake_unanswered_carries_on() -> None:
    sender = ClassicSender(b"", parse_profile("handshake,ack=none"), ack_timeout=0.1, pace=1e-3)
    assert sender.start(0.0) == classic.HANDSHAKE
    assert sender.deadline == pytest.approx(0.1)
    assert sender.timeout(0.1) == USR1 and sender.drain
    now = 0.1
    while sender.outcome is None:
        now = sender.deadline
        sender.timeout(now)
    assert sender.outcome is SendOutcome.ACKS_MISSING and sender.stats.handshake_answered is False


# --------------------------------------------------------------------------- what a classic message is worth


def feed_timed(server: ClassicServer, symbols: list[int], times: list[float], pid: int = PID) -> None:
    for symbol, at in zip(symbols, times):
        server.receive(pid, symbol, at)


def test_an_acked_client_gets_acked_and_a_paced_one_unverified() -> None:
    acked = ClassicServer(Profile())
    feed(acked, encode(b"ok", acked.profile), 1.0)
    paced = ClassicServer(parse_profile("ack=none"))
    feed(paced, encode(b"ok", paced.profile), 1.0)
    muted = ClassicServer(Profile())
    muted.receive(PID, USR1, 1.0)
    muted.mute(PID, USR1)  # the reply policy found it does not wait for acks
    feed(muted, encode(b"ok", muted.profile)[1:], 1.0)
    assert [(e.integrity, e.note) for e in acked.events + paced.events + muted.events if isinstance(e, protocol.MessageDelivered)] == [
        ("acked", ""), ("unverified", ""), ("unverified", "")
    ]


def test_a_lost_bit_is_reported_as_damage_at_its_byte() -> None:
    """One SIGUSR1 of byte 5 merged with the next while the server was late: the message is shifted
    from there, no longer UTF-8, and the long wait names the byte."""
    profile = parse_profile("ack=none")
    message = b"hello world, classic"
    symbols = encode(message, profile)
    lost = 8 * 5 + 3
    assert symbols[lost] == symbols[lost + 1] == USR1
    del symbols[lost]
    times = [1.0 + i * STEP for i in range(len(symbols))]
    times[lost:] = [t + 5 * STEP for t in times[lost:]]  # the server came back late
    server = ClassicServer(profile)
    feed_timed(server, symbols + encode(b"", profile), times + [times[-1] + (i + 1) * STEP for i in range(8)])
    events = [e for e in server.events if isinstance(e, (protocol.MessageDelivered, protocol.TransferAborted))]
    assert events, "the shifted bits still end at some zero byte"
    first = events[0]
    assert isinstance(first, protocol.MessageDelivered) and first.data != message
    assert (first.integrity, first.note) == ("damaged", "bit lost at byte 5")
    assert not first.believed_intact
    assert records.delivered_record(first, 0.0)["integrity"] == "damaged"


def test_valid_text_from_a_paced_client_stays_unverified_whatever_the_gaps() -> None:
    profile = parse_profile("ack=none")
    symbols = encode("héllo".encode(), profile)
    times = list(itertools.accumulate(STEP * (1 + 9 * (i % 7 == 0)) for i in range(len(symbols))))  # (waits of 1x, 10x)
    server = ClassicServer(profile)
    feed_timed(server, symbols, [1.0 + at for at in times])
    (event,) = server.events[1:]
    assert (event.data, event.integrity, event.note) == ("héllo".encode(), "unverified", "")


@pytest.mark.parametrize(
    ("spec", "at_once", "note"),
    [
        ("ack=none", [8 + 3], "two signals waited at once at byte 1: their order may be swapped"),
        ("ack=none", [0, 20, 37], "two signals waited at once at 3 places, the first at byte 0: their order may be swapped"),
        ("lsb,len32+nul,ack=none", [5], "two signals waited at once before the text: their order may be swapped"),
        ("lsb,len32+nul,ack=none", [32 + 16], "two signals waited at once at byte 2: their order may be swapped"),
        ("ack=none", [], ""),
    ],
)
def test_two_signals_read_at_once_from_a_paced_client_are_named_in_its_note(spec, at_once, note) -> None:
    """A signal read within ``BOTH_PENDING`` of the one before it had waited at the server, with
    the one before: of different kinds (two alike merge), handed SIGUSR1 first whatever the client
    sent first. The message stays unverified (half the time the order is right) and says where."""
    profile = parse_profile(spec)
    symbols = encode("héllo".encode(), profile)
    times, now = [], 1.0
    for index in range(len(symbols)):
        now += 2e-6 if index - 1 in at_once else STEP
        times.append(now)
    server = ClassicServer(profile)
    feed_timed(server, symbols, times)
    (event,) = server.events[1:]
    assert (event.data, event.integrity, event.note) == ("héllo".encode(), "unverified", note)


def test_a_client_that_never_sleeps_between_signals_gets_no_note_on_their_order() -> None:
    """Its every wait is short: they tell nothing of signals that waited (a typical wait under
    five times ``BOTH_PENDING``)."""
    profile = parse_profile("ack=none")
    symbols = encode(b"fast", profile)
    server = ClassicServer(profile)
    feed_timed(server, symbols, [1.0 + index * 3e-6 for index in range(len(symbols))])
    (event,) = server.events[1:]
    assert (event.data, event.integrity, event.note) == (b"fast", "unverified", "")


@pytest.mark.parametrize("how", ["exited", "went silent"])
@pytest.mark.parametrize(
    ("text", "cut"),
    [("", 3), ("len32+nul", 3), ("lsb", 3)]
    # A length header says where the NUL is: with text before it, a paced client's NUL may lose more
    # bits than NUL_MIN_BITS allows (8 SIGUSR1 in a row), all of them too (B-50, bench-classic).
    + [(text, cut) for text in ("len32+nul", "lsb,len32+nul", "lsb,len64+nul") for cut in (4, 7, 8)],
)
def test_a_nul_cut_short_by_a_paced_client_is_completed(how: str, text: str, cut: int) -> None:
    profile = parse_profile(f"{text},ack=none" if text else "ack=none")
    server = ClassicServer(profile, timeout=0.5)
    data = "by\u00e9".encode()
    _, now = feed(server, encode(data, profile)[:-cut], 1.0)  # the NUL's last SIGUSR1 merged
    if how == "exited":
        server.sender_gone(PID, now + 0.01)
    else:
        server.tick(now + 0.6)
    (event,) = server.events[1:]
    assert isinstance(event, protocol.MessageDelivered), event
    assert (event.data, event.integrity) == (data, "unverified")
    assert event.note == f"the NUL's last {cut} bits never came: completed"
    assert records.delivered_record(event, 0.0)["note"] == event.note


@pytest.mark.parametrize("how", ["exited", "went silent"])
@pytest.mark.parametrize("data", [b"bye", "caf\u00e9".encode()[:-1]])
def test_an_acked_client_that_exits_mid_nul_is_completed_only_with_utf8_bytes(how: str, data: bytes) -> None:
    """An acked client that exits one bit short of its NUL took it for sent: its last SIGUSR1 merged at
    the server with another process's and a nudge answered it (test_classic_e2e, a sigchat sender beside
    it). Its bytes were each acked: delivered, acked, with the note. Silent, it waits for its ack (a nudge
    serves it); with bytes that are not UTF-8 a bit may have been lost before: incomplete."""
    server = ClassicServer(Profile(), timeout=0.5)
    _, now = feed(server, encode(data, Profile())[:-1], 1.0)
    if how == "exited":
        server.sender_gone(PID, now + 0.01)
    else:
        server.tick(now + 0.6)
    (event,) = server.events[1:]
    if how == "exited" and data == b"bye":
        assert isinstance(event, protocol.MessageDelivered), event
        assert (event.data, event.integrity, event.note) == (b"bye", "acked", "the NUL's last 1 bit never came: completed")
    else:
        assert isinstance(event, protocol.TransferAborted), event


def test_a_nul_the_length_announced_needs_text_before_it_to_be_completed_from_few_bits() -> None:
    """Bytes that are not UTF-8 may hide a lost bit (the NUL's zeros shifted in): only
    ``NUL_MIN_BITS`` zeros complete it then, as without a length (delivered, damaged)."""
    profile = parse_profile("lsb,len32+nul,ack=none")
    for cut, delivered in ((6, False), (3, True)):
        server = ClassicServer(profile, timeout=0.5)
        _, now = feed(server, encode(b"caf\xc3", profile)[:-cut], 1.0)
        server.sender_gone(PID, now + 0.01)
        (event,) = server.events[1:]
        assert isinstance(event, protocol.MessageDelivered if delivered else protocol.TransferAborted), (cut, event)
        assert not delivered or event.integrity == "damaged", event


@pytest.mark.parametrize(
    ("text", "symbols_of"),
    [
        ("len32+nul,ack=none", lambda s: s[:-14]),  # bytes before the NUL missing
        ("len32+nul,ack=none", lambda s: s[:-8] + [USR2]),  # a 1 bit where the NUL belongs
        ("ack=none", lambda s: s[:-9]),  # the NUL never started: the message may go on
        ("ack=none", lambda s: s[:-4]),  # 4 zero bits: the start of a newline, as much as of a NUL
        ("ack=none", lambda s: s[:-8] + [USR2, USR1]),  # a 1 bit where the NUL belongs
        ("len32,ack=none", lambda s: s[:-3]),  # no NUL in the profile: the last byte is unknown
    ],
)
def test_anything_else_cut_short_is_still_incomplete(text, symbols_of) -> None:
    profile = parse_profile(text)
    server = ClassicServer(profile)
    _, now = feed(server, symbols_of(encode(b"bye", profile)), 1.0)
    server.sender_gone(PID, now)
    (event,) = server.events[1:]
    assert isinstance(event, protocol.TransferAborted) and event.reason is AbortReason.SENDER_GONE


def test_a_decimal_length_with_a_non_digit_is_a_framing_error() -> None:
    profile = parse_profile("dec10+nul")
    server = ClassicServer(profile)
    feed(server, encode(b"12345x7890", Profile())[:80], 1.0)  # the same bit order, no header
    (event,) = server.events[1:]
    assert isinstance(event, protocol.TransferAborted) and event.reason is AbortReason.FRAMING


@pytest.mark.parametrize("json_lines", [False, True])
def test_plain_stdout_never_prints_a_damaged_message(json_lines: bool, capsys) -> None:
    import io

    from sigchat.server.plain import PlainOutput
    from sigchat.server.sink import Kind

    output = PlainOutput(json_lines=json_lines, max_bytes=1 << 20)
    output.out = io.BytesIO()
    stats = protocol.TransferStats(pid=PID, started_at=0.0, ended_at=1.0, length=3, bits=32)
    for integrity, note in [("unverified", ""), ("damaged", "bit lost at byte 1"), ("acked", "")]:
        event = protocol.MessageDelivered(PID, integrity[:3].encode(), stats, False, "classic", "msb", integrity, note)
        output.on_event(event, Kind.DELIVERED, 0.0)
    written = output.out.getvalue()
    if json_lines:
        lines = [json.loads(line) for line in written.splitlines()]
        assert [(r["text"], r["integrity"], r.get("note")) for r in lines] == [
            ("unv", "unverified", None), ("dam", "damaged", "bit lost at byte 1"), ("ack", "acked", None)
        ]
    else:
        assert written == b"unv\nack\n"
    assert f"classic message from {PID} is damaged (bit lost at byte 1): not printed" in capsys.readouterr().err


def test_an_ack_is_sent_again_to_a_client_that_goes_on_waiting() -> None:
    """A client that misses its ack (``pause()`` entered after the ack was handled) gets it again
    2 ms after it, then 4, 8 and 16 ms after the try before, then no more; a new signal starts over."""
    from sigchat.proto.classic.server import MAX_NUDGES, NUDGE_AFTER

    server = ClassicServer(Profile())
    assert server.overdue(1.0) is None and server.nudge_at() is None
    assert server.receive(PID, USR1, 1.0) == USR1
    assert server.nudge_at() == pytest.approx(1.0 + NUDGE_AFTER)
    assert server.overdue(1.0 + NUDGE_AFTER / 2) is None
    sent = []
    now = 1.0
    while (at := server.nudge_at()) is not None:
        now = at
        due = server.overdue(now)
        assert due == (PID, USR1)
        server.nudged(PID)
        sent.append(round(now - 1.0, 6))
    assert sent == [round(NUDGE_AFTER * ((2 << n) - 1), 6) for n in range(MAX_NUDGES)]  # 2, 6, 14, 30 ms
    assert server.counters.nudges == MAX_NUDGES
    assert server.receive(PID, USR1, now + 0.001) == USR1
    assert server.nudge_at() == pytest.approx(now + 0.001 + NUDGE_AFTER)


def test_a_late_try_does_not_make_the_next_ones_due_at_once() -> None:
    """Tries are counted from the try before, not from the signal: one asked for long after its
    time (a busy receiver; the I/O layer did not send it: the client was not seen asleep) leaves
    the next one a full wait away, so that the client has time to go back to sleep."""
    from sigchat.proto.classic.server import NUDGE_AFTER

    server = ClassicServer(Profile())
    assert server.receive(PID, USR1, 1.0) == USR1
    assert server.overdue(2.0) == (PID, USR1)
    assert server.overdue(2.0) is None and server.overdue(2.0 + NUDGE_AFTER) is None
    assert server.nudge_at() == pytest.approx(2.0 + 2 * NUDGE_AFTER)


@pytest.mark.parametrize(("text", "last"), [("ack=none", None), ("end-ack=usr2", USR2), ("", USR1), ("ack=none,end-ack=usr1", USR1)])
def test_the_last_reply_of_a_message_is_sent_again_and_nothing_unacked(text: str, last) -> None:
    """After a message the line is free; its client may still wait for its last reply (a racy
    pause() would then never exit): that one, the end ack or else the ack, goes again. A client
    that gets no acks gets nothing mid-message, and a muted reply never goes."""
    from sigchat.proto.classic.server import NUDGE_AFTER

    server = ClassicServer(parse_profile(text))
    replies, now = feed(server, encode(b"ok", server.profile)[:-1], 1.0)
    assert server.overdue(now + 1) is None if text.startswith("ack=none") else server.overdue(now + 1) == (PID, USR1)
    _, now = feed(server, encode(b"ok", server.profile)[-1:], now)
    assert server.holder is None
    assert server.overdue(now + NUDGE_AFTER) == (None if last is None else (PID, last))
    server.mute(PID, last if last is not None else USR1)
    assert server.overdue(now + 1) is None


# --------------------------------------------------------------------------- the reply policy


@pytest.mark.parametrize(
    ("after", "in_signal_wait", "refused"),
    [
        (0.0002, False, True),  # its next bit, and it is not waiting: it paces itself
        (0.0002, None, True),  # /proc not readable: the timing decides
        (0.012, True, False),  # a sigchat sender that resent while its reply was held (a late receiver)
        (0.060, False, False),  # it waited longer than a paced client ever does
    ],
)
def test_the_policy_refuses_only_a_client_that_does_not_wait(after, in_signal_wait, refused) -> None:
    from sigchat.proto.classic.policy import ReplyPolicy

    policy = ReplyPolicy(ClassicServer(Profile()))
    assert policy.hold(PID, USR1, 1.0)
    policy.sent_again(PID, 1.0 + after, in_signal_wait)
    assert (PID in policy.held_pids) is not refused
    if refused:
        assert policy.verdict(PID, USR1) is False
        stats = protocol.TransferStats(pid=PID, started_at=1.0, ended_at=1.1)
        pid, reason = policy.refusal_after(protocol.MessageDelivered(PID, b"x", stats))
        assert pid == PID and reason.startswith("it sent its next signal without waiting for a reply")
    else:
        assert policy.due() == [(PID, USR1)] and policy.verdict(PID, USR1) is None  # checked, then answered


@pytest.mark.parametrize("text", ["", "ack=none", "ack=none,end-ack=usr1", "len32,ack=none,end-ack=usr1", "end-ack=usr2", "lsb,dec10+nul"])
def test_bit_runs_read_as_the_decoder_does(text: str) -> None:
    """Feeding a whole message through ``bit_run``/``receive_run`` (as the receiver's runs do, each
    run up to its limit or a zero byte) gives the same events, replies and end ack as ``receive``."""
    profile = parse_profile(text)
    symbols = encode("héllo, runs".encode(), profile)
    plain, runs = ClassicServer(profile), ClassicServer(profile)
    replies, _ = feed(plain, symbols, 1.0)
    sent = [runs.receive(PID, symbols[0], 1.0 + STEP)]
    at = 1
    while at < len(symbols):
        run = runs.bit_run()
        assert run is not None and run[0] == PID
        _, ack, limit, in_byte, zeros, zero = run
        take = []
        while at < len(symbols) and (limit is None or len(take) < limit):
            take.append(symbols[at])
            at += 1
            if limit is None:
                zeros, in_byte = zeros and take[-1] == zero, in_byte + 1
                if in_byte == 8:
                    if zeros:
                        break
                    in_byte, zeros = 0, True
        runs.receive_run(PID, bytes(take), [1.0 + STEP * (at - len(take) + k + 1) for k in range(len(take))])
        sent += [ack] * len(take)
    assert delivered(runs.events) == delivered(plain.events) == ["héllo, runs".encode()]
    # What the client got, in order: the same signals either way (the end ack of an unacked
    # profile is the last bit's reply in one, the outbox in the other).
    got_plain = [r for r in replies if r is not None] + [r for _, r in plain.outbox]
    got_runs = [r for r in sent if r is not None] + [r for _, r in runs.outbox]
    assert got_runs == got_plain


@pytest.mark.parametrize("spec", [
    "msb,usr2=1,nul,ack=usr1",
    "lsb,len32+nul,ack=none",
    "lsb,usr1=1,len-typed+nul,nul-counted,ack=usr1,end-ack=usr2,handshake",
    "msb,len32,ack=usr2,end-ack=usr1,handshake",
])
def test_warming_up_the_classic_paths_serves_scratch_clients_and_leaves_the_server_as_it_was(spec):
    """``Server.warm_up_classic`` (run by the receiver before it reads signals) serves its clients
    on a scratch server: each message delivered there, nothing here."""
    server = protocol.Server(classic=parse_profile(spec), classic_auto=True)
    served: list[list[str]] = []
    real_tick = protocol.Server.tick

    def tick(self, now):
        if self is not server:
            served.append([type(event).__name__ for event in self.events])
        return real_tick(self, now)

    protocol.Server.tick = tick
    try:
        server.warm_up_classic()
    finally:
        protocol.Server.tick = real_tick
    assert served == [["TransferStarted", "MessageDelivered"]] * protocol.WARM_UP_CLIENTS
    assert server.events == [] and server.outbox == [] and server.known_pids() == 0
    assert server.counters == protocol.Server().counters
    assert server.classic.auto and server.classic.holder is None
