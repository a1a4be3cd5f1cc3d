"""Telling a classic client's profile from its signals: ``--classic auto`` and the profile hint. Sans-IO.

``LearningClassicServer`` is the ``ClassicServer`` that ``proto.server.Server``
runs. Beside decoding it keeps each classic client's first ``RAW_LIMIT``
signals, as they came, and reads them with ``infer.infer_stream``:

* ``auto``: until a profile is learned, a new classic client's signals are only
  recorded, each answered with SIGUSR1, the per-bit ack of almost every classic
  convention and the answer of every handshake (whether it is sent is the reply
  policy's call, as for any ack). Once the client is silent ``SETTLE`` seconds
  or exits, its signals are read with every candidate profile; the one that
  reads them as clean text is used from then on (``use_profile``) and the
  recorded signals are decoded with it as if they had just come, so nothing is
  lost and every event keeps its time. A ``ProfileDetected`` event (``active``)
  says which profile, and how sure. Learned with full confidence, the profile
  stays; otherwise (e.g. only empty messages came) the next new client is
  recorded and read again. Only what a client's own signals show is learned;
  the acks stay the default (SIGUSR1 per bit, no end ack): a client that waits
  for another ack needs its profile given (``--classic PROFILE``).
* Whatever the mode: a client whose message decodes as garbage under the
  server's profile (not clean text, or a framing error), once it has gone
  (exited, or silent for the idle timeout), gets its signals read again; if
  another profile reads them as clean text, a ``ProfileDetected`` event (not
  ``active``) names it: the hint "looks like lsb,len32+nul: restart with
  --classic lsb,len32+nul". Once per client.

Invariants: a recorded client holds the line like a decoded one (it is the
``holder`` while it sends, so that the I/O layer watches it exit); nothing of
a recorded client is lost: learning replays every signal it sent.
"""

from __future__ import annotations

from dataclasses import replace

from sigchat.proto.classic.infer import clean_text, infer_stream
from sigchat.proto.classic.profile import DEFAULT_IDLE_TIMEOUT, DEFAULT_PROFILE, Profile
from sigchat.proto.classic.server import ClassicServer, Offer, _Decoder
from sigchat.proto.events import AbortReason, MessageDelivered, ProfileDetected
from sigchat.proto.wire import DEFAULT_MAX_BYTES, ONE

SETTLE = 0.05
"""Seconds of silence after which a recorded client's signals are read (``auto``): far above the
pause between two bits of any classic client, far below the wait for a missing ack of most."""
RAW_LIMIT = 1 << 17
"""The most signals ``auto`` reads to learn (16 KiB of text; ~1 s of Python once, for a message that long)."""
HINT_LIMIT = 4096
"""Signals of each client kept for the hint (512 bytes of text): reading them costs at most ~0.2 ms
per profile, in the receiver thread, for every client whose message was garbage."""


class _Recording:
    """A classic client's signals while the profile is not known (``auto``); ``muted`` and ``offer``
    as in a decoder, so that a reply it missed is sent again (``overdue``)."""

    __slots__ = ("pid", "symbols", "times", "muted", "offer")

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.symbols = bytearray()
        self.times: list[float] = []
        self.muted: set[int] = set()
        self.offer: Offer | None = None


class LearningClassicServer(ClassicServer):
    """A ``ClassicServer`` that learns its profile (``auto``) and hints at a better one (module docstring)."""

    def __init__(
        self,
        profile: Profile = DEFAULT_PROFILE,
        *,
        auto: bool = False,
        max_bytes: int = DEFAULT_MAX_BYTES,
        timeout: float = DEFAULT_IDLE_TIMEOUT,
        settle: float = SETTLE,
    ) -> None:
        self.auto = auto  # (first: ``use_profile``, called by the constructor, reads it)
        super().__init__(profile, max_bytes=max_bytes, timeout=timeout)
        # Learned from a client's signals, a profile has no end ack (they cannot show one): the
        # other signal is offered to a client that still waits after its last ack.
        self.offer_end_ack = auto
        self.learned: Profile | None = None
        """The profile ``auto`` learned with full confidence (then it records no more)."""
        self.settle = settle
        self.recordings: dict[int, _Recording] = {}
        self._raw: dict[int, bytearray] = {}
        """Each decoded client's first ``HINT_LIMIT`` signals, for the hint."""
        self._suspect: set[int] = set()
        """Clients whose message decoded as garbage: read again once they have gone (one hint each)."""

    @property
    def recording(self) -> bool:
        """Whether new classic clients are recorded rather than decoded (``auto``, nothing learned yet)."""
        return self.auto and self.learned is None

    # ------------------------------------------------------------------ queries
    def owns(self, pid: int) -> bool:
        return pid in self.recordings or pid in self.decoders

    def clients(self) -> int:
        return len(self.recordings) + len(self.decoders)

    def progress(self) -> list[tuple[int, int, int | None, float, float]]:
        rows = super().progress()
        rows.extend((pid, len(r.symbols), None, r.times[0], r.times[-1]) for pid, r in self.recordings.items())
        return rows

    def paced_streaming(self, now: float, within: float) -> bool:
        # A recorded client may pace itself: no tick while it streams (the tick reads its signals).
        recording = self.recordings.get(self.holder) if self.holder is not None else None
        if recording is not None:
            return now - recording.times[-1] < within
        return super().paced_streaming(now, within)

    # ------------------------------------------------------------------ input
    def first_contact(self, pid: int, ones: int, ones_at: float, symbol: int, now: float) -> int | None:
        if self.recording and pid not in self.decoders:
            recording = self.recordings[pid] = _Recording(pid)
            for _ in range(ones):
                self._record(recording, pid, ones_at)  # (their answers were sent already)
            return self._record(recording, pid, now, symbol)
        return super().first_contact(pid, ones, ones_at, symbol, now)

    def receive(self, pid: int, symbol: int, now: float) -> int | None:
        recording = self.recordings.get(pid)
        if recording is not None or (self.recording and pid not in self.decoders):
            if recording is None:
                recording = self.recordings[pid] = _Recording(pid)
            return self._record(recording, pid, now, symbol)
        raw = self._raw.get(pid)
        if raw is None:
            raw = self._raw[pid] = bytearray()
        if len(raw) < HINT_LIMIT:
            raw.append(symbol)
        return super().receive(pid, symbol, now)

    def _record(self, recording: _Recording, pid: int, now: float, symbol: int = ONE) -> int | None:
        """Keep ``symbol`` (a ONE replayed from the signature when not given) and answer it."""
        recording.symbols.append(symbol)
        recording.times.append(now)
        if self.holder is None:
            self.holder = pid
        ack = DEFAULT_PROFILE.ack_symbol
        if ack in recording.muted:
            recording.offer = None
            return None
        recording.offer = Offer((ack,), now)
        return ack

    def use_profile(self, profile: Profile) -> None:
        super().use_profile(profile)
        if self.auto:
            # Learned from one client: sigchat senders stay recognised as they were from the start
            # (a classic client of the learned profile whose first byte looks like a hello is not served).
            self.native = DEFAULT_PROFILE.native_compatible

    def _nudgeable(self) -> tuple[int, Offer, int, float] | None:
        """As ``ClassicServer._nudgeable``, and the recorded client's ack."""
        recording = self.recordings.get(self.holder) if self.holder is not None else None
        if recording is None:
            return super()._nudgeable()
        return recording.offer.nudgeable(recording.pid, recording.muted) if recording.offer is not None else None

    def mute(self, pid: int, symbol: int) -> None:
        recording = self.recordings.get(pid)
        if recording is not None:
            recording.muted.add(symbol)
        super().mute(pid, symbol)

    def tick(self, now: float) -> None:
        for pid, recording in list(self.recordings.items()):
            if now - recording.times[-1] > self.settle:
                self._learn(pid, now)
        super().tick(now)

    def sender_gone(self, pid: int, now: float) -> None:
        if pid in self.recordings:
            self._learn(pid, now)
        super().sender_gone(pid, now)

    # ------------------------------------------------------------------ learning (auto)
    def _learn(self, pid: int, now: float) -> None:
        """Read ``pid``'s recorded signals, take the profile that reads them best, decode them with it."""
        recording = self.recordings.pop(pid)
        if self.holder == pid:
            self.holder = None
        symbols = recording.symbols
        matches = infer_stream(symbols[:RAW_LIMIT], max_bytes=self.max_bytes, cut=len(symbols) > RAW_LIMIT)
        if matches:
            best = matches[0]
            # A client that did not wait for the acks (or would die of them) tells that its kind gets none.
            acks = {"ack": None} if DEFAULT_PROFILE.ack_symbol in recording.muted else {}
            profile = replace(best.profile, **acks)
            self.use_profile(profile)
            if best.confidence >= 1:
                self.learned = profile
            others = tuple(str(replace(m.profile, **acks)) for m in matches[1:])
            self.events.append(ProfileDetected(pid, str(profile), best.confidence, now, True, None, others))
        # Decoded as if they came now, each at its time (their replies were sent as they came).
        d = self.decoders[pid] = _Decoder(pid, recording.times[0])
        d.muted |= recording.muted
        self._raw[pid] = bytearray(symbols[:HINT_LIMIT])
        outbox = len(self.outbox)
        for symbol, at in zip(symbols, recording.times):
            super().receive(pid, symbol, at)
        del self.outbox[outbox:]  # (the end ack of a message it sent long ago: it did not wait for one)
        if d.stats is None and d.offer is not None and recording.offer is not None:
            # Its last ack was sent again already while it was recorded: the offer goes on from there.
            d.offer.tries = recording.offer.tries
            d.offer.offered_at = recording.offer.offered_at
        if self.holder is None and self.waiting:
            self._release(now)

    # ------------------------------------------------------------------ the hint
    def _deliver(self, d: _Decoder, now: float, repair: str = "") -> MessageDelivered:
        event = super()._deliver(d, now, repair)
        if not clean_text(event.data):
            self._suspect.add(d.pid)
        return event

    def _abort(self, d: _Decoder, reason: AbortReason, at: float, *, skip: bool = False) -> None:
        # A framing error or an impossible length, or garbage: another profile may read it as text.
        # (Cut short, but text so far: the client was slow or went away, its profile may be right.)
        if reason in (AbortReason.FRAMING, AbortReason.TOO_LARGE) or not clean_text(bytes(d.data), partial=True):
            self._suspect.add(d.pid)
        super()._abort(d, reason, at, skip=skip)

    def _forgotten(self, pid: int, now: float) -> None:
        """``pid`` has gone: if its messages read as garbage, say which profile reads them as text."""
        raw = self._raw.pop(pid, None)
        if pid not in self._suspect:
            return
        self._suspect.discard(pid)
        if raw is None:
            return
        matches = infer_stream(raw, max_bytes=self.max_bytes, cut=len(raw) >= HINT_LIMIT)
        if not matches or str(matches[0].profile) == self._signal_part(self.profile):
            return
        # What the client's signals showed, with the acks the server was told to send.
        acks = {"ack": self.profile.ack, "end_ack": self.profile.end_ack, "handshake_reply": self.profile.handshake_reply}
        best, *others = (str(replace(m.profile, **acks)) for m in matches)
        self.events.append(ProfileDetected(pid, best, matches[0].confidence, now, False, str(self.profile), tuple(others)))

    @staticmethod
    def _signal_part(profile: Profile) -> str:
        """``profile`` with the default acks: what a client's signals can show of it."""
        return str(replace(profile, ack=DEFAULT_PROFILE.ack, end_ack=None, handshake_reply=DEFAULT_PROFILE.handshake_reply))
