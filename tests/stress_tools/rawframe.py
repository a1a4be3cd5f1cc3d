"""Send hand-made frames over real signals, one fresh process per frame.

Usage: ``rawframe.py SERVER``, then one JSON object per line on stdin:
``{"symbols": "0101...", "reply_timeout": 1.0, "extra": "01"}``.

For each line a child is forked (so every frame has its own pid: no dedup or
linger state carries over). The child sends the 8-bit signature, then every
symbol of ``symbols``, each after the server's reply to the previous one; it
stops at the first missing reply (``reply_timeout``). Then it sends ``extra``
symbols, each followed by a short wait, to check that nothing answers them.
The parent reaps the child and prints one JSON line:
``{"pid", "signature": "replies to the 8 signature bits", "replies": "...",
"extra": "..."}`` where every reply is ``0``/``1`` and a missing one ``-``.
"""

from __future__ import annotations

import json
import os
import signal
import sys

from sigchat.proto import api as protocol

SIGNALS = (signal.SIGUSR1, signal.SIGUSR2)
SIGNAL_SET = set(SIGNALS)
EXTRA_WAIT = 0.15


def exchange(server: int, symbol: int, timeout: float) -> str:
    os.kill(server, SIGNALS[symbol])
    info = signal.sigtimedwait(SIGNAL_SET, timeout)
    if info is None:
        return "-"
    if info.si_pid != server:
        return "?"
    return "0" if info.si_signo == signal.SIGUSR1 else "1"


def child(server: int, request: dict, report: int) -> None:
    timeout = float(request.get("reply_timeout", 1.0))
    result = {"pid": os.getpid(), "signature": "", "replies": "", "extra": ""}
    try:
        for _ in range(protocol.SIGNATURE_LENGTH):
            result["signature"] += exchange(server, protocol.ONE, timeout)
        if result["signature"].endswith(str(protocol.GO)):
            for char in request["symbols"]:
                reply = exchange(server, int(char), timeout)
                result["replies"] += reply
                if reply == "-":
                    break
            for char in request.get("extra", ""):
                result["extra"] += exchange(server, int(char), EXTRA_WAIT)
    except ProcessLookupError:
        result["error"] = "server gone"
    os.write(report, (json.dumps(result) + "\n").encode())


def main() -> int:
    server = int(sys.argv[1])
    if server <= 1 or server == os.getppid():
        print(f"rawframe: refusing to signal {server}", file=sys.stderr)
        return 2
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)  # inherited by the children
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(read_end)
                child(server, request, write_end)
            finally:
                os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end) as report:
            text = report.read()
        os.waitpid(pid, 0)
        sys.stdout.write(text if text else json.dumps({"pid": pid, "error": "child died"}) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
