"""The processes a check starts: the student's program, a catcher, an innocent ``sleep``, a sigchat server.

Each starts with an empty signal mask (this process blocks SIGUSR1/SIGUSR2,
and a mask is inherited) and is killed and reaped by whoever started it,
through its ``Popen`` object only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sigchat.sigio.masks import unblock_signals
from sigchat.sigio.sigapi import signal_name


@dataclass
class ProcessResult:
    """How a finished (or timed-out, then killed) program ended."""

    pid: int
    returncode: int | None
    """``None``: still running at the timeout (then killed)."""
    seconds: float
    stdout: bytes
    stderr: bytes

    @property
    def hung(self) -> bool:
        return self.returncode is None

    @property
    def status(self) -> str:
        if self.returncode is None:
            return "still running at the timeout"
        if self.returncode < 0:
            return f"killed by {signal_name(-self.returncode)}"
        return f"exit status {self.returncode}"


def spawn(argv: list[str], *, group: int | None = None, stdin: int | None = subprocess.DEVNULL) -> subprocess.Popen:
    return subprocess.Popen(
        argv,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=unblock_signals,
        process_group=group,
    )


def run(argv: list[str], timeout: float, *, group: int | None = None) -> ProcessResult:
    """Run ``argv`` to its end, at most ``timeout`` seconds (then SIGKILL)."""
    began = time.monotonic()
    try:
        proc = spawn(argv, group=group)
    except OSError as error:
        now = time.monotonic()
        return ProcessResult(0, 127, now - began, b"", f"cannot run {argv[0]}: {error.strerror or error}".encode())
    return finish(proc, timeout, began)


def run_together(argvs: list[list[str]], timeout: float) -> list[ProcessResult]:
    """Start every ``argv`` at once and wait for them all (each at most ``timeout``, then SIGKILL)."""
    began = time.monotonic()
    return [finish(proc, timeout, began) for proc in [spawn(argv) for argv in argvs]]


def finish(proc: subprocess.Popen, timeout: float, since: float) -> ProcessResult:
    """Wait at most ``timeout`` for ``proc`` (then SIGKILL it), reap it; its time counted from ``since``."""
    try:
        out, err = proc.communicate(timeout=timeout)
        returncode = proc.returncode
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        returncode = None
    result = ProcessResult(proc.pid, returncode, time.monotonic() - since, out, err)
    reap(proc)
    return result


class LineReader(threading.Thread):
    """Reads a pipe to EOF in the background; waits for what it read, with a timeout."""

    def __init__(self, pipe) -> None:
        super().__init__(daemon=True)
        self.fd = pipe.fileno()
        self.data = bytearray()
        self.eof = False
        self.cond = threading.Condition()
        self.start()

    def run(self) -> None:
        try:
            while chunk := os.read(self.fd, 65536):
                with self.cond:
                    self.data += chunk
                    self.cond.notify_all()
        except OSError:
            pass
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def snapshot(self) -> bytes:
        with self.cond:
            return bytes(self.data)

    def wait_for(self, predicate: Callable[[bytes], object], timeout: float) -> object:
        """``predicate(data)`` once it is true, else its last value after ``timeout`` (or at EOF)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                value = predicate(bytes(self.data))
                left = deadline - time.monotonic()
                if value or left <= 0 or self.eof:
                    return value
                self.cond.wait(left)

    def wait_quiet(self, quiet: float, timeout: float) -> bytes:
        """What was read once nothing more came for ``quiet`` seconds (at most ``timeout``)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                size = len(self.data)
                left = deadline - time.monotonic()
                if left <= 0 or self.eof:
                    return bytes(self.data)
                self.cond.wait(min(quiet, left))
                if len(self.data) == size:
                    return bytes(self.data)


def reap(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


def start_sleep() -> subprocess.Popen:
    """An innocent process: SIGUSR1/SIGUSR2 would kill it (its mask empty, default dispositions)."""
    return subprocess.Popen(["sleep", "60"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, preexec_fn=unblock_signals)


class Catcher:
    """``python -m sigchat.sigio.catcher`` in a process group of its own (its pid is the group)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sigchat.sigio.catcher"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            process_group=0,
        )
        self.group = self.proc.pid
        ready = self.proc.stdout.readline()
        if ready != b"ready\n":
            reap(self.proc)
            raise RuntimeError("the signal catcher did not start")

    def caught(self) -> list[str]:
        """The signals that reached the group, as ``SIGUSR1 <sender pid>`` (the catcher then exits)."""
        out, _ = self.proc.communicate(b"", timeout=10)
        return out.decode().split("\n")[:-1]

    def close(self) -> None:
        reap(self.proc)


def sigchat_server(*options: str) -> subprocess.Popen:
    """``sigchat-server --plain -v OPTIONS`` as a child (this interpreter, ``-m sigchat``)."""
    return spawn([sys.executable, "-m", "sigchat", "server", "--plain", "-v", *options])
