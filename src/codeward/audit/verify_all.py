"""``logs verify --all``: every session log, the index of sessions, and the sealing state together.

One :class:`Line` per finding, in the order a reader needs them: the index itself, then each
session (in index order, then logs the index does not know), then the sealing state. A line is
``ok`` (proven as far as the inputs allow), ``note`` (worth knowing, not a failure) or ``fail``
(exit 1). What is proven depends on the verification key; :func:`limits` says it in words.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from codeward.audit.genesis import GENESIS
from codeward.audit.index import genesis_key, index_genesis, index_path
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
    genesis: dict[str, Any] | None = None
    """The last ``genesis`` entry (the current key chain's start), if any."""
    genesis_pos: int = -1
    """Its position in ``entries``: entries before it belong to earlier chains or to no chain."""


def _parse_index(data: bytes, view: IndexView) -> list[tuple[bytes, str]]:
    """Entries chained in order (hash, seq, prev); returns each entry's MAC-covered bytes and MAC."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    prev = index_genesis()
    covered: list[tuple[bytes, str]] = []
    for i, raw in enumerate(lines):
        n = i + 1
        p = parse_line(raw)
        rec = p.record
        if not p.hash_ok or rec is None:
            view.problem = f"index line {n}: not an intact entry (edited or cut off)"
            break
        if rec.get("seq") != i:
            view.problem = (
                f"index line {n}: holds entry {rec.get('seq')} where entry {i} belongs (entries removed or moved)"
            )
            break
        if rec.get("prev") != prev:
            view.problem = f"index line {n}: does not follow the entry before it (entries removed or replaced)"
            break
        view.entries.append(rec)
        covered.append((p.macced, p.mac or ""))
        prev = p.line_hash
    return covered


def read_index(root: Path, keys: EpochKeys | None) -> IndexView:
    """The index, its chain checked; with ``keys`` also the MACs of the current key chain's entries.

    Entries before the last ``genesis`` are covered by that genesis' MAC (it chains to them)."""
    view = IndexView()
    try:
        data = index_path(root).read_bytes()
    except FileNotFoundError:
        return view
    view.exists = True
    covered = _parse_index(data, view)
    for pos, rec in enumerate(view.entries):
        if rec.get("type") == GENESIS:
            view.genesis, view.genesis_pos = rec, pos
    for pos, rec in enumerate(view.entries):
        if rec.get("type") == GENESIS or isinstance(rec.get("epoch"), int):
            view.keyed = True
        elif pos > view.genesis_pos >= 0 or (view.keyed and view.genesis_pos < 0):
            _cut(view, pos, f"index line {pos + 1}: an entry without a seal key after sealing was set up (forged)")
            return view
        if keys is None or pos < view.genesis_pos:
            continue
        problem = _mac_problem(rec, covered[pos], keys)
        if problem is not None:
            _cut(view, pos, f"index line {pos + 1}: {problem}")
            return view
    return view


def _cut(view: IndexView, pos: int, problem: str) -> None:
    """Keep only the entries before ``pos``, the first one that is not genuine."""
    view.problem = problem
    del view.entries[pos:]
    if view.genesis_pos >= pos:
        view.genesis, view.genesis_pos = None, -1


def _mac_problem(rec: dict[str, Any], covered: tuple[bytes, str], keys: EpochKeys) -> str | None:
    """Why a keyed entry of the current chain is not what the key's holder wrote, or None."""
    data, got = covered
    if rec.get("type") == GENESIS:
        if rec.get("key_id") != keys.key_id:
            return f"sealing was set up with key {rec.get('key_id')}, not this verification key"
        want = mac(genesis_key(keys.seed, keys.key_id), data)
        if not got or not hmac.compare_digest(got, want):
            return "the genesis entry's MAC does not match (written without the key)"
        return None
    epoch = rec.get("epoch")
    if not isinstance(epoch, int) or epoch < 0:
        return None
    if rec.get("key_id") != keys.key_id:
        return f"sealed with key {rec.get('key_id')}, not this verification key"
    want = mac(derive(keys.get(epoch), "index", str(rec.get("sid"))), data)
    if not got or not hmac.compare_digest(got, want):
        return "the MAC does not match (the index was rewritten without the key)"
    return None


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
    logs: dict[str, Any] = {}
    twins: list[Line] = []
    for lf in list_logs(root):
        if lf.session_id in logs:  # a second file for one session: exported and shown, so never ignored
            twins.append(Line("fail", lf.session_id, f"{logs[lf.session_id].path} and {lf.path} both claim to be "
                              "its log: one was copied or forged"))  # fmt: skip
        elif lf.session_id:
            logs[lf.session_id] = lf
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
    gen = view.genesis
    if gen is None and keys is not None and state is not None:
        out.append(Line("fail", "index", "has no genesis entry from setup-keys (the index was deleted or replaced, "
                        "or sealing was set up by an older codeward: run codeward logs setup-keys --force)"))  # fmt: skip
    out.extend(twins)
    adopted = _adopted(gen)
    opens: dict[str, dict[str, Any]] = {}
    closes: dict[str, dict[str, Any]] = {}
    current: set[str] = set()
    """Sessions of the current key chain (opened after the genesis): their logs are checked with the key."""
    epochs: list[tuple[int, str]] = []
    for pos, e in enumerate(view.entries):
        sid = str(e.get("sid"))
        if e.get("type") == "open":
            if sid in opens:
                out.append(Line("fail", sid, f"opened twice in the index (entries {opens[sid]['seq']} and {e['seq']})"))
            opens[sid] = e
            if pos > view.genesis_pos:
                current.add(sid)
                if isinstance(e.get("epoch"), int):
                    epochs.append((e["epoch"], sid))
        elif e.get("type") == "close":
            closes[sid] = e

    last_epoch = _epoch_lines(out, epochs, gen, state)
    for sid, e in opens.items():
        out.append(_opened_line(root, sid, e, closes.get(sid), logs, keys if sid in current else None, adopted))

    first_ts = str(view.entries[0].get("ts")) if view.entries else None
    for sid, lf in logs.items():
        out.append(_unlisted_line(sid, lf.path, gen, adopted, first_ts))
    for sid, a in adopted.items():
        if sid not in opens and sid not in logs:
            out.append(Line("fail", sid, f"adopted by setup-keys ({a.get('log')}), but its log was deleted"))

    if check_state:
        out.extend(_state_lines(state, keys, last_epoch, gen))
    return out


def _adopted(gen: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    raw = gen.get("adopted") if gen else None
    if not isinstance(raw, list):
        return {}
    return {str(a.get("sid")): a for a in raw if isinstance(a, dict)}


def _epoch_lines(
    out: list[Line], epochs: list[tuple[int, str]], gen: dict[str, Any] | None, state: SealState | None
) -> int | None:
    """Every epoch from the chain's first to the state's must be opened by exactly one session.

    A gap at the start, in the middle or at the end is a session deleted with its index entries,
    or codeward stopped between claiming the epoch and opening the log; verify cannot tell which,
    so it fails (closed) and names the epochs."""
    owner: dict[int, str] = {}
    first = gen.get("first_epoch") if gen else 0
    first = first if isinstance(first, int) and first >= 0 else 0
    for epoch, sid in epochs:  # concurrent sessions may open out of epoch order: judge them sorted
        if epoch in owner:
            out.append(Line("fail", sid, f"epoch {epoch} was already used by session {owner[epoch]}: "
                            "the sealing state was rolled back"))  # fmt: skip
        elif epoch < first:
            out.append(Line("fail", sid, f"claims epoch {epoch}, before this key chain's first epoch {first}"))
        else:
            owner[epoch] = sid
    last_epoch = max(owner) if owner else None
    end = state.epoch if state is not None and (last_epoch is None or state.epoch > last_epoch) else None
    end = end if end is not None else (last_epoch + 1 if last_epoch is not None else first)
    missing = [e for e in range(first, end) if e not in owner]
    for run in _runs(missing):
        gap = f"epoch {run[0]}" if len(run) == 1 else f"epochs {run[0]} to {run[-1]}"
        out.append(Line("fail", "index", f"{gap} claimed from the sealing state, but no session in the index "
                        "opened it: a deleted session (its log and index entries removed), or codeward stopped "
                        "while starting it"))  # fmt: skip
    return last_epoch


def _runs(values: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for v in values:
        if runs and runs[-1][-1] == v - 1:
            runs[-1].append(v)
        else:
            runs.append([v])
    return runs


def _opened_line(
    root: Path,
    sid: str,
    e: dict[str, Any],
    close: dict[str, Any] | None,
    logs: dict[str, Any],
    keys: EpochKeys | None,
    adopted: dict[str, dict[str, Any]],
) -> Line:
    """The verdict on one session the index opened (``keys`` None for sessions before the genesis)."""
    path = _safe_log_path(root, e.get("log"))
    if path is None:
        return Line("fail", sid, f"index entry {e['seq']} names an impossible log path {e.get('log')!r}")
    lf = logs.pop(sid, None)
    if lf is None and not path.is_file():
        return Line("fail", sid, f"its log {path} was deleted (opened {e.get('ts')}, epoch {e.get('epoch')})")
    target = lf.path if lf is not None else path
    try:
        res = verify_file(target, sid, keys if isinstance(e.get("epoch"), int) else None)
    except OSError as err:
        return Line("fail", sid, f"cannot read {target} ({err.strerror})")
    if res.ok and keys is not None and res.epoch != e.get("epoch"):
        return Line("fail", sid, f"the log claims epoch {res.epoch}, the index {e.get('epoch')}: the log was replaced")
    if res.ok and close is not None and (close.get("last") != res.last_hash or close.get("records") != res.records - 1):
        return Line(
            "fail",
            sid,
            f"its seal is not the one the index recorded ({close.get('records')} records): "
            "the log was replaced or re-sealed",
        )
    if sid in adopted and adopted[sid].get("last") != res.last_hash:
        return Line("fail", sid, "is not the log setup-keys adopted: it was changed or replaced since")
    line = _session_line(sid, res, keys)
    if sid in adopted and res.ok:
        line = Line("ok", sid, f"{res.records} records, sealed, {_adopted_how(res)}")
    if close is None and res.problem is not None and res.problem.kind in ("unsealed", "truncated", "empty"):
        return Line(
            "fail",
            sid,
            f"{res.problem.message}; the index has no close for it either: codeward stopped "
            f"without ending the session (killed or crashed) after {res.records} records, last at {res.last_ts}",
        )
    if close is None and res.ok:
        return Line("ok", sid, line.message + "; the index lacks its close (codeward stopped right after the seal)")
    return line


def _adopted_how(res: VerifyResult) -> str:
    if res.epoch is None:
        return "unkeyed: written before setup-keys, hash chain only"
    return "sealed by an earlier key chain (before setup-keys --force), hash chain only"


def _unlisted_line(
    sid: str, path: Path, gen: dict[str, Any] | None, adopted: dict[str, dict[str, Any]], first_ts: str | None
) -> Line:
    """A log the index never opened: adopted by setup-keys, or (before any genesis) older than the index."""
    try:
        res = verify_file(path, sid, None)
    except OSError as err:
        return Line("fail", sid, f"cannot read {path} ({err.strerror})")
    if sid in adopted:
        if adopted[sid].get("last") != res.last_hash:
            return Line("fail", sid, f"{path} is not the log setup-keys adopted: it was changed or replaced since")
        if not res.ok:
            return _session_line(sid, res, None)
        return Line("ok", sid, f"{res.records} records, sealed, {_adopted_how(res)}")
    if gen is not None or (first_ts is not None and (res.first_ts or "") >= first_ts):
        return Line(
            "fail",
            sid,
            f"{path} is not in the index and was not adopted by setup-keys: not written by codeward here, "
            "or its entries were removed",
        )
    if res.ok:
        return Line("note", sid, f"{res.records} records, sealed, hash chain only (written before the index existed)")
    return _session_line(sid, res, None)


def _state_lines(
    state: SealState | None, keys: EpochKeys | None, last_epoch: int | None, gen: dict[str, Any] | None
) -> list[Line]:
    if state is None:
        if last_epoch is not None or gen is not None:
            return [Line("fail", "sealing state", "missing, though the index says sealing was set up (deleted?)")]
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
    if gen is not None and gen.get("key_id") != state.key_id:
        return [
            Line("fail", "sealing state", f"belongs to key {state.key_id}, the index's genesis to {gen.get('key_id')}")
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
    return [Line("ok", "sealing state", f"at epoch {state.epoch}, consistent with the index")]


def limits(keys: EpochKeys | None, keyed: bool) -> str:
    """What the verification just run can and cannot prove, in plain words."""
    if keys is not None:
        return (
            "With the verification key: each keyed record's MAC proves it was written by codeward with a key "
            "erased since, so the records, the seals and the index cannot have been rewritten, re-chained, "
            "cut and re-sealed, or copied and re-sealed after the fact; every epoch since setup-keys is "
            "opened in the index, and every log is in the index or was adopted by setup-keys. A session "
            "deleted with its index entries and one codeward stopped while starting look alike: both fail. "
            "Not proven: records of a session still running, anything written after an attacker read the "
            "current sealing state, or the logs, index and state all put back to an earlier copy."
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
