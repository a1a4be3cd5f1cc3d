"""Stress and hardening tests: real servers, real senders, real signals (the slow part of ``make test``).

Every test here starts its own ``sigchat-server`` and senders as child
processes and only ever signals processes it started itself (through their
``Popen`` object, or by handing a helper from ``stress_tools/`` the pid of one
of our own children). No fixed sleeps are used as synchronisation: every wait
is "until this line / exit / condition, at most this long". Spoofers and
fuzzers run at a bounded rate for a bounded time. The processes are those of
``helpers`` (``Server`` with ``--json``, ``Children``), cleaned up by the
``conftest`` fixtures ``start_server`` and ``children``.

``docs/RELIABILITY.md`` lists the promises these tests prove. The whole module
takes 2-2.5 minutes on two cores (the load test alone 70-95 s: one sender streams
at a time); skip it with ``make test ARGS='-m "not stress"'``.
"""

from __future__ import annotations

import collections
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import helpers
from sigchat import exit_codes
from sigchat.format import human_bytes
from sigchat.proto import api as protocol

pytestmark = [pytest.mark.stress, pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")]

IS_ROOT = os.geteuid() == 0
NOBODY = 65534


class ServerBug(AssertionError):
    """A check that caught a server bug (``xfail(raises=ServerBug)`` while it is open hides no other failure)."""


def log(message: str) -> None:
    """Numbers worth reading in ``pytest -s`` output (timings, RSS)."""
    print(f"[stress] {message}", file=sys.stderr)


def wait_mid_transfer(server: helpers.Server, sender: subprocess.Popen, timeout: float = 20.0, switches: int = 600) -> None:
    """Until ``sender`` holds the session and has exchanged a few hundred signals with the server.

    Every bit costs the sender at least one context switch or so (it waits for
    the reply), so a few hundred switches after ``started`` means it is past the
    89-bit header and into the payload (the abort line tells where it was).
    """
    server.wait_stderr(rf"\b{sender.pid}\b.*\bstarted\b", timeout)
    base = helpers.context_switches(sender.pid)
    deadline = time.monotonic() + timeout
    while helpers.context_switches(sender.pid) - base < switches:
        assert sender.poll() is None, f"the sender exited early ({sender.returncode})"
        assert time.monotonic() < deadline, "the sender made no progress"
        time.sleep(0.002)


ABORT_RE = r"transfer from {pid} aborted: (?P<reason>[^(\n]+?) \((?:(?P<got>\d+) of (?P<length>\d+) bytes|before the header)\); nothing delivered"


def message(rng: random.Random, length: int, kind: int) -> bytes:
    """Binary, emoji, NUL-heavy or plain text; ``length`` bytes (text may be cut mid-character: still bytes)."""
    if kind == 0:
        return rng.randbytes(length)
    if kind == 1:
        alphabet = "héllo wörld 🎉🚀💥👩‍💻 日本語 ∑∫ \n\t"
        text = "".join(rng.choice(alphabet) for _ in range(length))
        return text.encode("utf-8")[:length]
    if kind == 2:
        return bytes(rng.choice((0, 0, 0, 0xFF, 10, rng.randrange(256))) for _ in range(length))
    return bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz ABC 0123456789\n") for _ in range(length))


# --------------------------------------------------------------------------- load


def send_all(children: helpers.Children, server: helpers.Server, plans: list[list[bytes]], timeout: float) -> tuple[list, list]:
    """One thread per plan, all starting at once, each sending its messages one process at a time.
    Returns ``(sent, failures)``: ``(pid, data)`` of every sender, and a line per one that did not exit 0."""
    sent: list[tuple[int, bytes]] = []
    failures: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(plans))

    def worker(plan: list[bytes]) -> None:
        barrier.wait()
        for data in plan:
            proc = children.sender(server.pid, data)
            try:
                code, _, err = helpers.finish(proc, 120)
            except subprocess.TimeoutExpired:
                proc.kill()
                code, err = None, "still running after 120 s"
            with lock:
                sent.append((proc.pid, data))
                if code != 0:
                    failures.append(f"sender {proc.pid} ({len(data)} bytes) exited {code}: {err.strip()}")

    threads = [threading.Thread(target=worker, args=(plan,)) for plan in plans]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "senders still running"
    return sent, failures


@pytest.mark.timeout(300)
def test_load_8_senders_20_messages_each_all_delivered_exactly_once(start_server, children: helpers.Children) -> None:
    """8 concurrent senders x 20 messages of 0-4 KiB (binary, emoji, NUL): each delivered once, intact; all exit 0."""
    rng = random.Random(20240501)
    senders, per_sender = 8, 20
    plans = []
    for worker in range(senders):
        lengths = [rng.randint(0, 4096) for _ in range(per_sender)]
        lengths[worker % per_sender] = (0, 4096, 1)[worker % 3]  # the edges, somewhere
        plans.append([message(rng, length, (worker + index) % 4) for index, length in enumerate(lengths)])
    server = start_server("--json")
    rss_before = server.rss_kib()
    started = time.monotonic()
    sent, failures = send_all(children, server, plans, 280)
    elapsed = time.monotonic() - started
    assert not failures, "\n".join(failures) + "\n" + server.lines_about(re.findall(r"sender (\d+)", "".join(failures)))
    total = senders * per_sender
    delivered = server.wait_delivered(total)
    rss_after = server.rss_kib()
    summary = server.stop_checked()
    assert len(delivered) == total
    assert collections.Counter(delivered) == collections.Counter(sent), "lost, duplicated, corrupted or misattributed"
    assert int(summary["delivered"]) == total
    assert summary["size"] == human_bytes(sum(len(data) for _, data in sent))
    payload = sum(len(data) for _, data in sent)
    aborts = collections.Counter(match[1] for match in re.finditer(r"aborted: ([^(\n]+?) \(", server.stderr()))
    log(
        f"load: {total} messages, {payload} bytes in {elapsed:.1f} s ({8 * payload / elapsed:,.0f} payload bits/s); "
        f"server RSS {rss_before} -> {rss_after} KiB; {summary.group(0)}; aborted sessions (retried): {dict(aborts)}"
    )


@pytest.mark.timeout(240)
def test_native_senders_on_saturated_cpus_are_never_taken_for_classic_clients(start_server, children: helpers.Children) -> None:
    """4 busy loops on the CPUs, 8 senders x 10 messages to a server that also serves classic clients.

    Load delays the receiver: a first reply it holds (to see whether a classic client waits for it)
    can outlast the 10 ms after which a sigchat sender sends again, which looked like a client that
    paces itself ("not answering PID: it sent its next signal without waiting for a reply", exit
    6). Every sender must exit 0 and every message arrive once. It fails only when a hold
    outlasts 10 ms (seen in ``make test`` beside other work); what decides it is proven
    directly: ``test_classic.py::test_the_policy_refuses_only_a_client_that_does_not_wait``
    (the policy) and ``test_e2e.py::test_procfs_tells_a_process_waiting_for_a_signal`` (/proc).
    """
    busy = [children.spawn([sys.executable, "-c", "while True: pass"]) for _ in range(4)]
    rng = random.Random(20261202)
    plans = [[message(rng, rng.randint(1, 300), (worker + index) % 4) for index in range(10)] for worker in range(8)]
    server = start_server("--json")
    assert json.loads(server.header)["classic"], "the default server serves classic clients too"
    sent, failures = send_all(children, server, plans, 220)
    for proc in busy:
        proc.kill()
    assert not failures, "\n".join(failures) + "\n" + server.lines_about(re.findall(r"sender (\d+)", "".join(failures)))
    assert collections.Counter(server.wait_delivered(len(sent))) == collections.Counter(sent)
    assert "not answering" not in server.stderr()


# --------------------------------------------------------------------------- faults


@pytest.mark.timeout(90)
def test_sender_sigkilled_mid_transfer_5_times_during_other_traffic(start_server, children: helpers.Children) -> None:
    """A sender SIGKILLed mid-payload, 5 times, while others send: each abort reported, nothing partial, others served."""
    rng = random.Random(7)
    server = start_server("--json")
    stop_traffic = threading.Event()
    traffic: list[tuple[int, bytes, int, str]] = []
    lock = threading.Lock()

    def background(seed: int) -> None:
        local = random.Random(seed)
        while not stop_traffic.is_set():
            data = message(local, local.randint(0, 1500), local.randrange(4))
            proc = children.sender(server.pid, data)
            code, _, err = helpers.finish(proc, 60)
            with lock:
                traffic.append((proc.pid, data, code, err))

    threads = [threading.Thread(target=background, args=(seed,)) for seed in (1, 2)]
    for thread in threads:
        thread.start()
    victims = []
    try:
        for round_ in range(5):
            data = rng.randbytes(64 * 1024)  # far longer than the few ms it lives
            victim = children.sender(server.pid, data)
            wait_mid_transfer(server, victim)
            victim.kill()
            victim.wait(10)
            abort = server.wait_stderr(ABORT_RE.format(pid=victim.pid), 10)
            assert abort["reason"] == protocol.AbortReason.SENDER_GONE.value
            assert abort["length"] == str(len(data)), f"killed before its header arrived: {abort.group(0)}"
            assert int(abort["got"]) < len(data)
            victims.append((victim.pid, int(abort["got"])))
            assert server.running()
    finally:
        stop_traffic.set()
        for thread in threads:
            thread.join(90)
    with lock:
        assert traffic, "no background traffic ran"
        bad = [(pid, len(data), code, err) for pid, data, code, err in traffic if code != 0]
        assert not bad, f"background senders failed: {bad}"
        expected = collections.Counter((pid, data) for pid, data, _, _ in traffic)
    delivered = server.wait_delivered(len(expected))
    victim_pids = {pid for pid, _ in victims}
    assert not [pid for pid, _ in delivered if pid in victim_pids], "a killed sender's partial message was delivered"
    assert collections.Counter(delivered) == expected
    summary = server.stop_checked()
    assert int(summary["aborted"]) >= len(victims)
    log(f"sigkill: victims killed at (pid, bytes received) {victims}; {len(traffic)} background messages delivered")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("reap", [True, False], ids=["reaped", "zombie"])
def test_server_sigkilled_mid_transfer_sender_exits_server_gone(start_server, children: helpers.Children, reap: bool) -> None:
    """The server SIGKILLed mid-transfer: the active and a queued sender exit 7 (SERVER_GONE) within their timeout."""
    server = start_server("--json")
    timeout = protocol.DEFAULT_TIMEOUT
    active = children.sender(server.pid, os.urandom(64 * 1024), "--timeout", str(timeout))
    wait_mid_transfer(server, active)
    queued = children.sender(server.pid, b"waiting my turn", "--timeout", str(timeout))
    server.wait_stderr(rf"\b{queued.pid}\b.*waits its turn")
    killed_at = time.monotonic()
    server.kill(reap=reap)
    results = {}
    for name, proc in (("active", active), ("queued", queued)):
        code, _, err = helpers.finish(proc, timeout + 10)
        results[name] = (code, time.monotonic() - killed_at, err.strip())
    for name, (code, after, err) in results.items():
        assert code == exit_codes.SERVER_GONE, f"{name} sender: exit {code} ({err})"
        assert after <= timeout, f"{name} sender took {after:.2f} s (> its {timeout} s timeout)"
    log(f"server sigkill ({'reaped' if reap else 'zombie'}): " + ", ".join(f"{n} exit {c} after {t:.2f} s" for n, (c, t, _) in results.items()))


@pytest.mark.timeout(90)
def test_sender_sigstopped_longer_than_session_timeout(start_server, children: helpers.Children) -> None:
    """A sender stopped mid-transfer for longer than the session timeout: the session is dropped and reported, the
    next sender is served meanwhile, and once continued the stopped sender delivers its message once, intact."""
    server = start_server("--json")
    long_data = os.urandom(12000)
    short_data = "sent while the other one is stopped ✓".encode()
    stopped = children.sender(server.pid, long_data)
    wait_mid_transfer(server, stopped)
    stopped.send_signal(signal.SIGSTOP)
    stopped_at = time.monotonic()
    try:
        other = children.sender(server.pid, short_data)
        abort = server.wait_stderr(ABORT_RE.format(pid=stopped.pid), protocol.SESSION_IDLE_TIMEOUT + 10)
        assert abort["reason"] == protocol.AbortReason.SILENT.value
        assert abort["length"] == str(len(long_data)) and int(abort["got"]) < len(long_data)
        assert time.monotonic() - stopped_at >= protocol.SESSION_IDLE_TIMEOUT - 0.1
        queued = bool(re.search(rf"\b{other.pid}\b.*waits its turn", server.stderr()))
        code, _, err = helpers.finish(other, 30)
        assert code == 0, err
        assert server.wait_delivered(1) == [(other.pid, short_data)]
        assert time.monotonic() - stopped_at > protocol.SESSION_IDLE_TIMEOUT
    finally:
        stopped.send_signal(signal.SIGCONT)
    stopped_for = time.monotonic() - stopped_at
    code, _, err = helpers.finish(stopped, 60)
    if code == exit_codes.NO_ANSWER:
        raise ServerBug(f"the continued sender got no answer: {err.strip()}\n{server.lines_about([stopped.pid])}")
    assert code == 0, f"exit {code}: {err}"
    assert server.wait_delivered(2) == [(other.pid, short_data), (stopped.pid, long_data)]
    summary = server.stop_checked()
    assert int(summary["delivered"]) == 2
    log(
        f"sigstop: stopped {stopped_for:.2f} s (other sender {'queued meanwhile' if queued else 'came after the abort'}); "
        f"abort reported as {abort.group(0)!r}; continued, retried and delivered once"
    )


def stopped_sender_outcome(stop_for: float) -> tuple[protocol.Outcome | None, float]:
    """Sans-IO: a sender is stopped mid-frame for ``stop_for`` seconds (its pending reply waits for it), the server
    ticks every 50 ms meanwhile; then both run with instant delivery. Returns the outcome and when it came."""
    server = model_server(protocol.DEFAULT_MAX_BYTES)
    sender = protocol.Sender(b"x" * 200, 7)
    pid, now, next_tick, stop_at = 4242, 0.0, 0.0, None
    pending: list[int] = []

    def to_server(symbol: int) -> None:
        reply = server.receive(pid, symbol, now)
        server.events.clear()
        if reply is not None:
            pending.append(reply)

    to_server(sender.start(now))
    while sender.outcome is None and now < 60:
        if stop_at is None and sender.state is protocol.SenderState.SENDING and sender.stats.frame_bits > 500:
            stop_at = now
        running = stop_at is None or now >= stop_at + stop_for
        if running and pending:
            symbol = sender.receive(pending.pop(0), now)
            if sender.drain:
                sender.drain = False
                pending.clear()
        elif running and now >= sender.deadline:
            symbol = sender.timeout(now)
        else:
            now = round(now + 0.001, 6)
            if now >= next_tick:
                next_tick = now + 0.05
                server.tick(now)
                server.events.clear()
                server.outbox.clear()
            continue
        if symbol is not None:
            to_server(symbol)
    return sender.outcome, now


def test_protocol_sender_stopped_past_the_session_margin_recovers() -> None:
    """Sans-IO version of the SIGSTOP test, for several stop lengths: the sender must end up delivering."""
    outcomes = {stop_for: stopped_sender_outcome(stop_for) for stop_for in (1.0, 1.7, 2.2, 3.0, 4.5, 6.0)}
    failed = {stop: f"{outcome.value if outcome else None} at {at:.1f} s" for stop, (outcome, at) in outcomes.items() if outcome is not protocol.Outcome.DELIVERED}
    if failed:
        raise ServerBug(f"stopped for (s): outcome {failed}")


# --------------------------------------------------------------------------- spoofing


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", ["default", "native-only"])
def test_spoofer_signalling_the_server_during_a_transfer(start_server, children: helpers.Children, mode: str) -> None:
    """Random SIGUSR1/SIGUSR2 from a third process (1000/s for 1.5 s) while a transfer runs: it arrives intact, once,
    and nothing the spoofer sent is delivered as the real sender's. (By default the server also decodes classic
    minitalk clients, so the spoofer's noise may be decoded as a classic message, under the spoofer's own pid; a
    native-only server counts the spoofer's signals as stray.)"""
    if mode == "native-only" and "--no-classic" not in helpers.server_help():
        pytest.skip("this server has no classic mode")
    server = start_server("--json", *(["--no-classic"] if mode == "native-only" else []))
    data = ("payload 🔒\x00 " * 800).encode()[:8000]
    spoofer = children.tool("spoofer.py", server.pid, "--rate", 1000, "--duration", 1.5, "--seed", 3)
    assert json.loads(spoofer.stdout.readline())["started"]
    sender = children.sender(server.pid, data, "-v")
    code, _, err = helpers.finish(sender, 60)
    assert code == 0, err
    code, out, spoof_err = helpers.finish(spoofer, 20)
    assert code == 0, spoof_err
    spoofed = json.loads(out)
    assert server.wait_delivered_from(sender.pid) == [data]
    summary = server.stop_checked()
    assert {pid for pid, _ in server.delivered()} <= {sender.pid, spoofed["pid"]}
    if mode == "native-only":
        assert int(summary["stray"]) > 0, "the spoofer's signals were not counted as stray"
    log(f"spoof server ({mode}): spoofer sent {spoofed['sent']} signals; sender: {err.strip()}; {summary.group(0)}")


@pytest.mark.timeout(60)
def test_spoofer_signalling_a_waiting_sender_is_ignored(start_server, children: helpers.Children) -> None:
    """Random SIGUSR1/SIGUSR2 from a third process to a queued sender: only signals from the server's pid count.

    The session is held by a sender that we stop (SIGSTOP) mid-transfer on a server with a long session timeout,
    so the second sender is certainly queued for the whole spoofing; SIGKILLing the holder then frees the session."""
    server = start_server("--json", "--session-timeout", "60")
    holder = children.sender(server.pid, os.urandom(64 * 1024))
    wait_mid_transfer(server, holder)
    holder.send_signal(signal.SIGSTOP)
    waiting_data = b"\x00waiting\x00sender\xff"
    waiting = children.sender(server.pid, waiting_data, "-v")
    server.wait_stderr(rf"\b{waiting.pid}\b.*waits its turn")
    spoofer = children.tool("spoofer.py", waiting.pid, "--rate", 1000, "--duration", 1.0, "--seed", 5)
    code, out, err = helpers.finish(spoofer, 20)
    assert code == 0, err
    spoofed = json.loads(out.splitlines()[-1])
    assert spoofed["sent"] > 100
    assert waiting.poll() is None, "the waiting sender reacted to the spoofer (it exited)"
    assert not re.search(rf"\b{waiting.pid}\b.*started", server.stderr()), "the spoofer made it jump the queue"
    holder.kill()
    server.wait_stderr(ABORT_RE.format(pid=holder.pid))
    code, _, err = helpers.finish(waiting, 30)
    assert code == 0, err
    assert server.wait_delivered(1) == [(waiting.pid, waiting_data)]
    server.stop_checked()
    log(f"spoof waiting sender: spoofer sent {spoofed['sent']} signals to it; then: {err.strip()}")


BYSTANDER = (
    "import signal, sys; signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGUSR2}); "
    "print(flush=True); sys.stdin.read()"
)


@pytest.mark.timeout(60)
def test_forged_sender_pid_and_uid_are_not_accepted(start_server, children: helpers.Children) -> None:
    """A process sends a whole valid frame with rt_sigqueueinfo, claiming another pid (and uid 0): nothing may be
    delivered in that pid's name. Only SI_USER/SI_TKILL signals carry a pid and uid the kernel vouches for."""
    server = start_server("--json")
    # An innocent bystander that never signals anyone (and whose SIGUSR1/SIGUSR2 are blocked, so replies are safe).
    bystander = children.spawn([sys.executable, "-c", BYSTANDER], keep_stdin=True)
    bystander.stdout.readline()  # its mask is set
    forger_args = [server.pid, "--as-pid", bystander.pid, "--as-uid", 0, "--message", "forged"]
    if IS_ROOT:
        forger_args += ["--real-uid", NOBODY]  # a uid the server does not accept, unless it believes the forgery
    code, out, err = helpers.finish(children.tool("forge.py", *forger_args), 30)
    assert code == 0, err
    real = children.sender(server.pid, b"the real one")
    code, _, err = helpers.finish(real, 30)
    assert code == 0, err
    assert server.wait_delivered_from(real.pid) == [b"the real one"]
    server.stop_checked()  # joins the readers: everything the server printed is in
    delivered = server.delivered()
    forged = [(pid, data) for pid, data in delivered if pid == bystander.pid or data == b"forged"]
    if forged:
        raise ServerBug(f"delivered in the name of pid {bystander.pid}, which never sent a signal: {forged}")


# --------------------------------------------------------------------------- fuzz


@pytest.mark.timeout(90)
def test_fuzz_50_short_lived_processes(start_server, children: helpers.Children) -> None:
    """Random signal sequences from 50 short-lived processes: no crash, no hang, RSS bounded, next sender succeeds."""
    server = start_server("--json")
    code, _, err = helpers.finish(children.sender(server.pid, b"warm-up"), 30)
    assert code == 0, err
    code, out, err = helpers.finish(children.tool("fuzzer.py", server.pid, "--procs", 10, "--parallel", 10, "--seed", 99), 60)  # warm-up
    assert code == 0, err
    rss = [server.rss_kib()]
    kinds: collections.Counter = collections.Counter()
    started = time.monotonic()
    for seed in (1, 2):
        code, out, err = helpers.finish(children.tool("fuzzer.py", server.pid, "--procs", 50, "--parallel", 25, "--seed", seed), 60)
        assert code == 0, err
        reports = [json.loads(line) for line in out.splitlines()]
        assert reports[-1] == {"done": 50}
        kinds.update(report["kind"] for report in reports[:-1])
        assert server.running(), server.stderr()
        after = time.monotonic()
        real_data = f"after fuzz round {seed} 🐛\x00".encode()
        real = children.sender(server.pid, real_data, "-v")
        code, _, err = helpers.finish(real, 30)
        assert code == 0, f"the next real sender failed after the fuzz: {err}"
        assert server.wait_delivered_from(real.pid) == [real_data]
        log(f"fuzz round {seed}: real sender done {time.monotonic() - after:.2f} s after the fuzzers ({err.strip()})")
        rss.append(server.rss_kib())
    elapsed = time.monotonic() - started
    summary = server.stop_checked()
    log(f"fuzz: 100 processes {dict(kinds)} in {elapsed:.1f} s; server RSS KiB after warm-up/round1/round2: {rss}; {summary.group(0)}")
    assert rss[2] - rss[0] < 4096, f"RSS grew by {rss[2] - rss[0]} KiB over 100 fuzzing processes"
    assert rss[2] - rss[1] < 2048, f"RSS still growing: {rss}"


@pytest.mark.timeout(60)
def test_exited_noise_processes_do_not_stall_the_next_sender(start_server, children: helpers.Children) -> None:
    """40 short-lived processes send random bits (read as classic minitalk clients; a reply would kill them) and
    exit. They are gone: the next sigchat sender must not wait for them (an 18-byte message takes ~10 ms)."""
    if "--no-classic" not in helpers.server_help():
        pytest.skip("this server has no classic mode")
    server = start_server("--json")
    noise = children.tool("fuzzer.py", server.pid, "--procs", 40, "--parallel", 40, "--seed", 1, "--kinds", "noise", "--unsafe")
    code, out, err = helpers.finish(noise, 60)
    assert code == 0, err
    assert json.loads(out.splitlines()[-1]) == {"done": 40}  # all exited and reaped
    sender = children.sender(server.pid, b"native after noise", "-v")
    started = time.monotonic()
    try:
        code, _, err = helpers.finish(sender, 5.0)
    except subprocess.TimeoutExpired:
        sender.kill()
        sender.wait(10)
        raise ServerBug("the next sender was not done 5 s after all 40 noise processes had exited") from None
    assert code == 0, err
    assert server.wait_delivered_from(sender.pid) == [b"native after noise"]
    log(f"after 40 exited noise processes the next sender took {time.monotonic() - started:.2f} s: {err.strip()}")
    server.stop_checked()


def test_protocol_per_sender_state_expires() -> None:
    """Sans-IO, with the server configured as ``sigchat-server`` configures it (classic mode included): after
    random symbols, signatures and partial frames from 600 pids, the per-pid state (session, queue, linger,
    signature contacts, classic decoders, dedup) drains to nothing once the senders are gone (what the I/O layer
    reports from /proc or ESRCH) and the timeouts have passed. Silent but live senders also drain, in turn."""
    rng = random.Random(5)

    def fuzzed() -> tuple[protocol.Server, float, list[int]]:
        server = model_server(1000)
        now, pids = 0.0, list(range(1000, 1600))
        for pid in pids:
            now += 0.001
            for _ in range(rng.randrange(1, 40)):
                server.receive(pid, protocol.ONE if rng.random() < 0.7 else protocol.ZERO, now)
            if rng.random() < 0.1:
                server.tick(now)
            server.events.clear()
            server.outbox.clear()
        assert server.known_pids() > 100 and server.queued_pids, "the fuzz should leave plenty of state to expire"
        return server, now, pids

    # Every sender has exited: the I/O layer says so, then only time-based state (dedup) remains, for DEDUP_TTL.
    server, now, pids = fuzzed()
    for pid in pids:
        server.sender_gone(pid, now)
    server.tick(now + 0.1)
    server.tick(now + protocol.DEDUP_TTL + 1)
    assert server.active_pid is None
    assert server.known_pids() == 0

    # Every sender is alive but silent: each queued/waiting one gets its turn and times out; nothing stays for ever.
    server, now, _ = fuzzed()
    start, previous = now, server.known_pids()
    limit = now + protocol.DEDUP_TTL + protocol.QUEUE_TTL + 2.0 * previous  # at most a couple of seconds per pid
    while server.known_pids() and now < limit:
        now += 0.25
        server.tick(now)
        server.events.clear()
        server.outbox.clear()
        assert server.known_pids() <= previous, "state grew while nobody signalled"
        previous = server.known_pids()
    log(f"sans-IO state of 600 silent fuzzing pids drained in {now - start:.0f} simulated seconds")
    assert server.known_pids() == 0, f"{server.known_pids()} pids still known {now - start:.0f} s after the last signal"


# --------------------------------------------------------------------------- bad input


@pytest.mark.timeout(60)
def test_length_above_max_bytes_refused_before_the_payload(start_server, children: helpers.Children) -> None:
    """A length above --max-bytes is refused at the header (exit 8), before any payload bit; the limit itself passes."""
    limit = 1000
    server = start_server("--json", "--max-bytes", str(limit))
    for size in (limit + 1, 1 << 20):
        started = time.monotonic()
        proc = children.sender(server.pid, os.urandom(size), "-v")
        code, _, err = helpers.finish(proc, 30)
        elapsed = time.monotonic() - started
        assert code == exit_codes.REJECTED, err
        stats = re.search(r"([\d,]+) bytes, 1 bit per signal, (\d+) bits, ([\d,]+) signals sent.* (\d+) attempts?", err)
        assert stats, err
        # A NAK is only believed in an attempt without retransmissions (it could answer a duplicated bit), so a
        # busy machine may need a second attempt; each stops at the length field all the same.
        assert int(stats[2]) <= protocol.LENGTH_CHECK_INDEX * int(stats[4]), f"payload bits were sent: {err}"
        server.wait_stderr(rf"rejected message from {proc.pid}: {size} bytes is over --max-bytes {limit}")
        log(f"max-bytes: {size} bytes refused in {elapsed:.2f} s after {stats[2]} frame bits in {stats[4]} attempt(s)")
    exact = os.urandom(limit)
    proc = children.sender(server.pid, exact)
    code, _, err = helpers.finish(proc, 30)
    assert code == 0, err
    assert server.wait_delivered(1) == [(proc.pid, exact)]
    summary = server.stop_checked()
    assert int(summary["delivered"]) == 1


def model_server(max_bytes: int) -> protocol.Server:
    """The sans-IO server exactly as ``sigchat-server --max-bytes N`` configures it (classic mode included)."""
    from sigchat.server.options import build_parser, build_server

    return build_server(build_parser().parse_args(["--max-bytes", str(max_bytes)]))


def model_exchange(symbols: list[int], max_bytes: int) -> tuple[str, str, list[protocol.ServerEvent]]:
    """What the sans-IO server answers to a signature plus ``symbols`` (until its first non-answer), and its events
    once the sender has gone: ``(signature replies, replies, events)``."""
    server = model_server(max_bytes)
    pid, now = 4242, 0.0
    signature = "".join(str(server.receive(pid, protocol.ONE, now)) for _ in range(protocol.SIGNATURE_LENGTH))
    replies = ""
    for symbol in symbols:
        reply = server.receive(pid, symbol, now)
        if reply is None:
            break
        replies += str(reply)
    server.sender_gone(pid, now)
    return signature, replies, server.events


MALFORMED_MAX_BYTES = 64


@st.composite
def malformed_frames(draw) -> list[int]:
    """A frame (often valid to start with) and one mutation: flipped bits, truncated, extended, bad length/version/CRC."""
    payload = draw(st.binary(max_size=24))
    version = draw(st.sampled_from([protocol.PROTOCOL_VERSION] * 4 + [0, 2, 255]))
    length = draw(
        st.one_of(
            st.just(len(payload)),
            st.integers(0, MALFORMED_MAX_BYTES),
            st.integers(MALFORMED_MAX_BYTES + 1, protocol.MAX_LENGTH),
        )
    )
    header = protocol.HEADER.pack(version, draw(st.integers(0, 255)), draw(st.integers(0, 3)), draw(st.integers(0, 2**32 - 1)), length)
    retransmissions = draw(st.integers(0, 3))
    crc = protocol.frame_crc(header + payload, retransmissions) ^ draw(st.sampled_from([0, 0, 1, 1 << 31, 0xFFFFFFFF]))
    symbols = [protocol.START_BIT] + protocol.symbols_of(header + payload + protocol.TAIL.pack(retransmissions, crc))
    mutation = draw(st.sampled_from(["none", "flip", "truncate", "extend", "delete", "insert"]))
    if mutation == "flip":
        for index in draw(st.lists(st.integers(0, len(symbols) - 1), min_size=1, max_size=3)):
            symbols[index] ^= 1
    elif mutation == "truncate":
        symbols = symbols[: draw(st.integers(0, len(symbols) - 1))]
    elif mutation == "extend":
        symbols += draw(st.lists(st.integers(0, 1), min_size=1, max_size=8))
    elif mutation == "delete":
        del symbols[draw(st.integers(0, len(symbols) - 1))]
    elif mutation == "insert":
        symbols.insert(draw(st.integers(0, len(symbols))), draw(st.integers(0, 1)))
    return symbols


def _frame(payload: bytes, *, version: int = protocol.PROTOCOL_VERSION, length: int | None = None, crc_xor: int = 0) -> list[int]:
    header = protocol.HEADER.pack(version, 0, 0, 77, len(payload) if length is None else length)
    crc = protocol.frame_crc(header + payload, 0) ^ crc_xor
    return [protocol.START_BIT] + protocol.symbols_of(header + payload + protocol.TAIL.pack(0, crc))


class RawFrames:
    """``stress_tools/rawframe.py``: one fresh process per frame, driven over a pipe."""

    def __init__(self, children: helpers.Children, server_pid: int) -> None:
        self.proc = children.spawn([sys.executable, str(helpers.TOOLS / "rawframe.py"), str(server_pid)], keep_stdin=True)
        self.out = children.reader(self.proc, "rawframe stdout")

    def send(self, symbols: list[int], extra: list[int]) -> dict:
        count = len(self.out.lines())
        request = {"symbols": "".join(map(str, symbols)), "extra": "".join(map(str, extra)), "reply_timeout": 5.0}
        self.proc.stdin.write((json.dumps(request) + "\n").encode())
        self.proc.stdin.flush()
        self.out.wait_for_lines(lambda lines: len(lines) > count, 60, "a rawframe result")
        return json.loads(self.out.lines()[count])


@pytest.mark.timeout(120)
def test_malformed_frames_over_real_signals_match_the_protocol_model(start_server, children: helpers.Children) -> None:
    """Hypothesis frames (valid, bit-flipped, truncated, extended, bad version/length/CRC) sent over real signals, one
    process each: the real server answers every bit exactly as the sans-IO model does, delivers only what the model
    delivers, reports every rejection, and its receiver thread survives them all."""
    server = start_server("--json", "--max-bytes", str(MALFORMED_MAX_BYTES))
    raw = RawFrames(children, server.pid)
    seen = collections.Counter()

    @settings(max_examples=30, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    @given(malformed_frames())
    @example(_frame(b"valid"))
    @example(_frame(b"bad version", version=2))
    @example(_frame(b"", length=MALFORMED_MAX_BYTES + 1))
    @example(_frame(b"bad crc", crc_xor=1 << 31))
    @example(_frame(b"truncated mid-payload")[:150])
    def check(symbols: list[int]) -> None:
        signature, replies, events = model_exchange(symbols, MALFORMED_MAX_BYTES)
        answered = len(replies)
        result = raw.send(symbols[:answered], symbols[answered : answered + 1])
        pid = result["pid"]
        assert "error" not in result, result
        assert result["signature"] == signature
        assert result["replies"] == replies, f"real server answered differently from the model for pid {pid}"
        assert result["extra"] in ("", "-"), "an answer to a bit the model ignores"
        for event in events:
            if getattr(event, "mode", "native") != "native":
                seen["classic " + type(event).__name__] += 1  # extra bits read as a classic client: no fixed format
            elif isinstance(event, protocol.TransferAborted):
                if event.reason is protocol.AbortReason.TOO_LARGE:
                    server.wait_stderr(rf"rejected message from {pid}: \d+ bytes is over --max-bytes")
                else:
                    server.wait_stderr(rf"transfer from {pid} aborted: {re.escape(event.reason.value)}")
                seen[event.reason.name] += 1
        expected = [event.data for event in events if isinstance(event, protocol.MessageDelivered) and not event.duplicate]
        if expected:
            assert server.wait_delivered_from(pid, 10) == expected
            seen["DELIVERED"] += 1
        assert [data for record_pid, data in server.delivered() if record_pid == pid] == expected
        assert server.running(), server.stderr()

    check()
    code, _, err = helpers.finish(children.sender(server.pid, b"still serving"), 30)
    assert code == 0, err
    server.stop_checked()
    log(f"malformed frames over real signals: outcomes {dict(seen)}")
    assert seen["DELIVERED"] and seen["CORRUPT"] and seen["TOO_LARGE"] and seen["BAD_VERSION"] and seen["SENDER_GONE"]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("breakage", ["log-on-dev-full", "stdout-closed"])
def test_receiver_thread_death_is_reported_and_exits_nonzero(start_server, children: helpers.Children, breakage: str) -> None:
    """When the receiver thread dies (--log /dev/full: ENOSPC; or a closed stdout: EPIPE) the server says so on
    stderr and exits non-zero instead of silently ignoring senders; the sender does not report success."""
    if breakage == "log-on-dev-full":
        if not os.path.exists("/dev/full"):
            pytest.skip("no /dev/full")
        server = start_server("--json", "--log", "/dev/full")
    else:
        server = start_server("--json", read_stdout=False)
        server.proc.stdout.close()
    proc = children.sender(server.pid, b"this cannot be stored")
    code, _, err = helpers.finish(proc, protocol.DEFAULT_TIMEOUT + 10)
    assert code != 0, "the sender was told 'intact' although the server could not store the message"
    assert code in (exit_codes.SERVER_GONE, exit_codes.NO_ANSWER), err
    stopped = server.wait_exit(10)
    returncode, stderr = stopped.returncode, stopped.stderr
    assert "receiver thread died" in stderr, stderr
    assert returncode != 0
    if breakage == "log-on-dev-full":
        assert returncode == exit_codes.FAILURE, stderr
        assert "No space left on device" in stderr or "ENOSPC" in stderr or "Errno 28" in stderr, stderr
    log(f"receiver death ({breakage}): server exit {returncode}, sender exit {code}: {err.strip()}")


# --------------------------------------------------------------------------- who may talk


def run_as(ruid: int, euid: int, command: str) -> list[str]:
    return [sys.executable, str(helpers.TOOLS / "run_as.py"), str(ruid), str(euid), command]


@pytest.mark.timeout(60)
@pytest.mark.skipif(not IS_ROOT, reason="needs root to start a process with another real uid")
def test_foreign_uid_ignored_by_default_and_accepted_with_allow_uid(start_server, children: helpers.Children) -> None:
    """A sender whose real uid is 65534 (effective uid 0, so the kernel lets it signal root) is ignored and counted
    by a default server, and accepted by one started with --allow-uid 65534."""
    data = "from uid 65534 ✉".encode()
    server = start_server("--json")
    foreign = children.sender(server.pid, data, "--timeout", "1.5", command=run_as(NOBODY, 0, "send"))
    code, _, err = helpers.finish(foreign, 30)
    assert code == exit_codes.NO_ANSWER, f"exit {code}: {err}"
    own = children.sender(server.pid, b"from root")
    code, _, err = helpers.finish(own, 30)
    assert code == 0, err
    assert server.wait_delivered(1) == [(own.pid, b"from root")]
    summary = server.stop_checked()
    assert int(summary["stray"]) >= 1, "the foreign uid's signals were not counted"
    assert not re.search(rf"\b{foreign.pid}\b", server.stderr()), "the server reacted to the foreign sender"

    allowing = start_server("--json", "--allow-uid", str(NOBODY))
    foreign = children.sender(allowing.pid, data, command=run_as(NOBODY, 0, "send"))
    code, _, err = helpers.finish(foreign, 30)
    assert code == 0, err
    assert allowing.wait_delivered(1) == [(foreign.pid, data)]
    allowing.stop_checked()
    log(f"uid filter: default server ignored uid {NOBODY} ({summary['stray']} stray signals), --allow-uid accepted it")


@pytest.mark.timeout(60)
@pytest.mark.skipif(not IS_ROOT, reason="needs root to run the server as another user")
def test_root_sender_does_not_bring_down_a_non_root_server(start_server, children: helpers.Children) -> None:
    """A server running as uid 65534 accepts uid 0 by default, but may not signal root's processes: a root sender
    must get a clean refusal (or no answer), and the server must keep serving its own user."""
    server = start_server("--json", command=run_as(NOBODY, NOBODY, "server"))
    root_sender = children.sender(server.pid, b"from root", "--timeout", "1.5")
    root_code, _, root_err = helpers.finish(root_sender, 30)
    assert root_code != 0
    try:
        server.proc.wait(1.0)  # it must NOT exit; give a dying server the time to do so
    except subprocess.TimeoutExpired:
        pass
    if not server.running():
        raise ServerBug(f"the server exited {server.proc.returncode} after a root sender: {server.stderr().strip()}")
    own = children.sender(server.pid, b"from uid 65534", command=run_as(NOBODY, NOBODY, "send"))
    code, _, err = helpers.finish(own, 30)
    assert code == 0, err
    assert server.wait_delivered(1) == [(own.pid, b"from uid 65534")]
    server.stop_checked()


# --------------------------------------------------------------------------- durable log


@pytest.mark.timeout(60)
def test_durable_log_has_the_message_before_the_sender_exits(start_server, children: helpers.Children, tmp_path: Path) -> None:
    """With --log FILE the record is in the file when the sender exits 0 (written and fsynced before the 'intact'
    verdict); SIGKILL right after the last sender loses nothing."""
    log_file = tmp_path / "messages.jsonl"
    server = start_server("--json", "--log", str(log_file))
    rng = random.Random(11)
    expected = []
    for index in range(6):
        data = message(rng, rng.randint(0, 600), index % 4)
        proc = children.sender(server.pid, data)
        code, _, err = helpers.finish(proc, 30)
        assert code == 0, err
        if index == 5:
            server.kill(reap=False)  # right after the sender exited 0, before anything else
        records = [json.loads(line) for line in log_file.read_text("utf-8").splitlines()]
        logged = [(record["pid"], helpers.payload_of(record)) for record in records if record.get("event") == "delivered"]
        assert (proc.pid, data) in logged, f"sender {proc.pid} exited 0 but its message is not in the log yet"
        expected.append((proc.pid, data))
    assert server.proc.wait(10) == -signal.SIGKILL
    records = [json.loads(line) for line in log_file.read_text("utf-8").splitlines()]
    assert [(record["pid"], helpers.payload_of(record)) for record in records] == expected
