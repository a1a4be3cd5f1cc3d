"""``make bench``: sigchat's throughput next to a raw signal ping-pong, measured in one run.

Every configuration runs ``--repeats`` times, interleaved (A B C, A B C, ...),
and the table shows medians. Baselines: a raw Python ping-pong (two processes,
sigtimedwait, no protocol) with both processes on one CPU and unpinned. sigchat
rows: payload bits per second as measured by ``sigchat-send -v`` (from its
first signal to the server's verdict; process start-up excluded), for
``pinned`` (the default: the sender joins the CPU of the server's receiver
thread) and ``unpinned`` (``--no-affinity`` on both sides).

Usage: scripts/bench.py [--repeats N] [--sizes 1K,10K,100K] [--json FILE] [--quick]
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "scripts"))

from pingpong import ping_pong  # noqa: E402

from sigchat import procfs  # noqa: E402
from sigchat.signals import block_signals, unblock_signals  # noqa: E402

BIN = Path(sys.executable).parent
STATS = re.compile(r"([\d.]+) s, ([\d,]+) bits/s")


def parse_size(text: str) -> int:
    text = text.strip().upper()
    scale = {"K": 1000, "M": 1000_000}.get(text[-1], 1)
    return int(text.rstrip("KM")) * scale


def human(size: int) -> str:
    return f"{size // 1000} KB" if size >= 1000 else f"{size} B"


class Server:
    """A plain sigchat-server subprocess."""

    def __init__(self, *extra: str) -> None:
        self.process = subprocess.Popen(
            [str(BIN / "sigchat-server"), "--plain", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            preexec_fn=unblock_signals,
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


class TuiServer:
    """``sigchat-server`` with its Textual UI, on a pseudo-terminal (output drained)."""

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

    def _discard_output(self) -> None:
        try:
            while os.read(self.fd, 1 << 16):
                pass
        except OSError:
            pass

    def close(self) -> None:
        os.kill(self.pid, signal.SIGTERM)
        os.waitpid(self.pid, 0)


def send(pid: int, data: bytes, *extra: str) -> float:
    """Payload bits/s of one message, as the sender measured it."""
    result = subprocess.run(
        [str(BIN / "sigchat-send"), "-v", *extra, str(pid), "-"],
        input=data,
        capture_output=True,
        preexec_fn=unblock_signals,
        timeout=600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"sigchat-send failed ({result.returncode}): {result.stderr.decode().strip()}")
    match = STATS.search(result.stderr.decode())
    return float(match.group(2).replace(",", ""))


def send_concurrently(pid: int, data: bytes, count: int) -> float:
    """Aggregate payload bits/s of ``count`` senders started at once (wall clock)."""
    start = time.perf_counter()
    processes = [
        subprocess.Popen(
            [str(BIN / "sigchat-send"), str(pid), "-"],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=unblock_signals,
        )
        for _ in range(count)
    ]
    for process in processes:
        process.stdin.write(data)
        process.stdin.close()
    for process in processes:
        if process.wait(600) != 0:
            raise RuntimeError(f"a concurrent sender failed: {process.stderr.read().decode().strip()}")
    return 8 * len(data) * count / (time.perf_counter() - start)


def startup_ratio(pid: int, runs: int = 10) -> float:
    """Whole-process time of ``sigchat-send PID hi`` over ``python3 -c pass``."""

    def timed(argv: list[str]) -> float:
        best = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run(argv, check=True, preexec_fn=unblock_signals, capture_output=True)
            best.append(time.perf_counter() - start)
        return statistics.median(best)

    python = timed([sys.executable, "-c", "pass"])
    sender = timed([str(BIN / "sigchat-send"), str(pid), "hi"])
    return sender / python


@dataclass
class Row:
    name: str
    unit: str
    samples: list[float] = field(default_factory=list)
    baseline: str | None = None

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
    return f"{os.cpu_count()} CPUs ({cpu}), Linux {platform.release()}, Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> int:
    # First, before any thread exists: the ping-pong partner signals this process,
    # and a thread with SIGUSR1 unblocked would take it and die of it.
    block_signals()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", default="1K,10K,100K")
    parser.add_argument("--unpinned-sizes", default="1K,10K", help="sizes for the (slow) unpinned rows")
    parser.add_argument("--concurrent", type=int, default=8, help="senders in the concurrency row (0: skip)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--quick", action="store_true", help="1 repeat, 1K and 10K only")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.sizes, args.unpinned_sizes = 1, "1K,10K", "1K"
    sizes = [parse_size(s) for s in args.sizes.split(",") if s]
    if 10_000 not in sizes:
        sizes.append(10_000)  # the baseline of the UI row
    unpinned_sizes = [parse_size(s) for s in args.unpinned_sizes.split(",") if s]
    payloads = {size: os.urandom(size) for size in {*sizes, *unpinned_sizes}}

    rows: dict[str, Row] = {
        "pingpong-same": Row("raw Python ping-pong, same CPU", "round trips/s"),
        "pingpong-cross": Row("raw Python ping-pong, unpinned", "round trips/s"),
    }
    for size in sizes:
        rows[f"pinned-{size}"] = Row(f"sigchat {human(size)}, pinned (default)", "payload bits/s", baseline="pingpong-same")
    for size in unpinned_sizes:
        rows[f"unpinned-{size}"] = Row(f"sigchat {human(size)}, unpinned", "payload bits/s", baseline="pingpong-cross")
    rows["ui-10000"] = Row("sigchat 10 KB, pinned, Textual UI running", "payload bits/s", baseline="pinned-10000")
    if args.concurrent:
        rows["concurrent"] = Row(f"sigchat {args.concurrent} senders x 10 KB at once, aggregate", "payload bits/s")
    rows["startup"] = Row("start-up: sigchat-send PID hi / python3 -c pass", "ratio")

    pinned_server = Server()
    unpinned_server = Server("--no-affinity")
    tui_server = TuiServer()
    try:
        for repeat in range(args.repeats):
            print(f"repeat {repeat + 1}/{args.repeats} ...", file=sys.stderr, flush=True)
            rows["pingpong-same"].samples.append(ping_pong(20_000, same_cpu=True))
            rows["pingpong-cross"].samples.append(ping_pong(20_000, same_cpu=False))
            for size in sizes:
                rows[f"pinned-{size}"].samples.append(send(pinned_server.pid, payloads[size]))
            for size in unpinned_sizes:
                rows[f"unpinned-{size}"].samples.append(send(unpinned_server.pid, payloads[size], "--no-affinity"))
            rows["ui-10000"].samples.append(send(tui_server.pid, payloads.get(10_000, os.urandom(10_000))))
            if args.concurrent:
                rows["concurrent"].samples.append(send_concurrently(pinned_server.pid, payloads.get(10_000, os.urandom(10_000)), args.concurrent))
            rows["startup"].samples.append(startup_ratio(pinned_server.pid))
    finally:
        pinned_server.close()
        unpinned_server.close()
        tui_server.close()

    print(f"\nsigchat bench, {time.strftime('%Y-%m-%d')}, {machine()}; medians of {args.repeats} run(s)\n")
    print(f"| {'measurement':<52} | {'median':>14} | {'unit':<15} | ratio to baseline |")
    print(f"|{'-' * 54}|{'-' * 16}|{'-' * 17}|-------------------|")
    results = []
    for key, row in rows.items():
        ratio = ""
        if row.baseline:
            ratio = f"{row.median / rows[row.baseline].median:.2f}x {rows[row.baseline].name.split(',')[-1].strip()}"
        value = f"{row.median:,.2f}" if row.unit == "ratio" else f"{row.median:,.0f}"
        print(f"| {row.name:<52} | {value:>14} | {row.unit:<15} | {ratio:<17} |")
        results.append({"key": key, "name": row.name, "unit": row.unit, "median": row.median, "samples": row.samples, "baseline": row.baseline})
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(), "repeats": args.repeats, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
