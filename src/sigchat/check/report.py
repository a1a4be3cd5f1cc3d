"""``sigchat-check``'s report: each case's verdict, shown as a rich table on a terminal, plain text
otherwise, and written as JSON (``--json FILE``) in exactly this shape::

    {"target": "client"|"server", "profile": "<canonical profile or null>", "passed": bool,
     "cases": [{"name": str, "passed": bool, "seconds": float, "diagnosis": str}]}

``passed`` is true iff every mandatory case passed (optional cases are marked
so in their diagnosis and never fail the run).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Protocol, TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from sigchat.format import human_duration, plural


@dataclass
class CaseResult:
    name: str
    passed: bool
    seconds: float
    diagnosis: str
    mandatory: bool = True


@dataclass
class Report:
    target: str
    command: str
    profile: str | None = None
    profile_note: str = ""
    """How the profile was found: given, or detected and how sure."""
    cases: list[CaseResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(case.passed for case in self.cases if case.mandatory)

    def failed(self) -> list[CaseResult]:
        return [case for case in self.cases if case.mandatory and not case.passed]

    def as_json(self) -> dict:
        return {
            "target": self.target,
            "profile": self.profile,
            "passed": self.passed,
            "cases": [
                {"name": c.name, "passed": c.passed, "seconds": round(c.seconds, 3), "diagnosis": _labelled(c)}
                for c in self.cases
            ],
        }

    def summary(self) -> str:
        mandatory = [case for case in self.cases if case.mandatory]
        failed = self.failed()
        if not mandatory:
            return "PASSED: no mandatory case was run"
        if not failed:
            return f"PASSED: all {plural(len(mandatory), 'mandatory case')} passed"
        return f"FAILED: {len(failed)} of {plural(len(mandatory), 'mandatory case')} failed"


def _labelled(case: CaseResult) -> str:
    return case.diagnosis if case.mandatory else f"(optional) {case.diagnosis}"


def write_json(report: Report, path: str) -> None:
    with open(path, "w", encoding="utf-8") as file:
        json.dump(report.as_json(), file, ensure_ascii=False, indent=2)
        file.write("\n")


def headline(report: Report) -> str:
    return f"sigchat-check {report.target} {report.command}"


# --------------------------------------------------------------------------- the two outputs


class Output(Protocol):
    """What a check tells as it runs: ``PlainOutput`` or ``RichOutput``."""

    def start(self, report: Report, total: int) -> None: ...

    def profile(self, report: Report) -> None: ...

    def running(self, name: str) -> None: ...

    def case(self, case: CaseResult) -> None: ...

    def finish(self, report: Report) -> None: ...


class PlainOutput:
    """One line per case as it ends; the diagnosis of a failure below it, indented."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self.out = out

    def start(self, report: Report, total: int) -> None:
        self.out.write(headline(report) + "\n")
        self.out.flush()

    def profile(self, report: Report) -> None:
        self.out.write(f"profile: {report.profile or 'unknown'} ({report.profile_note})\n")
        self.out.flush()

    def running(self, name: str) -> None:
        pass

    def case(self, case: CaseResult) -> None:
        mark = "ok  " if case.passed else ("FAIL" if case.mandatory else "warn")
        lines = _labelled(case).split("\n")
        self.out.write(f"{mark} {case.name} ({human_duration(case.seconds)}): {lines[0]}\n")
        for line in lines[1:]:
            self.out.write(f"       {line}\n")
        self.out.flush()

    def finish(self, report: Report) -> None:
        self.out.write(report.summary() + "\n")
        self.out.flush()


class RichOutput:
    """A progress bar while the cases run, then the table: one row per case, ✓/✗, time, diagnosis."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False)
        self.progress: Progress | None = None
        self.task = None

    def start(self, report: Report, total: int) -> None:
        self.console.print(Text(headline(report), style="bold"))
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
            console=self.console, transient=True, refresh_per_second=4,
        )  # fmt: skip
        self.progress.start()
        self.task = self.progress.add_task("detecting the profile", total=total)

    def profile(self, report: Report) -> None:
        self.console.print(profile_line(report))

    def running(self, name: str) -> None:
        self.progress.update(self.task, description=name)

    def case(self, case: CaseResult) -> None:
        self.progress.advance(self.task)

    def finish(self, report: Report) -> None:
        self.progress.stop()
        for renderable in outcome(report):
            self.console.print(renderable)


def outcome(report: Report) -> list:
    """What ends a terminal's report: the table and the summary line."""
    return [table(report), Text(report.summary(), style="bold green" if report.passed else "bold red")]


def whole(report: Report) -> list:
    """The whole report as a terminal shows it once the progress bar is gone (the README's screenshot)."""
    return [Text(headline(report), style="bold"), profile_line(report), *outcome(report)]


def profile_line(report: Report) -> Text:
    line = Text("profile: ")
    line.append(report.profile or "unknown", style="bold")
    return line.append(f" ({report.profile_note})")


def table(report: Report) -> Table:
    grid = Table(show_lines=False, expand=False)
    grid.add_column("", width=1)
    grid.add_column("case")
    grid.add_column("time", justify="right")
    grid.add_column("diagnosis", overflow="fold")
    for case in report.cases:
        if case.passed:
            mark = Text("✓", style="green")
        else:
            mark = Text("✗", style="red") if case.mandatory else Text("!", style="yellow")
        grid.add_row(mark, case.name, human_duration(case.seconds), Text(_labelled(case), style="" if case.passed else "bold"))
    return grid
