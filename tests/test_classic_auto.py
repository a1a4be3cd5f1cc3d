"""Telling a classic client's profile from its signals (sans-IO): ``infer_stream``,
``--classic auto`` (``proto.classic.auto``) and the server's profile hint.

The real clients (C peers of every convention against ``sigchat-server
--classic auto``, and the hint on stderr) are in ``test_conventions.py``.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from sigchat.proto.classic.auto import SETTLE, LearningClassicServer
from sigchat.proto.classic.infer import client_candidates, clean_text, expected_symbols, infer_stream
from sigchat.proto.classic.profile import DEFAULT_PROFILE, HANDSHAKE, parse_profile
from sigchat.proto.classic.server import MAX_NUDGES, NUDGE_AFTER
from sigchat.proto.events import MessageDelivered, ProfileDetected, TransferAborted, TransferStarted
from sigchat.proto.sender import CLASSIC_EVIDENCE, Outcome, Sender, SenderState
from sigchat.proto.server import Server
from sigchat.proto.wire import GO, ONE, SIGNATURE_LENGTH, ZERO
from sigchat.server.sink import Kind, kind_of, profile_note

# Every convention of the notes that a client's signals can show (acks are the server's business).
CONVENTION_PROFILES = [
    "msb,nul",  # A, J (without its handshake)
    "lsb,len32+nul",  # B
    "msb,usr1=1,len32",  # C
    "lsb,usr1=1,len-typed+nul,nul-counted,handshake",  # D
    "msb,len64",  # E
    "msb,len32,handshake",  # F
    "lsb,nul",  # G
    "msb,len64+nul,le,nul-counted",  # H
    "msb,len32+nul",  # I
    "msb,nul,handshake",  # J
    "lsb,dec10+nul",  # K
]
MESSAGES = [b"hello, minitalk 1234", "héllo ✓ 日本語 😀 👩‍💻".encode(), b"line one\nline two\ttabbed\r\n"]
TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40).map(str.encode)


def stream(profile_text: str, *messages: bytes) -> list[int]:
    profile = parse_profile(profile_text)
    return [symbol for message in messages for symbol in expected_symbols(message, profile)]


# --------------------------------------------------------------------------- clean text


def test_clean_text() -> None:
    assert clean_text(b"hello\n\tworld\r") and clean_text("日本 😀".encode()) and clean_text(b"")
    assert not clean_text(b"a\x00b") and not clean_text(b"\x1b[31m") and not clean_text(b"\x7f")
    assert not clean_text(b"\xff\xfe") and not clean_text("日".encode()[:2])
    assert clean_text("日".encode()[:2], partial=True)  # a character still arriving
    assert not clean_text(b"\xc3\x28", partial=True)  # not a character cut short: invalid


def test_every_candidate_has_a_short_form_that_parses_back() -> None:
    for profile in client_candidates():
        assert parse_profile(profile.short()) == profile, profile
    assert parse_profile("lsb,len32+nul").short() == "lsb,len32+nul"
    assert parse_profile("msb,usr1=1,len32,ack=none,end-ack=usr1").short() == "msb,usr1=1,len32,ack=none,end-ack=usr1"


# --------------------------------------------------------------------------- infer_stream


@pytest.mark.parametrize("profile_text", CONVENTION_PROFILES)
def test_infer_stream_names_every_convention(profile_text: str) -> None:
    """Three messages (ASCII, UTF-8, whitespace) of each convention: its profile, sure, the messages themselves."""
    [best, *_] = infer_stream(stream(profile_text, *MESSAGES))
    assert best.profile == parse_profile(profile_text), best
    assert best.messages == tuple(MESSAGES) and not best.partial
    assert best.confidence == 1


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(st.sampled_from(CONVENTION_PROFILES), st.lists(TEXT, min_size=1, max_size=3))
def test_infer_stream_reads_any_text_right(profile_text: str, messages: list[bytes]) -> None:
    """Whatever the text: the best profile reads exactly the messages sent, and would have sent the same signals.

    (Another profile may be named when this text cannot tell them apart, e.g. one
    short message reads the same with and without an optional handshake.)
    """
    symbols = stream(profile_text, *messages)
    [best, *_] = infer_stream(symbols)
    assert best.messages == tuple(messages) and not best.partial
    assert stream(str(best.profile), *messages) == symbols


def test_infer_stream_of_a_message_in_progress() -> None:
    symbols = stream("lsb,len32+nul", b"a long message, not over yet")[:-60]
    [best, *_] = infer_stream(symbols)
    assert best.partial and best.messages == () and best.profile.bit_order == "lsb"


def test_infer_stream_finds_nothing_in_noise() -> None:
    # 0xFF and 0x00 bytes, whichever signal is 1: never UTF-8 text (0x00 in a length frame, a control character)
    assert infer_stream(([ONE] * 8 + [ZERO] * 8) * 20) == []
    assert infer_stream([ONE, ZERO] * 100)[0].profile.one == "usr1"  # but 0x55 is "U": noise may read as text
    assert infer_stream([]) == []


def test_only_empty_messages_are_never_sure() -> None:
    for best in infer_stream([ZERO] * 32):
        assert best.confidence < 1


def test_a_signal_lost_mid_message_is_not_read_as_text() -> None:
    symbols = stream("msb,nul", b"hello world, a message")
    damaged = symbols[:37] + symbols[38:]
    assert all(match.profile != DEFAULT_PROFILE or match.partial for match in infer_stream(damaged))


# --------------------------------------------------------------------------- --classic auto


def feed(server: Server, pid: int, symbols: list[int], start: float, step: float = 1e-4) -> tuple[float, list]:
    replies = []
    now = start
    for symbol in symbols:
        now += step
        replies.append(server.receive(pid, symbol, now))
    return now, replies


def drain(server: Server) -> list:
    events, server.events[:] = list(server.events), []
    return events


@pytest.mark.parametrize("profile_text", ["lsb,len32+nul", "msb,len64+nul,le,nul-counted", "lsb,dec10+nul", "msb,len32,handshake"])
def test_auto_learns_from_the_first_client_and_decodes_the_next_directly(profile_text: str) -> None:
    server = Server(classic=DEFAULT_PROFILE, classic_auto=True)
    line = server.classic
    now, replies = feed(server, 101, stream(profile_text, MESSAGES[1]), 0.0)
    assert set(replies) == {ZERO}  # SIGUSR1 for every signal while it is recorded
    assert line.holder == 101 and not drain(server)  # nothing decoded yet
    server.tick(now + SETTLE / 2)
    assert not drain(server)
    server.tick(now + 2 * SETTLE)
    detected, started, delivered = drain(server)
    assert isinstance(detected, ProfileDetected) and detected.active and detected.confidence == 1
    assert parse_profile(detected.profile) == parse_profile(profile_text)
    assert isinstance(started, TransferStarted) and started.at == pytest.approx(1e-4)  # the times as they came
    assert isinstance(delivered, MessageDelivered) and delivered.data == MESSAGES[1]
    assert delivered.profile == detected.profile and delivered.stats.ended_at == pytest.approx(now)
    assert line.learned == parse_profile(profile_text) and not line.recording
    # The next client is decoded as it sends: no recording, no second detection.
    now, replies = feed(server, 102, stream(profile_text, MESSAGES[0]), now + 1.0)
    events = drain(server)
    assert [type(e) for e in events] == [TransferStarted, MessageDelivered] and events[1].data == MESSAGES[0]


def test_auto_reads_a_client_that_exits_at_once() -> None:
    server = Server(classic=DEFAULT_PROFILE, classic_auto=True)
    now, _ = feed(server, 7, stream("lsb,nul", b"bye"), 0.0)
    server.sender_gone(7, now)  # (the I/O layer read every pending signal first)
    events = drain(server)
    assert [type(e) for e in events] == [ProfileDetected, TransferStarted, MessageDelivered]
    assert events[2].data == b"bye" and not server.classic.owns(7)


def test_auto_learns_that_a_client_that_does_not_wait_gets_no_acks() -> None:
    server = Server(classic=DEFAULT_PROFILE, classic_auto=True)
    line = server.classic
    symbols = stream("lsb,len32+nul", b"paced, no acks")
    now, _ = feed(server, 5, symbols[:3], 0.0)
    line.mute(5, ZERO)  # the reply policy: it sent its next signal without waiting for a reply
    now, replies = feed(server, 5, symbols[3:], now)
    assert set(replies) == {None}
    server.tick(now + 2 * SETTLE)
    detected, _, delivered = drain(server)
    assert parse_profile(detected.profile).ack is None and delivered.data == b"paced, no acks"
    assert delivered.integrity == "unverified"


def test_auto_is_not_sure_of_empty_messages_and_reads_the_next_client_again() -> None:
    server = Server(classic=DEFAULT_PROFILE, classic_auto=True)
    now, _ = feed(server, 1, [ZERO] * 8, 0.0)  # "" as msb,nul (and as lsb,nul, and ...)
    server.tick(now + 2 * SETTLE)
    detected, _, delivered = drain(server)
    assert detected.confidence < 1 and delivered.data == b""
    assert server.classic.learned is None and server.classic.recording
    now, _ = feed(server, 2, stream("lsb,nul", b"now sure"), now + 1)
    server.tick(now + 2 * SETTLE)
    detected, _, delivered = drain(server)
    assert detected.confidence == 1 and delivered.data == b"now sure" and server.classic.learned is not None


def test_auto_sends_a_missed_ack_again_to_a_recorded_client() -> None:
    server = Server(classic=DEFAULT_PROFILE, classic_auto=True)
    now, _ = feed(server, 9, stream("msb,nul", b"x")[:5], 0.0)
    assert server.classic_overdue(now + NUDGE_AFTER / 2) is None
    assert server.classic_overdue(now + NUDGE_AFTER * 1.01) == (9, ZERO)
    assert server.classic_nudge_at() == pytest.approx(now + NUDGE_AFTER * 1.01 + 2 * NUDGE_AFTER)


def test_auto_offers_the_other_signal_once_the_last_ack_was_sent_again_in_vain() -> None:
    """A client still waiting after its message's last ack came MAX_NUDGES times more may wait for an end ack:
    the other signal, as often and as far apart, the first NUDGE_AFTER after the ack's last try.

    Learned 0.1 s after the last signal, the tries are not all due at once (each is counted from
    the one before): the I/O layer sends a try only to a client it sees asleep, and one woken by the
    try before is not asleep yet (CI: I's pause() client hung, every try spent in one moment)."""
    server = Server(classic=DEFAULT_PROFILE, classic_auto=True)
    now, _ = feed(server, 3, stream("msb,len32+nul", b"end ack?"), 0.0)
    learned_at = now + 2 * SETTLE
    server.tick(learned_at)
    drain(server)
    sent, times = [], []
    for _ in range(2 * MAX_NUDGES + 2):
        at = server.classic_nudge_at()
        if at is None:
            break
        at = max(at, learned_at)
        due = server.classic_overdue(at)
        assert server.classic_overdue(at) is None  # the next try is a full wait away
        if due is not None:
            sent.append(due[1])
            times.append(at)
    assert sent == [ZERO] * MAX_NUDGES + [ONE] * MAX_NUDGES
    assert times[0] == learned_at  # (overdue since 2 ms after its last signal)
    waits = [round((b - a) / NUDGE_AFTER, 6) for a, b in zip(times, times[1:])]
    assert waits == [2, 4, 8, 1, 2, 4, 8]
    assert server.classic_nudge_at() is None
    # Without auto, nothing but the ack: a configured profile says what the client expects.
    plain = Server(classic=parse_profile("msb,len32+nul"))
    now, _ = feed(plain, 3, stream("msb,len32+nul", b"end ack?"), 0.0)
    sent = []
    while (at := plain.classic_nudge_at()) is not None:
        if (due := plain.classic_overdue(at)) is not None:
            sent.append(due[1])
    assert sent == [ZERO] * MAX_NUDGES


def test_auto_serves_sigchat_senders_whatever_it_learned() -> None:
    server = Server(classic=DEFAULT_PROFILE, classic_auto=True)
    now, _ = feed(server, 4, stream("lsb,len32+nul", b"classic-only profile"), 0.0)
    server.tick(now + 2 * SETTLE)
    assert not parse_profile(drain(server)[0].profile).native_compatible
    assert server.classic.native  # a sigchat hello is still a hello


# --------------------------------------------------------------------------- the hint


def test_a_client_of_another_profile_gets_a_hint_once_it_has_gone() -> None:
    server = Server(classic=DEFAULT_PROFILE)
    now, _ = feed(server, 55, stream("lsb,len32+nul", b"hello world, this is B"), 0.0)
    events = drain(server)
    assert any(isinstance(e, MessageDelivered) for e in events)  # garbage, under msb,nul
    assert not any(isinstance(e, ProfileDetected) for e in events)
    server.sender_gone(55, now)
    [hint] = [e for e in drain(server) if isinstance(e, ProfileDetected)]
    assert not hint.active and hint.serving == str(DEFAULT_PROFILE)
    assert parse_profile(hint.profile) == parse_profile("lsb,len32+nul")
    note = profile_note(hint)
    assert "restart with --classic lsb,len32+nul" in note and "55" in note
    assert kind_of(hint) is Kind.PROFILE


def test_the_hint_keeps_the_acks_the_server_was_given() -> None:
    server = Server(classic=parse_profile("msb,nul,ack=none"))
    now, _ = feed(server, 8, stream("lsb,nul", b"lsb first, no acks"), 0.0)
    server.tick(now + 5.0)  # idle: forgotten
    [hint] = [e for e in drain(server) if isinstance(e, ProfileDetected)]
    assert parse_profile(hint.profile) == parse_profile("lsb,nul,ack=none")


def test_no_hint_for_a_client_of_the_right_profile_or_one_cut_short() -> None:
    server = Server(classic=DEFAULT_PROFILE)
    now, _ = feed(server, 1, stream("msb,nul", *MESSAGES), 0.0)
    now, _ = feed(server, 2, stream("msb,nul", b"cut short here")[:-20], now)
    server.sender_gone(1, now)
    server.sender_gone(2, now)
    events = drain(server)
    assert not any(isinstance(e, ProfileDetected) for e in events)
    assert sum(isinstance(e, TransferAborted) for e in events) == 1


def test_no_hint_when_nothing_reads_as_text() -> None:
    server = Server(classic=DEFAULT_PROFILE)
    now, _ = feed(server, 1, ([ZERO] * 8 + [ONE] * 8) * 20, 0.0)  # 0x00 0xFF ...: no profile reads text
    server.sender_gone(1, now)
    events = drain(server)
    assert any(isinstance(e, MessageDelivered) and e.data == b"\xff" for e in events)  # garbage, under msb,nul
    assert not any(isinstance(e, ProfileDetected) for e in events)


def test_recording_answers_like_every_handshake() -> None:
    """A recorded client gets SIGUSR1 for each signal: the default ack, and the answer to every handshake."""
    line = LearningClassicServer(auto=True)
    assert line.receive(1, HANDSHAKE, 0.0) == DEFAULT_PROFILE.ack_symbol == parse_profile("msb,nul,handshake").handshake_symbol


# --------------------------------------------------------------------------- sigchat-send's hint


def run_sender_against(answer, *, data: bytes = b"hi there", limit: int = 5000) -> Sender:
    """A native ``Sender`` against a peer that ``answer``s each signal (a symbol, or ``None``: silence)."""
    sender = Sender(data, 7, retry_initial=0.01)
    now = 0.0
    symbol = sender.start(now)
    for _ in range(limit):
        if sender.outcome is not None:
            break
        reply = answer(symbol) if symbol is not None else None
        now += 1e-4
        symbol = sender.receive(reply, now) if reply is not None else sender.timeout(max(now, sender.deadline))
        now = max(now, sender.deadline) if reply is None else now
    return sender


def test_sender_tells_a_classic_server_from_a_sigchat_one() -> None:
    """A classic server acks every signal with SIGUSR1: the sender stops after CLASSIC_EVIDENCE of them."""
    sender = run_sender_against(lambda symbol: ZERO)
    assert sender.outcome is Outcome.CLASSIC_PEER
    assert sender.stats.signals_sent <= SIGNATURE_LENGTH + CLASSIC_EVIDENCE + 1
    # A classic server that acks with SIGUSR2 (J's) is not mistaken for one that acks with SIGUSR1.
    assert run_sender_against(lambda symbol: ONE).outcome is not Outcome.CLASSIC_PEER


def test_late_gos_of_a_sigchat_server_are_not_a_classic_server() -> None:
    """A sigchat server that answered repeated hellos late: their GOs come after the start bit, before its SIGUSR2."""
    server = Server()
    sender = Sender(b"hello", 7, retry_initial=0.01)
    now = 0.0
    symbol = sender.start(now)
    while sender.state is not SenderState.SENDING:
        now += 1e-4
        symbol = sender.receive(server.receive(42, symbol, now), now)
    for _ in range(CLASSIC_EVIDENCE - 1):
        assert sender.receive(GO, now) is None  # stale: not taken for the start bit's answer
    while sender.outcome is None:
        now += 1e-4
        reply = server.receive(42, symbol, now)
        symbol = sender.receive(reply, now) if reply is not None else sender.timeout(now)
    assert sender.outcome is Outcome.DELIVERED
    assert sender.stats.stale_replies == CLASSIC_EVIDENCE - 1


# --------------------------------------------------------------------------- what the outputs show


def test_the_ui_model_logs_a_hint_and_a_learned_profile() -> None:
    from sigchat.tui.model import Session
    from sigchat.tui.widgets.chat_log import headline

    session = Session(is_alive=lambda pid: True)
    hint = ProfileDetected(55, "lsb,usr2=1,len32+nul,le,ack=usr1", 1.0, 2.0, False, str(DEFAULT_PROFILE))
    sender, entry = session.apply(hint, kind_of(hint), 1000.0, "client")
    assert entry.kind is Kind.PROFILE and entry.notice == profile_note(hint) and not entry.kind.failed
    assert "restart with --classic lsb,len32+nul" in headline(entry, None).plain
    assert "lsb,len32+nul" in entry.search_text()
    learned = ProfileDetected(56, "msb,usr2=1,nul,ack=usr1,handshake", 0.5, 3.0, True, None, ("msb,usr2=1,nul,ack=usr1",))
    _, entry = session.apply(learned, kind_of(learned), 1001.0, None)
    assert "follows msb,nul,handshake, 50 % sure (or msb,nul)" in entry.notice
    assert "the next classic client is read again" in entry.notice


def test_json_record_of_a_told_profile() -> None:
    from sigchat.server.records import record_of

    hint = ProfileDetected(55, "lsb,usr2=1,len32+nul,le,ack=usr1", 1.0, 2.0, False, str(DEFAULT_PROFILE), ("x",))
    record = record_of(hint, 0.0)
    assert {key: record[key] for key in ("event", "pid", "profile", "active", "serving", "alternatives", "confidence")} == {
        "event": "profile", "pid": 55, "profile": hint.profile, "active": False, "serving": str(DEFAULT_PROFILE),
        "alternatives": ["x"], "confidence": 1.0,
    }


def test_the_tries_made_while_recording_count_after_learning() -> None:
    """The last ack, sent again while the client was recorded, is not offered again from the start once
    the profile is learned: the other signal (its end ack, maybe) comes next."""
    server = Server(classic=DEFAULT_PROFILE, classic_auto=True)
    now, _ = feed(server, 5, stream("msb,len32+nul", b"waits"), 0.0)
    tries = []
    while (at := server.classic_nudge_at()) is not None and at < now + SETTLE:
        tries.append(server.classic_overdue(at)[1])
    assert tries == [ZERO] * MAX_NUDGES
    server.tick(now + 2 * SETTLE)
    drain(server)
    at = server.classic_nudge_at()
    assert server.classic_overdue(max(at, now + 2 * SETTLE)) == (5, ONE)
