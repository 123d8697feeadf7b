"""Where config comes from: TOML files (with the line of each key), ``-c`` flags, the project file.

``tomllib`` gives no positions, so :func:`key_lines` scans the text for table headers and
``key =`` lines; it only has to find lines in a file ``tomllib`` has already accepted, and when it
cannot place a key (a key inside an inline table) the key's table line is used instead.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeward.errors import ConfigError

_PART = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_DOTTED = rf"{_PART}(?:\s*\.\s*{_PART})*"
_HEADER = re.compile(rf"^\s*\[\[?\s*({_DOTTED})\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(rf"^\s*({_DOTTED})\s*=")
_STRINGS = re.compile(r""""(?:[^"\\]|\\.)*"|'[^']*'""")


@dataclass(frozen=True)
class TomlFile:
    """A parsed TOML file and the line where each key path was first written."""

    path: Path
    data: dict[str, Any] = field(default_factory=dict)
    lines: dict[tuple[str, ...], int] = field(default_factory=dict)


def _parts(dotted: str) -> tuple[str, ...]:
    out = []
    for p in re.findall(_PART, dotted):
        if p[0] in "\"'":
            p = p[1:-1].encode().decode("unicode_escape") if p[0] == '"' else p[1:-1]
        out.append(p)
    return tuple(out)


def key_lines(text: str) -> dict[tuple[str, ...], int]:
    """``("sandbox", "allowed_domains") -> 7`` for every table header and ``key =`` line of ``text``."""
    out: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    open_string: str | None = None
    depth = 0
    for n, line in enumerate(text.splitlines(), 1):
        if open_string is not None:
            if open_string in line:
                open_string = None
            continue
        if depth > 0:
            bare = _STRINGS.sub("", line.split("#", 1)[0])
            depth += bare.count("[") + bare.count("{") - bare.count("]") - bare.count("}")
            continue
        if m := _HEADER.match(line):
            table = _parts(m[1])
            out.setdefault(table, n)
            continue
        if m := _KEY.match(line):
            path = (*table, *_parts(m[1]))
            for i in range(len(table) + 1, len(path) + 1):
                out.setdefault(path[:i], n)
            rest = line[m.end() :]
            for quote in ('"""', "'''"):
                if rest.count(quote) == 1:
                    open_string = quote
            if open_string is None:
                bare = _STRINGS.sub("", rest).split("#", 1)[0]
                depth = bare.count("[") + bare.count("{") - bare.count("]") - bare.count("}")
    return out


def read_toml(path: Path) -> TomlFile:
    """Parse a TOML file (absent: empty); a syntax error becomes a one-line ConfigError naming the file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return TomlFile(path)
    except OSError as e:
        raise ConfigError(f"{path}: cannot read config: {e.strerror}") from None
    try:
        text = data.decode("utf-8")
        return TomlFile(path, tomllib.loads(text), key_lines(text))
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
