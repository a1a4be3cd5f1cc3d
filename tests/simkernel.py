"""An in-memory kernel for protocol tests: processes, pending signals, a clock.

It models what matters about standard signals: each process has one pending
slot per symbol (a second send while pending is silently dropped), the lower
symbol (SIGUSR1 = ZERO) is delivered first when both are pending, and a
process only sees a signal when it is scheduled. The test decides the
schedule (who runs next), extra losses, delays and stray signals, which is how
hypothesis explores interleavings.

Two kinds of slowness exist. ``slow`` deschedules the server *before* it takes
a pending signal: a retransmission then coalesces with the pending original,
so it never produces a duplicate bit. ``late`` deschedules the server *after*
it took a signal and before its reply goes out (the reply, and any GO in the
outbox, are sent when it runs again): a retransmission then lands in an empty
pending slot and the server reads the bit twice, which is what rule 4's
"a reply slower than that can cause a duplicate bit" is about.

By default timers (sender deadlines, server ticks) only run when no process
has a signal to handle, so a busy exchange starves them; ``punctual_timers``
runs them as soon as they are due, like real timers.

Like ``signals.send_message``, a queued sender is told before each of its
timeouts that the server process is alive (``proof_of_life``; the sim's server
never exits).

``blind_spot`` is the probability that this /proc view is wrong the other way:
the server already took the signal (the real receiver dequeued it and has not
left ``rt_sigtimedwait`` yet) but is late to reply, and the check says "lost",
so the sender resends a signal that will arrive twice.

``precise`` mirrors the sender's /proc view (``signals.send_message`` with
``procfs.signal_in_flight``): at a deadline in HELLO or SENDING, a sender whose
last signal is still pending at the server (from anyone, as ``ShdPnd`` shows
it), or whose server is descheduled, calls ``Sender.postpone`` instead of
resending; only a signal that really vanished is resent. Pass
``retry_initial=0.01`` to ``add_sender`` like the real precise sender.

A sender process can be stopped (``stop(sim, seconds)`` or by setting
``Process.stopped_until``): it neither handles signals nor runs its timers until
it resumes, like a process under SIGSTOP.

Turbo words (``sigqueue`` with a value) occupy the same pending slots as
plain signals; the server reads a pending value with ``Server.receive_word``,
as ``signals.Receiver`` does for any SI_QUEUE signal. A sender in word pairs
sends its SIGUSR1 and SIGUSR2 words in one step, so both can be pending at
once (and the SIGUSR1 one is taken first, unless it was lost). In word
triples the first word goes to the server's receiving thread: its own pending
SIGUSR1 (``THREAD_SLOT``), which the kernel hands out before the process's
signals, so three words can be pending at once. ``forge`` is the
probability per step that a spoofer queues a random word that claims to come
from a sender pid (``rt_sigqueueinfo`` can forge ``si_pid``).

``runs`` makes every process use bit runs like the real I/O loops
(``Sender.bit_run``/``ran``, ``Server.bit_run``/``receive_run``): while a run
lasts, a process answers matching signals from the run itself without calling
the state machine; anything else (another pid, an unexpected or late reply, a
timer) ends the run first, and ``run_break`` is the probability per signal that
the process ends a run early (the real loops do when a tick or progress is due).

The same kernel plays exact, hand-driven scenarios. ``ordered`` replaces the
random schedule with a fair, deterministic one: the server handles its pending
signals first, then the senders in the order they were added, and a sender
handles a pending signal before its timer fires; with no loss, that is a
lossless lockstep exchange. The test may also step it by hand (``server_runs``,
``sender_runs``, ``fire``), take or drop pending signals (``Process.take``,
``Process.clear``), send any signal (``send``), and make a sender exit
(``exit``, which tells the server as ``Server.sender_gone``). ``server`` may be
a scripted stand-in for ``protocol.Server`` (``receive``, ``tick``, ``outbox``,
``events``), ``corrupt(server, symbol)`` may replace any symbol on its way to
the server, ``add_sender(pid=...)`` picks a sender's pid (a later sender with
the same pid is the one that pid's signals go to), and ``taken`` lists every
``(source, symbol, si_value)`` the server took.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from sigchat.proto import api as protocol

SERVER_PID = 1
SPOOFER_PID = 99
THREAD_SLOT = 2
"""The pending slot of a SIGUSR1 queued to the server's receiving thread (``rt_tgsigqueueinfo``)."""
TAKE_ORDER = (THREAD_SLOT, 0, 1)
"""The kernel takes a thread's own pending signals first, then the process's, SIGUSR1 first."""


@dataclass
class Process:
    pid: int
    pending: dict[int, int | None] = field(default_factory=lambda: {0: None, 1: None, THREAD_SLOT: None})
    values: dict[int, int | None] = field(default_factory=lambda: {0: None, 1: None, THREAD_SLOT: None})
    stopped_until: float = 0.0

    def take(self) -> tuple[int, int, int | None] | None:
        """``(symbol, sender pid, si_value or None)`` of the next pending signal."""
        for slot in TAKE_ORDER:
            sender = self.pending[slot]
            if sender is not None:
                self.pending[slot] = None
                return slot & 1, sender, self.values[slot]
        return None

    def has_pending(self) -> bool:
        return any(sender is not None for sender in self.pending.values())

    def clear(self) -> None:
        """Every pending signal is lost (or drained)."""
        self.pending = {0: None, 1: None, THREAD_SLOT: None}


@dataclass
class SimSender:
    process: Process
    proto: protocol.Sender
    data: bytes
    run: list | None = None  # [BitRun, signals sent, deadline of the next reply, time of the last send]


class SimKernel:
    """Runs one ``protocol.Server`` and any number of ``protocol.Sender``.

    ``rng`` drives every choice; ``loss`` is an extra probability of losing any
    signal (on top of coalescing), ``stray`` the probability per step that a
    spoofer pid sends a random symbol to the server, ``slow`` the probability
    that the server is descheduled for a while (late replies). ``ordered``,
    ``server``, ``corrupt`` and ``now`` are for exact scenarios (see the module
    docstring): the fair schedule, a stand-in server, a corrupting link and the
    clock's start.
    """

    def __init__(
        self,
        rng: random.Random,
        *,
        loss: float = 0.0,
        stray: float = 0.0,
        slow: float = 0.0,
        spoof_senders: float = 0.0,
        forge: float = 0.0,
        turbo: bool = False,
        max_bytes: int = protocol.DEFAULT_MAX_BYTES,
        step: float = 20e-6,
        late: float = 0.0,
        late_delay: tuple[float, float] = (0.05, 0.5),
        punctual_timers: bool = False,
        proof_of_life: bool = True,
        precise: bool = False,
        precise_poll: float = 0.005,
        blind_spot: float = 0.0,
        runs: bool = False,
        run_break: float = 0.01,
        ordered: bool = False,
        server=None,
        corrupt=None,
        now: float = 1000.0,
    ) -> None:
        self.rng = rng
        self.loss = loss
        self.stray = stray
        self.slow = slow
        self.spoof_senders = spoof_senders
        self.forge = forge
        self.late = late
        self.late_delay = late_delay
        self.punctual_timers = punctual_timers
        self.proof_of_life = proof_of_life
        self.precise = precise
        self.precise_poll = precise_poll
        self.blind_spot = blind_spot
        self.runs = runs
        self.run_break = run_break
        self.ordered = ordered
        self.corrupt = corrupt
        self._server_run: tuple[int, bytes, bytearray, list[float]] | None = None  # (pid, replies, symbols, times)
        self._last_symbol: dict[int, int] = {}  # sender pid -> the last symbol it sent
        self.step = step
        self.now = now
        self.server = protocol.Server(max_bytes=max_bytes, turbo=turbo) if server is None else server
        self.server_process = Process(SERVER_PID)
        self.senders: list[SimSender] = []
        self._next_pid = 100
        self._exited: set[int] = set()
        self.events: list[protocol.ServerEvent] = []
        self.taken: list[tuple[int, int, int | None]] = []  # (source, symbol, si_value) of every signal the server took
        self.coalesced = 0
        self.lost = 0
        self.next_tick = self.now
        self._held: list[tuple[int, int, int]] = []  # (source, target, symbol) the descheduled server still has to send

    def add_sender(self, data: bytes, message_id: int | None = None, *, pid: int | None = None, **kwargs) -> SimSender:
        if pid is None:
            pid, self._next_pid = self._next_pid, self._next_pid + 1
        self._exited.discard(pid)
        proto = protocol.Sender(data, self.rng.getrandbits(32) if message_id is None else message_id, **kwargs)
        sim = SimSender(Process(pid), proto, data)
        self.senders.append(sim)
        self._sender_sends(pid, proto, proto.start(self.now))
        return sim

    def stop(self, sim: SimSender, seconds: float) -> None:
        """Stop ``sim``'s process (SIGSTOP) for ``seconds`` from now."""
        sim.process.stopped_until = self.now + seconds

    def exit(self, sim: SimSender) -> None:
        """``sim``'s process exits: signals to it vanish, and the server learns it (``Server.sender_gone``)."""
        self.senders.remove(sim)
        self._exited.add(sim.process.pid)
        self.server.sender_gone(sim.process.pid, self.now)
        self._server_flush()

    # ------------------------------------------------------------------ plumbing
    def _process(self, pid: int) -> Process | None:
        if pid == SERVER_PID:
            return self.server_process
        for sim in reversed(self.senders):
            if sim.process.pid == pid:
                return sim.process
        if pid in self._exited:
            return None
        raise KeyError(pid)

    def send(
        self, source: int, target: int, symbol: int | None, value: int | None = None, *, forged: bool = False, to_thread: bool = False
    ) -> None:
        """``source`` signals ``target`` (``kill``, or ``sigqueue`` with ``value``; a SIGUSR1 word ``to_thread``: to its
        receiving thread), through the kernel's losses and pending slots."""
        if symbol is None:
            return
        if source != SERVER_PID and source != SPOOFER_PID and not forged:
            self._last_symbol[source] = symbol
        if target == SERVER_PID and self.corrupt is not None:
            symbol = self.corrupt(self.server, symbol)
        if self.loss and self.rng.random() < self.loss:
            self.lost += 1
            return
        if target == SPOOFER_PID:
            return
        process = self._process(target)
        if process is None:
            return  # ESRCH: the process exited
        slot = THREAD_SLOT if to_thread and symbol == 0 else symbol
        if process.pending[slot] is not None:
            self.coalesced += 1
            return
        process.pending[slot] = source
        process.values[slot] = value

    def _sender_sends(self, pid: int, proto: protocol.Sender, symbol: int | None) -> None:
        """What a sender's state machine returned: ``symbol`` (a word with ``value``, to the receiving
        thread when ``to_thread``), and in word pairs and triples the group's other words right after
        it, as ``sigio.send.send_message`` sends them."""
        self.send(pid, SERVER_PID, symbol, proto.value, to_thread=proto.to_thread)
        if symbol is not None:
            for more, value in proto.more_words:
                self.send(pid, SERVER_PID, more, value)

    def _server_flush(self, hold: bool = False) -> None:
        self.events.extend(self.server.events)
        self.server.events.clear()
        for pid, symbol in self.server.outbox:
            if hold:
                self._held.append((SERVER_PID, pid, symbol))
            else:
                self.send(SERVER_PID, pid, symbol)
        self.server.outbox.clear()

    def _release_held(self) -> None:
        if self._held and self.server_process.stopped_until <= self.now:
            held, self._held = self._held, []
            for source, target, symbol in held:
                self.send(source, target, symbol)

    def _stopped(self, process: Process) -> bool:
        return process.stopped_until > self.now

    # ------------------------------------------------------------------ running
    def done(self) -> bool:
        return all(sim.proto.outcome is not None for sim in self.senders)

    def run(self, max_steps: int = 5_000_000) -> None:
        for _ in range(max_steps):
            if self.done():
                return
            self.one_step()
        raise AssertionError("simulation did not finish")

    def one_step(self) -> None:
        rng = self.rng
        self.now += self.step
        self._release_held()
        if self.punctual_timers:
            self._fire_timers()
        if self.stray and rng.random() < self.stray:
            self.send(SPOOFER_PID, SERVER_PID, rng.getrandbits(1))
        if self.spoof_senders and self.senders and rng.random() < self.spoof_senders:
            self.send(SPOOFER_PID, rng.choice(self.senders).process.pid, rng.getrandbits(1))
        if self.forge and self.senders and rng.random() < self.forge:
            self.send(
                rng.choice(self.senders).process.pid, SERVER_PID, rng.getrandbits(1), rng.getrandbits(64), forged=True,
                to_thread=rng.random() < 0.5,  # (rt_tgsigqueueinfo forges as well)
            )
        runnable = [p for p in [self.server_process, *(s.process for s in self.senders)] if p.has_pending() and p.stopped_until <= self.now]
        if runnable:
            process = runnable[0] if self.ordered else rng.choice(runnable)
            if process is not self.server_process:
                self._run_sender(next(s for s in self.senders if s.process is process))
            elif self.slow and rng.random() < self.slow:
                process.stopped_until = self.now + rng.uniform(0.05, 0.5)
            else:
                self._run_server()
            return
        # Nothing to deliver: jump to the next deadline. A stopped sender's
        # timers only run once it resumes.
        deadlines = [max(self._deadline(s), s.process.stopped_until) for s in self.senders if s.proto.outcome is None]
        deadlines.append(self.next_tick)
        processes = [self.server_process, *(s.process for s in self.senders)]
        stopped = [p.stopped_until for p in processes if p.stopped_until > self.now]
        self.now = max(self.now, min(deadlines + stopped))
        self._release_held()
        self._fire_timers()

    def server_runs(self) -> int | None:
        """The server is scheduled and handles its next pending signal; returns its reply."""
        self.now += self.step
        return self._run_server()

    def sender_runs(self, sim: SimSender) -> int | None:
        """``sim`` is scheduled and handles its next pending signal; returns what it sends."""
        self.now += self.step
        return self._run_sender(sim)

    def _run_server(self) -> int | None:
        process = self.server_process
        taken = process.take()
        assert taken is not None, "nothing pending at the server"
        symbol, source, value = taken
        self.taken.append((source, symbol, value))
        reply = self._server_takes(source, symbol, value)
        if self.late and self.rng.random() < self.late:
            # Descheduled after taking the signal, before replying.
            process.stopped_until = self.now + self.rng.uniform(*self.late_delay)
            self._server_flush(hold=True)
            if reply is not None:
                self._held.append((SERVER_PID, source, reply))
            return reply
        self._server_flush()
        self.send(SERVER_PID, source, reply)
        return reply

    def _run_sender(self, sim: SimSender) -> int | None:
        process = sim.process
        taken = process.take()
        assert taken is not None, "nothing pending at the sender"
        symbol, source, _ = taken
        if source != SERVER_PID or sim.proto.outcome is not None:
            return None  # the real sender filters on si_pid
        reply = self._sender_takes(sim, symbol)
        if sim.proto.drain:
            sim.proto.drain = False
            process.clear()
        self._sender_sends(process.pid, sim.proto, reply)
        return reply

    def _fire_timers(self) -> None:
        if self.now >= self.next_tick:
            self._end_server_run()
            self.server.tick(self.now)
            self._server_flush()
            self.next_tick = self.now + 0.05
        for sim in self.senders:
            if sim.proto.outcome is None and self._deadline(sim) <= self.now and not self._stopped(sim.process):
                self.fire(sim)

    def fire(self, sim: SimSender) -> int | None:
        """``sim``'s timer goes off now (the real loop's deadline passed); returns what it sends.

        A sender with a signal pending handles it first instead when ``ordered``,
        and when ``precise`` in HELLO or SENDING ("the server is idle: any reply
        it made is pending here").
        """
        self._end_sender_run(sim)
        proto = sim.proto
        states = (protocol.SenderState.SENDING, protocol.SenderState.HELLO)
        if sim.process.has_pending() and (self.ordered or (self.precise and proto.state in states)):
            return None
        if self.proof_of_life and proto.state is protocol.SenderState.QUEUED and hasattr(proto, "server_alive"):
            proto.server_alive(self.now)  # like signals.send_message: the server process exists
        if self.precise and proto.state in states and self._in_flight(sim.process.pid):
            symbol = proto.postpone(self.now, self.precise_poll)
        else:
            symbol = proto.timeout(self.now)
        self._sender_sends(sim.process.pid, proto, symbol)
        self._start_sender_run(sim)
        return symbol

    # ------------------------------------------------------------------ bit runs
    def _server_takes(self, source: int, symbol: int, value: int | None) -> int | None:
        """The server's reply to one signal: from its bit run while that lasts, like ``signals.Receiver``."""
        run = self._server_run
        if run is not None:
            pid, replies, symbols, times = run
            if value is None and source == pid:
                symbols.append(symbol)
                times.append(self.now)
                reply = replies[len(symbols) - 1]
                if len(symbols) == len(replies) or self.rng.random() < self.run_break:
                    self._end_server_run()
                return reply
            self._end_server_run()
        if value is None:
            reply = self.server.receive(source, symbol, self.now)
        else:
            reply = self.server.receive_word(source, value, self.now)
        if self.runs and reply is not None:
            started = self.server.bit_run()
            if started is not None:
                self._server_run = (started[0], started[1], bytearray(), [])
        return reply

    def _end_server_run(self) -> None:
        if self._server_run is not None:
            pid, _, symbols, times = self._server_run
            self._server_run = None
            self.server.receive_run(pid, bytes(symbols), times)

    def _sender_takes(self, sim: SimSender, symbol: int) -> int | None:
        """The sender's next symbol after a reply: from its bit run while that lasts, like ``signals.send_message``."""
        run = sim.run
        if run is not None:
            bit_run, sent, deadline, _ = run
            if symbol == bit_run.expect[sent] and self.now <= deadline:
                next_symbol = bit_run.send[sent]
                sim.run = [bit_run, sent + 1, self.now + bit_run.timeout, self.now]
                if sent + 1 == len(bit_run.send) or self.rng.random() < self.run_break:
                    self._end_sender_run(sim)
                    self._start_sender_run(sim)
                return next_symbol
            self._end_sender_run(sim)
        reply = sim.proto.receive(symbol, self.now)
        self._start_sender_run(sim)
        return reply

    def _start_sender_run(self, sim: SimSender) -> None:
        if self.runs and sim.run is None and sim.proto.outcome is None:
            bit_run = sim.proto.bit_run()
            if bit_run is not None:
                sim.run = [bit_run, 0, sim.proto.deadline, None]

    def _end_sender_run(self, sim: SimSender) -> None:
        if sim.run is not None:
            _, sent, _, last = sim.run
            sim.run = None
            sim.proto.ran(sent, last)

    def _deadline(self, sim: SimSender) -> float:
        return sim.run[2] if sim.run is not None else sim.proto.deadline

    def _in_flight(self, pid: int) -> bool:
        """``procfs.signal_in_flight``: the signal is pending at the server (from
        anyone: ShdPnd does not say who sent it) or the server is not idle."""
        symbol = self._last_symbol.get(pid)
        server = self.server_process
        if symbol is not None and server.pending[symbol] is not None:
            return True
        busy = server.stopped_until > self.now or bool(self._held)
        if busy and self.blind_spot and self.rng.random() < self.blind_spot:
            return False  # taken, not answered yet, and the check cannot tell
        return busy

    def delivered(self) -> list[protocol.MessageDelivered]:
        return [e for e in self.events if isinstance(e, protocol.MessageDelivered) and not e.duplicate]
