#!/usr/bin/env python3
"""Measure how often an unacked, usleep-paced classic client reaches sigchat-server intact.

Compiles tests/peers/minitalk_client.c with -DNO_ACK -DPACE_US=N (no signal
handler: the server must not ack it), starts ``sigchat-server --plain --json``
(extra server options after ``--``), sends RUNS messages, one client process
each, and counts the ones delivered byte for byte. Standalone: only the
standard library, gcc and the sigchat-server executable are used.

    python tests/peers/measure_unacked.py [--runs 20] [--pace-us 100] [--length 1000] [-- --no-affinity]

``--fifo PRIO`` runs the server with the real-time policy SCHED_FIFO (needs
CAP_SYS_NICE or an RLIMIT_RTPRIO): it shows how much of the loss is the
scheduler not running the receiver in time.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def unblocked() -> None:
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--pace-us", type=int, default=100)
    parser.add_argument("--length", type=int, default=1000)
    parser.add_argument("--fifo", type=int, metavar="PRIO", help="run the server with SCHED_FIFO at this priority")
    parser.add_argument("--server", default=shutil.which("sigchat-server") or os.path.join(os.path.dirname(sys.executable), "sigchat-server"))
    parser.add_argument("server_args", nargs="*")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="sigchat-measure-")
    client = os.path.join(workdir, "client")
    subprocess.run(
        ["gcc", "-O2", "-DNO_ACK", f"-DPACE_US={args.pace_us}", "-o", client, os.path.join(HERE, "minitalk_client.c")],
        check=True,
    )
    def server_setup() -> None:
        unblocked()
        if args.fifo is not None:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(args.fifo))

    server = subprocess.Popen(
        [args.server, "--plain", "--json", *args.server_args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        preexec_fn=server_setup,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line.decode()) for line in server.stdout], daemon=True).start()
    try:
        first = lines.get(timeout=10)
        server_pid = json.loads(first)["pid"]  # the "listening" record
        pattern = "The quick brown fox jumps over the lazy dog 0123456789. "
        message = (pattern * (args.length // len(pattern) + 1))[: args.length]
        intact = 0
        started = time.monotonic()
        for run in range(args.runs):
            child = subprocess.run([client, str(server_pid), message], preexec_fn=unblocked, timeout=60)
            record = None
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                try:
                    candidate = json.loads(lines.get(timeout=max(0.01, deadline - time.monotonic())))
                except queue.Empty:
                    break
                if candidate.get("event") == "delivered":
                    record = candidate
                    break
            ok = child.returncode == 0 and record is not None and record.get("text") == message
            intact += ok
            print(f"run {run + 1}: {'intact' if ok else 'DAMAGED'}", flush=True)
        elapsed = time.monotonic() - started
        load = os.getloadavg()[0]
        policy = f", server SCHED_FIFO {args.fifo}" if args.fifo is not None else ""
        print(
            f"{intact}/{args.runs} intact ({100 * intact / args.runs:.0f} %), {args.length} bytes each, "
            f"usleep({args.pace_us}) per bit{policy}, {elapsed:.1f} s, load average {load:.2f}, {os.cpu_count()} CPUs"
        )
        return 0 if intact == args.runs else 1
    finally:
        server.terminate()
        server.wait(timeout=5)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
