"""``sigchat-check`` against C peers: each deliberate defect is found and named, correct peers pass.

The peers: ``tests/peers/defects/client.c`` and ``server.c`` (correct without
flags, one defect per -D flag) and the convention clients of
``tests/peers/conventions.py`` (``minitalk_client.c``, one ``-DCONV_X`` each). Every check runs the real
command (``python -m sigchat check``) on real processes; the checker starts and
signals only its own children (its server, the student's program, a catcher, a
``sleep``). ``--only`` and ``--quick`` keep each run to the cases it needs.
The pure parts (``proto.classic.infer``) are tested first, without processes.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from peers import conventions
from sigchat.proto.classic.infer import compare, edit_distance, expected_symbols, infer_client, infer_server_acks
from sigchat.proto.classic.profile import parse_profile
from sigchat.proto.wire import ONE, ZERO
from sigchat.sigio.masks import unblock_signals

PEERS = Path(__file__).parent / "peers"
CHECK = [sys.executable, "-m", "sigchat", "check"]
PROBE = "sigchat ✓ 42".encode()

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is needed to build the C peers")


# --------------------------------------------------------------------------- inference (pure)


@pytest.mark.parametrize(
    "text", ["", "lsb", "usr1=1", "len32", "lsb,len32", "len64,le", "lsb,len32+nul,nul-counted", "handshake", "usr1=1,len32+nul"]
)
def test_a_clients_profile_is_read_from_its_signals(text):
    profile = parse_profile(text)
    best = infer_client(expected_symbols(PROBE, profile), PROBE)[0]
    assert (str(best.profile), best.errors, best.confidence) == (str(profile), 0, 1.0)


def test_a_few_lost_signals_still_point_at_the_profile():
    symbols = expected_symbols(PROBE, parse_profile("lsb,len32"))
    damaged = symbols[:30] + symbols[31:70] + symbols[71:]
    best = infer_client(damaged, PROBE)[0]
    assert str(best.profile) == str(parse_profile("lsb,len32")) and best.errors == 2 and best.confidence < 1
    assert edit_distance(symbols, damaged) == 2


def test_compare_names_what_happened_at_the_first_fault():
    expected = expected_symbols(b"hello, world", parse_profile(""))
    assert compare(expected, expected).kind == "same"
    lost = compare(expected, expected[:40] + expected[41:])
    assert lost.kind == "lost" and lost.index <= 40 and expected[lost.index : 41] == [expected[40]] * (41 - lost.index)
    assert compare(expected, expected[:9] + [expected[9] ^ 1] + expected[10:]).kind == "flipped"
    assert compare(expected, expected[:9] + [ONE] + expected[9:]).kind in ("extra", "flipped")
    assert (compare(expected, expected[:-8]).kind, compare(expected, expected[:-8]).index) == ("short", len(expected) - 8)
    assert compare(expected, expected + [ZERO]).kind == "long"


def test_a_servers_acks_are_read_from_its_replies():
    every_bit = [[ZERO]] * 15 + [[ZERO, ONE]]
    acks = infer_server_acks(every_bit)
    assert (acks.ack, acks.end_ack, acks.every_bit) == ("usr1", "usr2", True)
    assert infer_server_acks([[ONE]] * 8).ack == "usr2"
    assert infer_server_acks([[]] * 8).ack is None


# --------------------------------------------------------------------------- the C peers

CLIENT_DEFECTS = ["NO_WAIT", "LSB_FIRST", "NO_LAST_ACK", "NO_NUL", "KILL_ANY", "NO_ARG_CHECK", "HANG", "EXIT_STATUS=3"]
SERVER_DEFECTS = ["STDIO_NO_FLUSH", "EXTRA_TEXT", "NO_NEWLINE", "LSB_FIRST"]
END_ACKS = ["USR2", "USR1"]


@pytest.fixture(scope="module")
def peers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every variant, compiled in parallel: ``client``/``server`` (correct), ``client-<DEFECT>``, ``server-<DEFECT>``."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to build the C peers")
    out = tmp_path_factory.mktemp("check-peers")
    builds = [("client", PEERS / "defects" / "client.c", []), ("server", PEERS / "defects" / "server.c", [])]
    builds += [(f"client-{d.split('=')[0]}", PEERS / "defects" / "client.c", [f"-D{d}"]) for d in CLIENT_DEFECTS]
    builds += [(f"server-{d}", PEERS / "defects" / "server.c", [f"-D{d}"]) for d in SERVER_DEFECTS]
    builds += [(f"server-END_ACK_{s}", PEERS / "defects" / "server.c", [f"-DEND_ACK=SIG{s}"]) for s in END_ACKS]
    jobs = []
    for name, source, flags in builds:
        argv = ["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", *flags, "-o", str(out / name), str(source)]
        jobs.append((argv, subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)))
    for argv, job in jobs:
        output, _ = job.communicate(timeout=120)
        assert job.returncode == 0, f"{' '.join(argv)}:\n{output.decode(errors='replace')}"
    return out


def check(*args: str, timeout: float = 90) -> tuple[int, str]:
    """``python -m sigchat check ARGS``: its exit code and its stdout (plain text: not a terminal)."""
    result = subprocess.run(
        [*CHECK, *args], stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, preexec_fn=unblock_signals
    )
    return result.returncode, result.stdout.decode() + result.stderr.decode()


def case_line(output: str, name: str) -> str:
    """The report's line of the case ``name`` and its indented lines (the signals around the fault)."""
    lines = output.split("\n")
    start = next(i for i, line in enumerate(lines) if line[5:].startswith(name))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith("       ")), len(lines))
    return "\n".join(lines[start:end])


def check_json(tmp_path: Path, *args: str) -> tuple[int, str, dict]:
    """``check("--json", FILE, *args)``: its exit code, its output, and the report, checked to have the issue's shape."""
    path = tmp_path / "report.json"
    code, output = check("--json", str(path), *args)
    report = json.loads(path.read_text())
    assert set(report) == {"target", "profile", "passed", "cases"}, report
    for case in report["cases"]:
        assert set(case) == {"name", "passed", "seconds", "diagnosis"}, case
        assert isinstance(case["seconds"], float) and isinstance(case["diagnosis"], str), case
    return code, output, report


@needs_gcc
def test_a_correct_client_passes_every_case_and_the_json_has_the_issues_shape(peers, tmp_path):
    code, output, data = check_json(tmp_path, "--quick", "client", str(peers / "client"))
    assert code == 0, output
    assert (data["target"], data["profile"], data["passed"]) == ("client", "msb,usr2=1,nul,ack=usr1", True)
    failed = [case for case in data["cases"] if not case["passed"]]
    # Optional and load-dependent, each seen failing in a CI run on the shared 2 CPUs (speed is benchmarked, never
    # asserted by a test): a failure of either must still say what was measured.
    assert all(case["name"] in ("two clients at once", "speed") and case["diagnosis"] for case in failed), failed
    names = [case["name"] for case in data["cases"]]
    for expected in ("empty message", "1 char", "100 chars", "1,000 chars (timed)", "15 in a row, no restart",
                     "exit code 0", "bad arguments: PID 0", "bad arguments: negative PID", "PID of an innocent process",
                     "server gone mid-message"):  # fmt: skip
        assert expected in names
    assert "profile: msb,usr2=1,nul,ack=usr1 (detected" in output
    (speed,) = [case for case in data["cases"] if case["name"] == "speed"]
    assert re.fullmatch(r"\(optional\) 1,000 chars in .+: (fast|slow) \(fast: under 1 s\); sigchat-send --classic: .+", speed["diagnosis"])


DETECTED = ["A", "E", "F", "H", "J", "K"]
"""Acked conventions of ../shared/notes/minitalk-conventions.md (tests/peers/conventions.py) whose whole profile
a client shows. Not here: G (its end ack is its ack signal: nothing tells it), D and I (their own clients race
their acks, tests/test_conventions.py retries them), B and C (they pace themselves and lose signals)."""


@pytest.fixture(scope="module")
def convention_clients(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to build the C peers")
    return conventions.build(tmp_path_factory.mktemp("check-conventions"), DETECTED)


@needs_gcc
@pytest.mark.parametrize("name", DETECTED)
def test_each_acked_convention_is_detected_exactly_and_passes(convention_clients, name):
    code, output = check("--quick", "--only", "1 char", "--only", "Unicode", "client", str(convention_clients[name][0]))
    assert code == 0, output
    assert f"profile: {parse_profile(conventions.CONVENTIONS[name].profile)} (detected" in output, output


def test_a_client_sending_sigsegv_does_not_kill_the_check(tmp_path):
    """Convention L's kill(pid, SIGUSR1 + bit): the check blocks SIGSEGV and names it."""
    script = tmp_path / "client.py"
    script.write_text("import os, signal, sys\nos.kill(int(sys.argv[1]), signal.SIGUSR1 + 1)\n")
    code, output = check("--quick", "--only", "1 char", "client", sys.executable, str(script))
    assert code == 1, output
    assert "your client sent SIGSEGV (signal 11) to the server" in output, output


CLIENT_FINDINGS = {
    # defect: (cases to run, the case that fails, what its diagnosis must say)
    "NO_WAIT": (["1,000"], "1,000 chars", "your client does not wait for acks"),
    "LSB_FIRST": (["Unicode"], "Unicode", "bit order reversed: your client sends each byte LSB first"),
    "NO_LAST_ACK": (["1 char"], "1 char", "your client exited before the last ack"),
    "NO_NUL": (["1 char"], "1 char", "your client never sent the NUL"),
    "KILL_ANY": (["PID of an innocent"], "PID of an innocent", "your client killed PID"),
    "NO_ARG_CHECK": (["bad arguments: PID 0"], "bad arguments: PID 0", "your client sent SIGUSR1 to its process group"),
    "HANG": (["server gone"], "server gone", "still running 3 s after its server died"),
    "EXIT_STATUS": (["1 char"], "exit code 0", "exit status 3 after '1 char'"),
}


@needs_gcc
@pytest.mark.parametrize("defect", list(CLIENT_FINDINGS))
def test_each_client_defect_is_found_and_named(peers, defect):
    only, failing, said = CLIENT_FINDINGS[defect]
    options = [arg for prefix in only for arg in ("--only", prefix)]
    code, output = check("--quick", "--profile", "msb,usr2=1,nul", *options, "client", str(peers / f"client-{defect}"))
    assert code == 1, output
    line = case_line(output, failing)
    assert line.startswith("FAIL") and said in line, output


SERVER_FINDINGS = {
    "STDIO_NO_FLUSH": "your server printed nothing (it acked all 16 bits)",
    "EXTRA_TEXT": "your server printed extra text before it: 'Received: '",
    "NO_NEWLINE": "your server printed the message without a newline",
    "LSB_FIRST": "bit order reversed: your server reads each byte in the other bit order; first wrong byte: 0",
}


@needs_gcc
def test_a_correct_server_is_detected_and_passes(peers, tmp_path):
    code, output, data = check_json(tmp_path, "--quick", "server", str(peers / "server"))
    assert code == 0, output
    assert (data["target"], data["profile"], data["passed"]) == ("server", "msb,usr2=1,nul,ack=usr1", True)
    failed = [case for case in data["cases"] if not case["passed"]]
    assert all(case["diagnosis"].startswith("(optional) ") for case in failed), failed  # (it mixes two clients' bits)


@needs_gcc
@pytest.mark.parametrize("defect", list(SERVER_FINDINGS))
def test_each_server_defect_is_found_and_named(peers, defect):
    code, output = check("--quick", "--profile", "msb", "--only", "1 char", "server", str(peers / f"server-{defect}"))
    assert code == 1, output
    assert case_line(output, "1 char").startswith("FAIL") and SERVER_FINDINGS[defect] in output, output


@needs_gcc
@pytest.mark.parametrize("end", END_ACKS)
def test_a_server_end_ack_is_detected(peers, tmp_path, end):
    """A server that sends SIGUSR2 (I's convention) or one more SIGUSR1 (G's) once a message is whole: in the profile."""
    code, output, data = check_json(tmp_path, "--quick", "--only", "1 char", "server", str(peers / f"server-END_ACK_{end}"))
    assert code == 0, output
    assert data["profile"] == f"msb,usr2=1,nul,ack=usr1,end-ack={end.lower()}", output
    assert f"then SIG{end} once the message was whole" in output, output


@needs_gcc
def test_an_undetectable_server_is_still_checked_and_said_so(peers):
    code, output = check("--quick", "--only", "1 char", "server", str(peers / "server-STDIO_NO_FLUSH"))
    assert code == 1
    assert "not detected" in output and "your server printed nothing" in output, output


def test_usage_errors_exit_2_with_one_line():
    for args in (["client"], ["tester", "x"], ["--profile", "msb,bogus", "client", "true"], ["client", "/no/such/program"]):
        code, output = check(*args, timeout=30)
        assert code == 2, (args, output)
        assert output.count("\n") == 1 and output.startswith("sigchat-check: "), (args, output)
