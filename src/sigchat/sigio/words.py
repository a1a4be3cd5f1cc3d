"""Turbo words (docs/PROTOCOL.md, rule 7): ``sigqueue(3)``, ``rt_tgsigqueueinfo(2)`` and a
``sigtimedwait`` that returns ``si_value``.

Python's ``signal`` module neither sends nor returns ``si_value``, so all go
through ctypes. ``rt_tgsigqueueinfo`` queues a word to one thread of another
process: the first word of a triple goes to the server's receiving thread,
whose own pending set holds a SIGUSR1 beside the process's. A signal whose ``si_code`` is SI_QUEUE is only ever passed to
``Server.receive_word``, which takes it only from the session's pid and with
the session's tag.
"""

from __future__ import annotations

import errno
import os
import struct
import sys

from sigchat.sigio.masks import SIGNALS
from sigchat.sigio.sigapi import signal

TYPE_CHECKING = False  # typing's constant without importing typing (the start-up rule, ``sigchat.send``)
if TYPE_CHECKING:
    from collections.abc import Callable

RT_TGSIGQUEUEINFO = {"x86_64": 297, "aarch64": 240, "riscv64": 240, "loongarch64": 240}
"""``rt_tgsigqueueinfo(2)``'s system call number by ``os.uname().machine`` (libc has no wrapper
that sends to another process's thread)."""
SI_QUEUE = -1
"""``si_code`` of a signal sent by ``sigqueue(3)``: the kernel takes it from a caller of
``rt_tgsigqueueinfo`` (a code >= 0 would be refused)."""


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
    ``si_value`` at 24. ctypes is imported here, not at the top: a plain
    ``sigchat-send`` loads this module and must not pay for ctypes (the
    start-up rule, ``sigchat.send``). Raises ``OSError`` when libc lacks the
    functions.
    """

    def __init__(self) -> None:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)  # calls release the GIL
        self._sigqueue = libc.sigqueue
        self._sigqueue.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_uint64]  # union sigval: one register
        self._sigtimedwait = libc.sigtimedwait
        self._sigtimedwait.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        self._bare_sigtimedwait = ctypes.CDLL(None).sigtimedwait  # for taker(): no argtypes, no errno

        class Timespec(ctypes.Structure):
            _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]

        def sigset(signals: list[int] | set[int]) -> ctypes.Array:
            buffer = ctypes.create_string_buffer(128)
            libc.sigemptyset(buffer)
            for signum in signals:
                libc.sigaddset(buffer, int(signum))
            return buffer

        self._ctypes, self._Timespec = ctypes, Timespec
        self._sigset = sigset(SIGNALS)
        self._second = sigset([signal.SIGUSR2])
        self._info = ctypes.create_string_buffer(128)
        self._timespec = Timespec(0, 0)
        self._pointers = (ctypes.addressof(self._sigset), ctypes.addressof(self._info), ctypes.addressof(self._timespec))
        self._unpack = struct.Struct("=i4xi4xIIQ").unpack_from  # signo, code, pid, uid, value
        self._errno = ctypes.get_errno
        # sigqueue never blocks: called from a PyDLL it keeps the GIL, which saves the
        # release and re-acquisition (~0.2 µs) that a CDLL call makes around it.
        self.raw_sigqueue = ctypes.PyDLL(None).sigqueue
        """``sigqueue(pid, signum, value)`` itself, for hot loops: negative on failure, no exception."""
        self.raw_sigqueue.argtypes = self._sigqueue.argtypes
        number = RT_TGSIGQUEUEINFO.get(os.uname().machine)
        self.thread_queue: Callable[[int, int, int], int] | None = None if number is None else self._thread_queue(number)
        """``thread_queue(pid, tid, value)``: queue SIGUSR1 with ``si_value = value`` to thread
        ``tid`` of process ``pid``, for hot loops (negative on failure); ``None`` on a machine whose
        system call number is not known here."""

    def _thread_queue(self, number: int) -> Callable[[int, int, int], int]:
        ctypes = self._ctypes
        # Never blocks: keeps the GIL, as raw_sigqueue does. No argtypes: converting five arguments
        # through them cost 0.45 µs a call (1.14 against 0.69 µs, timeit). The four numbers are
        # positive ints, passed as C ints and widened to the registers syscall(2) reads as longs
        # (libffi sign-extends on x86_64; the others zero- or sign-extend a positive int alike).
        syscall = ctypes.PyDLL(None).syscall
        # A siginfo_t as glibc's sigqueue fills it in; only si_value changes from word to word.
        info = ctypes.create_string_buffer(128)
        struct.pack_into("=iii4xII", info, 0, signal.SIGUSR1, 0, SI_QUEUE, os.getpid(), os.getuid())
        pointer, put, usr1 = ctypes.byref(info), struct.Struct("=Q").pack_into, int(signal.SIGUSR1)

        def thread_queue(pid: int, tid: int, value: int) -> int:
            put(info, 24, value)
            return syscall(number, pid, tid, usr1, pointer)

        return thread_queue  # (its closure keeps the buffer alive)

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
        return self._unpack(self._info)

    def taker(self, timeout: float, *, second_only: bool = False) -> Callable[[], tuple[int, int, int, int, int] | None]:
        """``wait(timeout)`` for hot loops: a function of no arguments, ``timeout`` fixed
        (the sender's run takes its replies with one too: no ``struct_siginfo`` to build).

        ``second_only``: it waits for SIGUSR2 alone. A word group's SIGUSR1 words,
        queued first, then stay pending without waking this thread, and the
        SIGUSR2 word wakes it once with all in (waking for each would cost two
        more context switches per word on one CPU); a ``taker(0)`` then takes
        the SIGUSR1 words, the one queued to this thread first.

        With ``timeout`` 0 the call never blocks, and keeps the GIL
        (``ctypes.PyDLL``: no release and re-acquisition around it, ~0.2 µs).
        """
        ctypes = self._ctypes
        seconds = int(timeout)
        timespec = self._Timespec(seconds, int((timeout - seconds) * 1e9))
        # byref() keeps its object alive; without argtypes (and errno) a call costs ~0.5 µs less.
        sigset = self._second if second_only else self._sigset
        pointers = (ctypes.byref(sigset), ctypes.byref(self._info), ctypes.byref(timespec))
        sigtimedwait = self._ctypes.PyDLL(None).sigtimedwait if timeout == 0 else self._bare_sigtimedwait
        info, unpack = self._info, self._unpack

        def take() -> tuple[int, int, int, int, int] | None:
            return unpack(info) if sigtimedwait(*pointers) >= 0 else None

        return take


def open_words() -> tuple[Words | None, str | None]:
    """``Words`` for this process, or ``None`` and why turbo words cannot be used here."""
    unsupported = turbo_unsupported()
    if unsupported is not None:
        return None, unsupported
    try:
        return Words(), None
    except (ImportError, OSError, AttributeError) as error:  # e.g. ctypes unreadable after a uid change
        return None, f"no sigqueue here ({error})"
