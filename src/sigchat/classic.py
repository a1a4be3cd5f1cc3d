"""Classic minitalk interoperability: profiles, a per-pid decoder, a sans-IO sender.

Like ``protocol``, nothing here sends a signal, reads a clock or starts a
thread: symbols (``ZERO`` = SIGUSR1, ``ONE`` = SIGUSR2) and the current time
are passed in, and the symbols to send come back.

A *classic* minitalk (the C exercise) sends a message one bit per signal, with
no integrity check. Public implementations differ in a few conventions; a
``Profile`` names one combination of them:

============  =====================================================================
bit order     ``msb`` (each byte most significant bit first, default) or ``lsb``
which is 1    ``usr2=1`` (SIGUSR2 carries a 1 bit, SIGUSR1 a 0: default) or ``usr1=1``
framing       ``nul`` (the message ends with a NUL byte: default), ``len32`` or
              ``len64`` (a 32/64-bit length comes first), or both: ``len32+nul``
              (also written ``len32,nul``). The message is carried byte by byte
              (UTF-8 text as its bytes).
length        ``be`` / ``le``: byte order of the length header. Default: the
              length is sent as one integer in the profile's bit order, i.e.
              ``be`` for ``msb`` and ``le`` for ``lsb``. ``nul-counted``: the
              length includes the final NUL (only with ``len..+nul``).
ack           ``ack=usr1`` (default), ``ack=usr2`` or ``ack=none``: the signal the
              server sends back after every bit. Without acks the client paces
              itself (``usleep`` per bit).
end ack       ``end-ack=usr2`` / ``end-ack=usr1`` / ``end-ack=none`` (default): a
              signal the server sends once a whole message arrived, after the
              last bit's ack.
handshake     ``handshake``: every message starts with one SIGUSR1 that the server
              answers with SIGUSR1.
============  =====================================================================

``parse_profile("lsb,len32")`` gives the default profile with those options
changed; ``str(profile)`` is the canonical spelling, e.g. the default profile is
``msb,usr2=1,nul,ack=usr1``. A NUL byte cannot travel in a ``nul``-only profile
(it ends the message); with a length header any byte can.

Telling classic clients from sigchat senders
============================================

A sigchat sender opens with 8 ONEs (SIGUSR2 x 8): the byte 0xFF in the default
encoding, which never occurs in UTF-8 text. A pid whose first signal is a ZERO,
or that sends fewer than 8 ONEs and then a ZERO, is a classic client; the ONEs
were acked with SIGUSR1 meanwhile, which is the classic per-bit ack, and are
replayed into its decoder. This only works when (1) no classic message of the
profile can start with 8 SIGUSR2 and (2) those SIGUSR1 answers are what the
classic client expects. ``Profile.native_compatible`` says whether both hold; if
not, a server with that profile serves classic clients only (every pid is
decoded as classic, and a sigchat sender's hello is read as classic bits). In
detail, 8 x SIGUSR2 is the byte 0xFF with ``usr2=1`` (never in UTF-8 text, nor
first in a big-endian length under 4 GiB) and 0x00 with ``usr1=1`` (an empty
``nul`` message, or the first byte of almost every big-endian length): so
``usr1=1``, little-endian lengths (``lsb,len32``), and ``ack=usr2`` make a
classic-only server. A ``handshake`` profile is always compatible: its clients
open with SIGUSR1.

The server side
===============

``ClassicServer`` keeps one decoder per pid (clients stream at the same time,
demultiplexed by pid). Bits assemble into bytes per profile; a message ends at
its NUL and/or after its length. It answers each bit with the ack (unless the
I/O layer ``mute``s it because the signal would kill that client), and sends
the end ack after the last bit's ack. A message in progress whose client is
silent for ``timeout`` seconds is ended *incomplete* (``ClassicAborted`` with
the partial bytes; never delivered), and the next signal from that pid starts
a new message, so a lost bit never shifts later messages. A length header above
``max_bytes`` (or a NUL-framed message growing past it) is reported as too
large and the rest of that message is skipped (still acked, so the client
finishes). A ``len..+nul`` message whose byte after the length is not NUL is
reported as a framing error. In a ``handshake`` profile the first SIGUSR1 of
every message is taken as the handshake. A ZERO from a pid whose sigchat
message was delivered moments ago is that sender's resent last bit, not a
classic client (``protocol.Server``).

The I/O layer (``signals.Receiver``) holds a new pid's first reply back for
1 ms: a client that sends its next bit meanwhile paces itself and gets no
replies at all; one that waits gets them once ``/proc`` shows they cannot kill
it (per signal: a client may catch SIGUSR1 and not SIGUSR2).

The line. Standard signals do not queue: the server has one pending slot per
signal, so two senders' SIGUSR1 sent at nearly the same moment become one, and
one sender's bit is lost. A sigchat sender resends it; a classic client cannot
(an acked one then waits for its ack forever). So one classic client at a time
holds the *line* (from its first signal to the end of its message): another
classic client's bit is decoded, but its ack is deferred until the line is free
(an acked client sends nothing while it waits, so it cannot collide), and
``protocol.Server`` ignores the signals of the native session meanwhile, which
to the native protocol is a lost signal: it resends after 0.1-0.8 s, so it
stops competing. Clients without acks cannot be paused: two of them at once, or
one beside other traffic, can still lose bits.

The client side
===============

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

from sigchat.protocol import (
    MAX_GAP_SAMPLES,
    ONE,
    ZERO,
    AbortReason,
    LocalProtocolError,
    MessageDelivered,
    ServerCounters,
    Timing,
    TransferAborted,
    TransferStarted,
    TransferStats,
)

MODE = "classic"
HANDSHAKE = ZERO
"""The handshake signal (SIGUSR1), and its answer."""
DEFAULT_IDLE_TIMEOUT = 1.0
"""Seconds of silence after which a classic message in progress is ended incomplete."""
DEFAULT_ACK_TIMEOUT = 0.2
"""Seconds the client waits for each per-bit ack (and for the handshake answer)."""
DEFAULT_END_TIMEOUT = 5.0
"""Seconds the client waits for the end-of-message ack."""
DEFAULT_PACE = 500e-6
"""Seconds between bits when nothing acks them."""
PROBE_BITS = 8
"""Unacked bits after which the client takes the server for one that never acks."""

_SIGNALS = {"usr1": ZERO, "usr2": ONE}
_NAMES = {ZERO: "usr1", ONE: "usr2"}


class ProfileError(ValueError):
    """A profile text that does not parse, or options that contradict each other."""


# --------------------------------------------------------------------------- profiles


@dataclass(frozen=True)
class Profile:
    """One combination of classic minitalk conventions (see the module docstring)."""

    bit_order: str = "msb"
    one: str = "usr2"
    """The signal that carries a 1 bit."""
    nul: bool = True
    """A NUL byte ends the message."""
    length_bits: int = 0
    """0 (no length header), 32 or 64."""
    length_order: str = ""
    """``be`` or ``le``; empty means the natural order for ``bit_order``."""
    nul_counted: bool = False
    """The length includes the final NUL (``len..+nul`` only)."""
    ack: str | None = "usr1"
    end_ack: str | None = None
    handshake: bool = False

    def __post_init__(self) -> None:
        if self.bit_order not in ("msb", "lsb"):
            raise ProfileError(f"bit order must be msb or lsb, not {self.bit_order!r}")
        for name in ("one", "ack", "end_ack"):
            value = getattr(self, name)
            if value not in _SIGNALS and not (value is None and name != "one"):
                raise ProfileError(f"{name.replace('_', '-')} must be usr1 or usr2, not {value!r}")
        if self.length_bits not in (0, 32, 64):
            raise ProfileError(f"the length header has 32 or 64 bits, not {self.length_bits}")
        if not self.nul and not self.length_bits:
            raise ProfileError("a profile needs a message end: nul, len32, len64, or a length and nul")
        if self.length_bits:
            if not self.length_order:
                object.__setattr__(self, "length_order", "be" if self.bit_order == "msb" else "le")
            elif self.length_order not in ("be", "le"):
                raise ProfileError(f"length byte order must be be or le, not {self.length_order!r}")
        elif self.length_order:
            raise ProfileError(f"{self.length_order!r} (length byte order) needs a length: len32 or len64")
        if self.nul_counted and not (self.nul and self.length_bits):
            raise ProfileError("nul-counted needs both a length and a NUL (len32+nul or len64+nul)")

    # ------------------------------------------------------------------ derived
    @property
    def one_symbol(self) -> int:
        return _SIGNALS[self.one]

    @property
    def ack_symbol(self) -> int | None:
        return None if self.ack is None else _SIGNALS[self.ack]

    @property
    def end_ack_symbol(self) -> int | None:
        return None if self.end_ack is None else _SIGNALS[self.end_ack]

    @property
    def framing(self) -> str:
        if not self.length_bits:
            return "nul"
        return f"len{self.length_bits}" + ("+nul" if self.nul else "")

    @property
    def native_compatible(self) -> bool:
        """Whether native sigchat senders can be served alongside this profile (module docstring)."""
        if self.handshake:
            return True
        signature_byte = 0xFF if self.one == "usr2" else 0x00
        if self.length_bits:
            # The first byte is the length's top byte (be) or its low byte (le).
            can_start = self.length_order == "le" or signature_byte == 0x00
        else:
            can_start = signature_byte == 0x00  # an empty message; 0xFF is not UTF-8
        harmless_acks = self.ack == "usr1" or (self.ack is None and self.end_ack != "usr1")
        return not can_start and harmless_acks

    def __str__(self) -> str:
        parts = [self.bit_order, f"{self.one}=1", self.framing]
        if self.length_bits:
            parts.append(self.length_order)
            if self.nul_counted:
                parts.append("nul-counted")
        parts.append(f"ack={self.ack or 'none'}")
        if self.end_ack is not None:
            parts.append(f"end-ack={self.end_ack}")
        if self.handshake:
            parts.append("handshake")
        return ",".join(parts)

    def describe(self) -> str:
        """One line in words, for help texts and the UI."""
        one = "SIGUSR2" if self.one == "usr2" else "SIGUSR1"
        zero = "SIGUSR1" if self.one == "usr2" else "SIGUSR2"
        if self.length_bits:
            end = f"a {self.length_bits}-bit {'big' if self.length_order == 'be' else 'little'}-endian length first"
            if self.nul:
                end += " and a final NUL" + (" (counted in the length)" if self.nul_counted else "")
        else:
            end = "NUL-terminated"
        ack = f"each bit acked with SIG{self.ack.upper()}" if self.ack else "no per-bit ack"
        extra = f", end-of-message ack SIG{self.end_ack.upper()}" if self.end_ack else ""
        hs = ", SIGUSR1 handshake" if self.handshake else ""
        return f"{self.bit_order.upper()} first, {one} = 1 / {zero} = 0, {end}, {ack}{extra}{hs}"


DEFAULT_PROFILE = Profile()

_SYNTAX = (
    "msb|lsb, usr2=1|usr1=1, nul|len32|len64|len32+nul|len64+nul, be|le, nul-counted, "
    "ack=usr1|usr2|none, end-ack=usr1|usr2|none, handshake"
)


def parse_profile(text: str) -> Profile:
    """``"lsb,len32"`` -> ``Profile``; the default profile's options fill in the rest.

    Options are separated by commas; ``default`` (or nothing) is the default profile.
    """
    values: dict[str, object] = {}
    framing: set[str] = set()
    seen: dict[str, str] = {}

    def put(key: str, value: object, token: str) -> None:
        if key in seen and values[key] != value:
            raise ProfileError(f"conflicting options {seen[key]!r} and {token!r}")
        seen[key] = token
        values[key] = value

    for raw in text.split(","):
        token = raw.strip().lower()
        if token in ("", "default", "classic"):
            continue
        if token in ("msb", "lsb"):
            put("bit_order", token, token)
        elif token in ("usr1=1", "usr2=0"):
            put("one", "usr1", token)
        elif token in ("usr2=1", "usr1=0"):
            put("one", "usr2", token)
        elif token in ("be", "le"):
            put("length_order", token, token)
        elif token in ("nul-counted", "len-counts-nul"):
            put("nul_counted", True, token)
        elif token == "handshake":
            put("handshake", True, token)
        elif token.startswith(("ack=", "end-ack=")):
            key, _, value = token.partition("=")
            if value not in ("usr1", "usr2", "none"):
                raise ProfileError(f"{token!r}: {key} must be usr1, usr2 or none")
            put(key.replace("-", "_"), None if value == "none" else value, token)
        elif all(part in ("nul", "len32", "len64") for part in token.split("+")):
            framing.update(token.split("+"))
        else:
            raise ProfileError(f"unknown profile option {token!r} (options: {_SYNTAX})")
    if framing:
        if {"len32", "len64"} <= framing:
            raise ProfileError("conflicting options 'len32' and 'len64'")
        values["nul"] = "nul" in framing
        values["length_bits"] = 64 if "len64" in framing else 32 if "len32" in framing else 0
    return Profile(**values)


# --------------------------------------------------------------------------- encoding


def message_bytes(data: bytes, profile: Profile) -> bytes:
    """What travels: length header, the message, the NUL (per profile)."""
    if profile.nul and not profile.length_bits and 0 in data:
        raise LocalProtocolError(
            f"a NUL byte (at offset {data.index(0)}) cannot travel in a NUL-terminated profile: it would end the message"
        )
    header = b""
    if profile.length_bits:
        length = len(data) + (1 if profile.nul_counted else 0)
        if length >= 1 << profile.length_bits:
            raise LocalProtocolError(f"message too long for a {profile.length_bits}-bit length")
        header = length.to_bytes(profile.length_bits // 8, "big" if profile.length_order == "be" else "little")
    return header + bytes(data) + (b"\0" if profile.nul else b"")


def encode(data: bytes, profile: Profile) -> list[int]:
    """The symbols (``ZERO`` = SIGUSR1, ``ONE`` = SIGUSR2) that carry ``data``, handshake excluded."""
    one = profile.one_symbol
    shifts = range(7, -1, -1) if profile.bit_order == "msb" else range(8)
    return [one if (byte >> shift) & 1 else one ^ 1 for byte in message_bytes(data, profile) for shift in shifts]


# --------------------------------------------------------------------------- server events


class ClassicStarted(TransferStarted):
    """A classic client's first signal of a message arrived."""

    __slots__ = ("profile",)

    def __init__(self, pid: int, at: float, mode: str = MODE, profile: str = "") -> None:
        super().__init__(pid, at, mode)
        self.profile = profile


class ClassicDelivered(MessageDelivered):
    """A whole classic message arrived (no integrity check exists in classic minitalk)."""

    __slots__ = ("profile",)

    def __init__(
        self, pid: int, data: bytes, stats: TransferStats, duplicate: bool = False, mode: str = MODE, profile: str = ""
    ) -> None:
        super().__init__(pid, data, stats, duplicate, mode)
        self.profile = profile


class ClassicAborted(TransferAborted):
    """A classic message ended without a delivery: ``partial`` holds what arrived."""

    __slots__ = ("profile",)

    def __init__(
        self, pid: int, reason: AbortReason, stats: TransferStats, partial: bytes = b"", mode: str = MODE, profile: str = ""
    ) -> None:
        super().__init__(pid, reason, stats, partial, mode)
        self.profile = profile


# --------------------------------------------------------------------------- server side


class _Decoder:
    """One classic client's state. ``stats`` is ``None`` between messages."""

    __slots__ = ("pid", "stats", "acc", "nbits", "header", "remaining", "data", "skipping", "last_at", "muted")

    def __init__(self, pid: int, now: float) -> None:
        self.pid = pid
        self.stats: TransferStats | None = None
        self.acc = 0
        self.nbits = 0
        self.header: bytearray | None = None
        self.remaining: int | None = None
        self.data = bytearray()
        self.skipping = False
        self.last_at = now
        self.muted: set[int] = set()


class ClassicServer:
    """Per-pid classic decoders; ``protocol.Server`` routes classic pids here.

    Events go to ``events`` and extra signals (the end ack) to ``outbox`` as
    ``(pid, symbol)``; both lists are shared with the owning ``protocol.Server``.
    ``receive`` returns the symbol to send back (the ack), or ``None``.
    """

    def __init__(
        self,
        profile: Profile,
        events: list | None = None,
        outbox: list | None = None,
        counters: ServerCounters | None = None,
        *,
        max_bytes: int = 16 * 1024 * 1024,
        timeout: float = DEFAULT_IDLE_TIMEOUT,
    ) -> None:
        self.profile = profile
        self.name = str(profile)
        self.native = profile.native_compatible
        self.events = events if events is not None else []
        self.outbox = outbox if outbox is not None else []
        self.counters = counters if counters is not None else ServerCounters()
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.decoders: dict[int, _Decoder] = {}
        self.holder: int | None = None
        """The classic client that is mid-message (holds the line), if any."""
        self.waiting: dict[int, int | None] = {}
        """Paused clients, first come first served: pid -> the ack they wait for."""
        self._flip = 0 if profile.one == "usr2" else 1
        self._lsb = profile.bit_order == "lsb"
        self._header_bytes = profile.length_bits // 8
        self._byteorder = "big" if profile.length_order == "be" else "little"
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
        reply = self._decode(d, symbol, now)
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
                return self._answer(d, HANDSHAKE)
        stats.signals_received += 1
        stats.bits += 1
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

    def sender_gone(self, pid: int, now: float) -> None:
        d = self.decoders.pop(pid, None)
        self.waiting.pop(pid, None)
        if d is not None and d.stats is not None and not d.skipping:
            self._abort(d, AbortReason.SENDER_GONE, d.last_at)
        if pid == self.holder:
            self._release(now)

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
            if reply is not None:
                self.outbox.append((pid, reply))
            return

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
        d.header = bytearray() if self._header_bytes else None
        d.remaining = None
        d.data = bytearray()
        d.skipping = False
        d.acc = 0
        d.nbits = 0
        self.events.append(ClassicStarted(d.pid, now, profile=self.name))
        return stats

    def _reset(self, d: _Decoder) -> None:
        d.stats = None
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
        else:
            self._abort(d, AbortReason.INCOMPLETE, d.last_at)

    def _abort(self, d: _Decoder, reason: AbortReason, at: float, *, skip: bool = False) -> None:
        stats = d.stats
        stats.ended_at = at
        self.counters.aborted += 1
        self.events.append(ClassicAborted(d.pid, reason, stats, bytes(d.data), profile=self.name))
        if skip:
            d.skipping = True
            d.data = bytearray()
        else:
            self._reset(d)

    def _deliver(self, d: _Decoder, now: float) -> None:
        stats = d.stats
        stats.ended_at = now
        stats.length = len(d.data)
        counters = self.counters
        counters.delivered += 1
        counters.bytes += len(d.data)
        self.events.append(ClassicDelivered(d.pid, bytes(d.data), stats, profile=self.name))
        self._reset(d)

    def _byte(self, d: _Decoder, byte: int, now: float) -> bool:
        """A byte completed; True when it ended a delivered message."""
        header = d.header
        if header is not None:
            header.append(byte)
            if len(header) < self._header_bytes:
                return False
            d.header = None
            length = int.from_bytes(header, self._byteorder)
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


def warm_up(profile: Profile) -> None:
    """Decode a short message on scratch state (CPython runs code slowly the first time)."""
    server = ClassicServer(profile, timeout=1.0)
    symbols = ([HANDSHAKE] if profile.handshake else []) + encode(b"warm-up", profile)
    for index, symbol in enumerate(symbols):
        server.receive(1, symbol, index * 1e-4)
        server.receive(2, symbol, index * 1e-4)
    server.progress()
    server.tick(10.0)


# --------------------------------------------------------------------------- client side


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
            if symbol == HANDSHAKE:
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
