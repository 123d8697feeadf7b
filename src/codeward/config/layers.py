"""One layer of config (a file, a profile, the ``-c`` flags): its raw tables checked and flattened.

A :class:`Layer` holds canonical dotted keys (``sandbox.allowed_domains``,
``providers.local.base_url``) with their checked values and, for each, the origin shown by
``codeward config explain`` (``/home/me/.codeward/config.toml:7``, ``-c model``). Flat keys make
merging, narrowing and explaining the same simple loop for every key.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeward.config.keys import KEYS, PROVIDER_ALIASES, PROVIDER_KEYS, SECTIONS, TABLE_KEYS
from codeward.config.values import Where
from codeward.errors import ConfigError


@dataclass
class Layer:
    """Checked values of one source, by canonical dotted key, and where each was written."""

    name: str
    values: dict[str, Any] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)
    user_owned: bool = True
    profiles: dict[str, Any] = field(default_factory=dict)
    """Raw ``[profiles.NAME]`` tables (only in a file; checked when one is selected)."""

    def set(self, key: str, value: Any, origin: str) -> None:
        self.values[key] = value
        self.origins[key] = origin


def _unknown(where: Where, key: str, known: Iterable[str], table: str | None = None) -> ConfigError:
    known = sorted(known)
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    where_known = f"known keys in [{table}]" if table else "known keys"
    return ConfigError(f"{where.at(key)}: unknown key {where.key(key)}{hint}; {where_known}: " + ", ".join(known))


def _table(where: Where, key: str, value: Any, example: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise where.fail(key, value, example)
    return value


def _providers(layer: Layer, where: Where, value: Any) -> None:
    for pid, table in _table(where, "providers", value, "[providers.ID] tables").items():
        at = where.sub("providers").sub(pid)
        if not isinstance(table, dict):
            raise ConfigError(f"{at.at(pid)}: providers.{pid} must be a table like [providers.{pid}]")
        layer.origins.setdefault(f"providers.{pid}", where.sub("providers").at(pid))
        for k, v in table.items():
            canon = PROVIDER_ALIASES.get(k, k)
            if canon not in PROVIDER_KEYS:
                known = [*PROVIDER_KEYS, *PROVIDER_ALIASES]
                raise _unknown(at, k, known, f"providers.{pid}")
            layer.set(f"providers.{pid}.{canon}", PROVIDER_KEYS[canon].check(at, k, v), at.at(k))


def _anchor(rules: list[str], base: Path) -> list[str]:
    """``[privacy] rules`` paths become absolute, relative to the file (or directory) that named them."""
    return [str(p if p.is_absolute() else base / p) for p in (Path(r).expanduser() for r in rules)]


def flatten(raw: dict[str, Any], where: Where, name: str, *, base_dir: Path, user_owned: bool = True) -> Layer:
    """Check every key of ``raw`` against the table of keys and return the flat layer.

    An unknown key or a bad value is a ConfigError naming the place, the key and what to write.
    """
    layer = Layer(name, user_owned=user_owned)
    for key, value in raw.items():
        if key == "providers":
            _providers(layer, where, value)
        elif key == "profiles":
            tables = _table(where, key, value, "[profiles.NAME] tables")
            if not all(isinstance(t, dict) for t in tables.values()):
                raise where.fail(key, value, "[profiles.NAME] tables")
            layer.profiles = tables
            layer.origins["profiles"] = where.at(key)
        elif key in SECTIONS:
            sub = where.sub(key)
            for k, v in _table(where, key, value, f"a [{key}] table").items():
                dotted = f"{key}.{k}"
                if dotted not in KEYS:
                    raise _unknown(sub, k, [x.split(".", 1)[1] for x in KEYS if x.startswith(f"{key}.")], key)
                checked = KEYS[dotted].check(sub, k, v)
                if dotted == "privacy.rules":
                    checked = _anchor(checked, base_dir)
                layer.set(dotted, checked, sub.at(k))
        elif key in KEYS:
            layer.set(key, KEYS[key].check(where, key, value), where.at(key))
        else:
            raise _unknown(where, key, [*(k for k in KEYS if "." not in k), *SECTIONS, *TABLE_KEYS])
    return layer
