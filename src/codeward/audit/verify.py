"""Checking a session log: every record intact, in order, none missing, and the seal at the end.

:func:`verify_bytes` is pure. It reports the first bad record with its line number and the kind of
damage, in the order a reader needs it: an edited record (its own hash fails) before a gap in the
chain, a gap before a missing seal.

Kinds: ``changed`` (a record's bytes were edited), ``removed`` (a record is missing), ``reordered``
(records out of order or repeated), ``inserted`` (a record that hashes right but does not follow
its predecessor: written by someone else), ``truncated`` (the last line is cut off), ``unsealed``
(no seal at the end), ``mismatch`` (the log belongs to another session), ``empty``; with a
verification key also ``forged`` (a MAC does not match: rewritten, re-chained or re-sealed without
the sealing key), ``unkeyed`` (no MACs where the key says there must be) and ``wrongkey``.

Without a verification key the hashes prove only that the log agrees with itself: anyone able to
write the file can rewrite it and recompute every hash and the seal. With the key every record's
MAC is checked, which a rewriter cannot produce without the epoch key, erased when the session
ended (:mod:`codeward.audit.keys`).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from codeward.audit.keys import RecordKeys, key_id, next_key
from codeward.audit.records import Parsed, genesis, parse_line


class EpochKeys:
    """Epoch keys from a verification key, computed forward once and cached (``k_e`` for any ``e``)."""

    def __init__(self, seed: bytes) -> None:
        self.seed = seed
        self.key_id = key_id(seed)
        self._keys = [seed]

    def get(self, epoch: int) -> bytes:
        while len(self._keys) <= epoch:
            self._keys.append(next_key(self._keys[-1]))
        return self._keys[epoch]


@dataclass(frozen=True)
class Problem:
    line: int
    kind: str
    message: str


@dataclass(frozen=True)
class VerifyResult:
    records: int
    """Lines that parsed as records."""
    session_id: str | None
    first_ts: str | None
    last_ts: str | None
    end_status: str | None
    """The ``status`` of the session.end record (completed, failed, incomplete, ...)."""
    problem: Problem | None
    epoch: int | None = None
    """The sealing epoch the log claims (None: unkeyed)."""
    macs_checked: bool = False
    """Every record's MAC was checked against a verification key."""
    last_hash: str | None = None
    """SHA-256 of the last line (the seal's, on a sealed log): what the index's ``close`` names."""

    @property
    def ok(self) -> bool:
        return self.problem is None


class _RecordKeyList:
    """Random access to one session's per-record keys (the writer only ever moves forward)."""

    def __init__(self, epoch_key_: bytes, session_id: str) -> None:
        self._chain = RecordKeys(epoch_key_, session_id)
        self._macs: list[Callable[[bytes], str]] = []

    def mac_at(self, seq: int, data: bytes) -> str:
        if seq < 0 or seq > 10_000_000:
            return ""
        while len(self._macs) <= seq:
            self._macs.append(self._chain.signer())
        return self._macs[seq](data)


def _seqs(parsed: list[Parsed]) -> set[int]:
    return {p.record["seq"] for p in parsed if p.record is not None and isinstance(p.record.get("seq"), int)}


def verify_bytes(data: bytes, expected_session: str | None = None, keys: EpochKeys | None = None) -> VerifyResult:
    """Verify a whole log given as bytes; ``expected_session`` is the id its file name claims.

    With ``keys`` (from the verification key) the log must be keyed with that key and every MAC
    must hold."""
    if not data:
        return VerifyResult(0, expected_session, None, None, None, Problem(1, "empty", "the log is empty"))
    chunks = data.split(b"\n")
    partial = chunks.pop()  # b"" when the data ends with a newline
    parsed = [parse_line(c) for c in chunks]
    present = _seqs(parsed)

    sid: str | None = expected_session
    first_ts = last_ts = end_status = None
    prev_hash: str | None = None
    sealed_at: int | None = None
    count = 0
    epoch: int | None = None
    rkeys: _RecordKeyList | None = None

    def result(problem: Problem | None) -> VerifyResult:
        return VerifyResult(
            count, sid, first_ts, last_ts, end_status, problem, epoch, rkeys is not None and problem is None, prev_hash
        )

    for i, p in enumerate(parsed):
        n = i + 1
        rec = p.record
        if not p.hash_ok or rec is None:
            why = "does not match its own hash" if rec is not None else "is not a well-formed audit record"
            return result(Problem(n, "changed", f"line {n}: the record {why} (it was edited)"))
        count += 1
        seq, rsid = rec.get("seq"), rec.get("sid")
        if not isinstance(seq, int) or not isinstance(rsid, str) or not isinstance(rec.get("prev"), str):
            return result(Problem(n, "changed", f"line {n}: the record lacks seq, sid or prev"))
        if i == 0:
            if expected_session is not None and rsid != expected_session:
                return result(
                    Problem(n, "mismatch", f"line {n}: the log belongs to session {rsid}, not {expected_session}")
                )
            sid = rsid
            first_ts = rec.get("ts")
            claimed = rec.get("epoch")
            epoch = claimed if isinstance(claimed, int) and claimed >= 0 else None
            if keys is not None:
                if epoch is None:
                    return result(
                        Problem(
                            n,
                            "unkeyed",
                            f"line {n}: the log carries no seal key (written before setup-keys, "
                            "or rewritten without the key)",
                        )
                    )
                if rec.get("key_id") != keys.key_id:
                    return result(
                        Problem(
                            n,
                            "wrongkey",
                            f"line {n}: sealed with key {rec.get('key_id')}, "
                            f"not with this verification key ({keys.key_id})",
                        )
                    )
                rkeys = _RecordKeyList(keys.get(epoch), rsid)
        if rkeys is not None and (p.mac is None or not hmac.compare_digest(p.mac, rkeys.mac_at(seq, p.macced))):
            return result(
                Problem(
                    n,
                    "forged",
                    f"line {n}: the MAC does not match (rewritten, re-chained or re-sealed without the sealing key)",
                )
            )
        if i > 0 and rsid != sid:
            return result(Problem(n, "inserted", f"line {n}: a record of session {rsid} in the log of {sid}"))
        last_ts = rec.get("ts")
        if sealed_at is not None:
            return result(Problem(n, "inserted", f"line {n}: a record after the seal on line {sealed_at}"))
        if seq != i:
            if seq > i and i not in present:
                missing = f"record {i}" if seq == i + 1 else f"records {i} to {seq - 1}"
                return result(Problem(n, "removed", f"line {n}: {missing} removed before this line"))
            return result(Problem(n, "reordered", f"line {n}: holds record {seq} where record {i} belongs"))
        expected_prev = genesis(sid or "") if i == 0 else prev_hash
        if rec["prev"] != expected_prev:
            what = "the session's start" if i == 0 else "the record before it"
            return result(Problem(n, "inserted", f"line {n}: the record does not follow {what} (replaced or forged)"))
        if rec.get("type") == "session.end":
            status = rec.get("status")
            end_status = status if isinstance(status, str) else None
        if rec.get("type") == "seal":
            if rec.get("records") != seq:
                return result(
                    Problem(n, "changed", f"line {n}: the seal counts {rec.get('records')} records, not {seq}")
                )
            sealed_at = n
        prev_hash = p.line_hash

    last = len(parsed)
    if partial:
        return result(
            Problem(last + 1, "truncated", f"line {last + 1}: the last record is cut off (the log was cut short)")
        )
    if sealed_at is None:
        return result(
            Problem(
                last + 1,
                "unsealed",
                f"line {last + 1}: no seal at the end (the log was cut short, or the session did not end cleanly)",
            )
        )
    return result(None)


def verify_file(path: Path, expected_session: str | None = None, keys: EpochKeys | None = None) -> VerifyResult:
    """Verify the log at ``path`` (``expected_session``: the id its place in the logs directory claims)."""
    return verify_bytes(path.read_bytes(), expected_session, keys)
