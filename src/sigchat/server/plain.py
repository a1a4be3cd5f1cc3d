"""Plain mode: stdout carries the messages, stderr one line per diagnostic.

Stdout is exactly this: the line ``Server PID: <pid>``, then every delivered
message's bytes followed by one ``\\n``. With ``--json`` every line is one JSON
object: first the ``listening`` record (with the ``pid``), then one for every
delivered, aborted or rejected transfer (see ``records``). Either first line
is written once the receiver thread is there, so a sender may start at once.

Stderr stays quiet unless something goes wrong, so that a tester may merge it
into stdout (``2>&1``): errors (aborted transfers, incomplete classic
messages, a dead receiver thread) and refusals (messages over ``--max-bytes``,
senders not answered) always; with ``-v`` also a line per transfer started,
queued or repeated, the classic note, and the summary at the stop (which is
also written when stderr is a terminal).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from sigchat import __version__, exit_codes
from sigchat.format import human_bytes, plural, uptime as uptime_text
from sigchat.proto.events import CLASSIC, ServerEvent
from sigchat.proto.server import Server
from sigchat.server.options import AUTO, PROG, allowed_uids, build_server, classic_note
from sigchat.server.records import DurableLog, dumps, iso_time, record_of
from sigchat.server.sink import EventSink, Kind, profile_note
from sigchat.sigio import procfs
from sigchat.sigio.masks import block_stop_signals, stop_requested
from sigchat.sigio.receiver import Receiver
from sigchat.sigio.words import turbo_unsupported


def diag(message: str) -> None:
    """One diagnostic line on stderr."""
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def report_stop(
    messages: int, nbytes: int, counts: list[str], uptime: float, error: BaseException | None, *, show: bool = True
) -> int:
    """The last stderr line (plain mode and the UI) and the exit code; ``show=False``: only the error line.

    ``stopped; <summary>``, or ``the receiver thread died (<error>); <summary>``
    and FAILURE; the summary is the delivered messages and bytes, ``counts``
    (e.g. ``"3 transfers aborted"``) and the uptime: ``3 messages (42 B) delivered, ...``.
    """
    summary = ", ".join([f"{plural(messages, 'message')} ({human_bytes(nbytes)}) delivered", *counts, f"up {uptime_text(uptime)}"])
    if error is not None:
        diag(f"the receiver thread died ({type(error).__name__}: {error}); {summary}")
        return exit_codes.FAILURE
    if show:
        diag(f"stopped; {summary}")
    return exit_codes.OK


def open_log(args: argparse.Namespace) -> tuple[DurableLog | None, bool]:
    """The ``--log`` file (``None`` without ``--log``), and False after one stderr line when it cannot be opened."""
    if not args.log:
        return None, True
    try:
        return DurableLog(args.log), True
    except OSError as error:
        diag(f"cannot open the --log file: {error.strerror or error}: {args.log}")
        return None, False


def describe(pid: int) -> str:
    name = procfs.comm(pid)
    return f"{pid} ({name})" if name else str(pid)


class PlainOutput:
    """Events as stdout bytes / JSON lines and stderr diagnostics (an ``EventSink`` output)."""

    def __init__(self, *, json_lines: bool, max_bytes: int, verbose: bool = False) -> None:
        self.json_lines = json_lines
        self.max_bytes = max_bytes
        self.verbose = verbose  # -v: also the lines about transfers that went well (started, queued, repeated)
        self.out = sys.stdout.buffer
        self.written_messages = 0
        self.written_bytes = 0

    def diag(self, message: str) -> None:
        diag(message)

    def write_record(self, record: dict) -> None:
        self.out.write((dumps(record) + "\n").encode())
        self.out.flush()

    def on_event(self, event: ServerEvent, kind: Kind, wall_time: float) -> None:
        """Quick: a classic client may be streaming."""
        classic = event.mode == CLASSIC if kind is not Kind.QUEUED and kind is not Kind.HEADER else False
        if kind is Kind.PROFILE:
            # A hint means something is wrong: always. What --classic auto learned: when someone watches.
            if not event.active or event.confidence < 1 or self.verbose or sys.stderr.isatty():
                self.diag(profile_note(event))
            if self.json_lines:
                self.write_record(record_of(event, wall_time))
        elif kind is Kind.DELIVERED and not event.believed_intact:
            # Never printed as delivered: stdout holds only the messages believed intact.
            self.diag(f"classic message from {event.pid} is damaged ({event.note}): not printed "
                      f"({plural(len(event.data), 'byte')} received; its client does not wait for acks)")
            if self.json_lines:
                self.write_record(record_of(event, wall_time))
        elif kind is Kind.DELIVERED:
            if self.json_lines:
                self.write_record(record_of(event, wall_time))
            else:
                self.out.write(event.data + b"\n")
                self.out.flush()
            self.written_messages += 1
            self.written_bytes += len(event.data)
        elif not self.verbose and kind in (Kind.DUPLICATE, Kind.STARTED, Kind.QUEUED):
            pass
        elif kind is Kind.DUPLICATE:
            self.diag(f"message from {event.pid} was a repeat of one already delivered; not shown again")
        elif kind is Kind.STARTED:
            self.diag(f"classic client {event.pid} started" if classic else f"sender {describe(event.pid)} started")
        elif kind is Kind.QUEUED:
            self.diag(f"sender {describe(event.pid)} waits its turn (position {event.position})")
        elif kind is Kind.REJECTED and not classic:
            self.diag(f"rejected message from {event.pid}: {event.stats.length} bytes is over --max-bytes {self.max_bytes}")
        elif kind.failed:
            stats = event.stats
            if classic:
                expected = f" of {stats.length}" if stats.length is not None else ""
                got = f"{len(event.partial)}{expected} bytes received"
                self.diag(f"classic message from {event.pid} ended: {event.reason.value} ({got}); nothing delivered")
            else:
                got = f"{len(event.partial)} of {stats.length} bytes" if stats.length is not None else "before the header"
                self.diag(f"transfer from {event.pid} aborted: {event.reason.value} ({got}); nothing delivered")
        if self.json_lines and kind.failed:
            self.write_record(record_of(event, wall_time))

    def on_refused(self, pid: int, reason: str, wall_time: float) -> None:
        self.diag(f"not answering {describe(pid)}: {reason}")


def listening_record(args: argparse.Namespace, server: Server, wall_time: float) -> dict:
    """``--json``'s first line: this server's PID and what it serves (``records`` describes the fields)."""
    return {
        "time": iso_time(wall_time),
        "event": "listening",
        "pid": os.getpid(),
        "version": __version__,
        "classic": None if args.classic is None else AUTO if args.classic_auto else str(args.classic),
        "native": args.classic is None or args.classic.native_compatible,
        "turbo": server.turbo and turbo_unsupported() is None,
        "max_bytes": args.max_bytes,
    }


RECEIVER_START_WAIT = 1.0
"""Seconds plain mode waits for its receiver thread to name itself before it prints the first line anyway."""


def wait_for_receiver_thread(receiver: Receiver) -> None:
    """Return once the receiver thread shows in ``/proc`` (senders look for it there) or is gone."""
    deadline = time.monotonic() + RECEIVER_START_WAIT
    while receiver.alive and procfs.receiver_tid(os.getpid()) is None and time.monotonic() < deadline:
        time.sleep(0.0005)


def run_plain(args: argparse.Namespace) -> int:
    log, opened = open_log(args)
    if not opened:
        return exit_codes.FAILURE
    output = PlainOutput(json_lines=args.json, max_bytes=args.max_bytes, verbose=args.verbose)
    sink = EventSink(output, log=log)
    server = build_server(args)
    receiver = Receiver(
        server,
        sink.on_event,
        on_refused=sink.on_refused,
        on_note=output.diag,
        allowed_uids=allowed_uids(args),
        pin_cpu=not args.no_affinity,
    )
    block_stop_signals()  # before the receiver thread starts: it inherits the mask
    started = time.monotonic()
    receiver.start()
    wait_for_receiver_thread(receiver)  # so that a sender may start as soon as it reads the PID
    if args.json:
        output.write_record(listening_record(args, server, time.time()))
    else:
        sys.stdout.write(f"Server PID: {os.getpid()}\n")
        sys.stdout.flush()
    note = classic_note(args.classic, auto=args.classic_auto)
    if note is not None and (args.verbose or not args.classic.native_compatible):  # "classic clients only": a warning
        output.diag(note)
    while receiver.alive and not stop_requested(0.1):
        pass
    receiver.stop()
    if log is not None:
        log.close()
    c = server.totals()
    return report_stop(
        output.written_messages,
        output.written_bytes,
        [f"{plural(c.aborted, 'transfer')} aborted", f"{plural(c.stray + receiver.counters.foreign_uid, 'stray signal')} ignored"],
        time.monotonic() - started,
        receiver.error,
        show=args.verbose or sys.stderr.isatty(),
    )
