"""Exit codes of ``sigchat-send`` and ``sigchat-server``, in one place.

Each code is followed by its description; ``table()`` lists them (``--help``
shows it, and a test checks that the README's table agrees).
"""

OK = 0
"""The server confirmed that the whole message arrived intact (server: clean stop)."""
FAILURE = 1
"""Internal error: reading the message failed, or the server's receiver thread died."""
USAGE = 2
"""Bad arguments; no signal was sent."""
NO_SUCH_PROCESS = 3
"""No process has that PID."""
PERMISSION_DENIED = 4
"""The process belongs to another user."""
UNSAFE_TARGET = 5
"""SIGUSR1/SIGUSR2 would kill that process (neither blocked, caught nor ignored); --force overrides."""
NO_ANSWER = 6
"""No answer within the timeout: not a sigchat server, or it stopped answering."""
SERVER_GONE = 7
"""The server exited during the transfer."""
REJECTED = 8
"""The server refused the message as larger than its --max-bytes."""
INTEGRITY = 9
"""The message failed the integrity check on every attempt."""
PROTOCOL = 10
"""The server speaks another protocol version."""
INTERRUPTED = 130
"""Stopped by SIGINT (Ctrl-C)."""

def table() -> list[tuple[int, str, str]]:
    """``(code, NAME, description)`` for every exit code, from this module's docstrings."""
    import ast
    import inspect
    import sys

    tree = ast.parse(inspect.getsource(sys.modules[__name__]))
    rows = []
    body = tree.body
    for node, following in zip(body, body[1:]):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, int)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
        ):
            rows.append((node.value.value, node.targets[0].id, following.value.value))
    return rows
