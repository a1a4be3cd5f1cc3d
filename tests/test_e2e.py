"""End to end: a real ``sigchat-server --plain`` and real ``sigchat-send`` processes.

Every signal goes to a process started by the test itself (see ``helpers``).
"""

from __future__ import annotations

import base64
import json
import os
import random
import re
import select
import signal
import subprocess
import sys
import threading
import time

import pytest

import helpers
import sigchat
from sigchat import exit_codes
from sigchat.format import human_bytes
from sigchat.proto import api as protocol
from sigchat.sigio import procfs
from sigchat.sigio.masks import unblock_signals

pytestmark = pytest.mark.timeout(90)

EMOJI_CJK_RTL = "héllo 👋🏽 🇫🇷 👨‍👩‍👧 — 你好，世界 — こんにちは — שלום עולם — مرحبا بالعالم ‏RTL‏ ∑∞"
PUNCTUATION = "line 1\nline 2\r\n\ttab 'single' \"double\" back\\slash \\n $HOME `x` %s {} \\\\ \n"


def text_1000() -> str:
    rng = random.Random(1000)
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ABCXYZ0123456789.,;!?") for _ in range(1000))


ARGV_CASES = {
    "empty": b"",
    "one-char": b"a",
    "1000-chars": text_1000().encode(),
    "emoji-cjk-rtl": EMOJI_CJK_RTL.encode(),
    "newlines-quotes-backslashes": PUNCTUATION.encode(),
    "invalid-utf8": b"\xff\xfe bad \x80\xc3( \xed\xa0\x80 end \xf0\x28\x8c\xbc",
    "leading-dash-after-double-dash": b"-not-an-option",
}

STDIN_CASES = {
    "empty": b"",
    "nul-bytes": b"\x00a\x00\x00b\x00",
    "invalid-utf8": b"\xc0\xaf\xff\x00\xfe\x80\x80",
    "all-byte-values": bytes(range(256)),
    "trailing-newline": b"piped\n",
}


@pytest.mark.parametrize("message", ARGV_CASES.values(), ids=ARGV_CASES.keys())
def test_message_as_argument(shared_server, message: bytes):
    server = shared_server
    mark = server.mark()
    args = [str(server.pid), message] if not message.startswith(b"-") else ["--", str(server.pid), message]
    result = helpers.run_sender(args, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"" and result.stderr == ""
    server.wait_since(mark, message + b"\n")


@pytest.mark.parametrize("locale", ["C", "C.UTF-8"])
def test_invalid_utf8_argument_in_any_locale(shared_server, locale: str):
    """The exact bytes of an argument are sent, whatever the locale says about them."""
    server = shared_server
    mark = server.mark()
    message = b"caf\xe9 \xff\xfe \xe2\x82 ok"
    env = {**os.environ, "LC_ALL": locale, "LANG": locale}
    env.pop("PYTHONUTF8", None)
    result = helpers.run_sender([str(server.pid), message], timeout=30, env=env)
    assert result.returncode == 0, result.stderr
    server.wait_since(mark, message + b"\n")


@pytest.mark.parametrize("message", STDIN_CASES.values(), ids=STDIN_CASES.keys())
def test_message_on_stdin(shared_server, message: bytes):
    server = shared_server
    mark = server.mark()
    result = helpers.run_sender([str(server.pid)], stdin=message, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    server.wait_since(mark, message + b"\n")


def test_message_on_stdin_with_dash(shared_server):
    server = shared_server
    mark = server.mark()
    message = b"dash\x00\xffmeans stdin\n"
    result = helpers.run_sender([str(server.pid), "-"], stdin=message, timeout=30)
    assert result.returncode == 0, result.stderr
    server.wait_since(mark, message + b"\n")


@pytest.mark.timeout(120)
def test_20000_chars(shared_server):
    server = shared_server
    mark = server.mark()
    rng = random.Random(20000)
    message = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789 \n") for _ in range(20000)).encode()
    result = helpers.run_sender(["-v", str(server.pid)], stdin=message, timeout=100)
    assert result.returncode == 0, result.stderr
    # -v: exactly one statistics line
    assert len(result.stderr_lines) == 1 and result.stderr_lines[0].startswith("sigchat-send: 20,000 bytes, ")
    server.wait_since(mark, message + b"\n")


def test_fifteen_in_a_row_exact_stdout(server):
    messages = [
        b"",
        b"x",
        EMOJI_CJK_RTL.encode(),
        PUNCTUATION.encode(),
        b"\xff\xfe invalid \x80",
        b"with\x00nul",
        b"\n",
        b"\n\n",
        b"Server PID: 1",
        text_1000()[:300].encode(),
        b" leading and trailing spaces ",
        b"\t",
        "ünïcödé".encode(),
        b"\r",
        b"the end",
    ]
    assert len(messages) == 15
    for message in messages:
        via_stdin = b"\x00" in message
        result = helpers.send_ok(server, message, via_stdin=via_stdin, timeout=30)
        assert result.stderr == ""
    expected = b"".join(message + b"\n" for message in messages)
    server.wait_body(expected)
    assert server.stdout == f"Server PID: {server.pid}\n".encode() + expected
    stopped = server.stop()
    assert stopped.returncode == 0
    assert stopped.summary and int(stopped.summary["delivered"]) == 15
    assert stopped.summary["size"] == human_bytes(sum(map(len, messages)))
    assert int(stopped.summary["aborted"]) == 0
    # stderr: one line per diagnostic, one "started" line per sender, no abort or rejection
    lines = stopped.stderr.splitlines()
    assert all(line.startswith("sigchat-server: ") for line in lines), lines
    started = [line for line in lines if re.fullmatch(r"sigchat-server: sender \d+ \(.*\) started", line)]
    assert len(started) == 15, lines
    assert not [line for line in lines if "aborted" in line.split(";")[0] or "rejected" in line], lines


def test_module_command_sends_too(shared_server):
    server = shared_server
    mark = server.mark()
    result = helpers.run_sender([str(server.pid), "via python -m"], command=helpers.MODULE_SEND_CMD, timeout=30)
    assert result.returncode == 0, result.stderr
    server.wait_since(mark, b"via python -m\n")


JSON_FIELDS = {
    "pid": int,
    "bytes": int,
    "bits": int,
    "signals_received": int,
    "signals_sent": int,
    "retransmissions": int,
    "duration": (int, float),
    "bits_per_second": (int, float),
}


def thread_cpus(pid: int) -> dict[int, set[int]]:
    return {int(tid): os.sched_getaffinity(int(tid)) for tid in os.listdir(f"/proc/{pid}/task")}


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs to place threads on")
def test_receiver_thread_pins_itself_to_the_last_cpu_unless_no_affinity(start_server):
    """Senders join the receiver thread's CPU. The plain server's main thread only waits: it
    stays free (the Textual app's threads join the receiver's CPU: tests/test_tui_pty.py).
    ``--no-affinity`` leaves every thread where it was."""
    every = os.sched_getaffinity(0)
    pinned = start_server()
    helpers.wait_until(lambda: procfs.receiver_cpus(pinned.pid) == {max(every)}, 10, "the receiver thread to pin itself")
    assert os.sched_getaffinity(pinned.pid) == every
    helpers.send_ok(pinned, "placed")
    free = start_server("--no-affinity")
    helpers.wait_until(lambda: procfs.receiver_tid(free.pid) is not None, 10, "the receiver thread")
    helpers.send_ok(free, "not placed")
    assert all(cpus == every for cpus in thread_cpus(free.pid).values())


def test_json_mode(start_server):
    server = start_server("--json")
    # every stdout line is JSON, the first one the "listening" record (`sigchat-server --json | jq` works)
    listening = json.loads(server.header)
    assert listening == {
        "time": listening["time"],
        "event": "listening",
        "pid": server.pid,
        "version": sigchat.__version__,
        "classic": "msb,usr2=1,nul,ack=usr1",
        "native": True,
        "turbo": True,
        "max_bytes": protocol.DEFAULT_MAX_BYTES,
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", listening["time"]), listening
    messages = [b"hello json", EMOJI_CJK_RTL.encode(), b"", b"quote \" backslash \\ newline \n end", b"\xff\x00\xfe bin"]
    pids = []
    for message in messages:
        result = helpers.send_ok(server, message, via_stdin=True, timeout=30)
        pids.append(result.pid)
    lines = server.wait_lines(len(messages))
    assert len(lines) == len(messages)
    for line, message, pid in zip(lines, messages, pids):
        record = json.loads(line)
        assert isinstance(record, dict)
        for name, kind in JSON_FIELDS.items():
            assert isinstance(record.get(name), kind), (name, record)
        assert record["pid"] == pid
        assert record["bytes"] == len(message)
        assert record["bits"] >= 8 * len(message)
        assert record["signals_received"] >= record["bits"]
        assert record["signals_sent"] >= record["bits"]
        assert record["retransmissions"] >= 0
        assert record["duration"] > 0 and record["bits_per_second"] >= 0
        try:
            text = message.decode("utf-8")
        except UnicodeDecodeError:
            assert "text" not in record
            assert base64.b64decode(record["base64"], validate=True) == message
        else:
            assert record["text"] == text and "base64" not in record
    server.expect_delivered = len(messages)


@pytest.mark.timeout(120)
def test_four_senders_at_once(server):
    senders, per_sender = 4, 3
    expected = [
        f"sender {s} message {m} ".encode() + bytes([65 + (s * 7 + m * 3 + i) % 26 for i in range(40 + 30 * m)])
        for s in range(senders)
        for m in range(per_sender)
    ]
    results: dict[bytes, helpers.SendResult] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(senders)

    def run(s: int) -> None:
        try:
            barrier.wait(10)
            for m in range(per_sender):
                message = expected[s * per_sender + m]
                results[message] = helpers.run_sender([str(server.pid), message], timeout=60)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(s,)) for s in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(100)
    assert not errors, errors
    assert all(not thread.is_alive() for thread in threads)
    for message, result in results.items():
        assert result.returncode == 0, (message, result.stderr)
    total = sum(len(message) + 1 for message in expected)
    server.out.wait_for(lambda data: len(data) - len(server.header) >= total, 10, "every message")
    lines = server.body.split(b"\n")
    assert lines[-1] == b""
    lines = lines[:-1]
    assert sorted(lines) == sorted(expected)  # each exactly once, intact, never mixed
    assert len(set(lines)) == len(lines)
    # each sender's own messages arrive in its order (they were sent one after another)
    for s in range(senders):
        own = [line for line in lines if line.startswith(f"sender {s} ".encode())]
        assert own == expected[s * per_sender : (s + 1) * per_sender]
    server.expect_delivered = len(expected)


def wait_mid_transfer(server: helpers.Server, sender) -> None:
    """Wait until the server says ``sender`` started, then until it has sent a few hundred bits."""
    server.wait_stderr(rf"^sigchat-server: sender {sender.pid} \(.*\) started$", 20)
    before = helpers.voluntary_switches(sender.pid)
    try:  # a sender blocks in sigtimedwait once per bit: ~500 switches = well into the payload
        helpers.wait_until(lambda: helpers.voluntary_switches(sender.pid) - before > 500 or sender.poll() is not None, 5, "progress")
    except AssertionError:
        pass  # still mid-transfer, just earlier in the frame
    assert sender.poll() is None, "the sender finished before it could be interrupted"


def kill_sender_mid_transfer(server: helpers.Server, children) -> tuple[int, float, re.Match]:
    """Start a sender of 20000 bytes and SIGKILL it mid-transfer: its pid, when, and the server's abort line."""
    message = bytes(random.Random(7).choice(b"abcdefghij") for _ in range(20000))
    sender = helpers.sender_popen([str(server.pid)], stdin=message)
    children.append(sender)
    sender.stdin.write(message)
    sender.stdin.close()
    wait_mid_transfer(server, sender)
    sender.kill()  # SIGKILL, our own child
    killed_at = time.monotonic()
    sender.wait(10)
    match = server.wait_stderr(
        rf"^sigchat-server: transfer from {sender.pid} aborted: (?P<reason>[^(]*) \((?P<got>[^)]*)\); nothing delivered$", 10
    )
    return sender.pid, killed_at, match


@pytest.mark.timeout(120)
def test_sender_killed_mid_transfer(start_server, children):
    server = start_server("--session-timeout", "1")
    _, killed_at, match = kill_sender_mid_transfer(server, children)
    detected = time.monotonic() - killed_at
    assert detected < 1 + 3.0, f"abort reported {detected:.2f} s after the kill"
    got = match["got"]
    partial = re.fullmatch(r"(\d+) of (\d+) bytes", got)
    assert partial or got == "before the header", got
    if partial:
        assert int(partial[2]) == 20000 and int(partial[1]) < 20000
    assert server.body == b"", "a partial message was printed"
    # the server is free again: another sender succeeds, and only its message appears
    helpers.send_ok(server, "after the crash", timeout=30)
    server.wait_body(b"after the crash\n")
    stopped = server.stop()
    assert stopped.returncode == 0 and stopped.summary
    assert int(stopped.summary["delivered"]) == 1 and int(stopped.summary["aborted"]) == 1


@pytest.mark.timeout(120)
def test_json_mode_reports_native_aborts(start_server, children):
    """``--json`` writes an ``aborted`` record for a native transfer that was rejected (too large) or cut
    short (sender SIGKILLed), with the reason the stderr line gives, in order with the deliveries."""
    server = start_server("--json", "--max-bytes", "30000", "--session-timeout", "1")
    result = helpers.run_sender([str(server.pid)], stdin=b"m" * 40000, timeout=30)
    assert result.returncode == exit_codes.REJECTED, result.stderr
    killed_pid, _, match = kill_sender_mid_transfer(server, children)
    helpers.send_ok(server, "after the aborts", timeout=30)
    rejected, killed, delivered = (json.loads(line) for line in server.wait_lines(3))
    assert rejected["event"] == "aborted" and rejected["mode"] == "native", rejected
    assert rejected["pid"] == result.pid and rejected["bytes"] == 40000
    assert rejected["reason"] == protocol.AbortReason.TOO_LARGE.value
    assert killed["event"] == "aborted" and killed["mode"] == "native", killed
    assert killed["pid"] == killed_pid and killed["reason"] == match["reason"]
    assert killed["bytes"] == (0 if match["got"] == "before the header" else 20000)
    for record in (rejected, killed):
        for name, kind in JSON_FIELDS.items():
            assert isinstance(record.get(name), kind), (name, record)
        assert not {"text", "base64", "duplicate", "partial_text", "partial_base64"} & record.keys(), record
    assert delivered["event"] == "delivered" and delivered["text"] == "after the aborts"
    server.expect_delivered = 1


@pytest.mark.timeout(60)
def test_server_killed_mid_transfer(start_server, children):
    server = start_server()
    message = b"z" * 20000
    timeout = 2.0
    sender = helpers.sender_popen(["--timeout", str(timeout), str(server.pid)], stdin=message)
    children.append(sender)
    sender.stdin.write(message)
    sender.stdin.close()
    wait_mid_transfer(server, sender)
    server.killed = True
    server.kill()  # SIGKILL and reap: the pid is gone
    killed_at = time.monotonic()
    returncode = sender.wait(timeout + 10)
    elapsed = time.monotonic() - killed_at
    stderr = sender.stderr.read().decode()
    assert returncode == exit_codes.SERVER_GONE, stderr
    assert elapsed < timeout + 3.0, f"sender took {elapsed:.2f} s after the server died"
    assert len(stderr.splitlines()) == 1 and stderr.startswith("sigchat-send: "), stderr
    assert str(server.pid) in stderr


@pytest.mark.timeout(60)
def test_server_killed_while_unreaped_zombie(start_server, children):
    """A SIGKILLed server that its parent has not reaped yet (a zombie) is gone too."""
    server = start_server()
    message = b"q" * 20000
    timeout = 2.0
    sender = helpers.sender_popen(["--timeout", str(timeout), str(server.pid)], stdin=message)
    children.append(sender)
    sender.stdin.write(message)
    sender.stdin.close()
    wait_mid_transfer(server, sender)
    server.killed = True
    server.proc.send_signal(signal.SIGKILL)  # not reaped until the sender is done
    killed_at = time.monotonic()
    returncode = sender.wait(timeout + 10)
    elapsed = time.monotonic() - killed_at
    server.proc.wait(10)
    stderr = sender.stderr.read().decode()
    assert returncode == exit_codes.SERVER_GONE, stderr
    assert elapsed < timeout + 3.0


def test_max_bytes_rejects_longer_message(start_server):
    server = start_server("--max-bytes", "100")
    result = helpers.run_sender([str(server.pid), "m" * 1000], timeout=30)
    assert result.returncode == exit_codes.REJECTED, result.stderr
    assert len(result.stderr_lines) == 1
    line = result.stderr_lines[0]
    assert line.startswith("sigchat-send: ") and "too large" in line and "1000" in line, line
    server.wait_stderr(r"^sigchat-server: rejected message from \d+: 1000 bytes is over --max-bytes 100$")
    # at the limit is fine, and the rejected message never appears
    helpers.send_ok(server, "k" * 100, timeout=30)
    server.wait_body(b"k" * 100 + b"\n")
    server.expect_delivered = 1


def test_max_bytes_zero_allows_only_empty(start_server):
    server = start_server("--max-bytes", "0")
    result = helpers.run_sender([str(server.pid), "a"], timeout=30)
    assert result.returncode == exit_codes.REJECTED, result.stderr
    helpers.send_ok(server, "", timeout=30)
    server.wait_body(b"\n")
    server.expect_delivered = 1


@pytest.mark.parametrize("which", ["above-pid-max", "reaped-child"])
def test_no_such_process(which: str):
    pid = helpers.nonexistent_pid() if which == "above-pid-max" else helpers.reaped_pid()
    result = helpers.run_sender([str(pid), "hello"], timeout=30)
    assert result.returncode == exit_codes.NO_SUCH_PROCESS, result.stderr
    assert len(result.stderr_lines) == 1 and result.stderr_lines[0].startswith("sigchat-send: "), result.stderr
    assert str(pid) in result.stderr


def test_unsafe_target_is_refused(victim):
    result = helpers.run_sender([str(victim.pid), "hello"], timeout=30)
    assert result.returncode == exit_codes.UNSAFE_TARGET, result.stderr
    assert len(result.stderr_lines) == 1 and result.stderr_lines[0].startswith("sigchat-send: "), result.stderr
    assert "--force" in result.stderr
    assert helpers.is_alive(victim), "the victim was signalled"


def test_unsafe_target_via_stdin_is_refused_too(victim):
    result = helpers.run_sender([str(victim.pid)], stdin=b"hello", timeout=30)
    assert result.returncode == exit_codes.UNSAFE_TARGET, result.stderr
    assert helpers.is_alive(victim)


def test_a_process_that_catches_the_signals_is_refused(make_catcher):
    """A process that catches SIGUSR1 but is no sigchat server (no receiver thread; an interactive shell,
    say: its handler would react) is refused with one line naming it, and gets no signal."""
    catcher = make_catcher("catch")
    result = helpers.run_sender([str(catcher.pid), "hello"], timeout=30)
    assert result.returncode == exit_codes.UNSAFE_TARGET, result.stderr
    assert result.stderr_lines == [
        f"sigchat-send: refusing to signal {catcher.pid} ({procfs.comm(catcher.pid)}): it is not a sigchat server (it has no sigchat-recv "
        "thread) and it catches SIGUSR1 and SIGUSR2, so its handler would react (an interactive shell's does); "
        "--classic if it is a classic minitalk server, --force to send anyway"
    ], result.stderr
    assert catcher.stop() == (0, 0)


@pytest.mark.parametrize("mode", ["catch", "ignore", "block"])
def test_not_a_sigchat_server_no_answer(make_catcher, mode: str):
    """(``--force`` for the catcher: see the test above.)"""
    catcher = make_catcher(mode)
    force = ["--force"] if mode == "catch" else []
    result = helpers.run_sender([*force, "--timeout", "1", str(catcher.pid), "hello"], timeout=30)
    assert result.returncode == exit_codes.NO_ANSWER, result.stderr
    assert len(result.stderr_lines) == 1 and result.stderr_lines[0].startswith("sigchat-send: "), result.stderr
    assert result.elapsed < 5.0, f"took {result.elapsed:.2f} s with --timeout 1"
    assert catcher.alive()
    usr1, usr2 = catcher.stop()
    if mode == "catch":
        assert usr1 + usr2 >= 1  # it was tried (and it survived)


def test_sigint_stops_the_server_cleanly(server):
    helpers.send_ok(server, "before sigint", timeout=30)
    server.wait_body(b"before sigint\n")
    stopped = server.stop(signal.SIGINT)
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.summary and int(stopped.summary["delivered"]) == 1


def test_log_file(start_server, tmp_path):
    log = tmp_path / "messages.jsonl"
    server = start_server("--log", str(log))
    helpers.send_ok(server, "logged", timeout=30)
    helpers.send_ok(server, b"\xff", timeout=30)
    server.wait_body(b"logged\n\xff\n")
    server.stop()
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r.get("text") for r in records] == ["logged", None]
    assert base64.b64decode(records[1]["base64"]) == b"\xff"
    assert all(r["event"] == "delivered" for r in records)


@pytest.mark.timeout(90)
def test_sender_stopped_mid_transfer_then_resumed(start_server, children):
    """SIGSTOP a sender: the server drops the session after --session-timeout; after SIGCONT the sender
    starts a new attempt and the message is delivered exactly once, intact (here all NUL bytes, the
    worst case for anything that looks for a terminator)."""
    server = start_server("--session-timeout", "1")
    message = b"\x00" * 1500
    sender = helpers.sender_popen(["--timeout", "10", str(server.pid)], stdin=message)
    children.append(sender)
    sender.stdin.write(message)
    sender.stdin.close()
    wait_mid_transfer(server, sender)
    sender.send_signal(signal.SIGSTOP)
    stopped_at = time.monotonic()
    server.wait_stderr(rf"^sigchat-server: transfer from {sender.pid} aborted: .*; nothing delivered$", 10)
    assert time.monotonic() - stopped_at < 1 + 3.0
    assert server.body == b""
    sender.send_signal(signal.SIGCONT)
    returncode = sender.wait(60)
    assert returncode == 0, sender.stderr.read()
    server.wait_body(message + b"\n")
    server.expect_delivered = 1


def test_server_whose_stdout_is_closed_exits_1(children):
    """``sigchat-server | head -1``: once stdout is a broken pipe, the next delivery kills the receiver
    thread; the server then exits FAILURE with one diagnostic line and the sender does not report success."""
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(
        [*helpers.SERVER_CMD, "--plain"],
        stdin=subprocess.DEVNULL,
        stdout=write_end,
        stderr=subprocess.PIPE,
        preexec_fn=unblock_signals,
    )
    children.append(proc)
    os.close(write_end)
    header = b""
    deadline = time.monotonic() + 15
    try:
        while not header.endswith(b"\n"):
            ready, _, _ = select.select([read_end], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, f"no 'Server PID' line within 15 s: {header!r}"
            chunk = os.read(read_end, 1)
            assert chunk, "the server closed stdout"
            header += chunk
    finally:
        os.close(read_end)  # like `head -1`: nobody reads stdout any more
    assert header == f"Server PID: {proc.pid}\n".encode()
    result = helpers.run_sender(["--timeout", "2", str(proc.pid), "into a closed pipe"], timeout=30)
    assert result.returncode not in (exit_codes.OK, exit_codes.USAGE), result.stderr
    assert proc.wait(10) == exit_codes.FAILURE
    stderr = proc.stderr.read().decode().splitlines()
    assert stderr[-1].startswith("sigchat-server: the receiver thread died (BrokenPipeError"), stderr


def test_sender_interrupted_by_sigint(make_catcher, children):
    """Ctrl-C while waiting for an answer: exit INTERRUPTED (130) with one line."""
    if procfs._SIGTIMEDWAIT_SYSCALL is None:
        pytest.skip("unknown syscall number for rt_sigtimedwait on this machine")
    catcher = make_catcher("catch")  # answers nothing, so the sender waits (--force: it is no sigchat server)
    sender = helpers.sender_popen(["--force", "--timeout", "30", str(catcher.pid), "hello"])
    children.append(sender)

    def waiting() -> bool:
        try:
            with open(f"/proc/{sender.pid}/syscall") as file:
                return file.read().split()[0] == str(procfs._SIGTIMEDWAIT_SYSCALL)
        except (OSError, IndexError):
            return False

    helpers.wait_until(waiting, 15, "the sender to wait for an answer")
    sender.send_signal(signal.SIGINT)
    assert sender.wait(10) == exit_codes.INTERRUPTED
    stderr = sender.stderr.read().decode().splitlines()
    assert len(stderr) == 1 and stderr[0].startswith("sigchat-send: "), stderr
    assert catcher.alive()


# --------------------------------------------------------------------------- quiet stderr (issue 17)


def test_a_quiet_server_merged_with_its_stderr_prints_only_the_messages(children):
    """``sigchat-server 2>&1 | tester``: without ``-v`` stderr says nothing while all goes well (no "sender N
    started", no summary at the stop), so the merged output is exactly the PID line and the messages."""
    proc = children.append(
        subprocess.Popen(
            [*helpers.SERVER_CMD, "--plain"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=unblock_signals,
        )
    )
    out = children.reader(proc, "server stdout and stderr")
    out.wait_for(lambda data: b"\n" in data, 20, "the PID line")
    assert out.snapshot() == f"Server PID: {proc.pid}\n".encode()
    for message in ("one", "two"):
        result = helpers.run_sender([str(proc.pid), message], timeout=30)
        assert result.returncode == 0, result.stderr
    expected = f"Server PID: {proc.pid}\none\ntwo\n".encode()
    out.wait_for(lambda data: len(data) >= len(expected), 10, "both messages")
    proc.terminate()
    assert proc.wait(10) == 0
    out.join(5)
    assert out.snapshot() == expected


def test_a_quiet_server_still_reports_errors_and_refusals(start_server, children):
    """Without ``-v``: a rejected message and an aborted transfer are still one stderr line each."""
    server = start_server("--max-bytes", "30000", "--session-timeout", "1", verbose=False)
    result = helpers.run_sender([str(server.pid)], stdin=b"m" * 40000, timeout=30)
    assert result.returncode == exit_codes.REJECTED, result.stderr
    server.wait_stderr(rf"^sigchat-server: rejected message from {result.pid}: 40,?000 bytes is over --max-bytes 30,?000$")
    sender = children.append(helpers.sender_popen([str(server.pid)], stdin=b"k" * 20000))
    sender.stdin.write(b"k" * 20000)
    sender.stdin.close()
    # no "started" line to wait for: a sender blocks once per bit, so ~300 switches is well into the frame
    helpers.wait_until(lambda: helpers.voluntary_switches(sender.pid) > 300, 20, "the transfer to run")
    sender.kill()
    sender.wait(10)
    server.wait_stderr(rf"^sigchat-server: transfer from {sender.pid} aborted: .*; nothing delivered$", 10)
    helpers.send_ok(server, "fine", timeout=30)
    server.wait_body(b"fine\n")
    server.stop_checked()  # exit 0 and no summary
    lines = server.stopped.stderr.splitlines()
    assert len(lines) == 2 and "rejected" in lines[0] and "aborted" in lines[1], lines
    assert "started" not in server.stopped.stderr


def test_the_summary_goes_to_a_terminal_stderr_without_v(children):
    """stdout a pipe (plain mode), stderr a terminal: the summary at the stop is written there without ``-v``."""
    master, slave = os.openpty()
    try:
        proc = children.append(
            subprocess.Popen(
                [*helpers.SERVER_CMD], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, preexec_fn=unblock_signals
            )
        )
        os.close(slave)
        slave = None
        out = children.reader(proc, "server stdout")
        out.wait_for(lambda data: b"\n" in data, 20, "the PID line")
        result = helpers.run_sender([str(proc.pid), "to a terminal"], timeout=30)
        assert result.returncode == 0, result.stderr
        proc.terminate()
        assert proc.wait(10) == 0
        terminal = b""
        while select.select([master], [], [], 5)[0]:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: every writer has closed the terminal
                break
            if not chunk:
                break
            terminal += chunk
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    lines = terminal.decode().splitlines()
    assert len(lines) == 1 and helpers.summary_of(lines[0]), lines
    assert helpers.summary_of(lines[0])["delivered"] == "1"


# --------------------------------------------------------------------------- start-up (issue 16)

STALLED_IMPORT = '''\
"""A stand-in for argparse (on PYTHONPATH) that holds the importing process until the test lets it go.

sigchat-server's first heavy import is argparse: while it waits here, the server is in the state a slow
machine keeps it in for the first few hundred milliseconds, before its PID line.
"""
import os, sys, time
_dir = os.environ["SIGCHAT_TEST_STALL"]
open(os.path.join(_dir, "stalled"), "w").close()
_deadline = time.monotonic() + 60
while not os.path.exists(os.path.join(_dir, "go")) and time.monotonic() < _deadline:
    time.sleep(0.005)
import importlib.util
_spec = importlib.util.spec_from_file_location("argparse", os.path.join(os.path.dirname(os.__file__), "argparse.py"))
_real = importlib.util.module_from_spec(_spec)
sys.modules["argparse"] = _real
_spec.loader.exec_module(_real)
'''


class StalledServer:
    """``sigchat-server --plain`` held in its imports (``STALLED_IMPORT``) until ``release``, a child of ``children``."""

    def __init__(self, tmp_path, children: helpers.Children) -> None:
        self.dir = tmp_path
        (tmp_path / "argparse.py").write_text(STALLED_IMPORT)
        env = {**os.environ, "SIGCHAT_TEST_STALL": str(tmp_path)}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
        self.proc = children.append(helpers.popen([*helpers.SERVER_CMD, "--plain"], env=env))
        self.out = children.reader(self.proc, "stalled server stdout")
        helpers.wait_until(lambda: (tmp_path / "stalled").exists() or self.proc.poll() is not None, 20, "the stall")
        assert self.proc.poll() is None, f"the server exited {self.proc.returncode} before its imports"
        self.pid = self.proc.pid

    def pending(self) -> int:
        """The SIGUSR1/SIGUSR2 bits pending for the whole process (ShdPnd)."""
        return int(helpers.proc_status(self.pid)["ShdPnd"], 16) & helpers.SIGUSR_BITS

    def release(self) -> None:
        (self.dir / "go").touch()

    def wait_pid_line(self) -> None:
        self.out.wait_for(lambda data: b"\n" in data, 20, "the PID line")
        assert self.out.snapshot() == f"Server PID: {self.pid}\n".encode()


def test_signals_while_the_server_imports_do_not_kill_it(tmp_path, children):
    """A tester that starts the server and sends at once: SIGUSR1 and SIGUSR2 sent during the server's imports
    (before its PID line) stay pending instead of killing it (they did: returncode -10), and it then serves."""
    server = StalledServer(tmp_path, children)
    assert b"\n" not in server.out.snapshot()
    server.proc.send_signal(signal.SIGUSR1)  # our own child, through Popen
    server.proc.send_signal(signal.SIGUSR2)
    helpers.wait_until(lambda: server.proc.poll() is not None or server.pending() == helpers.SIGUSR_BITS, 10, "pending signals")
    assert server.proc.poll() is None, f"the server died of the signals (returncode {server.proc.returncode})"
    server.release()
    server.wait_pid_line()
    result = helpers.run_sender([str(server.pid), "after the early signals"], timeout=30)
    assert result.returncode == 0, result.stderr
    expected = f"Server PID: {server.pid}\nafter the early signals\n".encode()
    server.out.wait_for(lambda data: len(data) >= len(expected), 10, "the message")
    assert server.out.snapshot() == expected
    server.proc.terminate()
    assert server.proc.wait(10) == 0


def _sleeping(pid: int) -> bool:
    """Whether ``pid`` sleeps in nanosleep (``/proc/PID/wchan``), e.g. between polls of ``/proc``."""
    try:
        with open(f"/proc/{pid}/wchan") as file:
            return "nanosleep" in file.read()
    except OSError:
        return False


def test_a_sender_waits_for_a_server_that_is_still_starting(tmp_path, children):
    """A server started a moment ago has no receiver thread yet (it catches the signals, like a shell):
    ``sigchat-send`` waits for it instead of refusing it as "not a sigchat server", then delivers."""
    server = StalledServer(tmp_path, children)
    sender = children.append(helpers.sender_popen([str(server.pid), "early bird"]))
    helpers.wait_until(lambda: _sleeping(sender.pid) or sender.poll() is not None, 20, "the sender to wait")
    assert sender.poll() is None, f"the sender did not wait: {sender.stderr.read().decode()!r}"
    server.release()
    code, _, err = helpers.finish(sender, 30)
    assert code == 0, err
    expected = f"Server PID: {server.pid}\nearly bird\n".encode()
    server.out.wait_for(lambda data: len(data) >= len(expected), 10, "the message")
    assert server.out.snapshot() == expected
    server.proc.terminate()
    assert server.proc.wait(10) == 0


@pytest.mark.parametrize(
    ("code", "waits"),
    [
        ("import signal; signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1}); print(flush=True); signal.sigtimedwait({signal.SIGUSR1}, 60)", True),
        ("import signal; signal.signal(signal.SIGUSR1, lambda *a: None); print(flush=True); signal.pause()", True),
        ("import time; print(flush=True); time.sleep(60)", False),
    ],
    ids=["sigtimedwait", "pause", "sleep"],
)
def test_procfs_tells_a_process_waiting_for_a_signal(children: helpers.Children, code: str, waits: bool) -> None:
    """What the reply policy asks of a classic client that sends again soon (``procfs.in_signal_wait``):
    a sigchat sender waits in sigtimedwait, a racy client in pause(); a paced one sleeps."""
    proc = children.spawn([sys.executable, "-c", code])
    reader = children.reader(proc, "waiter")
    reader.wait_for(lambda out: out.count(b"\n") >= 1, 20, "the waiter to start")
    helpers.wait_until(lambda: procfs.state(proc.pid) == "S" and procfs.in_signal_wait(proc.pid) is not None, 20, "it to sleep")
    if waits:
        helpers.wait_until(lambda: procfs.in_signal_wait(proc.pid), 20, "it to wait for a signal")
    else:
        assert procfs.in_signal_wait(proc.pid) is False
    proc.kill()


def test_procfs_tells_a_running_process_from_a_sleeping_one(children: helpers.Children) -> None:
    """What an ack to a racy classic client waits for (``procfs.running``, ``Receiver._until_asleep``):
    a busy loop runs, a process in pause() does not."""
    busy = children.spawn([sys.executable, "-c", "print('go', flush=True)\nwhile True: pass"])
    children.reader(busy, "busy").wait_for(lambda out: b"go" in out, 20, "the loop to start")
    helpers.wait_until(lambda: procfs.running(busy.pid), 20, "the loop to be seen running")
    sleeper = children.spawn([sys.executable, "-c", "import signal\nprint('go', flush=True)\nsignal.pause()"])
    children.reader(sleeper, "sleeper").wait_for(lambda out: b"go" in out, 20, "the sleeper to start")
    helpers.wait_until(lambda: procfs.in_signal_wait(sleeper.pid), 20, "it to pause")
    assert not procfs.running(sleeper.pid)
    busy.kill()
    sleeper.kill()
