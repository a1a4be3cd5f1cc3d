"""``sigchat-server``: receive messages; a Textual app on a terminal, plain text otherwise.

The top of the server's import graph: options and plain mode come from
``sigchat.server``, the UI from ``sigchat.tui`` (imported only when it runs, so
plain mode never loads Textual). Plain mode (``--plain``, or automatic when
stdout is not a terminal) is described in ``server.plain``.
"""

from __future__ import annotations

import os
import sys

from sigchat import exit_codes
from sigchat.server.options import PROG, build_parser, invalid
from sigchat.server.plain import run_plain
from sigchat.sigio.masks import block_signals


def main(argv: list[str] | None = None) -> int:
    block_signals()  # first, before any thread exists (Textual starts several)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    problem = invalid(args)
    if problem is not None:
        print(f"{PROG}: {problem} (see --help)", file=sys.stderr)
        return exit_codes.USAGE
    if args.plain or args.json or not sys.stdout.isatty() or not sys.stderr.isatty():  # Textual draws on stderr
        return run_plain(args)
    from sigchat.tui.app import run_app  # (Textual: only for the UI)

    return run_app(args)


def entry_point() -> None:
    code = main()
    # Everything is written and the terminal restored by now; skipping the
    # interpreter's shutdown (unloading Textual takes ~0.3 s) keeps quitting instant.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry_point()
