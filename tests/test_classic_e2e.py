"""Classic minitalk end to end, against independent peers.

The peers are C programs in tests/peers/, written like the public minitalk
implementations and without any sigchat code; each convention is a compile-time
flag, so every variant below is a different "student implementation", built
with gcc into a temporary directory. Both directions are covered:

* peer client -> ``sigchat-server --plain --json`` (the default server accepts
  native senders and default-profile classic clients at once);
* ``sigchat-send --classic=PROFILE`` -> peer server (prints ``MSG <hex>``).

Every server (sigchat's or a peer) is the test's own, and every child is started
and cleaned up by the harness (``helpers``, fixtures in ``conftest``): signals
only ever go to processes started here, each with an empty signal mask;
synchronisation is by reading output with timeouts, never by sleeping.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import helpers
from sigchat.format import plural

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only"),
    pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is needed to build the C minitalk peers"),
]

PEERS = Path(__file__).parent / "peers"
WAIT = 30.0

MESSAGES = {
    "empty": "",
    "one-char": "x",
    "1000-chars": "".join(chr(ord("a") + (i * 7) % 26) if i % 11 else " " for i in range(1000)),
    "emoji-cjk": "😀 日本語のテキスト ✓ 한국어 é 🇫🇷",
    "specials": 'line 1\nline 2\r\n\t"double" \'single\' back\\slash \\n $HOME `cmd` %s',
}
# NUL cannot travel in NUL-terminated profiles (it ends the message): NUL cases
# only run with a length header (test_nul_travels_with_a_length).

# name: (gcc flags, the profile sigchat uses for it)
CLIENTS = {
    "default": ([], ""),
    "lsb": (["-DLSB_FIRST"], "lsb"),
    "usr1-is-1": (["-DONE_IS_USR1"], "usr1=1"),
    "len32": (["-DLEN_BITS=32"], "len32"),
    "lsb-len32-nul-counted": (["-DLSB_FIRST", "-DLEN_BITS=32", "-DWITH_NUL", "-DLEN_COUNTS_NUL"], "lsb,len32+nul,nul-counted"),
    "handshake-end-ack": (["-DHANDSHAKE", "-DEND_ACK_SIG=SIGUSR2"], "handshake,end-ack=usr2"),
    # No ack, no signal handler, usleep(100) per bit, against the default server.
    "unacked-usleep100": (["-DNO_ACK", "-DPACE_US=100"], ""),
}
SERVERS = {
    "default": ([], "", []),
    "lsb": (["-DLSB_FIRST"], "lsb", []),
    "usr1-is-1": (["-DONE_IS_USR1"], "usr1=1", []),
    "len32": (["-DLEN_BITS=32"], "len32", []),
    "lsb-len64-nul": (["-DLSB_FIRST", "-DLEN_BITS=64", "-DWITH_NUL"], "lsb,len64+nul", []),
    "handshake-end-ack": (["-DHANDSHAKE", "-DEND_ACK_SIG=SIGUSR2"], "handshake,end-ack=usr2", []),
    "unacked": (["-DNO_ACK"], "ack=none", ["--pace-us", "150"]),  # its own test: paced, unacked
}


# --------------------------------------------------------------------------- peers


@dataclass
class Peers:
    directory: Path

    def client(self, name: str) -> str:
        return str(self.directory / f"client-{name}")

    def server(self, name: str) -> str:
        return str(self.directory / f"server-{name}")


@pytest.fixture(scope="module")
def peers(tmp_path_factory: pytest.TempPathFactory) -> Peers:
    """Every C variant, compiled in parallel."""
    directory = tmp_path_factory.mktemp("minitalk-peers")
    jobs = []
    variants = [("client", name, flags) for name, (flags, _) in CLIENTS.items()]
    variants += [("server", name, flags) for name, (flags, _, _) in SERVERS.items()]
    variants += [("client", "end-ack-usr2", ["-DEND_ACK_SIG=SIGUSR2"]), ("client", "linger", ["-DLINGER_MS=300"])]
    for kind, name, flags in variants:
        source = PEERS / f"minitalk_{kind}.c"
        argv = ["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", *flags, "-o", str(directory / f"{kind}-{name}"), str(source)]
        jobs.append((argv, subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)))
    for argv, job in jobs:
        output, _ = job.communicate(timeout=120)
        assert job.returncode == 0, f"{' '.join(argv)}:\n{output.decode(errors='replace')}"
    return Peers(directory)


def profile_args(profile: str) -> tuple[str, ...]:
    return ("--classic", profile) if profile else ()


@dataclass
class Client:
    pid: int
    returncode: int
    stderr: str


def run_client(children: helpers.Children, binary: str, server_pid: int, *args: str) -> Client:
    """Run a peer client to the end; a negative return code is the signal that killed it."""
    proc = children.spawn([binary, str(server_pid), *args])
    returncode, _, stderr = helpers.finish(proc, 60)
    return Client(proc.pid, returncode, stderr)


def canonical(profile: str) -> str:
    from sigchat.proto.classic.api import parse_profile

    return str(parse_profile(profile))



# --------------------------------------------------------------------------- peer client -> sigchat-server


@pytest.mark.parametrize("case", list(MESSAGES))
@pytest.mark.parametrize("variant", [name for name in CLIENTS if not name.startswith("unacked")])
def test_peer_client_to_sigchat_server(peers: Peers, start_server, children: helpers.Children, variant: str, case: str) -> None:
    _, profile = CLIENTS[variant]
    server = start_server("--json", *profile_args(profile))
    message = MESSAGES[case]
    client = run_client(children, peers.client(variant), server.pid, message)
    assert client.returncode == 0, (client.returncode, client.stderr)
    record = server.wait_record(pid=client.pid, timeout=WAIT)
    assert record["event"] == "delivered", record
    assert record["text"] == message
    assert record["mode"] == "classic" and record["profile"] == canonical(profile)
    data = message.encode()
    assert record["bytes"] == len(data) and record["payload_bits"] == 8 * len(data)
    assert record["signals_sent"] >= record["bits"] > 0
    assert record["duration"] >= 0 and record["bits_per_second"] >= 0


def _unacked_attempt(peers: Peers, server: helpers.Server, children: helpers.Children, message: str) -> str:
    """``intact``, ``lost`` (the server got fewer signals than were sent: the kernel merged some), or ``damaged``."""
    client = run_client(children, peers.client("unacked-usleep100"), server.pid, message)
    # Never killed by an ack: it has no handler, so the server must not ack it.
    assert client.returncode == 0, (client.returncode, client.stderr)
    record = server.wait_record(pid=client.pid, timeout=WAIT)
    if record["event"] == "delivered" and record.get("text") == message:
        return "intact"
    # A damaged message ends wrong, or never (its NUL was merged away): the rest
    # is reported incomplete after --classic-timeout. Count every signal it got:
    # its transfer records until none more comes within 1 s (a ``profile`` record, the server's
    # guess at the profile of garbled bits, carries no signals: it counts none).
    received = record.get("signals_received", 0)
    for index in itertools.count(1):
        try:
            received += server.wait_record(index, pid=client.pid, timeout=1.0).get("signals_received", 0)
        except AssertionError:
            break
    return "lost" if received < 8 * (len(message.encode()) + 1) else "damaged"


@pytest.mark.parametrize("case", [case for case in MESSAGES if case != "1000-chars"])
def test_unacked_usleep_client_to_sigchat_server(peers: Peers, start_server, children: helpers.Children, case: str) -> None:
    """``usleep(100)`` per bit, no ack, no handler, against the default server.

    Standard signals do not queue: if the receiving thread is not running
    within about two bit periods (~0.4 ms), the kernel merges two equal
    signals (or delivers SIGUSR1 before an earlier SIGUSR2), and no receiver
    can recover that bit. On the 2-CPU VM this was written on even a C signal
    handler loses bits in 1,000-byte messages (README, "What cannot be fixed").
    So: a few attempts, one must be intact, unless every failed attempt lost
    signals in the kernel (the server received fewer than were sent). The
    1,000-character case is not asserted: only ~25 % of such messages survive
    the kernel here, for sigchat and a C handler server alike, so it is
    measured instead (tests/peers/measure_unacked.py; README numbers). It also
    checks that the client is never killed (the server must not ack it) and
    that a damaged message does not shift the next (each run is a new pid).
    """
    server = start_server("--json", "--classic-timeout", "0.5")
    message = MESSAGES[case]
    outcomes = []
    for _ in range(3):
        outcome = _unacked_attempt(peers, server, children, message)
        if outcome == "intact":
            break
        outcomes.append(outcome)
    else:
        _kernel_limit(outcomes)
    server.wait_stderr(re.escape("its classic message is received without SIGUSR1 replies"), WAIT)


# --------------------------------------------------------------------------- sigchat-send -> peer server


def send(*args: str, stdin: bytes | None = None) -> helpers.SendResult:
    return helpers.run_sender(args, stdin=stdin, timeout=60)


@pytest.mark.parametrize("case", list(MESSAGES))
@pytest.mark.parametrize("variant", [name for name in SERVERS if name != "unacked"])
def test_sigchat_send_to_peer_server(peers: Peers, children: helpers.Children, variant: str, case: str) -> None:
    _, profile, extra = SERVERS[variant]
    server = helpers.PeerServer(children, peers.server(variant))
    message = MESSAGES[case]
    result = send(f"--classic={profile}", *extra, "-v", str(server.pid), message)
    assert result.returncode == 0, result.stderr
    assert server.next_message() == message.encode()
    assert f"classic {canonical(profile)}:" in result.stderr and f"{plural(len(message.encode()), 'byte')}," in result.stderr


@pytest.mark.parametrize("case", list(MESSAGES))
def test_sigchat_send_paced_to_unacked_peer_server(peers: Peers, children: helpers.Children, case: str) -> None:
    """``--classic=ack=none --pace-us 150`` to a server that never acks: exact, every time.

    Each bit waits until the last one is no longer pending at the server
    (``sigio.send_classic``), so none merges with the next, whatever the load.
    """
    _, profile, extra = SERVERS["unacked"]
    message = MESSAGES[case]
    sent = 8 * (len(message.encode()) + 1)
    server = helpers.PeerServer(children, peers.server("unacked"))
    result = send(f"--classic={profile}", *extra, "-v", str(server.pid), message)
    assert result.returncode == 0, result.stderr  # SENT: nothing to confirm, and it says so
    assert f"sigchat-send: note: sent; the delivery is unconfirmed: profile {canonical(profile)} has no acks\n" in result.stderr
    assert f"{sent:,} signals sent" in result.stderr and "0 acks" in result.stderr
    assert server.next_message() == message.encode()
    assert server.stop() == sent


def test_sigchat_send_waits_for_a_stopped_unacked_server(peers: Peers, children: helpers.Children) -> None:
    """A server that is not running (stopped here; descheduled under load) gets every bit: the
    sender holds the next one while the last is pending there. Without that wait, all but two
    of the signals sent meanwhile would merge."""
    _, profile, extra = SERVERS["unacked"]
    message = "stopped mid-message, nothing lost"
    server = helpers.PeerServer(children, peers.server("unacked"))
    os.kill(server.pid, signal.SIGSTOP)
    try:
        sender = children.spawn([*helpers.SEND_CMD, f"--classic={profile}", *extra, str(server.pid), message])
        helpers.wait_until(lambda: _pending_signals(server.pid), 20.0, "the first bit pending at the stopped server")
        assert helpers.is_alive(sender)  # it waits, and sends nothing more meanwhile
    finally:
        os.kill(server.pid, signal.SIGCONT)
    returncode, _, stderr = helpers.finish(sender, 60)
    assert returncode == 0, stderr
    assert server.next_message() == message.encode()
    assert server.stop() == 8 * (len(message) + 1)


def _pending_signals(pid: int) -> int:
    """SIGUSR1/SIGUSR2 pending at ``pid`` (its ``ShdPnd``), as a bit mask."""
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("ShdPnd:"))
    return int(line.split()[1], 16) & ((1 << (signal.SIGUSR1 - 1)) | (1 << (signal.SIGUSR2 - 1)))


def _kernel_limit(outcomes: list[str]) -> None:
    """No intact message from an unacked sender in any attempt: skip, saying why.

    Without acks nothing can recover a signal the kernel merged ("lost": fewer
    arrived than were sent) or reordered (SIGUSR1 delivered before an earlier
    SIGUSR2: "damaged"); README, "What cannot be fixed". It happens more the
    later the receiver runs, so it is a matter of scheduling, not of sigchat:
    in CI runs of this commit an idle machine still lost all 3 attempts now
    and then. What must hold every time is asserted in each attempt (the
    client is never killed, every signal is sent, each attempt is told
    apart). Success rates are measured, not asserted: tests/peers/measure_unacked.py.
    """
    pytest.skip(f"no intact message in {len(outcomes)} attempts ({', '.join(outcomes)}): the kernel merged or reordered unacked signals")


def _cpu_times() -> tuple[int, int]:
    """(idle, total) jiffies of all CPUs, from /proc/stat."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    return values[3] + values[4], sum(values)


def _overloaded_or_fail(reason: str, since: tuple[int, int]) -> None:
    """Skip when the CPUs were mostly busy with other work during the attempts.

    An unacked client needs the receiver to run within ~0.4 ms of every signal;
    on a saturated machine even a C signal handler loses bits (README).
    """
    idle, total = _cpu_times()
    idle_fraction = (idle - since[0]) / max(1, total - since[1])
    load = os.getloadavg()[0]
    if idle_fraction < 0.5 or load > (os.cpu_count() or 1):
        pytest.skip(f"{reason}, but the machine was busy (CPU idle {idle_fraction:.0%}, load {load:.1f})")
    pytest.fail(f"{reason} (CPU idle {idle_fraction:.0%}, load {load:.1f})")


def test_sigchat_send_bare_classic_flag_is_the_default_profile(peers: Peers, children: helpers.Children) -> None:
    server = helpers.PeerServer(children, peers.server("default"))
    for argv in (["--classic", str(server.pid), "bare"], ["--classic", "msb,usr2=1", str(server.pid), "spaced"]):
        result = send(*argv)
        assert result.returncode == 0, result.stderr
        assert server.next_message() == argv[-1].encode()


def test_sigchat_send_carries_on_when_the_server_never_acks(peers: Peers, children: helpers.Children) -> None:
    """Without acks the sender paces the rest, finishes, and says nothing confirms the message.

    Every attempt must end that way. Whether the message arrives intact is up to
    the kernel (unacked signals, see ``_kernel_limit``): a few attempts, each
    with a fresh peer server.
    """
    outcomes = []
    for _ in range(3):
        server = helpers.PeerServer(children, peers.server("unacked"))
        result = send("--classic", "--ack-timeout", "0.05", "--pace-us", "200", str(server.pid), "no acks here")
        assert result.returncode == 6, result.stderr
        assert "use a profile with ack=none" in result.stderr and "delivery is unconfirmed" in result.stderr
        try:
            if server.next_message(timeout=2.0) == b"no acks here":
                return
            outcomes.append("damaged")
        except AssertionError:
            outcomes.append("lost")  # no whole message: its NUL was merged away
        server.stop()
    _kernel_limit(outcomes)


def test_sigchat_send_reports_a_missing_end_ack(peers: Peers, children: helpers.Children) -> None:
    server = helpers.PeerServer(children, peers.server("default"))
    result = send("--classic=end-ack=usr2", "--timeout", "0.3", str(server.pid), "end?")
    assert server.next_message() == b"end?"
    assert result.returncode == 6 and "no end-of-message ack" in result.stderr
    assert result.stderr.rstrip("\n").endswith("the delivery is unconfirmed"), result.stderr


def test_nul_travels_with_a_length(peers: Peers, start_server, children: helpers.Children) -> None:
    data = b"a\0b\0\xff"
    # peer client -> sigchat-server
    server = start_server("--json", "--classic", "len32")
    client = run_client(children, peers.client("len32"), server.pid, "-x", data.hex())
    assert client.returncode == 0
    record = server.wait_record(pid=client.pid, timeout=WAIT)
    assert record["event"] == "delivered" and record["base64"] == "YQBiAP8="
    # sigchat-send -> peer server
    peer = helpers.PeerServer(children, peers.server("len32"))
    result = send("--classic=len32", str(peer.pid), "-", stdin=data)
    assert result.returncode == 0, result.stderr
    assert peer.next_message() == data
    # ... but not in a NUL-terminated profile: refused before any signal
    result = send("--classic", str(peer.pid), "-", stdin=data)
    assert result.returncode == 2 and "cannot travel in a NUL-terminated profile" in result.stderr


# --------------------------------------------------------------------------- server behaviour


def test_stalled_client_is_reported_incomplete_and_its_next_message_is_intact(
    peers: Peers, start_server, children: helpers.Children
) -> None:
    server = start_server("--json", "--classic-timeout", "0.3")
    # 13 bits ("h" and 5 bits of "e"), silent 0.8 s, then the whole message.
    client = run_client(children, peers.client("default"), server.pid, "hello", "13", "800")
    assert client.returncode == 0
    aborted = server.wait_record(0, timeout=WAIT)
    assert aborted["event"] == "aborted" and aborted["mode"] == "classic"
    assert aborted["reason"].startswith("incomplete") and aborted["received"] == 1 and aborted["partial_text"] == "h"
    assert aborted["bits"] == 13
    delivered = server.wait_record(1, timeout=WAIT)
    assert delivered["pid"] == aborted["pid"] and delivered["event"] == "delivered" and delivered["text"] == "hello"
    # A client that dies mid-byte: incomplete, and the next client is fine.
    client = run_client(children, peers.client("default"), server.pid, "dead", "11", "-1")
    assert client.returncode == 0
    aborted = server.wait_record(pid=client.pid, timeout=WAIT)
    assert aborted["event"] == "aborted" and aborted["partial_text"] == "d"
    client = run_client(children, peers.client("default"), server.pid, "alive")
    assert server.wait_record(pid=client.pid, timeout=WAIT)["text"] == "alive"
    server.wait_stderr(re.escape("ended: incomplete"), WAIT)


def test_native_and_classic_senders_at_the_same_time(peers: Peers, start_server, children: helpers.Children) -> None:
    """Both are served at once, told apart by pid; the classic client holds the line.

    The classic client starts while the native transfer runs. The kernel can
    merge a classic signal with a pending native one of the same kind (README,
    "What cannot be fixed"; measured: a quarter of the attempts on a loaded
    machine, where the server is slow to take each native signal), and nothing
    tells the server. Its first signal merged, the client is never seen and
    waits for its ack for ever: stopped, and the pair tried again. A later one
    merged, it is sent its last ack again (it sleeps in ``sigsuspend``, the
    signal unblocked as /proc shows it) and goes on one bit short: not
    delivered, its record shows the nudge (more acks than signals), tried again
    too (a NUL one bit short is completed: delivered). When the shift makes a
    NUL, the message ends early, delivered damaged: its ack was sent again after
    the native sender signalled (seen once in a loaded suite run). Anything else
    is a failure: a wrong or missing message, or a native sender that fails.
    """
    server = start_server("--json")
    native_text = "native " * 150
    started = _cpu_times()
    for attempt in range(ATTEMPTS_WITH_MERGES):
        classic_text = f"classic {attempt} ✓ " * 4
        native = children.spawn([*helpers.SEND_CMD, str(server.pid), native_text])
        server.wait_stderr(re.escape(f"sender {native.pid} "), WAIT)  # "... started": the native transfer runs
        client = children.spawn([peers.client("default"), str(server.pid), classic_text])
        try:
            server.wait_stderr(re.escape(f"classic client {client.pid} started"), FIRST_SIGNAL_WAIT)
            client_status = client.wait(timeout=5)
        except (AssertionError, subprocess.TimeoutExpired):
            client.kill()  # our own child, stuck waiting for an ack to a signal that was merged away
            client_status = client.wait()
        native_status, _, native_err = helpers.finish(native, 60)
        assert native_status == 0, native_err  # the native sender always recovers
        record = server.wait_record(pid=native.pid, timeout=WAIT)
        assert (record["event"], record["mode"], record.get("text")) == ("delivered", "native", native_text)
        if client_status == 0:
            record = server.wait_record(pid=client.pid, timeout=WAIT)
            if record["event"] == "aborted" and record["signals_sent"] > record["signals_received"]:
                continue  # a bit merged away and a nudge answered it (docstring)
            if record["event"] == "delivered" and record.get("integrity") == "damaged":
                assert "may have merged with PID" in record["note"], record
                continue  # likewise, and the shift made a NUL: cut short, not believed intact
            assert (record["event"], record["mode"], record.get("text")) == ("delivered", "classic", classic_text), (
                record, server.lines_about([client.pid]))
            return
    _overloaded_or_fail(f"a classic signal merged with a native one in all {ATTEMPTS_WITH_MERGES} attempts", started)


ATTEMPTS_WITH_MERGES = 8
FIRST_SIGNAL_WAIT = 3.0
"""Seconds for the server to report a classic client's first signal (it takes µs; this is for load)."""


def test_server_never_sends_an_ack_that_would_kill(peers: Peers, start_server, children: helpers.Children) -> None:
    # This client catches SIGUSR1 only, and stays 0.3 s after its message: an end
    # ack (SIGUSR2) would kill it.
    server = start_server("--json", "--classic", "end-ack=usr2")
    client = run_client(children, peers.client("linger"), server.pid, "survive")
    assert client.returncode == 0, client.returncode  # -12 would be death by SIGUSR2
    assert server.wait_record(pid=client.pid, timeout=WAIT)["text"] == "survive"
    server.wait_stderr("without SIGUSR2 replies", WAIT)
    assert "SIGUSR2 would kill it" in server.stderr()
    # A client that catches both gets its end ack (it waits for it: exit 3 otherwise).
    client = run_client(children, peers.client("end-ack-usr2"), server.pid, "thanks")
    assert client.returncode == 0
    assert server.wait_record(pid=client.pid, timeout=WAIT)["text"] == "thanks"


def test_plain_text_output_is_the_message_bytes(peers: Peers, start_server, children: helpers.Children) -> None:
    server = start_server()
    assert run_client(children, peers.client("default"), server.pid, "two\nlines ✓").returncode == 0
    server.wait_body("two\nlines ✓\n".encode(), WAIT)
    server.wait_stderr(re.escape("also serving classic minitalk clients: msb,usr2=1,nul,ack=usr1"), WAIT)
    server.wait_stderr("classic client", WAIT)
    server.wait_stderr("started", WAIT)


def test_profile_colliding_with_the_native_hello_serves_classic_only(
    peers: Peers, start_server, children: helpers.Children
) -> None:
    server = start_server("--json", "--classic", "usr1=1")
    server.wait_stderr(re.escape("serving classic minitalk clients only: msb,usr1=1,nul,ack=usr1"), WAIT)
    # Its empty message is 8 x SIGUSR2, the native hello: read as classic here.
    client = run_client(children, peers.client("usr1-is-1"), server.pid, "")
    assert client.returncode == 0
    record = server.wait_record(pid=client.pid, timeout=WAIT)
    assert record["event"] == "delivered" and record["text"] == "" and record["mode"] == "classic"


def test_sigchat_send_classic_to_sigchat_server(start_server) -> None:
    for profile in ("", "lsb,len64+nul", "handshake,end-ack=usr2"):
        server = start_server("--json", *profile_args(profile))
        result = send(f"--classic={profile}", str(server.pid), f"self-test {profile or 'default'} ✓")
        assert result.returncode == 0, result.stderr
        record = server.wait_record(timeout=WAIT)
        assert record["text"] == f"self-test {profile or 'default'} ✓" and record["profile"] == canonical(profile)


# --------------------------------------------------------------------------- command lines


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--classic=lsb,msb", "1", "x"], "--classic: conflicting options 'lsb' and 'msb'"),
        (["--classic=bogus", "1", "x"], "--classic: unknown profile option 'bogus'"),
        (["--pace-us", "100", "1", "x"], "--pace-us and --ack-timeout apply to --classic only"),
        (["--classic", "--pace-us", "-1", "1", "x"], "--pace-us must not be negative"),
        (["--classic", "--ack-timeout", "0", "1", "x"], "--ack-timeout must be positive"),
    ],
)
def test_send_usage_errors(argv: list[str], message: str) -> None:
    result = send(*argv)
    assert result.returncode == 2 and message in result.stderr


def test_server_rejects_a_bad_profile(children: helpers.Children) -> None:
    returncode, _, stderr = helpers.finish(children.spawn([*helpers.SERVER_CMD, "--plain", "--classic", "len32,nul-counted"]), 30)
    assert returncode == 2 and "needs both a length and a NUL" in stderr
    returncode, _, stderr = helpers.finish(children.spawn([*helpers.SERVER_CMD, "--plain", "--classic-timeout", "0"]), 30)
    assert returncode == 2 and "--classic-timeout must be a positive number of seconds" in stderr
