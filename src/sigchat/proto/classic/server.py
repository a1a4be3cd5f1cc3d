"""The server side of classic minitalk: one decoder per client pid, and the line.

Sans-IO. docs/PROTOCOL.md, "Classic minitalk clients", is the spec: how a
classic client is told from a sigchat sender, how its bits assemble into a
message per ``Profile``, the acks and end ack, the idle timeout that ends a
message *incomplete*, and the line: one classic client mid-message at a time,
the others' acks deferred until it is free, so no two of them collide.
"""

from __future__ import annotations

from sigchat.proto.base import LocalProtocolError
from sigchat.proto.classic.integrity import assess, complete_nul, first_broken_byte
from sigchat.proto.classic.profile import DEFAULT_IDLE_TIMEOUT, HANDSHAKE, Profile
from sigchat.proto.events import (
    ACKED,
    CLASSIC,
    DAMAGED,
    AbortReason,
    MessageDelivered,
    ServerCounters,
    ServerEvent,
    TransferAborted,
    TransferStarted,
    TransferStats,
)
from sigchat.proto.wire import DEFAULT_MAX_BYTES, MAX_GAP_SAMPLES, ONE, ZERO

NUDGE_AFTER = 0.002
"""Seconds of silence after an ack before it is sent again (``ClassicServer.overdue``): well within
the shortest wait of a client that takes a full sleep for a lost ack (``usleep(10000)``), and far
above the pause between two bits of a client that got its ack."""
MAX_NUDGES = 4
"""Tries to send a reply again, each twice as long after the one before (2, 4, 8, 16 ms: 30 ms in
all): a client silent longer waits for something else."""


class Offer:
    """A client that may wait for a reply it missed: the replies to send again, in turn, each up to
    ``MAX_NUDGES`` times (``ClassicServer.overdue``).

    Each try is due twice as long after the one before (the first ``NUDGE_AFTER`` after the reply
    itself), counted from the last try, not from the client's last signal: a try the I/O layer did
    not send (the client was not seen asleep: it may be handling the try before) must not make the
    next ones due at once, or a reply offered long after its signal (``proto.classic.auto`` replays
    a recording) would spend all its tries in one moment.
    """

    __slots__ = ("replies", "tries", "offered_at")

    def __init__(self, replies: tuple[int, ...], offered_at: float) -> None:
        self.replies = replies
        self.tries = 0
        """Tries so far, over all of ``replies``."""
        self.offered_at = offered_at
        """When the reply, or its last try, was sent."""

    def due(self, muted: set[int]) -> tuple[int, float] | None:
        """``(reply, when)`` of the next try; ``None`` once every reply was tried or the next is muted."""
        turn, tries = divmod(self.tries, MAX_NUDGES)
        if turn >= len(self.replies) or self.replies[turn] in muted:
            return None
        return self.replies[turn], self.offered_at + NUDGE_AFTER * (1 << tries)

    def tried(self, now: float) -> None:
        self.tries += 1
        self.offered_at = now

    def nudgeable(self, pid: int, muted: set[int]) -> tuple[int, Offer, int, float] | None:
        """``(pid, self, reply, when)`` for ``ClassicServer._nudgeable``, or ``None`` (``due``)."""
        due = self.due(muted)
        return None if due is None else (pid, self, *due)


class _Decoder:
    """One classic client's state. ``stats`` is ``None`` between messages."""

    __slots__ = ("pid", "stats", "acc", "nbits", "header", "header_size", "remaining", "data", "skipping", "last_at", "muted",
                 "offer", "merged_with")

    def __init__(self, pid: int, now: float) -> None:
        self.pid = pid
        self.stats: TransferStats | None = None
        self.acc = 0
        self.nbits = 0
        self.header: bytearray | None = None
        self.header_size: int | None = 0
        """Bytes of this message's length header; ``None`` until a ``len-typed`` width signal came."""
        self.remaining: int | None = None
        self.data = bytearray()
        self.skipping = False
        self.last_at = now
        self.muted: set[int] = set()
        self.offer: Offer | None = None
        """Mid-message, what answered its latest signal (the ack, the handshake's answer), if anything
        did; after a message, its last reply (the end ack, else the ack): what may be sent again."""
        self.merged_with: tuple[int, int] | None = None
        """``(pid, byte)`` once this message's ack was sent again (a nudge) after another process's
        signal came: its bit in that byte may have merged into that signal (``ClassicServer.nudged``)."""


class ClassicServer:
    """Per-pid classic decoders; ``proto.server.Server`` routes classic pids here.

    Events go to ``events`` and extra signals (the end ack, a released client's
    ack) to ``outbox`` as ``(pid, symbol)``; the owning ``proto.server.Server``
    moves both to its own after every call.
    ``receive`` returns the symbol to send back (the ack), or ``None``.
    """

    def __init__(
        self,
        profile: Profile,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        timeout: float = DEFAULT_IDLE_TIMEOUT,
    ) -> None:
        self.use_profile(profile)
        self.events: list[ServerEvent] = []
        self.outbox: list[tuple[int, int]] = []
        self.counters = ServerCounters()
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.decoders: dict[int, _Decoder] = {}
        self.holder: int | None = None
        """The classic client that is mid-message (holds the line), if any."""
        self.ended: int | None = None
        """The client whose message was delivered last (its last reply may be sent again)."""
        self.waiting: dict[int, int | None] = {}
        """Paused clients, first come first served: pid -> the ack they wait for."""
        self.others: dict[int, tuple[float, int]] = {}
        """Per symbol, the latest signal from a process other than the line's holder: ``(when, pid)``
        (``other_signal``)."""
        self.offer_end_ack = False
        """With no end ack in the profile, offer the other signal after a message's last ack was
        sent again in vain (``proto.classic.auto``: a client's end ack cannot be learned from its signals)."""

    def use_profile(self, profile: Profile) -> None:
        """Decode with ``profile`` from now on (``proto.classic.auto`` learns it from a client)."""
        self.profile = profile
        self.name = str(profile)
        self.native = profile.native_compatible
        self._flip = 0 if profile.one == "usr2" else 1
        self._lsb = profile.bit_order == "lsb"
        self._header_size = None if profile.length_typed else profile.header_size()
        self._handshake_reply = profile.handshake_symbol
        self._ack = profile.ack_symbol
        self._end_ack = profile.end_ack_symbol

    # ------------------------------------------------------------------ queries
    def owns(self, pid: int) -> bool:
        return pid in self.decoders

    def progress(self) -> list[tuple[int, int, int | None, float, float]]:
        """``(pid, bits received, message bits or None, started, last bit)`` per message in progress."""
        rows = []
        for d in self.decoders.values():
            stats = d.stats
            if stats is None or d.skipping:
                continue
            total = None
            if d.remaining is not None:
                total = stats.bits + 8 * d.remaining - d.nbits
            rows.append((d.pid, stats.bits, total, stats.started_at, d.last_at))
        return rows

    def snapshot(self, pid: int) -> tuple[bytes, TransferStats] | None:
        """``pid``'s message so far: its bytes, and a copy of its stats (``ended_at``: its last
        bit); ``None`` when ``pid`` is not mid-message (``proto.server.Server.snapshot``)."""
        d = self.decoders.get(pid)
        if d is None or d.stats is None or d.skipping:
            return None
        return bytes(d.data), d.stats.copy(ended_at=d.last_at)

    # ------------------------------------------------------------------ input
    def first_contact(self, pid: int, ones: int, ones_at: float, symbol: int, now: float) -> int | None:
        """A new classic pid: replay the ``ones`` ONEs it sent as a would-be signature, then ``symbol``."""
        self.decoders[pid] = _Decoder(pid, ones_at)
        for _ in range(ones):
            self.receive(pid, ONE, ones_at)  # their answers were sent already (SIGNATURE_ACK = SIGUSR1)
        return self.receive(pid, symbol, now)

    def receive(self, pid: int, symbol: int, now: float) -> int | None:
        d = self.decoders.get(pid)
        if d is None:
            return self.first_contact(pid, 0, now, symbol, now)
        d.offer = None
        reply = self._decode(d, symbol, now)
        if d.offer is None and reply is not None:  # (unless the message ended: _deliver made its own)
            d.offer = Offer((reply,), now)
        # The line: one classic client mid-message at a time (module docstring).
        holder = self.holder
        if holder is None or holder == pid:
            if d.stats is not None:
                self.holder = pid
            elif holder == pid:
                self._release(now)
            return reply
        if d.stats is not None and (reply is not None or pid in self.waiting):
            self.waiting[pid] = reply  # it waits for this ack: paused until the line is free
            return None
        self.waiting.pop(pid, None)
        return reply

    def _decode(self, d: _Decoder, symbol: int, now: float) -> int | None:
        pid = d.pid
        stats = d.stats
        if stats is not None:
            if now - d.last_at > self.timeout:
                self._gap(d)
                stats = None
            else:
                gaps = stats.gaps
                if len(gaps) < MAX_GAP_SAMPLES:
                    gaps.append(now - d.last_at)
        d.last_at = now
        if stats is None:
            stats = self._begin(d, now)
            if self.profile.handshake and symbol == HANDSHAKE:
                stats.signals_received += 1
                return self._answer(d, self._handshake_reply)
        stats.signals_received += 1
        stats.bits += 1
        if d.header_size is None:  # len-typed: this signal is the length's width
            d.header_size = self.profile.header_size(symbol)
            return self._answer(d, self._ack)
        bit = symbol ^ self._flip
        if self._lsb:
            d.acc |= bit << d.nbits
        else:
            d.acc = (d.acc << 1) | bit
        d.nbits += 1
        if d.nbits < 8:
            return self._answer(d, self._ack)
        byte = d.acc
        d.acc = 0
        d.nbits = 0
        reply = self._answer(d, self._ack)
        if self._byte(d, byte, now) and self._end_ack is not None:
            if self._end_ack != self._ack or reply is None:
                end = self._answer(d, self._end_ack, stats)
                if end is not None:
                    if reply is None:
                        return end
                    self.outbox.append((pid, end))
        return reply

    def tick(self, now: float) -> None:
        """End messages whose client went silent; forget idle clients."""
        for pid, d in list(self.decoders.items()):
            if now - d.last_at > self.timeout and pid not in self.waiting:
                if d.stats is not None:
                    self._gap(d)
                del self.decoders[pid]
                if pid == self.holder:
                    self._release(now)
                self._forgotten(pid, now)

    def sender_gone(self, pid: int, now: float) -> None:
        d = self.decoders.pop(pid, None)
        self.waiting.pop(pid, None)
        if d is not None and d.stats is not None and not d.skipping and not self._complete_nul(d, exited=True):
            self._abort(d, AbortReason.SENDER_GONE, d.last_at)
        if pid == self.holder:
            self._release(now)
        self._forgotten(pid, now)

    def _forgotten(self, pid: int, now: float) -> None:
        """``pid``'s decoder is gone: it exited, or was idle ``timeout`` (``proto.classic.auto`` reads its signals again)."""

    def _release(self, now: float) -> None:
        """The holder's message ended: the longest-waiting client gets the line and its ack."""
        self.holder = None
        while self.waiting:
            pid = next(iter(self.waiting))
            reply = self.waiting.pop(pid)
            d = self.decoders.get(pid)
            if d is None or d.stats is None:
                continue
            self.holder = pid
            d.last_at = now  # the wait was ours, not the client's silence
            d.offer = None if reply is None else Offer((reply,), now)
            if reply is not None:
                self.outbox.append((pid, reply))
            return

    def bit_run(self) -> tuple[int, int | None, int | None, int, bool, int] | None:
        """``(pid, ack, limit, in_byte, zeros, zero)`` when the line holder's next signals all get
        ``ack`` whatever they carry (``None``: no reply, a client that paces itself), else ``None``.

        Mid-message every bit of an acked client is answered with the ack, and none of a
        paced one's, so the I/O layer may answer them itself (``sigio.receiver``; the
        paced client's bits come one pause apart whether or not they are read, and the
        less Python per signal, the fewer merge) and then must pass them to
        ``receive_run`` before anything else. The run ends once ``limit`` signals came
        (the length header's last bit, or the message's: the decoder then learns the
        length, or ends the message), or, with no length (``limit`` ``None``: a ``nul``
        profile), once a byte of zero bits completed: ``in_byte`` bits of the current
        byte came already, all of them zeros if ``zeros``; ``zero`` is the symbol of a 0 bit.
        """
        pid = self.holder
        d = self.decoders.get(pid) if pid is not None else None
        if d is None or d.stats is None or pid in self.waiting or d.header_size is None or d.skipping:
            return None
        ack = self._ack if self._acked(d) else None
        if d.header is not None:
            limit: int | None = 8 * (d.header_size - len(d.header)) - d.nbits
        elif d.remaining is not None:
            limit = 8 * d.remaining - d.nbits
        else:
            limit = None
        if ack is None:
            # A paced client's bits come one pause apart whether read or not: runs of one byte at
            # most, so that decoding a run never takes longer than that pause (a run of 50 ms of
            # bits took ~0.7 ms to decode, and the client's next signals merged meanwhile).
            limit = 8 - d.nbits if limit is None else min(limit, 8 - d.nbits)
        return pid, ack, limit, d.nbits, d.acc == 0, self._flip

    def paced_streaming(self, now: float, within: float) -> bool:
        """Whether the line's holder paces itself and sent its last bit less than ``within`` ago."""
        pid = self.holder
        d = self.decoders.get(pid) if pid is not None else None
        return d is not None and d.stats is not None and not self._acked(d) and now - d.last_at < within

    def receive_run(self, pid: int, symbols: bytes, times: list[float]) -> None:
        """The signals of ``bit_run``'s run, each answered with its ack (if any): ``receive`` for each, in order.

        The run's last signal may end the message; without acks its reply is then the end ack,
        which goes to ``outbox`` (the run sent nothing for it)."""
        d = self.decoders.get(pid)
        ack = self._ack if d is not None and self._acked(d) else None
        last = len(symbols) - 1
        for index, (symbol, at) in enumerate(zip(symbols, times)):
            reply = self.receive(pid, symbol, at)
            if reply != ack:
                if index != last or ack is not None:
                    raise LocalProtocolError("receive_run: a signal of the run needed another reply than the ack")
                self.outbox.append((pid, reply))

    def overdue(self, now: float) -> tuple[int, int] | None:
        """``(pid, reply)`` to send again: the line's holder was answered ``NUDGE_AFTER`` ago and has
        sent nothing since, or, the line free, the client whose message ended last got its last
        reply (the end ack, else the ack) that long ago; at most ``MAX_NUDGES`` times per signal,
        each after a longer wait (``Offer``). Tell ``nudged`` when it was sent.

        Many clients wait for an ack in a way that misses one that comes too early: ``pause()`` or
        ``sleep()`` entered after the ack was handled. They would wait for ever, or take the
        uninterrupted sleep for a lost ack; the last ack too (then they never exit). The I/O layer
        sends the reply again only while the client is asleep (waiting): a client that got its ack
        and is about to send is runnable, and a second ack could make it send two bits before the
        first is read.
        """
        due = self._nudgeable()
        if due is None or now < due[3]:
            return None
        pid, offer, reply, _ = due
        offer.tried(now)  # (whether or not it is sent: the next try waits twice as long)
        return pid, reply

    def nudged(self, pid: int) -> None:
        """The reply ``overdue`` gave for ``pid`` was sent again.

        The holder mid-message, after another process's signal came since its own last one: the
        client may wait because its bit merged into that signal, not because it missed the ack,
        and goes on one bit short. Nothing tells which, so its message is not believed intact
        (``_deliver``). Without such a signal no merge could happen: it missed the ack."""
        d = self.decoders.get(pid)
        if d is not None and d.stats is not None:
            d.stats.signals_sent += 1
            if pid == self.holder and d.merged_with is None:
                for when, other in self.others.values():
                    if when >= d.last_at and other != pid:
                        d.merged_with = (other, len(d.data))
                        break
        self.counters.nudges += 1

    def other_signal(self, pid: int, symbol: int, now: float) -> None:
        """A signal from ``pid``, not the line's holder, was read (or dropped by the I/O layer): one of
        the holder's of the same kind, sent while it was pending, merged into it (``nudged``)."""
        self.others[symbol] = (now, pid)

    def nudge_at(self) -> float | None:
        """When ``overdue`` may next have a reply to send again (``None``: no client waits for one)."""
        due = self._nudgeable()
        return None if due is None else due[3]

    def _nudgeable(self) -> tuple[int, Offer, int, float] | None:
        """``(pid, offer, reply, when)``: the client that may wait for a reply ``overdue`` would send again."""
        pid = self.holder
        if pid is None:
            pid = self.ended
            d = self.decoders.get(pid) if pid is not None else None
            if d is None or d.stats is not None:
                return None
        else:
            d = self.decoders.get(pid)
            if d is None or d.stats is None:
                return None
        return d.offer.nudgeable(pid, d.muted) if d.offer is not None else None

    def mute(self, pid: int, symbol: int) -> None:
        """Never answer ``pid`` with ``symbol`` again (the signal would kill it)."""
        d = self.decoders.get(pid)
        if d is not None:
            d.muted.add(symbol)

    # ------------------------------------------------------------------ internals
    def _answer(self, d: _Decoder, symbol: int | None, stats: TransferStats | None = None) -> int | None:
        if symbol is None or symbol in d.muted:
            return None
        (stats or d.stats).signals_sent += 1
        return symbol

    def _begin(self, d: _Decoder, now: float) -> TransferStats:
        stats = d.stats = TransferStats(pid=d.pid, started_at=now, ended_at=now)
        d.header = bytearray() if self.profile.has_length else None
        d.header_size = self._header_size
        d.remaining = None
        d.data = bytearray()
        d.skipping = False
        d.acc = 0
        d.nbits = 0
        self.events.append(TransferStarted(d.pid, now, CLASSIC, self.name))
        return stats

    def _reset(self, d: _Decoder) -> None:
        d.stats = None
        d.merged_with = None
        d.header = None
        d.remaining = None
        d.data = bytearray()
        d.skipping = False
        d.acc = 0
        d.nbits = 0

    def _gap(self, d: _Decoder) -> None:
        """The client was silent too long mid-message."""
        if d.skipping:
            self._reset(d)
        elif not self._complete_nul(d):
            self._abort(d, AbortReason.INCOMPLETE, d.last_at)

    def _abort(self, d: _Decoder, reason: AbortReason, at: float, *, skip: bool = False) -> None:
        stats = d.stats
        stats.ended_at = at
        self.counters.aborted += 1
        self.events.append(TransferAborted(d.pid, reason, stats, bytes(d.data), CLASSIC, self.name))
        if skip:
            d.skipping = True
            d.data = bytearray()
        else:
            self._reset(d)

    def _acked(self, d: _Decoder) -> bool:
        """Whether ``d``'s client gets every ack and waits for it (``integrity.ACKED``)."""
        return self._ack is not None and self._ack not in d.muted

    def _deliver(self, d: _Decoder, now: float, repair: str = "") -> MessageDelivered:
        stats = d.stats
        stats.ended_at = now
        stats.length = len(d.data)
        data = bytes(d.data)
        if d.merged_with is not None and not (repair and d.merged_with[1] == len(data)):
            # (A NUL completed: the bit merged in the NUL, and every byte before it came.)
            other, byte = d.merged_with
            integrity, note = DAMAGED, f"a bit may have merged with PID {other}'s signal at byte {byte} (its ack was sent again)"
        elif self._acked(d):
            integrity, note = ACKED, ""
        else:
            # Where the message bytes start: after the handshake (signals that were not bits), the
            # len-typed width signal and the length header.
            first = stats.signals_received - stats.bits + self.profile.length_typed + 8 * (d.header_size or 0)
            integrity, note = assess(data, stats.gaps, first)
        note = "; ".join(part for part in (repair, note) if part)
        counters = self.counters
        counters.delivered += 1
        counters.bytes += len(data)
        event = MessageDelivered(d.pid, data, stats, False, CLASSIC, self.name, integrity, note)
        self.events.append(event)
        self._reset(d)
        end_ack = self._end_ack
        if end_ack is not None and end_ack not in d.muted:
            finals: tuple[int, ...] = (end_ack,)
        elif not self._acked(d):
            finals = ()
        elif self.offer_end_ack and end_ack is None:
            finals = (self._ack, ONE if self._ack == ZERO else ZERO)
        else:
            finals = (self._ack,)
        d.offer = Offer(finals, now) if finals else None
        self.ended = d.pid
        return event

    def _complete_nul(self, d: _Decoder, *, exited: bool = False) -> bool:
        """Deliver a message whose client went away (or silent) partway through its NUL, if every bit
        of the NUL that came is a zero (``integrity.complete_nul``).

        A client that gets acks only once it ``exited``, and only with UTF-8 bytes: it took its NUL
        for sent, so its last bit merged at the server with another process's signal and a nudge
        answered it (docs/PROTOCOL.md, "Acks sent again"); a bit lost earlier would have shifted
        the bytes. Silent, it waits for an ack: a nudge, not a guess, serves it."""
        if not self.profile.nul or d.header is not None or d.remaining not in (None, 1):
            return False
        text = first_broken_byte(bytes(d.data)) is None
        if self._acked(d) and not (exited and text):
            return False
        # A length header said this is the NUL: with text before it, any of its bits may be missing.
        repair = complete_nul(d.nbits, d.acc, framed=d.remaining == 1 and text)
        if repair is None:
            return False
        self._deliver(d, d.last_at, repair)
        return True

    def _byte(self, d: _Decoder, byte: int, now: float) -> bool:
        """A byte completed; True when it ended a delivered message."""
        header = d.header
        if header is not None:
            header.append(byte)
            if len(header) < d.header_size:
                return False
            d.header = None
            length = self.profile.header_length(bytes(header))
            if length is None:  # a decimal length with a non-digit in it: the rest cannot be framed
                d.data = header
                self._abort(d, AbortReason.FRAMING, now, skip=True)
                return False
            nul = self.profile.nul
            total = length + (1 if nul and not self.profile.nul_counted else 0)
            if nul:
                total = max(total, 1)
            d.remaining = total
            d.stats.length = total - 1 if nul else total
            if d.stats.length > self.max_bytes:
                self._abort(d, AbortReason.TOO_LARGE, now, skip=True)
                return False
            if total == 0:
                self._deliver(d, now)
                return True
            return False
        remaining = d.remaining
        if remaining is not None:
            remaining -= 1
            d.remaining = remaining
            if remaining:
                if not d.skipping:
                    d.data.append(byte)
                return False
            if d.skipping:
                self._reset(d)
                return False
            if self.profile.nul:
                if byte != 0:
                    d.data.append(byte)
                    self._abort(d, AbortReason.FRAMING, now)
                    return False
            else:
                d.data.append(byte)
            self._deliver(d, now)
            return True
        # NUL-terminated only.
        if byte == 0:
            if d.skipping:
                self._reset(d)
                return False
            self._deliver(d, now)
            return True
        if not d.skipping:
            if len(d.data) >= self.max_bytes:
                self._abort(d, AbortReason.TOO_LARGE, now, skip=True)
            else:
                d.data.append(byte)
        return False

