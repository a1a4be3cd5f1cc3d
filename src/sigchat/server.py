"""``sigchat-server``: receive messages; a Textual app on a terminal, plain text otherwise.

Plain mode (``--plain``, or automatic when stdout is not a terminal) writes
exactly this to stdout: the line ``Server PID: <pid>``, then every delivered
message's bytes followed by one ``\\n`` (or with ``--json`` one JSON object per
line for every delivered, aborted or rejected transfer, see ``records``).
Diagnostics go to stderr, one line each.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time

from sigchat import __version__, classic, exit_codes, procfs, protocol, records
from sigchat import signals as sigio

PROG = "sigchat-server"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Receive messages sent with sigchat-send over SIGUSR1/SIGUSR2.",
        epilog=(
            "Send from another terminal with:  sigchat-send <PID> 'hello'\n\nexit codes:\n"
            + "\n".join(
                f"  {code:>3}  {text}"
                for code, name, text in exit_codes.table()
                if name in ("OK", "FAILURE", "USAGE")
            )
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--plain", action="store_true", help="no UI: messages to stdout (default when stdout is not a terminal)")
    parser.add_argument("--json", action="store_true", help="plain mode: one JSON object per message instead of its text")
    parser.add_argument(
        "--max-bytes",
        type=int,
        default=protocol.DEFAULT_MAX_BYTES,
        metavar="N",
        help="refuse longer messages, before their payload is sent (default: %(default)s = 16 MiB)",
    )
    parser.add_argument(
        "--session-timeout",
        type=float,
        default=protocol.SESSION_IDLE_TIMEOUT,
        metavar="SECONDS",
        help="drop a transfer whose sender is silent this long (default: %(default)s)",
    )
    parser.add_argument(
        "--classic",
        type=_profile_argument,
        default=classic.DEFAULT_PROFILE,
        metavar="PROFILE",
        help="also serve classic minitalk clients of this profile, e.g. 'lsb,len32,ack=none' "
        f"(default: {classic.DEFAULT_PROFILE}; options: msb|lsb, usr2=1|usr1=1, nul|len32|len64|len32+nul|len64+nul, "
        "be|le, nul-counted, ack=usr1|usr2|none, end-ack=usr1|usr2|none, handshake; see README)",
    )
    parser.add_argument(
        "--no-classic", dest="classic", action="store_const", const=None, help="serve native sigchat senders only"
    )
    parser.add_argument(
        "--classic-timeout",
        type=float,
        default=classic.DEFAULT_IDLE_TIMEOUT,
        metavar="SECONDS",
        help="end a classic message as incomplete after this much silence mid-message (default: %(default)s)",
    )
    parser.add_argument("--log", metavar="FILE", help="append every delivered message to FILE as a JSON line (fsynced)")
    parser.add_argument(
        "--allow-uid",
        type=int,
        action="append",
        default=[],
        metavar="UID",
        help="also accept senders running as UID (default: only this user and root)",
    )
    parser.add_argument(
        "--no-affinity",
        action="store_true",
        help="do not pin the receiver thread (nor the UI's threads) to one CPU (senders then cannot join it; slower)",
    )
    parser.add_argument(
        "--no-turbo",
        action="store_true",
        help="decline turbo words (sigchat-send --turbo then sends 1 bit per signal)",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def _profile_argument(text: str) -> classic.Profile:
    try:
        return classic.parse_profile(text)
    except classic.ProfileError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def build_server(args: argparse.Namespace) -> protocol.Server:
    """The protocol server that the options ask for (plain mode and the UI)."""
    return protocol.Server(
        max_bytes=args.max_bytes,
        session_timeout=args.session_timeout,
        classic=getattr(args, "classic", None),
        classic_timeout=getattr(args, "classic_timeout", None),
        turbo=not getattr(args, "no_turbo", False),  # (the receiver turns it off where it cannot read si_value)
    )


def classic_note(profile: classic.Profile | None) -> str | None:
    """One line on which classic clients are served (``None`` when none are)."""
    if profile is None:
        return None
    if profile.native_compatible:
        return f"also serving classic minitalk clients: {profile} ({profile.describe()})"
    return (
        f"serving classic minitalk clients only: {profile} ({profile.describe()}); with this profile a classic "
        "message can look like a sigchat hello, so sigchat senders are not recognised (run a second server for them)"
    )


def diag(message: str) -> None:
    """One diagnostic line on stderr."""
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def report_stop(messages: int, nbytes: int, counts: list[str], uptime: float, error: BaseException | None) -> int:
    """The last stderr line (plain mode and the UI) and the exit code.

    ``stopped; <summary>``, or ``the receiver thread died (<error>); <summary>``
    and FAILURE; the summary is the delivered messages and bytes, ``counts``
    (e.g. ``"3 transfers aborted"``) and the uptime.
    """
    summary = ", ".join([f"{messages} messages ({nbytes} bytes) delivered", *counts, f"up {uptime:.1f} s"])
    if error is not None:
        diag(f"the receiver thread died ({type(error).__name__}: {error}); {summary}")
        return exit_codes.FAILURE
    diag(f"stopped; {summary}")
    return exit_codes.OK


def describe(pid: int) -> str:
    name = procfs.comm(pid)
    return f"{pid} ({name})" if name else str(pid)


class PlainOutput:
    """Turns protocol events into stdout bytes / JSON lines and stderr diagnostics."""

    def __init__(self, *, json_lines: bool, log: records.DurableLog | None, max_bytes: int) -> None:
        self.json_lines = json_lines
        self.log = log
        self.max_bytes = max_bytes
        self.out = sys.stdout.buffer
        self.written_messages = 0
        self.written_bytes = 0

    def diag(self, message: str) -> None:
        diag(message)

    def write_record(self, record: dict) -> None:
        self.out.write((records.dumps(record) + "\n").encode())
        self.out.flush()

    def on_event(self, event: protocol.ServerEvent) -> None:
        if getattr(event, "mode", "native") == classic.MODE and not isinstance(event, protocol.MessageDelivered):
            self.on_classic_event(event)
        elif isinstance(event, protocol.MessageDelivered):
            if event.duplicate:
                self.diag(f"message from {event.pid} was a repeat of one already delivered; not shown again")
                return
            record = records.delivered_record(event, time.time())
            if self.log is not None:
                self.log.append(record)
            if self.json_lines:
                self.write_record(record)
            else:
                self.out.write(event.data + b"\n")
                self.out.flush()
            self.written_messages += 1
            self.written_bytes += len(event.data)
        elif isinstance(event, protocol.TransferStarted):
            self.diag(f"sender {describe(event.pid)} started")
        elif isinstance(event, protocol.SenderQueued):
            self.diag(f"sender {describe(event.pid)} waits its turn (position {event.position})")
        elif isinstance(event, protocol.TransferAborted):
            stats = event.stats
            if event.reason is protocol.AbortReason.TOO_LARGE:
                self.diag(f"rejected message from {event.pid}: {stats.length} bytes is over --max-bytes {self.max_bytes}")
            else:
                got = f"{len(event.partial)} of {stats.length} bytes" if stats.length is not None else "before the header"
                self.diag(f"transfer from {event.pid} aborted: {event.reason.value} ({got}); nothing delivered")
        if self.json_lines and isinstance(event, protocol.TransferAborted):
            self.write_record(records.aborted_record(event, time.time()))

    def on_refused(self, pid: int, reason: str) -> None:
        self.diag(f"not answering {describe(pid)}: {reason}")

    def on_classic_event(self, event: protocol.ServerEvent) -> None:
        """Classic starts and aborts on stderr (the rest as for native ones). Quick: a client may be streaming."""
        if isinstance(event, protocol.TransferStarted):
            self.diag(f"classic client {event.pid} started")
        elif isinstance(event, protocol.TransferAborted):
            stats = event.stats
            expected = f" of {stats.length}" if stats.length is not None else ""
            self.diag(
                f"classic message from {event.pid} ended: {event.reason.value} "
                f"({len(event.partial)}{expected} bytes received); nothing delivered"
            )


def run_plain(args: argparse.Namespace) -> int:
    log = records.DurableLog(args.log) if args.log else None
    output = PlainOutput(json_lines=args.json, log=log, max_bytes=args.max_bytes)
    server = build_server(args)
    receiver = sigio.Receiver(
        server,
        output.on_event,
        on_refused=output.on_refused,
        on_note=output.diag,
        allowed_uids=frozenset({os.getuid(), 0, *args.allow_uid}),
        pin_cpu=not args.no_affinity,
    )
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    started = time.monotonic()
    sys.stdout.write(f"Server PID: {os.getpid()}\n")
    sys.stdout.flush()
    note = classic_note(args.classic)
    if note is not None:
        output.diag(note)
    receiver.start()
    while not stop.wait(0.1) and receiver.alive:
        pass
    receiver.stop()
    if log is not None:
        log.close()
    c = server.counters
    return report_stop(
        output.written_messages,
        output.written_bytes,
        [f"{c.aborted} transfers aborted", f"{c.stray + receiver.counters.foreign_uid} stray signals ignored"],
        time.monotonic() - started,
        receiver.error,
    )


def run_tui(args: argparse.Namespace) -> int:
    if not sys.stderr.isatty():  # Textual draws on stderr
        return run_plain(args)
    from sigchat.app import run_app

    return run_app(args)


def main(argv: list[str] | None = None) -> int:
    sigio.block_signals()  # first, before any thread exists (Textual starts several)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    if not 0 <= args.max_bytes <= protocol.MAX_LENGTH:
        print(f"{PROG}: --max-bytes must be between 0 and {protocol.MAX_LENGTH} (see --help)", file=sys.stderr)
        return exit_codes.USAGE
    if not 0 < args.session_timeout < float("inf"):
        print(f"{PROG}: --session-timeout must be positive (see --help)", file=sys.stderr)
        return exit_codes.USAGE
    if not 0 < args.classic_timeout < float("inf"):
        print(f"{PROG}: --classic-timeout must be positive (see --help)", file=sys.stderr)
        return exit_codes.USAGE
    if args.plain or args.json or not sys.stdout.isatty():
        return run_plain(args)
    return run_tui(args)


def entry_point() -> None:
    code = main()
    # Everything is written and the terminal restored by now; skipping the
    # interpreter's shutdown (unloading Textual takes ~0.3 s) keeps quitting instant.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry_point()
