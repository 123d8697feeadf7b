"""The environment a sandboxed command gets: built from an allowlist, never from the agent's own.

Denylists leak: every new tool brings a new ``*_TOKEN`` variable. So only the names below cross,
plus the ones the user listed in ``[sandbox] env_passthrough``, and even those are refused when
their name looks like a credential. A key can therefore not reach a command by configuration
mistake; the user would have to rename the variable to hand it over, deliberately.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence

from codeward.errors import ConfigError

ALLOWED_NAMES: tuple[str, ...] = ("PATH", "HOME", "LANG", "TERM", "TMPDIR", "USER", "SHELL")
ALLOWED_PREFIXES: tuple[str, ...] = ("LC_",)

# Name fragments that mark a variable as a credential (compared case-insensitively).
CREDENTIAL_MARKERS: tuple[str, ...] = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL")
# Variables that are no secret by name but hand over signing or session power.
CREDENTIAL_NAMES: tuple[str, ...] = ("SSH_AUTH_SOCK", "GPG_AGENT_INFO", "DBUS_SESSION_BUS_ADDRESS", "KRB5CCNAME")

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


def credential_reason(name: str, extra_keys: Iterable[str] = ()) -> str | None:
    """Why ``name`` may not be passed into a sandbox, or None when it may."""
    upper = name.upper()
    if name in CREDENTIAL_NAMES:
        return "it hands over an agent or session the sandbox hides on purpose"
    if name in extra_keys:
        return "it is a model provider's API key variable"
    for marker in CREDENTIAL_MARKERS:
        if marker in upper:
            return f"its name contains {marker}, so it looks like a credential"
    return None


def check_passthrough(names: Sequence[str], *, extra_keys: Iterable[str] = (), source: str = "") -> None:
    """Raise ConfigError for the first passthrough name that is malformed or looks like a credential."""
    extra = set(extra_keys)
    where = f"{source}: " if source else ""
    for name in names:
        if not isinstance(name, str) or not _NAME.match(name):
            raise ConfigError(
                f"{where}sandbox.env_passthrough: {name!r} is not an environment variable name (letters, digits, _)"
            )
        why = credential_reason(name, extra)
        if why is not None:
            raise ConfigError(
                f"{where}sandbox.env_passthrough: {name} is refused because {why}; commands never get keys. "
                "Remove it from [sandbox] env_passthrough"
            )


def clean_path(value: str | None) -> str:
    """PATH without empty or relative entries, which would run whatever sits in the current directory."""
    if not value:
        return DEFAULT_PATH
    parts = [p for p in value.split(os.pathsep) if p and os.path.isabs(p)]
    seen: list[str] = []
    for p in parts:
        if p not in seen:
            seen.append(p)
    return os.pathsep.join(seen) or DEFAULT_PATH


def child_env(
    passthrough: Sequence[str] = (),
    *,
    home: str | None = None,
    tmpdir: str | None = None,
    source: Mapping[str, str] | None = None,
    extra_keys: Iterable[str] = (),
) -> dict[str, str]:
    """The environment for a sandboxed command.

    Only PATH, HOME, LANG, LC_*, TERM, TMPDIR, USER, SHELL and the ``passthrough`` names are
    copied from ``source`` (default: this process's environment). ``home`` and ``tmpdir`` replace
    HOME and TMPDIR with the sandbox's own. A passthrough name that looks like a credential (or is
    a provider's ``envKey``) raises ConfigError: never a key.
    """
    check_passthrough(passthrough, extra_keys=extra_keys)
    src = os.environ if source is None else source
    env: dict[str, str] = {}
    for name, value in src.items():
        if name in ALLOWED_NAMES:
            env[name] = value
        elif name.startswith(ALLOWED_PREFIXES) and credential_reason(name) is None:
            env[name] = value  # LC_* is a known way to smuggle values through ssh; keys still stay out
    for name in passthrough:
        if name in src:
            env[name] = src[name]
    env["PATH"] = clean_path(env.get("PATH"))
    if "USER" not in env:
        try:
            import pwd

            env["USER"] = pwd.getpwuid(os.getuid()).pw_name
        except (KeyError, ImportError):
            pass
    if home is not None:
        env["HOME"] = home
    if tmpdir is not None:
        env["TMPDIR"] = tmpdir
    return env
