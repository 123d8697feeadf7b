"""``$CODEWARD_HOME/auth.json``: the key store of last resort, mode 0600, refused when readable by others.

The file holds ``{"version": 1, "keys": {"PROVIDER": "KEY"}}``. A flat ``{"PROVIDER": "KEY"}``
object (what people write by hand) is read too; codeward always writes the first form. Writes are
atomic and the temp file is 0600 before it is renamed into place, so the key is never visible with
looser bits, not even for a moment.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from codeward.errors import ConfigError
from codeward.fsutil import atomic_write_text
from codeward.home import codeward_home, ensure_private_dir


def auth_path() -> Path:
    return codeward_home() / "auth.json"


def loose_mode(path: Path) -> int | None:
    """The file's permission bits when group or others have any access, else None."""
    mode = stat.S_IMODE(path.stat().st_mode)
    return mode if mode & 0o077 else None


def chmod_fix(path: Path) -> str:
    return f"chmod 600 {path}"


def check_permissions(path: Path) -> None:
    """Refuse a file that group or others can read or write, with the exact fix."""
    mode = loose_mode(path)
    if mode is not None:
        raise ConfigError(
            f"{path} is readable by other users (mode {mode:03o}); refusing to use it. Run: {chmod_fix(path)}"
        )


def parse_keys(text: str, path: Path) -> dict[str, str]:
    """Provider id -> key from the file's text; ConfigError naming the file when the shape is wrong."""
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ConfigError(f"{path}: not a valid auth file ({e}); remove it and run codeward login") from None
    if not isinstance(data, dict):
        raise ConfigError(f'{path}: expected {{"keys": {{"PROVIDER": "KEY"}}}}; remove it and run codeward login')
    keys = data.get("keys") if "keys" in data else {k: v for k, v in data.items() if k != "version"}
    if not isinstance(keys, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in keys.items()):
        raise ConfigError(f'{path}: expected {{"keys": {{"PROVIDER": "KEY"}}}}; remove it and run codeward login')
    return {k: v.strip() for k, v in keys.items() if v.strip()}


def read_keys(path: Path | None = None) -> dict[str, str]:
    """Provider id -> key. Missing file: empty. Loose permissions or bad JSON: ConfigError."""
    path = path or auth_path()
    if not path.exists():
        return {}
    check_permissions(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read the auth file ({e}); remove it and run codeward login") from None
    return parse_keys(text, path)


@dataclass(frozen=True)
class FileState:
    """What ``auth status`` and ``doctor`` say about the file, without raising and without the keys."""

    path: Path
    exists: bool
    mode: int | None = None
    providers: tuple[str, ...] = ()
    problem: str | None = None
    """Why the file cannot be used (loose permissions, bad JSON), with the fix in the text."""
    fix: str | None = None


def inspect(path: Path | None = None) -> FileState:
    path = path or auth_path()
    if not path.exists():
        return FileState(path, False)
    mode = stat.S_IMODE(path.stat().st_mode)
    try:
        keys = read_keys(path)
    except ConfigError as e:
        fix = chmod_fix(path) if mode & 0o077 else f"remove {path} and run codeward login"
        return FileState(path, True, mode, problem=e.message, fix=fix)
    return FileState(path, True, mode, tuple(sorted(keys)))


def write_keys(keys: dict[str, str], path: Path | None = None) -> Path:
    """Write atomically with mode 0600 (the temp file is 0600 before it is renamed into place)."""
    path = path or auth_path()
    ensure_private_dir(path.parent)
    atomic_write_text(path, json.dumps({"version": 1, "keys": keys}, indent=2) + "\n", mode=0o600)
    os.chmod(path, 0o600)
    return path


def store_key(provider_id: str, key: str, path: Path | None = None) -> Path:
    """Add or replace one provider's key, keeping the others (a loose or broken file is refused)."""
    path = path or auth_path()
    keys = read_keys(path)
    keys[provider_id] = key
    return write_keys(keys, path)


def remove_key(provider_id: str, path: Path | None = None) -> bool:
    """Drop one provider's key; the file goes away when it held no other. True when a key was removed.

    Removal works even on a loose-permission file (removing a key only ever makes things safer),
    but not on one that cannot be parsed: then the user must look at it.
    """
    path = path or auth_path()
    if not path.exists():
        return False
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read the auth file ({e}); remove it by hand") from None
    keys = parse_keys(text, path)
    if provider_id not in keys:
        return False
    del keys[provider_id]
    if keys:
        write_keys(keys, path)
    else:
        path.unlink()
    return True
