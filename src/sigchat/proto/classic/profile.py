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
"""

from __future__ import annotations

from dataclasses import dataclass

from sigchat.proto.base import LocalProtocolError
from sigchat.proto.wire import ONE, ZERO

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

SYNTAX = (
    "msb|lsb, usr2=1|usr1=1, nul|len32|len64|len32+nul|len64+nul, be|le, nul-counted, "
    "ack=usr1|usr2|none, end-ack=usr1|usr2|none, handshake"
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
            raise ProfileError(f"unknown profile option {token!r} (options: {SYNTAX})")
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
