"""One JSON object per transfer: plain mode's ``--json`` lines and the ``--log`` file.

``--json``'s first line, before any transfer, is the ``listening`` record
(``server.plain.listening_record``): ``time``, ``event`` (``listening``), ``pid``
(the server's), ``version``, ``classic`` (the classic profile served,
canonical, or ``null``), ``native`` (whether sigchat senders are served),
``turbo`` (whether turbo words are accepted) and ``max_bytes``.

Fields: ``time`` (wall clock, ISO 8601 UTC), ``event`` (``delivered``,
``aborted``), ``mode`` (``native`` or ``classic``), ``pid``, ``bytes``, ``bits``
(signals that carried the frame), ``payload_bits``, ``signals_received``,
``signals_sent``, ``retransmissions`` (bit resends the sender reported),
``attempt`` (0 for the first try), ``duration`` (seconds), ``bits_per_second``
(payload bits per second), ``turbo`` (whether the payload travelled as turbo
words, 6 bytes per signal; then ``signals_received`` is far below ``bits``),
``duplicate``, ``integrity`` (``intact``: a native message, its CRC-32 matched;
for a classic one ``acked``, ``unverified`` or ``damaged``, see below) and
the message as ``text`` when it is valid UTF-8, else as ``base64``.

Aborted transfers (``event`` ``aborted``): ``--json`` writes one for every
native or classic transfer that was aborted or rejected (the ``--log`` file
keeps deliveries only). They have no message and no ``duplicate``, add
``reason`` (e.g. ``sender exited mid-transfer``, ``message larger than the
server's limit``), and their ``bytes`` is the length the sender announced (0
when there was none, e.g. aborted before the header).

Classic transfers (``mode`` ``classic``) add ``profile`` (canonical, e.g.
``msb,usr2=1,nul,ack=usr1``); their ``bits`` count the length header and NUL,
``retransmissions`` and ``attempt`` are 0, and ``signals_sent`` counts acks.
Their ``integrity`` (``proto.classic.integrity``): ``acked`` (every bit acked,
the client waiting for each ack: believed intact), ``unverified`` (a client
that paces itself: nothing tells whether two signals merged) or ``damaged``
(a bit was lost); a ``note`` says more when there is more to say, e.g.
``bit lost at byte 12`` or ``the NUL's last 3 bits never came: completed``.
An aborted classic transfer adds ``received`` (bytes that arrived) and those
bytes as ``partial_text`` or ``partial_base64``.

A classic client's profile told from its signals (``proto.classic.auto``;
``--json`` only) is a ``profile`` record: ``pid``, ``profile`` (canonical),
``confidence`` (0..1), ``active`` (true: ``--classic auto`` decodes with it from
now on; false: a hint, the server's own profile, ``serving``, read the client's
bits as garbage) and ``alternatives`` (other profiles that read them as text).
"""

from __future__ import annotations

import base64
import datetime
import json
import os

from sigchat.proto.events import CLASSIC, MessageDelivered, ProfileDetected, TransferAborted, TransferStats


def iso_time(wall_time: float) -> str:
    """A record's ``time``: wall clock, ISO 8601 UTC, milliseconds."""
    return datetime.datetime.fromtimestamp(wall_time, datetime.timezone.utc).isoformat(timespec="milliseconds")


def stats_fields(stats: TransferStats) -> dict:
    return {
        "pid": stats.pid,
        "bytes": stats.length or 0,
        "bits": stats.bits,
        "payload_bits": stats.payload_bits,
        "signals_received": stats.signals_received,
        "signals_sent": stats.signals_sent,
        "retransmissions": stats.retransmissions,
        "attempt": stats.attempt,
        "duration": round(stats.duration, 6),
        "bits_per_second": round(stats.bits_per_second, 1),
        "turbo": stats.turbo,
    }


def content_fields(data: bytes, prefix: str = "") -> dict:
    try:
        return {f"{prefix}text": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {f"{prefix}base64": base64.b64encode(data).decode("ascii")}


def _mode_fields(event: MessageDelivered | TransferAborted) -> dict:
    fields = {"mode": event.mode}
    if event.profile:
        fields["profile"] = event.profile
    return fields


def delivered_record(event: MessageDelivered, wall_time: float) -> dict:
    return {
        "time": iso_time(wall_time),
        "event": "delivered",
        **_mode_fields(event),
        **stats_fields(event.stats),
        "duplicate": event.duplicate,
        "integrity": event.integrity,
        **({"note": event.note} if event.note else {}),
        **content_fields(event.data),
    }


def aborted_record(event: TransferAborted, wall_time: float) -> dict:
    record = {
        "time": iso_time(wall_time),
        "event": "aborted",
        **_mode_fields(event),
        **stats_fields(event.stats),
        "reason": event.reason.value,
    }
    if event.mode == CLASSIC:
        record["received"] = len(event.partial)
        record.update(content_fields(event.partial, "partial_"))
    return record


def profile_record(event: ProfileDetected, wall_time: float) -> dict:
    return {
        "time": iso_time(wall_time),
        "event": "profile",
        "mode": CLASSIC,
        "pid": event.pid,
        "profile": event.profile,
        "confidence": event.confidence,
        "active": event.active,
        "serving": event.serving,
        "alternatives": list(event.alternatives),
    }


def record_of(event: object, wall_time: float) -> dict | None:
    """The record of a delivered or aborted transfer, or of a told profile (``None`` for other events)."""
    if isinstance(event, MessageDelivered):
        return delivered_record(event, wall_time)
    if isinstance(event, TransferAborted):
        return aborted_record(event, wall_time)
    if isinstance(event, ProfileDetected):
        return profile_record(event, wall_time)
    return None


def dumps(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


class DurableLog:
    """Appends records to a file, one per line, fsynced before ``append`` returns."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def append(self, record: dict) -> None:
        line = (dumps(record) + "\n").encode("utf-8")
        while line:
            line = line[os.write(self._fd, line) :]
        os.fsync(self._fd)

    def close(self) -> None:
        os.close(self._fd)
