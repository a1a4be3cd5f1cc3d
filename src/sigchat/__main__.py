"""``python -m sigchat [server|send|check] ...``: ``server`` (the default) is ``sigchat-server``, ``send`` is
``sigchat-send``, ``check`` is ``sigchat-check``.

Like ``sigchat.serve``, it blocks SIGUSR1/SIGUSR2 before it imports a command
(a signal would kill the server while it loads), and each command loads only
what it needs.
"""

from __future__ import annotations

from sigchat.sigio.masks import block_signals

PROG = "python -m sigchat"

HELP = """\
usage: python -m sigchat [server] [OPTIONS]
       python -m sigchat send [OPTIONS] PID [MESSAGE]
       python -m sigchat check [OPTIONS] client|server CMD [ARG...]

Messages between processes over SIGUSR1/SIGUSR2 only.

commands:
  server   receive messages: a Textual UI on a terminal, plain text otherwise
           (the default: 'python -m sigchat --plain' is 'sigchat-server --plain')
  send     send one message to a server: the same as 'sigchat-send'
  check    test a minitalk client or server: the same as 'sigchat-check'

'python -m sigchat server --help', 'python -m sigchat send --help' and
'python -m sigchat check --help' describe each command's options and exit codes.
"""

COMMANDS = ("server", "send", "check")


def main(argv: list[str] | None = None) -> int:
    block_signals()  # first: see the module docstring
    import sys

    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("-h", "--help", "help"):
        sys.stdout.write(HELP)
        return 0
    if argv and argv[0] == "send":
        from sigchat.send import main as send_main  # (each command loads only what it needs)

        return send_main(argv[1:])
    if argv and argv[0] == "check":
        from sigchat.check.command import main as check_main

        return check_main(argv[1:])
    if argv and argv[0] == "server":
        argv = argv[1:]
    elif argv and not argv[0].startswith("-"):
        from sigchat import exit_codes

        print(f"{PROG}: unknown command {argv[0]!r}: the commands are {', '.join(COMMANDS[:-1])} and {COMMANDS[-1]} (see --help)", file=sys.stderr)
        return exit_codes.USAGE
    from sigchat.serve import main as serve_main

    return serve_main(argv)


if __name__ == "__main__":
    import sys

    sys.exit(main())
