"""How sigchat writes numbers, sizes, rates, durations and counts, everywhere.

One module for the command line, plain mode and the UI, so that a size, a bit
count or a rate reads the same wherever it is shown. Imports only the
standard library's ``datetime``; on no start-up path.
"""

from __future__ import annotations

import datetime


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 message``, ``2 messages``, ``1,024 bits`` (thousands separated)."""
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{count:,} {word}"


def clock_time(wall_time: float, tz: datetime.tzinfo | None, *, millis: bool = False) -> str:
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


def human_count(count: float, unit: str) -> str:
    """``1234567 bits`` -> ``1.23 Mbit`` style (SI prefixes)."""
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
