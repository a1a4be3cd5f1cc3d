"""Classic minitalk profiles: which conventions a classic client or server follows.

Sans-IO, like all of ``sigchat.proto``. This module is the one source of the
profile syntax (``SYNTAX``, used by every help text) and of the classic
defaults; docs/PROTOCOL.md, "Classic minitalk clients", is the spec of how
they are served.

A *classic* minitalk (the C exercise) sends a message one bit per signal, with
no integrity check. Public implementations differ in a few conventions; a
``Profile`` names one combination of them:

============  =====================================================================
bit order     ``msb`` (each byte most significant bit first, default) or ``lsb``
which is 1    ``usr2=1`` (SIGUSR2 carries a 1 bit, SIGUSR1 a 0: default) or ``usr1=1``
framing       ``nul`` (the message ends with a NUL byte: default), ``len32`` or
              ``len64`` (a 32/64-bit length comes first), or both: ``len32+nul``
              (also written ``len32,nul``). ``len-typed``: one signal first
              says how wide the length is (SIGUSR1: 32 bits, SIGUSR2: 64 bits;
              a sender picks 32 when the length fits). ``dec10``: the length
              as 10 ASCII decimal digits, zero-padded, sent like message bytes.
              The message is carried byte by byte (UTF-8 text as its bytes).
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
              answers with SIGUSR1; ``handshake=usr2``: answered with SIGUSR2.
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
``usr1=1``, little-endian lengths (``lsb,len32``), ``len-typed`` without a
handshake, and ``ack=usr2`` make a classic-only server. ``dec10`` starts with
an ASCII digit, never 0xFF or 0x00. A ``handshake`` profile is always
compatible: its clients open with SIGUSR1.
"""

from __future__ import annotations

from dataclasses import dataclass

from sigchat.proto.base import LocalProtocolError
from sigchat.proto.wire import ONE, ZERO

HANDSHAKE = ZERO
"""The handshake signal (SIGUSR1), and its default answer."""
LENGTH_TYPES = {ZERO: 32, ONE: 64}
"""``len-typed``: the signal that opens the length header -> the length's width in bits."""
DECIMAL_DIGITS = 10
"""``dec10``: how many ASCII digits carry the length."""
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

DEFAULT_ACK = "usr1"
"""The per-bit ack of almost every classic server (and the answer to every handshake)."""

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
    length_typed: bool = False
    """``len-typed``: a signal picks the length's width per message (``LENGTH_TYPES``)."""
    length_digits: int = 0
    """``dec10``: the length travels as this many ASCII decimal digits (0: not)."""
    ack: str | None = DEFAULT_ACK
    end_ack: str | None = None
    handshake: bool = False
    handshake_reply: str = "usr1"
    """The signal that answers the handshake."""

    def __post_init__(self) -> None:
        if self.bit_order not in ("msb", "lsb"):
            raise ProfileError(f"bit order must be msb or lsb, not {self.bit_order!r}")
        for name in ("one", "ack", "end_ack", "handshake_reply"):
            value = getattr(self, name)
            if value not in _SIGNALS and not (value is None and name in ("ack", "end_ack")):
                raise ProfileError(f"{name.replace('_', '-')} must be usr1 or usr2, not {value!r}")
        if self.length_bits not in (0, 32, 64):
            raise ProfileError(f"the length header has 32 or 64 bits, not {self.length_bits}")
        if self.length_digits not in (0, DECIMAL_DIGITS):
            raise ProfileError(f"a decimal length has {DECIMAL_DIGITS} digits, not {self.length_digits}")
        if sum((bool(self.length_bits), self.length_typed, bool(self.length_digits))) > 1:
            raise ProfileError("a profile has one length header: len32, len64, len-typed or dec10")
        if not self.nul and not self.has_length:
            raise ProfileError("a profile needs a message end: nul, a length (len32, len64, len-typed, dec10), or both")
        if self.handshake_reply != "usr1" and not self.handshake:
            raise ProfileError("handshake=usr2 is the handshake's answer: it needs a handshake")
        if self.length_bits or self.length_typed:
            if not self.length_order:
                object.__setattr__(self, "length_order", "be" if self.bit_order == "msb" else "le")
            elif self.length_order not in ("be", "le"):
                raise ProfileError(f"length byte order must be be or le, not {self.length_order!r}")
        elif self.length_order:
            raise ProfileError(f"{self.length_order!r} (length byte order) needs a binary length: len32, len64 or len-typed")
        if self.nul_counted and not (self.nul and self.has_length):
            raise ProfileError("nul-counted needs both a length and a NUL (e.g. len32+nul)")

    # ------------------------------------------------------------------ derived
    @property
    def has_length(self) -> bool:
        """Whether a length header comes first."""
        return bool(self.length_bits or self.length_typed or self.length_digits)

    @property
    def handshake_symbol(self) -> int:
        """The server's answer to the handshake."""
        return _SIGNALS[self.handshake_reply]

    def length_header(self, length: int) -> tuple[int | None, bytes]:
        """What announces ``length``: the ``len-typed`` width signal (else ``None``) and the header bytes."""
        if self.length_digits:
            if length >= 10**self.length_digits:
                raise LocalProtocolError(f"message too long for a {self.length_digits}-digit length")
            return None, b"%0*d" % (self.length_digits, length)
        width_signal = None
        bits = self.length_bits
        if self.length_typed:
            width_signal = ZERO if length < 1 << 32 else ONE
            bits = LENGTH_TYPES[width_signal]
        if length >= 1 << bits:
            raise LocalProtocolError(f"message too long for a {bits}-bit length")
        return width_signal, length.to_bytes(bits // 8, "big" if self.length_order == "be" else "little")

    def header_size(self, width_signal: int | None = None) -> int:
        """Bytes of the length header (``len-typed``: for that width signal); 0 without a length."""
        if self.length_digits:
            return self.length_digits
        if self.length_typed:
            return LENGTH_TYPES[width_signal] // 8 if width_signal is not None else 0
        return self.length_bits // 8

    def header_length(self, header: bytes) -> int | None:
        """The length a complete header says; ``None`` when a decimal header holds a non-digit."""
        if self.length_digits:
            return int(header) if header.isdigit() else None
        return int.from_bytes(header, "big" if self.length_order == "be" else "little")

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
        if not self.has_length:
            return "nul"
        if self.length_digits:
            header = f"dec{self.length_digits}"
        else:
            header = "len-typed" if self.length_typed else f"len{self.length_bits}"
        return header + ("+nul" if self.nul else "")

    @property
    def native_compatible(self) -> bool:
        """Whether native sigchat senders can be served alongside this profile (module docstring)."""
        if self.handshake:
            return True
        signature_byte = 0xFF if self.one == "usr2" else 0x00
        if self.length_typed:
            can_start = True  # the width signal, then the low bits of the length: anything goes
        elif self.length_digits:
            can_start = False  # an ASCII digit
        elif self.length_bits:
            # The first byte is the length's top byte (be) or its low byte (le).
            can_start = self.length_order == "le" or signature_byte == 0x00
        else:
            can_start = signature_byte == 0x00  # an empty message; 0xFF is not UTF-8
        harmless_acks = self.ack == "usr1" or (self.ack is None and self.end_ack != "usr1")
        return not can_start and harmless_acks

    def __str__(self) -> str:
        return self._text(short=False)

    def short(self) -> str:
        """The fewest options that parse back to this profile (the defaults left out), for hints."""
        return self._text(short=True)

    def _text(self, *, short: bool) -> str:
        """The canonical text (every option spelled out), or ``short``: only what differs from the defaults."""
        natural = "le" if self.bit_order == "lsb" else "be"
        parts = [self.bit_order]
        if not short or self.one != "usr2":
            parts.append(f"{self.one}=1")
        parts.append(self.framing)
        if self.length_order and not (short and self.length_order == natural):
            parts.append(self.length_order)
        if self.nul_counted:
            parts.append("nul-counted")
        if not short or self.ack != DEFAULT_ACK:
            parts.append(f"ack={self.ack or 'none'}")
        if self.end_ack is not None:
            parts.append(f"end-ack={self.end_ack}")
        if self.handshake:
            parts.append("handshake" if self.handshake_reply == "usr1" else f"handshake={self.handshake_reply}")
        return ",".join(parts)

    def describe(self) -> str:
        """One line in words, for help texts and the UI."""
        one = "SIGUSR2" if self.one == "usr2" else "SIGUSR1"
        zero = "SIGUSR1" if self.one == "usr2" else "SIGUSR2"
        if self.has_length:
            endian = "big" if self.length_order == "be" else "little"
            if self.length_digits:
                end = f"the length as {self.length_digits} decimal digits first"
            elif self.length_typed:
                end = f"a {endian}-endian length first, 32-bit after SIGUSR1 or 64-bit after SIGUSR2"
            else:
                end = f"a {self.length_bits}-bit {endian}-endian length first"
            if self.nul:
                end += " and a final NUL" + (" (counted in the length)" if self.nul_counted else "")
        else:
            end = "NUL-terminated"
        ack = f"each bit acked with SIG{self.ack.upper()}" if self.ack else "no per-bit ack"
        extra = f", end-of-message ack SIG{self.end_ack.upper()}" if self.end_ack else ""
        hs = f", SIGUSR1 handshake answered with SIG{self.handshake_reply.upper()}" if self.handshake else ""
        return f"{self.bit_order.upper()} first, {one} = 1 / {zero} = 0, {end}, {ack}{extra}{hs}"


DEFAULT_PROFILE = Profile()

SYNTAX = (
    "msb|lsb, usr2=1|usr1=1, nul|len32|len64|len-typed|dec10 (a length, +nul for both), be|le, nul-counted, "
    "ack=usr1|usr2|none, end-ack=usr1|usr2|none, handshake|handshake=usr2"
)
"""Every profile option, for help texts and error messages (the one place they are listed)."""


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
        elif token in ("handshake", "handshake=usr1", "handshake=usr2"):
            put("handshake", True, token)
            put("handshake_reply", token.partition("=")[2] or "usr1", token)
        elif token.startswith(("ack=", "end-ack=")):
            key, _, value = token.partition("=")
            if value not in ("usr1", "usr2", "none"):
                raise ProfileError(f"{token!r}: {key} must be usr1, usr2 or none")
            put(key.replace("-", "_"), None if value == "none" else value, token)
        elif all(part in _FRAMINGS for part in token.split("+")):
            framing.update(token.split("+"))
        else:
            raise ProfileError(f"unknown profile option {token!r} (options: {SYNTAX})")
    if framing:
        headers = sorted(framing - {"nul"})
        if len(headers) > 1:
            raise ProfileError(f"conflicting options {headers[0]!r} and {headers[1]!r}")
        values["nul"] = "nul" in framing
        values["length_bits"] = 64 if "len64" in framing else 32 if "len32" in framing else 0
        values["length_typed"] = "len-typed" in framing
        values["length_digits"] = DECIMAL_DIGITS if f"dec{DECIMAL_DIGITS}" in framing else 0
    return Profile(**values)


_FRAMINGS = ("nul", "len32", "len64", "len-typed", f"dec{DECIMAL_DIGITS}")


# --------------------------------------------------------------------------- encoding


def message_bytes(data: bytes, profile: Profile) -> bytes:
    """What travels: length header, the message, the NUL (per profile)."""
    return _framed(data, profile)[1]


def _framed(data: bytes, profile: Profile) -> tuple[int | None, bytes]:
    if profile.nul and not profile.has_length and 0 in data:
        raise LocalProtocolError(
            f"a NUL byte (at offset {data.index(0)}) cannot travel in a NUL-terminated profile: it would end the message"
        )
    width_signal, header = None, b""
    if profile.has_length:
        width_signal, header = profile.length_header(len(data) + (1 if profile.nul_counted else 0))
    return width_signal, header + bytes(data) + (b"\0" if profile.nul else b"")


def encode(data: bytes, profile: Profile) -> list[int]:
    """The symbols (``ZERO`` = SIGUSR1, ``ONE`` = SIGUSR2) that carry ``data``, handshake excluded
    (a ``len-typed`` width signal first)."""
    width_signal, framed = _framed(data, profile)
    one = profile.one_symbol
    shifts = range(7, -1, -1) if profile.bit_order == "msb" else range(8)
    bits = [one if (byte >> shift) & 1 else one ^ 1 for byte in framed for shift in shifts]
    return bits if width_signal is None else [width_signal, *bits]
