"""The system keychain, through ``keyring`` (Secret Service, macOS Keychain, Windows Credential Locker).

Keys live under service ``codeward`` with the provider id as the user name (DESIGN §2). The
``keyring`` package picks a backend at run time; on a headless Linux box it often has none, or only
``keyring.backends.fail.Keyring`` (every call raises) or the ``null`` backend (stores nothing and
says nothing). Both count as "no usable keychain" here, so ``login`` falls back to ``auth.json``
and says so instead of pretending the key was saved. A store is also read back once: a backend that
accepts a key and then cannot return it is treated as unusable too.

Every call catches the backend's own errors (a locked keychain, D-Bus missing, a plugin that
breaks) and reports them as :class:`KeychainUnavailable` with the backend's name, never with a key.
"""

from __future__ import annotations

from dataclasses import dataclass

from codeward.errors import CodewardError

SERVICE = "codeward"

# backends that exist to say "there is no keychain": using them would lose the key silently
_UNUSABLE_BACKENDS = ("keyring.backends.fail.", "keyring.backends.null.", "keyring.backends.chainer.")


class KeychainUnavailable(CodewardError):
    """No usable keychain backend here, or the backend failed; the caller falls back to the file."""


@dataclass(frozen=True)
class Backend:
    """Which keychain backend ``keyring`` chose, and whether codeward will use it."""

    name: str
    usable: bool
    reason: str = ""
    """Why it is not usable (empty when it is)."""


def _backend_name(obj: object) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__name__}"


def _chainer_is_empty(backend: object) -> bool:
    backends = getattr(backend, "backends", None)
    return not backends


def backend() -> Backend:
    """The backend ``keyring`` selected (honouring ``PYTHON_KEYRING_BACKEND``) and its usability."""
    try:
        import keyring
    except ImportError:  # pragma: no cover - keyring is a dependency; a broken install still must not crash
        return Backend("none", False, "the keyring package is not installed")
    try:
        kr = keyring.get_keyring()
    except Exception as e:  # a broken plugin or config file
        return Backend("unknown", False, f"keyring could not choose a backend ({type(e).__name__})")
    name = _backend_name(kr)
    if name.startswith("keyring.backends.chainer.") and not _chainer_is_empty(kr):
        return Backend(name, True)
    if name.startswith(_UNUSABLE_BACKENDS):
        return Backend(name, False, "no keychain backend available (a headless session without Secret Service?)")
    return Backend(name, True)


def read_key(provider_id: str) -> tuple[str | None, str | None]:
    """(key, backend name) from the keychain; (None, None) when no usable backend or no key."""
    b = backend()
    if not b.usable:
        return None, None
    try:
        import keyring

        value = keyring.get_password(SERVICE, provider_id)
    except Exception:  # locked keychain, D-Bus gone: the next source in the chain is tried
        return None, None
    return (value or None), b.name


def store_key(provider_id: str, key: str) -> str:
    """Store ``key``; return the backend's name. Raises KeychainUnavailable when it cannot be kept."""
    b = backend()
    if not b.usable:
        raise KeychainUnavailable(f"{b.name}: {b.reason}")
    try:
        import keyring

        keyring.set_password(SERVICE, provider_id, key)
        back = keyring.get_password(SERVICE, provider_id)
    except Exception as e:
        raise KeychainUnavailable(f"{b.name} refused the key ({type(e).__name__})") from None
    if back != key:
        raise KeychainUnavailable(f"{b.name} accepted the key but did not return it when read back")
    return b.name


def delete_key(provider_id: str) -> bool:
    """Remove the provider's key; True when one was there. A backend error counts as nothing removed."""
    b = backend()
    if not b.usable:
        return False
    try:
        import keyring

        if keyring.get_password(SERVICE, provider_id) is None:
            return False
        keyring.delete_password(SERVICE, provider_id)
    except Exception:
        return False
    return True
