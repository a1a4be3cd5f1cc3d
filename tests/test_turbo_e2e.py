"""Turbo words end to end: real ``sigchat-server --plain`` and ``sigchat-send --turbo`` processes.

The guarantees are those of 1-bit mode: intact, exactly once, never mixed,
with a fallback to 1 bit per signal when the server declines. Every signal
goes to a process started by the test itself (see ``helpers``).
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import helpers
from sigchat.proto import api as protocol

pytestmark = pytest.mark.timeout(120)

TOOLS = Path(__file__).parent / "stress_tools"
STATS_RE = re.compile(r"^sigchat-send: (?P<bytes>[\d,]+) bytes?, (?P<mode>turbo \((?P<words>[\d,]+) words?, (?P<group>[123]) per round trip\)|1 bit per signal), ", re.M)


def payload(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def stats(result: helpers.SendResult) -> re.Match:
    match = STATS_RE.search(result.stderr)
    assert match, result.stderr
    return match


def test_turbo_message_arrives_intact_as_words(server):
    data = payload(300_000, 1)
    result = helpers.run_sender(["-v", "--turbo", str(server.pid)], stdin=data, timeout=90)
    assert result.returncode == 0, result.stderr
    match = stats(result)
    assert match["mode"].startswith("turbo") and int(match["words"].replace(",", "")) == protocol.word_count(len(data))
    assert match["group"] == "3"  # triples: the first word of each to the server's receiving thread
    # Were the first word queued to the process, its SIGUSR1 slot would merge it with the second:
    # every triple lost and resent. Load can cost a few resends, never one per tenth of the triples.
    retransmissions = int(re.search(r"([\d,]+) retransmissions?, ", result.stderr)[1].replace(",", ""))
    assert retransmissions < protocol.word_count(len(data)) // 30, result.stderr
    assert "note:" not in result.stderr
    server.wait_body(data + b"\n", timeout=30)
    server.wait_stderr(rf"^sigchat-server: sender {result.pid} \(sigchat-send\) started$")
    server.expect_delivered = 1


@pytest.mark.parametrize("size", [0, 1, 5, 6, 7, 12, 13])
def test_turbo_word_boundaries(shared_server, size):
    """Lengths around the 6-byte word: padding never reaches the output."""
    server = shared_server
    data = bytes(range(200, 200 + size))
    mark = server.mark()
    result = helpers.run_sender(["-v", "--turbo", str(server.pid)], stdin=data, timeout=30)
    assert result.returncode == 0, result.stderr
    words = protocol.word_count(size)
    assert stats(result)["mode"] == f"turbo ({words:,} word{'' if words == 1 else 's'}, 3 per round trip)"
    server.wait_since(mark, data + b"\n")


def test_server_that_declines_gets_one_bit_per_signal(start_server):
    server = start_server("--no-turbo")
    data = payload(2_000, 2)
    result = helpers.run_sender(["-v", "--turbo", str(server.pid)], stdin=data, timeout=60)
    assert result.returncode == 0, result.stderr
    assert stats(result)["mode"] == "1 bit per signal"
    assert "sigchat-send: note: 1 bit per signal, not turbo: the server declined turbo words" in result.stderr_lines
    server.wait_body(data + b"\n")
    server.expect_delivered = 1


def test_turbo_and_one_bit_senders_at_once(server):
    """Six senders at once, half of them turbo: each message exactly once, intact, never mixed."""
    sizes = {i: 20_000 + 3_000 * i if i % 2 == 0 else 600 + 100 * i for i in range(6)}  # turbo: big, 1-bit: small
    messages = {i: f"sender {i} ".encode() + payload(sizes[i], 10 + i).hex().encode() for i in range(6)}
    results: dict[int, helpers.SendResult] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(messages))

    def run(i: int) -> None:
        try:
            barrier.wait(10)
            args = (["--turbo"] if i % 2 == 0 else []) + ["-v", str(server.pid)]
            results[i] = helpers.run_sender(args, stdin=messages[i], timeout=100)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in messages]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(110)
    assert not errors, errors
    for i, result in results.items():
        assert result.returncode == 0, (i, result.stderr)
        assert stats(result)["mode"].startswith("turbo" if i % 2 == 0 else "1 bit")
    lines = server.wait_lines(len(messages), timeout=30)
    assert sorted(lines) == sorted(messages.values())
    server.expect_delivered = len(messages)


@pytest.mark.skipif(sys.maxsize <= 2**32, reason="turbo needs 64-bit Linux")
def test_forged_words_do_not_reach_the_output(server, children):
    """A process forges turbo words in the active sender's name (``rt_sigqueueinfo``
    lets it claim any ``si_pid``) all through a turbo transfer: the message still
    arrives intact and once, and nothing else is written."""
    # ~1 s of word pairs, so that the forger (forging before the transfer starts) forges into
    # them; one forged word every 2 ms, for each forged SIGUSR1 can cost a pair (see
    # PROTOCOL.md, "Turbo words": it waits in the slot for the pair's SIGUSR1 word).
    data = payload(600_000, 3)
    sender = helpers.sender_popen(["-v", "--turbo", str(server.pid)], stdin=data)
    children.append(sender)
    forger = subprocess.Popen(
        [sys.executable, str(TOOLS / "forge.py"), str(server.pid), "--as-pid", str(sender.pid), "--words", "--every", "0.002"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=helpers.unblock_signals,
    )
    children.append(forger)
    # The sender starts once its stdin is read: only when the forger is forging (a loaded
    # machine may take longer to start the forger than the transfer lasts).
    assert forger.stderr.readline() == b"forging\n"
    finished: list[tuple[bytes, bytes]] = []
    talker = threading.Thread(target=lambda: finished.append(sender.communicate(data, timeout=100)), daemon=True)
    talker.start()
    talker.join(110)
    assert finished, "the sender did not finish"
    assert sender.returncode == 0, finished[0][1]
    out, forger_err = forger.communicate(timeout=30)
    assert forger.returncode == 0, forger_err
    forged = json.loads(out)["sent"]
    assert forged > 100, f"the forger only sent {forged} words: the test proves nothing"
    server.wait_body(data + b"\n", timeout=30)
    stopped = server.stop()
    assert int(stopped.summary["delivered"]) == 1
    assert int(stopped.summary["stray"]) > 0, stopped.stderr


def test_turbo_sender_killed_mid_words_then_the_next_one_gets_through(server, children):
    data = payload(2_000_000, 4)
    victim = helpers.sender_popen(["--turbo", str(server.pid)], stdin=data)
    children.append(victim)
    threading.Thread(target=lambda: (victim.stdin.write(data), victim.stdin.close()), daemon=True).start()
    server.wait_stderr(rf"^sigchat-server: sender {victim.pid} \(sigchat-send\) started$", timeout=30)
    # The header takes ~100 signals (milliseconds); 2 MB of words take seconds of CPU.
    helpers.wait_until(lambda: cpu_seconds(victim.pid) > 0.5, 60, "the sender to be well into its words")
    victim.kill()
    victim.wait(10)
    match = server.wait_stderr(rf"transfer from {victim.pid} aborted: sender exited mid-transfer \((\d+) of {len(data)} bytes\)", timeout=10)
    assert 0 < int(match.group(1)) < len(data)
    after = payload(50_000, 5)
    result = helpers.run_sender(["--turbo", str(server.pid)], stdin=after, timeout=60)
    assert result.returncode == 0, result.stderr
    server.wait_body(after + b"\n", timeout=30)
    server.expect_delivered = 1


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as file:
            fields = file.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_receiver_notes_once_when_it_cannot_read_turbo_words(monkeypatch):
    """Where ``sigqueue``/``si_value`` cannot be used, the server says so (plain mode: on stderr)
    and serves ``--turbo`` senders 1 bit per signal (the fallback)."""
    from sigchat.sigio import receiver as receiver_module

    monkeypatch.setattr(receiver_module, "open_words", lambda: (None, "no sigqueue here (test)"))
    notes: list[str] = []
    noted = threading.Event()
    receiver = receiver_module.Receiver(
        protocol.Server(turbo=True), lambda event: None, on_note=lambda text: (notes.append(text), noted.set()), pin_cpu=False
    )
    receiver.start()
    try:
        assert noted.wait(10)
    finally:
        receiver.stop()
    assert notes == ["turbo words unavailable (no sigqueue here (test)): --turbo senders send 1 bit per signal"]
    assert receiver.server.turbo is False and receiver.error is None
