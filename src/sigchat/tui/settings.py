"""What the UI keeps between runs and where it writes: the directories, the theme, the send command.

* ``config_dir``: ``$XDG_CONFIG_HOME/sigchat`` (default ``~/.config/sigchat``),
  holding ``settings.json`` (the theme last chosen in the palette).
* ``data_dir``: ``$XDG_DATA_HOME/sigchat`` (default ``~/.local/share/sigchat``),
  where saved sessions and screenshots go; created when something is saved.
* ``send_program``: how a person runs ``sigchat-send`` from any shell: the
  short name when it is on ``PATH``, else the absolute path of the script
  installed next to this Python (a new shell after ``make run`` has no venv).

No Textual here. The environment, ``which`` and the scripts directory are
arguments, so tests never read or write the real home; ``run_app`` passes the
real ones.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import sysconfig
from collections.abc import Callable, Mapping

from sigchat import SEND_COMMAND

APP_DIR = "sigchat"
SETTINGS_FILE = "settings.json"


def _base(env: Mapping[str, str], variable: str, default: str) -> str:
    """``$variable`` when it is an absolute path (the XDG rule), else ``~/default``."""
    value = env.get(variable, "")
    if os.path.isabs(value):
        return value
    home = env.get("HOME") or os.path.expanduser("~")
    return os.path.join(home, default)


def config_dir(env: Mapping[str, str]) -> str:
    return os.path.join(_base(env, "XDG_CONFIG_HOME", ".config"), APP_DIR)


def data_dir(env: Mapping[str, str]) -> str:
    return os.path.join(_base(env, "XDG_DATA_HOME", os.path.join(".local", "share")), APP_DIR)


def settings_path(directory: str) -> str:
    return os.path.join(directory, SETTINGS_FILE)


def load_settings(directory: str) -> dict:
    """The settings saved in ``directory`` (``{}`` when there are none or they cannot be read)."""
    try:
        with open(settings_path(directory), encoding="utf-8") as file:
            settings = json.load(file)
    except (OSError, ValueError):
        return {}
    return settings if isinstance(settings, dict) else {}


def remembered_theme(directory: str) -> str | None:
    theme = load_settings(directory).get("theme")
    return theme if isinstance(theme, str) else None


def remember_theme(directory: str, theme: str) -> str:
    """Save ``theme`` in ``directory``'s settings (made if needed, replaced atomically); the file's path.

    Raises:
        OSError: It could not be written.
    """
    settings = load_settings(directory)
    settings["theme"] = theme
    os.makedirs(directory, exist_ok=True)
    path = settings_path(directory)
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "w", encoding="utf-8") as file:
        json.dump(settings, file, indent=2)
        file.write("\n")
    os.replace(temporary, path)
    return path


def pick_theme(
    option: str | None, env: Mapping[str, str], remembered: str | None, themes: Mapping[str, object]
) -> str | None:
    """The theme to start with: ``--theme``, else ``$TEXTUAL_THEME``, else the one last chosen in the palette.

    ``None``: Textual's default (it reads ``TEXTUAL_THEME`` itself). A remembered
    theme that no longer exists is ignored.
    """
    if option is not None:
        return option
    if env.get("TEXTUAL_THEME"):
        return None
    return remembered if remembered in themes else None


def send_program(
    *,
    which: Callable[[str], str | None],
    scripts: str | None = None,
    executable: str = sys.executable,
) -> str:
    """How to run ``sigchat-send`` from any shell, quoted for it.

    ``sigchat-send`` when ``which`` finds it on ``PATH``; else the script in
    ``scripts`` (this Python's scripts directory: the venv's ``bin``); else this
    Python with ``-m sigchat send``.
    """
    if which(SEND_COMMAND):
        return SEND_COMMAND
    if scripts is None:
        scripts = sysconfig.get_path("scripts")
    script = os.path.join(scripts, SEND_COMMAND) if scripts else ""
    if script and os.access(script, os.X_OK):
        return shlex.quote(os.path.abspath(script))
    return f"{shlex.quote(executable)} -m sigchat send"
