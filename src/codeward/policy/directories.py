"""``allow_directories`` / ``disallow_directories`` entries: how one is written and what it covers.

An entry is a path from the repository root (``src/``, ``./data/``, ``/deploy/``), optionally
with globs (``services/*/secrets``, ``**/fixtures``); ``..`` is refused so an entry can never point
outside the workspace.
"""

from __future__ import annotations

from codeward.policy.patterns import PatternError


def normalize_dir_pattern(pattern: str) -> str:
    """``./src/`` -> ``src``; ``/data/`` -> ``data``; '' for the whole workspace."""
    p = pattern.strip().replace("\\", "/")
    if not p:
        raise PatternError("empty directory; write a path from the repository root such as 'src/'")
    while p.startswith("./"):
        p = p[2:]
    p = p.strip("/")
    if p in ("", "."):
        return ""
    if any(part == ".." for part in p.split("/")):
        raise PatternError("'..' is not allowed; write a path inside the repository")
    return p


def is_under(rel: str, pattern: str) -> bool:
    """Is the workspace-relative path ``rel`` inside the directory entry ``pattern``?"""
    p = normalize_dir_pattern(pattern)
    if p == "":
        return True
    if not any(c in p for c in "*?["):
        return rel == p or rel.startswith(p + "/")
    from fnmatch import fnmatchcase

    parts = rel.split("/")
    pat_parts = p.split("/")
    if "**" in pat_parts:
        import pathspec

        spec = pathspec.GitIgnoreSpec.from_lines(["/" + p])
        return any(spec.match_file("/".join(parts[:i])) for i in range(1, len(parts) + 1))
    if len(parts) < len(pat_parts):
        return False
    return all(fnmatchcase(a, b) for a, b in zip(parts, pat_parts, strict=False))
