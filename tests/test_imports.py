"""Import hygiene and the signal mask of real processes.

* The sender side must not import Textual (start-up time).
* Both ``main()`` functions block SIGUSR1/SIGUSR2 before anything else, so no
  signal can find them unblocked (or land on a thread that would die of it).
"""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys

import pytest

import helpers
from sigchat.sigio import procfs
from sigchat.sigio.masks import unblock_signals

pytestmark = pytest.mark.timeout(60)

SENDER_SIDE = ("sigchat.protocol", "sigchat.signals", "sigchat.send", "sigchat.procfs", "sigchat.records")


def python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        preexec_fn=unblock_signals,
    )


def test_sender_side_does_not_import_textual():
    result = python(
        f"import sys\nimport {', '.join(SENDER_SIDE)}\n"
        "print(sorted(name for name in sys.modules if name == 'textual' or name.startswith('textual.')))"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", result.stdout


@pytest.mark.parametrize("module", SENDER_SIDE)
def test_each_sender_module_alone_does_not_import_textual(module):
    result = python(f"import sys, {module}\nprint('textual' in sys.modules)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("module_name", ["sigchat.server", "sigchat.send"])
def test_main_blocks_the_signals_first(module_name):
    """Statically: the first statement of ``main`` is ``sigio.block_signals()`` (docstring aside)."""
    module = __import__(module_name, fromlist=["main"])
    tree = ast.parse(inspect.getsource(module.main))
    body = tree.body[0].body
    if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # docstring
    first = body[0]
    assert isinstance(first, ast.Expr) and isinstance(first.value, ast.Call), ast.dump(first)
    assert ast.unparse(first.value.func).endswith("block_signals"), ast.unparse(first)


def masks(path: str) -> dict[str, int]:
    with open(path) as file:
        fields = dict(line.split(":", 1) for line in file if ":" in line)
    return {key: int(fields[key].strip(), 16) for key in ("SigBlk", "SigCgt", "SigIgn")}


def test_running_server_blocks_and_catches_the_signals(server):
    status = masks(f"/proc/{server.pid}/status")
    assert status["SigCgt"] & helpers.SIGUSR_BITS == helpers.SIGUSR_BITS, hex(status["SigCgt"])  # bits 10 and 12
    assert status["SigBlk"] & helpers.SIGUSR_BITS == helpers.SIGUSR_BITS, hex(status["SigBlk"])  # the main thread
    assert not status["SigIgn"] & helpers.SIGUSR_BITS
    safety = procfs.signal_safety(server.pid)
    assert safety is not None and safety.safe, safety


def test_sender_blocks_and_catches_the_signals(make_catcher):
    """A sender waiting for an answer (from a catcher that never answers) has the signals blocked and caught."""
    catcher = make_catcher("catch")
    proc = helpers.sender_popen(["--timeout", "20", str(catcher.pid), "hello"])
    try:
        # the sender has sent its first signal once the catcher has counted one; poll /proc meanwhile
        def sender_ready():
            try:
                status = masks(f"/proc/{proc.pid}/status")
            except (OSError, KeyError):
                return None
            return status if status["SigCgt"] & helpers.SIGUSR_BITS == helpers.SIGUSR_BITS else None

        status = helpers.wait_until(sender_ready, 10, "the sender to install its handlers")
        assert status["SigBlk"] & helpers.SIGUSR_BITS == helpers.SIGUSR_BITS or procfs.signal_safety(proc.pid).safe
        assert procfs.signal_safety(proc.pid).safe
    finally:
        proc.kill()
        proc.wait(10)
        for pipe in (proc.stdout, proc.stderr):
            pipe.close()


# --------------------------------------------------------------------------- start-up cost (issue #6)

SLOW_IMPORTS = (
    *("argparse", "dataclasses", "typing", "threading", "ctypes", "inspect", "sigchat.classic", "textual"),
    *("enum", "functools", "collections", "signal"),  # signal imports the other three (see sigchat.sigapi)
)
"""Modules a plain ``sigchat-send PID MESSAGE`` must not import: each cost several
milliseconds of start-up here (``python -X importtime``), against a budget of
2x ``python3 -c pass`` for the whole process."""


def imported_by(args: list[str]) -> set[str]:
    """Every module a real ``sigchat-send`` run imports (``-X importtime`` lists them on stderr).

    The installed console script, as users run it: ``python -m`` would add runpy's
    own imports (functools, collections...)."""
    script = helpers.BIN / "sigchat-send"
    assert script.exists(), f"{script}: run the tests from the venv that make test installs"
    result = subprocess.run(
        [sys.executable, "-X", "importtime", str(script), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        preexec_fn=unblock_signals,
    )
    assert "import time:" in result.stderr, result.stderr
    names = {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    return {name for name in names if name in SLOW_IMPORTS or name.startswith("textual.")}


def test_a_plain_send_imports_nothing_slow(server):
    assert imported_by([str(server.pid), "hi"]) == set()
    server.wait_body(b"hi\n")


def test_the_check_above_can_fail(server):
    """The same check sees argparse once an option is given (so it is not vacuous)."""
    assert "argparse" in imported_by(["--stats", str(server.pid), "hi"])
