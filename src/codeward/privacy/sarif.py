"""``codeward scan --format sarif``: SARIF 2.1.0 as GitHub code scanning reads it.

What GitHub documents and this module provides: each rule has ``shortDescription``,
``fullDescription.text`` and ``help.text``, ``properties.security-severity`` (a number as a string)
and the ``security`` tag; each result points at a *relative*, percent-encoded URI under
``%SRCROOT%`` (also when an absolute path was scanned), with ``startLine``/``startColumn``/
``endLine``/``endColumn``, and carries ``partialFingerprints.primaryLocationLineHash`` so GitHub can
follow an alert across commits. No secret text is written: no snippet, and the line hash is taken
over the line with the secret replaced by the rule id (a hash of the raw line would let anyone
brute-force a weak password from the report).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

HELP = (
    "A credential is written in this file. Remove it from the file and from the git history "
    "(git filter-repo), rotate it at its issuer, and load it at run time from the environment or a "
    "secret manager. If it is a deliberate test value, add 'codeward:allow' to the line."
)
LOW_SEVERITY_PREFIXES = ("generic-", "password-", "pii-", "jwt", "login-call", "libpq-", "connection-string")


class SarifResult(Protocol):
    @property
    def path(self) -> str: ...
    @property
    def line(self) -> int: ...
    @property
    def column(self) -> int: ...
    @property
    def end_line(self) -> int: ...
    @property
    def end_column(self) -> int: ...
    @property
    def rule(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def fingerprint(self) -> str: ...
    @property
    def line_hash(self) -> str: ...


def severity(rule_id: str) -> str:
    """GitHub's security-severity: 9.0 for issuer tokens and keys, 6.5 for shape-less findings."""
    return "6.5" if rule_id.startswith(LOW_SEVERITY_PREFIXES) else "9.0"


def source_root(results: Sequence[SarifResult], cwd: Path) -> Path:
    """The directory URIs are relative to: the git repository holding every result (found from the
    first result, then from the working directory), else the deepest directory they share."""
    from codeward.workspace import find_repo_root

    paths = [Path(os.path.realpath(r.path)) for r in results]
    for start in (paths[0].parent, cwd):
        root = find_repo_root(start).resolve()
        if (root / ".git").exists() and all(p.is_relative_to(root) for p in paths):
            return root
    return Path(os.path.commonpath([str(p.parent) for p in paths]))


def uri(path: str, root: Path) -> str:
    rel = Path(os.path.realpath(path)).relative_to(root).as_posix()
    raw = rel.encode("utf-8", "surrogateescape")
    return quote(raw, safe="/")


def render(results: Sequence[SarifResult], version: str, cwd: Path) -> dict[str, Any]:
    rule_ids: dict[str, int] = {}
    rules: list[dict[str, Any]] = []
    for r in results:
        if r.rule not in rule_ids:
            rule_ids[r.rule] = len(rules)
            rules.append(
                {
                    "id": r.rule,
                    "name": "".join(w.capitalize() for w in r.rule.replace(".", "-").split("-")) or r.rule,
                    "shortDescription": {"text": r.description},
                    "fullDescription": {"text": f"{r.description}: a secret found by codeward's rule {r.rule}."},
                    "help": {"text": HELP, "markdown": HELP},
                    "defaultConfiguration": {"level": "error"},
                    "properties": {
                        "tags": ["security", "secret", "external/cwe/cwe-798"],
                        "precision": "high" if severity(r.rule) == "9.0" else "medium",
                        "security-severity": severity(r.rule),
                    },
                }
            )
    root = source_root(results, cwd) if results else cwd.resolve()
    counts: dict[tuple[str, str], int] = {}
    out = []
    for r in results:
        key = (r.path, r.line_hash)
        counts[key] = counts.get(key, 0) + 1
        out.append(
            {
                "ruleId": r.rule,
                "ruleIndex": rule_ids[r.rule],
                "level": "error",
                "message": {"text": f"{r.description} ({r.rule}); the value is not shown."},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": uri(r.path, root), "uriBaseId": "%SRCROOT%"},
                            "region": {
                                "startLine": r.line,
                                "startColumn": r.column,
                                "endLine": max(r.end_line, r.line),
                                "endColumn": max(r.end_column, 1),
                            },
                        }
                    }
                ],
                "partialFingerprints": {
                    "primaryLocationLineHash": f"{r.line_hash or r.fingerprint}:{counts[key]}",
                    "codeward/v1": r.fingerprint,
                },
            }
        )
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "codeward",
                        "version": version,
                        "informationUri": "https://github.com/codeward/codeward",
                        "rules": rules,
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": root.as_uri() + "/"}},
                "results": out,
            }
        ],
    }


def line_hash(text: str, start: int, end: int, rule_id: str) -> str:
    """A hash of the finding's first line with the secret replaced by the rule id (16 hex digits)."""
    ls = text.rfind("\n", 0, start) + 1
    le = text.find("\n", start)
    le = len(text) if le < 0 else le
    line = text[ls:start] + f"<{rule_id}>" + (text[end:le] if end <= le else "")
    return hashlib.sha256(" ".join(line.split()).encode("utf-8", "surrogatepass")).hexdigest()[:16]
