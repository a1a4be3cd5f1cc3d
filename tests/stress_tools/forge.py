"""Send a complete, valid sigchat frame whose signals claim to come from another process.

Usage: ``forge.py SERVER --as-pid PID --as-uid UID --message TEXT [--real-uid UID]``

``kill()`` stamps a signal with the sender's real pid and uid, but
``rt_sigqueueinfo(2)`` lets any process that may signal the target choose
``si_pid`` and ``si_uid`` itself, as long as ``si_code`` is negative
(``SI_QUEUE``): only a receiver that checks ``si_code`` can tell. This script
does exactly that. With ``--real-uid`` it first drops its real uid (keeping
effective uid 0, so the kernel still lets it signal root's processes), to show
that the uid filter is bypassed too.

It never sees the server's replies (they go to ``--as-pid``), so it paces
itself by watching the server's pending-signal mask in ``/proc`` and sends the
next signal only when the previous one has been taken. Prints one JSON line:
``{"pid", "sent"}``.

With ``--words`` it forges turbo words instead (random ``si_value``, claiming
``--as-pid``), one every ``--every`` seconds until ``--as-pid`` exits; ``forging`` on stderr after the first.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import signal
import sys
import time

from sigchat.proto import api as protocol

SYS_RT_SIGQUEUEINFO = {"x86_64": 129, "aarch64": 138}.get(os.uname().machine)
SI_QUEUE = -1
SIGNAL_OF_SYMBOL = (signal.SIGUSR1, signal.SIGUSR2)
_libc = ctypes.CDLL(None, use_errno=True)


def forge(target: int, signo: int, pid: int, uid: int, value: int = 0) -> None:
    """``rt_sigqueueinfo(target, signo, {si_code=SI_QUEUE, si_pid=pid, si_uid=uid, si_value=value})``."""
    info = bytearray(128)  # siginfo_t: signo, errno, code, (pad on 64-bit), then pid, uid, value
    offset = 16 if ctypes.sizeof(ctypes.c_void_p) == 8 else 12
    info[0:4] = signo.to_bytes(4, "little")
    info[8:12] = SI_QUEUE.to_bytes(4, "little", signed=True)
    info[offset : offset + 4] = pid.to_bytes(4, "little")
    info[offset + 4 : offset + 8] = uid.to_bytes(4, "little")
    info[offset + 8 : offset + 16] = value.to_bytes(8, "little")
    buffer = (ctypes.c_char * 128).from_buffer(info)
    if _libc.syscall(ctypes.c_long(SYS_RT_SIGQUEUEINFO), ctypes.c_int(target), ctypes.c_int(signo), buffer) != 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))


def pending(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as file:
        for line in file:
            if line.startswith("ShdPnd:"):
                return int(line.split()[1], 16)
    raise ProcessLookupError(pid)


def frame_symbols(data: bytes, message_id: int) -> list[int]:
    header = protocol.HEADER.pack(protocol.PROTOCOL_VERSION, 0, 0, message_id, len(data))
    crc = protocol.frame_crc(header + data, 0)
    body = header + data + protocol.TAIL.pack(0, crc)
    return [protocol.ONE] * protocol.SIGNATURE_LENGTH + [protocol.START_BIT] + protocol.symbols_of(body)


def forge_words(args: argparse.Namespace) -> int:
    sent = 0
    while os.path.exists(f"/proc/{args.as_pid}") and not _zombie(args.as_pid):
        try:
            forge(args.server, SIGNAL_OF_SYMBOL[sent & 1], args.as_pid, os.getuid(), int.from_bytes(os.urandom(8), "little"))
        except ProcessLookupError:
            break
        sent += 1
        if sent == 1:
            print("forging", file=sys.stderr, flush=True)  # (a test may wait for this line)
        time.sleep(args.every)
    print(json.dumps({"pid": os.getpid(), "sent": sent}), flush=True)
    return 0


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as file:
            return file.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("server", type=int)
    parser.add_argument("--as-pid", type=int, required=True)
    parser.add_argument("--as-uid", type=int, default=0)
    parser.add_argument("--message", default="forged")
    parser.add_argument("--real-uid", type=int, help="drop the real uid to this (effective uid stays 0)")
    parser.add_argument("--words", action="store_true", help="forge random turbo words until --as-pid exits")
    parser.add_argument("--every", type=float, default=0.0005, help="--words: seconds between forged words")
    args = parser.parse_args()
    if args.server <= 1 or args.server == os.getppid():
        print(f"forge: refusing to signal {args.server}", file=sys.stderr)
        return 2
    if SYS_RT_SIGQUEUEINFO is None:
        print("forge: unsupported machine", file=sys.stderr)
        return 2
    if args.real_uid is not None:
        os.setresuid(args.real_uid, 0, 0)
    if args.words:
        return forge_words(args)
    mask = (1 << (signal.SIGUSR1 - 1)) | (1 << (signal.SIGUSR2 - 1))
    sent = 0
    for symbol in frame_symbols(args.message.encode(), int.from_bytes(os.urandom(4), "big")):
        deadline = time.monotonic() + 2.0
        while pending(args.server) & mask:  # the previous signal has not been taken yet
            if time.monotonic() > deadline:
                print("forge: the server stopped taking signals", file=sys.stderr)
                return 1
            time.sleep(0.0002)
        forge(args.server, SIGNAL_OF_SYMBOL[symbol], args.as_pid, args.as_uid)
        sent += 1
    print(json.dumps({"pid": os.getpid(), "sent": sent}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
