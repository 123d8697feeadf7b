"""What ``codeward policy check --explain`` says: what was read, and where text policy ends.

The decision alone hides two things a user should know: which commands the engine found (through
wrappers, nested shells and inline code) and what it could not read; and that a deny list over
command text is a tripwire, not a wall — a script file, a Makefile, a test or any program the model
writes can run what no rule names. :func:`explain` returns both as plain data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from codeward.policy.analysis_model import Role
from codeward.policy.commands import analyze
from codeward.policy.rules import Policy

BOUNDARY = (
    "allow_commands plus the sandbox is the enforcement boundary: in full-auto a command outside "
    "allow_commands asks first, and whatever runs is confined by the sandbox (writes only in the "
    "workspace, no network, no secrets). disallow_commands is a best-effort tripwire over command "
    "text: it sees through wrappers, nested shells and inline code it can read, but a script file, "
    "a Makefile, a test or a program written by the model can run anything the sandbox allows."
)
COMBINE = (
    'Combine them: list what may run unasked in allow_commands ("npm test", "pytest", "make lint"), '
    'keep disallow_commands for what must never run even when someone approves it ("rm -rf", '
    '"git push --force", "sudo"), and let everything else ask.'
)
_ROLE_WORDS = {
    Role.PROGRAM: "runs",
    Role.TRANSPARENT: "wrapper",
    Role.EXEMPT: "builtin",
    Role.FUNCTION: "function",
    Role.UNRESOLVED: "unknown",
    Role.SPECULATIVE: "reading",
}


@dataclass
class Explanation:
    commands: list[tuple[str, str]] = field(default_factory=list)  # (role word, command as shown)
    unreadable: list[str] = field(default_factory=list)  # inline code it could not read
    uncertain: list[str] = field(default_factory=list)  # parts only known at run time
    rules: dict[str, int] = field(default_factory=dict)  # list name -> number of entries
    boundary: str = BOUNDARY
    combine: str = COMBINE

    def to_json(self) -> dict[str, Any]:
        return {
            "commands": [{"role": r, "command": c} for r, c in self.commands],
            "unreadable": self.unreadable,
            "uncertain": self.uncertain,
            "rules": self.rules,
            "boundary": self.boundary,
            "combine": self.combine,
        }

    def lines(self) -> list[str]:
        out = ["found:"]
        out += [f"  {role:<9}{cmd}" for role, cmd in self.commands] or ["  (no command)"]
        if self.unreadable:
            out.append("inline code it cannot read (asks when disallow_commands is in force):")
            out += [f"  {r}" for r in self.unreadable]
        if self.uncertain:
            out.append("known only at run time (asks):")
            out += [f"  {r}" for r in self.uncertain]
        counts = ", ".join(f"{k} {v}" for k, v in self.rules.items())
        out += [f"rules:    {counts}", "", f"limits:   {self.boundary}", f"          {self.combine}"]
        return out


def explain(command: str | Sequence[str], policy: Policy) -> Explanation:
    """What the engine read in ``command``, and the limits of what a text rule can do."""
    analysis = analyze(command)
    ex = Explanation(
        rules={
            "disallow_commands": len(policy.disallow_commands),
            "allow_commands": len(policy.allow_commands),
        }
    )
    if analysis.fatal:
        ex.uncertain.append(analysis.fatal)
        return ex
    for idx, cmd in enumerate(analysis.commands):
        shown = analysis.display(idx, 100)
        if cmd.note:
            shown = f"{shown}  ({analysis.show(cmd.note)})"
        ex.commands.append((_ROLE_WORDS.get(cmd.role, cmd.role.value), shown))
    ex.unreadable = list(analysis.opaque)
    ex.uncertain = list(analysis.uncertain)
    return ex
