"""The one approval flow both ``shell`` and ``apply_patch`` follow.

Each tool gets policy decisions (allow / ask / deny) for what it is about to do; :func:`settle`
turns those into one outcome the same way for both: a denial is final, an "ask" is answered by the
session's "always" memory or by the :class:`~codeward.tools.asking.Approver` (a person at a
terminal, or in ``exec`` nobody, which means declined), and every decision is reported as a
``decision`` event naming who decided.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from codeward.events import DecisionMade
from codeward.tools.asking import Answer

Outcome_ = Literal["allowed", "declined", "denied"]

if TYPE_CHECKING:
    from codeward.policy import Decision
    from codeward.tools.base import ToolContext


def decided_by(decision: Decision, mode: str) -> str:
    """Who made a policy decision, for events and the audit log."""
    if decision.rule:
        return f"rule:{decision.rule}" + (f" ({decision.source})" if decision.source else "")
    if decision.decision == "allow":
        return f"mode:{mode}"
    return "policy"


@dataclass(frozen=True)
class Outcome:
    """How :func:`settle` ended: go ahead, or stop with ``message`` for the model."""

    go: bool
    message: str = ""


def settle(
    ctx: ToolContext,
    action: Literal["command", "edit"],
    decisions: Sequence[tuple[str, str, Decision]],
    ask: Any,
) -> Outcome:
    """One approval flow for commands and edits.

    ``decisions`` holds ``(target shown in events, "always" key, decision)``; ``ask(reasons)``
    calls the approver once for every target still asking and returns its :class:`Answer`.
    """
    mode = ctx.mode

    def report(target: str, d: Decision, who: str, outcome: Outcome_, reason: str | None = None) -> None:
        ctx.events.emit(
            DecisionMade(
                action=action,
                target=target,
                decision=d.decision,
                reason=ctx.gate.redact_text(reason or d.reason)[0],
                rule=d.rule,
                source=d.source,
                decided_by=who,
                outcome=outcome,
            )
        )

    for target, _key, d in decisions:
        if d.decision == "deny":
            report(target, d, decided_by(d, mode), "denied")
            return Outcome(False, f"refused: {d.reason}")
    pending = []
    for target, key, d in decisions:
        if d.decision == "ask" and key not in ctx.session_allow:
            pending.append((target, key, d))
        elif d.decision == "ask":
            report(target, d, "user:always", "allowed")
        else:
            report(target, d, decided_by(d, mode), "allowed")
    if not pending:
        return Outcome(True)
    answer: Answer = ask([d.reason for _, _, d in pending])
    first_reason = pending[0][2].reason
    for target, _key, d in pending:
        report(target, d, answer.decided_by, "allowed" if answer.approved else "declined", first_reason)
    if not answer.approved:
        what = "command" if action == "command" else "patch"
        return Outcome(False, answer.reason or f"declined: the user did not approve this {what}")
    if answer.always:
        ctx.session_allow.update(key for _, key, _ in pending)
    return Outcome(True)
