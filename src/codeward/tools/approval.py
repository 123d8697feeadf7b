"""Asking: the vocabulary of approval requests and answers, and the one flow both tools follow.

``shell`` and ``apply_patch`` each get policy decisions (allow / ask / deny) for what they are
about to do; :func:`settle` turns those into one outcome the same way for both: a denial is final,
an "ask" is answered by the session's "always" memory or by the :class:`Approver` (a person at a
terminal, or in ``exec`` nobody, which means declined), and every decision is reported as a
``decision`` event naming who decided.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from codeward.modes import Mode, loosen_hint

if TYPE_CHECKING:
    from codeward.policy import Decision
    from codeward.tools.base import ToolContext


@dataclass(frozen=True)
class CommandRequest:
    command: str
    workdir: Path
    verdict: str
    """The policy engine's reason for asking, shown beside the command."""
    mode: Mode = "suggest"


@dataclass(frozen=True)
class EditRequest:
    paths: tuple[str, ...]
    diff: str
    reason: str
    mode: Mode = "suggest"


@dataclass(frozen=True)
class Answer:
    approved: bool
    always: bool = False
    reason: str | None = None
    decided_by: str = "user"


class Approver(Protocol):
    def approve_command(self, request: CommandRequest) -> Answer: ...

    def approve_edit(self, request: EditRequest) -> Answer: ...


class NoTerminalApprover:
    """``exec`` has no one to ask: every "ask" is declined, and the model is told why."""

    def _answer(self, what: Literal["edit", "command"], mode: Mode) -> Answer:
        return Answer(
            approved=False,
            reason=(
                f"declined: approval mode '{mode}' asks before this {what}, and there is no terminal to ask "
                f"in exec; the user can allow it with {loosen_hint(what)} or in an interactive session"
            ),
            decided_by="exec:no-terminal",
        )

    def approve_command(self, request: CommandRequest) -> Answer:
        return self._answer("command", request.mode)

    def approve_edit(self, request: EditRequest) -> Answer:
        return self._answer("edit", request.mode)


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

    def report(target: str, d: Decision, who: str, outcome: str, reason: str | None = None) -> None:
        ctx.events.emit(
            {
                "type": "decision",
                "action": action,
                "target": target,
                "decision": d.decision,
                "reason": ctx.gate.redact_text(reason or d.reason)[0],
                "rule": d.rule,
                "source": d.source,
                "decided_by": who,
                "outcome": outcome,
            }
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
