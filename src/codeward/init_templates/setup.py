"""What ``codeward init`` does to a workspace: planned as data first, then applied atomically.

Existing files are never overwritten and never lose text. Without ``update`` an existing file is
left alone and the plan says what ``--update`` would add; with it, the ignore file gets the
template patterns it lacks appended, and an AGENTS.md without a ``disallow_commands`` list gets the
policy section appended. An AGENTS.md that has its own list is not edited (two lists in one file
would be easy to misread); the plan names the template entries it lacks instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from codeward.init_templates import agents_template, ignore_template, policy_block

IGNORE_NAME = ".codewardignore"
AGENTS_NAME = "AGENTS.md"
_POLICY_KEY = re.compile(r"^\s*disallow_commands\s*:", re.MULTILINE)
_ITEM = re.compile(r'^\s*-\s*"([^"]+)"\s*$')


@dataclass(frozen=True)
class Step:
    path: Path
    action: str
    """"create", "append" or "skip"."""
    detail: str
    text: str | None = None
    """The file's whole new content (create/append)."""


def template_patterns(text: str) -> list[str]:
    return [s.strip() for s in text.splitlines() if s.strip() and not s.strip().startswith("#")]


def template_disallow() -> list[str]:
    """The template's ``disallow_commands`` entries."""
    out: list[str] = []
    inside = False
    for line in policy_block().splitlines():
        if _POLICY_KEY.match(line):
            inside = True
            continue
        if inside:
            m = _ITEM.match(line)
            if m:
                out.append(m.group(1))
            elif line.strip():
                break
    return out


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def plan_ignore(root: Path, *, update: bool) -> Step:
    path = root / IGNORE_NAME
    template = ignore_template()
    if not path.exists() and not path.is_symlink():
        return Step(
            path,
            "create",
            "ignore template: credentials, cloud, databases, business data, production config, logs",
            template,
        )
    if path.is_symlink() or not path.is_file():
        return Step(path, "skip", "exists and is not a regular file; left alone")
    current = _read(path)
    if current is None:
        return Step(path, "skip", "exists but is not readable UTF-8 text; left alone")
    have = set(template_patterns(current))
    missing = [p for p in template_patterns(template) if p not in have]
    if not missing:
        return Step(path, "skip", "exists and already has every template pattern")
    if not update:
        return Step(
            path,
            "skip",
            f"exists; kept as is (codeward init --update appends the {len(missing)} template patterns it lacks)",
        )
    sep = "" if current.endswith("\n") or not current else "\n"
    added = "\n# added by codeward init --update\n" + "\n".join(missing) + "\n"
    return Step(path, "append", f"appended {len(missing)} template patterns", current + sep + added)


def plan_agents(root: Path, *, update: bool) -> Step:
    path = root / AGENTS_NAME
    seed = template_disallow()
    if not path.exists() and not path.is_symlink():
        return Step(path, "create", f"policy skeleton: {len(seed)} disallowed commands", agents_template())
    if path.is_symlink() or not path.is_file():
        return Step(path, "skip", "exists and is not a regular file; left alone")
    current = _read(path)
    if current is None:
        return Step(path, "skip", "exists but is not readable UTF-8 text; left alone")
    if _POLICY_KEY.search(current):
        present = {m.group(1) for m in (_ITEM.match(line) for line in current.splitlines()) if m}
        lacking = [s for s in seed if s not in present]
        more = f"; not in it from the template: {', '.join(lacking)}" if lacking else ""
        return Step(path, "skip", f"exists with a disallow_commands list; kept as is{more}")
    if not update:
        return Step(path, "skip", "exists without a disallow_commands list; codeward init --update appends one")
    sep = "\n" if current.endswith("\n") else "\n\n"
    return Step(
        path, "append", f"appended the command policy ({len(seed)} disallowed commands)", current + sep + policy_block()
    )


def plan_init(root: Path, *, update: bool = False) -> list[Step]:
    return [plan_ignore(root, update=update), plan_agents(root, update=update)]


def apply(steps: list[Step]) -> None:
    """Write the planned files atomically (an appended file keeps its permissions)."""
    from codeward.fsutil import atomic_write_text

    for step in steps:
        if step.action in ("create", "append") and step.text is not None:
            atomic_write_text(step.path, step.text)
