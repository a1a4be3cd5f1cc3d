"""``sigchat.format``: the one place numbers are worded, and the places that show them (issue 17, item 11).

Plurals agree, a bit count reads one way (``82,057 bits``) in the chat log, the
banner, in flight and ``sigchat-send -v``; attempts are numbered from 1 for
people; one measured turbo claim; plain mode's stop line gives a size; the two
signal counts of one transfer (the server's and the sender's) are labelled;
the classic mark is explained.
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from sigchat import format as fmt
from sigchat.proto import api as protocol
from sigchat.proto.events import TransferStats
from sigchat.proto.sender import SenderStats
from sigchat.server import records
from sigchat.server.sink import Kind
from sigchat.tui import demo
from sigchat.tui.model import Entry
from sigchat.tui.widgets.chat_log import entry_visual, stats_content
from test_app import make_app, run as run_app, screen_lines as screen_text

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "sigchat"
FRAME_10K = protocol.frame_bit_count(10_240)  # 82,057


# --------------------------------------------------------------------------- the functions


def test_plural_agrees_and_separates_thousands():
    assert fmt.plural(1, "message") == "1 message"
    assert fmt.plural(0, "message") == "0 messages"
    assert fmt.plural(2, "message") == "2 messages"
    assert fmt.plural(1024, "signal") == "1,024 signals"
    assert fmt.plural(1, "entry", "entries") == "1 entry" and fmt.plural(3, "entry", "entries") == "3 entries"
    assert fmt.noun(1, "bit") == "bit" and fmt.noun(5, "bit") == "bits"
    assert fmt.number(82_057) == "82,057"


def test_bit_counts_have_one_form():
    assert FRAME_10K == 82_057
    assert fmt.bits(1) == "1 bit"
    assert fmt.bits(617) == "617 bits"
    assert fmt.bits(82_057) == "82,057 bits"
    assert fmt.bits(134_217_865) == "134,217,865 bits"


def test_attempts_are_numbered_from_one():
    assert fmt.attempt(0) == "attempt 1"
    assert fmt.attempt(4) == "attempt 5"


def test_sizes_and_exact_sizes():
    assert fmt.human_bytes(42) == "42 B"
    assert fmt.human_bytes(1 << 20) == "1.0 MiB"
    assert fmt.exact_bytes(16_777_216) == "16,777,216 B"


def test_the_docstring_states_every_rule():
    doc = fmt.__doc__
    for name in ("plural", "bits", "human_bytes", "exact_bytes", "human_rate", "human_duration", "attempt"):
        assert f"``{name}``" in doc, name
    assert "``82,057 bits``" in doc and "0-based" in doc


def test_format_imports_nothing_at_start_up():
    """``sigchat-send -v`` imports it after the transfer: it must cost nothing."""
    code = "import sys; before = set(sys.modules); import sigchat.format; print(sorted(set(sys.modules) - before))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "['__future__', 'sigchat', 'sigchat.format']"


# --------------------------------------------------------------------------- no number worded elsewhere

NUMBER_FORMAT = re.compile(r"\{[^{}]*:[,_]?(?:\.\d+)?[,_]?[dfge%]?\}|\{[^{}]*:,\}|\bhuman_count\(")
"""A format spec that words a number (``{n:,}``, ``{x:.3f}``, ``{v:.3g}``), or the SI prefixes for a count."""
PENDING = {
    "tui/widgets/inspector.py": "the inspector (not routed yet: another developer's file)",
    "tui/widgets/save_dialog.py": "the save dialog's count (not routed yet)",
}
"""Modules that still word their own numbers; each should go (route it through ``sigchat.format``)."""


def test_no_module_but_format_words_a_number():
    offending = {}
    for path in sorted(SRC.rglob("*.py")):
        name = path.relative_to(SRC).as_posix()
        if name == "format.py" or name in PENDING:
            continue
        found = [m.group() for m in NUMBER_FORMAT.finditer(path.read_text()) if ":" in m.group() or "human_count" in m.group()]
        # Not worded numbers: layout (``{label:<9}``), hex and binary digits (``{byte:02x}``), and an option's
        # value echoed as typed (``--timeout {timeout:g}``).
        found = [spec for spec in found if not re.search(r":[<>^]\d*\}|:0?\d*[xXb]\}|:g\}$", spec)]
        if found:
            offending[name] = found
    assert offending == {}
    assert all((SRC / name).exists() for name in PENDING)


def test_the_number_format_check_can_fail():
    assert NUMBER_FORMAT.search('f"{count:,} bits"') and NUMBER_FORMAT.search('f"{s.duration:.3f} s"')
    assert NUMBER_FORMAT.search("human_count(totals.bits, ' bits')")


# --------------------------------------------------------------------------- the places that show bit counts


def stats(length: int, *, attempt: int = 0, retrans: int = 0) -> TransferStats:
    return demo.make_stats(4242, length, 0.0, attempt=attempt, retrans=retrans)


def entry(data: bytes, **kwargs) -> Entry:
    return Entry(0, Kind.DELIVERED, 4242, "bash", demo.WALL0, data, stats=stats(len(data), **kwargs))


def test_the_chat_log_counts_bits_the_one_way():
    plain = stats_content(entry(b"x" * 10_240)).plain
    assert "82,057 bits" in plain and "82.1k" not in plain
    assert f"{fmt.plural(FRAME_10K + 1, 'signal')} in session" in plain


def test_the_banner_counts_bits_and_messages_the_one_way():
    async def body(app, pilot):
        demo.deliver(app, 4242, b"x" * 10_240)
        await pilot.pause()
        app._tick()
        await pilot.pause()
        assert "1 message · 10.0 KiB · 82,057 bits received" in screen_text(app)
        demo.deliver(app, 4242, b"y")
        demo.deliver(app, 4242, b"y", duplicate=True)
        await pilot.pause()
        app._tick()
        await pilot.pause()
        text = screen_text(app)
        assert "2 messages · " in text and "1 repeat ignored" in text, text

    run_app(body, make_app())


def test_in_flight_counts_bits_the_one_way():
    async def body(app, pilot):
        await demo.start_in_flight(app, pilot, steps=3)
        await pilot.pause()
        detail = str(app.query_one("#inflight-detail").content)
        assert re.match(rf"[\d,]+ / {fmt.bits(FRAME_10K)} · ", detail), detail
        assert "82,057 bits" in detail

    run_app(body, make_app())


def test_the_senders_list_agrees_with_its_counts():
    from sigchat.tui.widgets.senders import all_prompt
    from sigchat.tui.model import Totals

    assert "1 sender · 1 msg · " in all_prompt(Totals(messages=1), 1, selected=False).plain
    assert "2 senders · 0 msgs · " in all_prompt(Totals(), 2, selected=False).plain


def send_result(**fields) -> SimpleNamespace:
    s = SenderStats(10_240)
    s.frame_bits, s.signals_sent, s.signals_received = FRAME_10K, FRAME_10K + 8, FRAME_10K + 8
    s.retransmissions, s.attempts, s.started_at, s.ended_at = 1, 1, 0.0, 1.5
    for key, value in fields.items():
        setattr(s, key, value)
    return SimpleNamespace(stats=s)


def test_sigchat_send_v_words_its_numbers_with_format():
    from sigchat.send import format_stats

    line = format_stats(send_result())
    assert line == (
        "sigchat-send: 10,240 bytes, 1 bit per signal, 82,057 bits, 82,065 signals sent, "
        "82,065 received (the whole signature included), 1 retransmission, 1 attempt, 1.50 s, 54.6 kbit/s"
    )
    line = format_stats(send_result(turbo=True, words=1, attempts=2, retransmissions=0, length=1))
    assert line.startswith("sigchat-send: 1 byte, turbo (1 word, 1 per round trip), ") and ", 0 retransmissions, 2 attempts, " in line
    assert "attempt(s)" not in line


def test_sigchat_send_v_classic_words_its_numbers_with_format():
    from sigchat.send import format_classic_stats

    s = SimpleNamespace(length=1, bits=16, signals_sent=16, signals_received=1, acks=1, missing_acks=0,
                        paced=False, duration=0.002, bits_per_second=4000.0)  # fmt: skip
    assert format_classic_stats(SimpleNamespace(stats=s), "msb") == (
        "sigchat-send: classic msb: 1 byte, 16 bits, 16 signals sent, 1 received, 1 ack, 0 missing, 2 ms, 4 kbit/s"
    )


def test_the_bench_reads_the_v_line():
    """scripts/bench.py parses the ``-v`` line; it must keep up with its wording."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import bench
    finally:
        sys.path.pop(0)
    from sigchat.send import format_stats

    transfer = bench.parse_stats(format_stats(send_result()), 10_240, "1-bit")
    assert (transfer.attempts, transfer.retransmissions) == (1, 1)
    assert transfer.duration == pytest.approx(1.5) and transfer.bits_per_second == pytest.approx(8 * 10_240 / 1.5, rel=5e-3)
    long = format_stats(send_result(ended_at=65.0, turbo=True, words=1707))
    assert bench.parse_stats(long, 10_240, "turbo").duration == 65.0
    with pytest.raises(bench.BenchError):
        bench.parse_stats(format_stats(send_result()), 10_240, "turbo")


# --------------------------------------------------------------------------- attempts, numbered from 1


def test_attempts_are_shown_from_one_and_the_record_keeps_the_wire_value():
    second = entry(b"hello", attempt=1)
    assert " · attempt 2" in stats_content(second).plain
    assert "attempt" not in stats_content(entry(b"hello")).plain  # the first try says nothing
    event = protocol.MessageDelivered(4242, b"hello", second.stats, False)
    assert records.record_of(event, demo.WALL0)["attempt"] == 1  # 0-based, as on the wire


# --------------------------------------------------------------------------- one turbo claim


def test_one_measured_turbo_claim():
    readme = (ROOT / "README.md").read_text()
    assert "about 40–65× faster" in readme
    # The bench table (docs/PERFORMANCE.md) measured it: every turbo row against 1-bit mode is 40-65x (rounded).
    performance = (ROOT / "docs" / "PERFORMANCE.md").read_text()
    ratios = [float(x) for x in re.findall(r"\| ([\d.]+)x 1-bit \d+ KB", performance)]
    assert ratios and all(40 <= round(ratio) <= 65 for ratio in ratios), ratios
    from sigchat.send import build_parser

    help_text = build_parser().format_help()
    assert "about 40-65x faster" in help_text
    for path in [*SRC.rglob("*.py"), ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        assert not re.search(r"~\s*40\s*[x×]", path.read_text()), path


# --------------------------------------------------------------------------- the two signal counts


def test_the_two_signal_counts_of_one_transfer_differ_by_the_signature_and_say_so():
    """The sender counts the whole 8-signal signature; the server from its last bit (the session's start)."""
    from simkernel import SimKernel

    kernel = SimKernel(random.Random(0), ordered=True, step=1e-5, now=0.0)
    sim = kernel.add_sender(b"x" * 60)
    kernel.run()
    (delivered,) = kernel.delivered()
    sender, server = sim.proto.stats, delivered.stats
    assert (sender.signals_sent, server.signals_received) == (625, 618)  # the figures of issue 17
    assert sender.signals_sent - server.signals_received == protocol.SIGNATURE_LENGTH - 1
    log = stats_content(Entry(0, Kind.DELIVERED, 4242, "x", demo.WALL0, b"x" * 60, stats=server)).plain
    assert "618 signals in session" in log
    from sigchat.send import format_stats

    assert "625 signals sent, 625 received (the whole signature included)" in format_stats(SimpleNamespace(stats=sender))


# --------------------------------------------------------------------------- the classic mark


def test_the_classic_mark_is_explained_where_it_is_first_shown():
    classic = Entry(0, Kind.DELIVERED, 4400, "minitalk", demo.WALL0, b"hi", stats=stats(2), mode="classic", profile="msb")
    first = "\n".join(body.plain for _, body in entry_visual(classic, header=True, tz=None).rows)
    later = "\n".join(body.plain for _, body in entry_visual(classic, header=False, tz=None).rows)
    assert "○ classic, no integrity check · 2 B · " in first
    assert "○ 2 B · " in later and "no integrity check" not in later
