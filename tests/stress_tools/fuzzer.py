"""Many short-lived processes that send random signal sequences to one server.

Usage: ``fuzzer.py SERVER --procs 50 --parallel 10 --seed N [--kinds noise,talker] [--unsafe]``

Forks ``--procs`` children (``--parallel`` at a time); each picks one
behaviour at random and runs it for at most ``MAX_CHILD_SECONDS``:

* ``noise``: random symbols at a random bounded rate, replies not awaited;
  half of these leave SIGUSR1/SIGUSR2 at their default action, so the server
  must refuse to answer them (an answer would kill them).
* ``talker``: the 8-bit signature, then random symbols, each awaiting the
  server's reply (or a short timeout), then exits mid-frame.
* ``header``: the signature and a well-formed start bit and header with a
  random version, id and length (often above the server's limit), then part of
  a payload, then exits or goes silent before exiting.
* ``liar``: like ``header`` but it goes on to a tail and a random CRC.
* ``hello``: signatures and hellos only (it queues, or holds an empty session).

``--kinds`` restricts the behaviours; ``--unsafe`` makes every ``noise`` child
leave SIGUSR1/SIGUSR2 at their default action.

Every child stops when the server disappears. The parent reaps every child
(so the server sees it gone), then prints one JSON line per child and a last
line ``{"done": N}``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import time

from sigchat.proto import api as protocol

SIGNALS = (signal.SIGUSR1, signal.SIGUSR2)
SIGNAL_SET = set(SIGNALS)
MAX_CHILD_SECONDS = 1.0
KINDS = ("noise", "talker", "header", "liar", "hello")


class Gone(Exception):
    pass


class Child:
    def __init__(self, server: int, rng: random.Random, unsafe: bool = False) -> None:
        self.server = server
        self.rng = rng
        self.unsafe = unsafe
        self.sent = 0
        self.replies = 0
        self.deadline = time.monotonic() + MAX_CHILD_SECONDS

    def out_of_time(self) -> bool:
        return time.monotonic() > self.deadline

    def send(self, symbol: int) -> None:
        try:
            os.kill(self.server, SIGNALS[symbol])
        except ProcessLookupError:
            raise Gone from None
        self.sent += 1

    def exchange(self, symbol: int, timeout: float = 0.05) -> int | None:
        """Send ``symbol`` and wait briefly for the reply (None: no reply)."""
        self.send(symbol)
        info = signal.sigtimedwait(SIGNAL_SET, timeout)
        if info is None:
            return None
        self.replies += 1
        return 0 if info.si_signo == signal.SIGUSR1 else 1

    def signature(self) -> int | None:
        reply = None
        for _ in range(protocol.SIGNATURE_LENGTH):
            reply = self.exchange(protocol.ONE, 0.2)
        return reply

    def bits(self, data: bytes, *, wait: bool = True) -> None:
        for symbol in protocol.symbols_of(data):
            if self.out_of_time():
                return
            if wait:
                self.exchange(symbol)
            else:
                self.send(symbol)

    # ------------------------------------------------------------------ behaviours
    def noise(self) -> None:
        if self.unsafe or self.rng.random() < 0.5:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
            for signum in SIGNALS:
                signal.signal(signum, signal.SIG_DFL)  # the server must never answer us now
        pause = self.rng.choice((0.0, 0.0002, 0.001, 0.005))
        for _ in range(self.rng.randrange(1, 400)):
            if self.out_of_time():
                return
            self.send(self.rng.randrange(2))
            if pause:
                time.sleep(pause)

    def talker(self) -> None:
        self.signature()
        for _ in range(self.rng.randrange(0, 300)):
            if self.out_of_time():
                return
            self.exchange(self.rng.randrange(2))

    def _header(self) -> int:
        version = self.rng.choice((protocol.PROTOCOL_VERSION, protocol.PROTOCOL_VERSION, 0, 2, 255))
        length = self.rng.choice((0, 1, 7, 100, 5000, 1 << 20, protocol.MAX_LENGTH, self.rng.randrange(1 << 32)))
        self.signature()
        self.exchange(protocol.START_BIT)
        self.bits(protocol.HEADER.pack(version, self.rng.randrange(256), self.rng.randrange(256), self.rng.randrange(1 << 32), length))
        return length

    def header(self) -> None:
        length = self._header()
        self.bits(self.rng.randbytes(min(length, self.rng.randrange(0, 64))))
        if self.rng.random() < 0.3:
            time.sleep(max(0.0, min(self.deadline - time.monotonic(), self.rng.uniform(0.0, 1.0))))

    def liar(self) -> None:
        length = self._header()
        self.bits(self.rng.randbytes(min(length, 32)))
        self.bits(self.rng.randbytes(protocol.TAIL.size))

    def hello(self) -> None:
        for _ in range(self.rng.randrange(1, 4)):
            if self.out_of_time():
                return
            self.signature()
            for _ in range(self.rng.randrange(0, 3)):
                self.exchange(protocol.HELLO, 0.1)


def run_child(server: int, seed: int, report: int, kinds: tuple[str, ...], unsafe: bool) -> None:
    rng = random.Random(seed)
    kind = rng.choice(kinds)
    child = Child(server, rng, unsafe)
    try:
        getattr(child, kind)()
    except Gone:
        pass
    line = json.dumps({"pid": os.getpid(), "kind": kind, "sent": child.sent, "replies": child.replies})
    os.write(report, (line + "\n").encode())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("server", type=int)
    parser.add_argument("--procs", type=int, default=50)
    parser.add_argument("--parallel", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--unsafe", action="store_true")
    args = parser.parse_args()
    kinds = tuple(args.kinds.split(","))
    assert set(kinds) <= set(KINDS), kinds
    if args.server <= 1 or args.server == os.getppid():
        print(f"fuzzer: refusing to signal {args.server}", file=sys.stderr)
        return 2
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)  # inherited by the children
    read_end, write_end = os.pipe()
    running: set[int] = set()
    started = 0
    while started < args.procs or running:
        while started < args.procs and len(running) < args.parallel:
            pid = os.fork()
            if pid == 0:
                try:
                    os.close(read_end)
                    run_child(args.server, args.seed * 1000 + started, write_end, kinds, args.unsafe)
                finally:
                    os._exit(0)
            running.add(pid)
            started += 1
        pid, _ = os.wait()
        running.discard(pid)
    os.close(write_end)
    with os.fdopen(read_end) as reports:
        lines = reports.read().splitlines()
    for line in lines:
        print(line)
    print(json.dumps({"done": len(lines)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
