#!/usr/bin/env python3
"""Classic minitalk interop benchmark: every convention's C peers against sigchat, cell by cell.

For each convention of tests/peers/conventions.py (A..L and the unacked
pacing variants of B and C) three cells, N messages each:

  (a) its C client -> its own C server              (the student's pair)
  (w) unacked conventions only: its C client -> the same C server built with
      -DSIGWAITINFO (no handler: the signals blocked and read by sigwaitinfo(),
      the fastest a C server reads them; issue 14's yardstick for unacked clients)
  (b) its C client -> sigchat-server --plain --json --classic PROFILE
  (c) sigchat-send --classic PROFILE -> its C server
  (u) with --ui only: its C client -> sigchat-server's Textual UI on a pseudo-terminal,
      --classic PROFILE --log FILE (what a student runs; a message is ok when the log has
      it, which holds deliveries only; a fresh UI per message: ~1 s of start-up each)

(b) and (c) are compared with (a), and (b) and (u) also with (w): the same client with
another server, and the same server with another client. A cell is marked where
sigchat does worse: ``✗`` fewer messages intact (and the exit code 0 a tester
checks), ``<`` as many but slower.

Every message gets fresh processes: a new server (each in its own session,
with an empty signal mask and no core dumps) and a new client; cells are
interleaved (message 1 of cell (a) of every convention, then of (b), then of
(c), then message 2 ...), so a load change on the shared CPUs hits every cell
alike. A message is *ok* when the client exits 0 within ``--timeout`` (a
tester's per-client limit; a hung client is killed and counted as failed) and
the server printed exactly its bytes. Speed is payload bytes over the client's
wall time, from spawn to exit, summed over the ok messages (what a tester's
``time ./client`` sees; it includes process start-up: sigchat-send's Python
start-up is measured separately and reported). For (c) the sigchat-send's own
transfer time (``-v``) is recorded too.

    python scripts/bench_classic.py [--messages 10] [--quick] [--conventions A,B] [--json FILE]

Standalone: the standard library, gcc and the sigchat executables next to this
Python (the venv's ``bin``) or on ``PATH``. Only processes started here are
ever signalled.
"""

from __future__ import annotations

import argparse
import collections
import fcntl
import json
import os
import pty
import queue
import re
import resource
import shutil
import signal
import statistics
import subprocess
import struct
import sys
import tempfile
import termios
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "peers"))
import conventions  # noqa: E402  (tests/peers, stdlib only)

CELLS = ("a", "w", "b", "c")
UI_CELL = "u"
CELL_TITLES = {"a": "C client -> C server", "w": "C client -> C sigwaitinfo server", "b": "C client -> sigchat-server",
               "c": "sigchat-send -> C server", UI_CELL: "C client -> sigchat-server UI (pty)"}
SPEED_CELLS = ("a", "b", "c")  # (--speed: convention K is acked, (w) is for unacked clients)
PATTERN = "The quick brown fox jumps over the lazy dog 0123456789. "
MESSAGES = {
    "20": PATTERN[:20],
    "100": (PATTERN * 2)[:100],
    "1000": (PATTERN * 18)[:1000],
    "utf8": "😀 日本語のテキスト ✓ 한국어 é 🇫🇷 مرحبا 👩‍💻",
}
QUICK_KINDS = ("20", "utf8")
START_TIMEOUT = 30.0  # a sigchat-server's start-up on two loaded CPUs
RESULT_TIMEOUT_C = 1.0  # a C server prints the message within µs of the last bit
RESULT_TIMEOUT_SIGCHAT = 3.0  # sigchat reports an incomplete message after --classic-timeout (1 s)


def executable(name: str) -> str:
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if not found:
        sys.exit(f"bench_classic: {name} not found next to {sys.executable} nor on PATH (make venv)")
    return found


def child_setup() -> None:
    """Every child: an empty signal mask (we may have blocked some), no core files (L's server dies of SIGSEGV)."""
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


# --------------------------------------------------------------------------- processes


class Lines(threading.Thread):
    """Reads a child's pipe to EOF; lines into a queue (stdout) or a list (stderr)."""

    def __init__(self, pipe) -> None:
        super().__init__(daemon=True)
        self.pipe = pipe
        self.queue: queue.Queue[bytes | None] = queue.Queue()
        self.all: list[bytes] = []
        self.start()

    def run(self) -> None:
        for line in self.pipe:
            self.all.append(line)
            self.queue.put(line)
        self.queue.put(None)

    def next(self, timeout: float) -> bytes | None:
        """The next line within ``timeout`` s; ``None`` at EOF or timeout."""
        try:
            return self.queue.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None


class ServerProcess:
    """A C peer server (``PID n`` first) or a sigchat-server --json (``listening`` record first), in its own session."""

    def __init__(self, argv: list[str], sigchat: bool) -> None:
        self.sigchat = sigchat
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            preexec_fn=child_setup, start_new_session=True, cwd="/",
        )
        self.out = Lines(self.proc.stdout)
        self.err = Lines(self.proc.stderr)
        self.pid = 0
        self.error = ""
        first = self.out.next(START_TIMEOUT)
        try:
            if sigchat:
                record = json.loads(first or b"")
                assert record.get("event") == "listening"
                self.pid = int(record["pid"])
            else:
                match = re.fullmatch(rb"PID (\d+)\n", first or b"")
                assert match
                self.pid = int(match.group(1))
            assert self.pid == self.proc.pid
        except (AssertionError, ValueError, KeyError, TypeError):
            self.stop()
            stderr = b"".join(self.err.all).decode(errors="replace").strip().splitlines()
            self.error = (stderr[-1] if stderr else f"first line {first!r}")[:200]

    def died(self) -> str | None:
        code = self.proc.poll()
        if code is None:
            return None
        return f"server died ({signal.Signals(-code).name})" if code < 0 else f"server exited {code}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.out.join(5)
        self.err.join(5)
        for pipe in (self.proc.stdout, self.proc.stderr):
            pipe.close()


UI_SETTLE = 0.2  # seconds of no CPU time that tell the UI finished its first drawing
RECEIVER_THREAD = b"sigchat-recv"  # (sigio.procfs.RECEIVER_THREAD_NAME: named once it reads signals)


class UiServerProcess:
    """sigchat-server's Textual UI on a pseudo-terminal, its deliveries in a ``--log`` file; the screen is
    read (and dropped) all along, as a terminal would."""

    def __init__(self, argv: list[str], log: Path) -> None:
        self.sigchat = True
        self.log = log
        self.error = ""
        pid, fd = pty.fork()
        if pid == 0:  # the child: the UI on the pty's slave side
            try:
                child_setup()
                os.chdir("/")
                os.execve(argv[0], argv, {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"})
            finally:
                os._exit(127)
        self.pid = pid
        self.fd = fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.status: int | None = None
        self.screen = bytearray()
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()
        # Ready as a student sees it: the PID drawn, the receiver reading, and the app's first
        # drawing done (its CPU time still for a while), not racing a client started at once.
        deadline = time.monotonic() + START_TIMEOUT
        drawn = re.compile(rb"sigchat-send\s+(\x1b\[[0-9;]*m)*%d\b" % pid)
        busy, quiet_since = -1, time.monotonic()
        while True:
            if self.died() or time.monotonic() > deadline:
                self.error = self.died() or "not ready within the start-up timeout"
                self.stop()
                self.pid = 0
                return
            now = time.monotonic()
            cpu = self._cpu_ticks()
            if cpu != busy:
                busy, quiet_since = cpu, now
            elif now - quiet_since >= UI_SETTLE and self._receiver_named() and drawn.search(bytes(self.screen)):
                return
            time.sleep(0.01)

    def _drain(self) -> None:
        try:
            while chunk := os.read(self.fd, 65536):
                self.screen += chunk
        except OSError:  # EIO once the child is gone
            pass

    def _cpu_ticks(self) -> int:
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            return -1

    def _receiver_named(self) -> bool:
        try:
            tasks = os.listdir(f"/proc/{self.pid}/task")
            return any(Path(f"/proc/{self.pid}/task/{task}/comm").read_bytes().startswith(RECEIVER_THREAD)
                       for task in tasks)
        except OSError:
            return False

    def died(self) -> str | None:
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if not pid:
                return None
            self.status = os.waitstatus_to_exitcode(status)
        code = self.status
        return f"server died ({signal.Signals(-code).name})" if code < 0 else f"server exited {code}"

    def record(self, pid: int) -> dict | None:
        """``pid``'s delivery from the log, within the result timeout (aborted messages are not logged)."""
        deadline = time.monotonic() + RESULT_TIMEOUT_SIGCHAT
        while time.monotonic() < deadline:
            try:
                for line in self.log.read_text().splitlines():
                    record = json.loads(line)
                    if record.get("pid") == pid:
                        return record
            except (OSError, ValueError):
                pass
            time.sleep(0.01)
        return None

    def stop(self) -> None:
        if self.died() is None:
            os.kill(self.pid, signal.SIGTERM)  # our own child
            deadline = time.monotonic() + 5
            while self.died() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            if self.died() is None:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                self.status = -signal.SIGKILL
        self.reader.join(5)
        os.close(self.fd)


@dataclass
class Client:
    returncode: int | None  # None: killed after the timeout
    elapsed: float
    stderr: str
    pid: int


def run_client(argv: list[str], timeout: float) -> Client:
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=child_setup)
    try:
        _, err = proc.communicate(timeout=timeout)
        returncode: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        returncode = None
    return Client(returncode, time.monotonic() - started, err.decode(errors="replace"), proc.pid)


# --------------------------------------------------------------------------- one message


@dataclass
class Result:
    convention: str
    cell: str
    kind: str
    ok: bool
    reason: str  # "" when ok
    bytes: int
    elapsed: float  # client wall time, s
    transfer: float | None = None  # sigchat's own measure of the transfer, s (server record or sender -v)
    returncode: int | None = None
    integrity: str | None = None  # (b): the record's verdict (acked, unverified, damaged), when it has one


def first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:120] if lines else ""


def describe_client(client: Client, timeout: float) -> str:
    if client.returncode is None:
        return f"client hung: killed after {timeout:g} s"
    if client.returncode < 0:
        return f"client killed by {signal.Signals(-client.returncode).name}"
    said = first_line(client.stderr)
    return f"client exit {client.returncode}" + (f" ({said})" if said else "")


def c_server_result(server: ServerProcess) -> tuple[bytes | None, str]:
    """What the C server printed for the message: (bytes, "") or (None, why)."""
    line = server.out.next(RESULT_TIMEOUT_C)
    if line is None:
        return None, server.died() or "server printed nothing"
    tag, _, payload = line.rstrip(b"\n").partition(b" ")
    if tag not in (b"MSG", b"BAD"):
        return None, f"server printed {line[:60]!r}"
    data = bytes.fromhex(payload.decode())
    return (data, "") if tag == b"MSG" else (None, f"BAD (no NUL where the length ends): {data[:40]!r}")


def sigchat_record(server: ServerProcess, pid: int) -> dict | None:
    deadline = time.monotonic() + RESULT_TIMEOUT_SIGCHAT
    while True:
        line = server.out.next(deadline - time.monotonic())
        if line is None:
            return None
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("pid") == pid and record.get("event") in ("delivered", "aborted"):
            return record


SEND_TIME = re.compile(r", ([\d.,]+) (µs|us|ms|s), [\d.,]+ [kMG]?bit/s")


def sender_transfer_time(stderr: str) -> float | None:
    match = SEND_TIME.search(stderr)
    if not match:
        return None
    value = float(match.group(1).replace(",", ""))
    return value * {"µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}[match.group(2)]


class Bench:
    def __init__(self, args: argparse.Namespace, peers: dict[str, tuple[Path, Path]],
                 sigwaitinfo_servers: dict[str, Path] | None = None, workdir: str = "") -> None:
        self.args = args
        self.workdir = workdir  # where cell (u)'s logs go
        self.peers = peers
        self.sigwaitinfo_servers = sigwaitinfo_servers or {}  # cell (w)'s servers, for unacked conventions
        self.server_cmd = executable("sigchat-server")
        self.send_cmd = executable("sigchat-send")
        self.refused: dict[str, str] = {}  # convention -> why sigchat-server/send refused its profile

    def run(self, convention: conventions.Convention, cell: str, kind: str) -> Result:
        message = MESSAGES[kind]
        data = message.encode()
        client_bin, server_bin = (str(path) for path in self.peers[convention.name])
        result = Result(convention.name, cell, kind, False, "", len(data), 0.0)
        if cell == "w":
            if convention.name not in self.sigwaitinfo_servers:
                result.reason = "n/a: an acked client (the sigwaitinfo yardstick is for unacked ones)"
                return result
            server_bin = str(self.sigwaitinfo_servers[convention.name])
        elif cell != "a" and (convention.profile if cell in ("b", UI_CELL) else convention.sender_profile) is None:
            result.reason = "n/a: no sigchat profile"
            return result
        if (convention.name, cell) in self.refused:
            result.reason = self.refused[convention.name, cell]
            return result
        sigchat_server = cell in ("b", UI_CELL)
        if cell == UI_CELL:
            log = Path(self.workdir) / f"ui-{convention.name}-{time.monotonic_ns()}.jsonl"
            server = UiServerProcess([self.server_cmd, *convention.server_args()[2:], "--log", str(log)], log)
        else:
            argv = [self.server_cmd, *convention.server_args()] if sigchat_server else [server_bin]
            server = ServerProcess(argv, sigchat_server)
        if not server.pid:
            result.reason = f"sigchat-server did not start: {server.error}"
            if server.proc.returncode == 2:  # a usage error (the profile): no use trying again
                self.refused[convention.name, cell] = result.reason
            return result
        try:
            if cell == "c":
                client_argv = [self.send_cmd, "-v", *convention.send_args(), str(server.pid), message]
            else:
                client_argv = [client_bin, str(server.pid), message]
            client = run_client(client_argv, self.args.timeout)
            result.elapsed = client.elapsed
            result.returncode = client.returncode
            if cell == "c":
                result.transfer = sender_transfer_time(client.stderr)
                if client.returncode == 2:  # a usage error: the profile does not parse
                    self.refused[convention.name, cell] = result.reason = f"sigchat-send refused: {first_line(client.stderr)}"
                    return result
            if sigchat_server:
                record = server.record(client.pid) if cell == UI_CELL else sigchat_record(server, client.pid)
                if record is None and cell == UI_CELL:
                    got, why = None, server.died() or "not in the log (it holds deliveries only)"
                elif record is None:
                    got, why = None, server.died() or "no record from sigchat-server"
                elif record["event"] != "delivered":
                    got, why = None, f"aborted: {record.get('reason')} after {record.get('received', 0)} bytes"
                else:
                    got, why = payload_of(record), ""
                    result.transfer = record.get("duration")
                    result.integrity = record.get("integrity")
            else:
                got, why = c_server_result(server)
            client_ok = client.returncode == 0
            if got == data and client_ok:
                result.ok = True
            elif got is not None and got != data:
                flagged = f" (sigchat: {result.integrity})" if result.integrity else ""
                result.reason = f"garbled{flagged}: {got[:30]!r}" + ("" if client_ok else f"; {describe_client(client, self.args.timeout)}")
            elif not client_ok:
                result.reason = describe_client(client, self.args.timeout) + ("" if got == data else f"; {why}")
            else:
                result.reason = why
            return result
        finally:
            server.stop()


def payload_of(record: dict) -> bytes:
    import base64

    return record["text"].encode() if "text" in record else base64.b64decode(record.get("base64", ""))


# --------------------------------------------------------------------------- report


@dataclass
class CellSummary:
    ok: int = 0
    total: int = 0
    bytes: int = 0
    seconds: float = 0.0
    reasons: collections.Counter = field(default_factory=collections.Counter)
    na: str = ""

    @property
    def speed(self) -> float | None:
        return self.bytes / self.seconds if self.ok and self.seconds > 0 else None


def summarise(results: list[Result]) -> dict[tuple[str, str], CellSummary]:
    cells: dict[tuple[str, str], CellSummary] = collections.defaultdict(CellSummary)
    for result in results:
        summary = cells[result.convention, result.cell]
        if result.reason.startswith("n/a") or result.reason.startswith("sigchat-server did not start") or "refused:" in result.reason:
            summary.na = result.reason
            continue
        summary.total += 1
        if result.ok:
            summary.ok += 1
            summary.bytes += result.bytes
            summary.seconds += result.elapsed
        else:
            summary.reasons[f"{result.kind}: {result.reason}"] += 1
    return cells


def speed_text(speed: float | None) -> str:
    if speed is None:
        return "-"
    return f"{speed / 1000:.1f} kB/s" if speed >= 1000 else f"{speed:.0f} B/s"


def worse(summary: CellSummary, counterpart: CellSummary) -> str:
    """``✗`` fewer ok than the C counterpart, ``<`` as many but slower, else ``""``."""
    if summary.na or counterpart.na or not counterpart.total:
        return ""
    if summary.ok * counterpart.total < counterpart.ok * summary.total:
        return "✗"
    if summary.ok and counterpart.speed and summary.speed is not None and summary.speed < counterpart.speed:
        return "<"
    return ""


COUNTERPARTS = {"b": ("a", "w"), "c": ("a",), UI_CELL: ("a", "w")}
"""The C cells each sigchat cell is held against (``worse``): (b) against the pair and the sigwaitinfo server."""


HEADINGS = {"a": "(a) C->C ok", "w": "(w) C->C sigwait", "b": "(b) C->sigchat ok", "c": "(c) sigchat->C ok",
            UI_CELL: "(u) C->sigchat UI ok"}


def table(names: list[str], cells: dict[tuple[str, str], CellSummary], cell_names: tuple[str, ...] = CELLS) -> str:
    header = ["conv", "profile"]
    for cell in cell_names:
        header += [HEADINGS[cell], "speed"] + ([""] if cell in COUNTERPARTS else [])
    rows = [header]
    for name in names:
        convention = conventions.CONVENTIONS[name]
        row = [name, convention.profile or f"- (send: {convention.sender_profile})"]
        for cell in cell_names:
            summary = cells[name, cell]
            marked = cell in COUNTERPARTS
            if summary.na:
                row += ["n/a" if cell != "w" else "-", ""] + ([""] if marked else [])
                continue
            row += [f"{summary.ok}/{summary.total}", speed_text(summary.speed)]
            if marked:
                marks = {worse(summary, cells[name, other]) for other in COUNTERPARTS[cell]}
                row.append("✗" if "✗" in marks else "<" if "<" in marks else "")
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def sender_startup(send_cmd: str, repeats: int = 5) -> float:
    """Median wall time of ``sigchat-send --version``: the Python start-up inside every cell (c) time."""
    times = []
    for _ in range(repeats):
        started = time.monotonic()
        subprocess.run([send_cmd, "--version"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=child_setup)
        times.append(time.monotonic() - started)
    return statistics.median(times)


SPEED_CONVENTION = "K"
"""The speed rows' convention: its client waits for each ack correctly and its C server acks from
its handler at once, so neither side waits on purpose (A, G and I's servers sleep before acking)."""


def speed_rows(args: argparse.Namespace) -> int:
    """Issue 16's classic rows, interleaved: the same C client and message to its C server and to
    sigchat-server; sigchat-send to the C server, its transfer (``-v``) against the C client's wall
    time (the C client starts in ~1 ms, sigchat-send in ~50-100: start-up is not transfer)."""
    if shutil.which("gcc") is None:
        sys.exit("bench_classic: gcc is needed to build the C peers")
    count = args.messages or 5
    convention = conventions.CONVENTIONS[SPEED_CONVENTION]
    workdir = tempfile.mkdtemp(prefix="sigchat-bench-classic-")
    try:
        bench = Bench(args, conventions.build(workdir, [SPEED_CONVENTION]))
        times: dict[str, list[float]] = {cell: [] for cell in SPEED_CELLS}
        for _ in range(count):
            for cell in SPEED_CELLS:
                result = bench.run(convention, cell, "1000")
                if not result.ok:
                    print(f"({cell}) {CELL_TITLES[cell]}: {result.reason}", file=sys.stderr)
                    continue
                seconds = result.transfer if cell == "c" and result.transfer else result.elapsed
                times[cell].append(result.bytes / seconds)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    speed = {cell: statistics.median(values) if values else None for cell, values in times.items()}
    load = os.getloadavg()
    print(f"classic speed: convention {SPEED_CONVENTION} ({convention.profile}), 1,000 characters, "
          f"median of {count}, load average {load[0]:.2f}, {os.cpu_count()} CPUs")
    rows = [
        ("C client -> C server (wall)", speed["a"], None),
        ("C client -> sigchat-server (wall)", speed["b"], speed["a"]),
        ("sigchat-send -> C server (transfer, -v)", speed["c"], speed["a"]),
    ]
    for title, value, base in rows:
        ratio = f"{value / base:.2f}x the C pair (goal >= 0.80x)" if value and base else ""
        print(f"  {title:42} {speed_text(value):>10}  {ratio}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=None, help="messages per cell (default 10; --quick: 2)")
    parser.add_argument("--quick", action="store_true", help=f"short messages only ({', '.join(QUICK_KINDS)})")
    parser.add_argument("--conventions", default="", help="comma-separated names (default: all), e.g. A,B,C-200")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds before a client counts as hung (default 10)")
    parser.add_argument("--json", metavar="FILE", help="write every result and the summary as JSON")
    parser.add_argument("--ui", action="store_true",
                        help="add cell (u): each client to sigchat-server's Textual UI on a pseudo-terminal")
    parser.add_argument("--speed", action="store_true",
                        help="only issue 16's classic speed rows: convention K (acked, its server acks at once), "
                             "1,000 characters, --messages times per cell (default 5), medians")
    args = parser.parse_args()
    if args.speed:
        return speed_rows(args)
    names = [name.strip() for name in args.conventions.split(",") if name.strip()] or list(conventions.CONVENTIONS)
    unknown = [name for name in names if name not in conventions.CONVENTIONS]
    if unknown:
        parser.error(f"unknown conventions {unknown}; known: {', '.join(conventions.CONVENTIONS)}")
    kinds = QUICK_KINDS if args.quick else tuple(MESSAGES)
    count = args.messages if args.messages is not None else (2 if args.quick else 10)
    if shutil.which("gcc") is None:
        sys.exit("bench_classic: gcc is needed to build the C peers")

    workdir = tempfile.mkdtemp(prefix="sigchat-bench-classic-")
    try:
        peers = conventions.build(workdir, names)
        unacked = [name for name in names if not conventions.CONVENTIONS[name].acked]
        sigwaitinfo = conventions.build(workdir, unacked, server_style=conventions.SIGWAITINFO_STYLE) if unacked else {}
        bench = Bench(args, peers, {name: server for name, (_, server) in sigwaitinfo.items()}, workdir)
        cell_names = CELLS + ((UI_CELL,) if args.ui else ())
        startup = sender_startup(bench.send_cmd)
        results: list[Result] = []
        started = time.monotonic()
        total = count * len(cell_names) * len(names)
        for index in range(count):
            kind = kinds[index % len(kinds)]
            for cell in cell_names:
                for name in names:
                    result = bench.run(conventions.CONVENTIONS[name], cell, kind)
                    results.append(result)
                    status = "ok" if result.ok else result.reason
                    print(f"[{len(results)}/{total}] {name} ({cell}) {kind}: {status} {result.elapsed * 1000:.0f} ms", file=sys.stderr, flush=True)
        elapsed = time.monotonic() - started
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    cells = summarise(results)
    load = os.getloadavg()
    print()
    print(f"classic interop: {count} messages per cell ({', '.join(kinds)} chars, cycled), fresh processes per message, "
          f"{elapsed:.0f} s, load average {load[0]:.2f} {load[1]:.2f}, {os.cpu_count()} CPUs")
    print("ok = client exit 0 and the exact bytes printed by the server; speed = payload bytes / client wall time "
          f"(spawn to exit) over the ok messages; sigchat-send start-up alone: {startup * 1000:.0f} ms")
    print("marks: ✗ fewer ok than (a), the C pair, or for (b) and (u) than (w), the C sigwaitinfo server; "
          "< as many ok but slower")
    print()
    print(table(names, cells, cell_names))
    print()
    for name in names:
        for cell in cell_names:
            summary = cells[name, cell]
            if summary.na and cell not in ("a", "w"):
                print(f"{name} ({cell}) {CELL_TITLES[cell]}: {summary.na}")
            for reason, times in summary.reasons.most_common():
                print(f"{name} ({cell}) {CELL_TITLES[cell]}: {times} x {reason}")
    if args.json:
        with open(args.json, "w") as file:
            json.dump(
                {
                    "messages": count,
                    "kinds": list(kinds),
                    "elapsed": elapsed,
                    "load": load,
                    "sender_startup": startup,
                    "cells": {
                        f"{name}/{cell}": {
                            "ok": cells[name, cell].ok,
                            "total": cells[name, cell].total,
                            "bytes_per_second": cells[name, cell].speed,
                            "na": cells[name, cell].na,
                            "failures": dict(cells[name, cell].reasons),
                        }
                        for name in names
                        for cell in cell_names
                    },
                    "results": [asdict(result) for result in results],
                },
                file,
                indent=1,
                ensure_ascii=False,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
