"""Send random SIGUSR1/SIGUSR2 to one process, at a bounded rate, for a bounded time.

Usage: ``spoofer.py TARGET --rate HZ --duration SECONDS --seed N``

A stand-in for a hostile or confused third process: it signals with plain
``kill()``, so the kernel stamps every signal with this process's real pid and
uid. It blocks SIGUSR1/SIGUSR2 itself (a server that mistakes it for a sender
may answer it, and must not kill it) and throws the answers away. It stops
early when the target exits. Prints a JSON line ``{"pid", "started": true}`` when it
starts and one ``{"pid", "sent", "answers"}`` at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import time

SIGNALS = (signal.SIGUSR1, signal.SIGUSR2)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("target", type=int)
    parser.add_argument("--rate", type=float, default=1000.0, help="signals per second (at most)")
    parser.add_argument("--duration", type=float, default=1.0, help="seconds")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.target <= 1 or args.target in (os.getpid(), os.getppid()):
        print(f"spoofer: refusing to signal {args.target}", file=sys.stderr)
        return 2
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    rng = random.Random(args.seed)
    period = 1.0 / args.rate
    sent = answers = 0
    print(json.dumps({"pid": os.getpid(), "started": True}), flush=True)
    start = time.monotonic()
    next_at = start
    while True:
        now = time.monotonic()
        if now - start >= args.duration:
            break
        if now < next_at:
            time.sleep(next_at - now)
        next_at += period
        try:
            os.kill(args.target, rng.choice(SIGNALS))
        except ProcessLookupError:
            break
        sent += 1
        while signal.sigtimedwait(SIGNALS, 0) is not None:
            answers += 1
    print(json.dumps({"pid": os.getpid(), "sent": sent, "answers": answers}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
