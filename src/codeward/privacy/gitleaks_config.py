"""Loading rule files: the built-in ``rules.toml`` and users' gitleaks configurations.

A user file always adds to the built-in rules (a scanner with fewer rules than the default is never
what a privacy gate wants by accident). Within that, gitleaks' ``[extend]`` works as in gitleaks:

* ``useDefault = true`` names the default rules, which here are codeward's built-in ones (always
  loaded);
* ``path = "base.toml"`` loads another gitleaks file first (relative to the extending file), at most
  two levels deep as in gitleaks, never in a cycle;
* ``disabledRules = [...]`` removes rules of what the file extends (the built-ins included);
* a ``[[rules]]`` entry with the id of an existing rule merges into it: fields it sets win,
  keywords and allowlists are added.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Sequence
from dataclasses import replace
from importlib import resources
from pathlib import Path

from codeward.errors import ConfigError
from codeward.privacy.rules import RuleDocument, RuleSet, extend, parse_document, ruleset_from

MAX_EXTEND_DEPTH = 2
BUILTIN_NAME = "rules.toml"
BUILTIN_SPAN = 512
"""Built-in rules are written so that a match lies within this many bytes of one of its keywords."""


def read_document(path: Path) -> RuleDocument:
    """Parse one gitleaks-format file; every problem is a ConfigError naming it."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: rules file not found") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read rules file ({e.strerror or e})") from None
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: rules file is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML ({e})") from None
    return parse_document(doc, str(path))


@functools.lru_cache(maxsize=1)
def builtin_ruleset() -> RuleSet:
    """codeward's own rules, parsed once per process."""
    text = resources.files("codeward.privacy").joinpath(BUILTIN_NAME).read_text(encoding="utf-8")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:  # a packaging bug, still one clear line
        raise ConfigError(f"built-in {BUILTIN_NAME}: invalid TOML ({e})") from None
    rs = ruleset_from([parse_document(doc, f"built-in {BUILTIN_NAME}", lazy=True)])
    rules = tuple(r if r.span is not None else replace(r, span=BUILTIN_SPAN) for r in rs.rules)
    return RuleSet(rules=rules, allowlists=rs.allowlists)


def _apply(base: RuleSet, path: Path, depth: int, chain: tuple[Path, ...]) -> RuleSet:
    resolved = path.resolve()
    if resolved in chain:
        raise ConfigError(f"{path}: [extend] path forms a cycle ({' -> '.join(str(p) for p in (*chain, resolved))})")
    doc = read_document(path)
    if doc.extend_path:
        if depth >= MAX_EXTEND_DEPTH:
            raise ConfigError(f"{path}: [extend] path nests deeper than {MAX_EXTEND_DEPTH} files")
        target = Path(doc.extend_path).expanduser()
        if not target.is_absolute():
            target = path.parent / target
        base = _apply(base, target, depth + 1, (*chain, resolved))
    return extend(base, doc)


def load_ruleset(rule_files: Sequence[Path] = ()) -> RuleSet:
    """Built-in rules, then each user file applied on top in order."""
    rs = builtin_ruleset()
    for f in rule_files:
        rs = _apply(rs, Path(f), 0, ())
    return rs
