"""The one place that touches signals: masks, the receiver thread, sending.

Invariants:

* ``block_signals()`` runs first thing in every ``main()``, before any thread
  exists, so SIGUSR1/SIGUSR2 stay pending until ``sigtimedwait`` takes them and
  never land on another thread (Textual's input thread would die of them). It
  also installs a no-op handler, which never runs while the signals are
  blocked but shows this process as "caught" in ``/proc`` and is a safety net.
* Data is only ever read with ``sigtimedwait``, which gives the sender's pid;
  a signal from any pid but the peer's is ignored.
* A blocked mask is inherited by children: spawn with ``preexec_fn=unblock_signals``.
* The server never replies to a process that the reply would kill.
* Turbo words (protocol rule 7) are sent with ``sigqueue(3)`` and read with
  libc's ``sigtimedwait`` through ctypes (``Words``), because Python's
  ``signal`` module neither sends nor returns ``si_value``. A signal whose
  ``si_code`` is SI_QUEUE is only ever passed to ``Server.receive_word``,
  which takes it only from the session's pid and with the session's tag.
"""

from __future__ import annotations

import errno
import os
import sys
import time

from sigchat import procfs, protocol
from sigchat.sigapi import signal, signal_name

TYPE_CHECKING = False  # typing's constant without importing typing (start-up)
if TYPE_CHECKING:
    from collections.abc import Callable

# Imported where needed, not here: ``threading`` (the receiver) and
# ``sigchat.classic`` cost a 1-bit ``sigchat-send`` start-up time (issue #6).

SIGNALS = frozenset({signal.SIGUSR1, signal.SIGUSR2})
SIGNAL_OF_SYMBOL = (signal.SIGUSR1, signal.SIGUSR2)
SYMBOL_OF_SIGNAL = {signal.SIGUSR1: protocol.ZERO, signal.SIGUSR2: protocol.ONE}
SIGNAL_NAMES = {protocol.ZERO: "USR1", protocol.ONE: "USR2"}
KERNEL_FILLED = frozenset({0, -6})
"""``si_code`` values whose ``si_pid``/``si_uid`` the kernel filled in: SI_USER
(kill) and SI_TKILL (tgkill). With ``rt_sigqueueinfo`` (SI_QUEUE and others) a
process can claim any pid and uid, so such signals are ignored, except turbo
words (see ``Words``)."""
SI_QUEUE = -1


def _ignore_signal(signum: int, frame: object) -> None:
    """Never runs while the signals are blocked; see the module docstring."""


def block_signals() -> None:
    """Block SIGUSR1/SIGUSR2 in this thread (and every thread started after)."""
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    for signum in SIGNALS:
        signal.signal(signum, _ignore_signal)


def unblock_signals() -> None:
    """Give a child process an empty mask (use as ``preexec_fn``)."""
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def _discard_pending() -> None:
    while signal.sigtimedwait(SIGNALS, 0) is not None:
        pass


# --------------------------------------------------------------------------- CPU placement


def pin_to_one_cpu() -> int | None:
    """Pin the calling thread to the last CPU it may use; return it.

    A round trip costs ~6 us when both ends share a CPU and ~40-50 us when the
    kernel has to wake another CPU (docs/PROTOCOL.md, "Speed"). The server pins
    its receiver thread so that senders know which CPU to join.
    """
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


# --------------------------------------------------------------------------- turbo words


def turbo_unsupported() -> str | None:
    """Why this process cannot send or read turbo words, or ``None`` when it can."""
    if not sys.platform.startswith("linux"):
        return "turbo words need Linux"
    if sys.maxsize <= 2**32 or os.uname().machine.startswith("mips"):
        return "turbo words need a 64-bit Linux with the common siginfo layout"
    return None


class Words:
    """``sigqueue(3)`` and a ``sigtimedwait`` that returns ``si_value``, through ctypes.

    ``siginfo_t`` on 64-bit Linux: ``si_signo``, ``si_errno``, ``si_code`` (ints
    at 0, 4, 8), then the union at 16: ``si_pid`` at 16, ``si_uid`` at 20,
    ``si_value`` at 24. ctypes is imported here only, so a 1-bit sender does not
    pay for it at start-up. Raises ``OSError`` when libc lacks the functions.
    """

    def __init__(self) -> None:
        import ctypes
        import struct

        libc = ctypes.CDLL(None, use_errno=True)  # calls release the GIL
        self._sigqueue = libc.sigqueue
        self._sigqueue.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_uint64]  # union sigval: one register
        self._sigtimedwait = libc.sigtimedwait
        self._sigtimedwait.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]

        class Timespec(ctypes.Structure):
            _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]

        self._sigset = ctypes.create_string_buffer(128)
        libc.sigemptyset(self._sigset)
        for signum in SIGNALS:
            libc.sigaddset(self._sigset, int(signum))
        self._info = ctypes.create_string_buffer(128)
        self._timespec = Timespec(0, 0)
        self._pointers = (ctypes.addressof(self._sigset), ctypes.addressof(self._info), ctypes.addressof(self._timespec))
        self._unpack = struct.Struct("=iii4xIIQ").unpack_from
        self._errno = ctypes.get_errno

    def send(self, pid: int, signum: int, value: int) -> None:
        """Queue ``signum`` with ``si_value = value`` (a standard signal still does not queue)."""
        if self._sigqueue(pid, signum, value) < 0:
            error = self._errno()
            if error == errno.EAGAIN:
                return  # the queue limit: counts as a lost signal, resent after the timeout
            raise OSError(error, os.strerror(error))

    def wait(self, timeout: float) -> tuple[int, int, int, int, int] | None:
        """``(signo, code, pid, uid, value)`` of the next SIGUSR1/SIGUSR2, or ``None``."""
        timespec = self._timespec
        seconds = int(timeout)
        timespec.tv_sec = seconds
        timespec.tv_nsec = int((timeout - seconds) * 1e9)
        if self._sigtimedwait(*self._pointers) < 0:
            return None  # timeout (EAGAIN) or EINTR: the caller polls again
        signo, _, code, pid, uid, value = self._unpack(self._info)
        return signo, code, pid, uid, value


def open_words() -> tuple[Words | None, str | None]:
    """``Words`` for this process, or ``None`` and why turbo words cannot be used here."""
    unsupported = turbo_unsupported()
    if unsupported is not None:
        return None, unsupported
    try:
        return Words(), None
    except (ImportError, OSError, AttributeError) as error:  # e.g. ctypes unreadable after a uid change
        return None, f"no sigqueue here ({error})"


# --------------------------------------------------------------------------- receiving

QUEUE_CHECK_INTERVAL = 0.5
"""Seconds between checks that queued senders still exist."""


class ReceiverCounters(protocol.Record):
    """Signals the receiver dropped before the protocol saw them, and replies it refused to send."""

    __slots__ = ("foreign_uid", "refused_unsafe")

    def __init__(self) -> None:
        self.foreign_uid = self.refused_unsafe = 0


class Receiver:
    """Runs a ``protocol.Server`` on real signals, in a thread of its own.

    ``on_event`` is called in the receiver thread for every protocol event, and
    before the reply that follows it (so a durable log is written before the
    "intact" verdict). ``on_progress`` gets ``Server.progress()`` at most every
    ``progress_interval`` seconds while a transfer runs. ``on_refused(pid,
    reason)`` reports a sender the server will not answer. ``on_note(text)``
    gets a one-line note for the operator (turbo words unavailable here). The
    callbacks must be quick and must not raise; if anything raises, the thread
    stops and ``error`` holds the exception.

    ``pin_cpu``: the thread pins itself to the last CPU it may use (senders
    join it there). ``gather``: the process's other threads follow it (the
    Textual app's; they share the GIL with it), pinned or not.
    """

    def __init__(
        self,
        server: protocol.Server,
        on_event: Callable[[protocol.ServerEvent], None],
        *,
        on_progress: Callable[[tuple], None] | None = None,
        on_refused: Callable[[int, str], None] | None = None,
        on_note: Callable[[str], None] | None = None,
        allowed_uids: frozenset[int] | None = None,
        clock: Callable[[], float] = time.monotonic,
        poll_interval: float = 0.05,
        progress_interval: float = 0.1,
        pin_cpu: bool = True,
        gather: bool = False,
    ) -> None:
        self.server = server
        self.pin_cpu = pin_cpu
        self.gather = gather
        self.on_event = on_event
        self.on_progress = on_progress
        self.on_refused = on_refused
        self.on_note = on_note
        self.allowed_uids = allowed_uids if allowed_uids is not None else frozenset({os.getuid(), 0})
        self.clock = clock
        self.poll_interval = poll_interval
        self.progress_interval = progress_interval
        self.counters = ReceiverCounters()
        self.error: BaseException | None = None
        import threading

        self.stop_event = threading.Event()
        self._stopping = False  # set with stop_event by stop(): cheaper to test per signal than Event.is_set()
        self._thread: threading.Thread | None = None
        self._safe_pids: set[int] = set()
        self._next_queue_check = 0.0
        # Classic clients: checked per signal, since one may catch SIGUSR2 (an end
        # ack) and not SIGUSR1; a refusal is reported once its message has ended.
        self._classic_checked: dict[tuple[int, int], bool] = {}
        self._classic_refusals: dict[int, str] = {}
        # Classic replies whose /proc check is still to do, as (pid, symbol, since):
        # done UNCHECKED_GRACE after the first of them (the client waits for us); a
        # client that sends again within DOES_NOT_WAIT does not wait for replies and
        # gets none, unchecked (a check costs 0.1-0.3 ms, a paced client's bit period).
        self._unchecked: list[tuple[int, int, float]] = []
        self._unchecked_pids: set[int] = set()
        self._pinned: int | None = None  # the CPU the thread pinned itself to
        self._tid: int | None = None  # its thread id, once it gathered the others
        self._all_cpus: set[int] = set()
        self._wide = False  # unpinned while a classic client streams
        self._words: Words | None = None  # reads si_value during turbo sessions

    # ------------------------------------------------------------------ thread control
    def start(self) -> threading.Thread:  # noqa: F821
        import threading

        self._thread = threading.Thread(target=self.run, name="sigchat-receiver", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float = 1.0) -> None:
        self._stopping = True
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run(self) -> None:
        try:
            procfs.name_this_thread(procfs.RECEIVER_THREAD_NAME)
            if self.pin_cpu:
                self._all_cpus = os.sched_getaffinity(0)
                self._pinned = pin_to_one_cpu()
                if self._pinned is not None and self.gather:
                    import threading

                    self._tid = threading.get_native_id()
                    place_other_threads({self._pinned}, self._tid)
            if self.server.classic is not None:
                self._warm_up()
            if self.server.turbo:
                self._words, unavailable = open_words()
                self.server.turbo = self._words is not None  # else 1-bit only: the fallback
                if unavailable is not None and self.on_note is not None:
                    self.on_note(f"turbo words unavailable ({unavailable}): --turbo senders send 1 bit per signal")
            self._loop()
        except BaseException as error:  # reported by the owner, which then exits non-zero
            self.error = error

    # ------------------------------------------------------------------ the loop
    def _loop(self) -> None:
        server = self.server
        wait = signal.sigtimedwait
        signals = SIGNALS
        clock = self.clock
        stop = self.stop_event
        allowed = self.allowed_uids
        poll = self.poll_interval
        usr1 = signal.SIGUSR1
        next_tick = clock()
        next_progress = next_tick
        follow = self._pinned is not None and server.classic is not None and len(self._all_cpus) > 1
        words = self._words
        safe = self._safe_pids  # (updated in place, never replaced)
        kill = os.kill
        signal_of = SIGNAL_OF_SYMBOL
        # Per signal, this loop costs about as much Python as the whole raw ping-pong
        # partner does: keep it lean (see issue #6's notes before adding to it).
        pending = None  # a signal that ended a bit run, still to handle
        while not self._stopping:
            unchecked = self._unchecked
            timeout = max(0.0, unchecked[0][2] + UNCHECKED_GRACE - clock()) if unchecked else poll
            value = None
            if pending is not None:
                got, pending = pending, None
                signo, code, pid, uid = got.si_signo, got.si_code, got.si_pid, got.si_uid
            elif words is not None and server.turbo_session:
                got = words.wait(timeout)
                if got is not None:
                    signo, code, pid, uid, value = got
            else:
                got = wait(signals, timeout)
                if got is not None:
                    signo, code, pid, uid = got.si_signo, got.si_code, got.si_pid, got.si_uid
            now = clock()
            if got is not None:
                if uid not in allowed:
                    self.counters.foreign_uid += 1
                    continue
                if code not in KERNEL_FILLED:
                    if code != SI_QUEUE or value is None:
                        self.counters.foreign_uid += 1
                        continue
                    reply = server.receive_word(pid, value, now)  # checks pid and tag
                else:
                    if pid in self._unchecked_pids:
                        self._does_not_wait(pid, now)
                    reply = server.receive(pid, 0 if signo == usr1 else 1, now)
                if follow and (server.classic.holder is not None) is not self._wide:
                    self._follow_classic_line()
                if server.events:
                    self._dispatch()
                if reply is not None:
                    if pid in safe:  # the common case of _reply
                        try:
                            kill(pid, signal_of[reply])
                        except OSError as error:
                            self._kill_failed(pid, error, now)
                    else:
                        self._reply(pid, reply, now)
                if server.outbox:
                    self._flush_outbox(now)
                if reply is not None and not unchecked:
                    run = server.bit_run()
                    if run is not None and run[0] in safe:
                        until = next_tick if self.on_progress is None else min(next_tick, next_progress)
                        pending, now = self._exchange_run(*run, until)
            if self._unchecked and now >= self._unchecked[0][2] + UNCHECKED_GRACE:
                self._check_unchecked(now)
            if now >= next_tick:
                if stop.is_set():  # set directly rather than by stop()
                    break
                next_tick = now + poll
                self._tick(now)
            if self.on_progress is not None and now >= next_progress:
                # Kept ticking while idle: a transfer's first report comes a fraction of an
                # interval after its start, not at once (the app shows the start with it).
                next_progress = now + self.progress_interval
                if server.active_pid is not None:
                    self.on_progress(server.progress())

    def _exchange_run(self, pid: int, replies: bytes, until: float) -> tuple[object | None, float]:
        """Answer ``pid``'s payload bits from ``Server.bit_run``'s replies, then ``receive_run``.

        Ends early at a signal the run cannot take (returned, to be handled the
        usual way), at a poll interval of silence, or once ``until`` has passed.
        Per signal this is the raw ping-pong plus a few checks (issue #6).
        """
        wait, kill, clock, signals = signal.sigtimedwait, os.kill, self.clock, SIGNALS
        signal_of, usr1, allowed, kernel_filled = SIGNAL_OF_SYMBOL, signal.SIGUSR1, self.allowed_uids, KERNEL_FILLED
        poll = self.poll_interval
        symbols = bytearray()
        times: list[float] = []
        got = failed = None
        now = clock()
        try:
            for reply in replies:
                got = wait(signals, poll)
                if got is None or got.si_pid != pid or got.si_code not in kernel_filled or got.si_uid not in allowed:
                    break
                now = clock()
                symbols.append(got.si_signo != usr1)
                times.append(now)
                got = None
                kill(pid, signal_of[reply])
                if now >= until:
                    break
        except OSError as error:  # (the bit was received; its reply could not be sent)
            failed = error
        self.server.receive_run(pid, symbols, times)
        if failed is not None:
            self._kill_failed(pid, failed, now)
        return got, clock()

    def _dispatch(self) -> None:
        events = self.server.events
        while events:
            event = events.pop(0)
            self.on_event(event)
            if event.pid in self._classic_refusals and isinstance(event, (protocol.MessageDelivered, protocol.TransferAborted)):
                self._report_classic_refusal(event.pid)

    def _tick(self, now: float) -> None:
        server = self.server
        active = server.active_pid
        if active is not None and not procfs.is_alive(active):
            server.sender_gone(active, now)
        classic_line = server.classic
        if classic_line is not None and classic_line.holder is not None and not procfs.is_alive(classic_line.holder):
            server.sender_gone(classic_line.holder, now)  # an exited client must not keep the line
        if now >= self._next_queue_check:
            # A queued sender is forgotten only when it exits (see protocol.QUEUE_TTL).
            self._next_queue_check = now + QUEUE_CHECK_INTERVAL
            waiting = list(classic_line.waiting) if classic_line is not None else []
            for pid in [*server.queued_pids, *waiting]:
                if not procfs.is_alive(pid):
                    server.sender_gone(pid, now)
        server.tick(now)
        self._safe_pids.intersection_update({*server.queued_pids, server.active_pid})
        if self._classic_checked or self._classic_refusals:
            self._forget_classic()
        if self._wide and server.classic.holder is None:
            self._follow_classic_line()
        if server.events:
            self._dispatch()
        if server.outbox:
            self._flush_outbox(now)

    def _flush_outbox(self, now: float) -> None:
        outbox = self.server.outbox
        while outbox:
            pid, symbol = outbox.pop(0)
            self._reply(pid, symbol, now)

    def _reply(self, pid: int, symbol: int, now: float) -> None:
        if pid not in self._safe_pids and self.server.may_be_classic(pid):
            if pid in self._unchecked_pids or (pid, symbol) not in self._classic_checked:
                self._unchecked.append((pid, symbol, now))  # checked and sent after UNCHECKED_GRACE
                self._unchecked_pids.add(pid)
                return
            if not self._classic_may_signal(pid, symbol, now):
                return
        elif pid not in self._safe_pids:
            # First contact: never send a signal that would kill the process.
            safety = procfs.signal_safety(pid)
            if safety is None or not safety.safe:
                self.counters.refused_unsafe += 1
                self.server.sender_gone(pid, now)
                if self.on_refused is not None:
                    self.on_refused(pid, safety.reason if safety else "it exited")
                if self.server.events:
                    self._dispatch()
                return
            self._safe_pids.add(pid)
        try:
            os.kill(pid, SIGNAL_OF_SYMBOL[symbol])
        except OSError as error:
            self._kill_failed(pid, error, now)

    def _kill_failed(self, pid: int, error: OSError, now: float) -> None:
        self._safe_pids.discard(pid)
        self.server.sender_gone(pid, now)
        if isinstance(error, PermissionError):
            # An allowed uid (--allow-uid) that we may not signal back: stop
            # serving it rather than let the exception end the receiver thread.
            if self.on_refused is not None:
                self.on_refused(pid, "permission denied: it runs as another user")
            if self.server.events:
                self._dispatch()
        elif not isinstance(error, ProcessLookupError):
            raise error

    # ------------------------------------------------------------------ classic clients
    def _warm_up(self) -> None:
        """Run the classic paths once: CPython's first calls are slow (the first bit of a
        client took ~0.4 ms, while an unacked client sends one every ~0.2 ms)."""
        from sigchat import classic

        classic.warm_up(self.server.classic.profile)
        quick_signal_safety(os.getpid(), signal.SIGUSR1)
        quick_signal_safety(os.getpid(), signal.SIGKILL)  # the not-caught path (reads syscall)

    def _follow_classic_line(self) -> None:
        """Run on any CPU while a classic client streams, pinned again after.

        Pinned, the thread cannot leave its CPU when another process keeps it
        busy; a client that does not wait for acks needs it within ~0.2 ms. The
        gathered threads go along, lest they take that CPU from it.
        """
        wide = self.server.classic.holder is not None
        cpus = self._all_cpus if wide else {self._pinned}
        try:
            os.sched_setaffinity(0, cpus)
        except OSError:
            pass
        if self._tid is not None:
            place_other_threads(cpus, self._tid)
        self._wide = wide

    def _does_not_wait(self, pid: int, now: float) -> None:
        """``pid`` sent again before we answered: if that soon, it paces itself and gets no replies.

        (A sigchat sender resends only after 0.1 s without a reply: it is checked and answered.)
        """
        since = next(entry[2] for entry in self._unchecked if entry[0] == pid)
        if now - since > DOES_NOT_WAIT:
            return
        keep = []
        for entry in self._unchecked:
            if entry[0] != pid:
                keep.append(entry)
                continue
            self._classic_checked[entry[:2]] = False
            if self.server.classic is not None:
                self.server.classic.mute(pid, entry[1])
            name = signal_name(SIGNAL_OF_SYMBOL[entry[1]])
            self._classic_refusals.setdefault(
                pid, f"it sent its next signal without waiting for a reply; its classic message is received without {name} replies"
            )
        self._unchecked = keep
        self._unchecked_pids.discard(pid)

    def _check_unchecked(self, now: float) -> None:
        pending, self._unchecked = self._unchecked, []
        self._unchecked_pids.clear()
        for pid, symbol, _ in pending:
            if self._classic_may_signal(pid, symbol, now):
                self._reply(pid, symbol, now)
        if self.server.events:
            self._dispatch()

    def _classic_may_signal(self, pid: int, symbol: int, now: float) -> bool:
        """Whether the classic reply ``symbol`` leaves ``pid`` alive (checked once per pid and signal)."""
        key = (pid, symbol)
        ok = self._classic_checked.get(key)
        if ok is None:
            safety = quick_signal_safety(pid, SIGNAL_OF_SYMBOL[symbol])
            if safety is None:
                owned = self.server.classic is not None and self.server.classic.owns(pid)
                self.server.sender_gone(pid, now)
                if not owned and self.on_refused is not None:
                    self.on_refused(pid, "it exited")
                if self.server.events:
                    self._dispatch()
                return False
            ok = self._classic_checked[key] = safety.safe
            if not ok:
                self.counters.refused_unsafe += 1
                name = signal_name(SIGNAL_OF_SYMBOL[symbol])
                self._classic_refusals.setdefault(pid, f"{safety.reason}; its classic message is received without {name} replies")
        if not ok and self.server.classic is not None:
            self.server.classic.mute(pid, symbol)
        return ok

    def _report_classic_refusal(self, pid: int) -> None:
        reason = self._classic_refusals.pop(pid)
        if self.on_refused is not None:
            self.on_refused(pid, reason)

    def _forget_classic(self) -> None:
        known = self.server.may_be_classic
        for key in [key for key in self._classic_checked if not known(key[0])]:
            del self._classic_checked[key]
        for pid in [pid for pid in self._classic_refusals if not known(pid)]:
            self._report_classic_refusal(pid)


UNCHECKED_GRACE = 0.001
"""Seconds a new classic client's first reply waits, to see whether it waits for replies."""
DOES_NOT_WAIT = 0.05
"""A client that sends again this soon without a reply does not wait for replies."""


def quick_signal_safety(pid: int, signum: int) -> procfs.Safety | None:
    """``procfs.signal_safety(pid, (signum,))`` in one or two reads for a one-thread process.

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
        return procfs.Safety(True, "the signal is caught or ignored")
    if fields.get(b"Threads") != b"1":
        return procfs.signal_safety(pid, (signum,))
    if int(fields.get(b"SigBlk", b"0"), 16) & bit:
        return procfs.Safety(True, "the signal is blocked")
    waiting = getattr(procfs, "_SIGTIMEDWAIT_SYSCALL", None)
    try:
        fd = os.open(f"/proc/{pid}/syscall", os.O_RDONLY)
        try:
            syscall = os.read(fd, 256).split(b" ", 1)[0]
        finally:
            os.close(fd)
    except OSError:
        syscall = b""
    if waiting is not None and syscall == str(waiting).encode():
        return procfs.Safety(True, "it waits for the signal in sigtimedwait")
    name = signal_name(signum)
    return procfs.Safety(False, f"{name} would kill it (neither blocked, caught nor ignored)")


# --------------------------------------------------------------------------- sending


class SendResult(protocol.Record):
    """How ``send_message`` ended. ``answered``: the server ever replied (tells "not a
    sigchat server" from "went away"); ``extra``: notes, e.g. why turbo was not used."""

    __slots__ = ("outcome", "stats", "server_gone", "answered", "foreign_signals", "extra")

    def __init__(self, outcome: protocol.Outcome, stats: protocol.SenderStats) -> None:
        self.outcome, self.stats = outcome, stats
        self.server_gone = self.answered = False
        self.foreign_signals = 0
        self.extra: dict = {}


PRECISE_RETRY = 0.01
"""Seconds before a sender checks /proc for a lost signal (when it can; else RETRY_INITIAL)."""
IN_FLIGHT_POLL = 0.005
"""Seconds between checks while the last signal is still pending or being handled."""


def send_message(
    pid: int,
    data: bytes,
    *,
    timeout: float = protocol.DEFAULT_TIMEOUT,
    message_id: int | None = None,
    clock: Callable[[], float] = time.monotonic,
    on_progress: Callable[[protocol.Sender], None] | None = None,
    progress_interval: float = 0.1,
    turbo: bool = False,
) -> SendResult:
    """Send ``data`` to the sigchat server ``pid``; signals must already be blocked.

    ``turbo``: ask for turbo words (protocol rule 7). Without ctypes support
    here, or when the server declines, the message goes 1 bit per signal;
    ``result.stats.turbo`` tells which, and ``result.extra["turbo"]`` why not.

    When no reply comes in time, ``/proc`` tells a lost signal (resend it) from
    one that is still pending or being handled (wait: a resend would arrive
    twice); see ``procfs.signal_in_flight``. Without that view (another user's
    server, no receiver thread found) it falls back to resending after
    ``protocol.RETRY_INITIAL`` and relies on the duplicate detection.

    Raises ``ProcessLookupError`` / ``PermissionError`` only for the very first
    signal (no such process, not allowed); later a vanished server is reported
    in the result.
    """
    receiver = procfs.receiver_tid(pid)
    precise = receiver is not None and procfs.signal_in_flight(pid, receiver, signal.SIGUSR1) is not None
    words, unsupported = open_words() if turbo else (None, None)
    sender = protocol.Sender(
        data,
        int.from_bytes(os.urandom(4), "big") if message_id is None else message_id,
        timeout=timeout,
        retry_initial=PRECISE_RETRY if precise else protocol.RETRY_INITIAL,
        turbo=words is not None,
    )
    kill = os.kill
    queue = words.send if words is not None else None
    wait = signal.sigtimedwait
    signals = SIGNALS
    usr1 = signal.SIGUSR1
    signal_of = SIGNAL_OF_SYMBOL
    SENDING, HELLO, QUEUED = protocol.SenderState.SENDING, protocol.SenderState.HELLO, protocol.SenderState.QUEUED
    result = SendResult(protocol.Outcome.NO_ANSWER, sender.stats)
    if unsupported is not None:
        result.extra["turbo"] = unsupported
    _discard_pending()
    last_signal = signal_of[sender.start(clock())]
    kill(pid, last_signal)
    next_progress = 0.0
    while sender.outcome is None:
        run = sender.bit_run()
        if run is None:
            info, now = None, clock()
        else:
            try:
                info, now = _exchange_run(pid, run, sender, clock)
            except ProcessLookupError:
                result.server_gone = True
                sender.stats.ended_at = clock()
                return result
        if info is None:  # no run, all of it sent (a reply is due), or no reply in time
            remaining = sender.deadline - now
            info = wait(signals, remaining) if remaining > 0 else None
            now = clock()
        symbol = None
        if info is None:
            if now < sender.deadline:
                continue
            if not procfs.is_alive(pid):
                result.server_gone = True
                sender.stats.ended_at = now
                return result
            state = sender.state
            if state is QUEUED and procfs.is_running(pid):
                sender.server_alive(now)
            if precise and (state is SENDING or state is HELLO):
                if procfs.signal_in_flight(pid, receiver, last_signal):
                    symbol = sender.postpone(now, IN_FLIGHT_POLL)
                else:
                    # The server is idle: any reply it made is pending here by now.
                    info = wait(signals, 0)
                    if info is None:
                        symbol = sender.timeout(now)
            else:
                symbol = sender.timeout(now)
        if info is not None:
            if info.si_pid != pid or info.si_code not in KERNEL_FILLED:
                result.foreign_signals += 1
                continue
            result.answered = True
            symbol = sender.receive(0 if info.si_signo == usr1 else 1, now)
            if sender.drain:
                sender.drain = False
                _discard_pending()
        if symbol is not None:
            last_signal = signal_of[symbol]
            value = sender.value
            try:
                if value is None:
                    kill(pid, last_signal)
                else:
                    queue(pid, last_signal, value)
            except ProcessLookupError:
                result.server_gone = True
                sender.stats.ended_at = clock()
                return result
        if on_progress is not None and now >= next_progress:
            next_progress = now + progress_interval
            on_progress(sender)
    if turbo and unsupported is None and not sender.stats.turbo:
        result.extra["turbo"] = "the server declined turbo words"
    result.outcome = sender.outcome
    return result


# --------------------------------------------------------------------------- sending to a classic server


def _exchange_run(pid: int, run: protocol.BitRun, sender: protocol.Sender, clock: Callable[[], float]) -> tuple[object | None, float]:
    """Exchange ``run`` with the server ``pid`` (see ``protocol.BitRun``), then ``sender.ran()``.

    Returns the reply that ended the run early (to handle the usual way) or
    ``None``, and the time. Per signal this is the raw ping-pong plus a few
    checks: the state machine is not called (issue #6).
    """
    wait, kill, signals, kernel_filled = signal.sigtimedwait, os.kill, SIGNALS, KERNEL_FILLED
    signal_of, usr1, timeout = SIGNAL_OF_SYMBOL, signal.SIGUSR1, run.timeout
    deadline = sender.deadline
    now = last_sent = clock()
    sent = 0
    info = None
    try:
        for expected, symbol in zip(run.expect, run.send):
            remaining = deadline - now
            info = wait(signals, remaining) if remaining > 0 else None
            now = clock()
            if (
                info is None
                or now > deadline
                or info.si_pid != pid
                or info.si_code not in kernel_filled
                or (info.si_signo != usr1) != expected
            ):
                break
            info = None
            kill(pid, signal_of[symbol])
            sent += 1
            last_sent = now
            deadline = now + timeout
    finally:
        sender.ran(sent, last_sent)
    return info, now


class ClassicSendResult(protocol.Record):
    """How ``send_classic`` ended."""

    __slots__ = ("outcome", "stats", "server_gone", "foreign_signals")

    def __init__(self, outcome: classic.SendOutcome | None, stats: classic.SenderStats) -> None:  # noqa: F821
        self.outcome, self.stats = outcome, stats
        self.server_gone = False
        self.foreign_signals = 0


def send_classic(
    pid: int,
    data: bytes,
    profile: classic.Profile | None = None,  # noqa: F821
    *,
    ack_timeout: float | None = None,
    end_timeout: float | None = None,
    pace: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> ClassicSendResult:
    """Send ``data`` to the classic minitalk server ``pid``; signals must already be blocked.

    ``profile``, ``ack_timeout``, ``end_timeout``, ``pace``: ``None`` means the
    ``classic`` module's defaults.

    Raises ``ProcessLookupError`` / ``PermissionError`` only for the first
    signal, and ``LocalProtocolError`` (before any signal) for a message the
    profile cannot carry (a NUL in a NUL-terminated profile).
    """
    from sigchat import classic

    sender = classic.ClassicSender(
        data,
        classic.DEFAULT_PROFILE if profile is None else profile,
        ack_timeout=classic.DEFAULT_ACK_TIMEOUT if ack_timeout is None else ack_timeout,
        end_timeout=classic.DEFAULT_END_TIMEOUT if end_timeout is None else end_timeout,
        pace=classic.DEFAULT_PACE if pace is None else pace,
    )
    kill = os.kill
    wait = signal.sigtimedwait
    signals = SIGNALS
    usr1 = signal.SIGUSR1
    signal_of = SIGNAL_OF_SYMBOL
    result = ClassicSendResult(None, sender.stats)
    _discard_pending()
    kill(pid, signal_of[sender.start(clock())])
    while sender.outcome is None:
        remaining = sender.deadline - clock()
        info = wait(signals, remaining) if remaining > 0 else None
        if info is None:
            now = clock()
            if now < sender.deadline:
                continue
            if not sender.pacing and not procfs.is_alive(pid):
                result.server_gone = True
                sender.stats.ended_at = now
                return result
            symbol = sender.timeout(now)
            if sender.drain:
                sender.drain = False
                _discard_pending()  # a late ack must not count for the next bit
        else:
            if info.si_pid != pid or info.si_code not in KERNEL_FILLED:
                result.foreign_signals += 1
                continue
            symbol = sender.receive(0 if info.si_signo == usr1 else 1, clock())
        if symbol is not None:
            try:
                kill(pid, signal_of[symbol])
            except ProcessLookupError:
                result.server_gone = True
                sender.stats.ended_at = clock()
                return result
    if sender.outcome is not classic.SendOutcome.CONFIRMED and not procfs.is_alive(pid):
        result.server_gone = True  # it may have died of a signal: nothing confirms the message
    result.outcome = sender.outcome
    return result

