"""The server's receiver thread: a ``proto.server.Server`` on real signals.

Invariants (see also ``sigio.masks``):

* Signals are read only here, with ``sigtimedwait``, in one thread; ``/proc``
  is consulted before any first reply, and the server never replies to a
  process that the reply would kill.
* Events reach ``on_event`` before the reply that follows them, so a durable
  log is written before the "intact" verdict.
* Which replies a classic client gets, and when, is decided by the server's
  ``classic_replies`` policy (``proto.classic.policy``); this thread only
  reads ``/proc`` for it and sends what it allows.
* Turbo words are read through ``sigio.words`` only while a turbo session runs.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Callable

from sigchat.proto.base import Record
from sigchat.proto.classic.server import NUDGE_AFTER
from sigchat.proto.events import ServerEvent
from sigchat.proto.server import Server
from sigchat.proto.wire import WORD_TAG_SHIFT
from sigchat.sigio import procfs
from sigchat.sigio.cpus import last_cpu, pin_to_one_cpu, place_other_threads
from sigchat.sigio.masks import KERNEL_FILLED, SI_QUEUE, SIGNAL_OF_SYMBOL, SIGNALS
from sigchat.sigio.procfs import quick_signal_safety
from sigchat.sigio.sigapi import signal
from sigchat.sigio.words import Words, open_words

QUEUE_CHECK_INTERVAL = 0.5
"""Seconds between checks that queued senders still exist."""
PACED_QUIET = 0.02
"""The tick waits while a classic client that paces itself streams, until it has been silent this
long: a tick takes up to ~0.5 ms, longer than such a client's pause between two bits, and the bits
it sends meanwhile merge. (It exited, or went silent: the tick then comes within this time.)"""

# While a classic client that paces itself streams, the cyclic garbage collector is off (for the
# whole process: it stops every thread). It runs when allocations reach a threshold, wherever that
# falls: measured in this loop, 0.05-0.17 ms for its youngest generation and 0.5-1.4 ms for the
# next, against ~0.12 ms between two bits of a usleep(50) client; each such pause merged bits (the
# same stall at the same bit in every run). Such a stream ends by itself within PACED_QUIET of the
# client's last signal, and this loop makes little garbage; the collector resumes then.
ASLEEP_WAIT = 0.001
"""Seconds an ack to a racy classic client waits for it to sleep (``Receiver._until_asleep``): it
sleeps within µs of its signal once it runs; a client busy longer gets the ack anyway (and a nudge)."""


class ReceiverCounters(Record):
    """Signals the receiver dropped before the protocol saw them, and replies it refused to send."""

    __slots__ = ("foreign_uid", "refused_unsafe")

    def __init__(self) -> None:
        self.foreign_uid = self.refused_unsafe = 0


class Receiver:
    """Runs a ``proto.server.Server`` on real signals, in a thread of its own.

    ``on_event`` is called in the receiver thread for every protocol event, and
    before the reply that follows it (so a durable log is written before the
    "intact" verdict). ``on_progress`` gets ``Server.progress()`` at most every
    ``progress_interval`` seconds while a transfer runs. ``on_refused(pid,
    reason)`` reports a sender the server will not answer. ``on_note(text)``
    gets a one-line note for the operator (turbo words unavailable here).
    ``watch``: a pid the UI looks at live (or ``None``); with each progress
    report, ``on_snapshot(pid, Server.snapshot(pid))`` then gets its transfer
    so far, while it has one. ``on_paced(streaming)``: a classic client that paces
    itself (no acks) started streaming (``True``, before that transfer's first
    event) or stopped: its message ended, or it has been silent ``PACED_QUIET``.
    Meanwhile no progress or snapshot is reported, and the UI must stay idle: each
    bit must be read within one pause of the client, and a UI thread that runs
    Python meanwhile keeps this one from the GIL and the CPU for milliseconds
    (measured on the Textual app: every bit after the first 8 merged at first
    contact, no message whole). The callbacks must be quick and must not raise;
    if anything raises, the thread stops and ``error`` holds the exception.

    ``pin_cpu``: the thread pins itself to the last CPU it may use (senders
    join it there). ``gather``: the process's other threads follow it (the
    Textual app's; they share the GIL with it), pinned or not.
    """

    def __init__(
        self,
        server: Server,
        on_event: Callable[[ServerEvent], None],
        *,
        on_progress: Callable[[tuple], None] | None = None,
        on_refused: Callable[[int, str], None] | None = None,
        on_note: Callable[[str], None] | None = None,
        on_snapshot: Callable[[int, tuple], None] | None = None,
        on_paced: Callable[[bool], None] | None = None,
        allowed_uids: frozenset[int] | None = None,
        clock: Callable[[], float] = time.monotonic,
        poll_interval: float = 0.05,
        progress_interval: float = 0.1,
        pin_cpu: bool = True,
        gather: bool = False,
    ) -> None:
        self.server = server
        self.pin_cpu = pin_cpu
        self.gather = gather
        self.on_event = on_event
        self.on_progress = on_progress
        self.on_refused = on_refused
        self.on_note = on_note
        self.on_snapshot = on_snapshot
        self.on_paced = on_paced
        self._paced = False  # whether a classic client that paces itself streams (what on_paced was last told)
        self._collecting = False  # whether the cyclic GC was on when such a stream began (it is off meanwhile)
        self.watch: int | None = None
        """The pid whose transfer ``on_snapshot`` gets (set by the UI, any thread)."""
        self.allowed_uids = allowed_uids if allowed_uids is not None else frozenset({os.getuid(), 0})
        self.clock = clock
        self.poll_interval = poll_interval
        self.progress_interval = progress_interval
        self.counters = ReceiverCounters()
        self.error: BaseException | None = None
        self.stop_event = threading.Event()
        self._stopping = False  # set with stop_event by stop(): cheaper to test per signal than Event.is_set()
        self._thread: threading.Thread | None = None
        self._safe_pids: set[int] = set()
        self._racy: set[int] = set()  # classic clients that missed an ack: acked once asleep (_until_asleep)
        self._next_queue_check = 0.0
        self._policy = server.classic_replies  # which classic replies may go, and when
        self._exiting: set[int] = set()  # senders found gone with signals still pending (see _exited)
        self._pinned: int | None = None  # the CPU the thread pinned itself to
        self._tid: int | None = None  # its thread id, once it gathered the others
        self._all_cpus: set[int] = set()
        self._wide = False  # unpinned while a classic client streams
        self._joined: int | None = None  # the acked classic client whose CPU the thread joined
        self._words: Words | None = None  # reads si_value during turbo sessions
        self._take_second = self._take_first = None  # its takers for word pairs and triples (Words.taker)

    # ------------------------------------------------------------------ thread control
    def start(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.run, name="sigchat-receiver", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float = 1.0) -> None:
        self._stopping = True
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run(self) -> None:
        try:
            if self.pin_cpu:
                self._all_cpus = os.sched_getaffinity(0)
                self._pinned = pin_to_one_cpu()
                if self._pinned is not None and self.gather:
                    self._tid = threading.get_native_id()
                    place_other_threads({self._pinned}, self._tid)
            if self._policy is not None:
                self._warm_up()
            if self.server.turbo:
                self._words, unavailable = open_words()
                self.server.turbo = self._words is not None  # else 1-bit only: the fallback
                if self._words is not None:
                    self._take_second = self._words.taker(self.poll_interval, second_only=True)
                    self._take_first = self._words.taker(0.0)
                if unavailable is not None and self.on_note is not None:
                    self.on_note(f"turbo words unavailable ({unavailable}): --turbo senders send 1 bit per signal")
            # Named last: servers announce themselves once this name shows in /proc (senders look
            # for it there too), and a first signal must not wait for the set-up above (tens of
            # ms under load; a classic client may give up after 10 ms without its first ack).
            procfs.name_this_thread(procfs.RECEIVER_THREAD_NAME)
            self._loop()
        except BaseException as error:  # reported by the owner, which then exits non-zero
            self.error = error
        finally:
            self._tell_paced(False)  # the UI must not hold back what it was told for ever, nor the GC stay off

    # ------------------------------------------------------------------ the loop
    def _loop(self) -> None:
        server = self.server
        wait = signal.sigtimedwait
        signals = SIGNALS
        clock = self.clock
        stop = self.stop_event
        allowed = self.allowed_uids
        poll = self.poll_interval
        usr1 = signal.SIGUSR1
        next_tick = clock()
        next_progress = next_tick
        policy = self._policy
        follow = self._pinned is not None and policy is not None and len(self._all_cpus) > 1
        classic = policy is not None  # (a server that serves classic clients has a reply policy)
        held = policy.held_pids if policy is not None else frozenset()  # (changed in place only)
        words = self._words
        safe = self._safe_pids  # (updated in place, never replaced)
        racy = self._racy  # (likewise)
        kill = os.kill
        signal_of = SIGNAL_OF_SYMBOL
        # Per signal, this loop costs about as much Python as the whole raw ping-pong
        # partner does: keep it lean (see issue #6's notes before adding to it).
        pending: list[tuple] = []  # (signo, code, pid, uid, value) of signals that ended a run, still to handle
        while not self._stopping:
            timeout = max(0.0, policy.check_at() - clock()) if held else poll
            nudge_at = server.classic_nudge_at() if classic else None
            if nudge_at is not None:
                timeout = max(0.0, min(timeout, nudge_at - clock()))
            value = None
            if pending:
                got = pending.pop(0)
                signo, code, pid, uid, value = got
            elif words is not None and server.turbo_session:
                got = words.wait(timeout)
                if got is not None:
                    signo, code, pid, uid, value = got
            else:
                got = wait(signals, timeout)
                if got is not None:
                    signo, code, pid, uid = got.si_signo, got.si_code, got.si_pid, got.si_uid
            now = clock()
            if got is not None:
                if code not in KERNEL_FILLED or uid not in allowed:
                    server.other_signal(pid, 0 if signo == usr1 else 1, now)
                if uid not in allowed:
                    self.counters.foreign_uid += 1
                    continue
                if code not in KERNEL_FILLED:
                    if code != SI_QUEUE or value is None:
                        self.counters.foreign_uid += 1
                        continue
                    reply = server.receive_word(pid, value, now)  # checks pid and tag
                else:
                    if pid in held:
                        policy.sent_again(pid, now, procfs.in_signal_wait(pid))
                    reply = server.receive(pid, 0 if signo == usr1 else 1, now)
                    if reply is None and not pending and pid == server.classic_holder and not held:
                        # A client that paces itself: its next bits come whatever we do, so they
                        # are read first (a run of one byte at most), the rest of this turn after.
                        if not self._paced:
                            self._tell_paced(server.classic_paced_streaming(now, PACED_QUIET))
                        classic_run = server.classic_bit_run()
                        if classic_run is not None and classic_run[1] is None:
                            now = self._classic_run(*classic_run, next_tick, pending)
                if follow and (server.classic_holder is not None) is not self._wide:
                    self._follow_classic_line()
                if classic:
                    # Before the events: the UI holds them while such a client streams.
                    self._tell_paced(server.classic_paced_streaming(now, PACED_QUIET))
                if server.events:
                    self._dispatch()
                if reply is not None:
                    if pid in safe:  # the common case of _reply
                        if pid in racy:
                            self._until_asleep(pid)
                        try:
                            kill(pid, signal_of[reply])
                        except OSError as error:
                            self._kill_failed(pid, error, now)
                    else:
                        self._reply(pid, reply, now)
                if server.outbox:
                    self._flush_outbox(now)
                if reply is not None and not held:  # (no run while a first reply waits for its check)
                    run = server.bit_run()
                    if run is not None and run[0] in safe:
                        until = next_tick if self.on_progress is None else min(next_tick, next_progress)
                        now = self._exchange_run(*run, until, pending)
                    elif words is not None and server.turbo_session:
                        groups = server.word_run()
                        if groups is not None and groups[0] in safe:
                            until = next_tick if self.on_progress is None else min(next_tick, next_progress)
                            now = self._exchange_word_run(*groups, until, pending)
                if reply is not None and not pending and pid == server.classic_holder and not held:
                    # An acked client: its reply went; the run answers the next bits alike.
                    classic_run = server.classic_bit_run()
                    if classic_run is not None and classic_run[1] == reply and policy.verdict(pid, reply):
                        if follow and self._joined != pid:
                            self._join_classic_client(pid)
                        until = next_tick if self.on_progress is None else min(next_tick, next_progress)
                        now = self._classic_run(*classic_run, until, pending)
                        if server.events:
                            self._dispatch()
                        if server.outbox:
                            self._flush_outbox(now)
            elif nudge_at is not None:
                self._nudge(now)
            if held and now >= policy.check_at():
                self._send_held(now)
            paced = classic and server.classic_paced_streaming(now, PACED_QUIET)
            if paced is not self._paced:
                self._tell_paced(paced)
            if now >= next_tick and not paced:
                if stop.is_set():  # set directly rather than by stop()
                    break
                next_tick = now + poll
                self._tick(now)
            if self.on_progress is not None and now >= next_progress and not paced:
                # Kept ticking while idle: a transfer's first report comes a fraction of an
                # interval after its start, not at once (the app shows the start with it).
                next_progress = now + self.progress_interval
                if server.active_pid is not None:
                    self.on_progress(server.progress())
                watch = self.watch
                if watch is not None and self.on_snapshot is not None:
                    snapshot = server.snapshot(watch)
                    if snapshot is not None:
                        self.on_snapshot(watch, snapshot)

    def _tell_paced(self, paced: bool) -> None:
        """Whether a classic client that paces itself streams, if that changed: the cyclic GC pauses
        meanwhile (see ``PACED_QUIET``), and ``on_paced`` is told."""
        if paced is not self._paced:
            self._paced = paced
            if paced:
                self._collecting = gc.isenabled()
                gc.disable()
            elif self._collecting:
                gc.enable()
            if self.on_paced is not None:
                self.on_paced(paced)

    def _exchange_run(self, pid: int, replies: bytes, until: float, pending: list[tuple]) -> float:
        """Answer ``pid``'s payload bits from ``Server.bit_run``'s replies, then ``receive_run``.

        Ends early at a signal the run cannot take (added to ``pending``, to be
        handled the usual way), at a poll interval of silence, or once ``until``
        has passed; returns the time. Per signal this is the raw ping-pong plus a
        few checks (issue #6).
        """
        wait, kill, clock, signals = signal.sigtimedwait, os.kill, self.clock, SIGNALS
        signal_of, usr1, allowed, kernel_filled = SIGNAL_OF_SYMBOL, signal.SIGUSR1, self.allowed_uids, KERNEL_FILLED
        poll = self.poll_interval
        symbols = bytearray()
        times: list[float] = []
        got = failed = None
        now = clock()
        try:
            for reply in replies:
                got = wait(signals, poll)
                if got is None or got.si_pid != pid or got.si_code not in kernel_filled or got.si_uid not in allowed:
                    break
                now = clock()
                symbols.append(got.si_signo != usr1)
                times.append(now)
                got = None
                kill(pid, signal_of[reply])
                if now >= until:
                    break
        except OSError as error:  # (the bit was received; its reply could not be sent)
            failed = error
        self.server.receive_run(pid, symbols, times)
        if failed is not None:
            self._kill_failed(pid, failed, now)
        if got is not None:
            pending.append((got.si_signo, got.si_code, got.si_pid, got.si_uid, None))
        return clock()

    def _exchange_word_run(self, pid: int, tags: list[list[int]], replies: bytes, until: float, pending: list[tuple]) -> float:
        """Answer ``pid``'s word pairs or triples from ``Server.word_run``, then ``receive_word_run``.

        Per group: wait for its SIGUSR2 word alone (``Words.taker``), take the
        SIGUSR1 word(s) already pending (in triples the one queued to this
        thread comes first: the kernel takes a thread's own pending signals
        before the process's), check each (SI_QUEUE, pid, uid, tag), answer.
        Ends as ``_exchange_run`` does; a group taken in part goes to
        ``pending`` (its words in the order taken), as does any other signal.
        """
        second, first = self._take_second, self._take_first
        kill, clock, allowed, signum = os.kill, self.clock, self.allowed_uids, SIGNAL_OF_SYMBOL
        usr1, usr2 = signal.SIGUSR1, signal.SIGUSR2
        triples = len(tags) == 3
        # The tags of the SIGUSR1 words in the order they are taken, and of the SIGUSR2 word.
        firsts, middles, lasts = (tags[0], tags[1], tags[2]) if triples else (tags[0], tags[0], tags[1])
        values: list[int] = []
        times: list[float] = []
        failed = None
        now = clock()
        try:
            for tag, middle, last, reply in zip(firsts, middles, lasts, replies):
                got = second()
                if got is None:
                    break
                if got[4] >> WORD_TAG_SHIFT != last or got[2] != pid or got[0] != usr2 or got[1] != SI_QUEUE or got[3] not in allowed:
                    pending.append(got)
                    break
                other = first()
                if other is None or other[4] >> WORD_TAG_SHIFT != tag or other[2] != pid or other[0] != usr1 or other[1] != SI_QUEUE or other[3] not in allowed:
                    pending.append(got)
                    if other is not None:
                        pending.append(other)
                    break
                if triples:
                    third = first()
                    if third is None or third[4] >> WORD_TAG_SHIFT != middle or third[2] != pid or third[0] != usr1 or third[1] != SI_QUEUE or third[3] not in allowed:
                        pending += (got, other) if third is None else (got, other, third)
                        break
                    now = clock()
                    values += (other[4], third[4], got[4])
                    times += (now, now, now)  # (for all three: they were taken within a microsecond)
                else:
                    now = clock()
                    values += (other[4], got[4])
                    times += (now, now)
                kill(pid, signum[reply])
                if now >= until:
                    break
        except OSError as error:  # (the group was received; its reply could not be sent)
            failed = error
        self.server.receive_word_run(pid, values, times)
        if failed is not None:
            self._kill_failed(pid, failed, now)
        return clock()

    def _nudge(self, now: float) -> None:
        """Send a classic client its reply again if it may have missed it (``ClassicServer.overdue``).

        Only a client that sleeps with the signal unblocked and not pending
        (``procfs.may_have_missed``): one that got its reply and is about to send is
        runnable, and a second ack could make it send two bits before the first is
        read; one that blocks the signal cannot miss it, and may sleep for reasons
        of its own (a reply sent again would wait there for its next bit). Never
        while the reply itself is still held: that would make two."""
        due = self.server.classic_overdue(now)
        if due is not None and due[0] in self._policy.held_pids:
            return  # its reply is not even sent yet (it waits for its check): it comes at once
        # Then nothing may be pending here: a client seen asleep sent its last signal before it
        # slept, and that signal, pending here, is its next bit, not a missed reply.
        if (due is not None and procfs.may_have_missed(due[0], SIGNAL_OF_SYMBOL[due[1]])
                and not signal.sigpending() & SIGNALS):
            self._reply(*due, now)
            self.server.classic_nudged(due[0])
            self._racy.add(due[0])

    def _until_asleep(self, pid: int) -> None:
        """Wait (``ASLEEP_WAIT`` at most, yielding the CPU) until racy classic client ``pid`` sleeps.

        A client that missed an ack (it was sent one again, ``_nudge``) waits in a way that
        loses an ack that comes before it sleeps: a handler, then ``pause()`` or ``sleep()``.
        The faster the server, the likelier that is: sigchat's ack came before G's client
        slept for one bit in five to one in three (a 2 ms nudge each), where G's own C server,
        acking after ``usleep(150)``, lost fewer. Asleep, it cannot miss the ack. (On the
        receiver's CPU the client runs only once the receiver yields it the CPU.)"""
        deadline = time.perf_counter() + ASLEEP_WAIT
        while procfs.running(pid) and time.perf_counter() < deadline:
            os.sched_yield()

    def _classic_run(
        self, pid: int, ack: int | None, limit: int | None, in_byte: int, zeros: bool, zero: int, until: float,
        pending: list[tuple],
    ) -> float:
        """Answer the classic line holder's bits with ``ack`` (``None``: read them only, a client
        that paces itself) (``Server.classic_bit_run``), then ``classic_receive_run``: per
        signal, a raw ping-pong, as ``_exchange_run`` for native bits.

        Ends after ``limit`` signals or, without one, a byte of zero bits (the decoder then ends
        the header or the message), early at a signal the run cannot take (returned), after
        ``NUDGE_AFTER`` of silence (the main loop may then send the ack again), or once ``until``
        passed; a signal the run cannot take goes to ``pending``, as in ``_exchange_run``. Returns the time.
        """
        wait, kill, clock, signals = signal.sigtimedwait, os.kill, self.clock, SIGNALS
        usr1, allowed, kernel_filled = signal.SIGUSR1, self.allowed_uids, KERNEL_FILLED
        ack_signal = None if ack is None else SIGNAL_OF_SYMBOL[ack]
        timeout = min(self.poll_interval, NUDGE_AFTER)
        racy = pid in self._racy
        symbols = bytearray()
        times: list[float] = []
        got = failed = None
        now = clock()
        try:
            while limit is None or len(symbols) < limit:
                got = wait(signals, timeout)
                if got is None or got.si_pid != pid or got.si_code not in kernel_filled or got.si_uid not in allowed:
                    break
                now = clock()
                symbol = got.si_signo != usr1
                symbols.append(symbol)
                times.append(now)
                got = None
                if ack_signal is not None:
                    if racy:
                        self._until_asleep(pid)
                    kill(pid, ack_signal)
                if limit is None:
                    zeros = zeros and symbol == zero
                    in_byte += 1
                    if in_byte == 8:
                        if zeros:
                            break  # a NUL: the decoder ends the message (and sends its end ack)
                        in_byte, zeros = 0, True
                if now >= until:
                    break
        except OSError as error:  # (the bit was received; its ack could not be sent)
            failed = error
        self.server.classic_receive_run(pid, bytes(symbols), times)
        if failed is not None:
            self._kill_failed(pid, failed, now)
        if got is not None:
            pending.append((got.si_signo, got.si_code, got.si_pid, got.si_uid, None))
        return clock()

    def _dispatch(self) -> None:
        events = self.server.events
        while events:
            event = events.pop(0)
            self.on_event(event)
            if self._policy is not None:
                refusal = self._policy.refusal_after(event)
                if refusal is not None and self.on_refused is not None:
                    self.on_refused(*refusal)

    def _tick(self, now: float) -> None:
        server = self.server
        active = server.active_pid
        holder = server.classic_holder
        self._exiting.intersection_update({active, holder})
        if self._racy:
            self._racy.intersection_update([pid for pid in self._racy if server.may_be_classic(pid)])  # (forgotten: gone)
        if active is not None and self._exited(active):
            server.sender_gone(active, now)
        holder = server.classic_holder
        if holder is not None and self._exited(holder):
            server.sender_gone(holder, now)  # an exited client must not keep the line
        if now >= self._next_queue_check:
            # A queued sender is forgotten only when it exits (see wire.QUEUE_TTL).
            self._next_queue_check = now + QUEUE_CHECK_INTERVAL
            for pid in server.waiting_pids():
                if not procfs.is_alive(pid):
                    server.sender_gone(pid, now)
        server.tick(now)
        self._safe_pids.intersection_update({*server.queued_pids, server.active_pid})
        if self._policy is not None and self._policy.keeps_anything():
            for pid, reason in self._policy.forget(server.may_be_classic):
                if self.on_refused is not None:
                    self.on_refused(pid, reason)
        if self._wide and server.classic_holder is None:
            self._follow_classic_line()
        if server.events:
            self._dispatch()
        if server.outbox:
            self._flush_outbox(now)

    def _exited(self, pid: int) -> bool:
        """Whether ``pid`` exited and nothing it sent can still be waiting here.

        A client may exit right after its last signal, which then is still
        pending at this process: the first time ``pid`` is found gone while a
        SIGUSR1/SIGUSR2 is pending, the loop reads the pending signals first
        (until the next tick), so the end of its message is not cut off.
        """
        if procfs.is_alive(pid):
            return False
        if pid not in self._exiting and signal.sigpending() & SIGNALS:
            self._exiting.add(pid)
            return False
        self._exiting.discard(pid)
        return True

    def _flush_outbox(self, now: float) -> None:
        outbox = self.server.outbox
        while outbox:
            pid, symbol = outbox.pop(0)
            self._reply(pid, symbol, now)

    def _reply(self, pid: int, symbol: int, now: float) -> None:
        if pid not in self._safe_pids and self.server.may_be_classic(pid):
            if self._policy.hold(pid, symbol, now):
                return  # checked and sent once due (policy.GRACE)
            if not self._classic_may_signal(pid, symbol, now):
                return
        elif pid not in self._safe_pids:
            # First contact: never send a signal that would kill the process.
            safety = procfs.signal_safety(pid)
            if safety is None or not safety.safe:
                self.counters.refused_unsafe += 1
                self.server.sender_gone(pid, now)
                if self.on_refused is not None:
                    self.on_refused(pid, safety.reason if safety else "it exited")
                if self.server.events:
                    self._dispatch()
                return
            self._safe_pids.add(pid)
        try:
            os.kill(pid, SIGNAL_OF_SYMBOL[symbol])
        except OSError as error:
            self._kill_failed(pid, error, now)

    def _kill_failed(self, pid: int, error: OSError, now: float) -> None:
        self._safe_pids.discard(pid)
        self._racy.discard(pid)
        self.server.sender_gone(pid, now)
        if isinstance(error, PermissionError):
            # An allowed uid (--allow-uid) that we may not signal back: stop
            # serving it rather than let the exception end the receiver thread.
            if self.on_refused is not None:
                self.on_refused(pid, "permission denied: it runs as another user")
            if self.server.events:
                self._dispatch()
        elif not isinstance(error, ProcessLookupError):
            raise error

    # ------------------------------------------------------------------ classic clients
    def _warm_up(self) -> None:
        """Run the classic paths a few times: CPython's first calls are slow (the first bit of a
        client took ~0.4 ms, while an unacked client sends one every ~0.2 ms)."""
        self.server.warm_up_classic()
        quick_signal_safety(os.getpid(), signal.SIGUSR1)
        quick_signal_safety(os.getpid(), signal.SIGKILL)  # the not-caught path (reads syscall)

    def _follow_classic_line(self) -> None:
        """Run on any CPU while a classic client streams, pinned again after.

        Pinned, the thread cannot leave its CPU when another process keeps it
        busy; a client that does not wait for acks needs it within ~0.2 ms. The
        gathered threads come back with it (a join took them to a client's
        CPU). Widened, it leaves them where they are: they cannot take a CPU from
        a thread that may run on any, and moving them cost it 0.1 ms on the
        Textual app, at the first byte of a client that may send a bit every 0.12 ms.
        """
        wide = self.server.classic_holder is not None
        cpus = self._all_cpus if wide else {self._pinned}
        self._joined = None
        try:
            os.sched_setaffinity(0, cpus)
        except OSError:
            pass
        if self._tid is not None and not wide:
            place_other_threads(cpus, self._tid)
        self._wide = wide

    def _join_classic_client(self, pid: int) -> None:
        """Run on the CPU of ``pid``, an acked classic client whose bits this thread answers in a run.

        The native senders join the receiver's CPU (``sigchat-send``); a classic client cannot be
        asked to, so the receiver goes to it: a round trip costs ~6-10 µs on one CPU and ~40-50
        µs across two, and the kernel wakes the client where it last ran. Measured: 19.5 µs a bit
        both on one CPU, 39-48 µs left to the scheduler (a C server: 15.9 and 20-23). An acked
        client loses nothing if that CPU is busy, only time; ``_follow_classic_line`` undoes it
        once the line is free.
        """
        cpu = last_cpu(pid)
        if cpu is None or cpu not in self._all_cpus:
            return
        try:
            os.sched_setaffinity(0, {cpu})
        except OSError:
            return
        if self._tid is not None:
            place_other_threads({cpu}, self._tid)
        self._joined = pid

    def _send_held(self, now: float) -> None:
        """The held first replies are due: check each in /proc and send those that are safe."""
        for pid, symbol in self._policy.due():
            if self._classic_may_signal(pid, symbol, now):
                self._reply(pid, symbol, now)
        if self.server.events:
            self._dispatch()

    def _classic_may_signal(self, pid: int, symbol: int, now: float) -> bool:
        """Whether the classic reply ``symbol`` leaves ``pid`` alive (/proc is read once per pid and signal)."""
        policy = self._policy
        ok = policy.verdict(pid, symbol)
        if ok is None:
            safety = quick_signal_safety(pid, SIGNAL_OF_SYMBOL[symbol])
            if safety is None:
                owned = self.server.classic.owns(pid)
                self.server.sender_gone(pid, now)
                if not owned and self.on_refused is not None:
                    self.on_refused(pid, "it exited")
                if self.server.events:
                    self._dispatch()
                return False
            ok = policy.checked(pid, symbol, safety.safe, safety.reason)
            if not ok:
                self.counters.refused_unsafe += 1
        return ok
