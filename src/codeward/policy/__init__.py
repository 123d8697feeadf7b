"""The command policy engine: allow / ask / deny for shell commands and file edits (DESIGN §3-§4).

Pure functions over data: :func:`decide_command` and :func:`decide_edit` take a :class:`Policy`
(from :func:`load_policy`, or built by hand) and return a :class:`Decision`. Parsing shell text needs
tree-sitter, which is imported only when a command is first analysed.

The modules, bottom-up: ``words`` / ``options`` / ``shellparse`` / ``shellwords`` (reading shell
text); ``unwrapped`` / ``wrapper_options`` / ``wrappers`` / ``shells`` / ``find_exec`` /
``git_snippets`` (what a program runs); ``inline_code`` / ``inline_python`` / ``inline_scripts`` /
``inline_tools`` / ``inline_found`` (commands inside code given to an interpreter);
``analysis_model`` / ``analysis_base`` / ``tree_walk`` / ``argv_walk`` / ``inline_walk`` /
``analysis`` (every command a script runs); ``patterns`` (what a rule says); ``chmod_modes`` /
``canonical`` (rules read by what commands do); ``matching`` (rules against commands);
``directories`` / ``rules`` / ``agents_md`` / ``loading`` (the lists and where they come from);
``decision`` / ``commands`` / ``edits`` (the decisions); ``explain`` (``policy check --explain``).
"""

from __future__ import annotations

from codeward.modes import APPROVAL_MODES
from codeward.policy.agents_md import parse_agents_policy
from codeward.policy.commands import decide_command
from codeward.policy.decision import Decision
from codeward.policy.edits import decide_edit
from codeward.policy.loading import load_policy
from codeward.policy.patterns import PatternError, compile_pattern
from codeward.policy.rules import Policy

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
