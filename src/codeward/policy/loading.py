"""Building the merged :class:`~codeward.policy.rules.Policy` for a workspace (DESIGN §3).

The config's ``[policy]`` lists first, then the policy blocks of every AGENTS.md that applies
(``$CODEWARD_HOME/AGENTS.md`` is the user's; repository files are not): those of the enclosing
projects above a nested repository too, their directory entries translated to the nested root
(:func:`codeward.config.enclosing.reanchor`), so an enclosing project's rules narrow the nested one.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from codeward.config.enclosing import moved_entry, nothing_allowed
from codeward.config.model import PolicyEntry
from codeward.errors import ConfigError
from codeward.policy.agents_md import parse_agents_policy
from codeward.policy.rules import Policy, check_patterns

if TYPE_CHECKING:
    from codeward.config.model import Config
    from codeward.workspace import Workspace


def load_policy(workspace: Workspace, config: Config, home: Path) -> Policy:
    """The config's ``[policy]`` lists plus the policy blocks of every AGENTS.md that applies.

    ``$CODEWARD_HOME/AGENTS.md`` is the user's (``user_owned=True``); repository files are not, and
    are named by their path from the repository root (``sub/AGENTS.md:3``), or in full when they
    belong to an enclosing project.
    """
    policy = Policy.from_config(config.policy)
    global_file = (home / "AGENTS.md").absolute()
    root = workspace.root
    for f in workspace.agents_files(home, enclosing=True):
        user_owned = f.absolute() == global_file
        prefix = None if user_owned or f.parent == root else _prefix(root, f.parent)
        if user_owned or prefix is not None:
            source = str(f)
        else:
            try:
                source = f.relative_to(root).as_posix()
            except ValueError:
                source = str(f)
        try:
            text = f.read_text(encoding="utf-8", errors="replace")
        except OSError as e:
            raise ConfigError(f"{f}: cannot read AGENTS.md ({e.strerror}); fix its permissions or remove it") from None
        found = parse_agents_policy(text, source, user_owned=user_owned)
        if prefix is not None:
            found = enclosing_policy(found, prefix)
        policy.extend(found)
    check_patterns(policy)
    return policy


def _prefix(root: Path, d: Path) -> str | None:
    """``root``'s path from ``d`` when ``d`` lies above it (an enclosing project's directory), else None."""
    try:
        rel = root.relative_to(d).as_posix()
    except ValueError:
        return None
    return rel if rel != "." else None


def enclosing_policy(found: Policy, prefix: str) -> Policy:
    """The policy of an enclosing project's file, seen from the nested workspace at ``prefix``.

    Command lists apply as written; directory entries keep what reaches into the workspace, written
    from its root (:func:`codeward.config.enclosing.moved_entry`). An allow list that allows nothing
    here refuses the run (:func:`codeward.config.enclosing.nothing_allowed`).
    """
    out = Policy(disallow_commands=found.disallow_commands, allow_commands=found.allow_commands)
    for key in ("disallow_directories", "allow_directories"):
        target: list[PolicyEntry] = getattr(out, key)
        for e in getattr(found, key):
            target += [PolicyEntry(p, e.source, e.user_owned) for p in moved_entry(key, e.pattern, prefix)]
    if found.allow_directories and not out.allow_directories:
        first = found.allow_directories[0]
        raise nothing_allowed([e.pattern for e in found.allow_directories], prefix, first.source)
    return out
