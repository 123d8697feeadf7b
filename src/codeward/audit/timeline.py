"""A session log as a timeline people can read (``codeward logs show``), pure.

Each record becomes one line: its offset from the session's start, a label saying what happened
(a request sent with its files and redactions, the model's response, a decision and who made it, a
command and its exit code, a file change), and a summary. Turns are set apart, and the header and
footer say which session, which key sealed it, and whether it is intact.
"""

from __future__ import annotations

import json
import shlex
from datetime import datetime
from pathlib import Path
from typing import Any

from codeward.audit.verify import VerifyResult

LABELS = {
    "session.start": "session",
    "request.sent": "-> request",
    "response": "<- response",
    "decision": "decision",
    "command": "$ command",
    "file.change": "file",
    "turn.start": "turn",
    "turn.end": "turn end",
    "turn.failed": "turn FAILED",
    "error": "ERROR",
    "session.end": "session end",
    "seal": "seal",
}


def summary(rec: dict[str, Any]) -> str:
    """One human line for a record's fields."""
    kind = rec.get("type")
    g = rec.get
    if kind == "session.start":
        parts = [f"{k}={g(k)}" for k in ("provider", "model", "approval_mode", "sandbox", "network") if g(k)]
        return " ".join(parts) + (f" cwd={g('cwd')}" if g("cwd") else "")
    if kind == "request.sent":
        red = g("redactions") or {}
        redacted = ", ".join(f"{k}×{v}" for k, v in red.items()) or "nothing redacted"
        files = ", ".join(g("files") or []) or "no files"
        return f"{g('bytes')} B to {g('host')} (sha256 {str(g('sha256'))[:12]}); files: {files}; redacted: {redacted}"
    if kind == "response":
        usage = g("usage") or {}
        calls = ", ".join(g("tool_calls") or []) or "no tool calls"
        tokens = f"{usage.get('input_tokens', '?')} in / {usage.get('output_tokens', '?')} out"
        return f"{calls}; {tokens}; {g('duration_ms')} ms"
    if kind == "decision":
        rule = f" rule {g('rule')!r} ({g('source')})" if g("rule") else ""
        return f"{g('action')} {g('target')!r}: {g('decision')} by {g('decided_by')}{rule} -> {g('outcome')}"
    if kind == "command":
        argv = g("argv")
        cmd = shlex.join(argv) if isinstance(argv, list) and all(isinstance(a, str) for a in argv) else str(argv)
        timed = " timed out" if g("timed_out") else ""
        return f"{cmd} [tier {g('tier')}] exit {g('exit_code')}{timed}, {g('duration_ms')} ms"
    if kind == "file.change":
        before, after = g("sha256_before"), g("sha256_after")
        moved = f" (from {g('old_path')})" if g("old_path") else ""
        return (
            f"{g('kind')} {g('path')}{moved} {str(before)[:8] if before else '-'} -> {str(after)[:8] if after else '-'}"
        )
    if kind == "turn.failed":
        err = g("error") or {}
        return str(err.get("message") if isinstance(err, dict) else err)
    if kind == "error":
        return str(g("message"))
    if kind == "session.end":
        return f"status {g('status')}" + (f" ({g('reason')})" if g("reason") else "")
    if kind == "seal":
        return f"{g('records')} records sealed"
    skip = {"seq", "ts", "sid", "type", "prev", "hash"}
    return json.dumps({k: v for k, v in rec.items() if k not in skip}, ensure_ascii=False)


def _time(ts: object) -> datetime | None:
    if not isinstance(ts, str):
        return None
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None


def _offset(start: datetime | None, ts: object) -> str:
    now = _time(ts)
    if start is None or now is None:
        return "?"
    secs = max(0.0, (now - start).total_seconds())
    return f"+{int(secs // 60):02d}:{secs % 60:06.3f}"


def render(records: list[tuple[int, dict[str, Any] | None]], res: VerifyResult, path: Path) -> list[str]:
    """The timeline's lines for one log's ``(line number, record)`` pairs and its verification."""
    first = next((r for _, r in records if r is not None), None) or {}
    start = _time(first.get("ts"))
    out = [f"session {res.session_id or first.get('sid', '?')}  {path}"]
    if start is not None:
        out.append(f"  started {start.strftime('%Y-%m-%d %H:%M:%S')} UTC")
    if isinstance(first.get("epoch"), int):
        out.append(f"  sealed with key {first.get('key_id')} (epoch {first['epoch']}); MACs are checked by "
                   "codeward logs verify --verification-key")  # fmt: skip
    else:
        out.append(
            "  not keyed: hash chain only (written before setup-keys, or by anyone; logs verify --all checks it)"
        )
    turn = 0
    for n, rec in records:
        if rec is None:
            out.append(f"  {'':>10}  line {n}: not a record")
            continue
        kind = str(rec.get("type", "?"))
        if kind == "turn.start":
            turn += 1
            out.append("")
            out.append(f"  {_offset(start, rec.get('ts')):>10}  turn {turn}")
            continue
        label = LABELS.get(kind, kind)
        out.append(f"  {_offset(start, rec.get('ts')):>10}  {label:<12} {summary(rec)}")
    out.append("")
    out.append("integrity: ok" if res.ok else f"integrity: FAILED, {res.problem.message}")  # type: ignore[union-attr]
    return out
