"""The index of sessions: a chained, append-only log of logs (``<logs dir>/sessions.index``, JSON lines).

Every session writes two entries, in the same line format as records (``seq``, ``prev``, ``hash``
and, when sealing is set up, a ``mac`` under the session's epoch key, derived for the index):

* ``open`` when its log is created: ``sid``, ``epoch`` (null when unkeyed), ``key_id``, ``log``
  (the path relative to the logs directory);
* ``close`` when its log is sealed: ``sid``, ``epoch``, ``records`` (the seal's count) and ``last``
  (the SHA-256 of the seal line).

``logs setup-keys`` writes a ``genesis`` entry first: the chain's ``key_id``, its ``first_epoch``
and the logs that existed at that moment (``adopted``: ``sid``, ``log``, ``last``, the SHA-256 of
each one's last line, its seal when sealed), MACed with a key derived from the seed for the genesis.
Every epoch from ``first_epoch`` to the sealing state's must then be opened in the index, and every
log must be opened in it or adopted; a forger cannot move the start or adopt a log without the key.

So a deleted log is named by its ``open`` entry, a replaced or re-sealed one fails its ``close``
entry's ``last``, and sessions cut from the index's end show as claimed epochs without an entry
(the sealing state has moved past them). Entries are appended under an exclusive ``flock`` and
``fsync``\\ ed: concurrent sessions interleave whole lines, each chained to the one before.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

from codeward.audit.keys import derive, mac
from codeward.audit.records import parse_line, sha256_hex

INDEX_NAME = "sessions.index"
INDEX_FORMAT = "codeward-audit-index/1"
_TAIL = 8192


def index_path(logs_dir: Path) -> Path:
    return logs_dir / INDEX_NAME


def index_genesis() -> str:
    return sha256_hex(INDEX_FORMAT.encode())


def _last_line(fd: int) -> bytes | None:
    """The index's last line, read backwards until the newline before it (a genesis can be long)."""
    size = os.fstat(fd).st_size
    if size == 0:
        return None
    start = size
    data = b""
    while start > 0:
        start = max(0, start - _TAIL)
        data = os.pread(fd, size - start, start)
        if b"\n" in data.rstrip(b"\n"):
            break
    return data.rstrip(b"\n").split(b"\n")[-1]


def genesis_key(seed: bytes, kid: str) -> bytes:
    """The key a ``genesis`` entry is MACed with: from the seed, bound to the genesis label."""
    return derive(seed, "genesis", kid)


def append_entry(logs_dir: Path, kind: str, fields: dict[str, Any], ts: str, key: bytes | None) -> None:
    """Append one chained (and, with ``key``, MACed) entry; OSError when it cannot be written."""
    path = index_path(logs_dir)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        last = _last_line(fd)
        seq, prev = 0, index_genesis()
        if last is not None:
            parsed = parse_line(last)
            rec = parsed.record or {}
            seq = rec.get("seq", -1) + 1 if isinstance(rec.get("seq"), int) else 0
            prev = parsed.line_hash
        body: dict[str, Any] = {"seq": seq, "ts": ts, "type": kind}
        body.update(fields)
        body["prev"] = prev
        text = json.dumps(body, ensure_ascii=True, separators=(",", ":")).encode("ascii")
        line = text[:-1] + b',"hash":"' + sha256_hex(text).encode("ascii") + b'"}'
        if key is not None:
            line = line[:-1] + b',"mac":"' + mac(key, line).encode("ascii") + b'"}'
        # a torn last line (a crash mid-write) must not swallow this entry: start on a fresh line
        lead = b"\n" if last is not None and os.pread(fd, 1, os.fstat(fd).st_size - 1) != b"\n" else b""
        os.write(fd, lead + line + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
