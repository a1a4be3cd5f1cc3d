"""What ``/proc`` tells about another process: alive?, name, and whether a signal would kill it.

A standard signal whose disposition is the default (terminate) kills the
target unless every thread of it has the signal blocked. ``/proc/PID/status``
shows the process-wide SigCgt (caught) and SigIgn (ignored) masks, and
``/proc/PID/task/TID/status`` each thread's SigBlk. One trap: a thread waiting
in ``sigtimedwait`` shows the awaited signals as *unblocked* for the duration
of the call, so such a thread counts as safe too (its ``syscall`` file names
the call).
"""

from __future__ import annotations

import os

from sigchat import SERVER_COMMAND
from sigchat.sigio.sigapi import signal, signal_name

# rt_sigtimedwait: the call Python's signal.sigtimedwait and sigwaitinfo use.
_SIGTIMEDWAIT_SYSCALL = {"x86_64": 128, "aarch64": 137}.get(os.uname().machine)
_SIGNAL_WAIT_SYSCALLS = {
    "x86_64": {b"128", b"130", b"34"},  # rt_sigtimedwait, rt_sigsuspend, pause
    "aarch64": {b"137", b"133"},  # rt_sigtimedwait, rt_sigsuspend (pause() is rt_sigsuspend there)
}.get(os.uname().machine)


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as file:
            return file.read()
    except OSError:
        return None


def state(pid: int) -> str | None:
    """The one-letter process state (``R``, ``S``, ``Z``...), or ``None`` if there is no such process."""
    stat = _read(f"/proc/{pid}/stat")
    if not stat:
        return None
    # The name is in parentheses and may contain spaces or parentheses.
    return stat[stat.rfind(")") + 2 : stat.rfind(")") + 3] or None


def parent_pid(pid: int) -> int | None:
    """The parent's pid (``/proc/PID/stat``), or ``None`` if there is no such process."""
    stat = _read(f"/proc/{pid}/stat")
    if not stat:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    return int(fields[1]) if len(fields) > 1 else None


def is_alive(pid: int) -> bool:
    """True when ``pid`` exists and has not exited (a zombie has exited)."""
    return state(pid) not in (None, "Z", "X")


def is_running(pid: int) -> bool:
    """True when ``pid`` is alive and not stopped (SIGSTOP or a tracer)."""
    return state(pid) not in (None, "Z", "X", "T", "t")


def comm(pid: int) -> str | None:
    """The process name (``/proc/PID/comm``), or ``None`` once it is gone."""
    name = _read(f"/proc/{pid}/comm")
    return name.rstrip("\n") if name is not None else None


def command_line(pid: int) -> list[str] | None:
    """The arguments ``pid`` was started with (``/proc/PID/cmdline``), or ``None`` once it is gone."""
    text = _read(f"/proc/{pid}/cmdline")
    return text.split("\0")[:-1] if text else None


_SERVER_MODULES = ("sigchat", "sigchat.__main__", "sigchat.serve")
_FLAGS_WITH_VALUE = ("-X", "-W")


def is_server_command(pid: int) -> bool:
    """Whether ``pid`` was started as a sigchat server (its name, or ``server_argv``); such a process may
    still be starting (no receiver thread yet)."""
    return comm(pid) == SERVER_COMMAND or server_argv(command_line(pid) or [])


def server_argv(argv: list[str]) -> bool:
    """Whether ``argv`` starts a sigchat server: ``sigchat-server ...`` (the console script, whatever runs it)
    or ``python [options] -m sigchat [server] ...``."""
    if not argv:
        return False
    if argv[0].rpartition("/")[2] == SERVER_COMMAND:
        return True
    rest = argv[1:]
    while rest and rest[0].startswith("-") and rest[0] != "-":  # the interpreter's options
        flag = rest.pop(0)
        if flag == "-m" or flag.startswith("-m") and not flag.startswith("--"):
            module = flag[2:] or (rest.pop(0) if rest else "")
            return module in _SERVER_MODULES and (module == "sigchat.serve" or not rest or rest[0] != "send")
        if flag in _FLAGS_WITH_VALUE and rest:
            rest.pop(0)
        elif flag == "-c" or flag.startswith("-c") and not flag.startswith("--"):
            return False
    return bool(rest) and rest[0].rpartition("/")[2] == SERVER_COMMAND


def _status_masks(text: str) -> dict[str, int]:
    masks = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("SigBlk", "SigIgn", "SigCgt", "Uid"):
            value = value.split()[0] if key == "Uid" else value.strip()
            masks[key] = int(value, 10 if key == "Uid" else 16)
    return masks


class Safety:
    """Whether sending ``signals`` to a process leaves it alive, and why."""

    __slots__ = ("safe", "reason")

    def __init__(self, safe: bool, reason: str) -> None:
        self.safe, self.reason = safe, reason

    def __repr__(self) -> str:
        return f"Safety(safe={self.safe!r}, reason={self.reason!r})"


def signal_safety(pid: int, signums: tuple[int, ...] = (signal.SIGUSR1, signal.SIGUSR2)) -> Safety | None:
    """Inspect ``pid``; ``None`` when the process does not exist (or exited)."""
    if not is_alive(pid):
        return None
    status = _read(f"/proc/{pid}/status")
    if status is None:
        return None
    process = _status_masks(status)
    bits = [1 << (signum - 1) for signum in signums]
    unsafe = []
    for signum, bit in zip(signums, bits):
        if process.get("SigCgt", 0) & bit or process.get("SigIgn", 0) & bit:
            continue
        if not _blocked_in_every_thread(pid, bit):
            unsafe.append(signal_name(signum))
    if unsafe:
        return Safety(False, f"{' and '.join(unsafe)} would kill it (neither blocked, caught nor ignored)")
    return Safety(True, "the signals are blocked, caught or ignored")


def catches(pid: int, signum: int) -> bool:
    """Whether ``pid`` has a handler for ``signum`` (SigCgt): it survives the signal, but a handler that is not
    sigchat's reacts to it (an interactive shell, for one, catches SIGUSR1)."""
    status = _read(f"/proc/{pid}/status")
    return status is not None and bool(_status_masks(status).get("SigCgt", 0) & 1 << (signum - 1))


def _blocked_in_every_thread(pid: int, bit: int) -> bool:
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    for tid in tasks:
        text = _read(f"/proc/{pid}/task/{tid}/status")
        if text is None:
            continue  # the thread exited meanwhile
        if _status_masks(text).get("SigBlk", 0) & bit:
            continue
        syscall = _read(f"/proc/{pid}/task/{tid}/syscall")
        if syscall and _SIGTIMEDWAIT_SYSCALL is not None and syscall.split()[0] == str(_SIGTIMEDWAIT_SYSCALL):
            continue
        return False
    return True


RECEIVER_THREAD_NAME = "sigchat-recv"
"""The OS-level name (``comm``) the server's receiver thread gives itself."""


def name_this_thread(name: str) -> None:
    """Set the calling thread's ``comm`` (visible in /proc, ps and top)."""
    try:
        import threading  # not at the top: a plain sender loads this module (the start-up rule, ``sigchat.send``)

        with open(f"/proc/self/task/{threading.get_native_id()}/comm", "w") as file:
            file.write(name[:15])
    except OSError:
        pass


def receiver_tid(pid: int) -> int | None:
    """The thread id of sigchat server ``pid``'s receiver thread, if it can be found."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for tid in tasks:
        if (_read(f"/proc/{pid}/task/{tid}/comm") or "").strip() == RECEIVER_THREAD_NAME:
            return int(tid)
    return None


def receiver_cpus(pid: int) -> set[int] | None:
    """The CPUs the receiver thread of sigchat server ``pid`` may run on, if it can be found."""
    tid = receiver_tid(pid)
    if tid is None:
        return None
    try:
        return os.sched_getaffinity(tid)
    except OSError:
        return None


def signal_in_flight(pid: int, tid: int, signum: int) -> bool | None:
    """Whether a signal ``signum`` sent to ``pid`` may still be unprocessed.

    True while the signal is pending (``ShdPnd``) or the receiver thread ``tid``
    is not idle in ``rt_sigtimedwait`` (it may be handling it right now). False
    means: not pending and the receiver is waiting for the next signal, so any
    reply it made is already pending at the sender, and a signal without a reply
    was lost. ``None``: cannot tell (no such thread, or /proc not readable).
    """
    status = _read(f"/proc/{pid}/status")
    syscall = _read(f"/proc/{pid}/task/{tid}/syscall")
    if status is None or not syscall or _SIGTIMEDWAIT_SYSCALL is None:
        return None
    for line in status.splitlines():
        if line.startswith("ShdPnd:"):
            if int(line.split()[1], 16) & (1 << (signum - 1)):
                return True
            break
    else:
        return None
    return syscall.split()[0] != str(_SIGTIMEDWAIT_SYSCALL)


def may_have_missed(pid: int, signum: int) -> bool:
    """Whether ``pid`` may have missed a ``signum`` that was sent to it: it sleeps, ``signum`` is
    neither pending nor blocked there, and it is single-threaded (one mask to read).

    A client that blocks the signal outside its wait (``sigsuspend``) cannot miss it: it stays
    pending until the client waits; one that leaves it unblocked handles it whenever it comes, also
    just before it goes to sleep to wait for it (``pause()``, ``sleep()``), and then sleeps on.
    """
    text = _read(f"/proc/{pid}/status")
    if not text:
        return False
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("State", "Threads", "SigPnd", "ShdPnd", "SigBlk"):
            fields[key] = value.strip()
    bit = 1 << (signum - 1)
    if not fields.get("State", "").startswith("S") or fields.get("Threads") != "1":
        return False
    return not any(int(fields.get(key, "0"), 16) & bit for key in ("SigPnd", "ShdPnd", "SigBlk"))


def in_signal_wait(pid: int) -> bool | None:
    """Whether single-threaded ``pid`` sits in a system call that waits for a signal
    (``sigtimedwait``, ``sigsuspend``, ``pause``); ``None``: cannot tell (``/proc/PID/syscall``
    not readable, e.g. another user's process, or an unknown machine)."""
    if _SIGNAL_WAIT_SYSCALLS is None:
        return None
    number = _syscall_number(pid)
    if not number or number == b"running":
        return False if number else None
    return number in _SIGNAL_WAIT_SYSCALLS


def running(pid: int) -> bool:
    """Whether ``pid`` is on a CPU or about to be, not asleep in a system call (``/proc/PID/syscall``
    says ``running``); ``False`` when that cannot be read."""
    return _syscall_number(pid) == b"running"


def _syscall_number(pid: int) -> bytes | None:
    """The system call ``pid`` sits in, as ``/proc/PID/syscall`` starts (``b"running"`` when it
    runs); ``None`` when that file cannot be read (another user's process, or a ptrace limit)."""
    try:
        fd = os.open(f"/proc/{pid}/syscall", os.O_RDONLY)
        try:
            words = os.read(fd, 64).split(None, 1)  # ("running\n": split at any whitespace)
            return words[0] if words else b""
        finally:
            os.close(fd)
    except OSError:
        return None


class PendingWatch:
    """Whether ``pid`` has yet to take a SIGUSR1/SIGUSR2 sent to it, read cheaply.

    Busy while one of them is pending there (``ShdPnd``), or blocked beyond how it was
    blocked when the watch was made (``SigBlk``): inside a handler for one of them (the
    kernel blocks the signal it handles, and often the other too). A signal sent then
    would merge with the pending one, or run a second handler in the middle of the
    first. And, for a server that sleeps between signals (``pause()``, ``usleep``), busy
    while it runs (``State: R``): the kernel takes the signal off ``ShdPnd`` before it
    writes the handler's frame and blocks the signal, and a signal of the other kind
    sent in that window ran first, inside the first handler (a ``signal()`` handler
    blocks only its own signal): two bits swapped, seen on a loaded machine with
    convention B's server. One file descriptor on ``/proc/PID/status``, read again from offset 0 each
    time (~5 µs, where opening the file each time costs ~20). Close it with ``close``.
    """

    _BITS = (1 << (signal.SIGUSR1 - 1)) | (1 << (signal.SIGUSR2 - 1))

    def __init__(self, pid: int) -> None:
        try:
            self._fd: int | None = os.open(f"/proc/{pid}/status", os.O_RDONLY)
        except OSError:
            self._fd = None
        fields = self._fields()
        self._blocked = fields[1] if fields is not None else self._BITS  # (unknown: never "busy" by SigBlk)
        # A server that runs at rest (a busy loop) cannot be told apart by its state: never "busy" by it.
        self._sleeps = fields is not None and not fields[2]

    def _fields(self) -> tuple[int, int, bool] | None:
        """``(ShdPnd, SigBlk)`` restricted to SIGUSR1/SIGUSR2 and whether it runs (``State: R``), or ``None``."""
        if self._fd is None:
            return None
        try:
            text = os.pread(self._fd, 8192, 0)
        except OSError:
            return None
        values = []
        for key in (b"ShdPnd:", b"SigBlk:"):
            at = text.find(key)
            if at < 0:
                return None
            values.append(int(text[at + len(key) : text.index(b"\n", at)], 16) & self._BITS)
        at = text.find(b"State:\t")
        return values[0], values[1], at >= 0 and text[at + 7 : at + 8] == b"R"

    def busy(self) -> bool | None:
        """True while the last signal is pending or being handled; ``None``: cannot tell."""
        fields = self._fields()
        if fields is None:
            return None
        pending, blocked, running = fields
        return bool(pending or blocked & ~self._blocked or (running and self._sleeps))

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def quick_signal_safety(pid: int, signum: int) -> Safety | None:
    """``signal_safety(pid, (signum,))`` in one or two reads for a one-thread process.

    The full check reads five files (~0.3 ms); a classic client that does not
    wait for acks sends a bit every ~0.2 ms, and the receiver thread must not
    fall behind at its first signal, or its bits coalesce or reorder.
    """
    try:
        fd = os.open(f"/proc/{pid}/status", os.O_RDONLY)
        try:
            text = os.read(fd, 16384)
        finally:
            os.close(fd)
    except OSError:
        return None
    fields: dict[bytes, bytes] = {}
    for line in text.split(b"\n"):
        key, _, value = line.partition(b":")
        if key in (b"State", b"Threads", b"SigBlk", b"SigIgn", b"SigCgt"):
            fields[key] = value.strip()
    if fields.get(b"State", b"X")[:1] in (b"Z", b"X"):
        return None
    bit = 1 << (signum - 1)
    if (int(fields.get(b"SigCgt", b"0"), 16) | int(fields.get(b"SigIgn", b"0"), 16)) & bit:
        return Safety(True, "the signal is caught or ignored")
    if fields.get(b"Threads") != b"1":
        return signal_safety(pid, (signum,))
    if int(fields.get(b"SigBlk", b"0"), 16) & bit:
        return Safety(True, "the signal is blocked")
    waiting = _SIGTIMEDWAIT_SYSCALL
    syscall = _syscall_number(pid) or b""
    if waiting is not None and syscall == str(waiting).encode():
        return Safety(True, "it waits for the signal in sigtimedwait")
    name = signal_name(signum)
    return Safety(False, f"{name} would kill it (neither blocked, caught nor ignored)")
