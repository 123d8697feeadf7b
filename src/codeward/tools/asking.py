"""The vocabulary of asking: what a tool asks the user about, what comes back, and who answers.

A person at a terminal (:class:`codeward.ui.approver.TerminalApprover`) or, in ``exec``, nobody
(:class:`NoTerminalApprover`, which means declined). The flow that decides when to ask is
:func:`codeward.tools.approval.settle`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from codeward.modes import Mode, loosen_hint


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

    def _answer(self, what: Literal["edit", "command"], mode: Mode, why: str) -> Answer:
        return Answer(
            approved=False,
            reason=(
                f"declined: {why}; there is no terminal to ask in exec (approval mode '{mode}'); "
                f"the user can allow it with {loosen_hint(what, mode)}"
            ),
            decided_by="exec:no-terminal",
        )

    def approve_command(self, request: CommandRequest) -> Answer:
        return self._answer("command", request.mode, request.verdict)

    def approve_edit(self, request: EditRequest) -> Answer:
        return self._answer("edit", request.mode, request.reason)
