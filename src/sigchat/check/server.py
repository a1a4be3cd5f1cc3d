"""``sigchat-check server CMD [ARG...]``: start the student's server and send to it.

The server's PID is read from its first stdout line (the first number in it,
whatever the wording; it must be the server's own pid or a descendant's, so
nothing else is ever signalled). Messages go with sigchat's classic sender
(``sigio.send_classic``) from this process; what the server prints after
that line must be each message and a newline, nothing else. Each case starts
a fresh server, except "15 in a row".
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

from sigchat.check import cases as c
from sigchat.check.processes import LineReader, reap, run_together, spawn
from sigchat.check.report import CaseResult
from sigchat.format import human_duration, number, plural
from sigchat.proto.base import LocalProtocolError
from sigchat.proto.classic.profile import Profile, parse_profile
from sigchat.proto.classic.sender import SendOutcome
from sigchat.sigio import procfs
from sigchat.sigio.send_classic import ClassicSendResult, send_classic

START_TIMEOUT = 5.0
"""Seconds for the server's first line (its PID)."""
PRINT_WAIT = 1.0
"""Seconds a server may take to print a message it acked to the end (a C server prints at once)."""
PROBE_PRINT_WAIT = 0.2
"""The same for a detection probe: a wrong guess must cost little."""
QUIET = 0.2
"""Seconds of silence on its stdout after which a server is taken to have printed all it will."""
SETTLE = 0.02
"""The same once it printed as much as expected (anything more comes at once)."""
SPOOFED_ACK_TIMEOUT = 0.02
"""Seconds to wait for each ack with a spoofer about (the server may ack the spoofer instead)."""
PROBE_ACK_TIMEOUT = 0.05
"""Seconds a detection probe waits for each ack (a wrong guess must cost little)."""
END_ACK_WAIT = 0.3
"""Seconds a probe waits for an end-of-message ack after its last bit's (a server that sends one does at once)."""
CANDIDATES = (
    "", "lsb", "usr1=1", "lsb,usr1=1", "len32", "len32+nul", "len64", "lsb,len32", "lsb,len32+nul", "lsb,len64",
    "len64+nul", "lsb,len64+nul", "len32+nul,nul-counted", "lsb,len32+nul,nul-counted", "usr1=1,len32", "handshake",
    "handshake,len32+nul", "lsb,handshake,len32+nul,nul-counted", "len64,le,len64+nul,nul-counted",
)  # fmt: skip
"""Profiles detection tries, the most common conventions first (../shared/notes/minitalk-conventions.md)."""


class StartError(Exception):
    """The server did not start as a minitalk server does (no PID line, a PID not its own)."""


class StudentServer:
    def __init__(self, command: list[str]) -> None:
        try:
            self.proc = spawn(command)
        except OSError as error:
            raise StartError(f"cannot run {command[0]}: {error.strerror or error}") from None
        self.out = LineReader(self.proc.stdout)
        self.err = LineReader(self.proc.stderr)
        first = self.out.wait_for(lambda data: b"\n" in data, START_TIMEOUT)
        if not first:
            self.close()
            printed = self.out.snapshot()
            said = f"it printed {printed[:60]!r}" if printed else "it printed nothing"
            raise StartError(f"your server printed no line with its PID within {START_TIMEOUT:g} s ({said}; flush stdout?)")
        self.header = self.out.snapshot().split(b"\n", 1)[0] + b"\n"
        number_ = re.search(rb"\d+", self.header)
        if number_ is None:
            self.close()
            raise StartError(f"your server's first line holds no PID: {self.header!r}")
        self.pid = int(number_.group())
        if not self.owns(self.pid):
            self.close()
            raise StartError(f"your server printed PID {self.pid}, but its pid is {self.proc.pid} (nothing was signalled)")

    def owns(self, pid: int) -> bool:
        """Whether ``pid`` is the server process or one of its descendants (never signal anyone else)."""
        seen = 0
        while pid > 1 and seen < 64:
            if pid == self.proc.pid:
                return True
            pid = procfs.parent_pid(pid) or 0
            seen += 1
        return False

    def body(self) -> bytes:
        return self.out.snapshot()[len(self.header) :]

    def wait_body(self, size: int, timeout: float = PRINT_WAIT, quiet: float = QUIET) -> bytes:
        """Its output after the PID line once it holds ``size`` bytes (at most ``timeout``) and then was quiet
        for ``quiet`` (it may print more than it should), or a moment if it has them all."""
        reached = self.out.wait_for(lambda data: len(data) - len(self.header) >= size, timeout)
        return self.out.wait_quiet(SETTLE if reached else quiet, quiet)[len(self.header) :]

    def status(self) -> str | None:
        code = self.proc.poll()
        if code is None:
            return None
        return f"killed by signal {-code}" if code < 0 else f"exited with status {code}"

    def close(self) -> None:
        reap(self.proc)


def send(pid: int, message: bytes, profile: Profile, ack_timeout: float = 0.2) -> ClassicSendResult:
    return send_classic(pid, message, profile, ack_timeout=ack_timeout, end_timeout=1.0)


# --------------------------------------------------------------------------- detection


def detect(command: list[str]) -> tuple[Profile | None, str]:
    """Send ``cases.PROBE`` in each candidate profile to a fresh server until one prints it."""
    acked_most: tuple[float, Profile | None] = (0.0, None)
    for text in CANDIDATES:
        profile = parse_profile(text)
        try:
            server = StudentServer(command)
        except StartError as error:
            return None, str(error)
        try:
            result = send(server.pid, c.PROBE, profile, PROBE_ACK_TIMEOUT)
            body = server.wait_body(len(c.PROBE) + 1, PROBE_PRINT_WAIT, SETTLE)
        finally:
            server.close()
        stats = result.stats
        if stats.bits_sent and stats.acks / stats.bits_sent > acked_most[0]:
            acked_most = (stats.acks / stats.bits_sent, profile)  # (the most common of the best, on a tie)
        if c.PROBE in body:
            ack = "usr1"
            if stats.acks == 0:
                ack = "usr2" if stats.unexpected >= stats.bits_sent // 2 else None
            found = dataclasses.replace(profile, ack=ack)
            how = "it acked every bit" if stats.acks == stats.bits_sent else f"{number(stats.acks)} of {number(stats.bits_sent)} bits acked"
            end = detect_end_ack(command, found)
            if end is not None:
                found = dataclasses.replace(found, end_ack=end)
                how += f", then SIG{end.upper()} once the message was whole"
            return found, f"detected: it printed a probe message sent as {found} ({how})"
    if acked_most[1] is not None:
        return acked_most[1], (
            f"not detected: no probe in {len(CANDIDATES)} profiles was printed; checked with {acked_most[1]}, "
            "whose bits it acked most (--profile to choose)"
        )
    return None, f"not detected: your server printed none of {len(CANDIDATES)} probe messages nor acked them (--profile to choose)"


def detect_end_ack(command: list[str], profile: Profile) -> str | None:
    """The end-of-message ack a server of ``profile`` sends, if any: the probe sent again to a fresh
    server, waiting ``END_ACK_WAIT`` after the last bit's ack for the signal that is not the ack; one
    more ack meanwhile is an end ack that is the ack signal (G's). A server that never acks: each signal."""
    others = {"usr1": ("usr2",), "usr2": ("usr1",), None: ("usr1", "usr2")}[profile.ack]
    for end in others:
        try:
            server = StudentServer(command)
        except StartError:
            return None
        try:
            result = send_classic(server.pid, c.PROBE, dataclasses.replace(profile, end_ack=end),
                                  ack_timeout=PROBE_ACK_TIMEOUT, end_timeout=END_ACK_WAIT)
        finally:
            server.close()
        if result.stats.end_acked:
            return end
        if profile.ack is not None and result.stats.others_at_end:
            return profile.ack
    return None


# --------------------------------------------------------------------------- the cases


def message_case(command: list[str], profile: Profile, case: c.MessageCase) -> CaseResult:
    began = time.monotonic()
    try:
        server = StudentServer(command)
    except StartError as error:
        return CaseResult(case.name, False, time.monotonic() - began, str(error))
    try:
        verdict = None
        took = 0.0
        for attempt in range(case.repeat):
            mark = len(server.body())
            started = time.monotonic()
            try:
                result = send(server.pid, case.message, profile)
            except LocalProtocolError as error:
                return CaseResult(case.name, False, time.monotonic() - began, f"cannot send it in {profile}: {error}")
            took += time.monotonic() - started
            body = server.wait_body(mark + len(case.message) + 1)[mark:]
            verdict = judge(case.message, body, result, server.status())
            if verdict is not None:
                if case.repeat > 1:
                    verdict = f"message {attempt + 1} of {case.repeat}: {verdict}"
                break
    finally:
        server.close()
    seconds = time.monotonic() - began
    if verdict is not None:
        return CaseResult(case.name, False, seconds, verdict)
    said = f"printed exactly, sent in {human_duration(took)}"
    if case.timed:
        said += f"; fast (under {c.FAST_1000:g} s)" if took < c.FAST_1000 else f"; slow (over {c.FAST_1000:g} s)"
    return CaseResult(case.name, True, seconds, said)


def judge(message: bytes, body: bytes, result: ClassicSendResult, status: str | None) -> str | None:
    """``None`` when ``body`` is exactly ``message`` and a newline; else what the server did wrong."""
    expected = message + b"\n"
    if body == expected:
        return None
    acks = acks_said(result)
    if status is not None:
        return f"your server died during the message ({status}){acks}"
    if not body:
        return f"your server printed nothing{acks}: it never took the message as ended (its NUL or length), or it does not flush stdout"
    if body == message:
        return "your server printed the message without a newline after it"
    if body.startswith(expected):
        return f"your server printed extra text after the message: {shown(body[len(expected):])}"
    if message and message in body:
        at = body.index(message)
        before, after = body[:at], body[at + len(message) :]
        extra = f"before it: {shown(before)}" if before else ""
        if after != b"\n":
            extra += ("; " if extra else "") + f"after it: {shown(after)}"
        return f"your server printed extra text {extra}"
    return wrong_bytes(message, body) + acks


def acks_said(result: ClassicSendResult) -> str:
    stats = result.stats
    if result.outcome is SendOutcome.UNCONFIRMED or (stats.acks == 0 and stats.bits_sent):
        return " (it acked none of the bits)"
    if stats.missing_acks:
        return f" ({plural(stats.missing_acks, 'bit')} of {number(stats.bits_sent)} not acked)"
    return f" (it acked all {number(stats.bits_sent)} bits)"


def shown(data: bytes, limit: int = 40) -> str:
    text = repr(data[:limit])[1:]
    return text + (" ..." if len(data) > limit else "")


def reverse_bits(byte: int) -> int:
    return int(f"{byte:08b}"[::-1], 2)


def wrong_bytes(message: bytes, body: bytes) -> str:
    """The first wrong byte, as hex and bits, and the cause when every byte is wrong the same way."""
    printed = body[:-1] if body.endswith(b"\n") else body
    index = next((i for i, (a, b) in enumerate(zip(message, printed)) if a != b), min(len(message), len(printed)))
    pairs = list(zip(message, printed))
    cause = ""
    if pairs and len(printed) == len(message):
        if all(b == reverse_bits(a) for a, b in pairs):
            cause = "bit order reversed: your server reads each byte in the other bit order; "
        elif all(b == a ^ 0xFF for a, b in pairs):
            cause = "SIGUSR1 and SIGUSR2 swapped: your server takes the other signal for 1; "
    if index >= len(printed):
        return f"{cause}your server printed {number(len(printed))} of {number(len(message))} bytes, then stopped"
    if index >= len(message):
        return f"{cause}your server printed more than the message: {shown(printed[index:])}"
    want, got = message[index], printed[index]
    return (
        f"{cause}first wrong byte: {number(index)}, expected 0x{want:02x} {want:08b}, printed 0x{got:02x} {got:08b} "
        f"(bits {''.join('^' if x != y else '.' for x, y in zip(f'{want:08b}', f'{got:08b}'))} differ)"
    )


def pid_line_case(command: list[str]) -> CaseResult:
    began = time.monotonic()
    try:
        server = StudentServer(command)
    except StartError as error:
        return CaseResult(c.PID_LINE, False, time.monotonic() - began, str(error))
    server.close()
    line = server.header.rstrip(b"\n")
    return CaseResult(c.PID_LINE, True, time.monotonic() - began, f"first line: {shown(line, 60)}")


def two_clients_case(command: list[str], profile: Profile) -> CaseResult:
    """Optional: two ``sigchat-send --classic`` children at once; both messages must be printed whole."""
    began = time.monotonic()
    name = c.TWO_CLIENTS
    try:
        server = StudentServer(command)
    except StartError as error:
        return CaseResult(name, False, time.monotonic() - began, str(error), mandatory=False)
    messages = [c.prose(200), c.art(200)]
    try:
        run_together([[*c.SEND_COMMAND, f"--classic={profile}", str(server.pid), m.decode()] for m in messages], c.CLIENT_TIMEOUT)
        body = server.wait_body(sum(len(m) + 1 for m in messages))
    finally:
        server.close()
    lines = body.split(b"\n")
    missing = [i + 1 for i, m in enumerate(messages) if not all(line in lines for line in m.split(b"\n"))]
    seconds = time.monotonic() - began
    if missing:
        return CaseResult(name, False, seconds, f"message {missing[0]} of 2 was not printed whole (their bits mixed: it does not tell clients apart by si_pid)", mandatory=False)
    return CaseResult(name, True, seconds, "both printed whole", mandatory=False)


def spoofer_case(command: list[str], profile: Profile) -> CaseResult:
    """Optional: random signals from another process while a message comes; it must still be printed whole."""
    began = time.monotonic()
    try:
        server = StudentServer(command)
    except StartError as error:
        return CaseResult(c.SPOOFER, False, time.monotonic() - began, str(error), mandatory=False)
    message = c.prose(300)
    spoofer = spawn([sys.executable, "-m", "sigchat.sigio.spoofer", str(server.pid)], stdin=subprocess.PIPE)
    try:
        spoofer.stdout.readline()  # "spoofing": its signals are on their way
        send(server.pid, message, profile, SPOOFED_ACK_TIMEOUT)
    finally:
        spoofer.stdin.close()
        spoofer.wait(10)
        reap(spoofer)
    body = server.wait_body(len(message) + 1)
    status = server.status()
    server.close()
    seconds = time.monotonic() - began
    if message in body.split(b"\n"):
        return CaseResult(c.SPOOFER, True, seconds, "printed whole: it reads only its client's signals (si_pid)", mandatory=False)
    said = f"it died ({status})" if status else f"it printed {shown(body)}" if body else "it printed nothing"
    return CaseResult(
        c.SPOOFER, False, seconds,
        f"a message sent while another process sent random signals was not printed whole ({said}): "
        "take bits only from the client whose message is in progress (si_pid)",
        mandatory=False,
    )  # fmt: skip


def server_cases(
    command: list[str], profile: Profile, quick: bool, progress: Callable[[str], None], wanted: Callable[[str], bool]
) -> Iterator[CaseResult]:
    if wanted(c.PID_LINE):
        progress(c.PID_LINE)
        yield pid_line_case(command)
    for case in c.message_cases(quick):
        if wanted(case.name):
            progress(case.name)
            yield message_case(command, profile, case)
    if wanted(c.TWO_CLIENTS):
        progress(c.TWO_CLIENTS)
        yield two_clients_case(command, profile)
    if wanted(c.SPOOFER):
        progress(c.SPOOFER)
        yield spoofer_case(command, profile)
