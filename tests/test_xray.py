"""The frame X-ray: ``proto.frame`` rebuilds every signal of a transfer, ``tui.widgets.xray`` draws it.

The rebuild is checked against the real state machines: a ``proto.Sender`` and
a ``proto.Server`` (or a ``ClassicSender`` and a classic-serving ``Server``)
exchange a message in memory, and the signals the sender sent must be exactly
the ones rebuilt from what the server reported (payload and ``TransferStats``).
Then the widget: stepping with ←/→ and the mouse, a 1 MiB transfer, the live
view, and two snapshots (look at the SVGs before accepting them).
"""

from __future__ import annotations

import asyncio
from array import array

import pytest

from sigchat.proto import api as P
from sigchat.proto import frame as F
from sigchat.proto import wire
from sigchat.proto.classic import api as C
from sigchat.server.sink import Kind
from sigchat.tui import demo
from sigchat.tui.model import Entry
from sigchat.tui.widgets.inspector import InspectorScreen
from sigchat.tui.widgets.signal_bits import SignalBits
from sigchat.tui.widgets.xray import FrameXRay, LiveXRayScreen, XRayPanel, describe, field_value, rebuilt_of

PID = 4242
STEP = 50e-6


# --------------------------------------------------------------------------- in-memory exchanges


def native_exchange(data: bytes, message_id: int = 0x1234ABCD, *, turbo: bool = False, lose: int | None = None,
                    stop_after: int | None = None, peek=None, triples: bool = False, replies: list | None = None):
    """A ``Sender`` and a ``Server`` in lockstep; returns (what the server took, its events).

    ``lose``: the sender's signal number (0-based) that never reaches the server (it
    times out and resends it). ``stop_after``: the sender exits after that many signals.
    What the server took is each signal's symbol, or a word's ``si_value``.
    ``peek(server, taken, now)``: called after each signal the server took. ``triples``:
    three turbo words per round trip; ``replies`` collects the server's reply to each
    signal it took (``None``: none).
    """
    replies = [] if replies is None else replies
    sender = P.Sender(data, message_id, turbo=turbo, triples=triples)
    server = P.Server(turbo=turbo)
    now = 0.0
    taken: list[int] = []
    events: list = []
    symbol = sender.start(now)
    count = 0
    while sender.outcome is None:
        if symbol is None:  # settling after a resend: the deadline passes quietly
            now = sender.deadline
            symbol = sender.timeout(now)
            continue
        now += STEP
        value = sender.value
        if count == stop_after:
            server.sender_gone(PID, now)
            events += server.events
            break
        count += 1
        if count - 1 == lose:
            now = sender.deadline  # no reply: the signal was lost
            symbol = sender.timeout(now)
            continue
        taken.append(symbol if value is None else value)
        reply = server.receive_word(PID, value, now) if value is not None else server.receive(PID, symbol, now)
        replies.append(reply)
        for _, more in sender.more_words:  # word pairs and triples: the others right after, then the reply
            now += STEP
            taken.append(more)
            reply = server.receive_word(PID, more, now)
            replies.append(reply)
        events += server.events
        server.events.clear()
        if peek is not None:
            peek(server, taken, now)
        symbol = sender.receive(reply, now)
    return taken, events


def classic_exchange(data: bytes, profile: C.Profile, *, peek=None):
    """A ``ClassicSender`` and a classic-serving ``Server``; returns (the symbols sent, the server's events).

    ``peek(server, sent, now)``: called after each signal the server took."""
    sender = C.ClassicSender(data, profile)
    server = P.Server(classic=profile)
    now = 0.0
    sent: list[int] = []
    events: list = []
    symbol = sender.start(now)
    while sender.outcome is None:
        now += 200e-6
        if symbol is None:
            symbol = sender.timeout(max(now, sender.deadline))
            continue
        sent.append(symbol)
        reply = server.receive(PID, symbol, now)
        events += server.events
        server.events.clear()
        replies = ([reply] if reply is not None else []) + [s for pid, s in server.outbox if pid == PID]
        server.outbox.clear()
        if peek is not None:
            peek(server, sent, now)
        symbol = None
        for reply in replies:
            got = sender.receive(reply, now)
            symbol = got if got is not None else symbol
    return sent, events


def delivered(events) -> P.MessageDelivered:
    (event,) = [e for e in events if isinstance(e, P.MessageDelivered)]
    return event


# --------------------------------------------------------------------------- the native rebuild


@pytest.mark.parametrize("mode", ["1-bit", "pairs", "triples"])
@pytest.mark.parametrize("data", [b"", b"ping", "Grüße — ✓".encode(), bytes(range(256)) * 3 + b"x"], ids=["empty", "ping", "utf8", "769B"])
def test_the_rebuilt_frame_is_what_the_sender_sent(data, mode):
    """Every signal with its value, and the server's reply to each (none for a word of a
    pair or triple but the last), as they went."""
    turbo = mode != "1-bit"
    replies: list = []
    taken, events = native_exchange(data, turbo=turbo, triples=mode == "triples", replies=replies)
    event = delivered(events)
    rebuilt = F.rebuild(event.data, event.stats)
    assert rebuilt.values() == taken  # every signal, turbo words with their si_value
    assert rebuilt.complete and rebuilt.signals == rebuilt.expected == len(taken)
    assert rebuilt.flags_assumed is (not turbo)
    signature = P.SIGNATURE_LENGTH  # (the server's signature replies are not in its events)
    assert [rebuilt.reply(p)[0] for p in range(signature, rebuilt.signals)] == replies[signature:]


def test_a_triple_transfer_is_described_word_by_word():
    """The X-ray of a message sent in word triples: the flags say so, the reply at index 18 is
    the yes to triples, a triple's first word went to the receiving thread, and only its
    SIGUSR2 word was answered."""
    data = bytes(range(40))  # seven words: two triples and a word alone
    _, events = native_exchange(data, turbo=True, triples=True)
    event = delivered(events)
    assert event.stats.triples
    rebuilt = F.rebuild(event.data, event.stats)
    spans = {span.field: span for span in rebuilt.spans}
    assert field_value(rebuilt, spans[F.FLAGS])[0].startswith("0x07: turbo words asked for (three per round trip)")
    yes = P.SIGNATURE_LENGTH + wire.TRIPLES_CHECK_INDEX
    assert rebuilt.reply(yes) == (wire.ack_symbol(wire.TRIPLES_CHECK_INDEX) ^ 1, F.TRIPLES_YES)
    words = spans[F.WORDS]
    stats = event.stats
    first, second, third = (describe(rebuilt, stats, words.first + k, []).plain for k in range(3))
    assert "sigqueue(SIGUSR1, to the receiving thread)" in first and "no reply of its own: the triple" in first
    assert "sigqueue(SIGUSR1)," in second and "no reply of its own" in second
    assert "sigqueue(SIGUSR2)," in third and "no reply of its own" not in third
    assert "no reply of its own" not in describe(rebuilt, stats, words.first + 6, []).plain  # the word alone


def test_every_field_is_at_its_frame_index_and_the_crc_is_wire_frame_crc():
    data = b"hello, frame"
    rebuilt = F.native_frame(data, 0xDEADBEEF, 2, retransmissions=3)
    fields = rebuilt.fields()
    by_field: dict[str, list[int]] = {}
    for field, index, _ in fields:
        by_field.setdefault(field, []).append(index)
    n = len(data)
    assert by_field == {
        F.SIGNATURE: list(range(-8, 0)),
        F.START: [0],
        F.VERSION: list(range(1, 9)),
        F.FLAGS: list(range(9, 17)),
        F.ATTEMPT: list(range(17, 25)),
        F.MESSAGE_ID: list(range(25, 57)),
        F.LENGTH: list(range(57, 89)),
        F.PAYLOAD: list(range(89, 89 + 8 * n)),
        F.RETRANSMISSIONS: list(range(89 + 8 * n, 105 + 8 * n)),
        F.CRC: list(range(105 + 8 * n, 137 + 8 * n)),
    }
    assert len(fields) == 8 + wire.frame_bit_count(n)
    spans = {span.field: span for span in rebuilt.spans}
    header = wire.HEADER.pack(1, 0, 2, 0xDEADBEEF, n)
    assert spans[F.CRC].number() == wire.frame_crc(header + data, 3)
    assert [spans[f].number() for f in (F.VERSION, F.FLAGS, F.ATTEMPT, F.MESSAGE_ID, F.LENGTH, F.RETRANSMISSIONS)] == [
        1, 0, 2, 0xDEADBEEF, n, 3,
    ]
    assert [bit for field, _, bit in fields if field == F.PAYLOAD] == wire.symbols_of(data)
    # The replies: classic-style acks, GO, parity acks, echoes, the verdict last.
    replies = [rebuilt.reply(p) for p in range(rebuilt.signals)]
    assert replies[:8] == [(wire.ZERO, F.SIGNATURE_REPLY)] * 7 + [(wire.GO, F.GO_REPLY)]
    assert replies[8 + 16] == (wire.ack_symbol(16), F.ACK)
    assert replies[-1][1] == F.VERDICT and replies[-2][1] == F.ECHO


def test_a_resent_bit_is_in_the_tail_count_and_marked_probably_resent():
    data = b"resend me"
    lost = 8 + 100  # the sender's signal 108: frame index 100, a payload bit
    taken, events = native_exchange(data, lose=lost)
    event = delivered(events)
    assert event.stats.retransmissions == 1
    rebuilt = F.rebuild(event.data, event.stats)
    assert rebuilt.values() == taken  # the server took the resend in place of the lost one
    resent = F.probably_resent(rebuilt, event.stats.gaps, event.stats.retransmissions)
    assert resent == [lost]  # it came a retry time (0.1 s) after the previous signal
    assert rebuilt.since_previous(event.stats.gaps, lost) >= wire.RETRY_INITIAL - 1e-6
    assert F.probably_resent(rebuilt, event.stats.gaps, 0) == []  # no retransmission reported, no guess


def test_an_aborted_transfer_shows_what_arrived_and_marks_the_rest_unknown():
    data = bytes(range(40))
    cut = 8 + 89 + 8 * 10 + 3  # three bits into payload byte 10
    taken, events = native_exchange(data, stop_after=cut)
    (event,) = [e for e in events if isinstance(e, P.TransferAborted)]
    assert event.partial == data[:10]
    rebuilt = F.rebuild(event.partial, event.stats, outcome=F.ABORTED, reason=event.reason)
    assert rebuilt.signals == cut and rebuilt.expected == 8 + wire.frame_bit_count(len(data))
    symbols = rebuilt.symbols()
    assert symbols[: cut - 3] == taken[: cut - 3]
    assert symbols[cut - 3 :] == [None, None, None]  # the byte in progress is not kept
    assert not rebuilt.complete
    assert [span.arrived for span in rebuilt.spans if span.field in (F.RETRANSMISSIONS, F.CRC)] == [0, 0]


def test_turbo_words_carry_the_tag_of_wire_turbo_key():
    data = b"0123456789abcdef"
    rebuilt = F.native_frame(data, 0x0BADF00D, 1, flags=wire.FLAG_TURBO, turbo=True)
    (words,) = [span for span in rebuilt.spans if span.words]
    key = wire.turbo_key(0x0BADF00D, 1)
    assert words.count == wire.word_count(len(data)) == 3
    assert [words.value(i) >> wire.WORD_TAG_SHIFT for i in range(3)] == [(key + i) & 0xFFFF for i in range(3)]
    assert words.value(2) & wire.WORD_PAYLOAD_MASK == int.from_bytes(b"cdef\0\0", "big")  # zero-padded
    assert [words.symbol(i) for i in range(3)] == [0, 1, 0]
    assert rebuilt.reply(8 + wire.TURBO_CHECK_INDEX) == (wire.ack_symbol(16) ^ 1, F.TURBO_YES)


# --------------------------------------------------------------------------- the classic rebuild


@pytest.mark.parametrize(
    "profile", ["default", "lsb,len32", "len32,nul,handshake,end-ack=usr2", "usr1=1,len64+nul,nul-counted,le", "msb,nul,ack=usr2,handshake",
                "lsb,usr1=1,len-typed+nul,nul-counted,end-ack=usr2,handshake", "lsb,dec10+nul", "ack=usr2,handshake=usr2"]
)
def test_a_classic_message_is_rebuilt_signal_for_signal(profile):
    profile = C.parse_profile(profile)
    data = b"hi, classic"
    sent, events = classic_exchange(data, profile)
    event = delivered(events)
    rebuilt = F.rebuild(event.data, event.stats, mode="classic", profile=event.profile)
    assert rebuilt.symbols() == sent
    fields = [span.field for span in rebuilt.spans]
    assert fields == [f for f, present in [(F.HANDSHAKE_FIELD, profile.handshake), (F.LENGTH_WIDTH, profile.length_typed),
                                           (F.LENGTH, profile.has_length), (F.MESSAGE, True), (F.NUL, profile.nul)] if present]
    if profile.has_length:
        length = rebuilt.spans[fields.index(F.LENGTH)]
        number = profile.header_length(length.source) if profile.length_digits else length.number()
        assert number == len(data) + profile.nul_counted
    if profile.handshake:
        assert rebuilt.reply(0) == (profile.handshake_symbol, F.ACK)
    last = rebuilt.reply(rebuilt.signals - 1)
    assert last == ((profile.end_ack_symbol, F.END_ACK) if profile.end_ack else (profile.ack_symbol, F.ACK))


def test_a_classic_message_cut_short_keeps_its_bytes_and_unknown_rest():
    profile = C.parse_profile("len32,nul")
    stats = P.TransferStats(pid=PID, started_at=0.0, ended_at=1.0, length=20, bits=32 + 8 * 5 + 3, signals_received=75)
    rebuilt = F.rebuild(b"hello", stats, mode="classic", profile=str(profile), outcome=F.ABORTED, reason=P.AbortReason.INCOMPLETE)
    assert rebuilt.signals == 75 and rebuilt.expected == 32 + 8 * 21
    symbols = rebuilt.symbols()
    assert symbols[: 72] == C.encode(b"hello" + bytes(15), profile)[:72]
    assert symbols[72:] == [None] * 3
    nul_only = F.rebuild(b"abc", P.TransferStats(pid=PID, started_at=0, ended_at=1, bits=30, signals_received=30),
                         mode="classic", profile="default", outcome=F.IN_FLIGHT)
    assert nul_only.expected is None and nul_only.signals == 30 and nul_only.symbols()[24:] == [None] * 6


# --------------------------------------------------------------------------- snapshots of a transfer in flight


def test_a_native_snapshot_mid_payload_rebuilds_what_arrived_so_far():
    data = b"snapshot me, mid-payload"
    cut = 8 + 89 + 8 * 4 + 3  # the signature, the header, 4 payload bytes and 3 bits
    seen = {}

    def peek(server, taken, now):
        if len(taken) == cut:
            assert server.snapshot(PID + 1) is None  # not that sender's transfer
            seen["snapshot"], seen["taken"], seen["now"] = server.snapshot(PID), list(taken), now
            seen["stats"] = server._active.stats
        elif len(taken) == cut + 16:
            seen["later"] = server.snapshot(PID)
        elif len(taken) < 8:
            assert server.snapshot(PID) is None  # the signature: no transfer yet

    _, events = native_exchange(data, peek=peek)
    so_far, stats = seen["snapshot"]
    assert so_far == data[:4]
    assert stats.bits == cut - 8 and stats.length == len(data) and stats.ended_at == seen["now"]
    assert stats is not seen["stats"] and stats.gaps is not seen["stats"].gaps  # a copy: the server goes on
    assert len(stats.gaps) == stats.bits - 1 and seen["later"][1].bits == stats.bits + 16
    rebuilt = F.rebuild(so_far, stats, outcome=F.IN_FLIGHT)
    assert rebuilt.signals == cut and rebuilt.symbols()[: cut - 3] == seen["taken"][: cut - 3]
    assert delivered(events).stats.bits == wire.frame_bit_count(len(data))  # a snapshot changes nothing


def test_a_classic_snapshot_mid_message_is_delegated_to_the_classic_server():
    profile = C.parse_profile("len32,nul")
    data = b"hi, classic in flight"
    cut = 32 + 8 * 5 + 2
    seen = {}

    def peek(server, sent, now):
        if len(sent) == cut:
            seen["snapshot"], seen["sent"], seen["now"] = server.snapshot(PID), list(sent), now
            assert server.snapshot(PID + 1) is None

    _, events = classic_exchange(data, profile, peek=peek)
    so_far, stats = seen["snapshot"]
    assert so_far == data[:5] and stats.bits == cut and stats.length == len(data) and stats.ended_at == seen["now"]
    rebuilt = F.rebuild(so_far, stats, mode="classic", profile=str(profile), outcome=F.IN_FLIGHT)
    assert rebuilt.signals == cut and rebuilt.symbols()[: cut - 2] == seen["sent"][: cut - 2]
    assert delivered(events).data == data


# --------------------------------------------------------------------------- the widget


def entry_of(event, seq: int = 0, name: str = "sigchat-send") -> Entry:
    kind = Kind.DELIVERED if isinstance(event, P.MessageDelivered) else Kind.ABORTED
    data = event.data if kind is Kind.DELIVERED else event.partial
    reason = None if kind is Kind.DELIVERED else event.reason
    return Entry(seq, kind, event.pid, name, demo.WALL0, data, event.stats, reason=reason, event=event,
                 mode=event.mode, profile=event.profile)


def run_screen(screen_factory, body, size=(120, 40)):
    async def main():
        app = demo.make_app()
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            screen = screen_factory()
            await app.push_screen(screen)
            await pilot.pause()
            return await body(app, pilot, screen)

    return asyncio.run(main())


def test_left_and_right_step_bit_by_bit_and_the_lens_and_detail_follow():
    data = b"ping"
    _, events = native_exchange(data, lose=8 + 93)
    entry = entry_of(delivered(events))

    async def body(app, pilot, screen):
        xray = screen.query_one(FrameXRay)
        assert app.focused is xray
        payload = 8 + 89
        assert xray.position == payload  # it opens on the first payload bit
        lens = screen.query_one(SignalBits)
        assert lens.data == b"ping" and lens.cursor == 0
        detail = lambda: str(screen.query_one("#xray-detail").content)  # noqa: E731
        assert detail().startswith("signal 98 of 177: 0 → SIGUSR1 · payload byte 0 bit 1/8")
        await pilot.press("right", "right")
        assert xray.position == payload + 2 and lens.cursor == 2
        assert "1 → SIGUSR2" in detail() and "bit 3/8" in detail() and "answered SIGUSR1: the ack" in detail()
        await pilot.press("left")
        assert xray.position == payload + 1
        await pilot.press("r")  # the next probably resent signal
        assert xray.position == 8 + 93 and "probably resent: it came 100 ms after the previous signal" in detail()
        await pilot.press("up")  # the length row, the same column
        assert screen.query_one(XRayPanel).rebuilt.locate(xray.position)[0].field == F.LENGTH
        await pilot.press("end")
        assert xray.position == 176 and "the verdict: intact" in detail()
        await pilot.press("home")
        assert xray.position == 0 and "the classic-style ack of a signature bit" in detail()
        # A click on a bit: the signal rows start after the number and label columns.
        layout = xray.layout
        row = layout.row_of(payload)
        await pilot.click(FrameXRay, offset=(layout.x0 + 9 + 4, row - xray.scroll_offset.y))
        assert xray.position == payload + 12  # byte 1, bit 5
        await pilot.press("escape")
        assert not isinstance(app.screen, InspectorScreen)

    run_screen(lambda: InspectorScreen(entry), body)


def test_a_mebibyte_transfer_is_rebuilt_lazily_and_renders_only_what_is_visible():
    """How fast it opens is for a benchmark, not a timed assert: what makes it fast is checked here
    (a few spans, not one object per signal; only the rows on screen drawn)."""
    data = bytes(range(256)) * 4096
    stats = demo.make_stats(PID, 0, demo.MONO0)
    stats.length, stats.bits = len(data), wire.frame_bit_count(len(data))
    stats.gaps = array("f", [45e-6]) * wire.MAX_GAP_SAMPLES
    entry = Entry(0, Kind.DELIVERED, PID, None, demo.WALL0, data, stats)
    rendered = []

    async def body(app, pilot, screen):
        xray = screen.query_one(FrameXRay)
        assert xray.rebuilt.signals == 8 + 8 * len(data) + 137
        assert xray.virtual_size.height > 100_000
        assert len(xray.rebuilt.spans) < 12  # fields, not signals
        original = xray.render_line
        xray.render_line = lambda y: rendered.append(y) or original(y)
        await pilot.press("end", "left", "pageup")
        await pilot.pause()
        assert "CRC-32" in str(screen.query_one("#xray-detail").content) or xray.position < xray.rebuilt.signals - 1

    run_screen(lambda: InspectorScreen(entry), body)
    assert 0 < len(rendered) < 200  # only rows on screen are drawn (thousands of rows exist)


def test_every_kind_of_entry_gets_an_xray_or_none():
    app_entries = []

    async def collect():
        app = demo.make_app()
        async with app.run_test(size=(120, 40)) as pilot:
            demo.sample_session(app)
            demo.failed_session(app)
            await pilot.pause()
            app_entries.extend(app.entries)
            for entry in app.entries:
                await app.push_screen(InspectorScreen(entry, tz=app.tz))
                await pilot.pause()
                assert bool(app.screen.query(FrameXRay)) == (entry.stats is not None)
                app.pop_screen()
                await pilot.pause()

    asyncio.run(collect())
    too_large = [e for e in app_entries if e.reason is P.AbortReason.TOO_LARGE][0]
    rebuilt = rebuilt_of(too_large)
    assert rebuilt.signals == 8 + 89 and rebuilt.reply(rebuilt.signals - 1) == (wire.ack_symbol(88) ^ 1, F.NAK)


def test_the_live_view_grows_with_a_classic_transfer_and_follows_its_last_signal():
    profile = "len32,nul"
    data = b"a slow classic message"
    encoded = C.encode(data, C.parse_profile(profile))

    def snapshot(bits: int) -> tuple[bytes, P.TransferStats]:
        whole = max(0, bits - 32) // 8
        stats = P.TransferStats(pid=PID, started_at=0.0, ended_at=0.0, bits=bits, signals_received=bits,
                                length=len(data) if bits >= 32 else None, gaps=array("f", [1e-3] * max(0, bits - 1)))
        return data[:whole], stats

    async def body(app, pilot, screen):
        xray = screen.query_one(FrameXRay)
        assert xray.rebuilt.signals == 0
        for bits in (10, 40, 100):
            screen.update(*snapshot(bits))
            await pilot.pause()
            assert xray.rebuilt.signals == bits and xray.position == bits - 1  # follows the newest signal
            known = 32 + 8 * ((bits - 32) // 8) if bits >= 32 else 0  # the header once complete, then whole bytes
            symbols = xray.rebuilt.symbols()
            assert symbols[:known] == encoded[:known] and set(symbols[known:]) <= {None}
        assert "in flight: 100 of 216 signals so far" in screen_text(app)
        await pilot.press("home")
        screen.update(*snapshot(150))
        await pilot.pause()
        assert xray.position == 0  # moved away: it stays
        stats = P.TransferStats(pid=PID, started_at=0.0, ended_at=1.0, bits=len(encoded), length=len(data), signals_received=len(encoded))
        event = P.MessageDelivered(PID, data, stats, mode="classic", profile=profile)
        screen.finish(entry_of(event))
        await pilot.pause()
        assert xray.rebuilt.complete and xray.rebuilt.symbols() == encoded
        screen.update(*snapshot(10))  # a late report changes nothing
        assert xray.rebuilt.complete

    run_screen(lambda: LiveXRayScreen(PID, "minitalk_client", mode="classic", profile=profile), body)


def screen_text(app) -> str:
    from io import StringIO

    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=StringIO(), record=True, color_system=None, legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


# --------------------------------------------------------------------------- snapshots (look at the SVGs before accepting)


def resent_entry() -> Entry:
    """A 1-bit message whose payload bit at frame index 130 was lost once and resent."""
    _, events = native_exchange("X-ray: every signal, ✓".encode(), lose=8 + 130)
    return entry_of(delivered(events))


def classic_entry() -> Entry:
    profile = C.parse_profile("len32,nul,handshake,end-ack=usr2")
    _, events = classic_exchange(b"hello, minitalk", profile)
    return entry_of(delivered(events), name="minitalk_client")


def open_inspector(entry: Entry, *keys: str):
    async def run_before(pilot) -> None:
        await pilot.pause()
        await pilot.app.push_screen(InspectorScreen(entry, tz=pilot.app.tz))
        await pilot.pause()
        if keys:
            await pilot.press(*keys)
        await pilot.pause()

    return run_before


def test_snapshot_xray_resent_bit_120x40(snap_compare):
    assert snap_compare(demo.make_app(), terminal_size=(120, 40), run_before=open_inspector(resent_entry(), "r"))


def test_snapshot_xray_classic_80x24(snap_compare):
    assert snap_compare(demo.make_app(), terminal_size=(80, 24), run_before=open_inspector(classic_entry(), "right"))
