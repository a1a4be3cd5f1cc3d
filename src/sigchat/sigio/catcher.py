"""``python -m sigchat.sigio.catcher``: a process that keeps the SIGUSR1/SIGUSR2 sent to it, for ``sigchat-check``.

``sigchat-check`` runs a client with bad arguments (``0``, a negative PID,
no number) in the catcher's process group: ``kill(0, sig)`` or ``kill(-group,
sig)`` then reaches the catcher, which has both signals blocked, so they wait
there unread. It prints ``ready`` once they are blocked; when its stdin is
closed it prints each pending signal as ``SIGUSR1 <sender pid>`` and exits.
Standard signals do not queue: at most one of each is reported.
"""

from __future__ import annotations

import sys

from sigchat.sigio.masks import SIGNALS, block_signals
from sigchat.sigio.sigapi import signal, signal_name


def main() -> int:
    block_signals()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.read()  # until the checker is done with the client
    while (info := signal.sigtimedwait(SIGNALS, 0)) is not None:
        sys.stdout.write(f"{signal_name(info.si_signo)} {info.si_pid}\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
