"""``sigchat-server``: receive messages; a Textual app on a terminal, plain text otherwise.

The top of the server's import graph: options and plain mode come from
``sigchat.server``, the UI from ``sigchat.tui`` (imported only when it runs, so
plain mode never loads Textual). Plain mode (``--plain``, or automatic when
stdout is not a terminal) is described in ``server.plain``.

Start-up: until SIGUSR1/SIGUSR2 are blocked, either signal kills the server
(the default disposition), and a tester that starts the server and sends at
once would kill it. So this module imports only ``sigio.masks`` (light: the C
``_signal`` and ``proto.wire``) at the top; ``entry_point`` and ``main`` block
the signals in their first statement and import everything else after it.
That is the documented exception to "imports at the top" (docs/ARCHITECTURE.md,
"The start-up budget"). What is left is Python's own start-up, before any of
sigchat runs.
"""

from __future__ import annotations

from sigchat.sigio.masks import block_signals


def main(argv: list[str] | None = None) -> int:
    block_signals()  # first, before any thread exists (Textual starts several) and before the heavy imports
    # Not at the top of the module: see the module docstring (the signals must be blocked first).
    import sys

    from sigchat import exit_codes
    from sigchat.server.options import PROG, UsageError, build_parser, invalid

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        problem = invalid(args)
        if problem is not None:
            raise UsageError(problem)
    except UsageError as error:
        print(f"{PROG}: {error} (see --help)", file=sys.stderr)
        return exit_codes.USAGE
    except SystemExit as exit_:  # --help, --version
        return int(exit_.code or 0)
    if args.plain or args.json or not sys.stdout.isatty() or not sys.stderr.isatty():  # Textual draws on stderr
        from sigchat.server.plain import run_plain

        return run_plain(args)
    from sigchat.tui.app import run_app  # (Textual: only for the UI)

    return run_app(args)


def entry_point() -> None:
    block_signals()  # the console script's first statement after importing this module: see the module docstring
    import os
    import sys

    code = main()
    # Everything is written and the terminal restored by now; skipping the
    # interpreter's shutdown (unloading Textual takes ~0.3 s) keeps quitting instant.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry_point()
