"""Where a provider's API key comes from (DESIGN §2), in order:

1. the provider's ``envKey`` environment variable;
2. the system keychain (service ``codeward``, user = provider id);
3. ``$CODEWARD_HOME/auth.json`` (refused when group/world readable);
4. the provider's ``key_command`` (a secret manager such as ``op read``).

The key is only ever handed to the provider client, which puts it in the Authorization header of
requests to that provider's URL. Nothing here logs or prints it.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

from codeward.config.model import ProviderConfig
from codeward.errors import ConfigError

KEYCHAIN_SERVICE = "codeward"


@dataclass(frozen=True)
class KeyResult:
    value: str | None
    source: str
    """"env:NAME", "keychain:<backend>", "file:<path>", "command:<argv0>" or "none"."""

    def __repr__(self) -> str:  # never show the value
        return f"KeyResult(source={self.source!r}, present={self.value is not None})"


def keychain_get(provider_id: str) -> tuple[str | None, str | None]:
    """(key, backend name) from the system keychain; (None, None) when there is no usable backend."""
    try:
        import keyring
        import keyring.errors
    except ImportError:
        return None, None
    try:
        backend = keyring.get_keyring()
        name = type(backend).__module__.rsplit(".", 1)[-1] + "." + type(backend).__name__
        if "fail" in name.lower() or "null" in name.lower():
            return None, None
        value = keyring.get_password(KEYCHAIN_SERVICE, provider_id)
    except Exception:  # no backend, locked keychain, D-Bus absent: fall through to the next source
        return None, None
    return (value or None), name


def run_key_command(provider: ProviderConfig) -> str:
    argv = list(provider.key_command or ())
    timeout = provider.key_command_timeout_ms / 1000
    where = f"key_command of provider '{provider.id}' ({argv[0]})"
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise ConfigError(
            f"{where}: program not found; install it or fix providers.{provider.id}.key_command"
        ) from None
    except subprocess.TimeoutExpired:
        raise ConfigError(f"{where}: no answer within {timeout:g}s; is the secret manager unlocked?") from None
    except OSError as e:
        raise ConfigError(f"{where}: cannot run it ({e.strerror})") from None
    if proc.returncode != 0:
        err = (proc.stderr.strip().splitlines() or ["no error output"])[0][:200]
        raise ConfigError(f"{where}: exited {proc.returncode}: {err}")
    value = proc.stdout.strip()
    if not value or "\n" in value:
        raise ConfigError(f"{where}: expected the key as one line on standard output")
    return value


def resolve_key(provider: ProviderConfig) -> KeyResult:
    """Find the key for ``provider``; KeyResult(None, "none") when there is none anywhere."""
    from codeward.auth.authfile import auth_path, read_keys

    if provider.env_key:
        value = os.environ.get(provider.env_key)
        if value:
            return KeyResult(value.strip(), f"env:{provider.env_key}")
    value, backend = keychain_get(provider.id)
    if value:
        return KeyResult(value, f"keychain:{backend}")
    keys = read_keys()
    if provider.id in keys:
        return KeyResult(keys[provider.id], f"file:{auth_path()}")
    if provider.key_command:
        return KeyResult(run_key_command(provider), f"command:{provider.key_command[0]}")
    return KeyResult(None, "none")


def require_key(provider: ProviderConfig) -> KeyResult:
    """Like :func:`resolve_key`, but a provider that needs a key and has none is a clear error."""
    result = resolve_key(provider)
    if result.value is None and provider.requires_key:
        env = f"set ${provider.env_key}, " if provider.env_key else ""
        raise ConfigError(
            f"no API key for provider '{provider.id}': {env}run codeward login --provider {provider.id}, "
            f"or configure providers.{provider.id}.key_command"
        )
    return result
