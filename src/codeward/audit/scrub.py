"""Keep secrets out of audit records, whatever reaches the log.

The events that feed the log are meant to hold nothing secret already (the gate redacts what goes
out; commands and paths are the model's own requests). This is the defensive second line: every
string of a record is

1. searched for each key this process holds (:func:`codeward.auth.keys.known_secrets`), which is
   replaced by ``[REDACTED:api-key]`` wherever it appears, even inside a longer string;
2. run through the secret scanner; each finding becomes ``<redacted:RULE>``.

If the scanner fails on a string, that string is replaced by ``<unscanned>`` (fail closed): the log
loses a detail rather than gaining a secret. Hash fields (64 hex characters under a known name) are
left alone, since they are digests the log must keep exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

KEY_PLACEHOLDER = "[REDACTED:api-key]"
UNSCANNED = "<unscanned>"
DIGEST_KEYS = frozenset({"sha256", "sha256_before", "sha256_after", "prev", "hash"})


class _Finding(Protocol):
    @property
    def rule_id(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...


ScanFn = Callable[[str], Sequence[_Finding]]


class Scrubber:
    """Applies the two passes above to every string in a record's fields."""

    def __init__(self, secrets: Callable[[], Iterable[str]], scan: ScanFn | None = None) -> None:
        self._secrets = secrets
        self._scan = scan

    def text(self, value: str) -> str:
        for secret in sorted(self._secrets(), key=len, reverse=True):
            if secret and secret in value:
                value = value.replace(secret, KEY_PLACEHOLDER)
        if self._scan is None or len(value) < 8:
            return value
        try:
            findings = sorted(self._scan(value), key=lambda f: f.start)
        except Exception:  # fail closed: a string the scanner could not vouch for is not written
            return UNSCANNED
        out: list[str] = []
        pos = 0
        for f in findings:
            if f.start < pos:
                continue
            out.append(value[pos : f.start])
            out.append(f"<redacted:{f.rule_id}>")
            pos = f.end
        out.append(value[pos:])
        return "".join(out)

    def fields(self, value: Any, key: str | None = None) -> Any:
        if isinstance(value, str):
            if key in DIGEST_KEYS and len(value) == 64:
                return value
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.fields(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.fields(v, key) for v in value]
        return value
