"""The ``signal`` module's functions without its enum wrappers: ``from sigchat.sigio.sigapi import signal``.

``signal`` is the C module ``_signal`` plus conversions of numbers to ``Signals``
and ``Handlers`` enums, and importing it imports enum, functools and collections
(issue #6: about a fifth of ``sigchat-send``'s start-up). sigchat passes and
compares plain signal numbers, so it uses the C module where there is one. What
differs: functions return ints (``signal.signal``) or sets of ints
(``pthread_sigmask``), and there is no ``Signals``; use ``signal_name``.
"""

try:
    import _signal as signal
except ImportError:  # not CPython
    import signal  # type: ignore[no-redef]


def signal_name(signum: int) -> str:
    """``"SIGUSR1"`` for ``signal.SIGUSR1`` (imports the enums: for messages, not hot paths)."""
    import signal as with_enums

    return with_enums.Signals(signum).name
