"""Real processes for the end-to-end and stress tests: sigchat servers, senders, tools, victims, catchers.

The one process harness of the test suite:

* ``Reader``: a thread reading one pipe to EOF; waits on what it read, with a timeout;
* ``Server``: a ``sigchat-server --plain -v`` child with a ``Reader`` on stdout and on stderr
  (its plain text output, or with ``--json`` its records, and its stderr lines);
* ``Children``: every other child of a test (senders, ``stress_tools/`` helpers, victims,
  catchers), SIGKILLed and reaped at teardown; ``Catcher`` and ``PeerServer`` (a C minitalk
  server from ``peers/``) are such children, with a ``Reader`` on their stdout lines;
* ``sender_popen``/``run_sender``/``finish`` for senders, and ``/proc`` readers.

``conftest`` turns them into fixtures (``start_server``, ``server``, ``children``, ``victim``,
``make_catcher``) that clean every process up.

Safety rules (signals kill): a test only ever signals processes that it started
itself, through their ``Popen`` object (which refuses to signal a pid that it
has already reaped). Every "bad PID" case targets either a pid that cannot
exist (above ``pid_max``) or a child of the test that SIGUSR1 would kill (a
*victim*), which is then checked to be still alive.

No fixed sleeps are used as synchronisation: every wait is "until this
condition holds, at most this long".
"""

from __future__ import annotations

import base64
import fcntl
import functools
import json
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
TOOLS = Path(__file__).resolve().parent / "stress_tools"
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)

SIGUSR_BITS = (1 << (signal.SIGUSR1 - 1)) | (1 << (signal.SIGUSR2 - 1))

SUMMARY_RE = re.compile(
    r"^sigchat-server: stopped; (?P<delivered>\d+) messages? \((?P<size>\d+ B|[\d.]+ [KMG]iB)\) delivered, "
    r"(?P<aborted>\d+) transfers? aborted, (?P<stray>\d+) stray signals? ignored, up \d+:\d\d:\d\d$"
)
"""Plain mode's last stderr line, as ``summary_of`` reads it; ``size`` is ``format.human_bytes`` of the bytes delivered."""


def summary_of(line: str) -> re.Match | None:
    """``SUMMARY_RE`` on ``line`` without its thousands separators (``1,024 stray signals``), so the counts are ints."""
    return SUMMARY_RE.match(re.sub(r"(?<=\d),(?=\d{3}\b)", "", line))


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


# --------------------------------------------------------------------------- /proc


def is_alive(proc: subprocess.Popen) -> bool:
    """A child of ours that has not exited (not even as a zombie)."""
    return proc.poll() is None and procfs.is_alive(proc.pid)


def proc_status(pid: int) -> dict[str, str]:
    """``/proc/PID/status`` as ``{field: value}``."""
    with open(f"/proc/{pid}/status") as file:
        return {name: value.strip() for name, _, value in (line.partition(":") for line in file)}


def voluntary_switches(pid: int) -> int:
    """``voluntary_ctxt_switches`` of ``pid`` (a sender blocks once per bit), 0 if unreadable."""
    try:
        return int(proc_status(pid)["voluntary_ctxt_switches"])
    except (OSError, KeyError):
        return 0


def context_switches(pid: int) -> int:
    """Voluntary plus involuntary context switches of ``pid``."""
    status = proc_status(pid)
    return int(status["voluntary_ctxt_switches"]) + int(status["nonvoluntary_ctxt_switches"])


def rss_kib(pid: int) -> int:
    rss = proc_status(pid).get("VmRSS")
    assert rss, "no VmRSS"
    return int(rss.split()[0])


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


# --------------------------------------------------------------------------- processes


class Reader(threading.Thread):
    """Reads one pipe to EOF in the background; waits on its contents (bytes or lines) with a timeout.

    With ``until`` it stops reading once the data holds those bytes (and leaves the pipe to its owner).
    """

    def __init__(self, pipe, name: str, *, until: bytes | None = None) -> None:
        super().__init__(name=name, daemon=True)
        self.fd = pipe.fileno()
        self.pipe = pipe
        self.until = until
        self.data = bytearray()
        self.eof = False  # nothing more will be read
        self.cond = threading.Condition()

    def run(self) -> None:
        try:
            while True:
                chunk = os.read(self.fd, 65536)
                with self.cond:
                    self.data += chunk
                    if not chunk or (self.until is not None and self.until in self.data):
                        return
                    self.cond.notify_all()
        except OSError:
            pass
        finally:
            with self.cond:
                self.eof = True
                self.cond.notify_all()

    def snapshot(self) -> bytes:
        with self.cond:
            return bytes(self.data)

    def lines(self, start: int = 0) -> list[bytes]:
        """The newline-terminated lines from byte ``start`` on (at EOF, and an unterminated last one)."""
        with self.cond:
            return _lines(bytes(self.data[start:]), self.eof)

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

    def wait_for_lines(self, predicate: Callable[[list[bytes]], object], timeout: float, what: str, start: int = 0) -> object:
        """``wait_for`` on ``lines(start)``."""
        return self.wait_for(lambda data: predicate(_lines(data[start:], self.eof)), timeout, what)


def _lines(data: bytes, eof: bool) -> list[bytes]:
    lines = data.splitlines(keepends=True)
    if lines and not lines[-1].endswith(b"\n") and not eof:
        lines.pop()  # still being written
    return lines


def popen(argv: Sequence[str | bytes], *, stdin_pipe: bool = False, **kwargs) -> subprocess.Popen:
    """A child with an empty signal mask and piped stdout and stderr; stdin a pipe or ``/dev/null``."""
    return subprocess.Popen(
        list(argv),
        stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=unblock_signals,
        **kwargs,
    )


def reap(proc: subprocess.Popen, readers: Sequence[Reader] = ()) -> None:
    """SIGKILL ``proc`` if it still runs (through ``Popen``), reap it, join its readers and close its pipes."""
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)
    for reader in readers:
        reader.join(5)
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


@dataclass
class Stopped:
    returncode: int
    stderr: str
    summary: re.Match | None


def first_line_pid(line: bytes, json_mode: bool) -> int:
    """The server's PID from its first stdout line (without the newline): ``Server PID: N``, or with ``--json``
    the ``listening`` record; an ``AssertionError`` when the line is neither."""
    if json_mode:
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        assert isinstance(record, dict) and record.get("event") == "listening", f"first stdout line is {line!r}"
        assert isinstance(record.get("pid"), int), record
        return record["pid"]
    match = re.fullmatch(rb"Server PID: (\d+)", line)
    assert match, f"first stdout line is {line!r}"
    return int(match.group(1))


class Server:
    """A ``sigchat-server --plain -v ARGS`` child (or ``command``) with incremental readers on stdout and stderr.

    ``-v`` (``verbose``, the default) because the tests wait for its stderr lines about transfers that went well
    (``sender N started``, ``waits its turn``) and read its summary at the stop; ``verbose=False`` runs it as a
    tester would, stderr quiet (then ``stop_checked`` checks there is no summary and returns ``None``).
    With ``--json`` the first line is the ``listening`` record (``listening``), otherwise ``Server PID: N``;
    ``header`` is that line, and ``body``/``records()`` what follows.
    ``read_stdout=False``: stdout is read up to the first line only, then left to the test.
    The ``start_server`` fixture stops and checks it at teardown unless the test ``stop``-ped or ``kill``-ed it
    (or it exited and the test saw it with ``wait_exit``); ``expect_delivered`` adds a check of the summary.
    """

    def __init__(
        self,
        *args: str,
        command: Sequence[str] = SERVER_CMD,
        start_timeout: float = 20.0,
        read_stdout: bool = True,
        verbose: bool = True,
    ) -> None:
        self.verbose = verbose
        self.args = ["--plain", *(["-v"] if verbose else []), *args]
        self.proc = popen([*command, *self.args], cwd="/")  # "/": readable by any uid (see stress_tools/run_as.py)
        for pipe in (self.proc.stdout, self.proc.stderr):
            try:  # the server's receiver thread writes stdout before it answers: never let a busy test stall it
                fcntl.fcntl(pipe.fileno(), F_SETPIPE_SZ, 1 << 20)
            except OSError:
                pass
        self.out = Reader(self.proc.stdout, "server stdout", until=None if read_stdout else b"\n")
        self.err = Reader(self.proc.stderr, "server stderr")
        self.out.start()
        self.err.start()
        self.stopped: Stopped | None = None
        self.killed = False
        self.expect_delivered: int | None = None
        try:
            self.out.wait_for(lambda data: b"\n" in data, start_timeout, "the first line (the PID)")
            line = self.out.snapshot().split(b"\n", 1)[0]
            self.pid = first_line_pid(line, "--json" in args)
        except AssertionError as error:
            self.cleanup()
            raise AssertionError(f"{error}; stderr: {self.stderr()!r}") from None
        assert self.pid == self.proc.pid, "the server must print its own pid (we signal nothing else)"
        self.header = line + b"\n"
        self.listening: dict | None = json.loads(line) if "--json" in args else None
        if not read_stdout:
            self.out.join(5)

    # ------------------------------------------------------------------ plain output
    @property
    def stdout(self) -> bytes:
        return self.out.snapshot()

    @property
    def body(self) -> bytes:
        """stdout after the first line (``header``)."""
        data = self.stdout
        assert data.startswith(self.header)
        return data[len(self.header) :]

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

    # ------------------------------------------------------------------ --json output
    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.out.lines(len(self.header))]

    def delivered(self) -> list[tuple[int, bytes]]:
        """``(pid, payload)`` of every delivered message, in order."""
        return _delivered(self.records())

    def records_of(self, pid: int) -> list[dict]:
        """The records about ``pid``, in order."""
        return _about(self.records(), pid)

    def _wait_records(self, predicate: Callable[[list[dict]], object], timeout: float, what: str) -> object:
        return self.out.wait_for_lines(
            lambda lines: predicate([json.loads(line) for line in lines]), timeout, what, len(self.header)
        )

    def wait_record(self, index: int = 0, *, pid: int | None = None, timeout: float = 20.0) -> dict:
        """Wait for the ``index``-th record (0: the first) of them all, or of those about ``pid``; that record."""

        def pick(records: list[dict]) -> dict | None:
            chosen = records if pid is None else _about(records, pid)
            return chosen[index] if len(chosen) > index else None

        return self._wait_records(pick, timeout, f"record {index}" + ("" if pid is None else f" about {pid}"))

    def wait_event(self, event: str, *, pid: int, timeout: float = 20.0) -> dict:
        """Wait for the first record of ``event`` (e.g. ``profile``) about ``pid``; that record."""

        def pick(records: list[dict]) -> dict | None:
            return next((record for record in _about(records, pid) if record["event"] == event), None)

        return self._wait_records(pick, timeout, f"a {event} record about {pid}")

    def wait_delivered(self, count: int, timeout: float = 20.0) -> list[tuple[int, bytes]]:
        """Wait until ``count`` messages were delivered (``--json`` also prints aborted classic messages)."""
        self._wait_records(lambda records: len(_delivered(records)) >= count, timeout, f"{count} deliveries")
        return self.delivered()

    def wait_delivered_from(self, pid: int, timeout: float = 20.0) -> list[bytes]:
        """Wait until ``pid`` delivered a message; all its messages."""
        self._wait_records(lambda records: pid in dict(_delivered(records)), timeout, f"a delivery from {pid}")
        return [data for record_pid, data in self.delivered() if record_pid == pid]

    # ------------------------------------------------------------------ stderr and /proc
    def stderr(self) -> str:
        return self.err.snapshot().decode("utf-8", "replace")

    def wait_stderr(self, pattern: str, timeout: float = 10.0) -> re.Match:
        regex = re.compile(pattern, re.M)
        return self.err.wait_for(
            lambda data: regex.search(data.decode("utf-8", "replace")), timeout, f"stderr matching {pattern!r}"
        )

    def lines_about(self, pids: Sequence[object]) -> str:
        """The server's stderr lines that mention any of ``pids`` (for failure messages)."""
        words = {str(pid) for pid in pids}
        return "".join(line for line in self.stderr().splitlines(True) if words & set(re.findall(r"\d+", line)))

    def rss_kib(self) -> int:
        return rss_kib(self.pid)

    # ------------------------------------------------------------------ lifetime
    def running(self) -> bool:
        return is_alive(self.proc)

    def kill(self, reap: bool = True) -> None:
        """SIGKILL the server (our own child, through Popen); ``reap``: and reap it (else it stays a zombie)."""
        self.killed = True
        self.proc.kill()
        if reap:
            self.proc.wait(10)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 10.0) -> Stopped:
        """Send ``signum`` (unless it has exited already) and wait for the exit; ``Stopped``."""
        if self.stopped is None and self.proc.poll() is None:
            self.proc.send_signal(signum)
        return self.wait_exit(timeout)

    def wait_exit(self, timeout: float = 10.0) -> Stopped:
        """Wait (without a signal) until it exits and its readers reach EOF; ``Stopped``."""
        if self.stopped is not None:
            return self.stopped
        try:
            returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(f"server did not exit within {timeout} s") from None
        self.out.join(5)
        self.err.join(5)
        stderr = self.stderr()
        lines = stderr.splitlines()
        summary = summary_of(lines[-1]) if lines else None
        self.stopped = Stopped(returncode, stderr, summary)
        return self.stopped

    def stop_checked(self, signum: int = signal.SIGTERM, timeout: float = 10.0) -> re.Match | None:
        """Stop a server that must still run: it must exit 0 with its summary as its last stderr line; the summary
        (not ``verbose``: with no summary at all; ``None``)."""
        assert self.running(), f"the server died during the test (exit {self.proc.returncode}):\n{self.stderr()}"
        stopped = self.stop(signum, timeout)
        assert stopped.returncode == 0, f"server exited {stopped.returncode}:\n{stopped.stderr}"
        if not self.verbose:
            assert "stopped;" not in stopped.stderr, f"a summary without -v: {stopped.stderr!r}"
            return None
        assert stopped.summary, f"no summary line at the end of stderr: {stopped.stderr!r}"
        assert stopped.stderr.endswith("\n")
        return stopped.summary

    def cleanup(self) -> None:
        reap(self.proc, (self.out, self.err))


def _about(records: list[dict], pid: int) -> list[dict]:
    return [record for record in records if record.get("pid") == pid]


def _delivered(records: list[dict]) -> list[tuple[int, bytes]]:
    return [(record["pid"], payload_of(record)) for record in records if record.get("event") == "delivered"]


def payload_of(record: dict) -> bytes:
    """The message of a ``--json`` record (``text`` or ``base64``)."""
    return record["text"].encode("utf-8") if "text" in record else base64.b64decode(record["base64"])


@functools.cache
def server_help() -> str:
    """``sigchat-server --help`` (to skip variants this version of the server does not have)."""
    return subprocess.run([*SERVER_CMD, "--help"], capture_output=True, text=True, timeout=30).stdout


# --------------------------------------------------------------------------- senders and other children


def sender_popen(
    args: Sequence[str | bytes],
    *,
    stdin: bytes | None = None,
    command: Sequence[str] = SEND_CMD,
    **kwargs,
) -> subprocess.Popen:
    """Start a sender. With ``stdin`` bytes its stdin is a pipe: the caller writes them (``run_sender`` does)."""
    return popen([*command, *args], stdin_pipe=stdin is not None, **kwargs)


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


def finish(proc: subprocess.Popen, timeout: float) -> tuple[int, str, str]:
    """Wait for a child; ``(returncode, stdout, stderr)``."""
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, (out or b"").decode("utf-8", "replace"), (err or b"").decode("utf-8", "replace")


def _feed(pipe, data: bytes) -> None:
    try:
        pipe.write(data)
        pipe.close()
    except (BrokenPipeError, ValueError):
        pass


class Children:
    """Every child of a test but its servers (senders, tools, victims, catchers), and the readers on their pipes.

    ``cleanup`` (the ``children`` fixture's teardown) SIGKILLs, through ``Popen``, whichever still runs, reaps
    them all, joins the readers and closes the pipes.
    """

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []
        self.readers: dict[int, list[Reader]] = {}

    def append(self, proc: subprocess.Popen) -> subprocess.Popen:
        """Track a child that the test started itself."""
        self.procs.append(proc)
        return proc

    def spawn(self, argv: Sequence[str], data: bytes | None = None, *, keep_stdin: bool = False) -> subprocess.Popen:
        """Start ``argv`` with an empty signal mask; ``data`` goes to its stdin (``keep_stdin``: a pipe left open)."""
        proc = self.append(popen(argv, stdin_pipe=data is not None or keep_stdin))
        if data is not None:
            stdin, proc.stdin = proc.stdin, None  # the feeder owns it (communicate() must not touch it)
            threading.Thread(target=_feed, args=(stdin, data), daemon=True).start()
        return proc

    def sender(self, server_pid: int, data: bytes, *options: str, command: Sequence[str] = SEND_CMD) -> subprocess.Popen:
        """``sigchat-send OPTIONS PID -`` with ``data`` on its stdin."""
        return self.spawn([*command, *options, str(server_pid), "-"], data)

    def tool(self, name: str, *args: object, data: bytes | None = None) -> subprocess.Popen:
        """A helper program from ``stress_tools/``."""
        return self.spawn([sys.executable, str(TOOLS / name), *map(str, args)], data)

    def reader(self, proc: subprocess.Popen, name: str) -> Reader:
        """A started ``Reader`` on the stdout of ``proc`` (one of ours), joined at cleanup before the pipe closes."""
        reader = Reader(proc.stdout, name)
        reader.start()
        self.readers.setdefault(id(proc), []).append(reader)
        return reader

    def cleanup(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
        for proc in self.procs:
            reap(proc, self.readers.get(id(proc), ()))


# --------------------------------------------------------------------------- targets


def start_victim(children: Children) -> subprocess.Popen:
    """A process that SIGUSR1 or SIGUSR2 would kill (default dispositions, nothing blocked)."""
    victim = children.append(subprocess.Popen(["sleep", "300"], preexec_fn=unblock_signals, stdin=subprocess.DEVNULL))
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

    In ``catch`` mode it counts what it received; ``stop()`` returns the counts. ``children`` cleans it up.
    """

    def __init__(self, children: Children, mode: str = "catch") -> None:
        self.mode = mode
        self.proc = children.spawn([sys.executable, "-c", CATCHER, mode])
        self.out = children.reader(self.proc, f"{mode} catcher stdout")
        self.out.wait_for(lambda data: b"\n" in data, 10, "the catcher's 'ready' line")
        assert self.out.snapshot() == b"ready\n", self.out.snapshot()
        self.pid = self.proc.pid

    def alive(self) -> bool:
        return is_alive(self.proc)

    def stop(self) -> tuple[int, int]:
        """SIGTERM it; return (USR1, USR2) counts (only meaningful in ``catch`` mode)."""
        assert self.alive()
        self.proc.terminate()
        line = self.out.wait_for_lines(lambda lines: lines[1:], 10, "the catcher's counts")[0]
        self.proc.wait(10)
        match = re.fullmatch(rb"USR1=(\d+) USR2=(\d+)\n", line)
        assert match, line
        return int(match.group(1)), int(match.group(2))


class PeerServer:
    """A classic minitalk server from ``tests/peers/`` (a C program that ``test_classic_e2e`` builds), a child of ours.

    Its stdout: ``PID <pid>`` first, then ``MSG <hex>`` for every whole message (``BAD <hex>`` for a
    length-and-NUL one without its NUL), and on SIGTERM ``CLIENT <pid> <signals>``. Lines are read in
    order (``next_line``). ``children`` cleans it up.
    """

    def __init__(self, children: Children, binary: str, timeout: float = 20.0) -> None:
        self.proc = children.spawn([binary])
        self.out = children.reader(self.proc, f"peer server {Path(binary).name} stdout")
        self.seen = 0  # lines already returned by next_line
        first = self.next_line(timeout)
        match = re.fullmatch(rb"PID (\d+)\n", first)
        assert match, first
        self.pid = int(match.group(1))
        assert self.pid == self.proc.pid, "the peer must print its own pid (we signal nothing else)"

    def next_line(self, timeout: float = 30.0) -> bytes:
        """The next stdout line, once it is there."""
        line = self.out.wait_for_lines(lambda lines: lines[self.seen :], timeout, f"stdout line {self.seen + 1}")[0]
        self.seen += 1
        return line

    def next_message(self, timeout: float = 30.0) -> bytes:
        """The next line, which must be a ``MSG`` line: its message."""
        tag, _, payload = self.next_line(timeout).rstrip(b"\n").partition(b" ")
        assert tag == b"MSG", (tag, payload)
        return bytes.fromhex(payload.decode())

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM it (through ``Popen``) and wait for its exit; how many signals its last client's arrived."""
        self.proc.terminate()
        while not (line := self.next_line(timeout)).startswith(b"CLIENT "):
            pass
        self.proc.wait(timeout)
        return int(line.split()[2])
