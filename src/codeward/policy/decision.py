"""The answer the policy gives: allow, ask or deny, with the reason, the rule and where it was written."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

DecisionKind = Literal["allow", "ask", "deny"]


@dataclass(frozen=True)
class Decision:
    """The answer for one command or edit; ``to_json`` is the DESIGN §6 contract."""

    decision: DecisionKind
    reason: str
    rule: str | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        # one line, always: a command's own newlines are shown escaped
        if "\n" in self.reason or "\r" in self.reason:
            object.__setattr__(self, "reason", self.reason.replace("\r", "\\r").replace("\n", "\\n"))

    def to_json(self) -> dict[str, Any]:
        return {"decision": self.decision, "reason": self.reason, "rule": self.rule, "source": self.source}


def file_of(source: str) -> str:
    """``AGENTS.md:14`` -> ``AGENTS.md``; a config path stays as it is (for "edit FILE" hints)."""
    head, sep, tail = source.rpartition(":")
    return head if sep and tail.isdigit() else source


def check_mode(mode: str) -> None:
    """Raise ValueError for a mode that is not one of :data:`codeward.modes.APPROVAL_MODES`."""
    from codeward.modes import parse_mode

    parse_mode(mode)
