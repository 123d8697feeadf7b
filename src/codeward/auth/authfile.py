"""``$CODEWARD_HOME/auth.json``: the key store of last resort, mode 0600, refused when readable by others."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from codeward.config.home import codeward_home, ensure_private_dir
from codeward.errors import ConfigError
from codeward.fsutil import atomic_write_text


def auth_path() -> Path:
    return codeward_home() / "auth.json"


def check_permissions(path: Path) -> None:
    """Refuse a file that group or others can read or write, with the exact fix."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"{path} is readable by other users (mode {mode:03o}); refusing to use it. Run: chmod 600 {path}"
        )


def read_keys(path: Path | None = None) -> dict[str, str]:
    """Provider id -> key. Missing file: empty. Loose permissions or bad JSON: ConfigError."""
    path = path or auth_path()
    if not path.exists():
        return {}
    check_permissions(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(f"{path}: not a valid auth file ({e}); remove it and run codeward login") from None
    keys = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(keys, dict) or not all(isinstance(v, str) for v in keys.values()):
        raise ConfigError(f'{path}: expected {{"keys": {{"PROVIDER": "KEY"}}}}; remove it and run codeward login')
    return dict(keys)


def write_keys(keys: dict[str, str], path: Path | None = None) -> Path:
    """Write atomically with mode 0600 (the temp file is 0600 before it is renamed into place)."""
    path = path or auth_path()
    ensure_private_dir(path.parent)
    atomic_write_text(path, json.dumps({"version": 1, "keys": keys}, indent=2) + "\n", mode=0o600)
    os.chmod(path, 0o600)
    return path
