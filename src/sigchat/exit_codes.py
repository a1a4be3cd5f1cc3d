"""Exit codes of ``sigchat-send``, ``sigchat-server`` and ``sigchat-check``, in one place.

``DESCRIPTIONS`` is the table ``--help`` shows; a test checks that every code
is in it and that the README's table agrees.
"""

OK = 0
FAILURE = 1
USAGE = 2
NO_SUCH_PROCESS = 3
PERMISSION_DENIED = 4
UNSAFE_TARGET = 5
NO_ANSWER = 6
SERVER_GONE = 7
REJECTED = 8
INTEGRITY = 9
PROTOCOL = 10
INTERRUPTED = 130

DESCRIPTIONS = {
    OK: "The server confirmed that the whole message arrived intact (server: clean stop).",
    FAILURE: "Internal error: reading the message failed, or the server's receiver thread died.",
    USAGE: "Bad arguments; no signal was sent.",
    NO_SUCH_PROCESS: "No process has that PID.",
    PERMISSION_DENIED: "The process belongs to another user.",
    UNSAFE_TARGET: (
        "SIGUSR1/SIGUSR2 would kill that process (neither blocked, caught nor ignored), or it catches them but is "
        "no sigchat server (a shell, say; --classic for a classic minitalk server); --force overrides."
    ),
    NO_ANSWER: "No answer within the timeout: not a sigchat server, or it stopped answering.",
    SERVER_GONE: "The server exited during the transfer.",
    REJECTED: "The server refused the message as larger than its --max-bytes.",
    INTEGRITY: "The message failed the integrity check on every attempt.",
    PROTOCOL: "The server speaks another protocol version, or is a classic minitalk server (use --classic).",
    INTERRUPTED: "Stopped by SIGINT (Ctrl-C).",
}

SERVER_CODES = (OK, FAILURE, USAGE)
"""The codes ``sigchat-server`` exits with (the rest are ``sigchat-send``'s)."""

CHECK_CODES = (OK, FAILURE, USAGE)
"""The codes ``sigchat-check`` exits with, described by ``CHECK_DESCRIPTIONS``."""
CHECK_DESCRIPTIONS = {
    OK: "Every mandatory case passed.",
    FAILURE: "A mandatory case failed (the report says which, and why).",
    USAGE: "Bad arguments (or a program that cannot be run); nothing was checked.",
}


def names() -> dict[int, str]:
    """Each code's constant name (``{0: "OK", ...}``)."""
    return {value: name for name, value in globals().items() if name.isupper() and type(value) is int}


def table() -> list[tuple[int, str, str]]:
    """``(code, NAME, description)`` for every exit code."""
    named = names()
    return [(code, named[code], text) for code, text in DESCRIPTIONS.items()]


def help_table(codes: tuple[int, ...] | None = None, descriptions: dict[int, str] = DESCRIPTIONS) -> str:
    """The lines ``--help`` shows for ``codes`` (default: all) in ``descriptions``' words."""
    return "\n".join(f"  {code:>3}  {text}" for code, text in descriptions.items() if codes is None or code in codes)
