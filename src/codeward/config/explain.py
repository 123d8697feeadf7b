"""What ``codeward config explain`` shows: each effective value, where it came from, its trust class,
and what a repository tried to set and was refused. Pure: a :class:`Config` in, rows out.

Header values and query parameters can hold credentials, so only their names are shown.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from codeward.config.keys import KEYS, PROVIDER_KEYS, describe
from codeward.config.model import Config, ProviderConfig

_HIDDEN_VALUES = frozenset({"headers", "query_params"})


@dataclass(frozen=True)
class Row:
    key: str
    value: Any
    origin: str
    trust: str

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value, "origin": self.origin, "trust": self.trust}


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, list):
        return [getattr(v, "pattern", v) for v in value]
    return value


def _value(config: Config, key: str) -> Any:
    section, _, name = key.partition(".")
    return _plain(getattr(getattr(config, section), name) if name else getattr(config, key))


def _provider_rows(config: Config, p: ProviderConfig, full: bool) -> list[Row]:
    rows = []
    for f in fields(ProviderConfig):
        if f.name == "id":
            continue
        key = f"providers.{p.id}.{f.name}"
        if not full and key not in config.origins:
            continue
        value = _plain(getattr(p, f.name))
        if f.name in _HIDDEN_VALUES and value:
            value = {k: "(hidden)" for k in value}
        rows.append(Row(key, value, config.origins.get(key, "built-in default"), describe(PROVIDER_KEYS[f.name])))
    return rows


def rows(config: Config) -> list[Row]:
    """Every key of the table with its effective value, then the providers (the active one in full)."""
    out = [
        Row(k, _value(config, k), config.origins.get(k, "built-in default"), describe(spec)) for k, spec in KEYS.items()
    ]
    for pid, p in sorted(config.providers.items(), key=lambda kv: (kv[0] != config.provider, kv[0])):
        out.extend(_provider_rows(config, p, full=pid == config.provider))
    return out


def refused(config: Config) -> list[dict[str, Any]]:
    return [{"key": r.key, "value": r.value, "origin": r.origin, "why": r.why} for r in config.refusals]
