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


def user_config_path() -> Path:
    return codeward_home() / "config.toml"


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) with mode 0700 where it does not exist yet."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path
