"""``sigchat-server``'s command line, and the protocol server and receiver it asks for.

One source for every option, default and derived setting, shared by plain mode
and the Textual UI.
"""

from __future__ import annotations

import argparse
import os
import sys

from sigchat import SEND_COMMAND, SERVER_COMMAND, __version__, exit_codes
from sigchat.proto.classic.profile import DEFAULT_IDLE_TIMEOUT, DEFAULT_PROFILE, SYNTAX, Profile, ProfileError, parse_profile
from sigchat.proto.server import Server
from sigchat.proto.wire import DEFAULT_MAX_BYTES, MAX_LENGTH, SESSION_IDLE_TIMEOUT

PROG = SERVER_COMMAND


class UsageError(Exception):
    """A bad command line: ``sigchat-server: <problem> (see --help)`` on one line, exit 2 (``sigchat.serve``)."""


class _Parser(argparse.ArgumentParser):
    """argparse, but every error is one ``UsageError`` line instead of the usage and a message."""

    def error(self, message: str) -> None:
        raise UsageError(_reword(message))


def _reword(message: str) -> str:
    """argparse's wording in ours: ``--max-bytes must be ...``, ``unknown option --bogus``."""
    if message.startswith("unrecognized arguments: "):
        extra = message.removeprefix("unrecognized arguments: ").split()
        options = [arg for arg in extra if arg.startswith("-")]
        if options:
            return f"unknown option {options[0]}"
        return f"unexpected argument {extra[0]!r}: {PROG} takes options only"
    argument, sep, problem = message.partition(": ")
    if sep and argument.startswith("argument ") and problem.startswith("must "):
        return f"{argument.removeprefix('argument ').split('/')[-1]} {problem}"  # our own types' messages
    return message.removeprefix("argument ")


def _number(kind: type, low: float, high: float, what: str, *, open_low: bool = False):
    """An argparse type: a ``kind`` number in [low, high] (``open_low``: above ``low``), else the one message."""

    def convert(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or value != value or not (low < value if open_low else low <= value) or not value <= high:
            raise argparse.ArgumentTypeError(f"must be {what}, not {text!r}")
        return value

    return convert


_BYTE_COUNT = _number(int, 0, MAX_LENGTH, f"a whole number of bytes from 0 to {MAX_LENGTH}")
_SECONDS = _number(float, 0, sys.float_info.max, "a positive number of seconds", open_low=True)
_UID = _number(int, 0, 2**32 - 2, "a user id (a whole number)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Receive messages sent with sigchat-send over SIGUSR1/SIGUSR2.",
        epilog=(
            f"Send from another terminal with:  {SEND_COMMAND} <PID> 'hello'\n\nexit codes:\n"
            + exit_codes.help_table(exit_codes.SERVER_CODES)
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--plain", action="store_true", help="no UI: messages to stdout (default when stdout is not a terminal)")
    parser.add_argument(
        "--json",
        action="store_true",
        help="plain mode: every stdout line is JSON: a 'listening' record with the PID, then one object per message",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="plain mode: also a stderr line per transfer started, queued or repeated, and a summary at the stop "
        "(the summary always when stderr is a terminal; errors and refusals are always shown)",
    )
    parser.add_argument(
        "--max-bytes",
        type=_BYTE_COUNT,
        default=DEFAULT_MAX_BYTES,
        metavar="N",
        help="refuse longer messages, before their payload is sent (default: %(default)s = 16 MiB)",
    )
    parser.add_argument(
        "--session-timeout",
        type=_SECONDS,
        default=SESSION_IDLE_TIMEOUT,
        metavar="SECONDS",
        help="drop a transfer whose sender is silent this long (default: %(default)s)",
    )
    parser.add_argument(
        "--classic",
        action=_ClassicAction,
        default=DEFAULT_PROFILE,
        metavar="PROFILE",
        help="also serve classic minitalk clients of this profile, e.g. 'lsb,len32,ack=none', or 'auto': tell "
        "it from the first classic client's signals (bit order, 1/0 signals, framing, handshake; acks stay "
        f"the default) (default: {DEFAULT_PROFILE}; options: {SYNTAX}; see README)",
    )
    parser.set_defaults(classic_auto=False)
    parser.add_argument(
        "--no-classic", dest="classic", action="store_const", const=None, help="serve native sigchat senders only"
    )
    parser.add_argument(
        "--classic-timeout",
        type=_SECONDS,
        default=DEFAULT_IDLE_TIMEOUT,
        metavar="SECONDS",
        help="end a classic message as incomplete after this much silence mid-message (default: %(default)s)",
    )
    parser.add_argument("--log", metavar="FILE", help="append every delivered message to FILE as a JSON line (fsynced)")
    parser.add_argument(
        "--allow-uid",
        type=_UID,
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
    parser.add_argument(
        "--theme",
        metavar="NAME",
        help="the UI's colour theme, e.g. nord, gruvbox, textual-light (default: $TEXTUAL_THEME, else the one "
        "last chosen in the UI's command palette, else textual-dark); checked when the UI starts",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


AUTO = "auto"
"""``--classic auto``: learn the profile from the first classic client (``proto.classic.auto``)."""


class _ClassicAction(argparse.Action):
    """``--classic PROFILE``: ``classic`` (a ``Profile``) and ``classic_auto`` (``auto``: learn it, from the default)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        auto = values.strip().lower() == AUTO
        try:
            profile = DEFAULT_PROFILE if auto else parse_profile(values)
        except ProfileError as error:
            raise argparse.ArgumentError(self, str(error)) from None
        namespace.classic, namespace.classic_auto = profile, auto


def invalid(args: argparse.Namespace) -> str | None:
    """What is wrong with options that did not pass the parser's types (built in code, say), or ``None``."""
    if not 0 <= args.max_bytes <= MAX_LENGTH:
        return f"--max-bytes must be a whole number of bytes from 0 to {MAX_LENGTH}"
    if not 0 < args.session_timeout < float("inf"):
        return "--session-timeout must be positive"
    if not 0 < args.classic_timeout < float("inf"):
        return "--classic-timeout must be positive"
    return None


def allowed_uids(args: argparse.Namespace) -> frozenset[int]:
    """Whose signals the server reads: this user, root, and every ``--allow-uid``."""
    return frozenset({os.getuid(), 0, *args.allow_uid})


def build_server(args: argparse.Namespace) -> Server:
    """The protocol server that the options ask for (plain mode and the UI)."""
    return Server(
        max_bytes=args.max_bytes,
        session_timeout=args.session_timeout,
        classic=args.classic,
        classic_timeout=args.classic_timeout,
        classic_auto=args.classic_auto,
        turbo=not args.no_turbo,  # (the receiver turns it off where it cannot read si_value)
    )


def classic_note(profile: Profile | None, *, auto: bool = False, short: bool = False) -> str | None:
    """Which classic clients are served, in one line (``short``: for the UI's banner); ``None`` when none are.

    ``auto``: the profile is learned from the first classic client (``--classic auto``)."""
    if profile is None:
        return None
    if auto:
        if short:
            return "+ classic clients: profile told from their signals"
        return ("also serving classic minitalk clients: the profile is told from the first one's signals "
                f"(--classic auto; until then {profile.describe()})")
    if short:
        return f"{'+ classic clients' if profile.native_compatible else 'classic clients only'}: {profile}"
    if profile.native_compatible:
        return f"also serving classic minitalk clients: {profile} ({profile.describe()})"
    return (
        f"serving classic minitalk clients only: {profile} ({profile.describe()}); with this profile a classic "
        "message can look like a sigchat hello, so sigchat senders are not recognised (run a second server for them)"
    )
