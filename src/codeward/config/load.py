"""Build a :class:`Config` from the layers of DESIGN §2, later wins:

built-in defaults < ``$CODEWARD_HOME/config.toml`` < project ``.codeward/config.toml`` (narrowing
only) < ``--profile NAME`` < ``-c dotted.key=VALUE`` < explicit flags.

Each layer is checked on its own (:mod:`codeward.config.layers`), so an error names the file and
line (or flag) it came from, the key and what was expected. The repository's layer passes through
the table of trust (:mod:`codeward.config.narrow`) first. The result records where every value
came from (``Config.origins``) and what the repository was refused (``Config.refusals``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from codeward.config.keys import KEYS, POLICY_KEYS
from codeward.config.layers import Layer, flatten
from codeward.config.model import (
    AuditConfig,
    Config,
    HistoryConfig,
    PolicyConfig,
    PolicyEntry,
    PrivacyConfig,
    ProviderConfig,
    Refusal,
    SandboxConfig,
)
from codeward.config.narrow import narrow
from codeward.config.providers import builtin_providers, provider_from_table
from codeward.config.sources import find_project_config, parse_dotted, read_toml
from codeward.config.values import Where
from codeward.errors import ConfigError
from codeward.home import user_config_path

__all__ = [
    "ConfigOverrides",
    "builtin_providers",
    "find_project_config",
    "load_config",
    "parse_dotted",
    "provider_from_table",
]

DEFAULT_ORIGIN = "built-in default"
_SECTIONS: dict[str, type] = {
    "sandbox": SandboxConfig,
    "privacy": PrivacyConfig,
    "audit": AuditConfig,
    "history": HistoryConfig,
}


@dataclass
class ConfigOverrides:
    """What the command line says, applied over the files."""

    profile: str | None = None
    dotted: Sequence[str] = ()
    provider: str | None = None
    model: str | None = None
    approval_mode: str | None = None
    allow_network: bool = False
    # how the user chose the directory (codeward.workspace.choose_root): -C DIR, --workspace DIR
    workspace_named: bool = False
    workspace_explicit: bool = False


def default_value(key: str) -> Any:
    """The built-in default of a dotted key of the table (``sandbox.timeout_ms`` -> 120000)."""
    section, _, name = key.partition(".")
    if not name:
        return getattr(Config(), key)
    if section == "policy":
        return []
    return getattr(_SECTIONS[section](), name)


def _builtin_layer() -> Layer:
    layer = Layer(DEFAULT_ORIGIN)
    for pid, table in builtin_providers().items():
        for k, v in table.items():
            env_url = pid == "openai" and k == "base_url" and os.environ.get("OPENAI_BASE_URL")
            layer.set(f"providers.{pid}.{k}", v, "$OPENAI_BASE_URL" if env_url else "built-in provider")
    return layer


def _effective(layers: Sequence[Layer], key: str) -> Any:
    for layer in reversed(layers):
        if key in layer.values:
            return layer.values[key]
    return default_value(key)


def _profile_layer(user: Layer, user_path: Path, lines: Any, name: str) -> Layer:
    if name not in user.profiles:
        known = ", ".join(sorted(user.profiles)) or "none defined"
        raise ConfigError(f"--profile {name}: no [profiles.{name}] in {user_path} (profiles: {known})")
    where = Where(str(user_path), lines, raw=("profiles", name), label=f" (profile {name})")
    layer = flatten(user.profiles[name], where, f"profile {name}", base_dir=user_path.parent)
    if layer.profiles:
        raise ConfigError(f"{where.at('profiles')}: profiles cannot be nested inside [profiles.{name}]")
    return layer


def _flag_layers(ov: ConfigOverrides, cwd: Path) -> list[Layer]:
    out = []
    for flag in ov.dotted:
        key = flag.split("=", 1)[0].strip()
        layer = flatten(parse_dotted(flag), Where(f"-c {key}"), f"-c {key}", base_dir=cwd)
        if layer.profiles:
            raise ConfigError(f"-c {key}: profiles can only be defined in your config.toml")
        out.append(layer)
    flags = Layer("flags")
    for key, value in {"provider": ov.provider, "model": ov.model, "approval_mode": ov.approval_mode}.items():
        if value is not None:
            origin = f"--{key.replace('_', '-')}"
            flags.set(key, KEYS[key].check(Where(origin), key, value), origin)
    if ov.allow_network:
        flags.set("sandbox.network", True, "--allow-network")
    out.append(flags)
    return out


def load_config(cwd: Path | None = None, overrides: ConfigOverrides | None = None) -> Config:
    """Read every layer for a run in ``cwd`` and return the checked, merged, explained settings."""
    cwd = (cwd or Path.cwd()).resolve()
    ov = overrides or ConfigOverrides()

    user_path = user_config_path()
    user_file = read_toml(user_path)
    user = flatten(user_file.data, Where(str(user_path), user_file.lines), str(user_path), base_dir=user_path.parent)
    layers = [_builtin_layer(), user]
    refusals: list[Refusal] = []

    for path, prefix in _project_configs(cwd):
        if path.resolve() == user_path.resolve():  # run in ~ itself: it is yours
            continue
        pf = read_toml(path)
        raw = flatten(pf.data, Where(str(path), pf.lines), str(path), base_dir=path.parent)
        if prefix:
            _move_directories(raw, prefix)
        kept, refused = narrow(raw, lambda key: _effective(layers, key))
        layers.append(kept)
        refusals.extend(refused)

    if ov.profile:
        layers.append(_profile_layer(user, user_path, user_file.lines, ov.profile))
    layers.extend(_flag_layers(ov, cwd))
    return _build(layers, refusals, str(user_path))


def _project_configs(cwd: Path) -> list[tuple[Path, str]]:
    """Every ``.codeward/config.toml`` that applies in ``cwd``, outermost first, each a narrowing layer.

    Those of the projects enclosing the repository of ``cwd`` come first, each with the repository's
    path from that project (``vendor/lib``), so a nested repository keeps the narrowing its enclosing
    projects wrote (:func:`codeward.workspace.enclosing_project_dirs`); then every one from the
    repository root down to ``cwd`` (``""``: written from this root). Each only narrows what the
    ones before it left, so a file nearer the cwd can add restrictions but never shadow the root's.
    """
    from codeward.workspace import enclosing_project_dirs, find_repo_root

    root = find_repo_root(cwd)
    out = []
    for d in enclosing_project_dirs(root):
        f = d / ".codeward" / "config.toml"
        if f.is_file():
            out.append((f, root.relative_to(d).as_posix()))
    inside = [d for d in (cwd, *cwd.parents) if d == root or root in d.parents]
    out += [
        (d / ".codeward" / "config.toml", "") for d in reversed(inside) if (d / ".codeward" / "config.toml").is_file()
    ]
    return out


def _move_directories(raw: Layer, prefix: str) -> None:
    """Re-write an enclosing project's ``[policy]`` directory lists from the nested root at ``prefix``."""
    from codeward.config.enclosing import moved_entry, nothing_allowed

    for key in ("policy.disallow_directories", "policy.allow_directories"):
        if key in raw.values:
            entries = list(raw.values[key])
            moved = [m for e in entries for m in moved_entry(key, e, prefix)]
            if entries and not moved and key.endswith(".allow_directories"):
                raise nothing_allowed(entries, prefix, raw.origins[key])
            raw.values[key] = moved


def _merge(layers: Sequence[Layer]) -> tuple[dict[str, Any], dict[str, str], PolicyConfig]:
    """Later layers win for values; policy lists from every layer add up, each entry with its origin."""
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    policy = PolicyConfig()
    for layer in layers:
        for key, value in layer.values.items():
            section, _, name = key.partition(".")
            if section == "policy":
                getattr(policy, name).extend(PolicyEntry(p, layer.origins[key], layer.user_owned) for p in value)
                origins[key] = ", ".join(filter(None, (origins.get(key), layer.origins[key])))
            else:
                values[key] = value
                origins[key] = layer.origins[key]
    return values, origins, policy


def _providers(values: dict[str, Any], user_path: str) -> dict[str, ProviderConfig]:
    tables: dict[str, dict[str, Any]] = {}
    for key, value in values.items():
        if key.startswith("providers."):
            _, pid, name = key.split(".", 2)
            tables.setdefault(pid, {})[name] = value
    out = {}
    for pid, t in tables.items():
        if "base_url" not in t:
            raise ConfigError(f"{user_path}: providers.{pid}.baseURL is missing: expected the endpoint's URL")
        out[pid] = provider_from_table(pid, t)
    return out


def _build(layers: Sequence[Layer], refusals: list[Refusal], user_path: str) -> Config:
    values, origins, policy = _merge(layers)
    providers = _providers(values, user_path)
    provider = values.get("provider", Config.provider)
    if provider not in providers:
        raise ConfigError(
            f"provider {provider!r} is not defined: add a [providers.{provider}] table to {user_path} "
            f"(known: {', '.join(sorted(providers))})"
        )
    for key in KEYS:
        origins.setdefault(key, DEFAULT_ORIGIN)
    top = {f.name: values[f.name] for f in fields(Config) if f.name in values and f.name in KEYS}
    sections = {
        name: replace(cls(), **{k.split(".", 1)[1]: v for k, v in values.items() if k.startswith(f"{name}.")})
        for name, cls in _SECTIONS.items()
    }
    return Config(
        **top,
        providers=providers,
        policy=policy,
        **sections,
        notices=[r.notice() for r in refusals],
        origins=dict(sorted(origins.items())),
        refusals=refusals,
    )


assert set(POLICY_KEYS) == {f.name for f in fields(PolicyConfig)}  # the table and the model name the same lists
