"""The secret scanner: keyword prefilter, RE2 rules, entropy, allowlists, base64 and PII.

How one text is scanned (gitleaks' semantics, in Python):

1. The text is encoded to UTF-8 once; everything below works on bytes, so RE2 never re-encodes.
2. One Aho-Corasick automaton over every rule's keywords runs on the lower-cased bytes. A rule runs
   only when one of its keywords occurs; a rule with a ``span`` runs only on windows of that many
   bytes around each keyword hit (most of a source file is never seen by most regexes).
3. A match's secret is ``secretGroup``, else the first non-empty group, else the whole match. It is
   dropped when its Shannon entropy is <= the rule's ``entropy``, when its line says
   ``codeward:allow`` or ``gitleaks:allow``, when an allowlist (global, then the rule's) or the
   user's ``[privacy] allowlist`` lets it go, or when it lies in a redaction placeholder.
4. Base64 blobs that decode to text are scanned again (twice nested at most); a secret inside makes
   the whole blob a finding.
5. With ``redact_pii``, emails, Luhn-valid cards and mod-97-valid IBANs are findings too.
6. Overlapping findings merge into one that covers them all, keeping the first one's rule.

Any failure inside a scan is a :class:`ScanError`; callers fail closed on it (the gate does not
send what it could not scan).
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeward.errors import CodewardError
from codeward.privacy.entropy import shannon_entropy
from codeward.privacy.rules import Allowlist, Rule, RuleSet

ALLOW_MARKERS = (b"codeward:allow", b"gitleaks:allow")
PLACEHOLDER_PATTERN = rb"<secret:[a-z0-9][a-z0-9._\-]{0,80}:[0-9a-f]{8}>"
WHOLE_TEXT_SHARE = 0.5
"""When a rule's windows would cover more than this share of the text, run it once on all of it."""


class ScanError(CodewardError):
    """The scanner could not finish; whatever was being scanned must not be sent."""


@dataclass(frozen=True)
class Finding:
    """One secret in a text. Offsets are characters of the scanned ``str``; no field holds the value."""

    rule_id: str
    description: str
    start: int
    end: int
    line: int
    column: int
    fingerprint: str


def fingerprint(value: bytes) -> str:
    """A short, stable, one-way tag of a secret value (for baselines and de-duplication)."""
    return hashlib.sha256(b"codeward-finding\0" + value).hexdigest()[:16]


@dataclass
class _Hit:
    """A finding in progress, in byte offsets of the UTF-8 text."""

    rule: Rule | None
    rule_id: str
    description: str
    start: int
    end: int
    order: int
    mstart: int = 0
    mend: int = 0


@dataclass(eq=False)
class _UserAllow:
    """``[privacy] allowlist``: each entry is a known value, and (if RE2 accepts it) a pattern."""

    literals: frozenset[bytes] = frozenset()
    patterns: tuple[Any, ...] = ()

    def allows(self, secret: bytes) -> bool:
        return secret in self.literals or any(p.search(secret) for p in self.patterns)


def _user_allow(entries: Sequence[str]) -> _UserAllow:
    import re2

    opts = re2.Options()
    opts.log_errors = False
    pats = []
    for e in entries:
        with contextlib.suppress(re2.error):  # not a pattern: it still suppresses as a literal value
            pats.append(re2.compile(e.encode("utf-8"), opts))
    return _UserAllow(literals=frozenset(e.encode("utf-8") for e in entries if e), patterns=tuple(pats))


@dataclass(eq=False)
class Scanner:
    """A compiled rule set. Immutable once built, so one instance serves every thread and session."""

    ruleset: RuleSet
    redact_pii: bool = False
    allowlist: Sequence[str] = ()
    _automaton: Any = field(init=False, repr=False)
    _kw_rules: list[tuple[int, ...]] = field(init=False, repr=False)
    _always: tuple[int, ...] = field(init=False, repr=False)
    _user: _UserAllow = field(init=False, repr=False)
    _global: list[tuple[Allowlist, frozenset[str]]] = field(init=False, repr=False)
    _placeholder: Any = field(init=False, repr=False)
    _composite: bool = field(init=False, repr=False)

    def __post_init__(self) -> None:
        import ahocorasick
        import re2

        keyword_ids: dict[str, int] = {}
        kw_rules: list[list[int]] = []
        always: list[int] = []
        for i, rule in enumerate(self.ruleset.rules):
            if rule.regex is None:
                continue  # path-only rules are checked apart
            if not rule.keywords:
                always.append(i)
            for kw in rule.keywords:
                kid = keyword_ids.setdefault(kw, len(keyword_ids))
                if kid == len(kw_rules):
                    kw_rules.append([])
                if i not in kw_rules[kid]:
                    kw_rules[kid].append(i)
        auto = ahocorasick.Automaton()
        for kw, kid in keyword_ids.items():
            # bytes.lower() only folds ASCII, so match keywords as their UTF-8 bytes seen as latin-1
            auto.add_word(kw.encode("utf-8").decode("latin-1"), kid)
        if keyword_ids:
            auto.make_automaton()
        self._automaton = auto if keyword_ids else None
        self._kw_rules = [tuple(r) for r in kw_rules]
        self._always = tuple(always)
        self._user = _user_allow(self.allowlist)
        self._global = [(a, frozenset(a.target_rules)) for a in self.ruleset.allowlists]
        self._placeholder = re2.compile(PLACEHOLDER_PATTERN)
        self._composite = any(r.required for r in self.ruleset.rules)

    # ----------------------------------------------------------------------------------------
    # public API

    def scan(self, text: str, *, path: str | None = None) -> list[Finding]:
        """Findings in ``text`` sorted by start; ``path`` enables path rules and path allowlists."""
        try:
            data = text.encode("utf-8", "surrogatepass")
            hits = self._scan_bytes(data, path, depth=0)
            return self._findings(text, data, hits)
        except ScanError:
            raise
        except Exception as e:
            raise ScanError(f"secret scan failed: {type(e).__name__}: {e}") from e

    @property
    def rule_ids(self) -> list[str]:
        return [r.id for r in self.ruleset.rules]

    # ----------------------------------------------------------------------------------------
    # the engine, on bytes

    def _scan_bytes(self, data: bytes, path: str | None, depth: int) -> list[_Hit]:
        n = len(data)
        hits: list[_Hit] = []
        placeholders = self._placeholder_spans(data)
        rules = self.ruleset.rules
        path_b = path.encode("utf-8", "surrogatepass") if path is not None else None

        if depth == 0 and path_b is not None:
            for i, rule in enumerate(rules):
                if (
                    rule.regex is None
                    and rule.path is not None
                    and rule.path.search(path_b)
                    and not self._globally_allowed(rule.id, b"", b"", b"", path_b)
                ):
                    hits.append(_Hit(rule, rule.id, rule.description, 0, n, i, 0, n))

        positions: dict[int, list[int]] = {i: [] for i in self._always}
        if self._automaton is not None and n:
            lowered = data.lower().decode("latin-1")
            per_kw: dict[int, list[int]] = {}
            for end, kid in self._automaton.iter(lowered):
                lst = per_kw.get(kid)
                if lst is None:
                    per_kw[kid] = [end]
                else:
                    lst.append(end)
            for kid, ends in per_kw.items():
                for ri in self._kw_rules[kid]:
                    got = positions.get(ri)
                    if got is None:
                        positions[ri] = list(ends)
                    else:
                        got.extend(ends)

        for ri in sorted(positions):
            rule = rules[ri]
            if rule.path is not None and (path_b is None or not rule.path.search(path_b)):
                continue
            regex = rule.regex
            if regex is None:  # a path-only rule has no content to match; it never gets here
                continue
            for a, b in self._ranges(rule, positions[ri], n):
                for m in regex.finditer(data, a, b):
                    hit = self._check(rule, ri, m, data, path_b, placeholders)
                    if hit is not None:
                        hits.append(hit)

        if self.redact_pii and depth == 0:
            from codeward.privacy.pii import DESCRIPTIONS, find_pii

            for rule_id, s, e in find_pii(data):
                secret = data[s:e]
                if self._user.allows(secret) or _overlaps(placeholders, s, e) or self._line_allowed(data, s, e):
                    continue
                hits.append(_Hit(None, rule_id, DESCRIPTIONS[rule_id], s, e, len(rules), s, e))

        if depth < _max_depth():
            hits.extend(self._decoded_hits(data, path, depth, placeholders, hits))

        if self._composite:
            hits = self._apply_required(data, hits)
        return [h for h in hits if h.rule is None or not h.rule.skip_report]

    def _ranges(self, rule: Rule, ends: list[int], n: int) -> list[tuple[int, int]]:
        if not rule.span or not ends:
            return [(0, n)]
        span = rule.span
        ends.sort()
        out: list[tuple[int, int]] = []
        cs, ce = max(0, ends[0] - span), min(n, ends[0] + span)
        covered = 0
        for p in ends[1:]:
            s, e = p - span, p + span
            if s <= ce:
                if e > ce:
                    ce = min(n, e)
            else:
                out.append((cs, ce))
                covered += ce - cs
                cs, ce = max(0, s), min(n, e)
        out.append((cs, ce))
        covered += ce - cs
        if covered > WHOLE_TEXT_SHARE * n:
            return [(0, n)]
        return out

    def _check(
        self, rule: Rule, order: int, m: Any, data: bytes, path_b: bytes | None, placeholders: list[tuple[int, int]]
    ) -> _Hit | None:
        ms, me = m.span()
        if rule.secret_group:
            s, e = m.span(rule.secret_group)
        else:
            s, e = ms, me
            for g in range(1, ((rule.regex.groups or 0) if rule.regex is not None else 0) + 1):
                gs, ge = m.span(g)
                if gs >= 0 and ge > gs:
                    s, e = gs, ge
                    break
        if s < 0 or e <= s:
            return None
        secret = data[s:e]
        if rule.entropy and shannon_entropy(secret.decode("utf-8", "replace")) <= rule.entropy:
            return None
        if _overlaps(placeholders, s, e):
            return None
        if self._line_allowed(data, ms, me):
            return None
        if self._user.allows(secret):
            return None
        line: bytes | None = None
        for al in self._allowlists_for(rule):
            if al.regex_target == "line" and line is None:
                ls = data.rfind(b"\n", 0, ms) + 1
                le = data.find(b"\n", me)
                line = data[ls : (le if le >= 0 else len(data))]
            if _allowed(al, secret, data[ms:me], line or b"", path_b):
                return None
        return _Hit(rule, rule.id, rule.description, s, e, order, ms, me)

    def _allowlists_for(self, rule: Rule) -> list[Allowlist]:
        out = [a for a, targets in self._global if not targets or rule.id in targets]
        out.extend(rule.allowlists)
        return out

    def _globally_allowed(self, rule_id: str, secret: bytes, match: bytes, line: bytes, path_b: bytes | None) -> bool:
        return any(_allowed(a, secret, match, line, path_b) for a, t in self._global if not t or rule_id in t)

    @staticmethod
    def _line_allowed(data: bytes, s: int, e: int) -> bool:
        ls = data.rfind(b"\n", 0, s) + 1
        le = data.find(b"\n", e)
        chunk = data[ls : (le if le >= 0 else len(data))]
        return any(marker in chunk for marker in ALLOW_MARKERS)

    def _placeholder_spans(self, data: bytes) -> list[tuple[int, int]]:
        if b"<secret:" not in data:
            return []
        return [m.span() for m in self._placeholder.finditer(data)]

    def _decoded_hits(
        self, data: bytes, path: str | None, depth: int, placeholders: list[tuple[int, int]], found: list[_Hit]
    ) -> list[_Hit]:
        from codeward.privacy.decode import UNREADABLE_RULE, Unreadable, find_encoded

        out: list[_Hit] = []
        for s, e, decoded in find_encoded(data):
            if _overlaps(placeholders, s, e):
                continue
            if isinstance(decoded, Unreadable):  # compressed data not read in full: fail closed
                if not self._line_allowed(data, s, e) and not self._user.allows(data[s:e]):
                    why = f"encoded compressed data that cannot be read in full ({decoded.reason})"
                    out.append(_Hit(None, UNREADABLE_RULE, why, s, e, len(self.ruleset.rules), s, e))
                continue
            inner = self._scan_bytes(decoded, path, depth + 1)
            inner = [h for h in inner if h.rule is not None or h.rule_id == UNREADABLE_RULE]
            if not inner or self._line_allowed(data, s, e) or self._user.allows(data[s:e]):
                continue
            first = min(inner, key=lambda h: (h.start, h.order))
            out.append(
                _Hit(
                    first.rule,
                    first.rule_id,
                    f"{first.description} (base64-encoded)",
                    s,
                    e,
                    first.order,
                    s,
                    e,
                )
            )
        return out

    def _apply_required(self, data: bytes, hits: list[_Hit]) -> list[_Hit]:
        """Composite rules: keep a primary finding only when each required rule matched near it."""
        newlines = [i for i, c in enumerate(data) if c == 10] if hits else []

        def line_col(off: int) -> tuple[int, int]:
            ln = bisect.bisect_right(newlines, off - 1)
            col = off - (newlines[ln - 1] + 1 if ln else 0)
            return ln, col

        by_rule: dict[str, list[_Hit]] = {}
        for h in hits:
            by_rule.setdefault(h.rule_id, []).append(h)
        kept = []
        for h in hits:
            if h.rule is None or not h.rule.required:
                kept.append(h)
                continue
            hl, hc = line_col(h.mstart)
            ok = True
            for req in h.rule.required:
                near = False
                for other in by_rule.get(req.id, []):
                    ol, oc = line_col(other.mstart)
                    if req.within_lines is not None and abs(ol - hl) > req.within_lines:
                        continue
                    if req.within_columns is not None and abs(oc - hc) > req.within_columns:
                        continue
                    near = True
                    break
                if not near:
                    ok = False
                    break
            if ok:
                kept.append(h)
        return kept

    # ----------------------------------------------------------------------------------------
    # bytes -> Finding

    def _findings(self, text: str, data: bytes, hits: list[_Hit]) -> list[Finding]:
        if not hits:
            return []
        hits.sort(key=lambda h: (h.start, -(h.end - h.start), h.order))
        merged: list[_Hit] = []
        for h in hits:
            if merged and h.start < merged[-1].end:
                if h.end > merged[-1].end:
                    merged[-1].end = h.end
                continue
            if merged and h.start == merged[-1].start and h.end == merged[-1].end:
                continue
            merged.append(_Hit(h.rule, h.rule_id, h.description, h.start, h.end, h.order))
        offsets = sorted({o for h in merged for o in (h.start, h.end)})
        to_char = _char_offsets(data, offsets, ascii_only=len(data) == len(text))
        out: list[Finding] = []
        line, last = 1, 0
        line_start = 0
        for h in merged:
            s, e = to_char[h.start], to_char[h.end]
            line += text.count("\n", last, s)
            nl = text.rfind("\n", 0, s)
            line_start = nl + 1
            last = s
            out.append(
                Finding(
                    rule_id=h.rule_id,
                    description=h.description,
                    start=s,
                    end=e,
                    line=line,
                    column=s - line_start + 1,
                    fingerprint=fingerprint(data[h.start : h.end]),
                )
            )
        return out


def _overlaps(spans: list[tuple[int, int]], s: int, e: int) -> bool:
    return any(ps < e and s < pe for ps, pe in spans)


def _allowed(al: Allowlist, secret: bytes, match: bytes, line: bytes, path_b: bytes | None) -> bool:
    checks: list[bool] = []
    if al.commits:
        checks.append(False)  # a working tree or a prompt has no commit to match
    if al.paths:
        checks.append(path_b is not None and any(p.search(path_b) for p in al.paths))
    if al.regexes:
        target = secret if al.regex_target == "secret" else match if al.regex_target == "match" else line
        checks.append(any(r.search(target) for r in al.regexes))
    if al.stopwords:
        low = secret.decode("utf-8", "replace").lower()
        checks.append(any(w in low for w in al.stopwords))
    if al.condition == "AND":
        return bool(checks) and all(checks)
    return any(checks)


def _char_offsets(data: bytes, offsets: list[int], *, ascii_only: bool) -> dict[int, int]:
    """Map UTF-8 byte offsets (sorted) to character offsets in one pass."""
    if ascii_only:
        return {o: o for o in offsets}
    out: dict[int, int] = {}
    chars = 0
    prev = 0
    for o in offsets:
        chars += len(data[prev:o].decode("utf-8", "surrogatepass"))
        out[o] = chars
        prev = o
    return out


def _max_depth() -> int:
    from codeward.privacy.decode import MAX_DEPTH

    return MAX_DEPTH


# --------------------------------------------------------------------------------------------
# construction, cached per arguments


def load_scanner(
    *, rule_files: Sequence[Path] = (), redact_pii: bool = False, allowlist: Sequence[str] = ()
) -> Scanner:
    """The built-in rules plus the user's gitleaks files, compiled once per distinct arguments.

    A rules file that cannot be read or parsed, or whose regex RE2 rejects, raises ConfigError
    naming the file and the rule. Editing a rules file or one it extends (new mtime or size), or an
    ``[extend] path`` that resolves elsewhere from another working directory, loads it afresh.
    """
    from codeward.privacy.gitleaks_config import rule_sources

    files = tuple(Path(f).expanduser() for f in rule_files)
    stamps = []
    # every file the rules are read from, those an ``[extend] path`` names too (resolved against
    # the working directory as the loader does): an edit of any of them loads the rules afresh
    for f in rule_sources(files) if files else ():
        try:
            st = os.stat(f)
            stamps.append((str(f.resolve()), st.st_mtime_ns, st.st_size))
        except OSError:
            stamps.append((str(f), 0, -1))  # the loader reports the missing file
    return _load_cached(files, tuple(stamps), bool(redact_pii), tuple(allowlist))


@functools.lru_cache(maxsize=16)
def _load_cached(
    files: tuple[Path, ...], stamps: tuple[tuple[str, int, int], ...], redact_pii: bool, allowlist: tuple[str, ...]
) -> Scanner:
    from codeward.privacy.gitleaks_config import load_ruleset

    return Scanner(load_ruleset(files), redact_pii=redact_pii, allowlist=allowlist)
