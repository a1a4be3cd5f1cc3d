"""Real processes for the end-to-end tests: a sigchat server, senders, victims and catchers.

Safety rules (signals kill): a test only ever signals processes that it started
itself, through their ``Popen`` object (which refuses to signal a pid that it
has already reaped). Every "bad PID" case targets either a pid that cannot
exist (above ``pid_max``) or a child of the test that SIGUSR1 would kill (a
*victim*), which is then checked to be still alive.

No fixed sleeps are used as synchronisation: every wait is "until this
condition holds, at most this long".
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sigchat.sigio import procfs
from sigchat.sigio.masks import unblock_signals

BIN = Path(sys.executable).parent
SERVER_CMD: list[str] = (
    [str(BIN / "sigchat-server")] if (BIN / "sigchat-server").exists() else [sys.executable, "-m", "sigchat", "server"]
)
SEND_CMD: list[str] = (
    [str(BIN / "sigchat-send")] if (BIN / "sigchat-send").exists() else [sys.executable, "-m", "sigchat", "send"]
)
MODULE_SEND_CMD: list[str] = [sys.executable, "-m", "sigchat", "send"]

SIGUSR_BITS = (1 << (signal.SIGUSR1 - 1)) | (1 << (signal.SIGUSR2 - 1))

SUMMARY_RE = re.compile(
    r"^sigchat-server: stopped; (?P<delivered>\d+) messages \((?P<bytes>\d+) bytes\) delivered, "
    r"(?P<aborted>\d+) transfers aborted, (?P<stray>\d+) stray signals ignored, up [\d.]+ s$"
)


def wait_until(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.01) -> object:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def is_alive(proc: subprocess.Popen) -> bool:
    """A child of ours that has not exited (not even as a zombie)."""
    return proc.poll() is None and procfs.is_alive(proc.pid)


def nonexistent_pid() -> int:
    """A pid that no process can have: above the kernel's pid_max."""
    with open("/proc/sys/kernel/pid_max") as file:
        return int(file.read()) + 1


def reaped_pid() -> int:
    """The pid of a child that has exited and been reaped (checked to be free right now)."""
    child = subprocess.Popen(["true"])
    child.wait(10)
    assert not os.path.exists(f"/proc/{child.pid}"), "pid reused immediately: rerun"
    return child.pid


class Reader(threading.Thread):
    """Reads one pipe to EOF in the background; waits on its contents with a timeout."""

    def __init__(self, pipe, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.fd = pipe.fileno()
        self.pipe = pipe
        self.data = bytearray()
        self.eof = False
        self.cond = threading.Condition()

    def run(self) -> None:
        try:
            while True:
                chunk = os.read(self.fd, 65536)
                with self.cond:
                    if not chunk:
                        self.eof = True
                        self.cond.notify_all()
                        return
                    self.data += chunk
                    self.cond.notify_all()
        except OSError:
            with self.cond:
                self.eof = True
                self.cond.notify_all()

    def snapshot(self) -> bytes:
        with self.cond:
            return bytes(self.data)

    def wait_for(self, predicate: Callable[[bytes], object], timeout: float, what: str) -> object:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                value = predicate(bytes(self.data))
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.eof:
                    raise AssertionError(
                        f"{self.name}: timed out after {timeout} s (eof={self.eof}) waiting for {what}; "
                        f"got {bytes(self.data)[-2000:]!r}"
                    )
                self.cond.wait(remaining)


@dataclass
class Stopped:
    returncode: int
    stderr: str
    summary: re.Match | None


class Server:
    """A ``sigchat-server --plain`` child with incremental readers on stdout and stderr."""

    def __init__(self, *args: str, command: Sequence[str] = SERVER_CMD, start_timeout: float = 15.0) -> None:
        self.args = ["--plain", *args]
        self.proc = subprocess.Popen(
            [*command, *self.args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=unblock_signals,
        )
        self.out = Reader(self.proc.stdout, "server stdout")
        self.err = Reader(self.proc.stderr, "server stderr")
        self.out.start()
        self.err.start()
        self.stopped: Stopped | None = None
        first = self.out.wait_for(lambda data: b"\n" in data, start_timeout, "the 'Server PID' line")
        assert first
        line = self.out.snapshot().split(b"\n", 1)[0]
        match = re.fullmatch(rb"Server PID: (\d+)", line)
        assert match, f"first stdout line is {line!r}"
        self.pid = int(match.group(1))
        assert self.pid == self.proc.pid, "the server must print its own pid"
        self.header = line + b"\n"

    # ------------------------------------------------------------------ output
    @property
    def stdout(self) -> bytes:
        return self.out.snapshot()

    @property
    def body(self) -> bytes:
        """stdout after the ``Server PID`` line."""
        data = self.stdout
        assert data.startswith(self.header)
        return data[len(self.header) :]

    @property
    def stderr_lines(self) -> list[str]:
        return self.err.snapshot().decode("utf-8", "replace").splitlines()

    def wait_body(self, expected: bytes, timeout: float = 10.0) -> None:
        """Wait until stdout (after the header) is at least as long as ``expected``, then compare."""
        self.out.wait_for(lambda data: len(data) - len(self.header) >= len(expected), timeout, f"{len(expected)} bytes")
        assert self.body == expected

    def mark(self) -> int:
        """The current length of stdout, for ``wait_since``."""
        return len(self.stdout)

    def wait_since(self, mark: int, expected: bytes, timeout: float = 10.0) -> None:
        """Wait until stdout has grown by ``len(expected)`` bytes since ``mark``, then compare exactly."""
        self.out.wait_for(lambda data: len(data) - mark >= len(expected), timeout, f"{len(expected)} more bytes")
        assert self.stdout[mark:] == expected

    def wait_lines(self, count: int, timeout: float = 10.0) -> list[bytes]:
        """Wait for ``count`` newline-terminated lines after the header (messages without newlines)."""
        self.out.wait_for(lambda data: data.count(b"\n") - 1 >= count, timeout, f"{count} lines")
        return self.body.split(b"\n")[:-1]

    def wait_stderr(self, pattern: str, timeout: float = 10.0) -> re.Match:
        regex = re.compile(pattern, re.M)
        return self.err.wait_for(
            lambda data: regex.search(data.decode("utf-8", "replace")), timeout, f"stderr matching {pattern!r}"
        )

    # ------------------------------------------------------------------ lifetime
    def alive(self) -> bool:
        return is_alive(self.proc)

    def kill(self) -> None:
        """SIGKILL the server (our own child, through Popen) and reap it."""
        self.proc.kill()
        self.proc.wait(10)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 10.0) -> Stopped:
        if self.stopped is not None:
            return self.stopped
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        try:
            returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(f"server did not stop within {timeout} s of signal {signum}") from None
        self.out.join(5)
        self.err.join(5)
        stderr = self.err.snapshot().decode("utf-8", "replace")
        lines = stderr.splitlines()
        summary = SUMMARY_RE.match(lines[-1]) if lines else None
        self.stopped = Stopped(returncode, stderr, summary)
        return self.stopped

    def cleanup(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for pipe in (self.proc.stdout, self.proc.stderr):
            pipe.close()


# --------------------------------------------------------------------------- senders


def sender_popen(
    args: Sequence[str | bytes],
    *,
    stdin: bytes | None = None,
    command: Sequence[str] = SEND_CMD,
    **kwargs,
) -> subprocess.Popen:
    """Start a sender. With ``stdin`` bytes its stdin is a pipe: the caller writes them (``run_sender`` does)."""
    return subprocess.Popen(
        [*command, *args],
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=unblock_signals,
        **kwargs,
    )


@dataclass
class SendResult:
    returncode: int
    stdout: bytes
    stderr: str
    elapsed: float
    pid: int

    @property
    def stderr_lines(self) -> list[str]:
        return self.stderr.splitlines()


def run_sender(
    args: Sequence[str | bytes],
    *,
    stdin: bytes | None = None,
    timeout: float = 60.0,
    command: Sequence[str] = SEND_CMD,
    **kwargs,
) -> SendResult:
    started = time.monotonic()
    proc = sender_popen(args, stdin=stdin, command=command, **kwargs)
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"sender {list(args)[:1]} did not finish within {timeout} s; stderr {err!r}") from None
    return SendResult(proc.returncode, out, err.decode("utf-8", "replace"), time.monotonic() - started, proc.pid)


def send_ok(server: Server, message: bytes | str, *, via_stdin: bool = False, timeout: float = 60.0) -> SendResult:
    if via_stdin:
        data = message.encode() if isinstance(message, str) else message
        result = run_sender([str(server.pid)], stdin=data, timeout=timeout)
    else:
        result = run_sender([str(server.pid), message], timeout=timeout)
    assert result.returncode == 0, f"sender exited {result.returncode}: {result.stderr!r}"
    assert result.stdout == b""
    return result


# --------------------------------------------------------------------------- targets


def start_victim() -> subprocess.Popen:
    """A process that SIGUSR1 or SIGUSR2 would kill (default dispositions, nothing blocked)."""
    victim = subprocess.Popen(["sleep", "300"], preexec_fn=unblock_signals, stdin=subprocess.DEVNULL)
    # Popen returns after a successful exec, so /proc already shows sleep's dispositions.
    wait_until(lambda: procfs.comm(victim.pid) == "sleep", 5, "the victim to exec")
    return victim


CATCHER = r"""
import os, signal, sys
mode = sys.argv[1]
counts = {signal.SIGUSR1: 0, signal.SIGUSR2: 0}
def count(signum, frame):
    counts[signum] += 1
def report(signum, frame):
    print(f"USR1={counts[signal.SIGUSR1]} USR2={counts[signal.SIGUSR2]}", flush=True)
    os._exit(0)
signal.signal(signal.SIGTERM, report)
if mode == "catch":
    signal.signal(signal.SIGUSR1, count)
    signal.signal(signal.SIGUSR2, count)
elif mode == "ignore":
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)
elif mode == "block":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGUSR2})
print("ready", flush=True)
while True:
    signal.pause()
"""


class Catcher:
    """A child that survives SIGUSR1/SIGUSR2 (catches, ignores or blocks them) but is no sigchat server.

    In ``catch`` mode it counts what it received; ``stop()`` returns the counts.
    """

    def __init__(self, mode: str = "catch") -> None:
        self.mode = mode
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CATCHER, mode],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            preexec_fn=unblock_signals,
        )
        line = self._readline(10)
        assert line == b"ready\n", line
        self.pid = self.proc.pid

    def _readline(self, timeout: float) -> bytes:
        result: list[bytes] = []
        reader = threading.Thread(target=lambda: result.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        assert result, f"catcher did not answer within {timeout} s"
        return result[0]

    def alive(self) -> bool:
        return is_alive(self.proc)

    def stop(self) -> tuple[int, int]:
        """SIGTERM it; return (USR1, USR2) counts (only meaningful in ``catch`` mode)."""
        assert self.alive()
        self.proc.terminate()
        line = self._readline(10)
        self.proc.wait(10)
        self.proc.stdout.close()
        match = re.fullmatch(rb"USR1=(\d+) USR2=(\d+)\n", line)
        assert match, line
        return int(match.group(1)), int(match.group(2))

    def cleanup(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if not self.proc.stdout.closed:
            self.proc.stdout.close()


def voluntary_switches(pid: int) -> int:
    """``voluntary_ctxt_switches`` of ``pid`` (a sender blocks once per bit), 0 if unreadable."""
    try:
        with open(f"/proc/{pid}/status") as file:
            for line in file:
                if line.startswith("voluntary_ctxt_switches:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0
