"""May ``apply_patch`` change this file? (DESIGN §3-§4)

Deny under ``disallow_directories`` and outside ``allow_directories`` (when set; the user's and the
repository's files' lists are separate constraints, each to be met:
:mod:`codeward.policy.allow_lists`); protected paths ask in every mode;
otherwise suggest asks and the other modes allow. No tree-sitter here: deciding an edit stays cheap.
"""

from __future__ import annotations

import posixpath
from collections.abc import Collection
from pathlib import PurePosixPath

from codeward.modes import edits_without_asking
from codeward.policy.allow_lists import allow_groups
from codeward.policy.decision import Decision, check_mode, file_of
from codeward.policy.directories import is_under
from codeward.policy.rules import Policy


def decide_edit(
    rel_path: str, mode: str, policy: Policy, protected: Collection[str] = (), *, casefold: bool = False
) -> Decision:
    """allow / ask / deny for ``apply_patch`` changing the workspace-relative ``rel_path``.

    ``protected`` adds workspace-relative paths that are protected by what they are rather than by
    their name: what a repository's git config makes git run or read (``core.hooksPath`` targets such
    as ``.husky/``, included config files, programs named by path), so a patch cannot plant the
    user's next ``git commit`` hook without asking, in any mode. ``casefold`` (the workspace's file
    system folds case) compares protected names without case, so ``.GIT/hooks/x`` asks too.
    """
    from codeward.workspace import is_protected

    check_mode(mode)
    raw = str(rel_path).replace("\\", "/")
    if not raw.strip() or raw.startswith("/") or "\x00" in raw:
        return Decision("deny", f"{rel_path!r} is not a path inside the workspace; patches use relative paths")
    rel = posixpath.normpath(raw)
    if rel == "." or rel == ".." or rel.startswith("../"):
        return Decision("deny", f"{rel_path} leads outside the workspace; patches may only change files inside it")

    for e in policy.disallow_directories:
        if is_under(rel, e.pattern):
            return Decision(
                "deny",
                f"{rel} is under disallow_directories '{e.pattern}' ({e.source}), which the agent may never read or "
                f"write; to allow it, remove the entry from {file_of(e.source)}",
                e.pattern,
                e.source,
            )
    for entries in allow_groups(policy.allow_directories):
        hit = next((e for e in entries if is_under(rel, e.pattern)), None)
        if hit is None:
            listed = ", ".join(f"'{e.pattern}'" for e in entries)
            files = ", ".join(dict.fromkeys(file_of(e.source) for e in entries))
            return Decision(
                "deny",
                f"{rel} is outside allow_directories ({listed}, from {files}), the only places the agent may "
                f"modify; to allow it, add its directory to allow_directories in {files}",
                None,
                files,
            )
    key = rel.lower() if casefold else rel
    folded = [p.lower() for p in protected] if casefold else protected
    if is_protected(PurePosixPath(rel), casefold=casefold) or any(key == p or key.startswith(p + "/") for p in folded):
        return Decision(
            "ask",
            f"{rel} is a protected path (AGENTS.md, ignore files, .codeward/, .git/): every change to it needs "
            "your approval, in every mode",
        )
    if not edits_without_asking(mode):  # type: ignore[arg-type]
        return Decision("ask", f"suggest mode shows every edit for approval first: {rel}")
    return Decision("allow", f"{mode} mode applies edits inside the workspace: {rel}")
