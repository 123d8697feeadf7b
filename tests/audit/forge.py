"""What an attacker with write access to the logs (but not the verification key) can do to them.

Used by the audit tests to forge logs the way issue 13's review did: re-chain a log without some
records and re-seal it, recomputing every hash; re-MAC it with whatever key the attacker can read
(the current sealing state); and patch the index so that it agrees.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from codeward.audit.index import index_genesis
from codeward.audit.keys import RecordKeys, derive, mac
from codeward.audit.records import RESERVED, Chain, parse_line, sha256_hex


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def rechain(
    recs: list[dict[str, Any]], *, drop_types: tuple[str, ...] = (), keep: int | None = None, key: bytes | None = None
) -> bytes:
    """A new log from ``recs``: records of ``drop_types`` left out (or only the first ``keep``), then
    hashed, chained, MACed with ``key`` (any key the attacker has) and sealed anew."""
    sid = recs[0]["sid"]
    chain = Chain(sid, RecordKeys(key, sid) if key is not None else None)
    body = [r for r in recs if r["type"] != "seal" and r["type"] not in drop_types]
    if keep is not None:
        body = body[:keep]
    out = [chain.line(r["type"], {k: v for k, v in r.items() if k not in RESERVED}, r["ts"]) for r in body]
    out.append(chain.seal(body[-1]["ts"]))
    return b"".join(out)


def rewrite_index(path: Path, logs: dict[str, bytes], key: bytes | None = None) -> None:
    """Recompute the index (numbers, chain) so its ``close`` entries name the forged logs (MACs with ``key``, if any)."""
    entries = [json.loads(line) for line in path.read_bytes().splitlines()]
    prev = index_genesis()
    out = []
    for i, e in enumerate(entries):
        e = {k: v for k, v in e.items() if k not in ("prev", "hash", "mac")}
        e["seq"] = i  # entries left out: number the rest again
        if e["type"] == "close" and e["sid"] in logs:
            seal = logs[e["sid"]].splitlines()[-1]
            e["records"] = json.loads(seal)["records"]
            e["last"] = sha256_hex(seal)
        e["prev"] = prev
        text = json.dumps(e, separators=(",", ":")).encode()
        line = text[:-1] + b',"hash":"' + sha256_hex(text).encode() + b'"}'
        if key is not None:
            line = line[:-1] + b',"mac":"' + mac(derive(key, "index", e["sid"]), line).encode() + b'"}'
        out.append(line)
        prev = parse_line(line).line_hash
    path.write_bytes(b"\n".join(out) + b"\n")
