"""Write screenshots/check-client.svg: a real ``sigchat-check`` report, as a terminal shows it.

``make screenshots`` runs this after ``make_screenshots.py``. It builds a
typical student client (``tests/peers/defects/client.c`` with the two
mistakes almost every public minitalk makes: it signals whatever PID it is
given, and waits for an ack for ever) into a temporary directory, runs
``sigchat-check --quick client ./client`` on it for real, and saves the
report once the progress bar is gone. Times and PIDs are those of the run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console

from sigchat.check.command import build_parser, check
from sigchat.check.report import RichOutput, whole
from sigchat.sigio.masks import block_signals, block_strays

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "screenshots" / "check-client.svg"
DEFECTS = ["-DKILL_ANY", "-DHANG"]
WIDTH = 118


def main() -> int:
    block_signals()  # first, before any thread: the check's in-process server reads them in its own
    block_strays()
    with tempfile.TemporaryDirectory() as directory:
        source = ROOT / "tests" / "peers" / "defects" / "client.c"
        subprocess.run(["gcc", "-std=c99", "-O2", *DEFECTS, "-o", f"{directory}/client", str(source)], check=True)
        os.chdir(directory)
        args = build_parser().parse_args(["--quick", "client", "./client"])
        report = check(args, RichOutput(Console(width=WIDTH, stderr=True)))
    recorder = Console(record=True, width=WIDTH, force_terminal=True, color_system="truecolor", file=open(os.devnull, "w"))
    for renderable in whole(report):
        recorder.print(renderable)
    OUT.parent.mkdir(exist_ok=True)
    recorder.save_svg(str(OUT), title="sigchat-check --quick client ./client")
    print(os.path.relpath(OUT, ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
