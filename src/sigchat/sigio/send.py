"""The native send loop: one ``proto.sender.Sender`` over real signals.

On the send path (the start-up rule is in ``sigchat.send``'s docstring): it
imports ``proto.sender``, ``proto.wire``, ``masks``, ``procfs``, ``link`` and
``words``, nothing of the server side.
"""

from __future__ import annotations

import os
import time

from sigchat.proto.base import Record
from sigchat.proto.sender import BitRun, Outcome, Sender, SenderState, SenderStats, WordRun
from sigchat.proto.wire import DEFAULT_TIMEOUT, RETRY_INITIAL
from sigchat.sigio import procfs
from sigchat.sigio.link import FOREIGN, PeerLink
from sigchat.sigio.masks import KERNEL_FILLED, SIGNAL_OF_SYMBOL, SIGNALS
from sigchat.sigio.sigapi import signal
from sigchat.sigio.words import Words, open_words

TYPE_CHECKING = False  # typing's constant without importing typing (the start-up rule)
if TYPE_CHECKING:
    from collections.abc import Callable

PRECISE_RETRY = 0.01
"""Seconds before a sender checks /proc for a lost signal (when it can; else RETRY_INITIAL)."""
PRECISE_WORD_RETRY = 0.002
"""The same while turbo words are in flight: a resent word is never a duplicate, and a group
lost to a foreign signal in the server's slot (another sender's hello, say) costs this."""
IN_FLIGHT_POLL = 0.005
"""Seconds between checks while the last signal is still pending or being handled."""


class SendResult(Record):
    """How ``send_message`` ended. ``answered``: the server ever replied (tells "not a
    sigchat server" from "went away"); ``extra``: notes, e.g. why turbo was not used."""

    __slots__ = ("outcome", "stats", "server_gone", "answered", "foreign_signals", "extra")

    def __init__(self, outcome: Outcome, stats: SenderStats) -> None:
        self.outcome, self.stats = outcome, stats
        self.server_gone = self.answered = False
        self.foreign_signals = 0
        self.extra: dict = {}


def send_message(
    pid: int,
    data: bytes,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    message_id: int | None = None,
    clock: Callable[[], float] = time.monotonic,
    on_progress: Callable[[Sender], None] | None = None,
    progress_interval: float = 0.1,
    turbo: bool = False,
    triples: bool = True,
    opened_words: tuple[Words | None, str | None] | None = None,
) -> SendResult:
    """Send ``data`` to the sigchat server ``pid``; signals must already be blocked.

    ``turbo``: ask for turbo words (rule 7), three per round trip when the
    server's receiving thread is known here (``triples``: False asks for two at
    most), else two. Without ctypes support here, or when the server declines,
    the message goes 1 bit per signal; ``result.stats.turbo`` tells which, and
    ``result.extra["turbo"]`` why not. A server of an earlier version takes one
    word or two per round trip: ``result.stats.pairs``/``triples`` say which,
    and ``result.extra["pairs"]`` says so when it took one. ``opened_words``:
    ``words.open_words()``'s result when the caller opened it already (before
    it moved onto the server's CPU, say: loading ctypes costs ~4 ms of CPU).

    When no reply comes in time, ``/proc`` tells a lost signal (resend it) from
    one that is still pending or being handled (wait: a resend would arrive
    twice); see ``procfs.signal_in_flight``. Without that view (another user's
    server, no receiver thread found) it falls back to resending after
    ``wire.RETRY_INITIAL`` and relies on the duplicate detection.

    Raises ``ProcessLookupError`` / ``PermissionError`` only for the very first
    signal (no such process, not allowed); later a vanished server is reported
    in the result.
    """
    receiver = procfs.receiver_tid(pid)
    precise = receiver is not None and procfs.signal_in_flight(pid, receiver, signal.SIGUSR1) is not None
    words, unsupported = (opened_words or open_words()) if turbo else (None, None)
    sender = Sender(
        data,
        int.from_bytes(os.urandom(4), "big") if message_id is None else message_id,
        timeout=timeout,
        retry_initial=PRECISE_RETRY if precise else RETRY_INITIAL,
        word_retry=PRECISE_WORD_RETRY if precise else None,
        turbo=words is not None,
        # The first word of a triple goes to the receiving thread: its tid must be known.
        triples=triples and precise and words is not None and words.thread_queue is not None,
    )
    link = PeerLink(pid, clock, words, receiver)
    SENDING, HELLO, QUEUED = SenderState.SENDING, SenderState.HELLO, SenderState.QUEUED
    result = SendResult(Outcome.NO_ANSWER, sender.stats)
    if unsupported is not None:
        result.extra["turbo"] = unsupported
    link.start(sender.start(clock()))
    next_progress = 0.0
    while sender.outcome is None:
        run = sender.bit_run()
        groups = sender.word_run() if run is None and words is not None else None
        reply = None  # the signal that ended a run, as a symbol
        if run is not None:
            try:
                reply, now = _exchange_run(link, run, sender)
            except ProcessLookupError:
                return _gone(result, link, clock())
        elif groups is not None:
            reply, now = _exchange_word_run(link, groups, sender)
        if reply is None:  # no run, all of it sent (a reply is due), or no reply in time
            reply, now = link.wait(sender.deadline)
        if reply == FOREIGN:
            continue
        symbol = None
        if reply is None:
            if now < sender.deadline:
                continue
            if not link.alive():
                return _gone(result, link, now)
            state = sender.state
            if state is QUEUED and procfs.is_running(pid):
                sender.server_alive(now)
            if precise and (state is SENDING or state is HELLO):
                if procfs.signal_in_flight(pid, receiver, link.last_signal):
                    symbol = sender.postpone(now, IN_FLIGHT_POLL)
                else:
                    # The server is idle: any reply it made is pending here by now.
                    reply = link.poll()
                    if reply == FOREIGN:
                        continue
                    if reply is None:
                        symbol = sender.timeout(now)
            else:
                symbol = sender.timeout(now)
        if reply is not None:
            symbol = sender.receive(reply, now)
            if sender.drain:
                sender.drain = False
                link.drain()
        if symbol is not None and not _send(link, sender, symbol):
            return _gone(result, link, clock())
        if on_progress is not None and now >= next_progress:
            next_progress = now + progress_interval
            on_progress(sender)
    if turbo and unsupported is None and not sender.stats.turbo:
        result.extra["turbo"] = "the server declined turbo words"
    elif sender.stats.turbo and not sender.stats.pairs:
        result.extra["pairs"] = "the server takes one word per round trip (a sigchat-server before word pairs)"
    result.outcome = sender.outcome
    return _ended(result, link)


def _send(link: PeerLink, sender: Sender, symbol: int) -> bool:
    """Send what the state machine returned: ``symbol``, or a group of words (``Sender.value``,
    ``to_thread``, ``more_words``); False: the server is gone."""
    if sender.to_thread:
        sent = link.send_to_thread(sender.value)
    else:
        sent = link.send(symbol, sender.value)
    return sent and all(link.send(more, value) for more, value in sender.more_words)


def _ended(result: SendResult, link: PeerLink) -> SendResult:
    result.answered = link.answered
    result.foreign_signals = link.foreign_signals
    return result


def _gone(result: SendResult, link: PeerLink, now: float) -> SendResult:
    result.server_gone = True
    result.stats.ended_at = now
    return _ended(result, link)


def _exchange_run(link: PeerLink, run: BitRun, sender: Sender) -> tuple[int | None, float]:
    """Exchange ``run`` with the server (see ``proto.sender.BitRun``), then ``sender.ran()``.

    Returns the signal that ended the run early (as ``PeerLink.wait`` returns
    it, to handle the usual way) or ``None``, and the time. Per signal this is the raw ping-pong plus a few
    checks: neither the state machine nor ``PeerLink`` is called (issue #6).
    """
    wait, kill, signals, kernel_filled = signal.sigtimedwait, os.kill, SIGNALS, KERNEL_FILLED
    signal_of, usr1, timeout, clock, pid = SIGNAL_OF_SYMBOL, signal.SIGUSR1, run.timeout, link.clock, link.pid
    deadline = sender.deadline
    now = last_sent = clock()
    sent = 0
    info = None
    try:
        for expected, symbol in zip(run.expect, run.send):
            remaining = deadline - now
            info = wait(signals, remaining) if remaining > 0 else None
            now = clock()
            if (
                info is None
                or now > deadline
                or info.si_pid != pid
                or info.si_code not in kernel_filled
                or (info.si_signo != usr1) != expected
            ):
                break
            info = None
            kill(pid, signal_of[symbol])
            sent += 1
            last_sent = now
            deadline = now + timeout
    finally:
        sender.ran(sent, last_sent)
        if sent:
            link.answered = True
            link.last_signal = signal_of[run.send[sent - 1]]
    return link.symbol_of(info), now


def _exchange_word_run(link: PeerLink, run: WordRun, sender: Sender) -> tuple[int | None, float]:
    """Exchange ``run``'s word pairs or triples with the server (see ``proto.sender.WordRun``), then ``sender.word_ran()``.

    As ``_exchange_run``. A group that could not be queued (the server exited,
    the queue limit, its thread gone) counts as sent and lost: the sender's
    timeout finds out which.
    """
    kernel_filled, queue, usr1, usr2 = KERNEL_FILLED, link.words.raw_sigqueue, signal.SIGUSR1, signal.SIGUSR2
    to_thread, thread, triples = link.words.thread_queue, link.thread, run.thirds is not None
    thirds = run.thirds if triples else run.seconds  # (zipped along, unused, for pairs)
    timeout, clock, pid = run.timeout, link.clock, link.pid
    # Every wait may take the run's timeout: a reply later than the deadline ends the run anyway.
    wait = link.words.taker(timeout)
    deadline = sender.deadline
    now = last_sent = clock()
    sent = 0
    got = None
    try:
        for expected, first, second, third in zip(run.expect, run.firsts, run.seconds, thirds):
            got = wait() if now < deadline else None
            now = clock()
            if got is None or now > deadline or got[2] != pid or got[1] not in kernel_filled or (got[0] != usr1) != expected:
                break
            got = None
            sent += 1
            last_sent = now
            deadline = now + timeout
            if triples:  # (wire.TRIPLE_SYMBOLS: the receiver wakes at the SIGUSR2 word, the others pending)
                if to_thread(pid, thread, first) < 0 or queue(pid, usr1, second) < 0 or queue(pid, usr2, third) < 0:
                    break
            elif queue(pid, usr1, first) < 0 or queue(pid, usr2, second) < 0:
                break
    finally:
        sender.word_ran(sent, last_sent)
        if sent:
            link.answered = True
            link.last_signal = usr2
    return None if got is None else link.symbol_from(got[0], got[1], got[2]), now
