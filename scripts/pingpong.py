"""Raw signal ping-pong between two processes: the baseline sigchat is measured against.

No protocol: the child answers every SIGUSR1 with a SIGUSR1 (sigtimedwait on
both sides). The child starts a session of its own, as a server started from
its own terminal has: the kernel then schedules the two processes in different
groups (autogroup), which costs ~5 % here compared with one session.
Prints round trips per second. Usage: pingpong.py [ROUNDS] [--same-cpu | --cross-cpu]

``word_ping_pong`` is the same with turbo words (``--words 1|2|3``, on one CPU), through
ctypes as sigchat does it: each round trip carries 1, 2 or 3 ``sigqueue`` values,
the child waits for the last one alone, takes the others without waiting and answers
once. The third word goes to the child's thread (``rt_tgsigqueueinfo``), whose own
pending set holds a SIGUSR1 beside the process's (scripts/c/pingpong.c, ``triple``).
So it measures what Python itself can reach with one, two or three words per round trip.
"""

from __future__ import annotations

import ctypes
import os
import signal
import struct
import sys
import time

SIGNALS = {signal.SIGUSR1}
RT_TGSIGQUEUEINFO = {"x86_64": 297, "aarch64": 240, "riscv64": 240, "loongarch64": 240}
"""``rt_tgsigqueueinfo(2)``'s system call number by ``os.uname().machine`` (no libc wrapper sends to another process's thread)."""
SI_QUEUE = -1


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


def word_ping_pong(rounds: int, words: int) -> float:
    """Round trips per second with ``words`` (1-3) turbo words per round trip, both processes on the highest CPU."""
    if words == 3 and os.uname().machine not in RT_TGSIGQUEUEINFO:
        raise RuntimeError(f"no rt_tgsigqueueinfo number for {os.uname().machine}")
    usr1, usr2 = signal.SIGUSR1, signal.SIGUSR2
    signal.pthread_sigmask(signal.SIG_BLOCK, {usr1, usr2})
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {max(allowed)})
    libc, keep_gil = ctypes.CDLL(None), ctypes.PyDLL(None)  # PyDLL: calls that never block keep the GIL

    def sigset(*signals: int) -> ctypes.Array:
        buffer = ctypes.create_string_buffer(128)
        libc.sigemptyset(buffer)
        for signum in signals:
            libc.sigaddset(buffer, int(signum))
        return buffer

    class Timespec(ctypes.Structure):
        _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]

    info, five, none = ctypes.create_string_buffer(128), Timespec(5, 0), Timespec(0, 0)
    value_of = struct.Struct("=24xQ").unpack_from
    try:
        parent, child = os.getpid(), os.fork()
        if child == 0:
            try:
                os.setsid()
                wake, every = sigset(usr2 if words > 1 else usr1), sigset(usr1, usr2)
                wait, take, kill = libc.sigtimedwait, keep_gil.sigtimedwait, os.kill
                total = 0
                for _ in range(rounds):
                    if wait(wake, info, ctypes.byref(five)) < 0:
                        os._exit(1)
                    total += value_of(info)[0]
                    for _ in range(words - 1):
                        if take(every, info, ctypes.byref(none)) < 0:
                            os._exit(2)  # a word did not wait for the one that woke the child
                        total += value_of(info)[0]
                    kill(parent, usr1)
                sent = rounds * words
                os._exit(0 if total == sent * (sent + 1) // 2 else 3)
            finally:
                os._exit(4)
        sigqueue = keep_gil.sigqueue
        sigqueue.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_uint64]
        to_thread, number = keep_gil.syscall, RT_TGSIGQUEUEINFO.get(os.uname().machine)
        thread_infos = {}
        for signum in (usr1, usr2):  # a siginfo_t as glibc's sigqueue fills it in, for rt_tgsigqueueinfo
            thread_infos[signum] = ctypes.create_string_buffer(128)
            struct.pack_into("=iii4xII", thread_infos[signum], 0, signum, 0, SI_QUEUE, parent, os.getuid())

        def queue_to_thread(signum: int, value: int) -> None:
            struct.pack_into("=Q", thread_infos[signum], 24, value)
            if to_thread(number, child, child, signum, ctypes.byref(thread_infos[signum])) < 0:
                raise RuntimeError("rt_tgsigqueueinfo failed")

        wait, reply = libc.sigtimedwait, sigset(usr1)
        value = 1
        start = time.perf_counter()
        for _ in range(rounds):
            if words == 3:  # the thread's SIGUSR1 slot, the process's, then the thread's SIGUSR2: it wakes the child
                queue_to_thread(usr1, value)
                sigqueue(child, usr1, value + 1)
                queue_to_thread(usr2, value + 2)
            elif words == 2:
                sigqueue(child, usr1, value)
                sigqueue(child, usr2, value + 1)
            else:
                sigqueue(child, usr1, value)
            value += words
            if wait(reply, info, ctypes.byref(five)) < 0:
                raise RuntimeError("the ping-pong partner stopped answering")
        elapsed = time.perf_counter() - start
        _, status = os.waitpid(child, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"the ping-pong partner failed ({os.waitstatus_to_exitcode(status)})")
        return rounds / elapsed
    finally:
        os.sched_setaffinity(0, allowed)


if __name__ == "__main__":
    rounds = int(next((a for a in sys.argv[1:] if a.isdigit()), "20000"))
    if "--words" in sys.argv:
        words = int(sys.argv[sys.argv.index("--words") + 1])
        print(f"{word_ping_pong(rounds, words):.0f} round trips/s, {words} word(s) each")
    else:
        print(f"{ping_pong(rounds, '--same-cpu' in sys.argv, '--cross-cpu' in sys.argv):.0f} round trips/s")
