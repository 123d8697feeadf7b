"""Checks for single config values, and :class:`Where`, which names the file, line and key of a value.

Every check takes the place it reads from, the key and the raw value, and returns the value in its
canonical form or raises a one-line :class:`ConfigError` that says where the value was written,
what it is and what to write instead (DESIGN §1 principle 4).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from codeward.allowlist import parse_entry
from codeward.errors import ConfigError

Check = Callable[["Where", str, Any], Any]


@dataclass(frozen=True)
class Where:
    """A table being read: its source (a file, ``-c KEY``, ``--flag``), its key path and the lines of its keys.

    ``lines`` maps a key path as written in the file (``("profiles", "fast", "sandbox", "tier")``) to
    its line; ``raw`` is this table's path in the file and ``prefix`` its canonical dotted path.
    """

    source: str
    lines: Mapping[tuple[str, ...], int] = field(default_factory=dict)
    raw: tuple[str, ...] = ()
    prefix: tuple[str, ...] = ()
    label: str = ""

    def key(self, name: str) -> str:
        return ".".join((*self.prefix, name))

    def sub(self, name: str, canonical: str | None = None) -> Where:
        return Where(self.source, self.lines, (*self.raw, name), (*self.prefix, canonical or name), self.label)

    def line(self, name: str) -> int | None:
        path = (*self.raw, name)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None

    def at(self, name: str) -> str:
        """Where ``name`` was written: ``FILE:LINE`` (plus the profile), or the flag."""
        n = self.line(name)
        return f"{self.source}:{n}{self.label}" if n else f"{self.source}{self.label}"

    def fail(self, name: str, value: Any, expected: str) -> ConfigError:
        shown = repr(value) if not isinstance(value, dict) else "a table"
        return ConfigError(f"{self.at(name)}: {self.key(name)} = {shown}: expected {expected}")


def text(where: Where, name: str, v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise where.fail(name, v, "a non-empty string")
    return v


def boolean(where: Where, name: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise where.fail(name, v, "true or false")
    return v


def integer(lo: int, hi: int) -> Check:
    def check(where: Where, name: str, v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise where.fail(name, v, f"an integer from {lo} to {hi}")
        return v

    return check


def choice(options: Sequence[str]) -> Check:
    def check(where: Where, name: str, v: Any) -> str:
        if v not in options:
            raise where.fail(name, v, "one of " + ", ".join(options))
        return str(v)

    return check


def str_list(where: Where, name: str, v: Any) -> list[str]:
    if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
        raise where.fail(name, v, "a list of non-empty strings")
    return list(v)


def str_or_list(where: Where, name: str, v: Any) -> list[str]:
    return [v] if isinstance(v, str) and v.strip() else str_list(where, name, v)


def str_table(where: Where, name: str, v: Any) -> dict[str, str]:
    if not isinstance(v, dict) or not all(isinstance(x, str) for x in v.values()):
        raise where.fail(name, v, 'a table of string values, like { "X-Team" = "payments" }')
    return dict(v)


def url(where: Where, name: str, v: Any) -> str:
    s = text(where, name, v)
    if not (s.startswith("http://") or s.startswith("https://")):
        raise where.fail(name, v, 'an http:// or https:// URL, like "https://host/v1"')
    return s.rstrip("/")


def argv(where: Where, name: str, v: Any) -> list[str]:
    items = str_list(where, name, v)
    if not items:
        raise where.fail(name, v, 'a non-empty list like ["op", "read", "op://vault/item"]')
    return items


def domains(where: Where, name: str, v: Any) -> list[str]:
    """``allowed_domains``: each entry parsed by the proxy's own grammar, so what loads is what runs."""
    items = str_list(where, name, v)
    out: list[str] = []
    for item in items:
        try:
            out.append(str(parse_entry(item)))
        except ValueError as e:
            raise ConfigError(f"{where.at(name)}: {where.key(name)}: entry {e}") from None
    return out
