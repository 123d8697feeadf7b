"""May this command run? allow, ask or deny, and why (DESIGN §4).

In this order:

1. Text that cannot be analysed (does not parse, nests shells too deep, too large) is denied.
2. A command matching ``disallow_commands`` — anywhere in the script, through any wrapper or nested
   shell — is denied in every mode; it cannot be approved. Disallow lists from all sources add up.
3. A script with parts only known at run time (a program name in a variable, a shell reading
   commands from a download, a ``PATH`` assignment, a word that could turn it into a disallowed
   command) is never allowed: ask.
4. suggest and auto-edit ask. full-auto allows, except that when allow lists exist every program
   the script runs must match them. The user's own allow list and the repository's are separate
   constraints, both to be met: a repository can narrow what runs without asking, never widen it
   (principle 2).

The analysis (tree-sitter) is imported only when a command is first decided.
"""

from __future__ import annotations

from collections.abc import Sequence

from codeward.config.model import PolicyEntry
from codeward.modes import commands_without_asking
from codeward.policy.allow_lists import allow_groups
from codeward.policy.analysis_model import Analysis, Role
from codeward.policy.decision import Decision, check_mode, file_of
from codeward.policy.matching import allowed_commands, match_rule
from codeward.policy.patterns import Match, PatternError, compile_pattern
from codeward.policy.rules import COMMAND_KEYS, Policy


def _shown(command: str | Sequence[str], limit: int = 80) -> str:
    import shlex

    text = command if isinstance(command, str) else shlex.join(command)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def analyze(command: str | Sequence[str]) -> Analysis:
    """The :class:`~codeward.policy.analysis_model.Analysis` of a command in either form."""
    from codeward.policy.analysis import analyze_argv, analyze_text

    if isinstance(command, str):
        return analyze_text(command)
    return analyze_argv(list(command))


def decide_command(command: str | Sequence[str], mode: str, policy: Policy) -> Decision:
    """allow / ask / deny for a shell command (a str run with ``bash -c``) or an argv (a list)."""
    check_mode(mode)
    if isinstance(command, str):
        if not command.strip():
            return Decision("deny", "the command is empty: nothing to run")
    elif (
        isinstance(command, (bytes, bytearray))
        or not isinstance(command, Sequence)
        or not all(isinstance(a, str) for a in command)
    ):
        return Decision("deny", "a command must be shell text or a list of strings")
    bad = _first_bad_rule(policy)
    if bad is not None:
        return bad
    try:
        analysis = analyze(command)
        return decide_analysis(analysis, _shown(command), mode, policy)
    except RecursionError:
        return Decision(
            "deny", "the command is nested too deeply to check; a command that cannot be checked is not run"
        )


def _first_bad_rule(policy: Policy) -> Decision | None:
    """A policy with a rule that cannot be read refuses every command (load_policy never builds one)."""
    for key in COMMAND_KEYS:
        for e in getattr(policy, key):
            try:
                compile_pattern(e.pattern)
            except PatternError as err:
                return Decision(
                    "deny",
                    f"the {key} rule {e.pattern!r} ({e.source}) cannot be used: {err}; no command runs until it is fixed",
                    e.pattern if isinstance(e.pattern, str) else None,
                    e.source,
                )
    return None


def decide_analysis(analysis: Analysis, shown: str, mode: str, policy: Policy) -> Decision:
    """The decision for an analysed command (``shown`` is how to quote it in the reason)."""
    if analysis.fatal:
        return Decision("deny", f"refused `{shown}`: {analysis.fatal}; a command that cannot be checked is not run")

    maybe: list[tuple[PolicyEntry, int]] = []
    for entry in policy.disallow_commands:
        result, idx = match_rule(entry.pattern, analysis)
        if result is Match.YES:
            where = _where(analysis, idx, shown)
            return Decision(
                "deny",
                f"{where} matches disallow_commands rule '{entry.pattern}' ({entry.source}): refused in every "
                f"mode, it cannot be approved; to allow it, remove the rule from {file_of(entry.source)}",
                entry.pattern,
                entry.source,
            )
        if result is Match.MAYBE:
            maybe.append((entry, idx))

    if maybe:
        entry, idx = maybe[0]
        return Decision(
            "ask",
            f"{_where(analysis, idx, shown)} may match disallow_commands rule '{entry.pattern}' ({entry.source}) "
            "once its run-time values are known: approval needed; write the values literally to let the rule decide",
            entry.pattern,
            entry.source,
        )
    if analysis.opaque and policy.disallow_commands:
        more = f" (and {len(analysis.opaque) - 1} more)" if len(analysis.opaque) > 1 else ""
        entry = policy.disallow_commands[0]
        return Decision(
            "ask",
            f"`{shown}` runs inline code the policy cannot read for commands: {analysis.opaque[0]}{more}; with "
            "disallow_commands in force it needs approval (disallow_commands is a best-effort tripwire: "
            "allow_commands and the sandbox are what bound a command)",
            None,
            file_of(entry.source),
        )
    if analysis.uncertain:
        more = f" (and {len(analysis.uncertain) - 1} more)" if len(analysis.uncertain) > 1 else ""
        return Decision(
            "ask",
            f"`{shown}` cannot be fully checked before it runs: {analysis.uncertain[0]}{more}; approval needed",
        )

    if not commands_without_asking(mode):  # type: ignore[arg-type]
        return Decision(
            "ask",
            f"{mode} mode asks before running any command; approve `{shown}`, or use full-auto to run "
            "commands in the sandbox without asking",
        )
    return _full_auto(analysis, shown, policy)


def _full_auto(analysis: Analysis, shown: str, policy: Policy) -> Decision:
    """full-auto: allowed, unless an allow list (the user's, or any one repository file's) leaves a program out."""
    groups = allow_groups(policy.allow_commands)
    first_rule: PolicyEntry | None = None
    for entries in groups:
        whose = "your" if entries[0].user_owned else "the repository's"
        passing, rule_for = allowed_commands(entries, analysis)
        for idx, cmd in enumerate(analysis.commands):
            if cmd.role is not Role.PROGRAM:
                continue
            if idx not in passing:
                files = ", ".join(dict.fromkeys(file_of(e.source) for e in entries))
                hint = (
                    f"add it to allow_commands in {files}"
                    if whose == "your"
                    else "approve it (the repository's AGENTS.md decides what runs unasked; a repository list can "
                    "only narrow yours)"
                )
                return Decision(
                    "ask",
                    f"`{analysis.display(idx, 60)}` is not in {whose} allow_commands ({files}); full-auto runs only "
                    f"listed commands without asking; {hint}",
                    None,
                    files,
                )
            if first_rule is None and idx in rule_for:
                first_rule = rule_for[idx]
    if first_rule is not None:
        return Decision(
            "allow",
            f"full-auto: every program in `{shown}` is in allow_commands (first: '{first_rule.pattern}', "
            f"{first_rule.source}); it runs in the sandbox",
            first_rule.pattern,
            first_rule.source,
        )
    if groups:
        return Decision("allow", f"full-auto: `{shown}` runs only shell builtins; it runs in the sandbox")
    return Decision("allow", f"full-auto runs `{shown}` in the sandbox without asking (no rule forbids it)")


def _where(analysis: Analysis, idx: int, shown: str) -> str:
    note = analysis.commands[idx].note
    if note:
        return f"`{shown}` {analysis.show(note)}, which"
    inner = analysis.display(idx, 60)
    if " ".join(inner.split()) == shown:
        return f"`{shown}`"
    return f"`{shown}` runs `{inner}`, which"
