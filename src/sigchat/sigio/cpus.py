"""Which CPU each thread runs on.

A round trip costs ~6 us when both ends share a CPU and ~40-50 us when the
kernel has to wake another CPU (docs/PROTOCOL.md, "Speed"). The server pins its
receiver thread so that senders know which CPU to join.
"""

from __future__ import annotations

import os

from sigchat.sigio import procfs


def pin_to_one_cpu() -> int | None:
    """Pin the calling thread to the last CPU it may use; return it."""
    try:
        cpu = max(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return cpu
    except OSError:
        return None


def place_other_threads(cpus: set[int], receiver_tid: int) -> None:
    """Let this process's threads other than the receiver thread run on ``cpus``.

    The Textual app's threads take turns with the receiver thread at the GIL.
    On another CPU, every hand-off wakes that CPU: with the app on the other
    CPU a 1-bit transfer ran at ~0.90x plain mode, on the receiver's CPU at
    ~0.95-1.0x (issue #6). Threads started later inherit their creator's CPUs.
    """
    for tid in os.listdir("/proc/self/task"):
        if int(tid) != receiver_tid:
            try:
                os.sched_setaffinity(int(tid), cpus)
            except OSError:  # (it exited meanwhile)
                pass


def join_receiver_cpu(pid: int) -> set[int] | None:
    """Run this (sending) thread on the CPU of server ``pid``'s receiver thread, if pinned."""
    cpus = procfs.receiver_cpus(pid)
    if not cpus or len(cpus) != 1 or not cpus <= os.sched_getaffinity(0):
        return None
    try:
        os.sched_setaffinity(0, cpus)
    except OSError:
        return None
    return cpus


def last_cpu(pid: int) -> int | None:
    """The CPU ``pid`` ran on last (``/proc/PID/stat``, field 39), or ``None``."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as file:
            fields = file.read().rsplit(")", 1)[1].split()
        return int(fields[36])
    except (OSError, IndexError, ValueError):
        return None
