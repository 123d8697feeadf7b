"""Redaction: replace each secret with a stable placeholder, and put real values back on the way in.

A placeholder is ``<secret:RULE-ID:h8>`` where ``h8`` is the first 8 hex digits of
HMAC-SHA256(session key, value). Within a session the same value always gets the same placeholder
(the model can still tell two keys apart and refer to them), while the value cannot be guessed from
it without the key, which never leaves this process.

The placeholder -> value map lives only in the :class:`Redactor`'s memory. ``restore`` uses it to
put real values back into what the model sends (a tool call that must use the key), and only for
placeholders this redactor made; anything else that looks like one is left alone.

Redaction is idempotent: placeholders never match a rule (the scanner ignores matches inside
them), and if replacing one secret exposes another, the text is scanned again until nothing is
left, so redacting already-redacted text changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from codeward.privacy.known import KnownValues
from codeward.privacy.scanner import ScanError, Scanner

PLACEHOLDER = re.compile(r"<secret:[a-z0-9][a-z0-9._\-]{0,80}:[0-9a-f]{8}>")
_RULE_CHARS = re.compile(r"[^a-z0-9._\-]+")
MAX_PASSES = 4
KNOWN_KEY_RULE = "codeward-api-key"


@dataclass
class Redaction:
    """The text with each secret value replaced, and how many values each rule replaced."""

    text: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _placeholder_rule(rule_id: str) -> str:
    """A rule id in the placeholder alphabet (user rule ids may use any characters)."""
    r = _RULE_CHARS.sub("-", rule_id.lower()).strip("-._") or "secret"
    if not r[0].isalnum():
        r = "x" + r
    return r[:81]


class _Source(Protocol):
    def refresh(self) -> Iterable[tuple[str, str]]: ...


class _Learner(Protocol):
    def refresh(self) -> Iterable[tuple[str, str]]: ...

    def secret_paths(self) -> set[str]: ...


class Redactor:
    """Holds the placeholder -> value map in memory only, for one session."""

    def __init__(
        self,
        scanner: Scanner,
        *,
        key: bytes | None = None,
        known_values: Callable[[], Iterable[str]] | None = None,
        learner: _Learner | None = None,
        sources: Sequence[_Source] = (),
    ) -> None:
        """``known_values`` returns secrets known by value (the provider API keys this process
        resolved): they are replaced wherever they appear, whatever their format, and are never
        put back by :meth:`restore` (a key goes only into its Authorization header).

        ``learner.refresh()`` returns ``(value, rule)`` pairs found since its last call (the secrets
        of the workspace's files, see :mod:`codeward.privacy.learn`); :meth:`refresh` calls it, so
        the values are known before the output of a command that read those files is redacted.
        ``sources`` are more such ``refresh()`` callables' owners (the git history's secrets,
        :mod:`codeward.privacy.history`), refreshed the same way.

        Every value this redactor replaces, and every value from either source, joins
        :attr:`known`: from then on it is found in any text in its encoded forms too
        (:mod:`codeward.privacy.known`), so a command that reverses or re-encodes a secret it read
        finds nothing left to leak."""
        self._scanner = scanner
        self._keys = known_values
        self.learner = learner
        self.sources = tuple(sources)
        self._key = key if key is not None else os.urandom(32)
        self._values: dict[str, str] = {}
        self._lock = threading.Lock()
        self.known = KnownValues()
        if learner is not None and hasattr(learner, "known_finder"):
            learner.known_finder = self.known.find

    @property
    def generation(self) -> int:
        """Grows whenever a new value becomes known: a text redacted before then must be redone."""
        return len(self.known)

    def refresh(self) -> None:
        """Learn the values ``learn`` reports (the workspace's secrets, rescanned where files changed)."""
        if self.learner is not None:
            self.known.add_all(self.learner.refresh())
        for source in self.sources:
            self.known.add_all(source.refresh())

    def placeholder(self, rule_id: str, value: str) -> str:
        """The placeholder ``value`` gets in this session when found by ``rule_id``."""
        mac = hmac.new(self._key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
        return f"<secret:{_placeholder_rule(rule_id)}:{mac[:8]}>"

    def redact(self, text: str, *, path: str | None = None) -> Redaction:
        """``text`` with every finding replaced; raises ScanError (callers must not send) on failure."""
        counts: dict[str, int] = {}
        current = text
        if self._keys is not None:
            for value in self._keys():
                if len(value) >= 8 and value in current:
                    n = current.count(value)
                    current = current.replace(value, self.placeholder(KNOWN_KEY_RULE, value))
                    counts[KNOWN_KEY_RULE] = counts.get(KNOWN_KEY_RULE, 0) + n
                self.known.add(value, KNOWN_KEY_RULE)
        for _ in range(MAX_PASSES):
            current = self._replace_known(current, counts)
            findings = self._scanner.scan(current, path=path)
            if not findings:
                return Redaction(current, counts)
            parts: list[str] = []
            last = 0
            for f in findings:
                value = current[f.start : f.end]
                if not value:
                    continue
                ph = self.placeholder(f.rule_id, value)
                with self._lock:
                    known = self._values.setdefault(ph, value)
                if known != value:  # 2^-32 per pair of values: refuse rather than restore the wrong one
                    raise ScanError(f"placeholder collision for rule {f.rule_id}; request not redacted")
                parts.append(current[last : f.start])
                parts.append(ph)
                last = f.end
                counts[f.rule_id] = counts.get(f.rule_id, 0) + 1
                self.known.add(value, f.rule_id)
            parts.append(current[last:])
            nxt = "".join(parts)
            if nxt == current:
                return Redaction(current, counts)
            current = nxt
        if self._scanner.scan(current, path=path):
            raise ScanError(f"redaction did not converge after {MAX_PASSES} passes; request not sent")
        return Redaction(current, counts)

    def _replace_known(self, text: str, counts: dict[str, int]) -> str:
        """``text`` with every span carrying a known value (in any tracked encoding) replaced."""
        hits = self.known.find(text)
        if not hits:
            return text
        taken = [m.span() for m in PLACEHOLDER.finditer(text)] if "<secret:" in text else []
        parts: list[str] = []
        last = 0
        for h in hits:
            if h.start < last or any(ps < h.end and h.start < pe for ps, pe in taken):
                continue
            chunk = text[h.start : h.end]
            ph = self.placeholder(h.rule, chunk)
            with self._lock:
                self._values.setdefault(ph, chunk)
            parts.append(text[last : h.start])
            parts.append(ph)
            last = h.end
            counts[h.rule] = counts.get(h.rule, 0) + 1
        parts.append(text[last:])
        return "".join(parts)

    def restore(self, text: str) -> str:
        """Real values back in place of the placeholders this redactor made; others are left as they are."""
        if "<secret:" not in text:
            return text
        with self._lock:
            values = dict(self._values)
        return PLACEHOLDER.sub(lambda m: values.get(m.group(0), m.group(0)), text)
