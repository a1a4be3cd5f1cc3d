"""The classic minitalk conventions A..L as C peers and as sigchat profiles: the one table.

Each row of ../shared/notes/minitalk-conventions.md (how public minitalk
programs talk) is a ``Convention``: the gcc flags that build its C client and
server from ``minitalk_client.c`` / ``minitalk_server.c`` (one ``-DCONV_X``
each, mapped to behaviour flags in ``conventions.h``), the sigchat profile
that should interoperate with them, and what sigchat can do about it.

Standard library only: imported by the tests (``tests/test_conventions.py``)
and by ``scripts/bench_classic.py``, which run without the test extras.

    from conventions import CONVENTIONS, build
    peers = build(tmpdir)              # {name: (client path, server path)}
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
CLIENT_SOURCE = HERE / "minitalk_client.c"
SERVER_SOURCE = HERE / "minitalk_server.c"
CFLAGS = ("-std=c99", "-O2", "-Wall", "-Wextra", "-Werror")


@dataclass(frozen=True)
class Convention:
    name: str
    """``A`` .. ``L``, or a pacing variant such as ``B-50``."""
    client_flags: tuple[str, ...]
    server_flags: tuple[str, ...]
    profile: str | None
    """sigchat's ``--classic`` profile for it; ``None``: none can serve its client."""
    description: str
    acked: bool
    """Whether its client waits for an ack after each signal (else it paces itself)."""
    supported: bool
    """Whether sigchat can serve its client at all."""
    pace_us: int | None = None
    """Unacked: the client's ``usleep`` per bit, and sigchat-send's ``--pace-us`` to its server."""
    send_profile: str | None = None
    """The profile sigchat-send uses against its C server, when it is not ``profile``."""
    notes: tuple[str, ...] = field(default=())

    @property
    def sender_profile(self) -> str | None:
        """The profile of ``sigchat-send --classic`` to this convention's C server (``None``: not tried)."""
        return self.send_profile or self.profile

    def send_args(self) -> list[str]:
        """``sigchat-send`` options for this convention's C server (before the PID)."""
        if self.sender_profile is None:
            return []
        args = ["--classic", self.sender_profile]
        if self.pace_us is not None:
            args += ["--pace-us", str(self.pace_us)]
        return args

    def server_args(self) -> list[str]:
        """``sigchat-server`` options that serve this convention's client."""
        return [] if self.profile is None else ["--plain", "--json", "--classic", self.profile]


def _conv(letter: str, profile: str | None, description: str, *, acked: bool = True, supported: bool = True,
          pace_us: int | None = None, send_profile: str | None = None, notes: tuple[str, ...] = ()) -> Convention:
    flag = f"-DCONV_{letter}"
    return Convention(letter, (flag,), (flag,), profile, description, acked, supported, pace_us, send_profile, notes)


_BASE = [
    _conv("A", "msb,usr2=1,nul,ack=usr1",
          "MSB, USR2=1, NUL; ack USR1 after usleep(100); client usleep(10000) cut short by the ack, a full sleep = exit 1"),
    _conv("B", "lsb,len32+nul,ack=none",
          "LSB, USR2=1, 32-bit length LSB first + NUL; no acks, usleep(100) per bit; signal() server without si_pid",
          acked=False, pace_us=100),
    _conv("C", "msb,usr1=1,len32,ack=none,end-ack=usr1",
          "MSB, USR1=1, 32-bit length, no NUL; no per-bit ack, end ack USR1; usleep(100) per bit; server busy-waits",
          acked=False, pace_us=100),
    _conv("D", "lsb,usr1=1,len-typed+nul,nul-counted,ack=usr1,end-ack=usr2,handshake",
          "LSB, USR1=1; handshake USR1->USR1, a length-type signal, length LSB first counting the NUL; "
          "acks counted by interrupted sleep(2) (an uninterrupted one = exit 1); end ack USR2"),
    _conv("E", "msb,len64,ack=usr1",
          "MSB, USR2=1, 64-bit length, no NUL; ack USR1; client resends a bit after 42 ms; "
          "server drops a session after 0.42 s silence (USR2 = timeout)"),
    _conv("F", "msb,len32,ack=usr2,end-ack=usr1,handshake",
          "MSB, USR2=1; ping USR1 -> pong USR1 (10 tries x 1 s); 32-bit length, no NUL; ack USR2, end ack USR1; "
          "client polls with usleep(100); one client at a time, reset after 2.5 s"),
    _conv("G", "lsb,nul,ack=usr1,end-ack=usr1",
          "LSB, USR2=1, NUL; ack USR1 after usleep(150), one more USR1 600 us after the NUL; "
          "client pause() per ack (racy) then usleep(300)"),
    _conv("H", "msb,len64+nul,le,nul-counted,ack=usr1",
          "MSB, USR2=1; 64-bit length as little-endian memory counting the NUL, + NUL; ack USR1; "
          "client usleep(50000) cut short by the ack; server locked to the first pid (10 s)"),
    _conv("I", "msb,len32+nul,ack=usr1,end-ack=usr2",
          "MSB, USR2=1, 32-bit length + NUL; ack USR1 after usleep(100), end ack USR2; client pause() per bit (racy)"),
    _conv("J", "msb,nul,ack=usr2,handshake=usr2",
          "MSB, USR2=1, NUL; connect USR1 answered by USR2 (USR1 = busy; 5 tries x 1 s); ack USR2"),
    _conv("K", "lsb,dec10+nul,ack=usr1",
          "LSB, USR2=1; the length as 10 ASCII digits, the bytes, a NUL; ack USR1"),
    _conv("L", None,
          "LSB; kill(pid, SIGUSR1 + bit): bit 1 is SIGSEGV on Linux (it kills the server); "
          "64-bit length LSB first + NUL; no acks, usleep(100)",
          acked=False, supported=False, pace_us=100, send_profile="lsb,len64+nul,ack=none",
          notes=("its C server is an ordinary lsb,len64+nul,ack=none one: sigchat-send can talk to it",)),
]


def _paced(base: Convention, pace_us: int) -> Convention:
    return Convention(
        f"{base.name}-{pace_us}",
        (*base.client_flags, f"-DPACE_US={pace_us}"),
        base.server_flags,
        base.profile,
        f"{base.name} with usleep({pace_us}) per bit",
        base.acked,
        base.supported,
        pace_us,
        base.send_profile,
        base.notes,
    )


_BY_NAME = {c.name: c for c in _BASE}
# B and C are the unacked conventions students really use; at 100 us they are B and C themselves.
_VARIANTS = [_paced(_BY_NAME[letter], pace) for letter in ("B", "C") for pace in (50, 200)]

CONVENTIONS: dict[str, Convention] = {c.name: c for c in _BASE + _VARIANTS}
"""Every convention and variant, by name: A..L, then B-50, B-200, C-50, C-200 (B and C are at 100 us)."""
LETTERS = tuple(c.name for c in _BASE)


SIGWAITINFO_STYLE = ("-DSIGWAITINFO",)
"""``build``'s ``server_style`` for a server that takes its signals with ``sigwaitinfo()`` instead of a
handler (minitalk_server.c): the C yardstick for unacked clients."""


def build(directory: str | Path, names: list[str] | None = None, *, server_style: tuple[str, ...] = (),
          parallel: int = 4, timeout: float = 120.0) -> dict[str, tuple[Path, Path]]:
    """Compile the client and server of every convention in ``names`` (default: all) into ``directory``.

    ``server_style``: flags added to every server's (e.g. ``SIGWAITINFO_STYLE``; such servers get names
    of their own, so one directory can hold both). ``parallel`` gcc jobs at a time (the CPUs are shared);
    a binary whose flags were built already is reused (the pacing variants share their base's server).
    Returns ``{name: (client, server)}``; raises ``RuntimeError`` with gcc's output when one does not compile.
    """
    directory = Path(directory)
    suffix = "".join(f"-{flag.removeprefix('-D').lower()}" for flag in server_style)
    targets: dict[tuple[str, tuple[str, ...]], Path] = {}
    built: dict[str, tuple[Path, Path]] = {}
    for name in names or CONVENTIONS:
        convention = CONVENTIONS[name]
        paths = []
        for kind, flags, tail in (("client", convention.client_flags, ""),
                                  ("server", convention.server_flags + server_style, suffix)):
            paths.append(targets.setdefault((kind, flags), directory / f"{kind}-{convention.name}{tail}"))
        built[name] = (paths[0], paths[1])
    pending = [
        ["gcc", *CFLAGS, *flags, "-o", str(output), str(CLIENT_SOURCE if kind == "client" else SERVER_SOURCE)]
        for (kind, flags), output in targets.items()
    ]
    errors = []
    while pending:
        batch, pending = pending[:parallel], pending[parallel:]
        jobs = [(argv, subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)) for argv in batch]
        for argv, job in jobs:
            output, _ = job.communicate(timeout=timeout)
            if job.returncode != 0:
                errors.append(f"{' '.join(argv)}:\n{output.decode(errors='replace')}")
    if errors:
        raise RuntimeError("\n".join(errors))
    return built
