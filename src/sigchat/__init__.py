"""sigchat: messages over SIGUSR1/SIGUSR2, done properly.

Layers, imports pointing down only (docs/ARCHITECTURE.md): ``proto`` (the
sans-IO core) < ``sigio`` (signals, /proc, CPUs, ctypes) < ``server`` (options,
sink, plain output, records) < ``tui`` (the Textual app) < the commands
``send`` (``sigchat-send``) and ``serve`` (``sigchat-server``).
"""

__version__ = "0.1.0"

SEND_COMMAND = "sigchat-send"
"""The sender's command name (console script), as messages and help texts show it."""
SERVER_COMMAND = "sigchat-server"
"""The server's command name (console script)."""
CHECK_COMMAND = "sigchat-check"
"""The minitalk checker's command name (console script)."""
