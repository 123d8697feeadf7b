"""The decisions: may this command run, may this file be changed — allow, ask or deny, and why.

Commands (DESIGN §4), in this order:

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

File edits (:func:`decide_edit`): deny under ``disallow_directories`` and outside
``allow_directories`` (when set; again both owners' lists must be met); protected paths ask in every
mode; otherwise suggest asks and the other modes allow.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal

from codeward.config.model import PolicyEntry
from codeward.errors import ConfigError
from codeward.modes import APPROVAL_MODES, commands_without_asking, edits_without_asking
from codeward.policy.patterns import Match, PatternError, compile_pattern, match_allow, match_deny

if TYPE_CHECKING:
    from codeward.config.model import Config
    from codeward.policy.analysis import Analysis
    from codeward.workspace import Workspace

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


@dataclass
class Policy:
    """The four lists, each entry remembering where it was written and who owns it."""

    disallow_commands: list[PolicyEntry] = field(default_factory=list)
    allow_commands: list[PolicyEntry] = field(default_factory=list)
    allow_directories: list[PolicyEntry] = field(default_factory=list)
    disallow_directories: list[PolicyEntry] = field(default_factory=list)

    def extend(self, other: Policy) -> Policy:
        self.disallow_commands.extend(other.disallow_commands)
        self.allow_commands.extend(other.allow_commands)
        self.allow_directories.extend(other.allow_directories)
        self.disallow_directories.extend(other.disallow_directories)
        return self

    @classmethod
    def from_config(cls, config: Any) -> Policy:
        """From a :class:`codeward.config.model.PolicyConfig`."""
        return cls(
            disallow_commands=list(config.disallow_commands),
            allow_commands=list(config.allow_commands),
            allow_directories=list(config.allow_directories),
            disallow_directories=list(config.disallow_directories),
        )


# ------------------------------------------------------------------------------------------------
# loading


def check_patterns(policy: Policy) -> None:
    """Raise ConfigError naming the entry's source for any command pattern that cannot be used."""
    for key in ("disallow_commands", "allow_commands"):
        for e in getattr(policy, key):
            try:
                compile_pattern(e.pattern)
            except PatternError as err:
                raise ConfigError(f"{e.source}: {key} entry {e.pattern!r}: {err}") from None
    for key in ("allow_directories", "disallow_directories"):
        for e in getattr(policy, key):
            try:
                normalize_dir_pattern(e.pattern)
            except PatternError as err:
                raise ConfigError(f"{e.source}: {key} entry {e.pattern!r}: {err}") from None


def load_policy(workspace: Workspace, config: Config, home: Path) -> Policy:
    """The config's ``[policy]`` lists plus the policy blocks of every AGENTS.md that applies.

    ``$CODEWARD_HOME/AGENTS.md`` is the user's (``user_owned=True``); repository files are not, and
    are named by their path from the repository root (``sub/AGENTS.md:3``).
    """
    from codeward.policy.agents_md import parse_agents_policy

    policy = Policy.from_config(config.policy)
    global_file = (home / "AGENTS.md").absolute()
    for f in workspace.agents_files(home):
        user_owned = f.absolute() == global_file
        if user_owned:
            source = str(f)
        else:
            try:
                source = f.relative_to(workspace.root).as_posix()
            except ValueError:
                source = str(f)
        try:
            text = f.read_text(encoding="utf-8", errors="replace")
        except OSError as e:
            raise ConfigError(f"{f}: cannot read AGENTS.md ({e.strerror}); fix its permissions or remove it") from None
        policy.extend(parse_agents_policy(text, source, user_owned=user_owned))
    check_patterns(policy)
    return policy


# ------------------------------------------------------------------------------------------------
# commands


def _check_mode(mode: str) -> None:
    if mode not in APPROVAL_MODES:
        raise ValueError(f"unknown approval mode {mode!r}; expected one of {', '.join(APPROVAL_MODES)}")


def _file_of(source: str) -> str:
    """``AGENTS.md:14`` -> ``AGENTS.md``; a config path stays as it is."""
    head, sep, tail = source.rpartition(":")
    return head if sep and tail.isdigit() else source


def _shown(command: str | Sequence[str], limit: int = 80) -> str:
    import shlex

    text = command if isinstance(command, str) else shlex.join(command)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def analyze(command: str | Sequence[str]) -> Analysis:
    """The :class:`~codeward.policy.analysis.Analysis` of a command in either form."""
    from codeward.policy.analysis import analyze_argv, analyze_text

    if isinstance(command, str):
        return analyze_text(command)
    return analyze_argv(list(command))


def decide_command(command: str | Sequence[str], mode: str, policy: Policy) -> Decision:
    """allow / ask / deny for a shell command (a str run with ``bash -c``) or an argv (a list)."""
    _check_mode(mode)
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
    for key in ("disallow_commands", "allow_commands"):
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
    from codeward.policy.analysis import Role

    if analysis.fatal:
        return Decision("deny", f"refused `{shown}`: {analysis.fatal}; a command that cannot be checked is not run")

    maybe: list[tuple[PolicyEntry, int]] = []
    for entry in policy.disallow_commands:
        result, idx = match_pattern(entry.pattern, analysis)
        if result is Match.YES:
            where = _where(analysis, idx, shown)
            return Decision(
                "deny",
                f"{where} matches disallow_commands rule '{entry.pattern}' ({entry.source}): refused in every "
                f"mode, it cannot be approved; to allow it, remove the rule from {_file_of(entry.source)}",
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

    user_allow = [e for e in policy.allow_commands if e.user_owned]
    repo_allow = [e for e in policy.allow_commands if not e.user_owned]
    first_rule: PolicyEntry | None = None
    for entries, whose in ((user_allow, "your"), (repo_allow, "the repository's")):
        if not entries:
            continue
        passing, rule_for = allowed_commands(entries, analysis)
        for idx, cmd in enumerate(analysis.commands):
            if cmd.role is not Role.PROGRAM:
                continue
            if idx not in passing:
                files = ", ".join(dict.fromkeys(_file_of(e.source) for e in entries))
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
    if user_allow or repo_allow:
        return Decision("allow", f"full-auto: `{shown}` runs only shell builtins; it runs in the sandbox")
    return Decision("allow", f"full-auto runs `{shown}` in the sandbox without asking (no rule forbids it)")


def _where(analysis: Analysis, idx: int, shown: str) -> str:
    inner = analysis.display(idx, 60)
    if " ".join(inner.split()) == shown:
        return f"`{shown}`"
    return f"`{shown}` runs `{inner}`, which"


def _folded_bases(analysis: Analysis) -> list[str | None]:
    """Each command's program name, case-folded, computed once per analysis."""
    from codeward.policy.patterns import base_name

    cached = getattr(analysis, "_folded_bases", None)
    if cached is None or len(cached) != len(analysis.commands):
        cached = [
            base_name(c.argv[0].value).casefold() if c.argv and c.argv[0].value is not None else None
            for c in analysis.commands
        ]
        analysis._folded_bases = cached  # type: ignore[attr-defined]
    return cached


def _candidates(stage: Any, analysis: Analysis, receiver: bool) -> list[int]:
    from codeward.policy.patterns import base_matches_deny

    return [
        i
        for i, b in enumerate(_folded_bases(analysis))
        if b is not None and base_matches_deny(stage, b, receiver=receiver)
    ]


def match_pattern(pattern: str, analysis: Analysis) -> tuple[Match, int]:
    """The best match of a (possibly piped) deny pattern anywhere in the analysis, and the command."""
    from codeward.policy.analysis import Role

    cp = compile_pattern(pattern)
    cmds = analysis.commands
    if len(cp.stages) == 1:
        best, where = Match.NO, -1
        for idx in _candidates(cp.stages[0], analysis, False):
            c = cmds[idx]
            r = match_deny(cp.stages[0], c.argv, name_checked=True)
            if c.role is Role.SPECULATIVE and r is not Match.YES:
                continue
            if r > best:
                best, where = r, idx
                if r is Match.YES:
                    break
        return best, where
    # a chain: stage k's command feeds stage k+1's
    results: list[dict[int, Match]] = []
    for k, stage in enumerate(cp.stages):
        level: dict[int, Match] = {}
        for idx in _candidates(stage, analysis, k > 0):
            c = cmds[idx]
            r = match_deny(stage, c.argv, receiver=k > 0, name_checked=True)
            if c.role is Role.SPECULATIVE and r is not Match.YES:
                continue
            if r is not Match.NO:
                level[idx] = r
        results.append(level)
    reach: dict[int, Match] = dict(results[0])
    for k in range(1, len(cp.stages)):
        nxt: dict[int, Match] = {}
        for a, b in analysis.flows:
            if a in reach and b in results[k]:
                r = Match(min(reach[a], results[k][b]))
                if r > nxt.get(b, Match.NO):
                    nxt[b] = r
        reach = nxt
        if not reach:
            return Match.NO, -1
    idx, r = max(reach.items(), key=lambda kv: kv[1])
    return r, idx


def allowed_commands(entries: Iterable[PolicyEntry], analysis: Analysis) -> tuple[set[int], dict[int, PolicyEntry]]:
    """Which commands an allow list covers, and the first entry covering each."""
    cmds = analysis.commands
    passing: set[int] = set()
    rule_for: dict[int, PolicyEntry] = {}
    for e in entries:
        cp = compile_pattern(e.pattern)
        if len(cp.stages) == 1:
            for idx, c in enumerate(cmds):
                if idx not in passing and match_allow(cp.stages[0], c.argv):
                    passing.add(idx)
                    rule_for.setdefault(idx, e)
            continue
        # a piped allow entry covers the commands of each complete chain
        levels = [{idx for idx, c in enumerate(cmds) if match_allow(s, c.argv)} for s in cp.stages]
        paths: list[list[int]] = [[i] for i in levels[0]]
        for k in range(1, len(levels)):
            paths = [[*p, b] for p in paths for (a, b) in analysis.flows if a == p[-1] and b in levels[k]]
            if not paths:
                break
        for p in paths:
            for idx in p:
                passing.add(idx)
                rule_for.setdefault(idx, e)
    return passing, rule_for


# ------------------------------------------------------------------------------------------------
# file edits


def normalize_dir_pattern(pattern: str) -> str:
    """``./src/`` -> ``src``; ``/data/`` -> ``data``; '' for the whole workspace."""
    p = pattern.strip().replace("\\", "/")
    if not p:
        raise PatternError("empty directory; write a path from the repository root such as 'src/'")
    while p.startswith("./"):
        p = p[2:]
    p = p.strip("/")
    if p in ("", "."):
        return ""
    if any(part == ".." for part in p.split("/")):
        raise PatternError("'..' is not allowed; write a path inside the repository")
    return p


def _under(rel: str, pattern: str) -> bool:
    p = normalize_dir_pattern(pattern)
    if p == "":
        return True
    if not any(c in p for c in "*?["):
        return rel == p or rel.startswith(p + "/")
    from fnmatch import fnmatchcase

    parts = rel.split("/")
    pat_parts = p.split("/")
    if "**" in pat_parts:
        import pathspec

        spec = pathspec.GitIgnoreSpec.from_lines(["/" + p])
        return any(spec.match_file("/".join(parts[:i])) for i in range(1, len(parts) + 1))
    if len(parts) < len(pat_parts):
        return False
    return all(fnmatchcase(a, b) for a, b in zip(parts, pat_parts, strict=False))


def decide_edit(rel_path: str, mode: str, policy: Policy) -> Decision:
    """allow / ask / deny for ``apply_patch`` changing the workspace-relative ``rel_path``."""
    from codeward.workspace import is_protected

    _check_mode(mode)
    raw = str(rel_path).replace("\\", "/")
    if not raw.strip() or raw.startswith("/") or "\x00" in raw:
        return Decision("deny", f"{rel_path!r} is not a path inside the workspace; patches use relative paths")
    rel = posixpath.normpath(raw)
    if rel == "." or rel == ".." or rel.startswith("../"):
        return Decision("deny", f"{rel_path} leads outside the workspace; patches may only change files inside it")

    for e in policy.disallow_directories:
        if _under(rel, e.pattern):
            return Decision(
                "deny",
                f"{rel} is under disallow_directories '{e.pattern}' ({e.source}), which the agent may never read or "
                f"write; to allow it, remove the entry from {_file_of(e.source)}",
                e.pattern,
                e.source,
            )
    for owned in (True, False):
        entries = [e for e in policy.allow_directories if e.user_owned is owned]
        if not entries:
            continue
        hit = next((e for e in entries if _under(rel, e.pattern)), None)
        if hit is None:
            listed = ", ".join(f"'{e.pattern}'" for e in entries)
            files = ", ".join(dict.fromkeys(_file_of(e.source) for e in entries))
            return Decision(
                "deny",
                f"{rel} is outside allow_directories ({listed}, from {files}), the only places the agent may "
                f"modify; to allow it, add its directory to allow_directories in {files}",
                None,
                files,
            )
    if is_protected(PurePosixPath(rel)):
        return Decision(
            "ask",
            f"{rel} is a protected path (AGENTS.md, ignore files, .codeward/, .git/): every change to it needs "
            "your approval, in every mode",
        )
    if not edits_without_asking(mode):  # type: ignore[arg-type]
        return Decision("ask", f"suggest mode shows every edit for approval first: {rel}")
    return Decision("allow", f"{mode} mode applies edits inside the workspace: {rel}")
