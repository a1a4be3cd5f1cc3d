"""``sigchat-send PID [MESSAGE]``: send one message to a sigchat server.

Importing this module must not import Textual (start-up time; a test checks).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from sigchat import __version__, exit_codes, procfs, protocol
from sigchat import signals as sigio

PROG = "sigchat-send"

EPILOG = """\
examples:
  sigchat-send 4242 'hello'         send a message to the server with PID 4242
  echo hi | sigchat-send 4242       the message is read from stdin ...
  sigchat-send 4242 - < file.bin    ... also with '-'; any bytes are fine
  sigchat-send -v 4242 hello        print statistics to stderr

exit codes:
{codes}
"""


class UsageError(Exception):
    """Bad arguments: exit 2 before any signal is sent."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one clear line, not usage + message
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    codes = "\n".join(f"  {code:>3}  {text}" for code, _, text in exit_codes.table())
    parser = _Parser(
        prog=PROG,
        description="Send a message to a sigchat server using only SIGUSR1 and SIGUSR2.",
        epilog=EPILOG.format(codes=codes),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("pid", metavar="PID", help="PID of the server (sigchat-server prints it)")
    parser.add_argument(
        "message",
        metavar="MESSAGE",
        nargs="?",
        help="the message; '-' or absent reads it from stdin (when stdin is not a terminal)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=protocol.DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="longest silence accepted from the server (default: %(default)s)",
    )
    parser.add_argument(
        "--no-affinity",
        action="store_true",
        help="do not move to the CPU of the server's receiver thread (slower, see docs/PROTOCOL.md)",
    )
    parser.add_argument("-v", "--stats", action="store_true", help="print transfer statistics to stderr")
    parser.add_argument(
        "--force", action="store_true", help="send even when /proc says SIGUSR1/SIGUSR2 would kill the process"
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def parse_pid(text: str) -> int:
    try:
        pid = int(text, 10)
    except ValueError:
        raise UsageError(f"PID must be a number, not {text!r}") from None
    if pid <= 0:
        raise UsageError(f"PID must be a positive number, not {pid}")
    if pid == os.getpid():
        raise UsageError("PID is this process's own PID")
    return pid


def read_message(args: argparse.Namespace) -> bytes:
    if args.message is not None and args.message != "-":
        # surrogateescape gives back the exact bytes of the argument, valid UTF-8 or not
        return os.fsencode(args.message)
    if args.message is None and sys.stdin.isatty():
        raise UsageError("no MESSAGE given and stdin is a terminal (give MESSAGE, or pipe it in)")
    return sys.stdin.buffer.read()


def fail(code: int, message: str) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return code


def check_target(pid: int, force: bool) -> int | None:
    """Return an exit code when ``pid`` must not be signalled, else ``None``."""
    try:
        os.kill(pid, 0)  # signal 0: existence and permission check, nothing is sent
    except ProcessLookupError:
        return fail(exit_codes.NO_SUCH_PROCESS, f"no such process: {pid}")
    except PermissionError:
        return fail(exit_codes.PERMISSION_DENIED, f"permission denied: process {pid} belongs to another user")
    safety = procfs.signal_safety(pid)
    if safety is None:
        return fail(exit_codes.NO_SUCH_PROCESS, f"no such process: {pid} (it has exited)")
    if not safety.safe and not force:
        name = procfs.comm(pid) or "?"
        return fail(
            exit_codes.UNSAFE_TARGET,
            f"refusing to signal {pid} ({name}): {safety.reason}; it is not a sigchat server (--force to send anyway)",
        )
    return None


def describe_failure(result: sigio.SendResult, pid: int, timeout: float) -> tuple[int, str]:
    outcome = result.outcome
    if result.server_gone:
        return exit_codes.SERVER_GONE, f"server {pid} went away during the transfer"
    if outcome is protocol.Outcome.TOO_LARGE:
        return exit_codes.REJECTED, f"server {pid} rejected the message as too large ({result.stats.length} bytes)"
    if outcome is protocol.Outcome.BAD_VERSION:
        return exit_codes.PROTOCOL, f"server {pid} speaks another sigchat protocol version"
    if outcome is protocol.Outcome.CORRUPT:
        return (
            exit_codes.INTEGRITY,
            f"integrity check failed on all {result.stats.attempts} attempts; the message was not delivered",
        )
    if not result.answered:
        return exit_codes.NO_ANSWER, f"no answer from {pid} within {timeout:g} s: is it a sigchat server?"
    return exit_codes.NO_ANSWER, f"server {pid} stopped answering for {timeout:g} s"


def format_stats(result: sigio.SendResult) -> str:
    s = result.stats
    return (
        f"{PROG}: {s.length} bytes, {s.frame_bits} bits, {s.signals_sent} signals sent, "
        f"{s.signals_received} received, {s.retransmissions} retransmissions, {s.attempts} attempt(s), "
        f"{s.duration:.3f} s, {s.bits_per_second:,.0f} bits/s"
    )


def main(argv: list[str] | None = None) -> int:
    sigio.block_signals()  # first: no reply may ever find these signals unblocked
    try:
        args = build_parser().parse_args(argv)
        pid = parse_pid(args.pid)
        if args.timeout <= 0:
            raise UsageError("--timeout must be positive")
        data = read_message(args)
    except UsageError as error:
        return fail(exit_codes.USAGE, f"{error} (see --help)")
    except OSError as error:
        return fail(exit_codes.FAILURE, f"cannot read the message: {error.strerror or error}")
    code = check_target(pid, args.force)
    if code is not None:
        return code
    if not args.no_affinity:
        sigio.join_receiver_cpu(pid)
    try:
        result = sigio.send_message(pid, data, timeout=args.timeout)
    except ProcessLookupError:
        return fail(exit_codes.NO_SUCH_PROCESS, f"no such process: {pid}")
    except PermissionError:
        return fail(exit_codes.PERMISSION_DENIED, f"permission denied: process {pid} belongs to another user")
    except KeyboardInterrupt:
        return fail(exit_codes.INTERRUPTED, "interrupted")
    if args.stats:
        print(format_stats(result), file=sys.stderr)
    if result.outcome is protocol.Outcome.DELIVERED and not result.server_gone:
        return exit_codes.OK
    code, message = describe_failure(result, pid, args.timeout)
    return fail(code, message)


def entry_point() -> None:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())


if __name__ == "__main__":
    entry_point()
