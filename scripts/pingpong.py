"""Raw signal ping-pong between two processes: the baseline sigchat is measured against.

No protocol: the child answers every SIGUSR1 with a SIGUSR1 (sigtimedwait on
both sides). The child starts a session of its own, as a server started from
its own terminal has: the kernel then schedules the two processes in different
groups (autogroup), which costs ~5 % here compared with one session.
Prints round trips per second. Usage: pingpong.py [ROUNDS] [--same-cpu | --cross-cpu]
"""

from __future__ import annotations

import os
import signal
import sys
import time

SIGNALS = {signal.SIGUSR1}


def ping_pong(rounds: int, same_cpu: bool = False, cross_cpu: bool = False) -> float:
    """Round trips per second over ``rounds`` round trips.

    ``same_cpu``: both processes on the highest CPU (where sigchat-server pins
    its receiver thread, and the C ping-pongs of ``make bench`` run);
    ``cross_cpu``: the parent on the lowest, the child on the highest; neither:
    left to the scheduler.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    parent = os.getpid()
    allowed = os.sched_getaffinity(0)
    if same_cpu or cross_cpu:
        os.sched_setaffinity(0, {max(allowed) if same_cpu else min(allowed)})
    try:
        return _measure(parent, rounds, {max(allowed)} if cross_cpu else None)
    finally:
        os.sched_setaffinity(0, allowed)


def _measure(parent: int, rounds: int, child_cpus: set[int] | None = None) -> float:
    child = os.fork()
    if child == 0:
        try:
            os.setsid()
            if child_cpus:
                os.sched_setaffinity(0, child_cpus)
            wait, kill = signal.sigtimedwait, os.kill
            for _ in range(rounds):
                if wait(SIGNALS, 5) is None:
                    break
                kill(parent, signal.SIGUSR1)
        finally:
            os._exit(0)
    wait, kill = signal.sigtimedwait, os.kill
    start = time.perf_counter()
    for _ in range(rounds):
        kill(child, signal.SIGUSR1)
        if wait(SIGNALS, 5) is None:
            raise RuntimeError("the ping-pong partner stopped answering")
    elapsed = time.perf_counter() - start
    os.waitpid(child, 0)
    return rounds / elapsed


if __name__ == "__main__":
    rounds = int(next((a for a in sys.argv[1:] if a.isdigit()), "20000"))
    print(f"{ping_pong(rounds, '--same-cpu' in sys.argv, '--cross-cpu' in sys.argv):.0f} round trips/s")
