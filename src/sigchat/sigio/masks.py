"""Signal masks and the mapping between symbols and signals.

Invariants (docs/ARCHITECTURE.md, "Threads and signals"):

* ``block_signals()`` runs first thing in every ``main()``, before any thread
  exists, so SIGUSR1/SIGUSR2 stay pending until ``sigtimedwait`` takes them and
  never land on another thread (Textual's input thread would die of them). It
  also installs a no-op handler, which never runs while the signals are
  blocked but shows this process as "caught" in ``/proc`` and is a safety net.
* Data is only ever read with ``sigtimedwait``, which gives the sender's pid;
  a signal from any pid but the peer's is ignored, and so is one whose
  ``si_pid`` the kernel did not fill in (``KERNEL_FILLED``).
* A blocked mask is inherited by children: spawn with ``preexec_fn=unblock_signals``.
"""

from __future__ import annotations

from sigchat.proto.wire import ONE, ZERO
from sigchat.sigio.sigapi import signal

SIGNALS = frozenset({signal.SIGUSR1, signal.SIGUSR2})
SIGNAL_OF_SYMBOL = (signal.SIGUSR1, signal.SIGUSR2)
SYMBOL_OF_SIGNAL = {signal.SIGUSR1: ZERO, signal.SIGUSR2: ONE}
KERNEL_FILLED = frozenset({0, -6})
"""``si_code`` values whose ``si_pid``/``si_uid`` the kernel filled in: SI_USER
(kill) and SI_TKILL (tgkill). With ``rt_sigqueueinfo`` (SI_QUEUE and others) a
process can claim any pid and uid, so such signals are ignored, except turbo
words (``sigio.words``)."""
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


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
"""The signals that stop a server cleanly (the UI's event loop handles them)."""


PLAIN_STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})


def block_stop_signals() -> None:
    """Block SIGINT/SIGTERM in this thread and the threads it starts: ``stop_requested`` takes them.

    Plain mode waits for them with ``sigtimedwait`` instead of a handler: a
    handler that sets a ``threading.Event`` can deadlock when it runs while the
    main thread holds that event's lock inside ``Event.wait`` (seen once: a
    server that did not stop within 10 s of SIGTERM).
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, PLAIN_STOP_SIGNALS)


def stop_requested(timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for SIGINT/SIGTERM (blocked by ``block_stop_signals``)."""
    return signal.sigtimedwait(PLAIN_STOP_SIGNALS, timeout) is not None


def discard_pending() -> None:
    """Take every SIGUSR1/SIGUSR2 pending for this process, unread."""
    while signal.sigtimedwait(SIGNALS, 0) is not None:
        pass


def signals_pending() -> bool:
    """Whether a SIGUSR1/SIGUSR2 is pending for this process (not yet taken by ``sigtimedwait``)."""
    return bool(signal.sigpending() & SIGNALS)


STRAY_SIGNALS = frozenset({signal.SIGUSR1 + 1})
"""Signals a broken minitalk client sends instead of SIGUSR2: ``kill(pid, SIGUSR1 + bit)`` is SIGSEGV on Linux.
``sigchat-check`` blocks them (a real fault is still delivered: the kernel unblocks it) and reports them."""


def block_strays() -> None:
    """Block ``STRAY_SIGNALS`` in this thread (and those started after); ``take_stray`` reads them."""
    signal.pthread_sigmask(signal.SIG_BLOCK, STRAY_SIGNALS)


def take_stray() -> tuple[int, int] | None:
    """A pending stray signal as ``(signal number, sender pid)``, taken; ``None`` if there is none."""
    info = signal.sigtimedwait(STRAY_SIGNALS, 0)
    return None if info is None else (info.si_signo, info.si_pid)
