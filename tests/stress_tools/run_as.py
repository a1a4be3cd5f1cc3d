"""Run ``sigchat-server`` or ``sigchat-send`` under other user ids (the caller must be root).

Usage: ``run_as.py RUID EUID {server|send} ARGS...``

Python and the virtualenv may live where another user cannot read (``/root``),
so this imports everything first, as root, and only then drops to the given
real/effective/saved uid (``os.setresuid(RUID, EUID, EUID)``) and calls the
command's ``main``. With ``RUID != EUID`` the process looks like a setuid
program: the kernel lets it signal root's processes (its effective uid is 0),
but ``si_uid`` in the signals it sends is its *real* uid.
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    ruid, euid, command, *args = sys.argv[1:]
    ruid, euid = int(ruid), int(euid)
    # Modules that are otherwise imported lazily, once the files may be unreadable.
    import encodings.ascii  # noqa: F401  (procfs reads /proc as ascii)
    import encodings.latin_1  # noqa: F401
    import encodings.utf_8  # noqa: F401
    import locale  # noqa: F401  (argparse's gettext)

    from sigchat import send, serve  # import everything while the files are readable
    from sigchat.server import options, plain  # noqa: F401  (serve.main imports them once the signals are blocked)

    target = {"server": serve.main, "send": send.main}[command]
    # Everything that is imported lazily later (argparse's gettext, help texts).
    {"server": options.build_parser, "send": send.build_parser}[command]().format_help()
    if ruid != 0 and euid != 0:
        os.setgroups([])
        os.setresgid(ruid, ruid, ruid)
    os.setresuid(ruid, euid, euid)
    return target(args)


if __name__ == "__main__":
    sys.exit(main())
