"""Storing, removing and describing provider keys: the logic behind ``login``, ``logout`` and ``auth status``.

``login`` prefers the system keychain and falls back to ``auth.json`` (0600) only when the keychain
cannot keep the key, saying which it used and why. ``logout`` removes the key from every store.
``auth status`` says where each provider's key would come from, in the lookup order of
:mod:`codeward.auth.keys`, without ever running a ``key_command`` or showing a key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from codeward.auth import authfile, keychain
from codeward.auth.keys import remember_secret
from codeward.config.model import ProviderConfig
from codeward.errors import ConfigError, UsageError

MAX_KEY_LENGTH = 8192


def clean_key(raw: str) -> str:
    """The key from what the user typed or piped: one line, no spaces or control characters."""
    lines = [ln.strip() for ln in raw.strip().splitlines() if ln.strip()]
    if not lines:
        raise UsageError("no key given: type it at the prompt or pipe it: ... | codeward login --with-api-key")
    if len(lines) > 1:
        raise UsageError("expected the key on one line, got several lines on standard input")
    key = lines[0]
    if len(key) > MAX_KEY_LENGTH:
        raise UsageError(f"the key is longer than {MAX_KEY_LENGTH} characters; is this the right input?")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in key):
        raise UsageError("the key contains spaces or control characters; give the key alone")
    return key


@dataclass(frozen=True)
class Stored:
    """Where ``login`` put a key."""

    store: str
    """"keychain" or "file"."""
    where: str
    """The keychain backend's name or the file's path."""
    fallback_reason: str | None = None
    """Why the keychain was not used (only for "file")."""
    notes: tuple[str, ...] = ()


def save_key(provider_id: str, key: str) -> Stored:
    """Keychain first; ``auth.json`` 0600 (other providers' keys kept) when the keychain cannot."""
    remember_secret(key)
    try:
        backend = keychain.store_key(provider_id, key)
    except keychain.KeychainUnavailable as e:
        path = authfile.store_key(provider_id, key)
        return Stored("file", str(path), fallback_reason=e.message)
    notes: list[str] = []
    try:
        if authfile.remove_key(provider_id):
            notes.append(f"removed the older copy of this key from {authfile.auth_path()}")
    except ConfigError as e:
        notes.append(f"could not clean up {authfile.auth_path()}: {e.message}")
    return Stored("keychain", backend, notes=tuple(notes))


def forget_key(provider_id: str) -> list[str]:
    """Remove the provider's key from the keychain and ``auth.json``; the stores it was removed from."""
    removed: list[str] = []
    if keychain.delete_key(provider_id):
        removed.append(f"the system keychain ({keychain.backend().name})")
    if authfile.remove_key(provider_id):
        removed.append(str(authfile.auth_path()))
    return removed


@dataclass(frozen=True)
class KeyStatus:
    """Where a provider's key would come from. Holds no key."""

    provider: str
    source: str
    """"env", "keychain", "file", "command" or "none"."""
    detail: str
    requires_key: bool = True
    problem: str | None = None
    fix: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "provider": self.provider,
            "source": self.source,
            "detail": self.detail,
            "requires_key": self.requires_key,
            "problem": self.problem,
            "fix": self.fix,
        }


def key_status(
    provider: ProviderConfig,
    *,
    env: Mapping[str, str] | None = None,
    file_state: authfile.FileState | None = None,
) -> KeyStatus:
    """Follow the lookup order of :func:`codeward.auth.keys.resolve_key` without using the key."""
    env = os.environ if env is None else env
    pid = provider.id
    if provider.env_key and (env.get(provider.env_key) or "").strip():
        return KeyStatus(pid, "env", f"${provider.env_key}", provider.requires_key)
    value, backend = keychain.read_key(pid)
    if value:
        return KeyStatus(pid, "keychain", f"system keychain ({backend})", provider.requires_key)
    fs = file_state if file_state is not None else authfile.inspect()
    if fs.problem is not None:
        return KeyStatus(pid, "file", f"{fs.path} (refused)", provider.requires_key, problem=fs.problem, fix=fs.fix)
    if pid in fs.providers:
        return KeyStatus(pid, "file", str(fs.path), provider.requires_key)
    if provider.key_command:
        return KeyStatus(pid, "command", f"key_command ({provider.key_command[0]})", provider.requires_key)
    if not provider.requires_key:
        return KeyStatus(pid, "none", "no key needed", False)
    hint = f"set ${provider.env_key} or run" if provider.env_key else "run"
    return KeyStatus(pid, "none", f"no key: {hint} codeward login --provider {pid}", True)
