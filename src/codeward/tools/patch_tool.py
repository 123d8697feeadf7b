"""``apply_patch``: the Codex patch grammar, gated by ignore rules, the policy and the approval mode.

Placeholders the gate put into what the model saw are turned back into real values here, and only
here: the file on disk gets the real secret, the model never does (DESIGN §1, issue 3). A patch is
applied whole or not at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from codeward.events import FileChange, FileChanged, ItemCompleted, ItemStarted
from codeward.policy import Decision
from codeward.privacy.redact import PLACEHOLDER
from codeward.providers.types import ToolCall
from codeward.tools.approval import settle
from codeward.tools.asking import EditRequest
from codeward.tools.base import ToolContext, ToolError, ToolOutput
from codeward.tools.read import blocked_message
from codeward.workspace import IGNORE_FILES

if TYPE_CHECKING:
    from codeward.patch import Patch

KIND_LETTER = {"add": "A", "update": "M", "delete": "D"}


def _sha(data: bytes | None) -> str | None:
    return hashlib.sha256(data).hexdigest() if data is not None else None


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


def _content(patch: Patch) -> Iterator[str]:
    """Every line of content of a parsed patch (what placeholders were restored into)."""
    for op in patch.ops:
        yield from op.content
        for h in op.hunks:
            yield from h.headers
            yield from (ln.text for ln in h.lines)


def apply_patch(args: dict[str, Any], ctx: ToolContext, call: ToolCall) -> ToolOutput:
    from codeward.patch import apply_changes, parse_patch, plan_patch, unified_diff, workspace_reader
    from codeward.patch.apply import workspace_roots
    from codeward.policy import decide_edit

    ws = ctx.workspace
    # the model's own text is parsed (an error quotes only what it sent, placeholders and all);
    # real values go back into lines of content only, never into a path (red team rt19)
    patch = parse_patch(args["input"], roots=workspace_roots(ws), base=ws.rel(ws.cwd))
    for path in patch.paths():
        if PLACEHOLDER.search(path):
            raise ToolError(
                f"apply_patch: the path {path!r} holds a placeholder; a secret cannot be part of a file name, "
                "name the file without it"
            )
    patch = patch.map_lines(ctx.gate.restore)
    text = "\n".join(_content(patch))
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
    summary = tuple({"path": str(ws.root / c.path), "kind": c.kind} for c in changes)

    protected = ctx.project.protected
    fold = ctx.ignore.casefold  # on a case-folding file system .GIT/hooks is .git/hooks
    decisions = [
        (rel, "edit:" + rel, decide_edit(rel, ctx.mode, ctx.policy, protected, casefold=fold))
        for rel in rel_of.values()
    ]
    from_prompt = sorted(set(PLACEHOLDER.findall(args["input"])) & ctx.prompt_placeholders)
    if from_prompt:
        # a secret the user typed goes into a file only with the user's yes, in every mode (in exec:
        # never); "always" for the path does not cover it
        why = (
            f"the patch writes {from_prompt[0]}, a secret from your own prompt, into the file; "
            "that needs your approval in every mode"
        )
        decisions = [
            (rel, f"prompt-secret:{rel}", d if d.decision == "deny" else Decision("ask", why))
            for rel, _key, d in decisions
        ]

    def ask(reasons: list[str]) -> Any:
        diff = "\n".join(unified_diff(c) for c in changes)
        request = EditRequest(tuple(rel_of.values()), diff, "; ".join(dict.fromkeys(reasons)), ctx.mode)
        return ctx.approver.approve_edit(request)

    outcome = settle(ctx, "edit", decisions, ask)
    if not outcome.go:
        ctx.events.emit(ItemCompleted(FileChange(id=item_id, changes=summary, status="declined")))
        return ToolOutput(outcome.message)

    ctx.events.emit(ItemStarted(FileChange(id=item_id, changes=summary, status="in_progress")))
    try:
        apply_changes(changes, ws)
        ctx.applied.append(list(changes))
    except Exception:
        ctx.events.emit(ItemCompleted(FileChange(id=item_id, changes=summary, status="failed")))
        raise
    for c in changes:
        ctx.events.emit(FileChanged(c.path, c.old_path, c.kind, _sha(c.old), _sha(c.new)))
    ctx.events.emit(ItemCompleted(FileChange(id=item_id, changes=summary, status="completed")))
    if any(r.rsplit("/", 1)[-1] in IGNORE_FILES or r in protected for r in rel_of.values()):
        ctx.reload_ignore()  # also forgets the protected set: a patched git config may name new paths
    lines = ["Success. Updated the following files:"]
    lines += [f"{KIND_LETTER[c.kind]} {c.path}" for c in changes]
    return ToolOutput("\n".join(lines))
