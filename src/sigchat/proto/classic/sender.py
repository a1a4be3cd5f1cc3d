"""The client side of classic minitalk: ``ClassicSender``, sans-IO.

``ClassicSender`` sends the handshake (if any) and the message bits. With an
ack profile it waits up to ``ack_timeout`` for each ack and carries on when none
comes; if none of the first ``probe_bits`` bits is acked, the server is taken
as one that never acks and the rest is paced with ``pace`` seconds per bit
(as without acks). With an end ack it waits up to ``end_timeout`` for it
(when the end ack is the ack signal, the last bit's ack counts as both).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sigchat.proto.base import Timing
from sigchat.proto.classic.profile import (
    DEFAULT_ACK_TIMEOUT,
    DEFAULT_END_TIMEOUT,
    DEFAULT_PACE,
    DEFAULT_PROFILE,
    HANDSHAKE,
    PROBE_BITS,
    Profile,
    encode,
)

class SendOutcome(enum.Enum):
    CONFIRMED = "sent, and the server acknowledged it"
    SENT = "sent (the profile has no acks, so nothing confirms it)"
    UNCONFIRMED = "sent, but the server never acknowledged anything"
    ACKS_MISSING = "sent, but some bits were not acknowledged"
    NO_END_ACK = "sent, but the end-of-message ack never came"

    @property
    def ok(self) -> bool:
        return self in (SendOutcome.CONFIRMED, SendOutcome.SENT)


class _State(enum.Enum):
    HANDSHAKE = "handshake"
    ACK = "waiting for an ack"
    PACE = "pacing"
    END = "waiting for the end ack"
    DONE = "done"


@dataclass(slots=True)
class SenderStats(Timing):
    length: int = 0
    bits: int = 0
    """Message bits (handshake excluded)."""
    bits_sent: int = 0
    signals_sent: int = 0
    signals_received: int = 0
    acks: int = 0
    missing_acks: int = 0
    unexpected: int = 0
    others_at_end: int = 0
    """Signals other than the end ack that came while waiting for it (``unexpected`` too): a server
    whose end ack is one more of its acks sends one (``sigchat-check`` tells the end ack by it)."""
    handshake_answered: bool | None = None
    end_acked: bool | None = None
    paced: bool = False
    """True when the bits were paced (no ack in the profile, or the server never acked)."""
    started_at: float = 0.0
    ended_at: float = 0.0


class ClassicSender:
    """Sends one message to a classic server.

    Use: ``symbol = start(now)``, send it; then for every signal from the server
    ``symbol = receive(reply, now)`` and whenever ``deadline`` passes
    ``symbol = timeout(now)``; send ``symbol`` when it is not ``None``. When
    ``drain`` is true, discard the signals pending from the server first (late
    acks after a timeout). Stop when ``outcome`` is set.
    """

    def __init__(
        self,
        data: bytes,
        profile: Profile = DEFAULT_PROFILE,
        *,
        ack_timeout: float = DEFAULT_ACK_TIMEOUT,
        end_timeout: float = DEFAULT_END_TIMEOUT,
        pace: float = DEFAULT_PACE,
        probe_bits: int = PROBE_BITS,
    ) -> None:
        self.profile = profile
        self.symbols = encode(data, profile)
        self.ack_timeout = ack_timeout
        self.end_timeout = end_timeout
        self.pace = pace
        self.probe_bits = probe_bits
        self.stats = SenderStats(length=len(data), bits=len(self.symbols), paced=profile.ack is None)
        self.state = _State.HANDSHAKE
        self.outcome: SendOutcome | None = None
        self.deadline = 0.0
        self.drain = False
        self._ack = profile.ack_symbol
        self._end = profile.end_ack_symbol
        self._index = 0
        self._server_acks: bool | None = None if profile.ack else False

    @property
    def pacing(self) -> bool:
        """True while waiting out the pace between two unacked bits (no answer is expected)."""
        return self.state is _State.PACE

    def start(self, now: float) -> int | None:
        self.stats.started_at = now
        if self.profile.handshake:
            self.stats.handshake_answered = False
            self.state = _State.HANDSHAKE
            self.deadline = now + self.ack_timeout
            self.stats.signals_sent += 1
            return HANDSHAKE
        return self._next(now)

    def receive(self, symbol: int, now: float) -> int | None:
        stats = self.stats
        stats.signals_received += 1
        state = self.state
        last = self._index == len(self.symbols)
        if state is _State.HANDSHAKE:
            if symbol == self.profile.handshake_symbol:
                stats.handshake_answered = True
                return self._next(now)
        elif state is _State.ACK:
            if symbol == self._ack:
                stats.acks += 1
                self._server_acks = True
                return self._bit_done(now, acked=True)
            if last and symbol == self._end:
                stats.acks += 1
                return self._finish(now, end_acked=True)
        elif state is _State.PACE:
            if last and symbol == self._end:
                return self._finish(now, end_acked=True)
        elif state is _State.END:
            if symbol == self._end:
                return self._finish(now, end_acked=True)
            stats.others_at_end += 1
        stats.unexpected += 1
        return None

    def timeout(self, now: float) -> int | None:
        state = self.state
        if state is _State.HANDSHAKE:
            self.drain = True
            return self._next(now)
        if state is _State.ACK:
            self.stats.missing_acks += 1
            self.drain = True
            if self._server_acks is None and self._index >= self.probe_bits:
                self._server_acks = False  # it never acked: pace the rest
                self.stats.paced = True
            return self._bit_done(now, acked=False)
        if state is _State.PACE:
            return self._bit_done(now, acked=False)
        if state is _State.END:
            return self._finish(now, end_acked=False)
        return None

    # ------------------------------------------------------------------ internals
    def _next(self, now: float) -> int:
        symbol = self.symbols[self._index]
        self._index += 1
        self.stats.bits_sent += 1
        self.stats.signals_sent += 1
        if self._server_acks is not False:
            self.state = _State.ACK
            self.deadline = now + self.ack_timeout
        else:
            self.state = _State.PACE
            self.deadline = now + self.pace
        return symbol

    def _bit_done(self, now: float, *, acked: bool) -> int | None:
        if self._index < len(self.symbols):
            return self._next(now)
        if self._end is not None and acked and self._end == self._ack:
            return self._finish(now, end_acked=True)  # one signal: the last ack is the end ack
        if self._end is not None:
            self.state = _State.END
            self.deadline = now + self.end_timeout
            return None
        return self._finish(now, end_acked=True if self._end is not None else None)

    def _finish(self, now: float, *, end_acked: bool | None) -> None:
        stats = self.stats
        stats.end_acked = end_acked
        stats.ended_at = now
        self.state = _State.DONE
        if self.profile.ack is not None and stats.missing_acks:
            self.outcome = SendOutcome.UNCONFIRMED if stats.acks == 0 and not end_acked else SendOutcome.ACKS_MISSING
        elif self.profile.handshake and not stats.handshake_answered:
            self.outcome = SendOutcome.ACKS_MISSING
        elif self._end is not None and not end_acked:
            self.outcome = SendOutcome.NO_END_ACK
        elif self.profile.ack is None and self._end is None and not self.profile.handshake:
            self.outcome = SendOutcome.SENT
        else:
            self.outcome = SendOutcome.CONFIRMED
        return None
