"""The command lines: exit-code documentation, --help/--version, and every bad-argument case.

Bad arguments must exit 2 with one clear line on stderr and send no signal to
anyone: where a PID is given it is a child of the test that SIGUSR1 would kill
(a *victim*, checked alive afterwards) or one that counts the signals it gets
(a *catcher*, checked to have got none).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import helpers
import sigchat
from sigchat import exit_codes, send
from sigchat.sigio import procfs
from sigchat.sigio.masks import unblock_signals

pytestmark = pytest.mark.timeout(60)

README = Path(__file__).resolve().parent.parent / "README.md"


# --------------------------------------------------------------------------- exit-code table


def readme_exit_code_rows() -> list[tuple[int, str, str]]:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- exit-codes\b[^>]*-->\n(.*?)<!-- /exit-codes -->", text, re.S)
    assert match, "README.md has no <!-- exit-codes --> ... <!-- /exit-codes --> section"
    lines = [line.strip() for line in match.group(1).strip().splitlines()]
    assert re.fullmatch(r"\|\s*code\s*\|\s*name\s*\|\s*meaning\s*\|", lines[0]), lines[0]
    assert re.fullmatch(r"\|-*:?\|-+\|-+\|", lines[1].replace(" ", "")), lines[1]
    rows = []
    for line in lines[2:]:
        row = re.fullmatch(r"\|\s*(\d+)\s*\|\s*`(\w+)`\s*\|\s*(.*?)\s*\|", line)
        assert row, f"malformed exit-code row in README.md: {line!r}"
        rows.append((int(row[1]), row[2], row[3]))
    return rows


def test_readme_exit_codes_match_the_module():
    assert readme_exit_code_rows() == exit_codes.table()


def test_exit_code_table_is_complete_and_unique():
    table = exit_codes.table()
    codes = [code for code, _, _ in table]
    assert len(set(codes)) == len(codes)
    constants = {name: value for name, value in vars(exit_codes).items() if name.isupper() and isinstance(value, int)}
    assert {name: code for code, name, _ in table} == constants
    assert all(text.strip() for _, _, text in table)
    assert all(0 <= code <= 255 for code in codes)


# --------------------------------------------------------------------------- --help / --version


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=30, preexec_fn=unblock_signals, **kwargs
    )


def assert_lists_codes(help_text: str, codes: list[tuple[int, str, str]]) -> None:
    assert "exit codes" in help_text.lower()
    flat = " ".join(help_text.split())  # the text may be wrapped
    for code, _, text in codes:
        assert re.search(rf"(^|\s){code}\s+{re.escape(' '.join(text.split()))}", flat), (code, text)


@pytest.mark.parametrize(
    "cmd", [helpers.SEND_CMD, helpers.MODULE_SEND_CMD], ids=["sigchat-send", "python -m sigchat send"]
)
def test_send_help_lists_every_exit_code(cmd):
    result = run([*cmd, "--help"])
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    text = result.stdout.decode()
    assert text.startswith("usage: sigchat-send")
    assert_lists_codes(text, exit_codes.table())


@pytest.mark.parametrize(
    "cmd",
    [helpers.SERVER_CMD, [sys.executable, "-m", "sigchat", "server"]],
    ids=["sigchat-server", "python -m sigchat server"],
)
def test_server_help_works(cmd):
    result = run([*cmd, "--help"])
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode()
    assert text.startswith("usage: sigchat-server")
    for option in ("--plain", "--json", "--max-bytes", "--session-timeout", "--log", "--allow-uid", "--version"):
        assert option in text


@pytest.mark.parametrize("flag", ["--help", "-h", "help"])
def test_module_help_lists_the_commands(flag):
    """``python -m sigchat --help``: the entry's own help, naming ``server`` (the default), ``send`` and ``check``."""
    result = run([sys.executable, "-m", "sigchat", flag])
    assert result.returncode == 0 and result.stderr == b"", result.stderr
    text = result.stdout.decode()
    assert text.startswith("usage: python -m sigchat [server] [OPTIONS]\n       python -m sigchat send [OPTIONS] PID")
    commands = re.findall(r"^  (\w+) +(.*)$", text, re.M)
    assert [name for name, _ in commands] == ["server", "send", "check"], commands
    server_entry = text.split("\n  server ", 1)[1].split("\n  send ", 1)[0]
    assert "(the default" in server_entry and "sigchat-send" in dict(commands)["send"]
    assert "sigchat-check" in dict(commands)["check"]


def test_module_unknown_command():
    result = run([sys.executable, "-m", "sigchat", "sned", "123", "hi"])
    assert result.returncode == exit_codes.USAGE and result.stdout == b""
    assert result.stderr.decode().splitlines() == [
        "python -m sigchat: unknown command 'sned': the commands are server, send and check (see --help)"
    ]


def test_server_help_lists_its_exit_codes():
    result = run([*helpers.SERVER_CMD, "--help"])
    assert result.returncode == 0
    server_codes = [row for row in exit_codes.table() if row[0] in (exit_codes.OK, exit_codes.FAILURE, exit_codes.USAGE)]
    assert_lists_codes(result.stdout.decode(), server_codes)


@pytest.mark.parametrize(
    ("cmd", "prog"),
    [
        ([sys.executable, "-m", "sigchat"], "sigchat-server"),
        ([sys.executable, "-m", "sigchat", "send"], "sigchat-send"),
        (helpers.SEND_CMD, "sigchat-send"),
        (helpers.SERVER_CMD, "sigchat-server"),
    ],
    ids=["python -m sigchat", "python -m sigchat send", "sigchat-send", "sigchat-server"],
)
def test_version(cmd, prog):
    result = run([*cmd, "--version"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == f"{prog} {sigchat.__version__}\n"


# --------------------------------------------------------------------------- bad arguments of sigchat-send


def assert_usage_error(result: helpers.SendResult) -> None:
    assert result.returncode == exit_codes.USAGE, (result.returncode, result.stderr)
    assert result.stdout == b""
    lines = result.stderr_lines
    assert len(lines) == 1, f"expected one line on stderr, got {lines!r}"
    assert lines[0].startswith("sigchat-send: ") and len(lines[0]) > len("sigchat-send: ") + 5, lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("pid", ["abc", "12abc", "4.5", "", "0x1f", "one"], ids=repr)
def test_pid_not_a_number(pid):
    result = helpers.run_sender(["--", pid, "hello"], timeout=30)
    assert_usage_error(result)
    assert "number" in result.stderr


def test_missing_pid():
    result = helpers.run_sender([], timeout=30)
    assert_usage_error(result)
    assert "PID" in result.stderr


GROUP_WRAPPER = 'sleep 60 </dev/null >/dev/null 2>&1 & echo "$!"; exec "$@"'


@pytest.mark.parametrize("which", ["zero", "negative-own-group"])
def test_pid_zero_or_negative_signals_nobody(which):
    """0 and -N would mean "my process group" / "group N" to kill(2).

    The sender runs in a new session, together with a victim in the same
    process group, and the negative PID is that group's own id: whatever a
    buggy sender did with it, only processes of this test could be hit.
    """
    if which == "zero":
        script, args = GROUP_WRAPPER, ["0", "hello"]
    else:  # the shell's pid is its group's id (new session); exec keeps it
        script, args = GROUP_WRAPPER.replace('"$@"', '"$@" "-$$" hello'), []
    proc = subprocess.Popen(
        ["sh", "-c", script, "sh", *helpers.SEND_CMD, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=unblock_signals,
        start_new_session=True,
    )
    group = proc.pid
    out, err = proc.communicate(timeout=30)
    victim = int(out.split()[0])
    try:
        result = helpers.SendResult(proc.returncode, b"".join(out.split(b"\n", 1)[1:]), err.decode(), 0.0, proc.pid)
        assert_usage_error(result)
        assert "positive" in result.stderr
        assert procfs.comm(victim) == "sleep" and procfs.is_alive(victim), "the process group was signalled"
    finally:
        # the victim is our own grandchild: check that it still is before ending it
        try:
            if procfs.comm(victim) == "sleep" and os.getpgid(victim) == group:
                os.kill(victim, 9)
        except ProcessLookupError:
            pass


def test_negative_pid_literal():
    """``-5`` (argparse must take it as the PID, not an option): exit 2.

    Only run when no process group 5 exists, so that even a sender that got it
    wrong could not signal anyone.
    """
    try:
        os.killpg(5, 0)  # signal 0: an existence check, nothing is sent
    except ProcessLookupError:
        pass
    except PermissionError:
        pytest.skip("a process group 5 exists")
    else:
        pytest.skip("a process group 5 exists")
    result = helpers.run_sender(["-5", "hello"], timeout=30)
    assert_usage_error(result)
    assert "positive" in result.stderr


@pytest.mark.parametrize(
    "pid", ["2147483648", "4294967297", "9" * 30, "9" * 5000, "-" + "9" * 30], ids=["2**31", "2**32+1", "30 digits", "5000 digits", "-30 digits"]
)
def test_pid_out_of_range(pid):
    """(Was a bug: os.kill raised OverflowError, a traceback; 5000 digits are beyond int()'s limit.)"""
    result = helpers.run_sender(["--", pid, "hello"], timeout=30)
    assert_usage_error(result)
    assert ("positive" if pid.startswith("-") else "out of range: a PID is below 2147483648") in result.stderr
    assert len(result.stderr) < 200, result.stderr  # the digits are not all repeated


def test_parse_pid_limits():
    assert send.parse_pid("2147483647") == 2**31 - 1
    for text in ("2147483648", "0", "-0", "--5", "1" * 11):
        with pytest.raises(send.UsageError):
            send.parse_pid(text)


def test_extra_words_say_quote_your_message(victim):
    """``sigchat-send PID hello world``: the shell made two arguments of one message."""
    for args in (["{pid}", "hello", "world"], ["-v", "{pid}", "hello", "big", "world"]):
        result = helpers.run_sender([arg.format(pid=victim.pid) for arg in args], timeout=30)
        assert_usage_error(result)
        expected = f"sigchat-send: quote your message: sigchat-send {victim.pid} '{' '.join(args[args.index('{pid}') + 1 :])}'"
        assert result.stderr_lines == [f"{expected} (see --help)"]
    assert helpers.is_alive(victim)


@pytest.mark.parametrize(
    "args", [["-x"], ["-x", "{pid}", "hi"], ["{pid}", "hi", "-x"], ["--turbo", "-x", "{pid}", "hi"], ["--bogus=1", "{pid}", "hi"]], ids=repr
)
def test_unknown_option_is_named(args, victim):
    result = helpers.run_sender([arg.format(pid=victim.pid) for arg in args], timeout=30)
    assert_usage_error(result)
    option = next(arg for arg in args if arg in ("-x", "--bogus=1")).partition("=")[0]
    assert result.stderr_lines == [f"sigchat-send: unknown option {option} (see --help)"]
    assert helpers.is_alive(victim)


def test_abbreviated_and_negative_values_are_not_unknown_options():
    options = [option for action in send.build_parser()._actions for option in action.option_strings]
    assert send.unknown_option(["--time", "3", "12", "-5"], options) is None  # argparse takes --time for --timeout
    assert send.unknown_option(["--timeout", "-1.5", "12", "hi"], options) is None
    assert send.unknown_option(["--", "12", "-x"], options) is None
    assert send.unknown_option(["12", "hi", "--nope"], options) == "--nope"


def test_own_pid():
    code = "import os, sys; from sigchat.send import main; sys.exit(main([str(os.getpid()), 'hello']))"
    result = helpers.run_sender(["-c", code], command=[sys.executable], timeout=30)
    assert_usage_error(result)
    assert "own" in result.stderr


BAD_WITH_TARGET = {
    "timeout-zero": ["--timeout", "0", "{pid}", "hello"],
    "timeout-negative": ["--timeout", "-1", "{pid}", "hello"],
    "timeout-not-a-number": ["--timeout", "soon", "{pid}", "hello"],
    "unknown-option": ["--bogus", "{pid}", "hello"],
    "too-many-arguments": ["{pid}", "hello", "extra"],
}


@pytest.mark.parametrize("args", BAD_WITH_TARGET.values(), ids=BAD_WITH_TARGET.keys())
def test_bad_arguments_signal_nobody(args, victim, make_catcher):
    result = helpers.run_sender([arg.format(pid=victim.pid) for arg in args], timeout=30)
    assert_usage_error(result)
    assert helpers.is_alive(victim)
    catcher = make_catcher("catch")
    result = helpers.run_sender([arg.format(pid=catcher.pid) for arg in args], timeout=30)
    assert_usage_error(result)
    assert catcher.stop() == (0, 0)


@pytest.mark.parametrize("value", ["nan", "inf", "1e400"])
def test_timeout_not_finite_is_a_usage_error(make_catcher, value):
    """(Was a bug: nan passed the "<= 0" check; the sender signalled the target and never exited.)"""
    catcher = make_catcher("catch")
    proc = helpers.sender_popen(["--timeout", value, str(catcher.pid), "hello"])
    try:
        returncode = proc.wait(3)
    except subprocess.TimeoutExpired:
        returncode = None
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        stderr = proc.stderr.read().decode()
        for pipe in (proc.stdout, proc.stderr):
            pipe.close()
    assert returncode == exit_codes.USAGE, (returncode, stderr)
    assert catcher.stop() == (0, 0)


def pid_variants(pid: int) -> list[str]:
    digits = str(pid)
    fullwidth = "".join(chr(ord("０") + int(d)) for d in digits)
    return [f"{digits[:1]}_{digits[1:]}", f" {digits}", f"{digits}\n", fullwidth]


def test_pid_with_python_only_number_syntax(victim):
    """(Was a bug: int(text, 10) also accepts '1_234', whitespace and non-ASCII digits.)"""
    codes = []
    for text in pid_variants(victim.pid):
        result = helpers.run_sender(["--", text, "hello"], timeout=30)
        codes.append((text, result.returncode))
    assert helpers.is_alive(victim)  # the sender refuses the victim anyway (UNSAFE_TARGET)
    assert all(code == exit_codes.USAGE for _, code in codes), codes


def test_missing_message_with_a_terminal_stdin(victim):
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(
            [*helpers.SEND_CMD, str(victim.pid)],
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=unblock_signals,
        )
        out, err = proc.communicate(timeout=30)
    finally:
        os.close(slave)
        os.close(master)
    result = helpers.SendResult(proc.returncode, out, err.decode(), 0.0, proc.pid)
    assert_usage_error(result)
    assert "terminal" in result.stderr
    assert helpers.is_alive(victim)


# --------------------------------------------------------------------------- bad arguments of sigchat-server


def run_server_expecting_exit(args: list[str]) -> tuple[int, bytes, str]:
    """Run ``sigchat-server --plain ARGS``; fail at once (after killing it) if it starts serving."""
    proc = subprocess.Popen(
        [*helpers.SERVER_CMD, "--plain", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=unblock_signals,
    )
    out = helpers.Reader(proc.stdout, "server stdout")
    err = helpers.Reader(proc.stderr, "server stderr")
    out.start()
    err.start()
    try:
        out.wait_for(lambda data: b"\n" in data or out.eof, 20, "exit or the first line")
    except AssertionError:
        if not out.eof:
            raise
    started = out.snapshot().startswith((b"Server PID:", b'{"'))
    if started or proc.poll() is None and not out.eof:
        proc.kill()
    returncode = proc.wait(20)
    out.join(5)
    err.join(5)
    proc.stdout.close()
    proc.stderr.close()
    if started:
        pytest.fail(f"sigchat-server {args} started serving instead of exiting 2")
    return returncode, out.snapshot(), err.snapshot().decode()


SERVER_USAGE_ERRORS = {
    ("--max-bytes", "-1"): "--max-bytes must be a whole number of bytes from 0 to 4294967295, not '-1'",
    ("--max-bytes", str(2**32)): "--max-bytes must be a whole number of bytes from 0 to 4294967295, not '4294967296'",
    ("--max-bytes", "abc"): "--max-bytes must be a whole number of bytes from 0 to 4294967295, not 'abc'",
    ("--max-bytes",): "--max-bytes: expected one argument",
    ("--session-timeout", "0"): "--session-timeout must be a positive number of seconds, not '0'",
    ("--session-timeout", "-1"): "--session-timeout must be a positive number of seconds, not '-1'",
    ("--classic-timeout", "soon"): "--classic-timeout must be a positive number of seconds, not 'soon'",
    ("--allow-uid", "me"): "--allow-uid must be a user id (a whole number), not 'me'",
    ("--bogus",): "unknown option --bogus",
    ("extra",): "unexpected argument 'extra': sigchat-server takes options only",
}


@pytest.mark.parametrize("args", SERVER_USAGE_ERRORS, ids=repr)
def test_server_bad_arguments(args):
    """Every usage error is one line in one style, as sigchat-send's: ``sigchat-server: <problem> (see --help)``
    (argparse's own was a usage block and a message; ours was one line)."""
    returncode, out, err = run_server_expecting_exit(list(args))
    assert returncode == exit_codes.USAGE, err
    assert out == b""  # in particular no "Server PID" line
    assert err.splitlines() == [f"sigchat-server: {SERVER_USAGE_ERRORS[args]} (see --help)"], err


@pytest.mark.parametrize("json_mode", [False, True], ids=["plain", "json"])
def test_server_log_in_a_missing_directory_is_one_line(json_mode):
    returncode, out, err = run_server_expecting_exit(["--log", "/nonexistent/dir/x.jsonl", *(["--json"] if json_mode else [])])
    assert returncode == exit_codes.FAILURE
    assert out == b""
    assert err.splitlines() == ["sigchat-server: cannot open the --log file: No such file or directory: /nonexistent/dir/x.jsonl"]


def test_the_ui_words_a_bad_log_as_plain_mode_does(capsys):
    """``open_log`` runs before Textual does, in the UI as in plain mode: the same line and exit code."""
    from sigchat.server.options import build_parser
    from sigchat.server.plain import run_plain
    from sigchat.tui.app import run_app

    args = build_parser().parse_args(["--log", "/nonexistent/dir/x.jsonl"])
    assert run_app(args) == exit_codes.FAILURE
    ui = capsys.readouterr()
    assert run_plain(args) == exit_codes.FAILURE
    plain = capsys.readouterr()
    assert ui.out == plain.out == ""
    assert ui.err == plain.err == "sigchat-server: cannot open the --log file: No such file or directory: /nonexistent/dir/x.jsonl\n"


def test_server_last_line_and_exit_code(capsys):
    """``report_stop``: the one place that words the last stderr line, for plain mode and the UI."""
    from sigchat.server.plain import report_stop

    assert report_stop(3, 42, ["1 transfer aborted", "0 stray signals ignored"], 2.04, None) == exit_codes.OK
    err = capsys.readouterr().err
    assert err == (
        "sigchat-server: stopped; 3 messages (42 B) delivered, 1 transfer aborted, 0 stray signals ignored, up 0:00:02\n"
    )
    assert helpers.summary_of(err.rstrip("\n"))["size"] == "42 B"
    # One message, sizes as format.human_bytes words them, thousands separated counts.
    assert report_stop(1, 3 << 20, ["1,024 transfers aborted", "1 stray signal ignored"], 3725.0, None) == exit_codes.OK
    err = capsys.readouterr().err
    assert err.startswith("sigchat-server: stopped; 1 message (3.0 MiB) delivered, ") and err.endswith(", up 1:02:05\n")
    summary = helpers.summary_of(err.rstrip("\n"))
    assert summary and (summary["delivered"], summary["size"], summary["aborted"], summary["stray"]) == ("1", "3.0 MiB", "1024", "1")
    error = BrokenPipeError(32, "Broken pipe")
    assert report_stop(0, 0, ["2 transfers failed"], 0.5, error) == exit_codes.FAILURE
    assert capsys.readouterr().err == (
        "sigchat-server: the receiver thread died (BrokenPipeError: [Errno 32] Broken pipe); "
        "0 messages (0 B) delivered, 2 transfers failed, up 0:00:00\n"
    )


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_server_session_timeout_not_finite_is_a_usage_error(value):
    """(Was a bug: nan passed the "<= 0" check, and a silent session was then never dropped.)"""
    returncode, out, err = run_server_expecting_exit(["--session-timeout", value])
    assert returncode == exit_codes.USAGE, err


# --------------------------------------------------------------------------- the quick path (start-up, issue #6)


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(pid=st.integers(1, 2**22).map(str), message=st.text(min_size=0, max_size=30))
def test_quick_args_are_what_argparse_would_give(pid, message):
    """``PID MESSAGE`` skips argparse; when it does, the result is exactly argparse's."""
    argv = [pid, message]
    quick = send.quick_args(argv)
    if message.startswith("-"):
        assert quick is None
        return
    assert quick is not None
    assert vars(quick) == vars(send.build_parser().parse_args(argv))


@pytest.mark.parametrize("argv", [["-v", "1", "x"], ["1"], ["1", "x", "y"], ["--", "1", "x"], ["x1", "hi"], ["1", "-"]])
def test_anything_else_goes_to_argparse(argv):
    assert send.quick_args(argv) is None


def test_help_shows_the_classic_defaults_of_the_classic_module(monkeypatch):
    from sigchat.proto.classic import api as classic

    monkeypatch.setenv("COLUMNS", "1000")  # (argparse would wrap the syntax at its hyphens)
    text = " ".join(send.build_parser().format_help().split())
    assert f"--classic alone is {classic.DEFAULT_PROFILE}," in text
    assert f"(default: {classic.DEFAULT_PACE * 1e6:g})" in text
    assert f"(default: {classic.DEFAULT_ACK_TIMEOUT:g})" in text
    assert classic.SYNTAX in text


# --------------------------------------------------------------------------- the target check (sigchat-send)


@pytest.mark.parametrize(
    ("argv", "server"),
    [
        (["/work/.venv/bin/sigchat-server", "--plain"], True),
        (["sigchat-server"], True),
        (["/usr/bin/python3", "/work/.venv/bin/sigchat-server", "--json"], True),
        (["python", "-m", "sigchat"], True),
        (["python", "-X", "importtime", "-m", "sigchat", "server", "--plain"], True),
        (["python", "-msigchat", "--plain"], True),
        (["python", "-m", "sigchat.serve"], True),
        (["python", "-m", "sigchat", "send", "12", "hi"], False),
        (["/work/.venv/bin/sigchat-send", "12", "hi"], False),
        (["python", "-c", "import sigchat-server"], False),
        (["bash", "-i"], False),
        ([], False),
    ],
    ids=repr,
)
def test_which_command_lines_are_a_sigchat_server(argv, server):
    assert procfs.server_argv(argv) is server


def test_a_starting_server_that_signals_would_kill_is_refused_in_words(monkeypatch, capsys):
    """A process started as sigchat-server whose receiver thread does not come and that SIGUSR1 would
    still kill (Python itself still starting): the refusal says so (the target here is this very process,
    checked with signal 0 only: nothing is sent)."""
    monkeypatch.setattr(send, "STARTING_WAIT", 0.05)
    monkeypatch.setattr(procfs, "receiver_tid", lambda pid: None)
    monkeypatch.setattr(procfs, "is_server_command", lambda pid: True)
    monkeypatch.setattr(procfs, "comm", lambda pid: "sigchat-server")
    monkeypatch.setattr(
        procfs, "signal_safety", lambda pid: procfs.Safety(False, "SIGUSR1 would kill it (neither blocked, caught nor ignored)")
    )
    assert send.check_target(os.getpid(), force=False) == exit_codes.UNSAFE_TARGET
    assert capsys.readouterr().err == (
        f"sigchat-send: refusing to signal {os.getpid()} (sigchat-server): it is a sigchat server still starting, "
        "and after 0.05 s SIGUSR1 would still kill it; try again in a moment (--force to send anyway)\n"
    )
    assert send.check_target(os.getpid(), force=True) is None


def test_classic_targets_may_catch_the_signals(monkeypatch, capsys):
    """``--classic`` says the target is a classic minitalk server: catching the signals is what it does."""
    monkeypatch.setattr(procfs, "receiver_tid", lambda pid: None)
    monkeypatch.setattr(procfs, "is_server_command", lambda pid: False)
    monkeypatch.setattr(procfs, "signal_safety", lambda pid: procfs.Safety(True, "caught"))
    monkeypatch.setattr(procfs, "catches", lambda pid, signum: True)
    assert send.check_target(os.getpid(), force=False, classic=True) is None
    assert send.check_target(os.getpid(), force=False) == exit_codes.UNSAFE_TARGET
    assert "it catches SIGUSR1 and SIGUSR2" in capsys.readouterr().err


# --------------------------------------------------------------------------- the server's start-up (issue 16)


def first_statements(function) -> list[str]:
    body = ast.parse(textwrap.dedent(inspect.getsource(function))).body[0].body
    return [ast.unparse(statement) for statement in body if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant))]


@pytest.mark.parametrize("function", ["sigchat.serve:entry_point", "sigchat.serve:main", "sigchat.__main__:main"])
def test_the_server_entry_points_block_the_signals_first(function):
    """Statically: the first statement of each way into the server is ``block_signals()``."""
    module, _, name = function.partition(":")
    assert first_statements(getattr(importlib.import_module(module), name))[0] == "block_signals()"


@pytest.mark.parametrize("module", ["sigchat.serve", "sigchat.__main__"])
def test_the_server_entry_modules_import_only_the_masks_at_the_top(module):
    """Anything more at the top of the module would run before ``block_signals()`` (a SIGUSR1 then kills it)."""
    tree = ast.parse(Path(importlib.import_module(module).__file__).read_text())
    imports = [ast.unparse(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert imports == ["from __future__ import annotations", "from sigchat.sigio.masks import block_signals"]


def test_classic_outcomes_that_confirm_nothing_say_unconfirmed():
    """``--classic``: missing acks (exit 6, NO_ANSWER as documented) are worded as an unconfirmed delivery."""
    from types import SimpleNamespace

    from sigchat.proto.classic.sender import SenderStats, SendOutcome
    from sigchat.sigio.send_classic import ClassicSendResult

    args = SimpleNamespace(ack_timeout=0.2, timeout=5.0)
    for outcome in (SendOutcome.ACKS_MISSING, SendOutcome.UNCONFIRMED, SendOutcome.NO_END_ACK):
        result = ClassicSendResult(outcome, SenderStats(length=2, bits=24, bits_sent=24, missing_acks=3))
        code, message = send.describe_classic_failure(result, 4242, args)
        assert code == exit_codes.NO_ANSWER, outcome
        assert "delivery is unconfirmed" in message, message


def test_a_turbo_sender_loads_ctypes_before_it_moves_onto_the_receivers_cpu(monkeypatch):
    """Loading ctypes costs ~4 ms of CPU: done on the receiver's CPU, it slows the transfer of the
    sender that streams there while this one starts (eight senders at once). So ``open_words``
    comes first, and its result is what ``send_message`` uses."""
    order = []
    opened = (object(), None)
    monkeypatch.setattr(send, "check_target", lambda pid, force, classic=False: None)
    monkeypatch.setattr(send, "open_words", lambda: order.append("open_words") or opened)
    monkeypatch.setattr(send, "join_receiver_cpu", lambda pid: order.append("join_receiver_cpu"))

    def sent(pid, data, **kwargs):
        order.append("send_message")
        assert kwargs["opened_words"] is (opened if kwargs["turbo"] else None)
        return exit_codes.OK  # (an int: what guarded() passes on as the exit code)

    monkeypatch.setattr(send, "send_message", sent)
    assert send.main(["--turbo", "4242", "hi"]) == exit_codes.OK
    assert order == ["open_words", "join_receiver_cpu", "send_message"]
    order.clear()
    assert send.main(["4242", "hi"]) == exit_codes.OK  # without --turbo: no ctypes at all
    assert order == ["join_receiver_cpu", "send_message"]
