"""The audit record format and hash chain (pure: no I/O, no clock of its own).

One record is one line of ASCII JSON::

    {"seq":3,"ts":"2025-01-02T03:04:05.678Z","sid":"<session>","type":"command",...,"prev":"<hex>","hash":"<hex>"}

* ``seq`` counts from 0 in each session log; ``sid`` repeats the session id on every line so an
  exported line stands on its own in a SIEM.
* ``prev`` is the SHA-256 of the previous record's exact line bytes (without the newline); the
  first record's ``prev`` is :func:`genesis` of the session id, so a record cannot be moved to
  another session's log either.
* ``hash`` is the SHA-256 of the line's bytes up to (not including) ``,"hash":``, closed with
  ``}``: it lets ``verify`` tell an edited record (its own hash fails) from a removed or moved one
  (its hash holds but the chain does not).
* The last record is a ``seal`` that counts the records before it. A log without one was cut
  short, or its session never ended cleanly.
* Keyed logs (sealing set up with ``codeward logs setup-keys``, see :mod:`codeward.audit.keys`):
  the ``session.start`` record names its ``epoch`` and ``key_id``, and every line ends with
  ``,"mac":"<hex>"``: HMAC-SHA-256 over the line up to and including its ``hash`` (closed with
  ``}``), under record ``seq``'s key of the session's per-record key chain. ``prev`` then hashes the
  whole line, MAC included.

Hashes are computed over bytes as written, never over re-serialised JSON, so verification does
not depend on how any JSON library orders keys or escapes text. Lines are ASCII
(``ensure_ascii``) so a file name that is not valid UTF-8 cannot make a record unwritable.

What the hashes alone detect: any edit, removal, reordering, insertion or truncation of a log by
someone who does not recompute the chain. Rewriting a whole log consistently is caught only by the
MACs (with the verification key) or by a copy the writer does not control (a sink).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codeward.audit.keys import RecordKeys

FORMAT = "codeward-audit/1"
RESERVED = frozenset({"seq", "ts", "sid", "type", "prev", "hash", "mac"})
HASH_SUFFIX = re.compile(rb',"hash":"([0-9a-f]{64})"(,"mac":"([0-9a-f]{64})")?\}$')

# event type on the bus -> record type in the log; public item.* events are left out (the log is
# not a transcript), except error items
EVENT_TYPES: dict[str, str] = {
    "session.started": "session.start",
    "egress": "request.sent",
    "response.received": "response",
    "decision": "decision",
    "command.executed": "command",
    "file.changed": "file.change",
    "turn.started": "turn.start",
    "turn.completed": "turn.end",
    "turn.failed": "turn.failed",
    "error": "error",
    "session.ended": "session.end",
}
SKIPPED_EVENTS = frozenset({"thread.started", "item.started", "item.updated", "item.completed"})


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def genesis(session_id: str) -> str:
    """The ``prev`` of a session's first record."""
    return sha256_hex(f"{FORMAT}\0{session_id}".encode())


def utc_timestamp(now: datetime | None = None) -> str:
    """``2025-01-02T03:04:05.678Z``: UTC with milliseconds."""
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def record_for_event(event: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The record type and fields for a bus event; None for events the log leaves out."""
    kind = event.get("type")
    if not isinstance(kind, str):
        return None
    fields = {k: v for k, v in event.items() if k not in RESERVED}
    if kind == "item.completed":
        item = event.get("item")
        if isinstance(item, dict) and item.get("type") == "error":
            return "error", {"message": item.get("message")}
        return None
    if kind in SKIPPED_EVENTS:
        return None
    return EVENT_TYPES.get(kind, kind), fields


class Chain:
    """Builds the lines of one session log, each chained to the one before."""

    def __init__(self, session_id: str, keys: RecordKeys | None = None) -> None:
        self.session_id = session_id
        self.keys = keys
        self.seq = 0
        self.prev = genesis(session_id)
        self.sealed = False

    def line(self, kind: str, fields: dict[str, Any], ts: str) -> bytes:
        """The next record as line bytes (with the trailing newline); advances the chain."""
        if self.sealed:
            raise ValueError("the log is sealed; no record may follow the seal")
        body: dict[str, Any] = {"seq": self.seq, "ts": ts, "sid": self.session_id, "type": kind}
        body.update((k, v) for k, v in fields.items() if k not in RESERVED)
        body["prev"] = self.prev
        text = json.dumps(body, ensure_ascii=True, separators=(",", ":"), default=str).encode("ascii")
        own = sha256_hex(text)
        line = text[:-1] + b',"hash":"' + own.encode("ascii") + b'"}'
        if self.keys is not None:
            line = line[:-1] + b',"mac":"' + self.keys.sign(line).encode("ascii") + b'"}'
        self.prev = sha256_hex(line)
        self.seq += 1
        if kind == "seal":
            self.sealed = True
        return line + b"\n"

    def seal(self, ts: str) -> bytes:
        """The closing record: how many records precede it."""
        return self.line("seal", {"records": self.seq}, ts)


@dataclass(frozen=True)
class Parsed:
    """One line taken apart: its record, and whether its own hash holds."""

    record: dict[str, Any] | None
    hash_ok: bool
    line_hash: str
    mac: str | None = None
    """The line's MAC (keyed logs), checked by the verifier, which holds the key."""
    macced: bytes = b""
    """The bytes the MAC covers: the line up to and including its hash, closed with ``}``."""


def parse_line(line: bytes) -> Parsed:
    """Check a line's own hash and parse it; ``record`` is None when it is not a record at all."""
    m = HASH_SUFFIX.search(line)
    if m is None:
        return Parsed(None, False, sha256_hex(line))
    body = line[: m.start()] + b"}"
    ok = sha256_hex(body) == m.group(1).decode("ascii")
    mac = m.group(3).decode("ascii") if m.group(3) else None
    macced = line[: m.start(2)] + b"}" if mac else b""
    try:
        record = json.loads(body)
    except ValueError:
        record = None
    if not isinstance(record, dict):
        record = None
    return Parsed(record, ok, sha256_hex(line), mac, macced)
