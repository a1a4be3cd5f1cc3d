"""The server a student's client talks to: sigchat's own, keeping every signal it was sent. Sans-IO.

``TracingServer`` is a ``proto.server.Server`` that serves classic clients
only (nothing native talks to a checker) and

* keeps each pid's signals as they arrived (``trace``): the diagnosis compares
  them with what the client should have sent;
* holds back the ack of a message's last bit (and its end ack) for
  ``HOLD_LAST_ACK``: a client that waits for it is still there when it is
  sent, one that exits after its last bit is gone (``alive``, asked then,
  says so: ``exited_early``). Short enough for clients that take a 10 ms
  sleep without an ack as a timeout.

With ``probing`` (profile detection, one message per client) every reply the
profile allows is the profile's ack, but the first signal's with a handshake:
the decoder may take the probe for several messages in a profile that is not
the client's (its zero length header for a NUL), and must not answer it as a
new message's handshake or end it.

It offers the receiver no classic bit runs (``classic_bit_run``): each signal
comes through ``receive``, so every one is traced and the last ack can wait.

The receiver (``sigio.receiver.Receiver``) drives it like any server: its
``tick`` releases the held acks through ``outbox``. Sans-IO but for
``alive``, which the caller passes in (``sigio.procfs.is_alive``).
"""

from __future__ import annotations

from collections.abc import Callable

from sigchat.proto.classic.profile import Profile
from sigchat.proto.events import MessageDelivered
from sigchat.proto.server import Server

HOLD_LAST_ACK = 0.004
"""Seconds the last bit's ack waits (the receiver ticks every ``TICK``)."""
TICK = 0.001
"""The receiver's poll interval for a tracing server: its held acks go out on time."""


class TracingServer(Server):
    def __init__(
        self,
        profile: Profile,
        *,
        idle_timeout: float,
        alive: Callable[[int], bool],
        probing: bool = False,
        hold_last_ack: float = HOLD_LAST_ACK,
    ) -> None:
        super().__init__(classic=profile, classic_timeout=idle_timeout)
        self.alive = alive
        self.probing = probing
        self.classic.native = False  # every pid is a classic client (see ClassicServer.native)
        self.hold_last_ack = hold_last_ack
        self.trace: dict[int, list[tuple[int, float]]] = {}
        """pid -> ``(symbol, arrival time)`` of every signal, in order."""
        self.held: list[tuple[int, int, float]] = []
        """``(pid, symbol, due)``: last acks held back."""
        self.exited_early: set[int] = set()
        """Clients that had exited when the last ack of their message was due."""

    def receive(self, pid: int, symbol: int, now: float) -> int | None:
        self.trace.setdefault(pid, []).append((symbol, now))
        events, outbox = len(self.events), len(self.outbox)
        reply = super().receive(pid, symbol, now)
        if self.probing:
            del self.outbox[outbox:]  # (no end ack: the probe is one message whatever the decoder thinks)
            if reply is None:
                return None  # refused: it would kill the client, or the client does not wait
            profile = self.classic.profile
            first = len(self.trace[pid]) == 1
            return profile.handshake_symbol if profile.handshake and first else profile.ack_symbol
        if not any(isinstance(event, MessageDelivered) and event.pid == pid for event in self.events[events:]):
            return reply
        due = now + self.hold_last_ack
        if reply is not None:
            self.held.append((pid, reply, due))
        later = self.outbox[outbox:]
        self.outbox[outbox:] = [entry for entry in later if entry[0] != pid]
        self.held += [(pid, end, due) for to, end in later if to == pid]  # its end ack
        return None

    def classic_bit_run(self) -> None:
        """No bit runs: the receiver would answer a message's last bit itself, unheld and untraced."""
        return None

    def classic_overdue(self, now: float) -> tuple[int, int] | None:
        """Sent-again replies (``ClassicServer.overdue``), but not a held last ack before it is due."""
        due = super().classic_overdue(now)
        if due is not None and any(held[0] == due[0] for held in self.held):
            return None
        return due

    def tick(self, now: float) -> None:
        super().tick(now)
        if self.held and self.held[0][2] <= now:
            keep = []
            for pid, symbol, due in self.held:
                if due <= now:
                    self.outbox.append((pid, symbol))
                    if not self.alive(pid):
                        self.exited_early.add(pid)
                else:
                    keep.append((pid, symbol, due))
            self.held = keep

    def symbols(self, pid: int) -> list[int]:
        return [symbol for symbol, _ in self.trace.get(pid, ())]
