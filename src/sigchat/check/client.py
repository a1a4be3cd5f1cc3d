"""``sigchat-check client CMD [ARG...]``: the student's client against sigchat's own server.

Each case runs ``CMD ARG... PID MESSAGE`` against a fresh in-process server
(``trace.TracingServer`` on ``sigio.receiver.Receiver``: the receiver thread
of this process, which has SIGUSR1/SIGUSR2 blocked since ``command.main``
started), so every signal the client sent is at hand for the diagnosis. The
"server gone" case needs a server that can die: a ``sigchat-server`` child.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import time
from collections.abc import Callable, Iterator

from sigchat.check import cases as c
from sigchat.check import diagnosis
from sigchat.check.processes import (
    Catcher,
    LineReader,
    ProcessResult,
    finish,
    reap,
    run,
    run_together,
    sigchat_server,
    spawn,
    start_sleep,
)
from sigchat.check.report import CaseResult
from sigchat.check.trace import TICK, TracingServer
from sigchat.format import human_duration, human_rate, number, percent, plural
from sigchat.proto.classic.infer import ClientMatch, infer_client
from sigchat.proto.classic.profile import DEFAULT_IDLE_TIMEOUT, Profile, parse_profile
from sigchat.proto.events import MessageDelivered, ServerEvent, TransferAborted
from sigchat.proto.wire import ZERO
from sigchat.sigio import procfs
from sigchat.sigio.masks import SIGNAL_OF_SYMBOL, signals_pending, take_stray
from sigchat.sigio.receiver import Receiver
from sigchat.sigio.sigapi import signal_name

DETECT_TIMEOUT = 1.5
"""Seconds a probe run may take: the probe is ~100 bits."""
PROBE_SERVERS = ("ack=usr1", "ack=usr2", "handshake,ack=usr2", "handshake=usr2,ack=usr2", "handshake=usr2")
"""How the probe server answers, tried in turn: the common acks first, then handshakes answered otherwise."""
SILENT_PROBE = 0.3
"""Seconds a client gets to send the probe without a single ack: one that paces itself is done by then."""
PROBE_RETRIES = 2
"""More probes for a client that does not wait for acks, when its signals matched no profile exactly."""
ARGUMENT_TIMEOUT = 3.0
"""Seconds a client with bad arguments (or the PID of a ``sleep``) may take to give up."""
SETTLE_TIMEOUT = 3.0
"""Seconds for the server to finish reading what an exited client sent."""
SERVER_GONE_QUICK = 3.0
"""Seconds a client may take to give up once its server died, with ``--quick``."""


class LocalServer:
    """One in-process sigchat server for one case: the events, the refusals and the trace of each client."""

    def __init__(self, profile: Profile, *, probing: bool = False) -> None:
        self.server = TracingServer(profile, idle_timeout=DEFAULT_IDLE_TIMEOUT, alive=procfs.is_alive, probing=probing)
        self.events: list[ServerEvent] = []
        self.refusals: dict[int, str] = {}
        # Not pinned: no sender joins its CPU here, and pinned it cannot flee a CPU that other work keeps busy.
        self.receiver = Receiver(self.server, self.events.append, on_refused=self._refused, poll_interval=TICK, pin_cpu=False)
        self.pid = os.getpid()

    def _refused(self, pid: int, reason: str) -> None:
        self.refusals.setdefault(pid, reason)

    def __enter__(self) -> LocalServer:
        self.receiver.start()
        # It warms up first, and an unacked client's bits would pile up meanwhile.
        self._wait(self._idle)
        return self

    def _wait(self, condition: Callable[[], bool]) -> None:
        """Until ``condition()`` (at most ``SETTLE_TIMEOUT``)."""
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while time.monotonic() < deadline and self.receiver.alive and not condition():
            time.sleep(TICK)

    def _idle(self) -> bool:
        """The receiver thread waits for the next signal: it has handed on all it made of the last."""
        tid = procfs.receiver_tid(self.pid)
        return tid is not None and procfs.signal_in_flight(self.pid, tid, SIGNAL_OF_SYMBOL[ZERO]) is False

    def __exit__(self, *exc: object) -> None:
        self.receiver.stop()

    def settle(self, pid: int) -> None:
        """Until everything ``pid`` sent was read, its message ended and reported (at most ``SETTLE_TIMEOUT``)."""
        server = self.server

        def ended() -> bool:
            decoder = server.classic.decoders.get(pid)
            busy = decoder is not None and decoder.stats is not None
            return not busy and not signals_pending() and not any(held[0] == pid for held in server.held)

        self._wait(ended)
        self._wait(self._idle)

    def strays(self, pid: int) -> list[int]:
        """The stray signals (``masks.STRAY_SIGNALS``) ``pid`` sent this process (at most one of each)."""
        found = []
        while (stray := take_stray()) is not None:
            if stray[1] == pid:
                found.append(stray[0])
        return found

    def delivered(self, pid: int) -> list[bytes]:
        return [e.data for e in list(self.events) if isinstance(e, MessageDelivered) and e.pid == pid]

    def aborted(self, pid: int) -> list[TransferAborted]:
        return [e for e in list(self.events) if isinstance(e, TransferAborted) and e.pid == pid]

    def waits(self, pid: int) -> bool:
        """Whether ``pid`` waited for acks: not without acks in the profile, and a client refused them (they would
        kill it, or it did not wait for the first) that sent its bits anyway did not."""
        return self.server.classic.profile.ack is not None and pid not in self.refusals


@dataclasses.dataclass
class Sent:
    """One client run against a ``LocalServer``: what it did and what arrived."""

    run: ProcessResult
    delivered: list[bytes]
    aborted: list[TransferAborted]
    symbols: list[int]
    times: list[float]
    waits: bool
    exited_before_last_ack: bool
    strays: list[int]
    """Signals other than SIGUSR1/SIGUSR2 it sent the server."""


def send(local: LocalServer, command: list[str], message: bytes, timeout: float = c.CLIENT_TIMEOUT) -> Sent:
    return observed(local, run([*command, str(local.pid), os.fsdecode(message)], timeout))


def observed(local: LocalServer, result: ProcessResult) -> Sent:
    """What the client run ``result`` sent ``local`` and what arrived, once the server has read it all."""
    local.settle(result.pid)
    trace = local.server.trace.get(result.pid, [])
    return Sent(
        result,
        local.delivered(result.pid),
        local.aborted(result.pid),
        [symbol for symbol, _ in trace],
        [at for _, at in trace],
        local.waits(result.pid),
        result.pid in local.server.exited_early,
        local.strays(result.pid),
    )


# --------------------------------------------------------------------------- profile detection


def detect(command: list[str]) -> tuple[Profile | None, str]:
    """Run the client with ``cases.PROBE`` and read its profile from its signals: ``(profile, how sure)``.

    The probe server answers as ``PROBE_SERVERS`` say, the next one while the client stalls within
    its first signals (it waits for another ack, or another handshake answer); an end ack is tried
    when it sent the whole probe and then hung or failed.
    """
    tried = []
    for text in PROBE_SERVERS:
        probe = parse_profile(text)
        with LocalServer(probe, probing=True) as local:
            sent = send(local, command, c.PROBE, DETECT_TIMEOUT)
        matches = infer_client(sent.symbols, c.PROBE) if sent.symbols else []
        tried.append((probe, sent, matches))
        if matches and recognised(matches[0], sent):
            break  # (else it stalled or gave up: it waits for another ack, or another handshake answer)
    probe, sent, matches = min(tried, key=lambda t: (not t[2], not (t[2] and recognised(t[2][0], t[1])), -len(t[1].symbols)))
    if sent.strays:
        return None, stray_words(sent.strays)
    if not sent.symbols:
        return None, f"the client sent no signal for the probe message ({sent.run.status})"
    for _ in range(PROBE_RETRIES if not sent.waits else 0):
        if matches[0].errors == 0:
            break
        with LocalServer(probe, probing=True) as local:  # its signals may have merged: another try
            again = send(local, command, c.PROBE, DETECT_TIMEOUT)
        retry = infer_client(again.symbols, c.PROBE)
        if retry and retry[0].errors < matches[0].errors:
            sent, matches = again, retry
    best = matches[0]
    if not recognised(best, sent):
        return None, (
            f"its {plural(len(sent.symbols), 'signal')} for {c.PROBE.decode()!r} match no known profile "
            f"(nearest: {best.profile}, {plural(best.errors, 'signal')} off); pass --profile"
        )
    answers = {}
    if best.profile.handshake:  # answered as a handshake, or else as the first bit (with the ack)
        answers["handshake_reply"] = probe.handshake_reply if probe.handshake else probe.ack or "usr1"
    waits = sent.waits and waits_for_acks(command, dataclasses.replace(best.profile, **answers), len(sent.symbols))
    profile = dataclasses.replace(best.profile, ack=probe.ack if waits else None, **answers)
    if sent.run.hung or sent.run.returncode != 0:
        # It sent the whole probe, then waited or failed: for an end ack?
        for end in {"usr1": ("usr2",), "usr2": ("usr1",), None: ("usr1", "usr2")}[profile.ack]:
            trial = dataclasses.replace(profile, end_ack=end)
            if any(ends_well(command, trial) for _ in range(1 if sent.waits else 1 + PROBE_RETRIES)):
                profile = trial
                break
    sure = f"{percent(best.confidence)} sure" if best.confidence < 1 else "certain"
    near = f", {plural(best.errors, 'signal')} lost or wrong" if best.errors else ""
    return profile, f"detected from its {number(len(sent.symbols))} signals for a probe message{near}: {sure}"


def waits_for_acks(command: list[str], profile: Profile, signals: int) -> bool:
    """Whether the client stalls without acks (the reply policy may take a paced client for one that waits)."""
    with LocalServer(dataclasses.replace(profile, ack=None, end_ack=None), probing=True) as local:
        silent = send(local, command, c.PROBE, SILENT_PROBE)
    return len(silent.symbols) < signals - signals // 10


def ends_well(command: list[str], profile: Profile) -> bool:
    """Whether the client sends the probe to a server of ``profile`` and exits 0."""
    with LocalServer(profile) as local:
        return send(local, command, c.PROBE, DETECT_TIMEOUT).run.returncode == 0


def recognised(match: ClientMatch, sent: Sent) -> bool:
    """A probe's signals that one profile explains, but for a few lost on the way (an unacked client's)."""
    return len(sent.symbols) >= 8 and match.errors <= len(sent.symbols) // 10


# --------------------------------------------------------------------------- the cases


def message_case(command: list[str], profile: Profile, case: c.MessageCase) -> tuple[CaseResult, list[Sent]]:
    began = time.monotonic()
    runs = []
    verdict = None
    with LocalServer(profile) as local:
        for attempt in range(case.repeat):
            sent = send(local, command, case.message)
            runs.append(sent)
            verdict = judge(case.message, profile, sent)
            if verdict is not None:
                if case.repeat > 1:
                    verdict = f"message {attempt + 1} of {case.repeat}: {verdict}"
                break
    seconds = time.monotonic() - began
    if verdict is None:
        took = sum(s.run.seconds for s in runs)
        rate = 8 * len(case.message) * case.repeat / took if took else 0
        verdict = f"intact in {human_duration(took)}" + (f" ({human_rate(rate)})" if case.message else "")
        if case.timed:
            verdict += f"; fast (under {c.FAST_1000:g} s)" if took < c.FAST_1000 else f"; slow (over {c.FAST_1000:g} s)"
        return CaseResult(case.name, True, seconds, verdict), runs
    return CaseResult(case.name, False, seconds, verdict), runs


def stray_words(strays: list[int]) -> str:
    names = " and ".join(f"{signal_name(signum)} (signal {signum})" for signum in strays)
    return (
        f"your client sent {names} to the server: kill(pid, SIGUSR1 + bit) is not SIGUSR2 on Linux "
        "(SIGUSR1 is 10, SIGUSR2 is 12); a real server dies of it"
    )


def judge(message: bytes, profile: Profile, sent: Sent) -> str | None:
    """``None`` when ``message`` arrived intact, once, and the client behaved; else what went wrong."""
    if sent.strays:
        return stray_words(sent.strays)
    if sent.delivered == [message] and not sent.aborted:
        if sent.run.hung:
            return f"delivered intact, but your client was still running {human_duration(sent.run.seconds)} later: it waits for something (an end ack?)"
        if sent.exited_before_last_ack:
            return (
                "delivered intact, but your client exited before the last ack: it does not wait for the ack of its "
                "last bit (a server still reading that bit finds its client gone)"
            )
        return None
    return diagnosis.client_message(
        message, profile, sent.symbols, sent.times, waits=sent.waits, hung=sent.run.hung, returncode=sent.run.returncode
    )


def exit_code_case(runs: list[tuple[str, Sent]]) -> CaseResult:
    bad = [(name, sent) for name, sent in runs if sent.run.returncode != 0]
    seconds = 0.0
    if not bad:
        return CaseResult(c.EXIT_CODE, True, seconds, f"0 after each of {plural(len(runs), 'message')}")
    name, sent = bad[0]
    return CaseResult(c.EXIT_CODE, False, seconds, f"{sent.run.status} after {name!r}" + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""))


def bad_argument_case(command: list[str], name: str, arguments: list[str]) -> CaseResult:
    began = time.monotonic()
    catcher = Catcher()
    try:
        args = [arg.format(group=catcher.group) for arg in arguments]
        result = run([*command, *args], ARGUMENT_TIMEOUT, group=catcher.group)
        caught = catcher.caught()
    finally:
        catcher.close()
    shown = " ".join(args) if args else "(none)"
    problems = []
    if caught:
        signals = sorted({line.split()[0] for line in caught})
        problems.append(f"your client sent {' and '.join(signals)} to its process group (kill() with PID {args[0] if args else '?'}): every process in it gets them")
    if result.returncode is not None and result.returncode < 0:
        problems.append(f"your client was {result.status}")
    if result.hung:
        problems.append(f"your client did not exit within {ARGUMENT_TIMEOUT:g} s")
    seconds = time.monotonic() - began
    if problems:
        return CaseResult(c.bad_arguments(name), False, seconds, f"given {shown}: " + "; ".join(problems))
    return CaseResult(c.bad_arguments(name), True, seconds, f"given {shown}: no signal sent, {result.status}")


def innocent_case(command: list[str]) -> CaseResult:
    began = time.monotonic()
    sleeper = start_sleep()
    try:
        result = run([*command, str(sleeper.pid), "hello"], ARGUMENT_TIMEOUT)
        died = sleeper.poll()
    finally:
        reap(sleeper)
    seconds = time.monotonic() - began
    if died is not None:
        how = f"it died of {signal_name(-died)}" if died < 0 else f"it exited {died}"
        return CaseResult(
            c.INNOCENT, False, seconds,
            f"your client killed PID {sleeper.pid}, which was not a server (a 'sleep' the checker started: {how}); "
            "check the target before you signal it (/proc/PID/status: SigCgt)",
        )  # fmt: skip
    return CaseResult(c.INNOCENT, True, seconds, f"the 'sleep' survived; your client: {result.status}")


def server_gone_case(command: list[str], profile: Profile, limit: float) -> CaseResult:
    """A sigchat-server child is killed once the client's message has started: the client must give up."""
    began = time.monotonic()
    name = c.SERVER_GONE
    server = sigchat_server("--classic", str(profile))
    try:
        out, err = LineReader(server.stdout), LineReader(server.stderr)
        first = out.wait_for(lambda data: b"\n" in data, 20.0)
        if not first:
            return CaseResult(name, False, time.monotonic() - began, "could not start a sigchat-server to kill")
        pid = server.pid
        client = run_killing(command, pid, c.art(4_000), lambda: err.wait_for(lambda data: b"started" in data, 10.0), server, limit)
    finally:
        reap(server)
    seconds = time.monotonic() - began
    if client.hung:
        return CaseResult(name, False, seconds, f"your client was still running {limit:g} s after its server died: it waits for an ack for ever (give up when kill() fails or after a timeout)")
    return CaseResult(name, True, seconds, f"your client gave up {human_duration(client.seconds)} after the server died ({client.status})")


def run_killing(command: list[str], pid: int, message: bytes, started: Callable[[], object], server: subprocess.Popen, limit: float) -> ProcessResult:
    """Run the client to ``pid``, kill ``server`` once ``started()``; the client's end, timed from the kill."""
    client = spawn([*command, str(pid), os.fsdecode(message)])
    try:
        started()
        reap(server)
    except BaseException:
        reap(client)
        raise
    return finish(client, limit, time.monotonic())


def speed_case(profile: Profile, timed: Sent | None, message: bytes) -> CaseResult:
    """Optional: the timed case's client against "fast" (``cases.FAST_1000``) and against ``sigchat-send --classic``
    sending the same message to the same kind of server (its start-up included)."""
    began = time.monotonic()
    with LocalServer(profile) as local:
        ours = run([*c.SEND_COMMAND, f"--classic={profile}", str(local.pid), os.fsdecode(message)], c.CLIENT_TIMEOUT)
        local.settle(ours.pid)
        sigchat_ok = local.delivered(ours.pid) == [message]
    seconds = time.monotonic() - began
    sigchat = f"sigchat-send --classic: {human_duration(ours.seconds)}" + ("" if sigchat_ok else " (not intact)")
    if timed is None or timed.delivered != [message]:
        return CaseResult(c.SPEED, False, seconds, f"your client's 1,000 chars did not arrive intact; {sigchat}", mandatory=False)
    took = timed.run.seconds
    fast = took < c.FAST_1000
    verdict = f"1,000 chars in {human_duration(took)}: {'fast' if fast else 'slow'} (fast: under {c.FAST_1000:g} s); {sigchat}"
    return CaseResult(c.SPEED, fast, seconds, verdict, mandatory=False)


def two_clients_case(command: list[str], profile: Profile) -> CaseResult:
    """Optional: two clients at once to one server; sigchat's line lets one stream at a time, if they wait for acks."""
    began = time.monotonic()
    messages = [c.prose(300), c.art(300)]
    with LocalServer(profile) as local:
        runs = run_together([[*command, str(local.pid), os.fsdecode(m)] for m in messages], c.CLIENT_TIMEOUT)
        verdicts = [judge(m, profile, observed(local, result)) for m, result in zip(messages, runs)]
    seconds = time.monotonic() - began
    failed = [(index, verdict) for index, verdict in enumerate(verdicts, 1) if verdict is not None]
    if not failed:
        return CaseResult(c.TWO_CLIENTS, True, seconds, "both intact", mandatory=False)
    index, verdict = failed[0]
    return CaseResult(c.TWO_CLIENTS, False, seconds, f"client {index} of 2: {verdict}", mandatory=False)


def client_cases(
    command: list[str], profile: Profile, quick: bool, progress: Callable[[str], None], wanted: Callable[[str], bool]
) -> Iterator[CaseResult]:
    runs = []
    timed = None
    for case in c.message_cases(quick):
        if wanted(case.name):
            progress(case.name)
            result, sent = message_case(command, profile, case)
            runs += [(case.name, s) for s in sent]
            if case.timed:
                timed = (case.message, sent[0])
            yield result
    if runs:
        yield exit_code_case(runs)
    for name, arguments in c.BAD_ARGUMENTS.items():
        if wanted(c.bad_arguments(name)):
            progress(c.bad_arguments(name))
            yield bad_argument_case(command, name, arguments)
    if wanted(c.INNOCENT):
        progress(c.INNOCENT)
        yield innocent_case(command)
    if wanted(c.SERVER_GONE):
        progress(c.SERVER_GONE)
        yield server_gone_case(command, profile, SERVER_GONE_QUICK if quick else c.CLIENT_TIMEOUT)
    if wanted(c.TWO_CLIENTS):
        progress(c.TWO_CLIENTS)
        yield two_clients_case(command, profile)
    if wanted(c.SPEED) and timed is not None:
        progress(c.SPEED)
        yield speed_case(profile, timed[1], timed[0])
