"""Fixtures for the real-process tests (see ``helpers``): servers, victims and catchers.

Every process is started by the test and cleaned up here, through its ``Popen``
object only (never by name or by a bare pid).
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable, Iterator

import pytest

import helpers

# A shell without job control starts background commands with SIGINT ignored, and
# children inherit that: a sigchat-send started from here would then ignore Ctrl-C,
# unlike one started from a terminal, and the Ctrl-C tests would fail (seen when
# CI ran under `cmd &` in a script). A handler is reset to the default at exec,
# so with one installed here every child starts with SIGINT as a terminal gives it.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def start_server() -> Iterator[Callable[..., helpers.Server]]:
    """``start_server(*args)`` starts ``sigchat-server --plain *args``.

    On teardown every server the test did not kill itself gets SIGTERM and must
    exit 0 with a one-line summary as its last stderr line (and, when the test
    set ``server.expect_delivered``, that many delivered messages in it).
    """
    servers: list[helpers.Server] = []

    def start(*args: str, **kwargs) -> helpers.Server:
        server = helpers.Server(*args, **kwargs)
        server.killed = False
        server.expect_delivered = None
        servers.append(server)
        return server

    yield start
    errors = []
    for server in servers:
        try:
            if server.killed or server.stopped is not None:
                continue
            assert server.alive(), f"the server died during the test: {server.stderr_lines}"
            stopped = server.stop()
            assert stopped.returncode == 0, f"server exited {stopped.returncode}: {stopped.stderr}"
            assert stopped.summary, f"no summary line at the end of stderr: {stopped.stderr!r}"
            assert stopped.stderr.endswith("\n")
            if server.expect_delivered is not None:
                assert int(stopped.summary["delivered"]) == server.expect_delivered, stopped.stderr
        except AssertionError as error:
            errors.append(error)
        finally:
            server.cleanup()
    if errors:
        raise errors[0]


def _stop_and_check(server: helpers.Server) -> None:
    try:
        assert server.alive(), f"the server died during the test: {server.stderr_lines}"
        stopped = server.stop()
        assert stopped.returncode == 0, f"server exited {stopped.returncode}: {stopped.stderr}"
        assert stopped.summary, f"no summary line at the end of stderr: {stopped.stderr!r}"
        assert stopped.stderr.endswith("\n")
        assert int(stopped.summary["aborted"]) == 0, stopped.stderr
    finally:
        server.cleanup()


@pytest.fixture(scope="module")
def shared_server() -> Iterator[helpers.Server]:
    """One server for a whole module of simple round trips (tests use ``mark``/``wait_since``)."""
    server = helpers.Server()
    yield server
    _stop_and_check(server)


@pytest.fixture
def server(start_server) -> helpers.Server:
    return start_server()


@pytest.fixture
def children() -> Iterator[list[subprocess.Popen]]:
    """Extra children to SIGKILL and reap at teardown (senders a test left running)."""
    procs: list[subprocess.Popen] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def victim() -> Iterator[subprocess.Popen]:
    """A ``sleep`` child that SIGUSR1/SIGUSR2 would kill; the test asserts it survives."""
    proc = helpers.start_victim()
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)


@pytest.fixture
def make_catcher() -> Iterator[Callable[[str], helpers.Catcher]]:
    catchers: list[helpers.Catcher] = []

    def make(mode: str = "catch") -> helpers.Catcher:
        catcher = helpers.Catcher(mode)
        catchers.append(catcher)
        return catcher

    yield make
    for catcher in catchers:
        catcher.cleanup()
