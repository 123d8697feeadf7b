"""``apply_patch``: the Codex patch grammar, gated by ignore rules, the policy and the approval mode.

Placeholders the gate put into what the model saw are turned back into real values here, and only
here: the file on disk gets the real secret, the model never does (DESIGN §1, issue 3). A patch is
applied whole or not at all.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from codeward.agent.approvals import EditRequest
from codeward.providers.types import ToolCall
from codeward.tools.base import ToolContext, ToolError, ToolOutput
from codeward.tools.read import blocked_message
from codeward.tools.shell import decided_by
from codeward.workspace import IGNORE_FILES

KIND_LETTER = {"add": "A", "update": "M", "delete": "D"}


def _sha(data: bytes | None) -> str | None:
    return hashlib.sha256(data).hexdigest() if data is not None else None


PLACEHOLDER = re.compile(r"<secret:[A-Za-z0-9_.-]+:[0-9a-f]{8}>")


def _refuse_unknown_placeholders(text: str, paths: list[str], read: Any) -> None:
    """A placeholder left after restoring has no known value (from another session, or made up):
    writing it would put placeholder text where a secret belongs, so the patch is refused, unless
    the file already holds that literal text."""
    left = set(PLACEHOLDER.findall(text))
    if not left:
        return
    existing = b"".join(read(p) or b"" for p in paths).decode("utf-8", errors="replace")
    unknown = sorted(p for p in left if p not in existing)
    if unknown:
        raise ToolError(
            f"the patch uses {unknown[0]}, a placeholder whose value is not known in this session; "
            "read the file again to get a current placeholder, or ask the user for the value"
        )


def apply_patch(args: dict[str, Any], ctx: ToolContext, call: ToolCall) -> ToolOutput:
    from codeward.patch import apply_changes, parse_patch, plan_patch, unified_diff, workspace_reader
    from codeward.patch.apply import workspace_roots
    from codeward.policy import decide_edit

    text = ctx.gate.restore(args["input"])
    ws = ctx.workspace
    patch = parse_patch(text, roots=workspace_roots(ws), base=ws.rel(ws.cwd))
    rel_of: dict[str, str] = {}
    for path in patch.paths():
        target = ws.resolve(path)
        rel = ws.rel(target)
        rule = ctx.ignore.match(rel) or ctx.ignore.match_path(target.resolve())
        if rule is not None:
            raise ToolError(blocked_message(rel, rule))
        rel_of[path] = rel

    read = workspace_reader(ws)  # root-relative paths; refuses symlinks and directories
    _refuse_unknown_placeholders(text, list(rel_of.values()), read)
    changes = plan_patch(patch, read, base=ws.rel(ws.cwd))  # FileChange paths come out root-relative
    item_id = ctx.ids.next()
    # absolute paths, as Codex reports them; the terminal shows them relative to the workspace
    summary = [{"path": str(ws.root / c.path), "kind": c.kind} for c in changes]

    asks: list[str] = []
    for rel in rel_of.values():
        d = decide_edit(rel, ctx.mode, ctx.policy)
        event = {
            "type": "decision",
            "action": "edit",
            "target": rel,
            "decision": d.decision,
            "reason": d.reason,
            "rule": d.rule,
            "source": d.source,
        }
        if d.decision == "deny":
            ctx.events.emit({**event, "decided_by": decided_by(d, ctx.mode), "outcome": "denied"})
            ctx.events.emit(
                {
                    "type": "item.completed",
                    "item": {"id": item_id, "type": "file_change", "changes": summary, "status": "declined"},
                }
            )
            return ToolOutput(f"refused: {d.reason}")
        if d.decision == "ask" and "edit:" + rel not in ctx.session_allow:
            asks.append(d.reason)
        else:
            who = "user:always" if d.decision == "ask" else decided_by(d, ctx.mode)
            ctx.events.emit({**event, "decided_by": who, "outcome": "allowed"})

    if asks:
        diff = "\n".join(unified_diff(c) for c in changes)
        answer = ctx.approver.approve_edit(EditRequest(tuple(rel_of.values()), diff, "; ".join(dict.fromkeys(asks))))
        for rel in rel_of.values():
            ctx.events.emit(
                {
                    "type": "decision",
                    "action": "edit",
                    "target": rel,
                    "decision": "ask",
                    "reason": asks[0],
                    "rule": None,
                    "source": None,
                    "decided_by": answer.decided_by,
                    "outcome": "allowed" if answer.approved else "declined",
                }
            )
        if not answer.approved:
            ctx.events.emit(
                {
                    "type": "item.completed",
                    "item": {"id": item_id, "type": "file_change", "changes": summary, "status": "declined"},
                }
            )
            return ToolOutput(answer.reason or "declined: the user did not approve this patch")
        if answer.always:
            ctx.session_allow.update("edit:" + rel for rel in rel_of.values())

    ctx.events.emit(
        {
            "type": "item.started",
            "item": {"id": item_id, "type": "file_change", "changes": summary, "status": "in_progress"},
        }
    )
    try:
        apply_changes(changes, ws)
        ctx.applied.append(list(changes))
    except Exception:
        ctx.events.emit(
            {
                "type": "item.completed",
                "item": {"id": item_id, "type": "file_change", "changes": summary, "status": "failed"},
            }
        )
        raise
    for c in changes:
        ctx.events.emit(
            {
                "type": "file.changed",
                "path": c.path,
                "old_path": c.old_path,
                "kind": c.kind,
                "sha256_before": _sha(c.old),
                "sha256_after": _sha(c.new),
            }
        )
    ctx.events.emit(
        {
            "type": "item.completed",
            "item": {"id": item_id, "type": "file_change", "changes": summary, "status": "completed"},
        }
    )
    if any(r.rsplit("/", 1)[-1] in IGNORE_FILES for r in rel_of.values()):
        ctx.reload_ignore()
    lines = ["Success. Updated the following files:"]
    lines += [f"{KIND_LETTER[c.kind]} {c.path}" for c in changes]
    return ToolOutput("\n".join(lines))
