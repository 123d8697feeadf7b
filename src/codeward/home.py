"""Where codeward keeps its own files: ``$CODEWARD_HOME`` (default ``~/.codeward``)."""

from __future__ import annotations

import os
from pathlib import Path


def codeward_home() -> Path:
    """The home directory; not created here, so read-only commands never write to disk."""
    env = os.environ.get("CODEWARD_HOME")
    if env:
        return Path(env).expanduser().absolute()
    return Path.home() / ".codeward"


HOME_RULE_SOURCE = "codeward home"


def home_patterns(root: Path, home: Path) -> list[str]:
    """Ignore patterns (anchored at ``root``) that hide codeward's home when it lies inside ``root``.

    The workspace may contain the home (``--workspace ~``, or ``$CODEWARD_HOME`` set inside a
    repository): its sessions, logs and keys must still never reach a tool, a command or a model.
    Both the home as written and as resolved are covered (a home reached through a symlink), with
    gitignore's special characters escaped so the name matches only itself. Empty when the home is
    elsewhere (outside the workspace the tools refuse it and the sandbox hides it already).
    """
    out: list[str] = []
    real_root = root.resolve()
    for h in dict.fromkeys((home.absolute(), home.resolve())):
        for r in dict.fromkeys((root, real_root)):
            try:
                rel = h.relative_to(r).as_posix()
            except ValueError:
                continue
            if rel in ("", "."):
                continue  # the home is the workspace: refused when the project is opened
            pat = "/" + _escape(rel)
            for p in (pat + "/", pat):
                if p not in out:
                    out.append(p)
    return out


def _escape(rel: str) -> str:
    """``rel`` as a gitignore pattern matching only that path (wildcards, a trailing space escaped)."""
    s = "".join("\\" + c if c in "\\*?[" else c for c in rel)
    return s[:-1] + "\\ " if s.endswith(" ") else s


def user_config_path() -> Path:
    return codeward_home() / "config.toml"


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) with mode 0700 where it does not exist yet."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path
