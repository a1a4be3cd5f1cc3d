"""``python -m sigchat.sigio.spoofer PID``: random SIGUSR1/SIGUSR2 to one process, for ``sigchat-check``.

Sends one every ``INTERVAL`` seconds to PID until its stdin is closed (or PID
is gone); prints ``spoofing`` after the first. ``sigchat-check server`` points it only at the server it started,
while it sends that server a message: a server that takes every signal as the
client's bit prints garbage.
"""

from __future__ import annotations

import os
import random
import select
import sys

from sigchat.sigio.masks import SIGNAL_OF_SYMBOL, block_signals

INTERVAL = 0.002


def main(argv: list[str]) -> int:
    block_signals()  # the server acks what it takes for a client: such acks must not kill the spoofer
    pid = int(argv[0])
    first = True
    while not select.select([sys.stdin], [], [], INTERVAL)[0]:
        try:
            os.kill(pid, SIGNAL_OF_SYMBOL[random.getrandbits(1)])
        except ProcessLookupError:
            return 0
        if first:
            sys.stdout.write("spoofing\n")
            sys.stdout.flush()
            first = False
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
