"""``logs verify --all``: every session log, the index of sessions, and the sealing state together.

One :class:`Line` per finding, in the order a reader needs them: the index itself, then each
session (in index order, then logs the index does not know), then the sealing state. A line is
``ok`` (proven as far as the inputs allow), ``note`` (worth knowing, not a failure) or ``fail``
(exit 1). What is proven depends on the verification key; :func:`limits` says it in words.
"""

from __future__ import annotations

import hmac
import itertools
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from codeward.audit.index import index_genesis, index_path
from codeward.audit.keys import SealState, derive, mac
from codeward.audit.records import parse_line
from codeward.audit.store import list_logs
from codeward.audit.verify import EpochKeys, VerifyResult, verify_file


@dataclass(frozen=True)
class Line:
    status: str
    """``ok``, ``note`` or ``fail``."""
    name: str
    message: str


@dataclass
class IndexView:
    """The index as read: its entries up to the first bad one, and that problem if any."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    problem: str | None = None
    exists: bool = False
    keyed: bool = False


def read_index(root: Path, keys: EpochKeys | None) -> IndexView:
    path = index_path(root)
    view = IndexView()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return view
    view.exists = True
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    prev = index_genesis()
    for i, raw in enumerate(lines):
        n = i + 1
        p = parse_line(raw)
        rec = p.record
        if not p.hash_ok or rec is None:
            view.problem = f"index line {n}: not an intact entry (edited or cut off)"
            return view
        if rec.get("seq") != i:
            view.problem = (
                f"index line {n}: holds entry {rec.get('seq')} where entry {i} belongs (entries removed or moved)"
            )
            return view
        if rec.get("prev") != prev:
            view.problem = f"index line {n}: does not follow the entry before it (entries removed or replaced)"
            return view
        epoch = rec.get("epoch")
        if isinstance(epoch, int):
            view.keyed = True
            if keys is not None:
                sid = str(rec.get("sid"))
                want = mac(derive(keys.get(epoch), "index", sid), p.macced) if p.mac else ""
                if rec.get("key_id") != keys.key_id:
                    view.problem = f"index line {n}: sealed with key {rec.get('key_id')}, not this verification key"
                    return view
                if not p.mac or not hmac.compare_digest(p.mac, want):
                    view.problem = f"index line {n}: the MAC does not match (the index was rewritten without the key)"
                    return view
        elif view.keyed:
            view.problem = f"index line {n}: an entry without a seal key after sealing was set up (forged)"
            return view
        view.entries.append(rec)
        prev = p.line_hash
    return view


def _safe_log_path(root: Path, rel: object) -> Path | None:
    if not isinstance(rel, str):
        return None
    pp = PurePosixPath(rel)
    if pp.is_absolute() or ".." in pp.parts or pp.suffix != ".jsonl":
        return None
    return root / pp


def _session_line(sid: str, res: VerifyResult, keys: EpochKeys | None) -> Line:
    if res.problem is not None:
        return Line("fail", sid, f"{res.problem.message}  [{res.problem.kind}]")
    how = (
        f"MACs checked, epoch {res.epoch}"
        if res.macs_checked
        else ("keyed, MACs not checked" if res.epoch is not None else "unkeyed")
    )
    if keys is not None and res.epoch is None:
        how = "unkeyed: written before setup-keys, hash chain only"
    return Line("ok", sid, f"{res.records} records, sealed, {how}")


def verify_all(root: Path, keys: EpochKeys | None, state: SealState | None, *, check_state: bool = True) -> list[Line]:
    out: list[Line] = []
    view = read_index(root, keys)
    logs = {lf.session_id: lf for lf in list_logs(root) if lf.session_id}
    if view.problem:
        out.append(Line("fail", "index", view.problem))
    elif view.exists:
        out.append(
            Line(
                "ok",
                "index",
                f"{len(view.entries)} entries, chained" + (", MACs checked" if keys and view.keyed else ""),
            )
        )
    opens: dict[str, dict[str, Any]] = {}
    closes: dict[str, dict[str, Any]] = {}
    epochs: list[tuple[int, str]] = []
    for e in view.entries:
        sid = str(e.get("sid"))
        if e.get("type") == "open":
            if sid in opens:
                out.append(Line("fail", sid, f"opened twice in the index (entries {opens[sid]['seq']} and {e['seq']})"))
            opens[sid] = e
            if isinstance(e.get("epoch"), int):
                epochs.append((e["epoch"], sid))
        elif e.get("type") == "close":
            closes[sid] = e

    # concurrent sessions may write their open entries out of epoch order: judge epochs sorted
    owner: dict[int, str] = {}
    for epoch, sid in epochs:
        if epoch in owner:
            out.append(Line("fail", sid, f"epoch {epoch} was already used by session {owner[epoch]}: "
                            "the sealing state was rolled back"))  # fmt: skip
        else:
            owner[epoch] = sid
    ordered = sorted(owner)
    for a, b in itertools.pairwise(ordered):
        if b > a + 1:
            gap = f"epoch {a + 1}" if b == a + 2 else f"epochs {a + 1} to {b - 1}"
            out.append(Line("note", "index", f"{gap} claimed but never opened a log (codeward stopped while starting)"))
    last_epoch = ordered[-1] if ordered else None

    for sid, e in opens.items():
        path = _safe_log_path(root, e.get("log"))
        if path is None:
            out.append(Line("fail", sid, f"index entry {e['seq']} names an impossible log path {e.get('log')!r}"))
            continue
        lf = logs.pop(sid, None)
        if lf is None and not path.is_file():
            out.append(Line("fail", sid, f"its log {path} was deleted (opened {e.get('ts')}, epoch {e.get('epoch')})"))
            continue
        target = lf.path if lf is not None else path
        try:
            res = verify_file(target, sid, keys if isinstance(e.get("epoch"), int) else None)
        except OSError as err:
            out.append(Line("fail", sid, f"cannot read {target} ({err.strerror})"))
            continue
        if res.ok and res.epoch != e.get("epoch"):
            out.append(
                Line("fail", sid, f"the log claims epoch {res.epoch}, the index {e.get('epoch')}: the log was replaced")
            )
            continue
        close = closes.get(sid)
        if (
            res.ok
            and close is not None
            and (close.get("last") != res.last_hash or close.get("records") != res.records - 1)
        ):
            out.append(
                Line(
                    "fail",
                    sid,
                    f"its seal is not the one the index recorded ({close.get('records')} records): "
                    "the log was replaced or re-sealed",
                )
            )
            continue
        line = _session_line(sid, res, keys)
        if close is None and res.problem is not None and res.problem.kind in ("unsealed", "truncated", "empty"):
            line = Line(
                "fail",
                sid,
                f"{res.problem.message}; the index has no close for it either: codeward stopped "
                f"without ending the session (killed or crashed) after {res.records} records, last at {res.last_ts}",
            )
        elif close is None and res.ok:
            line = Line("ok", sid, line.message + "; the index lacks its close (codeward stopped right after the seal)")
        out.append(line)

    first_ts = str(view.entries[0].get("ts")) if view.entries else None
    for sid, lf in logs.items():
        try:
            res = verify_file(lf.path, sid, None)
        except OSError as err:
            out.append(Line("fail", sid, f"cannot read {lf.path} ({err.strerror})"))
            continue
        if first_ts is not None and (res.first_ts or "") >= first_ts:
            out.append(
                Line(
                    "fail", sid, f"{lf.path} is not in the index: not written by codeward, or its entries were removed"
                )
            )
        elif res.ok:
            out.append(
                Line("note", sid, f"{res.records} records, sealed, hash chain only (written before the index existed)")
            )
        else:
            out.append(_session_line(sid, res, None))

    if check_state:
        out.extend(_state_lines(state, keys, last_epoch))
    return out


def _state_lines(state: SealState | None, keys: EpochKeys | None, last_epoch: int | None) -> list[Line]:
    if state is None:
        if last_epoch is not None:
            return [Line("fail", "sealing state", "missing, though the index holds sealed sessions (deleted?)")]
        if keys is not None:
            return [Line("fail", "sealing state", "missing: it was deleted, or codeward logs setup-keys was never run "
                         "on this machine (with CODEWARD_HOME as set now)")]  # fmt: skip
        return []
    if keys is not None:
        if state.key_id != keys.key_id:
            return [Line("fail", "sealing state", f"belongs to key {state.key_id}, not to this verification key")]
        if not hmac.compare_digest(state.key, keys.get(state.epoch)):
            return [
                Line("fail", "sealing state", f"its key is not epoch {state.epoch}'s key: it was altered or replaced")
            ]
    if last_epoch is not None and state.epoch <= last_epoch:
        return [
            Line(
                "fail",
                "sealing state",
                f"at epoch {state.epoch}, but the index already used epoch {last_epoch}: "
                "the sealing state was rolled back",
            )
        ]
    expected = 0 if last_epoch is None else last_epoch + 1
    if state.epoch > expected:
        gap = f"epoch {expected}" if state.epoch == expected + 1 else f"epochs {expected} to {state.epoch - 1}"
        return [
            Line(
                "fail",
                "sealing state",
                f"{gap} claimed, but the index ends before them: sessions were removed "
                "from the index's end (or codeward was killed as they started)",
            )
        ]
    return [Line("ok", "sealing state", f"at epoch {state.epoch}, consistent with the index")]


def limits(keys: EpochKeys | None, keyed: bool) -> str:
    """What the verification just run can and cannot prove, in plain words."""
    if keys is not None:
        return (
            "With the verification key: each keyed record's MAC proves it was written by codeward with a key "
            "erased since, so the records, the seals and the index cannot have been rewritten, re-chained, "
            "cut and re-sealed, or copied and re-sealed after the fact. Not proven: records of a session "
            "still running, or anything written after an attacker read the current sealing state."
        )
    if keyed:
        return (
            "No verification key given: the hash chains and the index agree, but someone able to write the "
            "log directory could have rewritten everything consistently. Give --verification-key to check the MACs."
        )
    return (
        "Sealing is not set up (codeward logs setup-keys): the hash chains and the index agree, but someone "
        "able to write the log directory could have rewritten everything consistently."
    )
