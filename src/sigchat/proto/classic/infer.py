"""Which classic profile a peer follows, told from the signals themselves. Sans-IO.

* ``infer_client(symbols, message)``: a client sent ``symbols`` (``ZERO`` =
  SIGUSR1, ``ONE`` = SIGUSR2, in arrival order) for a ``message`` we know:
  which profiles encode that message as those symbols, best first, each with
  how sure it is. Only what the client's own signals show is inferred (bit
  order, which signal is 1, framing, length width and byte order, whether the
  length counts the NUL, the handshake); the acks it waits for are told by
  how it behaves (the checker tries them), not by what it sends.
* ``infer_server_acks(replies)``: what a server sent back after each of our
  bits: which signal acks a bit, and which (if any) ends a message.
* ``infer_stream(symbols)``: the same without knowing the message: which
  profiles decode a client's signals as clean text (valid UTF-8 without
  control characters but tab, newline and CR), complete messages and at most
  one in progress at the end, best first. ``sigchat-server --classic auto``
  learns its profile this way, and a server of another profile names it in a
  hint ("looks like lsb,len32+nul": ``proto.classic.auto``).
* ``compare(expected, got)``: the first place where two symbol sequences part,
  and what happened there (one signal lost, one extra, one flipped, cut short).

``sigchat-check`` uses ``infer_client``, ``infer_server_acks`` and ``compare``.
Decoding reuses ``proto.classic.server.ClassicServer`` on scratch state: one
decoder, never a second copy of the framing rules.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sigchat.proto.base import LocalProtocolError
from sigchat.proto.classic.profile import HANDSHAKE, Profile, ProfileError, encode, message_bytes, parse_profile
from sigchat.proto.classic.server import ClassicServer
from sigchat.proto.events import MessageDelivered, TransferAborted
from sigchat.proto.wire import DEFAULT_MAX_BYTES, ONE, ZERO

FRAMINGS = ("nul", "len32", "len64", "len32+nul", "len64+nul", "len-typed", "len-typed+nul", "dec10", "dec10+nul")
"""Framings to try, most common first; those this version's profiles do not know are skipped."""


def client_candidates() -> Iterator[Profile]:
    """Every profile a client's own signals can tell apart (acks left at the default), each once."""
    seen: set[str] = set()
    for framing in FRAMINGS:
        for order in ("msb", "lsb"):
            for one in ("usr2=1", "usr1=1"):
                for length_order in ("", "be", "le"):
                    for counted in ("", "nul-counted"):
                        for handshake in ("", "handshake"):
                            text = ",".join(t for t in (order, one, framing, length_order, counted, handshake) if t)
                            try:
                                profile = parse_profile(text)
                            except ProfileError:
                                continue
                            if str(profile) not in seen:
                                seen.add(str(profile))
                                yield profile


def expected_symbols(message: bytes, profile: Profile) -> list[int]:
    """What a client of ``profile`` sends for ``message``: the handshake's SIGUSR1, then the bits."""
    return ([HANDSHAKE] if profile.handshake else []) + encode(message, profile)


@dataclass(frozen=True)
class ClientMatch:
    """One candidate profile for a client: ``errors`` symbols differ from what it would send."""

    profile: Profile
    errors: int
    confidence: float
    """0..1: 1 is an exact match that no other profile shares."""


def infer_client(symbols: Sequence[int], message: bytes, *, most: int = 3) -> list[ClientMatch]:
    """The profiles that explain ``symbols`` as ``message`` best, best first (at most ``most``).

    Exact matches first; without one, the nearest by edit distance (signals
    lost or merged on the way shift everything after them).
    """
    got = list(symbols)
    expected = []
    for profile in client_candidates():
        try:
            expected.append((profile, expected_symbols(message, profile)))
        except LocalProtocolError:
            continue
    if not expected:
        return []
    exact = [profile for profile, want in expected if want == got]
    if exact:
        return [ClientMatch(profile, 0, round(1 / len(exact), 3)) for profile in exact[:most]]
    scored = sorted(
        ((edit_distance(want, got), str(profile), profile, len(want)) for profile, want in expected), key=lambda item: item[:2]
    )
    return [
        ClientMatch(profile, errors, round(0.9 * max(0.0, 1 - errors / max(length, 1)) * (1 if rank == 0 else 0.5), 3))
        for rank, (errors, _, profile, length) in enumerate(scored[:most])
    ]


BAND = 24
"""The most lost or extra signals ``edit_distance`` tells apart (beyond, it only says "far")."""


def edit_distance(a: Sequence[int], b: Sequence[int]) -> int:
    """Signals to delete, insert or change to make ``a`` into ``b`` (Levenshtein, within a band of ``BAND``)."""
    if abs(len(a) - len(b)) > BAND:
        return max(len(a), len(b))
    far = max(len(a), len(b))
    previous = {j: j for j in range(min(len(b), BAND) + 1)}
    for i in range(1, len(a) + 1):
        current = {}
        for j in range(max(0, i - BAND), min(len(b), i + BAND) + 1):
            if j == 0:
                current[j] = i
                continue
            cost = previous.get(j - 1, far) + (a[i - 1] != b[j - 1])
            current[j] = min(cost, previous.get(j, far) + 1, current.get(j - 1, far) + 1)
        previous = current
    return min(previous.get(len(b), far), far)


# --------------------------------------------------------------------------- an unknown message

_CONTROLS = frozenset(range(32)) - {9, 10, 13} | {127}


def clean_text(data: bytes, *, partial: bool = False) -> bool:
    """Whether ``data`` reads as text: valid UTF-8 without control characters (tab, newline and
    CR excepted). ``partial``: the start of a message, which may stop inside a character."""
    if _CONTROLS.intersection(data):
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        # A character cut at the end (the rest not come yet) is fine in a message still arriving.
        return partial and error.reason == "unexpected end of data"
    return True


@dataclass(frozen=True)
class StreamMatch:
    """One profile under which a client's signals read as clean text."""

    profile: Profile
    messages: tuple[bytes, ...]
    """The complete messages, in order."""
    partial: bool
    """A message was still in progress when the signals ended."""
    confidence: float
    """0..1: 1 when no other profile reads the signals as clean text as well as this one."""


CHECK_EVERY = 16
"""Signals between two looks at the message a candidate decodes so far (most fail within a few bytes)."""
CHECK_UNTIL = 4096
"""Signals after which only complete messages are looked at (each look copies the message so far)."""
SCREEN = 4096
"""``infer_stream`` reads this many signals with every profile, the whole stream with those that pass."""


def _read_as(profile: Profile, symbols: Sequence[int], max_bytes: int) -> tuple[list[bytes], bool] | None:
    """``symbols`` decoded by a scratch ``ClassicServer`` of ``profile``: the complete messages and
    whether one is in progress at the end; ``None`` as soon as anything is not clean text."""
    server = ClassicServer(profile, max_bytes=max_bytes, timeout=float("inf"))
    events = server.events
    messages: list[bytes] = []
    pid = 1
    for index, symbol in enumerate(symbols):
        server.receive(pid, symbol, index * 1e-6)
        if events:
            for event in events:
                if isinstance(event, TransferAborted):
                    return None
                if isinstance(event, MessageDelivered):
                    if not clean_text(event.data):
                        return None
                    messages.append(event.data)
            events.clear()
        if index % CHECK_EVERY == 0 and index < CHECK_UNTIL:
            so_far = server.snapshot(pid)
            if so_far is not None and not clean_text(so_far[0], partial=True):
                return None
    so_far = server.snapshot(pid)
    if so_far is not None and not clean_text(so_far[0], partial=True):
        return None
    return messages, so_far is not None


def infer_stream(
    symbols: Sequence[int], *, max_bytes: int = DEFAULT_MAX_BYTES, most: int = 3, cut: bool = False
) -> list[StreamMatch]:
    """The profiles that read ``symbols`` (a classic client's signals in arrival order, from its
    first) as clean text, best first, at most ``most``; empty when none does.

    Best: no message left in progress, then the fewest empty messages (a wrong length width or
    framing reads zero bytes of a header as empty messages), then the fewest message bytes (a
    framing that explains more signals as structure: a decimal length read as text otherwise),
    then the fewest messages, then the most common conventions (``client_candidates``' order).
    ``cut``: the
    signals are the start of a longer stream (a message in progress at the end is then no flaw).
    Only what the client's signals show is told (bit order, which signal is 1, framing, length width and
    byte order, whether the length counts the NUL, the handshake); acks stay the default.
    """
    ranked = []
    screen = symbols[:SCREEN]
    for rank, profile in enumerate(client_candidates()):
        # Most profiles fail within a few bytes: only those that read the screen as clean text read it all.
        read = _read_as(profile, screen, max_bytes)
        if read is not None and len(symbols) > SCREEN:
            read = _read_as(profile, symbols, max_bytes)
        if read is None:
            continue
        messages, partial = read
        if not messages and not partial:
            continue
        key = (partial and not cut, sum(1 for m in messages if not m), sum(map(len, messages)), len(messages))
        ranked.append((key, rank, profile, messages, partial))
    ranked.sort(key=lambda item: item[:2])
    if not ranked:
        return []
    best_key = ranked[0][0]
    # Profiles that read the same messages are no doubt about these signals (an optional
    # handshake that did not come, say): the earlier, more common one stands for them.
    tied = len({tuple(item[3]) for item in ranked if item[0] == best_key})
    if not any(ranked[0][3]):
        tied = max(tied, 2)  # only empty messages (zero bits): nearly any profile reads them so
    return [
        StreamMatch(profile, tuple(messages), partial, round(1 / tied if key == best_key else 0.5 / len(ranked), 3))
        for key, _, profile, messages, partial in ranked[:most]
    ]


# --------------------------------------------------------------------------- server replies


@dataclass(frozen=True)
class ServerAcks:
    """What a server's replies say about it."""

    ack: str | None
    """The signal that acks a bit (``usr1``/``usr2``), or ``None``: it never acked."""
    end_ack: str | None
    """A different signal, or a second one, after the last bit."""
    acked: int
    """Bits answered with ``ack``."""
    bits: int

    @property
    def every_bit(self) -> bool:
        return self.ack is not None and self.acked == self.bits


_NAMES = {ZERO: "usr1", ONE: "usr2"}


def infer_server_acks(replies: Sequence[Sequence[int]]) -> ServerAcks:
    """``replies[k]``: the signals a server sent after our bit ``k`` and before our next one (after the
    last bit: until we stopped listening)."""
    bits = len(replies)
    firsts = Counter(r[0] for r in replies[:-1] if r) if bits > 1 else Counter(r[0] for r in replies if r)
    if not firsts:
        last = replies[-1] if replies else []
        return ServerAcks(None, _NAMES[last[0]] if last else None, 0, bits)
    ack_symbol = firsts.most_common(1)[0][0]
    acked = sum(1 for r in replies if r and r[0] == ack_symbol)
    last = list(replies[-1]) if replies else []
    if last and last[0] == ack_symbol:
        last = last[1:]
    end = _NAMES[last[0]] if last else None
    return ServerAcks(_NAMES[ack_symbol], end, acked, bits)


# --------------------------------------------------------------------------- where two sequences part


@dataclass(frozen=True)
class Difference:
    """Where ``got`` first differs from ``expected``, and how (``kind``).

    ``kind``: ``same``; ``lost`` (one signal missing at ``index``: what
    follows matches once it is put back, to the end or for ``WINDOW``
    signals), ``extra`` (one signal too many at ``index``), ``flipped`` (one
    signal is the other one), ``short`` (``got``
    stops at ``index``, what came matches), ``long`` (all of ``expected``, then
    more), ``garbled`` (none of these).
    """

    kind: str
    index: int
    expected: int | None
    got: int | None


WINDOW = 32
"""Signals after a fault that must match for it to be named (a lost signal is rarely the only one)."""


def compare(expected: Sequence[int], got: Sequence[int]) -> Difference:
    n = min(len(expected), len(got))
    index = next((i for i in range(n) if expected[i] != got[i]), n)
    want = expected[index] if index < len(expected) else None
    have = got[index] if index < len(got) else None
    if index == n:
        if len(expected) == len(got):
            return Difference("same", index, None, None)
        return Difference("short" if len(got) < len(expected) else "long", index, want, have)
    if _agree(got[index:], expected[index + 1 :]):
        # A signal lost in a merge went missing from a run of equal signals: name the run's start.
        start = index
        while start > 0 and expected[start - 1] == want:
            start -= 1
        return Difference("lost", start, want, None)
    if _agree(got[index + 1 :], expected[index:]):
        return Difference("extra", index, want, have)
    if _agree(got[index + 1 :], expected[index + 1 :]):
        return Difference("flipped", index, want, have)
    return Difference("garbled", index, want, have)


def _agree(got: Sequence[int], expected: Sequence[int]) -> bool:
    """The same to the end, or for ``WINDOW`` signals (a second fault may follow)."""
    if len(got) < WINDOW or len(expected) < WINDOW:
        return list(got) == list(expected)
    return list(got[:WINDOW]) == list(expected[:WINDOW])


def bit_position(index: int, profile: Profile, message_length: int) -> tuple[str, int, int]:
    """Symbol ``index`` of a message as ``(part, byte, bit)``: ``part`` is ``handshake``, ``length``,
    ``message`` or ``nul``; ``byte`` counts from 0 within that part, ``bit`` in the order sent."""
    if profile.handshake:
        if index == 0:
            return "handshake", 0, 0
        index -= 1
    header = len(message_bytes(b"", profile)) - (1 if profile.nul else 0)
    byte, bit = divmod(index, 8)
    if byte < header:
        return "length", byte, bit
    byte -= header
    if byte < message_length:
        return "message", byte, bit
    return "nul", byte - message_length, bit
