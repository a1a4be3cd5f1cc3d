"""How a copy reaches the clipboard, and what the app may honestly say about it.

Textual copies with OSC 52, an escape sequence the terminal may act on or
silently drop: tmux drops it unless ``set-clipboard`` is on, GNOME Terminal
and many others ignore it, and nothing tells the app. So:

* a terminal known to take OSC 52 (and not inside tmux): OSC 52 is enough,
  "Copied";
* otherwise a clipboard tool, when one is installed and has a display to
  talk to (``wl-copy``, ``xclip``, ``xsel``, ``pbcopy``), gets the text on
  stdin as well, and the app says which one it used;
* otherwise the app says that the text went to the terminal as OSC 52 and
  how to enable it.

No Textual here; the environment and ``which`` are arguments (tests pass
their own). ``run_tool`` blocks: the app runs it in a worker thread.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sigchat.sigio.masks import unblock_signals

TOOL_TIMEOUT = 2.0
"""Seconds a clipboard tool may take before the copy counts as failed."""

TOOLS: tuple[tuple[tuple[str, ...], str | None], ...] = (
    (("wl-copy",), "WAYLAND_DISPLAY"),
    (("xclip", "-selection", "clipboard"), "DISPLAY"),
    (("xsel", "--clipboard", "--input"), "DISPLAY"),
    (("pbcopy",), None),
)
"""Clipboard tools in the order they are tried, with the variable each needs (its display)."""

OSC52_TERMS = ("xterm-kitty", "alacritty", "foot", "wezterm", "xterm-ghostty", "contour")
"""``TERM`` prefixes of terminals that act on OSC 52 by default."""
OSC52_VARIABLES = ("KITTY_WINDOW_ID", "ALACRITTY_WINDOW_ID", "WEZTERM_PANE", "GHOSTTY_RESOURCES_DIR", "WT_SESSION")
"""Variables those terminals (and Windows Terminal) set in their shells."""

TMUX_HINT = "enable it: tmux set -g set-clipboard on"
OTHER_HINT = "this terminal does not take OSC 52: install wl-copy, xclip or xsel"


@dataclass(frozen=True, slots=True)
class Route:
    """Where a copy goes besides OSC 52."""

    tool: tuple[str, ...] | None
    """The clipboard tool's command line (its full path first), or ``None``."""
    osc52_known: bool
    """The terminal is known to act on OSC 52 (then no tool is used)."""
    tmux: bool

    @property
    def tool_name(self) -> str | None:
        return self.tool[0].rsplit("/", 1)[-1] if self.tool else None

    def osc52_note(self) -> str:
        """What to say when only OSC 52 carried the text."""
        hint = TMUX_HINT if self.tmux else OTHER_HINT
        return f"Sent to the terminal's clipboard (OSC 52); if nothing was copied, {hint}"


def osc52_known(env: Mapping[str, str]) -> bool:
    """Whether the terminal is known to act on OSC 52 (never inside tmux or screen)."""
    if env.get("TMUX") or env.get("STY"):
        return False
    term = env.get("TERM", "")
    return term.startswith(OSC52_TERMS) or any(env.get(name) for name in OSC52_VARIABLES)


def route(env: Mapping[str, str], which: Callable[[str], str | None]) -> Route:
    """How to copy in this environment."""
    tmux = bool(env.get("TMUX"))
    if osc52_known(env):
        return Route(None, True, tmux)
    for command, needs in TOOLS:
        if needs is not None and not env.get(needs):
            continue
        path = which(command[0])
        if path:
            return Route((path, *command[1:]), False, tmux)
    return Route(None, False, tmux)


def run_tool(command: Sequence[str], text: str) -> str | None:
    """Give ``text`` to a clipboard tool on stdin; ``None`` when it worked, else what went wrong.

    Its output goes nowhere: ``xclip`` and ``wl-copy`` stay in the background
    to serve the selection, and a pipe they inherit would never close.
    """
    try:
        result = subprocess.run(
            list(command),
            input=text.encode("utf-8", "surrogateescape"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=TOOL_TIMEOUT,
            preexec_fn=unblock_signals,
        )
    except subprocess.TimeoutExpired:
        return f"no answer within {TOOL_TIMEOUT:g} s"
    except OSError as error:
        return str(error)
    return None if result.returncode == 0 else f"exit status {result.returncode}"
