"""The egress ledger: what each request carried, where it went, and what the gate removed from it."""

from __future__ import annotations

from dataclasses import dataclass, field

from codeward.events import Egress


@dataclass(frozen=True)
class LedgerEntry:
    """One request as it left the machine. Holds hashes and counts, never content."""

    host: str
    url: str
    bytes: int
    sha256: str
    files: tuple[str, ...] = ()
    redactions: dict[str, int] = field(default_factory=dict)

    @property
    def redaction_total(self) -> int:
        return sum(self.redactions.values())

    def to_event(self) -> Egress:
        """The ``egress`` event of DESIGN §7."""
        return Egress(
            host=self.host,
            bytes=self.bytes,
            sha256=self.sha256,
            files=tuple(self.files),
            redactions=dict(sorted(self.redactions.items())),
        )

    def summary(self, verb: str = "sent") -> str:
        """A privacy line for humans: ``sent 12.4 KB to api.openai.com; 3 secrets redacted``."""
        size = f"{self.bytes / 1024:.1f} KB" if self.bytes >= 1024 else f"{self.bytes} B"
        n = self.redaction_total
        red = f"{n} secret{'s' if n != 1 else ''} redacted" if n else "nothing redacted"
        return f"{verb} {size} to {self.host}; {red}"


class Ledger:
    """Every entry of a session, for ``/sent`` and the session summary."""

    def __init__(self) -> None:
        self.entries: list[LedgerEntry] = []

    def add(self, entry: LedgerEntry) -> None:
        self.entries.append(entry)

    @property
    def total_bytes(self) -> int:
        return sum(e.bytes for e in self.entries)
