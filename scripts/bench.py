"""``make bench``: sigchat's throughput next to the C limits of signal IPC, measured in one run.

Every configuration runs ``--repeats`` times, interleaved (A B C, A B C, ...),
and the table shows medians, each sigchat row's ratio to the matching C limit
("vs C"), its ratio to its other baseline, the goals from the issues and
whether the medians meet them.

The C limits: ``scripts/c/pingpong.c``, built here with gcc (``cc`` with
``--cc``), two processes that signal each other with no protocol, both pinned
to the CPU sigchat-server pins its receiver thread to: a ``sigwaitinfo``
ping-pong (``kill``, one bit per round trip: the limit of 1-bit rows), a
``sigqueue`` ping-pong (a 64-bit ``si_value`` per round trip: turbo rows are
compared with its round trips/s x 48 payload bits, what one word per round
trip could carry), and for reference two words (SIGUSR1 and SIGUSR2, as sigchat's
word pairs) and three words (the third to the receiving thread's own pending set) per
round trip. Cross-CPU rows are compared with the ``sigwaitinfo`` ping-pong between two
CPUs. A raw Python ping-pong (``scripts/pingpong.py``: two processes,
sigtimedwait, no protocol) on one CPU and on two is kept for reference, and as
the baseline of the protocol-overhead goal; so are its turbo-word versions with two and
three words per round trip (``word_ping_pong``: what Python reaches with ctypes, no
protocol, against the same C limit as the turbo rows). sigchat rows cover size x mode
(1-bit: one payload bit per signal; turbo: ``--turbo``, 6 payload bytes per
sigqueue value) x sender count (1, ``--concurrent``) x plain/Textual UI, for
``pinned`` (the default: the sender joins the CPU of the server's receiver
thread) and ``cross-CPU`` (the sender, with ``--no-affinity``, held on another
CPU than the receiver thread: left to the scheduler, two processes on 2 CPUs
land on one CPU or two at random, and the ratios swung from 0.1x to 3x). Single-sender
rates are payload bits (8 x message bytes, no framing) over the duration
``sigchat-send -v`` reports (first signal to the server's verdict; process
start-up excluded). The concurrent rows divide all payload bits by the window
from the earliest sender's first signal to the last sender's verdict (each
sender's stats line time minus its reported duration), so start-up is excluded
there too. Every sender's stats line must name the mode asked for: a turbo
send that fell back to 1 bit per signal stops the bench.

Placement in sessions is as in real use, where the server runs in one terminal
and each sender in another: every server (and the ping-pong's answering
process) runs in a session of its own, the senders in the bench's. With
autogroup scheduling (``/proc/sys/kernel/sched_autogroup_enabled``) the kernel
schedules processes of different sessions in different groups, which costs a
signal round trip ~5 % here. A plain server sharing the senders' session
measured ~6 % faster than one in its own, and the Textual server, which always
has its own (its terminal), looked that much slower than "plain".

The UI rows compare like with like at the same moment: each of their samples
is a transfer to the plain server followed at once by the same transfer to the
Textual server (three such pairs per repeat for 1-bit 10 KB, one for turbo),
and their ratio is the median of the pairs' UI/plain ratios. Compared as the
medians of rows measured half a minute apart, the 1-bit UI ratio of one
unchanged build came out 1.13 in one run and 0.86 in the next: samples drift
by 10-20 % between runs on these shared machines.

Goals (ratios of medians; for the UI rows, the median of paired ratios):
1-bit 10 KB and 100 KB pinned >= 0.70x the C sigwaitinfo ping-pong; turbo
1 MB >= 1.0x the C sigqueue round trips/s x 48 bits (more than one word per
round trip can carry); every 1-bit row >= 0.80x the Python ping-pong of its
placement (protocol overhead <= 20%); Textual UI >= 0.90x plain; N senders at
once >= 0.80x one sender; start-up <= 2x ``python3 -c pass``.

Usage: scripts/bench.py [--repeats N] [--sizes 1K,10K,100K] [--turbo-sizes 10K,100K,1M]
                        [--json FILE] [--quick] [--cc CC] (see --help)
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import platform
import pty
import re
import signal
import struct
import termios
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "scripts"))

from pingpong import RT_TGSIGQUEUEINFO, ping_pong, word_ping_pong  # noqa: E402

from sigchat.sigio import procfs  # noqa: E402
from sigchat.sigio.masks import block_signals, unblock_signals  # noqa: E402

BIN = Path(sys.executable).parent
C_PINGPONG = ROOT / "scripts" / "c" / "pingpong.c"
C_BUILD = ROOT / "build" / "bench"
WORD_BITS = 48
"""Payload bits of one turbo word (``proto.wire.WORD_TAG_SHIFT``): a C sigqueue round trip's worth."""
# sigchat-send -v (worded by sigchat.format): "..., 1 bit per signal, ..." or "..., turbo (N words, G per round trip), ...",
# then "F bits, S signals sent, ..., R retransmissions, A attempts, X, N kbit/s", where F sums all
# attempts, X is a duration ("5.45 ms", "2.50 s", "1:05") and N the payload bits over X (3 digits).
STATS = re.compile(
    r"bytes?, (1 bit per signal|turbo \([\d,]+ words?, [123] per round trip\)), ([\d,]+) bits?, [\d,]+ signals? sent, .*?([\d,]+) retransmissions?, "
    r"([\d,]+) attempts?, (\d+(?:\.\d+)? (?:µs|ms|s)|\d+(?::\d\d){1,2}), ([\d.]+) ([kMG]?)bit/s"
)
DURATION_UNITS = {"µs": 1e-6, "ms": 1e-3, "s": 1.0}
RATE_PREFIXES = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9}
MODE_TEXT = {"1-bit": "1 bit per signal", "turbo": "turbo ("}  # how the stats line starts its mode
MBIT = 1_000_000
UI_PAIRS = {"1-bit": 3, "turbo": 1}
"""Back-to-back (plain, UI) transfer pairs per repeat of a UI row (see the module docstring)."""


class BenchError(RuntimeError):
    """A measurement that cannot be trusted (a failed sender, a turbo send that fell back)."""


def parse_size(text: str) -> int:
    text = text.strip().upper()
    scale = {"K": 1000, "M": 1000_000}.get(text[-1], 1)
    return int(text.rstrip("KMB") or 0) * scale


def parse_sizes(text: str) -> list[int]:
    return [parse_size(s) for s in text.split(",") if s.strip()]


def human(size: int) -> str:
    if size >= 1000_000:
        return f"{size / 1000_000:g} MB"
    return f"{size / 1000:g} KB" if size >= 1000 else f"{size} B"


class Server:
    """A plain sigchat-server subprocess, in a session of its own (see the module docstring)."""

    def __init__(self, *extra: str) -> None:
        self.process = subprocess.Popen(
            [str(BIN / "sigchat-server"), "--plain", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            preexec_fn=unblock_signals,
            start_new_session=True,
        )
        line = self.process.stdout.readline().decode()
        if not line.startswith("Server PID: "):
            raise RuntimeError(f"unexpected first line from the server: {line!r}")
        self.pid = int(line.split()[-1])
        # The server writes each message before it confirms it: a full pipe would stall it.
        threading.Thread(target=self._discard_output, daemon=True).start()

    def _discard_output(self) -> None:
        while self.process.stdout.read(1 << 16):
            pass

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def cpu_ticks(pid: int) -> int:
    """User + system CPU time of ``pid`` so far, in clock ticks."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as file:
        fields = file.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def settle(pid: int, limit: float = 10.0) -> None:
    """Wait (up to ``limit`` s) until ``pid`` is idle: a starting Textual app keeps the
    receiver's CPU busy for a second or so, and the C ping-pongs run on that CPU."""
    deadline = time.monotonic() + limit
    before = cpu_ticks(pid)
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = cpu_ticks(pid)
        if now - before <= 1:
            return
        before = now


class TuiServer:
    """``sigchat-server`` with its Textual UI, on a pseudo-terminal (output drained; its own session)."""

    def __init__(self) -> None:
        pid, fd = pty.fork()
        if pid == 0:
            try:
                unblock_signals()
                env = {**os.environ, "TERM": "xterm-256color"}
                os.execve(str(BIN / "sigchat-server"), [str(BIN / "sigchat-server")], env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        threading.Thread(target=self._discard_output, daemon=True).start()
        deadline = time.monotonic() + 30
        while procfs.receiver_tid(pid) is None:  # the app is up once its receiver thread runs
            if time.monotonic() > deadline:
                raise RuntimeError("the Textual server did not start its receiver thread")
            time.sleep(0.05)
        settle(pid)


    def _discard_output(self) -> None:
        try:
            while os.read(self.fd, 1 << 16):
                pass
        except OSError:
            pass

    def close(self) -> None:
        os.kill(self.pid, signal.SIGTERM)
        os.waitpid(self.pid, 0)


@dataclass
class Transfer:
    """One sender's stats line."""

    bits_per_second: float  # payload bits (8 x bytes) over the sender's reported duration
    duration: float
    attempts: int
    retransmissions: int


def parse_stats(stderr: str, size: int, mode: str) -> Transfer:
    match = STATS.search(stderr)
    if match is None:
        raise BenchError(f"no stats line from sigchat-send -v: {stderr.strip()!r}")
    if not match.group(1).startswith(MODE_TEXT[mode]):
        raise BenchError(f"asked for {mode} but the sender did not send {mode}: {stderr.strip()!r}")
    retransmissions, attempts = (int(match.group(n).replace(",", "")) for n in (3, 4))
    if ":" in match.group(5):  # (h:)mm:ss
        duration = float(sum(int(part) * 60**power for power, part in enumerate(reversed(match.group(5).split(":")))))
    else:
        value, unit = match.group(5).split()
        duration = float(value) * DURATION_UNITS[unit]
    rate = float(match.group(6)) * RATE_PREFIXES[match.group(7)]  # payload bits/s over the exact duration
    if rate <= 0 and duration > 0:
        rate = 8 * size / duration
    return Transfer(rate, duration, attempts, retransmissions)


def other_cpu() -> int:
    """A CPU other than the one the server pins its receiver thread to (the highest)."""
    return min(os.sched_getaffinity(0))


def sender_argv(pid: int, mode: str, pinned: bool) -> list[str]:
    argv = [str(BIN / "sigchat-send"), "-v"]
    if mode == "turbo":
        argv.append("--turbo")
    if not pinned:
        argv.append("--no-affinity")
    return [*argv, str(pid), "-"]


def send(pid: int, data: bytes, mode: str, pinned: bool = True) -> Transfer:
    """Payload bits/s of one message, as the sender measured it."""
    def place() -> None:
        unblock_signals()
        if not pinned:
            os.sched_setaffinity(0, {other_cpu()})

    result = subprocess.run(sender_argv(pid, mode, pinned), input=data, capture_output=True, preexec_fn=place, timeout=600)
    stderr = result.stderr.decode(errors="replace")
    if result.returncode != 0:
        raise BenchError(f"sigchat-send failed ({result.returncode}): {stderr.strip()}")
    return parse_stats(stderr, len(data), mode)


def send_concurrently(pid: int, data: bytes, count: int, mode: str) -> tuple[float, float, list[Transfer]]:
    """Aggregate payload bits/s of ``count`` senders started at once.

    Returns (rate over the first signal .. last verdict window, rate over the
    wall clock including start-up, each sender's transfer)."""
    start = time.perf_counter()
    # Popen (with preexec_fn) from this thread only; the helper threads do the pipe I/O.
    processes = [
        subprocess.Popen(
            sender_argv(pid, mode, pinned=True),
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=unblock_signals,
        )
        for _ in range(count)
    ]
    stats_at: list[float | None] = [None] * count
    stderr: list[str] = [""] * count

    def talk(index: int, process: subprocess.Popen) -> None:
        try:
            process.stdin.write(data)
            process.stdin.close()
        except BrokenPipeError:
            pass
        for line in iter(process.stderr.readline, b""):
            text = line.decode(errors="replace")
            if STATS.search(text):
                stats_at[index] = time.perf_counter()  # the line is written right after the verdict
            stderr[index] += text

    threads = [threading.Thread(target=talk, args=(i, p), daemon=True) for i, p in enumerate(processes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    failures = [(p.wait(600), err) for p, err in zip(processes, stderr)]
    wall = time.perf_counter() - start
    for code, err in failures:
        if code != 0:
            raise BenchError(f"a concurrent sender failed ({code}): {err.strip()}")
    transfers = [parse_stats(err, len(data), mode) for err in stderr]
    first_signal = min(at - t.duration for at, t in zip(stats_at, transfers))
    window = max(stats_at) - first_signal
    bits = 8 * len(data) * count
    return bits / window, bits / wall, transfers


def build_c_pingpong(cc: str) -> Path:
    """Compile ``scripts/c/pingpong.c`` (into ``build/bench/``, ignored by git); the path of the program."""
    C_BUILD.mkdir(parents=True, exist_ok=True)
    program = C_BUILD / "pingpong"
    try:
        subprocess.run([cc, "-O2", "-Wall", "-Wextra", "-o", str(program), str(C_PINGPONG)], check=True, capture_output=True, text=True)
    except FileNotFoundError:
        raise BenchError(f"no C compiler {cc!r}: the C limits need one (--cc to name another)") from None
    except subprocess.CalledProcessError as error:
        raise BenchError(f"{cc} could not build {C_PINGPONG.name}: {error.stderr.strip()}") from None
    return program


def receiver_cpu() -> int:
    """The CPU sigchat-server pins its receiver thread to (the highest it may use)."""
    return max(os.sched_getaffinity(0))


def c_ping_pong(program: Path, mode: str, rounds: int, cross_cpu: bool = False) -> float:
    """Round trips/s of the C ping-pong ``mode`` (kill, sigqueue, pair, triple), on the receiver's CPU (and another)."""
    cpus = [str(receiver_cpu())] + ([str(other_cpu())] if cross_cpu else [])
    result = subprocess.run([str(program), mode, str(rounds), *cpus], capture_output=True, text=True, preexec_fn=unblock_signals, timeout=120)
    if result.returncode != 0:
        raise BenchError(f"the C {mode} ping-pong failed ({result.returncode}): {result.stderr.strip()}")
    return float(result.stdout)


def startup_ratio(pid: int, runs: int = 10) -> float:
    """Whole-process time of ``sigchat-send PID hi`` over ``python3 -c pass``."""

    def timed(argv: list[str]) -> float:
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run(argv, check=True, preexec_fn=unblock_signals, capture_output=True)
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    python = timed([sys.executable, "-c", "pass"])
    sender = timed([str(BIN / "sigchat-send"), str(pid), "hi"])
    return sender / python


@dataclass
class Goal:
    """``op`` (">=" or "<=") ``value``, checked on the ratio to the C limit, to the baseline, or on the median itself."""

    op: str
    value: float
    on: str = "ratio"  # "limit", "ratio" or "median"
    text: str = ""
    why: str = ""

    def label(self) -> str:
        text = self.text or f"{'≥' if self.op == '>=' else '≤'} {self.value:.2f}"
        return f"{text} vs C" if self.on == "limit" else text

    def met(self, row: "Row", ratio: float | None, limit_ratio: float | None) -> bool | None:
        value = {"ratio": ratio, "limit": limit_ratio, "median": row.median}[self.on]
        if value is None or value != value:  # missing or NaN
            return None
        return value >= self.value if self.op == ">=" else value <= self.value


@dataclass
class Row:
    name: str
    unit: str
    measure: Callable[[], float] | None = None
    baseline: str | None = None  # key of another row
    reference: tuple[float, str] | None = None  # or a fixed value and its label, e.g. (1e6, "1 Mbit/s")
    limit: tuple[str, int] | None = None  # (key of a C row, payload bits per round trip): the matching C limit
    short: str = ""  # how other rows' ratio column names this row
    goals: list[Goal] = field(default_factory=list)
    info: dict = field(default_factory=dict)  # mode, size, senders, ui, placement for the JSON
    samples: list[float] = field(default_factory=list)
    extra: dict = field(default_factory=dict)  # per-sample details for the JSON

    @property
    def median(self) -> float:
        return statistics.median(self.samples) if self.samples else float("nan")


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        autogroup = "on" if open("/proc/sys/kernel/sched_autogroup_enabled").read().strip() == "1" else "off"
    except OSError:
        autogroup = "unknown"
    return (
        f"{os.cpu_count()} CPUs ({cpu}), Linux {platform.release()}, Python {platform.python_version()}, "
        f"autogroup {autogroup}"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats (default: 3)")
    parser.add_argument("--sizes", default="1K,10K,100K", help="1-bit sizes, pinned (default: 1K,10K,100K; 10K is always added)")
    parser.add_argument("--cross-sizes", default="1K,10K", help="1-bit sizes, cross-CPU (slow; default: 1K,10K)")
    parser.add_argument("--turbo-sizes", default="10K,100K,1M", help="turbo sizes, pinned (default: 10K,100K,1M)")
    parser.add_argument("--cross-turbo-sizes", default="100K", help="turbo sizes, cross-CPU (default: 100K; '' skips)")
    parser.add_argument("--ui-turbo-size", default="1M", help="turbo size of the Textual UI row (default: 1M; 1-bit is 10K)")
    parser.add_argument("--concurrent", type=int, default=8, help="senders in the concurrency rows (default: 8; 0 skips)")
    parser.add_argument("--concurrent-turbo-size", default="100K", help="message size of each turbo concurrent sender (default: 100K; 1-bit is 10K)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--cc", default="gcc", help="the C compiler that builds the C ping-pongs (default: gcc)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1 repeat, small sizes: 1-bit 1K,10K (cross-CPU 1K), turbo 10K,100K (cross-CPU 10K), UI turbo 100K",
    )
    return parser


def build_rows(args: argparse.Namespace, servers: dict, payloads: dict[int, bytes]) -> dict[str, Row]:
    sizes, cross_sizes = args.sizes, args.cross_sizes
    turbo_sizes, cross_turbo_sizes = args.turbo_sizes, args.cross_turbo_sizes

    def sender(key: str, pid: Callable[[], int], size: int, mode: str, pinned: bool = True) -> Callable[[], float]:
        def run() -> float:
            transfer = send(pid(), payloads[size], mode, pinned)
            rows[key].extra.setdefault("attempts", []).append(transfer.attempts)
            rows[key].extra.setdefault("retransmissions", []).append(transfer.retransmissions)
            return transfer.bits_per_second

        return run

    def together(key: str, size: int, mode: str) -> Callable[[], float]:
        def run() -> float:
            rate, wall, transfers = send_concurrently(servers["pinned"].pid, payloads[size], args.concurrent, mode)
            rows[key].extra.setdefault("wall_clock_bits_per_second", []).append(wall)
            rows[key].extra.setdefault("attempts", []).append([t.attempts for t in transfers])
            rows[key].extra.setdefault("retransmissions", []).append([t.retransmissions for t in transfers])
            return rate

        return run

    def info(mode: str, size: int, placement: str = "pinned", senders: int = 1, ui: bool = False) -> dict:
        return {"mode": mode, "size": size, "placement": placement, "senders": senders, "ui": ui}

    overhead = Goal(">=", 0.80, why="protocol overhead <= 20%")
    program = args.c_program
    c_rounds = 20_000 if args.quick else 200_000
    rows: dict[str, Row] = {}
    rows["c-kill-same"] = Row(
        "C sigwaitinfo ping-pong, same CPU", "round trips/s", lambda: c_ping_pong(program, "kill", c_rounds), short="C ping-pong",
    )
    rows["c-sigqueue-same"] = Row(
        "C sigqueue ping-pong, same CPU", "round trips/s", lambda: c_ping_pong(program, "sigqueue", c_rounds), short="C sigqueue",
    )
    rows["c-pair-same"] = Row(
        "C two words per round trip, same CPU", "round trips/s", lambda: c_ping_pong(program, "pair", c_rounds),
        baseline="c-sigqueue-same", short="C two words",
    )
    rows["c-triple-same"] = Row(
        "C three words per round trip, same CPU", "round trips/s", lambda: c_ping_pong(program, "triple", c_rounds),
        baseline="c-sigqueue-same", short="C three words",
    )
    rows["c-kill-cross"] = Row(
        "C sigwaitinfo ping-pong, two CPUs", "round trips/s", lambda: c_ping_pong(program, "kill", c_rounds // 4, cross_cpu=True),
        short="C two-CPU ping-pong",
    )
    rows["pingpong-same"] = Row(
        "raw Python ping-pong, same CPU", "round trips/s", lambda: ping_pong(20_000, same_cpu=True), short="same-CPU ping-pong",
        limit=("c-kill-same", 1),
    )
    rows["pingpong-cross"] = Row(
        "raw Python ping-pong, two CPUs", "round trips/s", lambda: ping_pong(20_000, cross_cpu=True), short="two-CPU ping-pong",
        limit=("c-kill-cross", 1),
    )
    # What Python itself reaches with turbo words, no protocol: the ceiling of word pairs, and of three words.
    for words, name in ((2, "two"), (3, "three")):
        if words == 3 and os.uname().machine not in RT_TGSIGQUEUEINFO:
            continue
        rows[f"pywords-{words}"] = Row(
            f"raw Python, {name} turbo words per round trip", "payload bits/s",
            lambda words=words: word_ping_pong(20_000, words) * WORD_BITS * words, limit=("c-sigqueue-same", WORD_BITS),
        )
    one_bit_goal = Goal(">=", 0.70, on="limit", why="1-bit 10 KB and 100 KB vs the C same-CPU ping-pong (issue 16)")
    for size in sizes:
        key = f"1bit-{size}"
        goals = [one_bit_goal] if size in (10_000, 100_000) else []
        rows[key] = Row(
            f"sigchat 1-bit {human(size)}, pinned (default)", "payload bits/s",
            sender(key, lambda: servers["pinned"].pid, size, "1-bit"),
            baseline="pingpong-same", limit=("c-kill-same", 1), short=f"1-bit {human(size)}", goals=[*goals, overhead],
            info=info("1-bit", size),
        )
    for size in cross_sizes:
        key = f"1bit-cross-{size}"
        rows[key] = Row(
            f"sigchat 1-bit {human(size)}, cross-CPU", "payload bits/s",
            sender(key, lambda: servers["pinned"].pid, size, "1-bit", pinned=False),
            baseline="pingpong-cross", limit=("c-kill-cross", 1), goals=[overhead], info=info("1-bit", size, "cross-CPU"),
        )
    for size in turbo_sizes:
        key = f"turbo-{size}"
        goals = [Goal(">=", 1.0, on="limit", why="turbo 1 MB vs C sigqueue round trips/s x 48 bits (issue 16)")] if size >= 1000_000 else []
        vs_1bit = f"1bit-{size}" in rows
        rows[key] = Row(
            f"sigchat turbo {human(size)}, pinned", "payload bits/s",
            sender(key, lambda: servers["pinned"].pid, size, "turbo"),
            baseline=f"1bit-{size}" if vs_1bit else None,
            reference=None if vs_1bit else (MBIT, "1 Mbit/s"), limit=("c-sigqueue-same", WORD_BITS),
            short=f"turbo {human(size)}", goals=goals, info=info("turbo", size),
        )
    for size in cross_turbo_sizes:
        key = f"turbo-cross-{size}"
        rows[key] = Row(
            f"sigchat turbo {human(size)}, cross-CPU", "payload bits/s",
            sender(key, lambda: servers["pinned"].pid, size, "turbo", pinned=False),
            baseline=f"turbo-{size}" if size in turbo_sizes else None, limit=("c-kill-cross", WORD_BITS),
            info=info("turbo", size, "cross-CPU"),
        )
    def paired(key: str, size: int, mode: str) -> Callable[[], float]:
        """``UI_PAIRS[mode]`` transfers to the plain server, each followed at once by the same to the UI server."""
        def run() -> float:
            rates = []
            for _ in range(UI_PAIRS[mode]):
                plain = send(servers["pinned"].pid, payloads[size], mode)
                ui = send(servers["tui"].pid, payloads[size], mode)
                rows[key].extra.setdefault("pairs", []).append([plain.bits_per_second, ui.bits_per_second])
                rows[key].extra.setdefault("attempts", []).append(ui.attempts)
                rows[key].extra.setdefault("retransmissions", []).append(ui.retransmissions)
                rates.append(ui.bits_per_second)
            return statistics.median(rates)

        return run

    ui = Goal(">=", 0.90, why="Textual UI vs plain")
    rows["ui-1bit-10000"] = Row(
        "sigchat 1-bit 10 KB, pinned, Textual UI", "payload bits/s",
        paired("ui-1bit-10000", 10_000, "1-bit"),
        baseline="1bit-10000", limit=("c-kill-same", 1), goals=[ui], info=info("1-bit", 10_000, ui=True),
    )
    key = f"ui-turbo-{args.ui_turbo_size}"
    rows[key] = Row(
        f"sigchat turbo {human(args.ui_turbo_size)}, pinned, Textual UI", "payload bits/s",
        paired(key, args.ui_turbo_size, "turbo"),
        baseline=f"turbo-{args.ui_turbo_size}", limit=("c-sigqueue-same", WORD_BITS), goals=[ui],
        info=info("turbo", args.ui_turbo_size, ui=True),
    )
    if args.concurrent:
        many = Goal(">=", 0.80, why="N senders at once vs one sender")
        for mode, size, base in (("1-bit", 10_000, "1bit-10000"), ("turbo", args.concurrent_turbo_size, f"turbo-{args.concurrent_turbo_size}")):
            key = f"concurrent-{'1bit' if mode == '1-bit' else 'turbo'}-{size}"
            rows[key] = Row(
                f"sigchat {mode} {args.concurrent} senders x {human(size)} at once", "aggregate bits/s",
                together(key, size, mode),
                baseline=base, limit=("c-kill-same", 1) if mode == "1-bit" else ("c-sigqueue-same", WORD_BITS),
                goals=[many], info=info(mode, size, senders=args.concurrent),
            )
    rows["startup"] = Row(
        "start-up: sigchat-send PID hi / python3 -c pass", "ratio",
        lambda: startup_ratio(servers["pinned"].pid), goals=[Goal("<=", 2.0, on="median", why="start-up")],
    )
    return rows


def limit_of(row: Row, rows: dict[str, Row]) -> tuple[float | None, str]:
    """The row's median over its C limit (the C row's round trips/s x payload bits per round trip)."""
    if row.limit is None:
        return None, ""
    key, bits = row.limit
    base = rows[key]
    return row.median / (base.median * bits), base.short + (f" x {bits}" if bits != 1 else "")


def ratio_of(row: Row, rows: dict[str, Row]) -> tuple[float | None, str]:
    pairs = row.extra.get("pairs")
    if pairs:  # the UI rows: the median of UI / plain over back-to-back pairs
        return statistics.median(ui / plain for plain, ui in pairs), "plain, paired"
    if row.baseline:
        base = rows[row.baseline]
        label = base.short or base.name
        if row.info.get("senders", 1) > 1:
            label = "1 sender"
        elif row.info.get("ui"):
            label = "plain"
        elif base.info.get("placement") == "pinned" and row.info.get("placement") == "cross-CPU":
            label = "pinned"
        return row.median / base.median, label
    if row.reference:
        return row.median / row.reference[0], row.reference[1]
    return None, ""


def main(argv: list[str] | None = None) -> int:
    # First, before any thread exists: the ping-pong partner signals this process,
    # and a thread with SIGUSR1 unblocked would take it and die of it.
    block_signals()
    args = build_parser().parse_args(argv)
    if args.quick:
        args.repeats, args.sizes, args.cross_sizes = 1, "1K,10K", "1K"
        args.turbo_sizes, args.cross_turbo_sizes, args.ui_turbo_size = "10K,100K", "10K", "100K"
    args.sizes = sorted({*parse_sizes(args.sizes), 10_000})  # 10K: the goal row, baseline of the UI and concurrent rows
    args.cross_sizes = parse_sizes(args.cross_sizes)
    args.ui_turbo_size = parse_size(args.ui_turbo_size)
    args.concurrent_turbo_size = parse_size(args.concurrent_turbo_size)
    # The UI and concurrent turbo rows need their single-sender plain baseline.
    args.turbo_sizes = sorted({*parse_sizes(args.turbo_sizes), args.ui_turbo_size, *([args.concurrent_turbo_size] if args.concurrent else [])})
    args.cross_turbo_sizes = parse_sizes(args.cross_turbo_sizes)
    all_sizes = {*args.sizes, *args.cross_sizes, *args.turbo_sizes, *args.cross_turbo_sizes, args.ui_turbo_size, args.concurrent_turbo_size}
    payloads = {size: os.urandom(size) for size in all_sizes}

    servers: dict = {}
    started = time.monotonic()
    try:
        args.c_program = build_c_pingpong(args.cc)
        rows = build_rows(args, servers, payloads)
        servers["pinned"] = Server()
        servers["tui"] = TuiServer()
        for repeat in range(args.repeats):
            print(f"repeat {repeat + 1}/{args.repeats} ...", file=sys.stderr, flush=True)
            for row in rows.values():
                row.samples.append(row.measure())
    except BenchError as error:
        print(f"bench: error: {error}", file=sys.stderr)
        return 1
    finally:
        for server in servers.values():
            server.close()
    elapsed = time.monotonic() - started

    print(f"\nsigchat bench, {time.strftime('%Y-%m-%d')}, {machine()}; medians of {args.repeats} run(s), {elapsed:.0f} s\n")
    table, results = [], []
    for key, row in rows.items():
        ratio, label = ratio_of(row, rows)
        limit_ratio, limit_label = limit_of(row, rows)
        checks = [(goal, goal.met(row, ratio, limit_ratio)) for goal in row.goals]
        met = None if not checks else (None if any(m is None for _, m in checks) else all(m for _, m in checks))
        value = f"{row.median:,.2f}" if row.unit == "ratio" else f"{row.median:,.0f}"
        table.append([
            row.name, value, row.unit,
            f"{limit_ratio:.2f}x {limit_label}" if limit_ratio is not None else "",
            f"{ratio:.2f}x {label}" if ratio is not None else "",
            ", ".join(goal.label() for goal, _ in checks),
            ", ".join({True: "yes", False: "no", None: "?"}[m] for _, m in checks),
        ])
        results.append({
            "key": key, "name": row.name, "unit": row.unit, **row.info, "median": row.median, "samples": row.samples,
            "baseline": row.baseline or (row.reference[1] if row.reference else None), "ratio": ratio,
            "c_limit": limit_label or None, "c_ratio": limit_ratio,
            "goal": ", ".join(goal.label() for goal, _ in checks) or None, "met": met,
            "goals": [{"goal": goal.label(), "on": goal.on, "op": goal.op, "value": goal.value, "why": goal.why, "met": m} for goal, m in checks],
            **row.extra,
        })
    header = ["measurement", "median", "unit", "vs C limit", "ratio", "goal", "met"]
    widths = [max(len(header[i]), *(len(line[i]) for line in table)) for i in range(len(header))]
    right = {1}

    def render(cells: list[str]) -> str:
        return "| " + " | ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))) + " |"

    print(render(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for line in table:
        print(render(line))
    checked = [r for r in results if r["goals"]]
    met_count = sum(1 for r in checked if r["met"])
    print(f"\ngoals met: {met_count} of {len(checked)} rows")
    retried = [
        f"{r['name']}: attempts {r['attempts']}" for r in results
        if any((max(a) if isinstance(a, list) else a) > 1 for a in r.get("attempts", []))
    ]
    if retried:
        print("transfers that needed more than one attempt (integrity failure or server timeout, then resent):")
        for line in retried:
            print(f"  {line}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "date": time.strftime("%Y-%m-%d"), "machine": machine(), "repeats": args.repeats, "seconds": round(elapsed, 1),
            "goals_met": met_count, "goals_checked": len(checked), "results": results,
        }, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
