"""The ``signal`` module's functions without its enum wrappers: ``from sigchat.sigio.sigapi import signal``.

``signal`` is the C module ``_signal`` plus conversions of numbers to ``Signals``
and ``Handlers`` enums, and importing it imports enum, functools and collections
(issue #6: about a fifth of ``sigchat-send``'s start-up). sigchat passes and
compares plain signal numbers, so it uses the C module where there is one. What
differs: functions return ints (``signal.signal``) or sets of ints
(``pthread_sigmask``), and there is no ``Signals``; use ``signal_name``.
This module is on the send path (the start-up rule, ``sigchat.send``).
"""

try:
    import _signal as signal
except ImportError:  # not CPython
    import signal  # type: ignore[no-redef]


_ALIASES = frozenset({"SIGIOT", "SIGCLD", "SIGPOLL"})


def signal_name(signum: int) -> str:
    """``"SIGUSR1"`` for ``signal.SIGUSR1``, from the C module's constants.

    Imports nothing: a server running as a user who cannot read the standard
    library (``--allow-uid`` setups, a root sender test) must still word its
    refusals.
    """
    for name, value in vars(signal).items():
        if value == signum and name.startswith("SIG") and not name.startswith("SIG_") and name not in _ALIASES:
            return name
    return f"signal {signum}"
