"""Who answers "ask": a person at a terminal, or (in ``exec``) nobody, which means declined.

The loop asks through :class:`Approver`; the answer says whether to go ahead, whether to remember
it for the rest of the session (``always``), and the user's reason when declining, which goes back
to the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from codeward.modes import loosen_hint


@dataclass(frozen=True)
class CommandRequest:
    command: str
    workdir: Path
    verdict: str
    """The policy engine's reason for asking, shown beside the command."""


@dataclass(frozen=True)
class EditRequest:
    paths: tuple[str, ...]
    diff: str
    reason: str


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

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def _answer(self, what: str) -> Answer:
        hint = loosen_hint(what)  # type: ignore[arg-type]
        return Answer(
            approved=False,
            reason=(
                f"declined: approval mode '{self.mode}' asks before this {what}, and there is no terminal to ask "
                f"in exec; the user can allow it with {hint} or in an interactive session"
            ),
            decided_by="exec:no-terminal",
        )

    def approve_command(self, request: CommandRequest) -> Answer:
        return self._answer("command")

    def approve_edit(self, request: EditRequest) -> Answer:
        return self._answer("edit")
