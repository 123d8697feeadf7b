"""The one door out (DESIGN principle 1).

Every request body passes :meth:`Gate.prepare`: each text leaf is scanned and its secrets replaced
by placeholders, the body is serialised once, and a ledger entry (host, size, SHA-256, files carried,
redactions per rule) is made for it. Only the :class:`GatedPayload` this returns can be sent by the
provider client. If scanning fails for any reason, nothing is sent (fail closed).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from codeward.errors import CodewardError
from codeward.privacy.ledger import LedgerEntry

# Keys whose string values are protocol structure, not content: never scanned, never changed.
# ``encrypted_content`` is a reasoning item the provider encrypted for itself and gets back as is:
# ciphertext carries no readable secret, and a changed byte would make the provider reject it.
STRUCTURAL_KEYS = frozenset(
    {
        "model",
        "role",
        "type",
        "tool_choice",
        "call_id",
        "tool_call_id",
        "id",
        "name",
        "status",
        "object",
        "encrypted_content",
        "prompt_cache_key",
    }
)


class GateError(CodewardError):
    """The gate could not vouch for a payload, so it was not sent."""


@dataclass
class GatedPayload:
    """Bytes the gate has passed, with their ledger entry; the only thing the client will send."""

    body: bytes
    entry: LedgerEntry


class Redacts(Protocol):
    """What the gate needs of :class:`codeward.privacy.redact.Redactor` (tests pass simpler ones)."""

    def redact(self, text: str, *, path: str | None = None) -> Any: ...

    def restore(self, text: str) -> str: ...

    def refresh(self) -> None: ...

    @property
    def generation(self) -> int: ...


@dataclass
class Gate:
    """Scans and redacts outbound bodies for one session; remembers per-text results."""

    redactor: Redacts
    host: str
    url: str
    on_egress: Callable[[LedgerEntry], None] | None = None
    _cache: dict[tuple[str | None, str], tuple[int, str, dict[str, int]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """The endpoint as shown in ledger entries and ``--dry-run``: its secret query values (a
        ``?key=`` or ``?code=``) replaced, and known to the redactor so no text carries them out."""
        from codeward.privacy.config_secrets import redact_url, url_secrets

        known = getattr(self.redactor, "known", None)
        if known is not None:
            for v in url_secrets(self.url):
                known.add(v, "codeward-api-key")
        self.url = redact_url(self.url)

    def redact_text(self, text: str, *, path: str | None = None) -> tuple[str, dict[str, int]]:
        """Redact one text (cached: history is re-sent every turn but scanned once).

        ``path`` names the file the text came from, so rules tied to a file name (``.pgpass``,
        ``.pypirc``) apply; the result holds placeholders and passes unchanged later.
        """
        generation = getattr(self.redactor, "generation", 0)
        hit = self._cache.get((path, text))
        if hit is not None and hit[0] == generation:
            return hit[1], hit[2]
        try:
            r = self.redactor.redact(text, path=path)
        except Exception as e:  # fail closed: an unscannable text is never sent
            raise GateError(f"request not sent: the secret scanner failed ({type(e).__name__}: {e})") from None
        # a value learned while redacting this text may occur in texts cached before: key by the
        # generation after this call, so those are redone on their next use
        self._cache[(path, text)] = (getattr(self.redactor, "generation", 0), r.text, dict(r.counts))
        return r.text, dict(r.counts)

    def _walk(self, value: Any, counts: dict[str, int], key: str | None = None) -> Any:
        if isinstance(value, dict) and _model_authored(value):
            # the model's own text (a reply, a tool call, its reasoning, its summary) is sent back as
            # it came: it was made from placeholders, so a known value in it is a guess, and replacing
            # it would tell the model which guess was right (red team rt19: five candidate passwords
            # in one message, the right one came back as a placeholder)
            return value
        if isinstance(value, str):
            if key in STRUCTURAL_KEYS or not value:
                return value
            text, c = self.redact_text(value)
            for rule, n in c.items():
                counts[rule] = counts.get(rule, 0) + n
            return text
        if isinstance(value, dict):
            return {k: self._walk(v, counts, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self._walk(v, counts, key) for v in value]
        return value

    def prepare(self, body: dict[str, Any], *, files: Iterable[str] = (), record: bool = True) -> GatedPayload:
        """Redact ``body``, serialise it and record the ledger entry; the result may be sent.

        ``record=False`` (a dry run) builds the same bytes and entry without reporting an egress.
        """
        counts: dict[str, int] = {}
        refresh = getattr(self.redactor, "refresh", None)
        # only output of tools and commands can carry what a command read from the workspace: a
        # body without any (the first prompt) does not wait for the workspace scan
        if refresh is not None and _carries_tool_output(body):
            try:
                refresh()  # learn the workspace's secrets before any command output is redacted
            except Exception as e:
                raise GateError(f"request not sent: learning the workspace's secrets failed ({e})") from None
        before = getattr(self.redactor, "generation", 0)
        clean = self._walk(body, counts)
        if getattr(self.redactor, "generation", 0) != before:
            # a value became known during this walk (a secret in the prompt): texts redacted earlier
            # in the same body may hold it reversed or encoded, so redo them with it known
            counts = {}
            clean = self._walk(body, counts)
        try:
            data = json.dumps(clean, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        except (TypeError, ValueError) as e:
            raise GateError(f"request not sent: the body could not be serialised ({e})") from None
        entry = LedgerEntry(
            host=self.host,
            url=self.url,
            bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            files=tuple(sorted(set(files))),
            redactions=counts,
        )
        if record and self.on_egress is not None:
            self.on_egress(entry)
        return GatedPayload(body=data, entry=entry)

    def restore(self, text: str) -> str:
        """Put real values back for this session's placeholders (used for patch content only)."""
        return self.redactor.restore(text)


def _model_authored(item: dict[str, Any]) -> bool:
    """Whether a request item is the model's own output: a Chat ``assistant`` message (its tool
    calls included) or a Responses assistant message, ``function_call`` or ``reasoning`` item."""
    return item.get("role") == "assistant" or item.get("type") in ("function_call", "reasoning")


def _carries_tool_output(value: Any) -> bool:
    """Whether a request body holds a tool result (Chat ``role: tool``, Responses ``*_output``)."""
    if isinstance(value, dict):
        if value.get("role") == "tool" or str(value.get("type", "")).endswith("_output"):
            return True
        return any(_carries_tool_output(v) for v in value.values() if isinstance(v, dict | list))
    if isinstance(value, list):
        return any(_carries_tool_output(v) for v in value)
    return False
