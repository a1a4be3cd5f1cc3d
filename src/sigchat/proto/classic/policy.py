"""The reply policy: which replies to a classic client may be sent, and when.

Sans-IO. The I/O layer (``sigio.receiver``) asks before it sends a reply to a
pid that is, or may still turn out to be, a classic client, and tells the
policy what ``/proc`` says about that client. The rules (docs/PROTOCOL.md,
"Classic minitalk clients"):

* Never a reply that would kill the client: each (pid, signal) is checked once
  and the verdict kept while the server knows the pid (a client may catch
  SIGUSR1 and not SIGUSR2, so per signal).
* The first replies to a pid wait ``GRACE``. A client that sends its next
  signal within ``DOES_NOT_WAIT`` without a reply, and is not waiting for a
  signal when it is seen (``/proc``: a sigchat sender that resends is), does
  not wait for replies (it paces itself): it gets none, unchecked, since a
  check costs 0.1-0.3 ms, about the bit period of such a client.
* A client that gets no replies of a signal is told why (a *refusal*) once its
  message has ended: ``refusal_after`` and ``forget`` hand them out.
"""

from __future__ import annotations

from collections.abc import Callable

from sigchat.proto.classic.server import ClassicServer
from sigchat.proto.events import MessageDelivered, ServerEvent, TransferAborted
from sigchat.proto.wire import SYMBOL_SIGNALS

GRACE = 0.001
"""Seconds a new classic client's first replies wait, to see whether it waits for replies."""
DOES_NOT_WAIT = 0.05
"""A client that sends again this soon without a reply does not wait for replies."""


def _without(symbol: int) -> str:
    return f"its classic message is received without {SYMBOL_SIGNALS[symbol]} replies"


class ReplyPolicy:
    """Verdicts, held first replies and refusals for the classic clients of one ``ClassicServer``."""

    def __init__(self, line: ClassicServer) -> None:
        self.line = line
        self.held: list[tuple[int, int, float]] = []
        """Replies waiting for their check, as ``(pid, symbol, since)``, oldest first."""
        self.held_pids: set[int] = set()
        """The pids in ``held`` (changed in place, never replaced: the I/O loop keeps it)."""
        self._verdicts: dict[tuple[int, int], bool] = {}
        self._refusals: dict[int, str] = {}

    # ------------------------------------------------------------------ replies
    def hold(self, pid: int, symbol: int, now: float) -> bool:
        """Whether the reply ``symbol`` to ``pid`` waits (it comes back from ``due``)."""
        if pid in self.held_pids or (pid, symbol) not in self._verdicts:
            self.held.append((pid, symbol, now))
            self.held_pids.add(pid)
            return True
        return False

    def check_at(self) -> float | None:
        """When the held replies are due, if any are held."""
        return self.held[0][2] + GRACE if self.held else None

    def due(self) -> list[tuple[int, int]]:
        """Every held reply as ``(pid, symbol)``: check each (``verdict``/``checked``) and send it."""
        held, self.held = self.held, []
        self.held_pids.clear()
        return [(pid, symbol) for pid, symbol, _ in held]

    def sent_again(self, pid: int, now: float, in_signal_wait: bool | None = None) -> None:
        """``pid``, whose replies are held, sent another signal at ``now``: it may not wait for replies.

        ``in_signal_wait``: what ``/proc`` says of ``pid`` now: it sits in a system call that waits
        for a signal (``sigtimedwait``, ``sigsuspend``, ``pause``), or not; ``None``: cannot tell.
        Arrival times alone mislead under load: a receiver that ran late holds a reply for longer,
        and a sigchat sender that waits for it sends its signal again (after 10 ms), so soon after
        the first one as the receiver saw them that it looks like a client that paces itself.
        """
        since = next(at for held_pid, _, at in self.held if held_pid == pid)
        if now - since > DOES_NOT_WAIT or in_signal_wait:
            return  # it waited, and sent again for want of a reply: checked and answered
        keep = []
        for entry in self.held:
            if entry[0] != pid:
                keep.append(entry)
                continue
            self._refuse(pid, entry[1], "it sent its next signal without waiting for a reply")
        self.held = keep
        self.held_pids.discard(pid)

    # ------------------------------------------------------------------ verdicts
    def verdict(self, pid: int, symbol: int) -> bool | None:
        """Whether ``symbol`` may be sent to ``pid``; ``None``: not checked yet."""
        ok = self._verdicts.get((pid, symbol))
        if ok is False:
            self.line.mute(pid, symbol)  # (a new message of the same client starts unmuted)
        return ok

    def checked(self, pid: int, symbol: int, safe: bool, reason: str) -> bool:
        """Record what ``/proc`` says of sending ``symbol`` to ``pid``; returns ``safe``."""
        if safe:
            self._verdicts[(pid, symbol)] = True
        else:
            self._refuse(pid, symbol, reason)
        return safe

    def _refuse(self, pid: int, symbol: int, reason: str) -> None:
        self._verdicts[(pid, symbol)] = False
        self.line.mute(pid, symbol)
        self._refusals.setdefault(pid, f"{reason}; {_without(symbol)}")

    # ------------------------------------------------------------------ refusals
    def refusal_after(self, event: ServerEvent) -> tuple[int, str] | None:
        """The refusal to report now that ``event`` ended a client's message, if any."""
        if event.pid in self._refusals and isinstance(event, (MessageDelivered, TransferAborted)):
            return event.pid, self._refusals.pop(event.pid)
        return None

    def forget(self, known: Callable[[int], bool]) -> list[tuple[int, str]]:
        """Drop what is kept of pids that are no longer ``known``; their refusals, to report."""
        for key in [key for key in self._verdicts if not known(key[0])]:
            del self._verdicts[key]
        return [(pid, self._refusals.pop(pid)) for pid in [pid for pid in self._refusals if not known(pid)]]

    def keeps_anything(self) -> bool:
        return bool(self._verdicts or self._refusals)
