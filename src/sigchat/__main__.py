"""``python -m sigchat [server|send] ...`` (no subcommand: the server)."""

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "send":
        from sigchat.send import main as send_main  # (each command loads only what it needs)

        return send_main(argv[1:])
    if argv and argv[0] == "server":
        argv = argv[1:]
    from sigchat.serve import main as serve_main

    return serve_main(argv)


if __name__ == "__main__":
    sys.exit(main())
