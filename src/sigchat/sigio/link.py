"""One peer process as a sending side sees it: symbols out, its kernel-filled replies in.

The native and the classic send loops share this skeleton (``sigio.send``,
``sigio.send_classic``): the loops hold the policy, ``PeerLink`` the signals.
Signals must already be blocked (``masks.block_signals``).
"""

from __future__ import annotations

import os
import time

from sigchat.sigio import procfs
from sigchat.sigio.masks import KERNEL_FILLED, SIGNAL_OF_SYMBOL, SIGNALS, discard_pending
from sigchat.sigio.sigapi import signal

TYPE_CHECKING = False  # typing's constant without importing typing (the start-up rule, ``sigchat.send``)
if TYPE_CHECKING:
    from collections.abc import Callable

FOREIGN = -1
"""What ``wait``/``poll`` return for a signal from another process (or with a forged
``si_pid``): counted in ``foreign_signals`` and otherwise ignored."""


class PeerLink:
    """Send symbols to process ``pid``; wait for its replies (``ZERO``/``ONE``).

    ``words``: a ``sigio.words.Words`` to send a symbol with an ``si_value``
    (turbo words); ``thread``: the peer's thread that words may be queued to
    (``send_to_thread``); ``answered``: the peer ever replied; ``last_signal``:
    the signal sent last.
    """

    def __init__(
        self, pid: int, clock: Callable[[], float] = time.monotonic, words: object | None = None, thread: int | None = None
    ) -> None:
        self.pid = pid
        self.clock = clock
        self.words = words
        self.thread = thread
        self.answered = False
        self.foreign_signals = 0
        self.last_signal = signal.SIGUSR1

    def start(self, symbol: int) -> None:
        """Send the first signal; ``ProcessLookupError``/``PermissionError`` tell that it cannot be sent."""
        discard_pending()
        self.last_signal = SIGNAL_OF_SYMBOL[symbol]
        os.kill(self.pid, self.last_signal)

    def send(self, symbol: int, value: int | None = None) -> bool:
        """Send ``symbol`` (as a word when ``value`` is given); False: the peer is gone."""
        self.last_signal = SIGNAL_OF_SYMBOL[symbol]
        try:
            if value is None:
                os.kill(self.pid, self.last_signal)
            else:
                self.words.send(self.pid, self.last_signal, value)
        except ProcessLookupError:
            return False
        return True

    def send_to_thread(self, value: int) -> bool:
        """Queue a SIGUSR1 word with ``value`` to the peer's thread ``thread`` (word triples); False: the peer is gone.

        A thread that is gone while its process lives (a receiver thread started
        again) is looked up once more by name; when none is found the word counts
        as lost, and the sender's timeout resends it.
        """
        self.last_signal = signal.SIGUSR1
        if self.words.thread_queue(self.pid, self.thread, value) >= 0:
            return True
        if not procfs.is_alive(self.pid):
            return False
        thread = procfs.receiver_tid(self.pid)
        if thread is not None and thread != self.thread:
            self.thread = thread
            self.words.thread_queue(self.pid, thread, value)
        return True

    def wait(self, deadline: float) -> tuple[int | None, float]:
        """The next signal until ``deadline``, and the time: a symbol, ``FOREIGN``, or ``None`` (none came)."""
        remaining = deadline - self.clock()
        info = signal.sigtimedwait(SIGNALS, remaining) if remaining > 0 else None
        return self.symbol_of(info), self.clock()

    def poll(self) -> int | None:
        """A signal already pending, as ``wait`` returns it, without waiting."""
        return self.symbol_of(signal.sigtimedwait(SIGNALS, 0))

    def symbol_of(self, info: object | None) -> int | None:
        """``sigtimedwait``'s result as ``wait`` returns it."""
        if info is None:
            return None
        return self.symbol_from(info.si_signo, info.si_code, info.si_pid)

    def symbol_from(self, signo: int, code: int, pid: int) -> int:
        """A signal taken some other way (``Words.taker``) as ``wait`` returns it."""
        if pid != self.pid or code not in KERNEL_FILLED:
            self.foreign_signals += 1
            return FOREIGN
        self.answered = True
        return 0 if signo == signal.SIGUSR1 else 1

    def drain(self) -> None:
        """Discard the signals already pending (late replies that must not count)."""
        discard_pending()

    def alive(self) -> bool:
        return procfs.is_alive(self.pid)
