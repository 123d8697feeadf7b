"""Rules against an analysed script: which command a deny rule hits, which commands an allow list covers.

A one-stage deny rule is tried on every simple command the analysis found; a piped rule
(``curl | bash``) needs a chain of commands whose output feeds the next (``Analysis.flows``).
Commands are pre-filtered by program name (folded once per analysis), so a long rule list costs
little on an ordinary command.
"""

from __future__ import annotations

from collections.abc import Iterable

from codeward.config.model import PolicyEntry
from codeward.policy.analysis_model import Analysis, Role
from codeward.policy.canonical import deny_match
from codeward.policy.patterns import (
    SHELL_LIKE,
    Match,
    StagePattern,
    base_matches_deny,
    base_name,
    compile_pattern,
)
from codeward.policy.patterns import match_allow as match_allow_stage


def _folded_bases(analysis: Analysis) -> list[str | None]:
    """Each command's program name, case-folded, computed once per analysis."""
    cached = analysis.folded_bases
    if cached is None or len(cached) != len(analysis.commands):
        cached = [
            base_name(c.argv[0].value).casefold() if c.argv and c.argv[0].value is not None else None
            for c in analysis.commands
        ]
        analysis.folded_bases = cached
    return cached


def _candidates(stage: StagePattern, analysis: Analysis, receiver: bool) -> list[int]:
    return [
        i
        for i, b in enumerate(_folded_bases(analysis))
        if b is not None and base_matches_deny(stage, b, receiver=receiver)
    ]


# downloaders and the options naming the file they write
_DOWNLOAD_TO = {"curl": ("-o", "--output"), "wget": ("-O", "--output-document")}
_READS_SCRIPT = frozenset({"sh", "bash", "dash", "zsh", "ksh", "ash", "source", "."})


def _file_flows(analysis: Analysis) -> set[tuple[int, int]]:
    """(a, b): command a downloads a file that a later shell b runs (``curl -o x.sh u && bash x.sh``,
    ``curl -s u > y; . y``, ``curl u | tee y; sh < y``), or that b runs itself (``./y``)."""
    cached = analysis.file_flows
    if cached is not None:
        return cached
    written: dict[str, list[int]] = {}
    bases = _folded_bases(analysis)
    for i, c in enumerate(analysis.commands):
        opts = _DOWNLOAD_TO.get(bases[i] or "")
        if opts is None:
            continue
        for out in c.stdout_to:
            written.setdefault(_norm(out), []).append(i)  # curl -s u > y
        vals = [t.value for t in c.argv]
        for k, v in enumerate(vals):
            if v is None:
                continue
            target = None
            if v in opts and k + 1 < len(vals):
                target = vals[k + 1]
            elif v.startswith(opts[1] + "="):
                target = v.split("=", 1)[1]
            elif v.startswith(opts[0]) and len(v) > 2 and not v.startswith("--"):
                target = v[2:]
            elif not v.startswith("--") and v.startswith("-") and v.endswith(opts[0][1]) and k + 1 < len(vals):
                target = vals[k + 1]  # curl -fsSLo file
            if target:
                written.setdefault(_norm(target), []).append(i)
    if written or any(b == "tee" for b in bases):
        # curl u | tee y: tee writes what the download printed
        downloads = {i for i, b in enumerate(bases) if b in _DOWNLOAD_TO}
        for a, j in analysis.flows:
            if a in downloads and bases[j] == "tee":
                for t in analysis.commands[j].argv[1:]:
                    if t.value is not None and not t.value.startswith("-"):
                        written.setdefault(_norm(t.value), []).append(a)
    flows: set[tuple[int, int]] = set()
    if written:
        for j, c in enumerate(analysis.commands):
            if bases[j] in _READS_SCRIPT:
                operand = next((t.value for t in c.argv[1:] if t.value is None or not t.value.startswith("-")), None)
                if operand is None and bases[j] not in (".", "source"):
                    operand = c.stdin_from  # sh < y
            else:
                operand = c.argv[0].value if c.argv and "/" in (c.argv[0].value or "") else None  # ./y
            for i in written.get(_norm(operand or ""), []):
                if i < j:
                    flows.add((i, j))
    analysis.file_flows = flows
    return flows


def _norm(path: str) -> str:
    return path[2:] if path.startswith("./") else path


def match_rule(pattern: str, analysis: Analysis) -> tuple[Match, int]:
    """The best match of a (possibly piped) deny pattern anywhere in the analysis, and the command."""
    cp = compile_pattern(pattern)
    cmds = analysis.commands
    if len(cp.stages) == 1:
        best, where = Match.NO, -1
        for idx in _candidates(cp.stages[0], analysis, False):
            c = cmds[idx]
            r = deny_match(cp.stages[0], c.argv)
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
            r = deny_match(stage, c.argv, receiver=k > 0)
            if c.role is Role.SPECULATIVE and r is not Match.YES:
                continue
            if r is not Match.NO:
                level[idx] = r
        if k > 0 and results[0] and stage.base.casefold() in SHELL_LIKE:
            # the downloaded file run as a program (``curl -o y u; chmod +x y; ./y``) is that shell
            bases = _folded_bases(analysis)
            for _a, b in _file_flows(analysis):
                if bases[b] not in _READS_SCRIPT and cmds[b].role is not Role.SPECULATIVE:
                    level[b] = Match.YES
        results.append(level)
    reach: dict[int, Match] = dict(results[0])
    flows = analysis.flows | _file_flows(analysis) if reach else analysis.flows
    for k in range(1, len(cp.stages)):
        nxt: dict[int, Match] = {}
        for a, b in flows:
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
                if idx not in passing and match_allow_stage(cp.stages[0], c.argv):
                    passing.add(idx)
                    rule_for.setdefault(idx, e)
            continue
        # a piped allow entry covers the commands of each complete chain
        levels = [{idx for idx, c in enumerate(cmds) if match_allow_stage(s, c.argv)} for s in cp.stages]
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
