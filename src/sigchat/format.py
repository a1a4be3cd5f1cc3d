"""How sigchat words numbers, sizes, rates, durations and counts, everywhere.

The one module for the command line (``sigchat-send -v``), plain mode and the
UI, so that a size, a bit count or a rate reads the same wherever it is shown.
Nothing else words a number for people (machine formats, the ``--json``
records and the wire, are not words). The rules:

=====================  =======================================================
counts of things       ``plural``: the exact number with thousands separators
                       and the noun agreeing with it: ``1 message``,
                       ``3 messages``, ``1,024 signals``, ``1 attempt``
bit counts             ``bits``: exact, separated, like any count:
                       ``1 bit``, ``561 bits``, ``82,057 bits``; never
                       ``82.1k bits`` or ``82057 bits``. (Rates are not counts)
sizes                  ``human_bytes``, binary prefixes: ``42 B``,
                       ``1.0 KiB``, ``16.0 MiB``; where the exact size
                       matters (a limit, a part of a whole, what is left
                       out) ``exact_bytes``: ``760 B``, ``16,777,216 B``
rates                  ``human_rate``, SI prefixes, 3 significant digits:
                       ``850 bit/s``, ``3.31 kbit/s``, ``1.41 Mbit/s``
durations              ``human_duration``: ``45 µs``, ``128 ms``, ``2.50 s``,
                       ``1:05``; ``uptime`` ``0:01:05``; ``human_ago``
shares                 ``percent``: ``88 %``, ``100 %`` (how sure a guess is)
attempts               ``attempt``: numbered from 1 for people
                       (``attempt 1`` is the first try); the wire's attempt
                       field and the JSON record's ``attempt`` stay 0-based
=====================  =======================================================

Imports nothing at start-up (``datetime`` only inside ``clock_time``), so
``sigchat-send -v`` may use it after a transfer without delaying its line.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing's constant without importing typing
if TYPE_CHECKING:
    import datetime


def noun(count: int, singular: str, plural_form: str | None = None) -> str:
    """The noun alone, agreeing with ``count``: ``message`` for 1, else ``messages``."""
    return singular if count == 1 else (plural_form or singular + "s")


def number(count: int) -> str:
    """A count without its noun: ``82,057``."""
    return f"{count:,}"


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 message``, ``2 messages``, ``1,024 bits`` (thousands separated)."""
    return f"{count:,} {noun(count, singular, plural_form)}"


def bits(count: int) -> str:
    """A bit count, the one way: ``1 bit``, ``617 bits``, ``82,057 bits``."""
    return plural(count, "bit")


def exact_bytes(count: int) -> str:
    """An exact size: ``1 B``, ``760 B``, ``16,777,216 B``."""
    return f"{count:,} B"


def attempt(index: int) -> str:
    """``attempt 1`` for the first try: ``index`` is the 0-based attempt field of the wire."""
    return f"attempt {index + 1:,}"


def clock_time(wall_time: float, tz: datetime.tzinfo | None, *, millis: bool = False) -> str:
    import datetime

    moment = datetime.datetime.fromtimestamp(wall_time, tz)
    return moment.strftime("%H:%M:%S") + (f".{moment.microsecond // 1000:03d}" if millis else "")


def human_bytes(count: float) -> str:
    if count < 1024:
        return f"{int(count)} B"
    for unit in ("KiB", "MiB", "GiB"):
        count /= 1024
        if count < 1024 or unit == "GiB":
            return f"{count:.1f} {unit}"
    raise AssertionError("unreachable")


def percent(fraction: float) -> str:
    """``0.875`` -> ``88 %``."""
    return f"{fraction * 100:.0f} %"


def human_count(count: float, unit: str) -> str:
    """``1234567`` -> ``1.23 M`` + ``unit`` (SI prefixes, 3 significant digits): for rates, not for counts."""
    for prefix, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if count >= scale:
            return f"{count / scale:.3g} {prefix}{unit}"
    return f"{count:.0f} {unit}"


def human_rate(bits_per_second: float) -> str:
    return human_count(bits_per_second, "bit/s")


def human_duration(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def human_ago(seconds: float) -> str:
    if seconds < 1:
        return "now"
    if seconds < 60:
        return f"{seconds:.0f}s ago"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m ago"
    return f"{seconds // 3600:.0f}h ago"


def uptime(seconds: float) -> str:
    minutes, secs = divmod(int(max(0.0, seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
