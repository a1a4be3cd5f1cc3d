"""``sigchat-send PID [MESSAGE]``: send one message to a sigchat server.

The start-up rule
=================

A plain ``sigchat-send PID MESSAGE`` must start within 2x ``python3 -c pass``
(measured by ``make bench``). It imports exactly these sigchat modules, and
``tests/test_imports.py`` checks the exact set (and the standard library
modules beyond ``python3 -c pass``: ``struct``, ``zlib``, ``_signal``...):

=======================  =====================================================
``sigchat.send``         this CLI; argparse only when the arguments are more
                         than ``PID MESSAGE`` (``quick_args``)
``sigchat.exit_codes``   the exit codes
``sigchat.proto.base``   ``Record``/``Choice`` instead of dataclasses/enum
``sigchat.proto.wire``   the format (struct, zlib)
``sigchat.proto.sender`` the state machine
``sigchat.sigio.*``      ``sigapi`` (the C ``_signal``, not ``signal``, which
                         imports enum), ``masks``, ``procfs``, ``cpus``,
                         ``link``, ``words`` (ctypes only for ``--turbo``),
                         ``send``
=======================  =====================================================

So these modules, and only these, keep to: no ``enum``, ``dataclasses``,
``typing`` (``TYPE_CHECKING = False`` instead), ``collections``, ``re``,
``threading`` or ``ctypes`` at import time; the classic core only for
``--classic``, Textual never. Every other module of sigchat is free of such
tricks.
"""

from __future__ import annotations

import os
import sys
from types import SimpleNamespace

from sigchat import SEND_COMMAND, __version__, exit_codes
from sigchat.proto.base import LocalProtocolError
from sigchat.proto.sender import Outcome
from sigchat.proto.wire import DEFAULT_TIMEOUT
from sigchat.sigio import procfs
from sigchat.sigio.cpus import join_receiver_cpu
from sigchat.sigio.masks import block_signals
from sigchat.sigio.send import SendResult, send_message
from sigchat.sigio.words import open_words
from sigchat.sigio.sigapi import signal, signal_name

TYPE_CHECKING = False  # typing's constant without importing typing (the start-up rule)
if TYPE_CHECKING:
    import argparse

    from sigchat.proto.classic.profile import Profile
    from sigchat.sigio.send_classic import ClassicSendResult

PROG = SEND_COMMAND

DEFAULTS = dict(
    timeout=DEFAULT_TIMEOUT, no_affinity=False, turbo=False, stats=False, force=False,
    classic=None, pace_us=None, ack_timeout=None,
)  # fmt: skip
"""Every option's default: argparse's and ``quick_args``'s (the classic ones come from the profile module)."""

EPILOG = """\
examples:
  sigchat-send 4242 'hello'         send a message to the server with PID 4242
  echo hi | sigchat-send 4242       the message is read from stdin ...
  sigchat-send 4242 - < file.bin    ... also with '-'; any bytes are fine
  sigchat-send -v 4242 hello        print statistics to stderr
  sigchat-send --turbo 4242 - < big.bin
                                    64-bit values with each signal (sigqueue):
                                    about 40-65x faster (make bench); 1 bit per
                                    signal if the server declines
  sigchat-send --classic 4242 hi    send to a classic minitalk server (MSB first,
                                    SIGUSR2 = 1, NUL-terminated, SIGUSR1 acks)
  sigchat-send --classic=lsb,ack=none --pace-us 200 4242 hi
                                    ... of another profile (see README); also
                                    written --classic lsb,ack=none 4242 hi

exit codes:
{codes}
"""


class UsageError(Exception):
    """Bad arguments: exit 2 before any signal is sent."""


def build_parser() -> argparse.ArgumentParser:
    import argparse  # not at the top: see quick_args

    from sigchat.proto.classic.profile import DEFAULT_ACK_TIMEOUT, DEFAULT_PACE, DEFAULT_PROFILE, SYNTAX

    class _Parser(argparse.ArgumentParser):
        def error(self, message: str) -> None:  # one clear line, not usage + message
            raise UsageError(message)

    codes = exit_codes.help_table()
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
        default=DEFAULTS["timeout"],
        metavar="SECONDS",
        help="longest silence accepted from the server (default: %(default)s)",
    )
    parser.add_argument(
        "--no-affinity",
        action="store_true",
        help="do not move to the CPU of the server's receiver thread (slower, see docs/PROTOCOL.md)",
    )
    parser.add_argument(
        "--turbo",
        action="store_true",
        help="send the payload as 64-bit sigqueue values (6 bytes per signal, still only SIGUSR1/SIGUSR2); "
        "falls back to 1 bit per signal when the server declines",
    )
    parser.add_argument("-v", "--stats", action="store_true", help="print transfer statistics to stderr")
    parser.add_argument(
        "--force", action="store_true", help="send even when /proc says SIGUSR1/SIGUSR2 would kill the process"
    )
    parser.add_argument(
        "--classic",
        metavar="PROFILE",
        help=f"send to a classic minitalk server instead; --classic alone is {DEFAULT_PROFILE}, "
        f"--classic=PROFILE another profile (options: {SYNTAX})",
    )
    parser.add_argument(
        "--pace-us",
        type=int,
        metavar="US",
        help=f"classic: microseconds between bits when nothing acks them (default: {DEFAULT_PACE * 1e6:g})",
    )
    parser.add_argument(
        "--ack-timeout",
        type=float,
        metavar="SECONDS",
        help=f"classic: wait this long for each ack, then carry on (default: {DEFAULT_ACK_TIMEOUT:g}); "
        "--timeout is the wait for the end-of-message ack",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.set_defaults(**DEFAULTS)
    return parser


def quick_args(argv: list[str]) -> SimpleNamespace | None:
    """``PID MESSAGE`` and nothing else, parsed without argparse; ``None`` for anything else.

    Building the argparse parser (with its imports: re, gettext, shutil) took
    ~20 ms here, as long as Python's own start-up, and the common case needs
    none of it (issue #6: start-up within 2x ``python3 -c pass``). The result
    equals ``build_parser().parse_args(argv)``; tests/test_cli.py checks it.
    """
    if len(argv) != 2 or not argv[0].isdigit() or argv[1].startswith("-"):
        return None
    return SimpleNamespace(pid=argv[0], message=argv[1], **DEFAULTS)


def parse_args(argv: list[str]) -> argparse.Namespace:
    """argparse, for anything but ``PID MESSAGE``; an unknown option or words after MESSAGE are one ``UsageError``."""
    parser = build_parser()
    argv = expand_classic_flag(argv)
    unknown = unknown_option(argv, [option for action in parser._actions for option in action.option_strings])
    if unknown is not None:
        raise UsageError(f"unknown option {unknown}")
    args, extra = parser.parse_known_args(argv)
    if extra:  # `sigchat-send PID hello world`: the shell made two arguments of the message
        import shlex

        raise UsageError(f"quote your message: {PROG} {args.pid} {shlex.quote(' '.join([args.message, *extra]))}")
    return args


def unknown_option(argv: list[str], options: list[str]) -> str | None:
    """The first argument before ``--`` that looks like an option and is none of ``options`` (nor an
    abbreviation of a long one, which argparse takes); a negative number is a value, not an option."""
    for arg in argv:
        if arg == "--":
            return None
        if not arg.startswith("-") or arg == "-" or arg[1:].replace(".", "", 1).isdigit():
            continue
        name = arg.partition("=")[0]
        if name.startswith("--"):
            if not any(option.startswith(name) for option in options if option.startswith("--")):
                return name
        elif name[:2] not in options:
            return name
    return None


def expand_classic_flag(argv: list[str]) -> list[str]:
    """``--classic PID ...`` means the default profile, ``--classic lsb PID ...`` the profile ``lsb``.

    A PID is a number and a profile never is, so the word after a bare
    ``--classic`` is its profile only when it is not a number (nor an option).
    """
    out = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg == "--":
            return out + argv[index:]
        if arg == "--classic":
            following = argv[index + 1] if index + 1 < len(argv) else ""
            if following and not following.startswith("-") and not following.isdigit():
                out.append(f"--classic={following}")
                index += 2
                continue
            arg = "--classic="
        out.append(arg)
        index += 1
    return out


PID_LIMIT = 2**31
"""Every PID is below this: kill(2) takes a C ``int`` (and Linux's ``pid_max`` is at most 2**22)."""


def parse_pid(text: str) -> int:
    digits = text.removeprefix("-")
    if not (digits.isascii() and digits.isdigit()):
        raise UsageError(f"PID must be a number, not {text!r}")
    shown = text if len(text) <= 20 else f"{text[:12]}... ({len(digits)} digits)"
    if len(digits) > len(str(PID_LIMIT)):  # (int() of thousands of digits is slow, and an error beyond 4300)
        pid = -1 if text.startswith("-") else PID_LIMIT
    else:
        pid = int(text)
    if pid <= 0:
        raise UsageError(f"PID must be a positive number, not {shown}")
    if pid >= PID_LIMIT:
        raise UsageError(f"PID {shown} is out of range: a PID is below {PID_LIMIT}")
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


STARTING_WAIT = 2.0
"""Seconds to wait for the receiver thread of a sigchat server that is still starting."""


def wait_for_receiver(pid: int, timeout: float) -> int | None:
    """Poll ``/proc`` until sigchat server ``pid`` has its receiver thread (its tid), it exits, or ``timeout`` passes."""
    import time  # (Python's own start-up has loaded it)

    deadline = time.monotonic() + timeout
    while (tid := procfs.receiver_tid(pid)) is None and procfs.is_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.005)
    return tid


def check_target(pid: int, force: bool, classic: bool = False) -> int | None:
    """Return an exit code when ``pid`` must not be signalled, else ``None``.

    Refused (UNSAFE_TARGET, unless ``force``): a process that SIGUSR1/SIGUSR2
    would kill, and one that catches them but is no sigchat server (no
    receiver thread), since its handler would react: an interactive shell
    catches SIGUSR1. ``classic`` (``--classic``) says it is a classic minitalk
    server, which catches them. A process started as a sigchat server that has
    no receiver thread yet is still starting: wait for it (``STARTING_WAIT``).
    """
    try:
        os.kill(pid, 0)  # signal 0: existence and permission check, nothing is sent
    except ProcessLookupError:
        return fail(exit_codes.NO_SUCH_PROCESS, f"no such process: {pid}")
    except PermissionError:
        return fail(exit_codes.PERMISSION_DENIED, f"permission denied: process {pid} belongs to another user")
    tid = procfs.receiver_tid(pid)
    starting = tid is None and procfs.is_server_command(pid)
    if starting:
        tid = wait_for_receiver(pid, STARTING_WAIT)
    safety = procfs.signal_safety(pid)
    if safety is None:
        return fail(exit_codes.NO_SUCH_PROCESS, f"no such process: {pid} (it has exited)")
    if force:
        return None
    name = procfs.comm(pid) or "?"
    if not safety.safe:
        if starting and tid is None:
            return fail(
                exit_codes.UNSAFE_TARGET,
                f"refusing to signal {pid} ({name}): it is a sigchat server still starting, and after {STARTING_WAIT:g} s "
                f"{safety.reason.partition(' (')[0].replace('would kill', 'would still kill')}; try again in a moment "
                "(--force to send anyway)",
            )
        return fail(
            exit_codes.UNSAFE_TARGET,
            f"refusing to signal {pid} ({name}): {safety.reason}; it is not a sigchat server (--force to send anyway)",
        )
    if tid is not None or starting or classic:
        return None
    caught = [signum for signum in (signal.SIGUSR1, signal.SIGUSR2) if procfs.catches(pid, signum)]
    if caught:
        return fail(
            exit_codes.UNSAFE_TARGET,
            f"refusing to signal {pid} ({name}): it is not a sigchat server (it has no {procfs.RECEIVER_THREAD_NAME} "
            f"thread) and it catches {' and '.join(map(signal_name, caught))}, so its handler would react (an interactive "
            "shell's does); --classic if it is a classic minitalk server, --force to send anyway",
        )
    return None


def describe_failure(result: SendResult, pid: int, timeout: float) -> tuple[int, str]:
    outcome = result.outcome
    if result.server_gone:
        return exit_codes.SERVER_GONE, f"server {pid} went away during the transfer"
    if outcome is Outcome.TOO_LARGE:
        return exit_codes.REJECTED, f"server {pid} rejected the message as too large ({result.stats.length} bytes)"
    if outcome is Outcome.BAD_VERSION:
        return exit_codes.PROTOCOL, f"server {pid} speaks another sigchat protocol version"
    if outcome is Outcome.CORRUPT:
        return (
            exit_codes.INTEGRITY,
            f"integrity check failed on all {result.stats.attempts} attempts; the message was not delivered",
        )
    if outcome is Outcome.CLASSIC_PEER:
        return exit_codes.PROTOCOL, (
            f"server {pid} acks like a classic minitalk server (SIGUSR1 for every signal), not a sigchat one: "
            f"send with --classic (e.g. {PROG} --classic {pid} MESSAGE, or --classic=PROFILE; "
            "sigchat-check server tells its profile)"
        )
    if not result.answered:
        return exit_codes.NO_ANSWER, f"no answer from {pid} within {timeout:g} s: is it a sigchat server?"
    return exit_codes.NO_ANSWER, f"server {pid} stopped answering for {timeout:g} s"


# --------------------------------------------------------------------------- --classic
# The classic core is imported by these functions only: a plain send must not load it (the start-up rule).


def describe_classic_failure(result: ClassicSendResult, pid: int, args: argparse.Namespace) -> tuple[int, str]:
    from sigchat.proto.classic.sender import SendOutcome

    stats = result.stats
    outcome = result.outcome
    if result.server_gone:
        return exit_codes.SERVER_GONE, f"server {pid} went away during the transfer"
    if outcome is SendOutcome.UNCONFIRMED:
        return exit_codes.NO_ANSWER, (
            f"no ack from {pid} within {args.ack_timeout:g} s (the rest was paced): the message was sent, but its "
            "delivery is unconfirmed; for a server that does not ack, use a profile with ack=none"
        )
    if outcome is SendOutcome.ACKS_MISSING:
        missing = stats.missing_acks + (1 if stats.handshake_answered is False else 0)
        return exit_codes.NO_ANSWER, (
            f"{missing} of {stats.bits_sent + (stats.handshake_answered is not None)} signals were not acknowledged "
            f"within {args.ack_timeout:g} s: server {pid} may have missed bits, the delivery is unconfirmed"
        )
    return exit_codes.NO_ANSWER, f"no end-of-message ack from {pid} within {args.timeout:g} s: the delivery is unconfirmed"


def format_classic_stats(result: ClassicSendResult, profile: Profile) -> str:
    from sigchat.format import bits, human_duration, human_rate, number, plural

    s = result.stats
    paced = ", paced" if s.paced else ""
    return (
        f"{PROG}: classic {profile}: {plural(s.length, 'byte')}, {bits(s.bits)}, {plural(s.signals_sent, 'signal')} sent, "
        f"{number(s.signals_received)} received, {plural(s.acks, 'ack')}, {number(s.missing_acks)} missing{paced}, "
        f"{human_duration(s.duration)}, {human_rate(s.bits_per_second)}"
    )


def guarded(pid: int, send):
    """Run ``send()``; the errors of its first signal become an exit code (an ``int``)."""
    try:
        return send()
    except ProcessLookupError:
        return fail(exit_codes.NO_SUCH_PROCESS, f"no such process: {pid}")
    except PermissionError:
        return fail(exit_codes.PERMISSION_DENIED, f"permission denied: process {pid} belongs to another user")
    except KeyboardInterrupt:
        return fail(exit_codes.INTERRUPTED, "interrupted")


def parse_classic(text: str) -> Profile:
    """The ``--classic`` profile; ``UsageError`` when it does not parse."""
    from sigchat.proto.classic.profile import ProfileError, parse_profile

    try:
        return parse_profile(text)
    except ProfileError as error:
        raise UsageError(f"--classic: {error}") from None


def send_classic(pid: int, data: bytes, args: argparse.Namespace, profile: Profile) -> int:
    from sigchat.proto.classic.profile import DEFAULT_PACE
    from sigchat.proto.classic.sender import SendOutcome
    from sigchat.sigio.send_classic import send_classic as send

    pace = args.pace_us / 1e6 if args.pace_us is not None else DEFAULT_PACE
    result = guarded(pid, lambda: send(pid, data, profile, ack_timeout=args.ack_timeout, end_timeout=args.timeout, pace=pace))
    if isinstance(result, int):
        return result
    if args.stats:
        print(format_classic_stats(result, profile), file=sys.stderr)
    if result.outcome is not None and result.outcome.ok and not result.server_gone:
        if result.outcome is SendOutcome.SENT:  # exit 0 all the same (README), but say what it means
            print(f"{PROG}: note: sent; the delivery is unconfirmed: profile {profile} has no acks", file=sys.stderr)
        return exit_codes.OK
    code, message = describe_classic_failure(result, pid, args)
    return fail(code, message)


def format_stats(result: SendResult) -> str:
    """The ``-v`` line. Its signal counts are everything this sender sent and received, the whole
    signature (and any hellos while queued) included; the server's log counts from the signature's
    last bit, the one that opens its session ("in session"), so it shows 7 fewer for one attempt."""
    from sigchat.format import bits, human_duration, human_rate, number, plural

    s = result.stats
    mode = f"turbo ({plural(s.words, 'word')}, {s.group} per round trip)" if s.turbo else "1 bit per signal"
    return (
        f"{PROG}: {plural(s.length, 'byte')}, {mode}, {bits(s.frame_bits)}, {plural(s.signals_sent, 'signal')} sent, "
        f"{number(s.signals_received)} received (the whole signature included), "
        f"{plural(s.retransmissions, 'retransmission')}, {plural(s.attempts, 'attempt')}, "
        f"{human_duration(s.duration)}, {human_rate(s.bits_per_second)}"
    )


def main(argv: list[str] | None = None) -> int:
    block_signals()  # first: no reply may ever find these signals unblocked
    try:
        argv = sys.argv[1:] if argv is None else argv
        args = quick_args(argv) or parse_args(argv)
        profile = None
        if args.classic is not None:
            profile = parse_classic(args.classic)
        pid = parse_pid(args.pid)
        if not args.timeout > 0 or args.timeout == float("inf"):
            raise UsageError("--timeout must be positive")
        if profile is None and (args.pace_us is not None or args.ack_timeout is not None):
            raise UsageError("--pace-us and --ack-timeout apply to --classic only")
        if profile is not None and args.turbo:
            raise UsageError("--turbo applies to sigchat servers, not to --classic")
        if args.pace_us is not None and args.pace_us < 0:
            raise UsageError("--pace-us must not be negative")
        if args.ack_timeout is None:
            if profile is not None:
                from sigchat.proto.classic.profile import DEFAULT_ACK_TIMEOUT

                args.ack_timeout = DEFAULT_ACK_TIMEOUT
        elif not 0 < args.ack_timeout < float("inf"):
            raise UsageError("--ack-timeout must be positive")
        data = read_message(args)
        if profile is not None:
            from sigchat.proto.classic.profile import message_bytes

            try:
                message_bytes(data, profile)
            except LocalProtocolError as error:
                raise UsageError(str(error)) from None
    except UsageError as error:
        return fail(exit_codes.USAGE, f"{error} (see --help)")
    except OSError as error:
        return fail(exit_codes.FAILURE, f"cannot read the message: {error.strerror or error}")
    code = check_target(pid, args.force, classic=profile is not None)
    if code is not None:
        return code
    # Before moving onto the receiver's CPU: there, loading ctypes (~4 ms of CPU) would slow the
    # transfer in progress, when this sender starts while another streams.
    opened = open_words() if args.turbo else None
    if not args.no_affinity:
        join_receiver_cpu(pid)
    if profile is not None:
        return send_classic(pid, data, args, profile)
    result = guarded(pid, lambda: send_message(pid, data, timeout=args.timeout, turbo=args.turbo, opened_words=opened))
    if isinstance(result, int):
        return result
    if "turbo" in result.extra:
        print(f"{PROG}: note: 1 bit per signal, not turbo: {result.extra['turbo']}", file=sys.stderr)
    if "pairs" in result.extra:
        print(f"{PROG}: note: one turbo word per round trip, not two: {result.extra['pairs']}", file=sys.stderr)
    if args.stats:
        print(format_stats(result), file=sys.stderr)
    if result.outcome is Outcome.DELIVERED and not result.server_gone:
        return exit_codes.OK
    code, message = describe_failure(result, pid, args.timeout)
    return fail(code, message)


def entry_point() -> None:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())


if __name__ == "__main__":
    entry_point()
