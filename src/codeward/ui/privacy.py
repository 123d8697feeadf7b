"""The privacy line after each request and the ``/sent`` report, from the gate's own records.

Pure: both are computed from ``egress`` events (the ledger entries, as the gate made them) and the
``withheld`` events the read tools emit when the ignore rules keep a path out of a result. Nothing
here re-derives what was sent; it only reports what the gate says it sent.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from codeward.privacy.ledger import LedgerEntry
from codeward.ui.status import format_bytes


def rule_owner(source: str) -> str:
    """A short name for where an ignore rule lives: ``.codexignore``, ``built-in rules``, ``AGENTS.md``."""
    if not source or source == "built-in":
        return "built-in rules"
    path = re.sub(r":\d+$", "", source)  # "AGENTS.md:14" -> "AGENTS.md"
    if PurePath(path).is_absolute():
        return PurePath(path).name  # the global ignore file or a config file: its name is enough here
    return path


@dataclass
class WithheldTally:
    """Paths the ignore rules kept out of tool results since the last request, by the file holding the rule."""

    by_owner: dict[str, int] = field(default_factory=dict)

    def add(self, event: dict[str, Any]) -> None:
        owner = rule_owner(str(event.get("source") or ""))
        self.by_owner[owner] = self.by_owner.get(owner, 0) + int(event.get("count") or 1)

    @property
    def total(self) -> int:
        return sum(self.by_owner.values())

    def clear(self) -> None:
        self.by_owner.clear()

    def phrase(self) -> str:
        """``1 file withheld by .codexignore`` / ``3 files withheld by .codexignore, built-in rules``; "" for none."""
        n = self.total
        if not n:
            return ""
        owners = ", ".join(sorted(self.by_owner, key=lambda o: (-self.by_owner[o], o)))
        return f"{n} file{'s' if n != 1 else ''} withheld by {owners}"


def entry_from_event(event: dict[str, Any]) -> LedgerEntry:
    """The ledger entry an ``egress`` event describes (its URL is not in the event, and not needed here)."""
    return LedgerEntry(
        host=str(event.get("host", "")),
        url="",
        bytes=int(event.get("bytes", 0)),
        sha256=str(event.get("sha256", "")),
        files=tuple(event.get("files") or ()),
        redactions={str(k): int(v) for k, v in (event.get("redactions") or {}).items()},
    )


def privacy_line(entry: LedgerEntry, withheld: WithheldTally) -> str:
    """``sent 12.4 KB to api.openai.com; 3 secrets redacted; 1 file withheld by .codexignore``."""
    parts = [entry.summary()]
    w = withheld.phrase()
    if w:
        parts.append(w)
    return "; ".join(parts)


@dataclass(frozen=True)
class SentRecord:
    """One request as ``/sent`` lists it: when it left, and its ledger entry."""

    at: float
    entry: LedgerEntry
    refused: bool = False
    """The provider did not accept it (an error answer): shown as refused, not as sent."""


def sent_report(records: list[SentRecord], *, local_time: bool = True) -> list[str]:
    """Every request of the session: time, host, size, sha256 prefix, files carried, redactions per rule."""
    if not records:
        return ["nothing has left this machine in this session"]
    total = sum(r.entry.bytes for r in records)
    hosts = sorted({r.entry.host for r in records})
    refused = [r for r in records if r.refused]
    lines = [
        f"{len(records)} request{'s' if len(records) != 1 else ''}, {format_bytes(total)} in all, "
        f"to {', '.join(hosts)}; only these bytes left the machine:"
    ]
    if refused:
        lines[0] += f" ({len(refused)} refused by the provider, {format_bytes(sum(r.entry.bytes for r in refused))})"
    for n, r in enumerate(records, 1):
        e = r.entry
        stamp = time.strftime("%H:%M:%S", time.localtime(r.at) if local_time else time.gmtime(r.at))
        red = ", ".join(f"{rule}×{count}" for rule, count in sorted(e.redactions.items())) or "none"
        files = ", ".join(e.files) if e.files else "none"
        size = format_bytes(e.bytes) + (" refused" if r.refused else "")
        lines.append(f"{n:>3}  {stamp}  {e.host}  {size}  sha256 {e.sha256[:12]}  files: {files}  redacted: {red}")
    return lines
