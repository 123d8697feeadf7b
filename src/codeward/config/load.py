"""Build a :class:`Config` from the layers of DESIGN §2, later wins:

built-in defaults < ``$CODEWARD_HOME/config.toml`` < project ``.codeward/config.toml`` (restrictive keys
only) < ``--profile NAME`` < ``-c dotted.key=VALUE`` < explicit flags.

Each layer is validated on its own, so an error names the file (or flag) it came from, the key and
what was expected. A repository's config can only narrow what the agent may do (DESIGN principle 2):
keys that would widen it are dropped with a notice naming the file and the key.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from codeward.config.home import user_config_path
from codeward.config.model import (
    WIRE_APIS,
    AuditConfig,
    Config,
    HistoryConfig,
    PolicyConfig,
    PolicyEntry,
    PrivacyConfig,
    ProviderConfig,
    SandboxConfig,
)
from codeward.errors import ConfigError
from codeward.modes import APPROVAL_MODES, DEFAULT_MODE, stricter_or_equal

POLICY_KEYS = ("disallow_commands", "allow_commands", "allow_directories", "disallow_directories")


@dataclass
class ConfigOverrides:
    """What the command line says, applied over the files."""

    profile: str | None = None
    dotted: Sequence[str] = ()
    provider: str | None = None
    model: str | None = None
    approval_mode: str | None = None
    allow_network: bool = False


# --------------------------------------------------------------------------------------------
# builtin providers


def builtin_providers() -> dict[str, dict[str, Any]]:
    """Raw tables of the built-in providers; ``OPENAI_BASE_URL`` moves the openai one."""
    return {
        "openai": {
            "name": "OpenAI",
            "base_url": os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1",
            "env_key": "OPENAI_API_KEY",
            "wire_api": "responses",
            "requires_key": True,
        },
        "ollama": {
            "name": "Ollama",
            "base_url": "http://localhost:11434/v1",
            "wire_api": "chat",
            "requires_key": False,
        },
        "lmstudio": {
            "name": "LM Studio",
            "base_url": "http://localhost:1234/v1",
            "wire_api": "chat",
            "requires_key": False,
        },
    }


# --------------------------------------------------------------------------------------------
# validation helpers


class _Where:
    """Names the place a value came from, for error messages."""

    def __init__(self, source: str, prefix: str = "") -> None:
        self.source = source
        self.prefix = prefix

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def sub(self, name: str) -> _Where:
        return _Where(self.source, f"{self.prefix}{name}.")

    def fail(self, name: str, value: Any, expected: str) -> ConfigError:
        shown = repr(value) if not isinstance(value, dict) else "a table"
        return ConfigError(f"{self.source}: {self.key(name)} = {shown}: expected {expected}")


def _str(where: _Where, name: str, v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise where.fail(name, v, "a non-empty string")
    return v


def _bool(where: _Where, name: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise where.fail(name, v, "true or false")
    return v


def _int(lo: int, hi: int) -> Callable[[_Where, str, Any], int]:
    def check(where: _Where, name: str, v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise where.fail(name, v, f"an integer from {lo} to {hi}")
        return v

    return check


def _choice(options: Sequence[str]) -> Callable[[_Where, str, Any], str]:
    def check(where: _Where, name: str, v: Any) -> str:
        if v not in options:
            raise where.fail(name, v, "one of " + ", ".join(options))
        return v

    return check


def _str_list(where: _Where, name: str, v: Any) -> list[str]:
    if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
        raise where.fail(name, v, "a list of non-empty strings")
    return list(v)


def _str_table(where: _Where, name: str, v: Any) -> dict[str, str]:
    if not isinstance(v, dict) or not all(isinstance(x, str) for x in v.values()):
        raise where.fail(name, v, 'a table of string values, like { "X-Team" = "payments" }')
    return dict(v)


def _url(where: _Where, name: str, v: Any) -> str:
    s = _str(where, name, v)
    if not (s.startswith("http://") or s.startswith("https://")):
        raise where.fail(name, v, 'an http:// or https:// URL, like "https://host/v1"')
    return s.rstrip("/")


def _argv(where: _Where, name: str, v: Any) -> list[str]:
    items = _str_list(where, name, v)
    if not items:
        raise where.fail(name, v, 'a non-empty list like ["op", "read", "op://vault/item"]')
    return items


Check = Callable[[_Where, str, Any], Any]

PROVIDER_KEYS: dict[str, tuple[str, Check]] = {
    # key in file -> (canonical key, validator); the seed guide's camelCase and snake_case both work
    "name": ("name", _str),
    "baseURL": ("base_url", _url),
    "base_url": ("base_url", _url),
    "envKey": ("env_key", _str),
    "env_key": ("env_key", _str),
    "wire_api": ("wire_api", _choice(WIRE_APIS)),
    "headers": ("headers", _str_table),
    "http_headers": ("headers", _str_table),
    "query_params": ("query_params", _str_table),
    "key_command": ("key_command", _argv),
    "key_command_timeout_ms": ("key_command_timeout_ms", _int(100, 600_000)),
    "requires_key": ("requires_key", _bool),
    "request_max_retries": ("request_max_retries", _int(0, 100)),
    "stream_max_retries": ("stream_max_retries", _int(0, 100)),
    "stream_idle_timeout_ms": ("stream_idle_timeout_ms", _int(100, 3_600_000)),
    "connect_timeout_ms": ("connect_timeout_ms", _int(100, 600_000)),
}

SECTION_KEYS: dict[str, dict[str, Check]] = {
    "sandbox": {
        "network": _bool,
        "allowed_domains": _str_list,
        "env_passthrough": _str_list,
        "writable_roots": _str_list,
        "timeout_ms": _int(100, 86_400_000),
        "output_cap_bytes": _int(1024, 1 << 30),
        "max_file_size_bytes": _int(1024, 1 << 40),
        "max_processes": _int(16, 1 << 20),
        "tier": _choice(("auto", "bwrap", "landlock", "seatbelt", "none")),
        "unsafe_allow_unsandboxed": _bool,
    },
    "policy": {k: _str_list for k in POLICY_KEYS},
    "privacy": {
        "redact_pii": _bool,
        "rules": lambda w, n, v: [v] if isinstance(v, str) and v.strip() else _str_list(w, n, v),
        "allowlist": _str_list,
    },
    "audit": {"enabled": _bool, "dir": _str, "sink": _str, "require_sink": _bool},
    "history": {"persistence": _choice(("save-all", "none"))},
}

TOP_KEYS: dict[str, Check] = {
    "provider": _str,
    "model": _str,
    "approval_mode": _choice(APPROVAL_MODES),
    "max_steps": _int(1, 10_000),
}


def _validate_layer(raw: dict[str, Any], where: _Where, *, allow_profiles: bool) -> dict[str, Any]:
    """Check one layer's raw table; return it with provider keys made canonical."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key in TOP_KEYS:
            out[key] = TOP_KEYS[key](where, key, value)
        elif key in SECTION_KEYS:
            if not isinstance(value, dict):
                raise where.fail(key, value, f"a [{key}] table")
            sub = where.sub(key)
            table: dict[str, Any] = {}
            for k, v in value.items():
                checks = SECTION_KEYS[key]
                if k not in checks:
                    raise ConfigError(
                        f"{where.source}: unknown key {sub.key(k)}; known keys in [{key}]: " + ", ".join(sorted(checks))
                    )
                table[k] = checks[k](sub, k, v)
            out[key] = table
        elif key == "providers":
            if not isinstance(value, dict):
                raise where.fail(key, value, "[providers.ID] tables")
            out[key] = {pid: _validate_provider(pid, t, where.sub(f"providers.{pid}")) for pid, t in value.items()}
        elif key == "profiles" and allow_profiles:
            if not isinstance(value, dict) or not all(isinstance(t, dict) for t in value.values()):
                raise where.fail(key, value, "[profiles.NAME] tables")
            out[key] = value  # each profile is validated when it is selected
        else:
            known = [*TOP_KEYS, *SECTION_KEYS, "providers", *(["profiles"] if allow_profiles else [])]
            raise ConfigError(f"{where.source}: unknown key {where.key(key)}; known keys: " + ", ".join(known))
    return out


def _validate_provider(pid: str, table: Any, where: _Where) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ConfigError(f"{where.source}: providers.{pid} must be a table like [providers.{pid}]")
    out: dict[str, Any] = {}
    for k, v in table.items():
        if k not in PROVIDER_KEYS:
            raise ConfigError(
                f"{where.source}: unknown key {where.key(k)}; provider keys: name, baseURL, envKey, wire_api, "
                "headers, query_params, key_command"
            )
        canon, check = PROVIDER_KEYS[k]
        out[canon] = check(where, k, v)
    return out


# --------------------------------------------------------------------------------------------
# reading files and flags


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; a syntax error becomes a one-line ConfigError naming the file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise ConfigError(f"{path}: cannot read config: {e.strerror}") from None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: config is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None


def parse_dotted(flag: str) -> dict[str, Any]:
    """``a.b=VALUE`` -> ``{"a": {"b": VALUE}}``; VALUE is parsed as TOML, else taken as a string."""
    if "=" not in flag:
        raise ConfigError(f'-c {flag}: expected KEY=VALUE, like -c approval_mode="auto-edit"')
    key, raw = flag.split("=", 1)
    parts = [p.strip() for p in key.strip().split(".")]
    if not all(parts):
        raise ConfigError(f"-c {flag}: the key {key!r} has an empty part")
    try:
        value: Any = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    out: dict[str, Any] = {}
    cur = out
    for p in parts[:-1]:
        cur = cur.setdefault(p, {})
    cur[parts[-1]] = value
    return out


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in top.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


# --------------------------------------------------------------------------------------------
# narrowing: what a repository's config may change


def _narrow_project(raw: dict[str, Any], current: dict[str, Any], source: str, notices: list[str]) -> dict[str, Any]:
    """Keep only the parts of a project layer that narrow ``current``; note what was dropped."""
    kept: dict[str, Any] = {}

    def drop(key: str, why: str) -> None:
        notices.append(f"ignored {key} from {source}: {why}; set it in your own config.toml or with a flag")

    for key, value in raw.items():
        if key == "model":
            kept["model"] = value
        elif key == "approval_mode":
            if stricter_or_equal(value, current.get("approval_mode", DEFAULT_MODE)):
                kept["approval_mode"] = value
            else:
                drop("approval_mode", "a repository may only choose a stricter approval mode")
        elif key == "max_steps":
            kept["max_steps"] = min(value, current.get("max_steps", Config.max_steps))
        elif key == "policy":
            kept["policy"] = value  # merged as narrowing by the policy engine (user_owned=False)
        elif key == "privacy":
            table = {}
            for k, v in value.items():
                if k == "redact_pii" and v:
                    table[k] = True
                elif k == "rules":
                    # a rules file can disable rules and add allowlists: that would widen, so it is the user's call
                    drop("privacy.rules", "a repository may not load secret-scanner rule files")
                else:
                    drop(f"privacy.{k}", "a repository may only add redaction, never remove it")
            if table:
                kept["privacy"] = table
        elif key == "sandbox":
            cur = current.get("sandbox", {})
            table = {}
            for k, v in value.items():
                if k == "network" and v is False:
                    table[k] = False
                elif k == "allowed_domains":
                    have = cur.get("allowed_domains") or []
                    table[k] = [d for d in v if d in have] if have else v
                elif k in ("timeout_ms", "output_cap_bytes", "max_file_size_bytes", "max_processes"):
                    table[k] = min(v, cur.get(k, getattr(SandboxConfig(), k)))
                else:
                    drop(f"sandbox.{k}", "a repository may not loosen the sandbox")
            if table:
                kept["sandbox"] = table
        elif key == "audit":
            if value.get("enabled") is True and len(value) == 1:
                kept["audit"] = value
            else:
                drop("audit", "a repository may not change where or whether the audit log is written")
        elif key == "history":
            if value.get("persistence") == "none":
                kept["history"] = value
            else:
                drop("history", "a repository may only turn session saving off")
        else:
            drop(key, "a repository may not choose providers, endpoints or keys")
    return kept


# --------------------------------------------------------------------------------------------
# the whole load


def _anchor_rule_paths(layer: dict[str, Any], base: Path) -> dict[str, Any]:
    """Make ``[privacy] rules`` paths absolute, relative to the file (or directory) that named them."""
    rules = layer.get("privacy", {}).get("rules")
    if rules:
        layer["privacy"]["rules"] = [
            str(p if p.is_absolute() else base / p) for p in (Path(r).expanduser() for r in rules)
        ]
    return layer


def find_project_config(cwd: Path) -> Path | None:
    """The nearest ``.codeward/config.toml`` from ``cwd`` up to the repository root (or ``/``)."""
    from codeward.workspace import find_repo_root

    root = find_repo_root(cwd)
    d = cwd.resolve()
    while True:
        candidate = d / ".codeward" / "config.toml"
        if candidate.is_file():
            return candidate
        if d == root or d.parent == d:
            return None
        d = d.parent


def load_config(cwd: Path | None = None, overrides: ConfigOverrides | None = None) -> Config:
    """Read every layer for a run in ``cwd`` and return the validated, merged settings."""
    cwd = (cwd or Path.cwd()).resolve()
    ov = overrides or ConfigOverrides()
    notices: list[str] = []

    user_path = user_config_path()
    user = _validate_layer(read_toml(user_path), _Where(str(user_path)), allow_profiles=True)
    _anchor_rule_paths(user, user_path.parent)
    merged: dict[str, Any] = {k: v for k, v in user.items() if k != "profiles"}
    policy_layers: list[tuple[dict[str, Any], str, bool]] = [(user.get("policy", {}), str(user_path), True)]

    project_path = find_project_config(cwd)
    if project_path is not None:
        proj = _validate_layer(read_toml(project_path), _Where(str(project_path)), allow_profiles=False)
        kept = _narrow_project(proj, merged, str(project_path), notices)
        policy_layers.append((kept.pop("policy", {}), str(project_path), False))
        merged = _deep_merge(merged, kept)

    if ov.profile:
        profiles = user.get("profiles", {})
        if ov.profile not in profiles:
            known = ", ".join(sorted(profiles)) or "none defined"
            raise ConfigError(f"--profile {ov.profile}: no [profiles.{ov.profile}] in {user_path} (profiles: {known})")
        where = _Where(f"{user_path} [profiles.{ov.profile}]")
        prof = _anchor_rule_paths(_validate_layer(profiles[ov.profile], where, allow_profiles=False), user_path.parent)
        policy_layers.append((prof.pop("policy", {}), f"{user_path} [profiles.{ov.profile}]", True))
        merged = _deep_merge(merged, prof)

    for flag in ov.dotted:
        layer = _anchor_rule_paths(_validate_layer(parse_dotted(flag), _Where(f"-c {flag}"), allow_profiles=False), cwd)
        policy_layers.append((layer.pop("policy", {}), f"-c {flag.split('=', 1)[0]}", True))
        merged = _deep_merge(merged, layer)

    explicit = {"provider": ov.provider, "model": ov.model, "approval_mode": ov.approval_mode}
    for key, value in explicit.items():
        if value is not None:
            merged[key] = TOP_KEYS[key](_Where(f"--{key.replace('_', '-')}"), key, value)
    if ov.allow_network:
        merged.setdefault("sandbox", {})
        merged["sandbox"] = {**merged["sandbox"], "network": True}

    return _build(merged, policy_layers, notices, str(user_path))


def provider_from_table(pid: str, t: dict[str, Any]) -> ProviderConfig:
    """A validated, canonical provider table (see PROVIDER_KEYS) as a ProviderConfig."""
    return ProviderConfig(
        id=pid,
        name=t.get("name", pid),
        base_url=t["base_url"],
        env_key=t.get("env_key"),
        wire_api=t.get("wire_api", "chat"),
        headers=t.get("headers", {}),
        query_params=t.get("query_params", {}),
        key_command=tuple(t["key_command"]) if t.get("key_command") else None,
        key_command_timeout_ms=t.get("key_command_timeout_ms", 10_000),
        requires_key=t.get("requires_key", bool(t.get("env_key") or t.get("key_command"))),
        request_max_retries=t.get("request_max_retries", 4),
        stream_max_retries=t.get("stream_max_retries", 3),
        stream_idle_timeout_ms=t.get("stream_idle_timeout_ms", 120_000),
        connect_timeout_ms=t.get("connect_timeout_ms", 10_000),
    )


def _build(
    merged: dict[str, Any],
    policy_layers: list[tuple[dict[str, Any], str, bool]],
    notices: list[str],
    user_path: str,
) -> Config:
    providers_raw = builtin_providers()
    for pid, table in merged.get("providers", {}).items():
        providers_raw[pid] = {**providers_raw.get(pid, {}), **table}
    providers: dict[str, ProviderConfig] = {}
    for pid, t in providers_raw.items():
        if "base_url" not in t:
            raise ConfigError(f"{user_path}: providers.{pid}.baseURL is missing: expected the endpoint's URL")
        providers[pid] = provider_from_table(pid, t)

    provider = merged.get("provider", Config.provider)
    if provider not in providers:
        raise ConfigError(
            f"provider {provider!r} is not defined: add a [providers.{provider}] table to {user_path} "
            f"(known: {', '.join(sorted(providers))})"
        )

    policy = PolicyConfig()
    for table, source, user_owned in policy_layers:
        for key in POLICY_KEYS:
            entries = getattr(policy, key)
            entries.extend(PolicyEntry(p, source, user_owned) for p in table.get(key, []))

    cfg = Config(
        provider=provider,
        model=merged.get("model", Config.model),
        approval_mode=merged.get("approval_mode", Config.approval_mode),
        max_steps=merged.get("max_steps", Config.max_steps),
        providers=providers,
        sandbox=replace(SandboxConfig(), **merged.get("sandbox", {})),
        policy=policy,
        privacy=replace(PrivacyConfig(), **merged.get("privacy", {})),
        audit=replace(AuditConfig(), **merged.get("audit", {})),
        history=replace(HistoryConfig(), **merged.get("history", {})),
        notices=notices,
    )
    return cfg
