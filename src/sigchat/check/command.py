"""``sigchat-check``: test anyone's minitalk client or server, and say exactly what is wrong.

``sigchat-check client CMD [ARG...]`` runs ``CMD ARG... PID MESSAGE`` against
a sigchat server of its own; ``sigchat-check server CMD [ARG...]`` starts the
server, reads its PID from its stdout and sends to it. The profile is detected
unless ``--profile`` gives it. Exit 0 iff every mandatory case passed, 1 if
one failed, 2 for usage errors (``exit_codes.CHECK_CODES``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Callable

from sigchat import CHECK_COMMAND, exit_codes
from sigchat.check import cases
from sigchat.check.client import client_cases
from sigchat.check.client import detect as detect_client
from sigchat.check.report import CaseResult, Output, PlainOutput, Report, RichOutput, write_json
from sigchat.check.server import detect as detect_server
from sigchat.check.server import server_cases
from sigchat.proto.classic.profile import SYNTAX, Profile, ProfileError, parse_profile
from sigchat.sigio.masks import block_signals, block_strays

PROG = CHECK_COMMAND


class UsageError(Exception):
    """``sigchat-check: <problem> (see --help)`` on one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        raise UsageError(message.removeprefix("argument "))


def profile_argument(text: str) -> Profile:
    try:
        return parse_profile(text)
    except ProfileError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Test a minitalk client or server (yours, in any language) and say exactly what is wrong.",
        epilog=(
            "examples:\n"
            f"  {PROG} client ./client          runs './client PID MESSAGE' against sigchat's server\n"
            f"  {PROG} server ./server          starts ./server, reads its PID and sends to it\n"
            f"  {PROG} --quick client ./client  a short run (about 10 s)\n\n"
            "exit codes:\n" + exit_codes.help_table(exit_codes.CHECK_CODES, exit_codes.CHECK_DESCRIPTIONS)
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--profile", type=profile_argument, metavar="PROFILE", help=f"the classic profile, no detection (options: {SYNTAX})"
    )
    parser.add_argument("--quick", action="store_true", help="a short run: every case, shorter long messages")
    parser.add_argument("--json", metavar="FILE", help="also write the report to FILE as JSON")
    parser.add_argument(
        "--only", metavar="CASE", action="append", default=[],
        help="run only the cases whose name starts with CASE (repeatable; 'bad arguments', 'empty', ...)",
    )  # fmt: skip
    parser.add_argument("target", choices=("client", "server"), help="what CMD is")
    parser.add_argument("command", nargs=argparse.REMAINDER, metavar="CMD [ARG...]", help="the program to check")
    return parser


def main(argv: list[str] | None = None) -> int:
    block_signals()  # first: the in-process server's receiver thread and the classic sender read them
    block_strays()  # a client's kill(pid, SIGUSR1 + 1) must not kill the check
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not args.command:
            raise UsageError(f"the {args.target} command is missing: {PROG} {args.target} CMD [ARG...]")
        if shutil.which(args.command[0]) is None:
            raise UsageError(f"cannot run {args.command[0]!r}: no such program (a path, or a command on PATH)")
    except UsageError as error:
        print(f"{PROG}: {error} (see --help)", file=sys.stderr)
        return exit_codes.USAGE
    except SystemExit as exit_:  # --help
        return int(exit_.code or 0)
    report = check(args, RichOutput() if sys.stdout.isatty() else PlainOutput())
    if args.json:
        try:
            write_json(report, args.json)
        except OSError as error:
            print(f"{PROG}: cannot write the --json file: {error.strerror or error}: {args.json}", file=sys.stderr)
            return exit_codes.FAILURE
    return exit_codes.OK if report.passed else exit_codes.FAILURE


def check(args: argparse.Namespace, output: Output) -> Report:
    """The whole check that ``args`` asks for, told to ``output`` as it runs."""
    report = Report(args.target, " ".join(args.command))
    wanted = selected(args.only)
    output.start(report, total=sum(map(wanted, cases.planned(args.target, args.quick))))
    run_checks(report, args, args.profile, output, wanted)
    output.finish(report)
    return report


def run_checks(report: Report, args: argparse.Namespace, profile: Profile | None, output: Output, wanted: Callable[[str], bool]) -> None:
    """Detect the profile unless given, then run the cases ``wanted`` picks, each into ``report`` and ``output``."""
    began = time.monotonic()
    if profile is None:
        detect = detect_client if args.target == "client" else detect_server
        profile, note = detect(args.command)
    else:
        note = "given with --profile"
    report.profile = str(profile) if profile is not None else None
    report.profile_note = note
    output.profile(report)
    if profile is None:
        report.cases.append(CaseResult("profile detection", False, time.monotonic() - began, note))
        return
    run = client_cases if args.target == "client" else server_cases
    for result in run(args.command, profile, args.quick, output.running, wanted):
        report.cases.append(result)
        output.case(result)


def selected(prefixes: list[str]) -> Callable[[str], bool]:
    """The case-name filter of ``--only``: everything without it."""
    if not prefixes:
        return lambda name: True
    return lambda name: any(name.lower().startswith(prefix.lower()) for prefix in prefixes)


def entry_point() -> None:
    block_signals()
    sys.exit(main())

