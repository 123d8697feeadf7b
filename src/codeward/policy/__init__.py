"""The command policy engine: allow / ask / deny for shell commands and file edits (DESIGN §3-§4).

Pure functions over data: :func:`decide_command` and :func:`decide_edit` take a :class:`Policy`
(from :func:`load_policy`, or built by hand) and return a :class:`Decision`. Parsing shell text needs
tree-sitter, which is imported only when a command is first analysed.
"""

from __future__ import annotations

from codeward.modes import APPROVAL_MODES
from codeward.policy.agents_md import parse_agents_policy
from codeward.policy.engine import (
    Decision,
    Policy,
    decide_command,
    decide_edit,
    load_policy,
)
from codeward.policy.patterns import PatternError, compile_pattern

__all__ = [
    "APPROVAL_MODES",
    "Decision",
    "PatternError",
    "Policy",
    "compile_pattern",
    "decide_command",
    "decide_edit",
    "load_policy",
    "parse_agents_policy",
]
