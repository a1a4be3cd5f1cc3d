"""The package's shape, and the imports and signal masks of real processes.

* The import graph of ``src/sigchat`` (every ``import``, at module level, in
  functions and under ``TYPE_CHECKING``) has no cycle, and its edges point one
  way through the layers of docs/ARCHITECTURE.md: ``proto`` < ``sigio`` <
  ``server`` < ``tui`` < the commands.
* Layer rules: the core touches no OS, clock, thread or signal; only ``sigio``
  imports ``signal``/``ctypes``; only ``tui`` imports Textual.
* A plain ``sigchat-send PID MESSAGE`` imports exactly the modules that
  ``sigchat.send``'s docstring lists (the start-up rule).
* Both ``main()`` functions block SIGUSR1/SIGUSR2 before anything else.
"""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import helpers
from sigchat.sigio import procfs
from sigchat.sigio.masks import unblock_signals

pytestmark = pytest.mark.timeout(60)

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "sigchat"


def python(code: str, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *flags, "-c", code],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        preexec_fn=unblock_signals,
    )


# --------------------------------------------------------------------------- the import graph


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports_of(path: Path) -> list[tuple[str, int]]:
    """``(module, line)`` for every import in the file, wherever it stands, resolved to module names.

    ``from a.b import c`` is the module ``a.b.c`` when that is a module, else ``a.b``.
    """
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.append((full if full in MODULES else node.module, node.lineno))
    return found


def graph() -> dict[str, set[str]]:
    """sigchat module -> the sigchat modules it imports."""
    return {name: {target for target, _ in imports_of(path) if target in MODULES} for name, path in MODULES.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as ``[a, b, ..., a]``, or ``None``."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_package_is_what_the_layers_say():
    assert {"sigchat.proto.server", "sigchat.sigio.receiver", "sigchat.server.sink", "sigchat.tui.app"} <= set(MODULES)
    assert not {"sigchat.protocol", "sigchat.signals", "sigchat.classic", "sigchat.app"} & set(MODULES)


def test_no_import_cycle_anywhere():
    cycle = find_cycle(graph())
    assert cycle is None, " -> ".join(cycle)


def test_the_cycle_check_can_fail():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


LAYERS = {"sigchat.proto": 0, "sigchat.sigio": 1, "sigchat.server": 2, "sigchat.tui": 3, "sigchat.check": 3}
"""``sigchat.check`` (sigchat-check's app) stands beside the UI: neither imports the other."""
COMMANDS = {"sigchat.send", "sigchat.serve", "sigchat.check.command"}
SHARED = {"sigchat", "sigchat.exit_codes", "sigchat.format"}
"""Imported from any layer: the version and command names, the exit codes, the number formats."""


def layer(module: str) -> int:
    if module in SHARED:
        return -1
    if module in COMMANDS:
        return 4
    if module == "sigchat.__main__":
        return 5  # ``python -m sigchat [server|send]``: picks a command
    return next(rank for prefix, rank in LAYERS.items() if module == prefix or module.startswith(prefix + "."))


def test_imports_point_down_the_layers():
    upward = [
        f"{source} imports {target}"
        for source, targets in graph().items()
        for target in targets
        if layer(target) > layer(source) or (source in COMMANDS and target in COMMANDS)
    ]
    assert upward == []


def subpackage(module: str) -> str:
    """``tui`` for ``sigchat.tui.app``; empty for ``sigchat`` itself."""
    return (module.split(".") + [""])[1]


def test_the_checker_and_the_ui_do_not_import_each_other():
    crossing = [
        f"{source} imports {target}"
        for source, targets in graph().items()
        for target in targets
        if {subpackage(source), subpackage(target)} == {"check", "tui"}
    ]
    assert crossing == []


def test_the_send_command_uses_only_the_core_and_the_io_layer():
    assert {layer(target) for target in graph()["sigchat.send"]} <= {-1, 0, 1}


def test_package_inits_import_nothing():
    """A sender loads only the modules it uses; ``api`` modules gather names for tests and scripts."""
    for name, path in MODULES.items():
        if path.name == "__init__.py":
            assert imports_of(path) == [], name


FORBIDDEN_IN_CORE = {"os", "time", "threading", "signal", "_signal", "ctypes", "select", "socket", "subprocess", "sys"}


def stdlib_imports(prefix: str) -> dict[str, set[str]]:
    return {
        name: {target.split(".")[0] for target, _ in imports_of(path) if not target.startswith("sigchat")}
        for name, path in MODULES.items()
        if name == prefix or name.startswith(prefix + ".")
    }


def test_the_core_touches_no_os_clock_thread_or_signal():
    offending = {name: found & FORBIDDEN_IN_CORE for name, found in stdlib_imports("sigchat.proto").items()}
    assert {name: found for name, found in offending.items() if found} == {}


def test_only_sigio_imports_signal_or_ctypes():
    offending = {
        name: found & {"signal", "_signal", "ctypes"}
        for name, found in stdlib_imports("sigchat").items()
        if not name.startswith("sigchat.sigio")
    }
    assert {name: found for name, found in offending.items() if found} == {}


def test_nothing_below_the_ui_imports_textual():
    """Textual only in the UI; rich (Textual's own renderer) also in sigchat-check's report."""
    offending = {
        name: found & ({"textual"} if name.startswith("sigchat.check") else {"textual", "rich"})
        for name, found in stdlib_imports("sigchat").items()
        if not name.startswith("sigchat.tui")
    }
    assert {name: found for name, found in offending.items() if found} == {}


def test_the_layer_checks_see_imports_inside_functions(tmp_path):
    """``imports_of`` finds a function-level import, so the checks above are not vacuous."""
    path = tmp_path / "mod.py"
    path.write_text("def f():\n    import signal\n    from sigchat.tui import app\n")
    assert [name for name, _ in imports_of(path)] == ["signal", "sigchat.tui.app"]


@pytest.mark.parametrize(
    "modules", [("sigchat.proto.api", "sigchat.proto.classic.api"), ("sigchat.send",), ("sigchat.serve", "sigchat.server.plain")]
)
def test_the_core_the_sender_and_plain_mode_load_without_textual(modules):
    result = python(f"import sys, {', '.join(modules)}\nprint(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')))")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", result.stdout


# --------------------------------------------------------------------------- the start-up rule (sigchat.send)

SEND_PATH = {
    "sigchat",
    "sigchat.exit_codes",
    "sigchat.send",
    "sigchat.proto",
    "sigchat.proto.base",
    "sigchat.proto.wire",
    "sigchat.proto.sender",
    "sigchat.sigio",
    "sigchat.sigio.sigapi",
    "sigchat.sigio.masks",
    "sigchat.sigio.procfs",
    "sigchat.sigio.cpus",
    "sigchat.sigio.link",
    "sigchat.sigio.words",
    "sigchat.sigio.send",
}
"""Exactly the sigchat modules of a plain send (the table in ``sigchat.send``'s docstring)."""
SEND_PATH_STDLIB = {"__future__", "struct", "_struct", "zlib", "errno", "types", "encodings.ascii"}
"""Exactly the standard library modules a plain send adds to ``python3 -c pass``'s."""


def imported(code: str) -> set[str]:
    """Every module that running ``code`` imports (``-X importtime`` lists them on stderr)."""
    result = python(code, "-X", "importtime")
    assert "import time:" in result.stderr, result.stderr
    return {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}


def plain_send(*args: str) -> str:
    """``sigchat-send ARGS`` run through its entry point, as the console script does (whatever pip wrote it)."""
    return f"import sys; sys.argv[1:] = {list(args)!r}; from sigchat.send import entry_point; entry_point()"


def test_a_plain_send_imports_exactly_the_send_path(server):
    modules = imported(plain_send(str(server.pid), "hi")) - imported("pass")
    server.wait_body(b"hi\n")
    assert {m for m in modules if m.startswith("sigchat")} == SEND_PATH
    assert {m for m in modules if not m.startswith("sigchat")} == SEND_PATH_STDLIB


def test_the_send_path_check_can_fail(server):
    """The same check sees argparse and the classic profile once an option is given (so it is not vacuous)."""
    modules = imported(plain_send("--stats", str(server.pid), "hi")) - imported("pass")
    server.wait_body(b"hi\n")
    assert {"argparse", "sigchat.proto.classic.profile"} <= modules


def test_send_docstring_lists_the_send_path():
    doc = inspect.getdoc(__import__("sigchat.send", fromlist=["main"]))
    for module in SEND_PATH - {"sigchat", "sigchat.proto", "sigchat.sigio"}:
        short = module.removeprefix("sigchat.sigio.")
        assert f"``{module}``" in doc or f"``{short}``" in doc, module


# --------------------------------------------------------------------------- masks


@pytest.mark.parametrize("module_name", ["sigchat.serve", "sigchat.send", "sigchat.check.command"])
def test_main_blocks_the_signals_first(module_name):
    """Statically: the first statement of ``main`` is ``block_signals()`` (docstring aside)."""
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
    proc = helpers.sender_popen(["--force", "--timeout", "20", str(catcher.pid), "hello"])  # (a catcher is no server)
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


# --------------------------------------------------------------------------- exit codes without the source


def test_exit_codes_need_no_source(tmp_path):
    """``--help`` lists the exit codes from a literal table: a sourceless (or unreadable) install works."""
    package = tmp_path / "sigchat"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "exit_codes.py").write_text((PACKAGE / "exit_codes.py").read_text())
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-b", str(package)], check=True)
    (package / "exit_codes.py").unlink()
    result = subprocess.run(
        [sys.executable, "-c", "from sigchat import exit_codes; print(exit_codes.__file__, len(exit_codes.table()), exit_codes.help_table()[:12])"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    where, count, *_ = result.stdout.split()
    assert where == str(package / "exit_codes.pyc") and count == "12" and "0  The" in result.stdout, result.stdout
