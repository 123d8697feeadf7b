"""Where a provider's API key comes from (DESIGN §2), in order:

1. the provider's ``envKey`` environment variable;
2. the system keychain (service ``codeward``, user = provider id);
3. ``$CODEWARD_HOME/auth.json`` (refused when group/world readable);
4. the provider's ``key_command`` (a secret manager such as ``op read``).

The key is only ever handed to the provider client, which puts it in the Authorization header of
requests to that provider's URL. Nothing here logs or prints it. Every key this process resolves is
also remembered in :func:`known_secrets`, so the writers of files (the audit log) can scrub it
should it ever reach them by some other road.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass

from codeward.config.model import ProviderConfig
from codeward.errors import ConfigError
from codeward.hostprog import program

MIN_SCRUB_LENGTH = 8
"""Shorter values are not scrubbed by value: replacing every "x" in a log would destroy it."""

_known: set[str] = set()
_known_lock = threading.Lock()


def remember_secret(value: str | None) -> None:
    """Note a key this process holds, for :func:`known_secrets`."""
    if value and len(value) >= MIN_SCRUB_LENGTH:
        with _known_lock:
            _known.add(value)


def known_secrets() -> frozenset[str]:
    """Every key resolved (or stored by ``login``) in this process."""
    with _known_lock:
        return frozenset(_known)


@dataclass(frozen=True)
class KeyResult:
    value: str | None
    source: str
    """"env:NAME", "keychain:<backend>", "file:<path>", "command:<argv0>" or "none"."""

    def __repr__(self) -> str:  # never show the value
        return f"KeyResult(source={self.source!r}, present={self.value is not None})"


def keychain_get(provider_id: str) -> tuple[str | None, str | None]:
    """(key, backend name) from the system keychain; (None, None) when there is no usable backend."""
    from codeward.auth import keychain

    return keychain.read_key(provider_id)


def _kill_group(proc: subprocess.Popen[bytes], *, settle_s: float = 0.5) -> None:
    """SIGKILL the command's process group and wait (briefly) until the group is gone.

    SIGKILL is delivered asynchronously: without the wait a busy machine may still show a member
    running when this returns. A member that is a zombie nobody reaps still counts, hence the cap.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=settle_s)
    deadline = time.monotonic() + settle_s
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.01)


def run_key_command(provider: ProviderConfig) -> str:
    """Run the provider's secret-manager command and return the one line it prints.

    It runs in its own process group so a timeout kills the whole tree: a shell script whose child
    keeps the output pipe open cannot hold codeward past the timeout.
    """
    argv = list(provider.key_command or ())
    found = program(argv[0]) if argv else None  # never a program a command put in the workspace
    timeout = provider.key_command_timeout_ms / 1000
    where = f"key_command of provider '{provider.id}' ({argv[0]})"
    try:
        if found is None:
            raise FileNotFoundError(argv[0] if argv else "")
        proc = subprocess.Popen(
            [found, *argv[1:]],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except FileNotFoundError:
        raise ConfigError(
            f"{where}: program not found; install it or fix providers.{provider.id}.key_command"
        ) from None
    except OSError as e:
        raise ConfigError(f"{where}: cannot run it ({e.strerror})") from None
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        # a grandchild that left the group may still hold the pipe: stop waiting for it after 2 s
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.communicate(timeout=2)
        raise ConfigError(
            f"{where}: no answer within {timeout:g}s; is the secret manager unlocked? "
            f"(raise providers.{provider.id}.key_command_timeout_ms if it needs longer)"
        ) from None
    finally:
        if proc.poll() is None:  # interrupted: leave nothing running
            _kill_group(proc)
            proc.wait()
    if proc.returncode != 0:
        lines = err.decode("utf-8", "replace").strip().splitlines() or ["no error output"]
        raise ConfigError(f"{where}: exited {proc.returncode}: {lines[0][:200]}")
    value = out.decode("utf-8", "replace").strip()
    if not value or "\n" in value:
        raise ConfigError(f"{where}: expected the key as one line on standard output")
    return value


def resolve_key(provider: ProviderConfig) -> KeyResult:
    """Find the key for ``provider``; KeyResult(None, "none") when there is none anywhere."""
    result = _lookup(provider)
    remember_secret(result.value)
    return result


def _lookup(provider: ProviderConfig) -> KeyResult:
    from codeward.auth.authfile import auth_path, read_keys

    if provider.env_key:
        value = os.environ.get(provider.env_key)
        if value and value.strip():
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
