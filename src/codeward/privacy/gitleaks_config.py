"""Loading rule files: the built-in ``rules.toml`` and users' gitleaks configurations.

A user file always adds to the built-in rules (a scanner with fewer rules than the default is never
what a privacy gate wants by accident). Within that, ``[extend]`` loads as gitleaks loads it:

* ``path = "base.toml"`` loads another gitleaks file first. gitleaks opens the path as given, so
  a relative one is relative to the working directory; codeward looks beside the extending file
  first and only then in the working directory (a deliberate difference: codeward's working
  directory is the workspace, where a command may write a file of that name, red team rt15; and the
  same configuration then also loads from any directory).
* Depth: as in gitleaks, a file may extend one that extends one more (two ``[extend]`` hops); the
  ``[extend]`` of a file at that depth is not followed (gitleaks' own test data relies on this).
  A cycle is an error.
* ``useDefault = true`` names gitleaks' default rules, which here are codeward's built-in ones
  (always loaded). A ``[[rules]]`` entry with the id of one of gitleaks' default rules that
  codeward names differently (``generic-api-key`` is ``generic-secret``, see :data:`DEFAULT_ALIASES`)
  refines that built-in rule when it brings no regex or path of its own; with one, it is added as a
  rule of its own. ``path`` and ``useDefault`` together are refused, as gitleaks refuses them.
* ``disabledRules = [...]`` removes rules of what the file extends (the built-ins included, by
  their codeward or gitleaks ids).
* A ``[[rules]]`` entry with the id of an existing rule merges into it: regex, path, entropy,
  secretGroup and description it sets win, keywords, tags and allowlists are added (gitleaks').
* Two entries with one id in one file: the later replaces the earlier (gitleaks').
* ``[allowlist]`` beside ``[[allowlists]]`` (or the rule-level pair) is refused, as in gitleaks.

Where codeward deliberately differs (checked against every file of gitleaks' testdata/config):
the built-in rules are always loaded, so a ``targetRules`` naming a default rule resolves even
without ``useDefault``; a new rule with neither regex nor path is an error (it could never match);
``[extend] url`` is refused (no network); and the fallback for ``[extend] path`` above.
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

DEFAULT_ALIASES: dict[str, str] = {
    # gitleaks default rule id -> the built-in rule that covers its tokens
    "generic-api-key": "generic-secret",
    "aws-access-token": "aws-access-key-id",
    "aws-amazon-bedrock-api-key-long-lived": "aws-bedrock-api-key",
    "aws-amazon-bedrock-api-key-short-lived": "aws-bedrock-short-lived-key",
    "airtable-personnal-access-token": "airtable-personal-access-token",
    "bittrex-access-key": "bittrex-key",
    "bittrex-secret-key": "bittrex-key",
    "confluent-access-token": "confluent-key",
    "confluent-secret-key": "confluent-key",
    "curl-auth-header": "authorization-header",
    "curl-auth-user": "cli-user-password",
    "digitalocean-access-token": "digitalocean-token",
    "digitalocean-pat": "digitalocean-token",
    "digitalocean-refresh-token": "digitalocean-token",
    "dropbox-long-lived-api-token": "dropbox-api-token",
    "dropbox-short-lived-api-token": "dropbox-api-token",
    "easypost-test-api-token": "easypost-api-token",
    "finicity-api-token": "finicity-secret",
    "finicity-client-secret": "finicity-secret",
    "flutterwave-encryption-key": "flutterwave-secret-key",
    "flutterwave-public-key": "flutterwave-secret-key",
    "gitlab-runner-authentication-token": "gitlab-runner-token",
    "gitlab-runner-authentication-token-routable": "gitlab-runner-token",
    "jfrog-identity-token": "jfrog-api-key",
    "jwt-base64": "jwt",
    "lob-pub-api-key": "lob-api-key",
    "mapbox-api-token": "mapbox-secret-token",
    "nuget-config-password": "xml-password-value",
    "planetscale-api-token": "planetscale-token",
    "planetscale-oauth-token": "planetscale-token",
    "planetscale-password": "planetscale-token",
    "sendbird-access-id": "sendbird-access",
    "sendbird-access-token": "sendbird-access",
    "settlemint-application-access-token": "settlemint-token",
    "settlemint-personal-access-token": "settlemint-token",
    "settlemint-service-access-token": "settlemint-token",
    "shopify-access-token": "shopify-token",
    "shopify-custom-access-token": "shopify-token",
    "shopify-private-app-access-token": "shopify-token",
    "shopify-shared-secret": "shopify-token",
    "sidekiq-sensitive-url": "sidekiq-secret",
    "twitter-access-secret": "twitter-access-token",
    "twitter-api-key": "twitter-key",
    "twitter-api-secret": "twitter-key",
}
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


def _resolve_extend(path: Path, target: str) -> Path:
    """Where ``[extend] path`` points: beside ``path`` first, then the working directory (where
    gitleaks looks). Not the other way round: codeward's working directory is the workspace, where a
    command may write a file of that name to replace the rules the user extends (red team rt15)."""
    t = Path(target).expanduser()
    if t.is_absolute():
        return t
    for cand in (path.parent / t, Path.cwd() / t):
        if cand.is_file():
            return cand
    raise ConfigError(
        f"{path}: [extend] path {target!r} not found (looked in {path.parent} and in the working directory, "
        "where gitleaks looks)"
    )


def _apply(base: RuleSet, path: Path, depth: int, chain: tuple[Path, ...]) -> RuleSet:
    resolved = path.resolve()
    if resolved in chain:
        raise ConfigError(f"{path}: [extend] path forms a cycle ({' -> '.join(str(p) for p in (*chain, resolved))})")
    doc = read_document(path)
    if doc.extend_path and depth < MAX_EXTEND_DEPTH:
        base = _apply(base, _resolve_extend(path, doc.extend_path), depth + 1, (*chain, resolved))
    return extend(base, doc, DEFAULT_ALIASES)


def rule_sources(rule_files: Sequence[Path]) -> list[Path]:
    """Every file :func:`load_ruleset` would read for ``rule_files``: each one and what it extends,
    resolved as the loader resolves it now (the working directory first). A file that cannot be
    read or parsed ends its chain here; the loader reports it."""
    out: list[Path] = []
    for f in rule_files:
        path, depth = Path(f), 0
        while True:
            out.append(path)
            try:
                doc = read_document(path)
                if (
                    not doc.extend_path
                    or depth >= MAX_EXTEND_DEPTH
                    or path.resolve() in (p.resolve() for p in out[:-1])
                ):
                    break
                path, depth = _resolve_extend(path, doc.extend_path), depth + 1
            except (ConfigError, OSError):
                break
    return out


def load_ruleset(rule_files: Sequence[Path] = ()) -> RuleSet:
    """Built-in rules, then each user file applied on top in order."""
    rs = builtin_ruleset()
    for f in rule_files:
        rs = _apply(rs, Path(f), 0, ())
    return rs
