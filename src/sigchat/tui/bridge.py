"""The receiver thread's side of the app: sink outputs in, posted messages out.

``Bridge`` is the ``server.sink.EventSink`` output of the Textual app. Every
method runs in the receiver thread and must be quick: it reads the sender's
process name at contact and posts exactly one message per event with
``App.post_message`` (thread-safe, never blocks; no ``call_from_thread``), in
the order of the events. Progress is already throttled by the receiver, and a
newer progress message replaces an older queued one. The start and header of
a native transfer are held back until its first progress report or the next
other event, whichever comes first: drawing them costs the app's thread ~20 ms
while the transfer runs, which doubled the time of a short message.

While a classic client that paces itself (no acks) streams (``on_paced``, from
the receiver), nothing is posted at all: the messages wait, in order, until its
message ends or it pauses, and the app skips its clock tick (``paced``). Such a
client sends its next bit ~0.12-0.15 ms after the last whatever happens, and a
drawing app thread kept the receiver from the GIL and the CPU for 1-10 ms at a
time: on a terminal, every such message lost bits (0 of 50 of 88-100 characters
intact, ``usleep(100)`` per bit; plain mode 18 of 26 in the same runs). Nothing
is even built meanwhile: the calls are replayed once it ends. Reading the name
of a process just started cost the receiver 0.10-0.16 ms (procfs makes its
entry then), and that one read, at the end of the first byte, merged one or two
bits of every ``usleep(50)`` client on a terminal (0 of 10 intact; plain mode 3
of 4 in the same runs). The name is read once its message ended or it paused.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

from sigchat.proto.events import NATIVE, HeaderReceived, ServerEvent, TransferStarted
from sigchat.server.sink import Kind
from sigchat.sigio import procfs
from sigchat.tui.messages import SenderRefused, ServerEventReceived, TransferProgress, TransferSnapshot


class Bridge:
    """Posts what the receiver reports to the app (``post`` is ``App.post_message``)."""

    NAME_CACHE = 4096

    def __init__(
        self,
        post: Callable[[object], object],
        *,
        monotonic: Callable[[], float] = time.monotonic,
        comm: Callable[[int], str | None] = procfs.comm,
    ) -> None:
        self._post = post
        self._monotonic = monotonic
        self._comm = comm
        self._names: dict[int, str | None] = {}
        self._held: list[ServerEventReceived] = []  # a native transfer's start and header, not posted yet
        self._deferred: list[Callable[[], object]] = []  # the calls made while a paced classic client streamed
        self.paced = False
        """Whether a classic client that paces itself streams now (the app then draws nothing)."""

    def _name(self, pid: int, *, contact: bool) -> str | None:
        """The process name, read from /proc at contact (each new transfer or queueing)."""
        names = self._names
        if contact or pid not in names:
            name = self._comm(pid)
            if name is not None or pid not in names:
                names.pop(pid, None)
                names[pid] = name
                if len(names) > self.NAME_CACHE:
                    del names[next(iter(names))]
        return names.get(pid)

    def post(self, message: object) -> None:
        if self.paced:
            self._deferred.append(partial(self.post, message))
            return
        try:
            self._post(message)
        except RuntimeError:  # the app's event loop is already closed: we are shutting down
            pass

    def on_event(self, event: ServerEvent, kind: Kind, wall_time: float) -> None:
        if self.paced:
            self._deferred.append(partial(self.on_event, event, kind, wall_time))
            return
        name = self._name(event.pid, contact=kind is Kind.QUEUED or kind is Kind.STARTED)
        message = ServerEventReceived(event, kind, wall_time, name)
        if self._holds(event):
            self._held.append(message)
            return
        self.flush()
        self.post(message)

    def _holds(self, event: ServerEvent) -> bool:
        """Whether ``event`` waits for the next progress report (see the module docstring)."""
        if isinstance(event, TransferStarted):
            return event.mode == NATIVE
        return isinstance(event, HeaderReceived) and any(message.event.pid == event.pid for message in self._held)

    def flush(self) -> None:
        """Post the held events (the receiver's progress reports do)."""
        held, self._held = self._held, []
        for message in held:
            self.post(message)

    def on_paced(self, streaming: bool) -> None:
        """The receiver's ``on_paced``: defer every call while ``streaming``, then make them in order."""
        self.paced = streaming
        if not streaming:
            deferred, self._deferred = self._deferred, []
            for call in deferred:
                call()

    def on_progress(self, progress: tuple | None) -> None:
        self.flush()
        if progress is None:
            return
        pid, bits, total, started, last = progress
        self.post(TransferProgress(pid, bits, total, started, last, self._monotonic()))

    def on_snapshot(self, pid: int, snapshot: tuple) -> None:
        """``Server.snapshot(pid)`` of the watched transfer (the receiver's ``on_snapshot``)."""
        data, stats = snapshot
        self.post(TransferSnapshot(pid, data, stats))

    def on_refused(self, pid: int, reason: str, wall_time: float) -> None:
        if self.paced:
            self._deferred.append(partial(self.on_refused, pid, reason, wall_time))
            return
        self.flush()
        name = self._name(pid, contact=True)
        self.post(SenderRefused(pid, reason, wall_time, self._monotonic(), name))
