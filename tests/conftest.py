"""Fixtures for the real-process tests (see ``helpers``): servers, other children, victims and catchers.

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

CALL_PASSED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.when == "call":
        item.stash[CALL_PASSED] = report.passed
    return report


@pytest.fixture
def start_server(request: pytest.FixtureRequest) -> Iterator[Callable[..., helpers.Server]]:
    """``start_server(*args)`` starts ``sigchat-server --plain -v *args`` (a ``helpers.Server``; ``verbose=False``: no ``-v``).

    On teardown, after a test that passed, every server the test did not stop or
    kill itself gets SIGTERM and must exit 0 with a one-line summary as its last
    stderr line (and, when the test set ``server.expect_delivered``, that many
    delivered messages in it). After a failed test the servers are only killed.
    """
    servers: list[helpers.Server] = []

    def start(*args: str, **kwargs) -> helpers.Server:
        server = helpers.Server(*args, **kwargs)
        servers.append(server)
        return server

    yield start
    check = request.node.stash.get(CALL_PASSED, False)
    errors = []
    for server in servers:
        try:
            if check and not server.killed and server.stopped is None:
                summary = server.stop_checked()
                if server.expect_delivered is not None:
                    assert summary is not None, "expect_delivered needs the summary: a verbose server"
                    assert int(summary["delivered"]) == server.expect_delivered, server.stopped.stderr
        except AssertionError as error:
            errors.append(error)
        finally:
            server.cleanup()
    if errors:
        raise errors[0]


@pytest.fixture(scope="module")
def shared_server() -> Iterator[helpers.Server]:
    """One server for a whole module of simple round trips (tests use ``mark``/``wait_since``)."""
    server = helpers.Server()
    try:
        yield server
        assert int(server.stop_checked()["aborted"]) == 0, server.stopped.stderr
    finally:
        server.cleanup()


@pytest.fixture
def server(start_server) -> helpers.Server:
    return start_server()


@pytest.fixture
def children(start_server) -> Iterator[helpers.Children]:
    """Every other child of the test (``children.sender``/``tool``/``spawn``, or ``append`` one started
    elsewhere): SIGKILLed and reaped at teardown, before the servers are checked (hence ``start_server``)."""
    kids = helpers.Children()
    yield kids
    kids.cleanup()


@pytest.fixture
def victim(children) -> subprocess.Popen:
    """A ``sleep`` child that SIGUSR1/SIGUSR2 would kill; the test asserts it survives."""
    return helpers.start_victim(children)


@pytest.fixture
def make_catcher(children) -> Callable[[str], helpers.Catcher]:
    """``make_catcher(mode)``: a ``helpers.Catcher`` that ``children`` cleans up."""
    return lambda mode="catch": helpers.Catcher(children, mode)
