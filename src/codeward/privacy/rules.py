"""Detection rules as data: the model, and the parser for gitleaks-format TOML tables.

The built-in rules (``rules.toml`` beside this module) and a user's gitleaks configuration use one
schema, so one parser serves both:

* ``[[rules]]`` with ``id``, ``description``, ``regex``, ``secretGroup``, ``entropy``,
  ``keywords``, ``path``, ``tags``, ``skipReport`` and ``[[rules.allowlists]]`` (or the legacy
  single ``[rules.allowlist]``);
* global ``[[allowlists]]`` (optionally ``targetRules``) and the legacy ``[allowlist]``;
* an allowlist has ``description``, ``condition`` (``OR``/``AND``), ``regexTarget``
  (``secret``/``match``/``line``), ``regexes``, ``stopwords``, ``paths`` and ``commits``.

Every regular expression is compiled with google-re2 and nothing else: RE2 runs in linear time, so
a rule file cannot make the scanner hang (no catastrophic backtracking). A pattern RE2 rejects is a
:class:`~codeward.errors.ConfigError` naming the file, the rule and the key.

One codeward extension: ``span`` (built-in rules) bounds how far a match reaches from one of the
rule's keywords, so the scanner runs the rule only on windows around keyword hits. Rules without it
run on the whole text when a keyword occurs, which is gitleaks' own behaviour.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from codeward.errors import ConfigError

REGEX_TARGETS = ("secret", "match", "line")
CONDITIONS = ("OR", "AND")
RULE_KEYS = frozenset(
    {
        "id",
        "description",
        "regex",
        "secretGroup",
        "entropy",
        "keywords",
        "path",
        "tags",
        "skipReport",
        "allowlist",
        "allowlists",
        "required",
        "span",
    }
)
ALLOWLIST_KEYS = frozenset(
    {"description", "condition", "regexTarget", "regexes", "stopwords", "paths", "commits", "targetRules"}
)
REQUIRED_KEYS = frozenset({"id", "withinLines", "withinColumns"})
RE2_MAX_MEM = 64 << 20


def compile_re2(pattern: str, where: str) -> Any:
    """Compile ``pattern`` (as UTF-8 bytes) with RE2, or raise ConfigError saying where it came from."""
    import re2

    opts = re2.Options()
    opts.max_mem = RE2_MAX_MEM
    opts.log_errors = False
    try:
        return re2.compile(pattern.encode("utf-8"), opts)
    except re2.error as e:
        raise ConfigError(f"{where}: regex rejected by RE2 ({e}); only RE2 syntax is accepted") from None


class LazyRe2:
    """An RE2 pattern compiled on first use.

    The built-in rules are compiled only when their keywords occur in a text: most runs meet a
    handful of them, and compiling all 240 up front cost ~60 ms of every start. Every built-in
    pattern is compiled by the test-suite, so deferring it hides no error from users; user rule
    files are still compiled eagerly so a bad pattern is reported when the file is loaded.
    """

    __slots__ = ("_compiled", "_pattern", "_where")

    def __init__(self, pattern: str, where: str) -> None:
        self._pattern = pattern
        self._where = where
        self._compiled: Any = None

    def compiled(self) -> Any:
        if self._compiled is None:
            self._compiled = compile_re2(self._pattern, self._where)
        return self._compiled

    def __getattr__(self, name: str) -> Any:
        return getattr(self.compiled(), name)


@dataclass(frozen=True, eq=False)
class Allowlist:
    """Conditions under which a finding is dropped (a known test value, a placeholder, a path)."""

    description: str = ""
    condition: str = "OR"
    regex_target: str = "secret"
    regexes: tuple[Any, ...] = ()
    stopwords: tuple[str, ...] = ()
    paths: tuple[Any, ...] = ()
    commits: tuple[str, ...] = ()
    target_rules: tuple[str, ...] = ()


@dataclass(frozen=True)
class Required:
    """A composite-rule condition: another rule must match within these many lines/columns."""

    id: str
    within_lines: int | None = None
    within_columns: int | None = None


@dataclass(frozen=True, eq=False)
class Rule:
    """One detector. ``regex`` is None for a rule that matches on the file path alone."""

    id: str
    description: str = ""
    regex: Any | None = None
    regex_source: str | None = None
    secret_group: int = 0
    entropy: float = 0.0
    keywords: tuple[str, ...] = ()
    path: Any | None = None
    allowlists: tuple[Allowlist, ...] = ()
    tags: tuple[str, ...] = ()
    skip_report: bool = False
    required: tuple[Required, ...] = ()
    span: int | None = None
    """None or 0: run on the whole text when a keyword occurs; N: only within N bytes of a keyword."""
    origin: str = ""


@dataclass(frozen=True)
class RuleSet:
    """Rules in detection order plus the global allowlists."""

    rules: tuple[Rule, ...] = ()
    allowlists: tuple[Allowlist, ...] = ()

    def ids(self) -> set[str]:
        return {r.id for r in self.rules}


@dataclass
class RuleDocument:
    """One parsed gitleaks-format file, before it is merged onto what it extends."""

    origin: str
    rules: list[Rule] = field(default_factory=list)
    allowlists: list[Allowlist] = field(default_factory=list)
    extend_path: str | None = None
    use_default: bool = False
    disabled_rules: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------------
# small typed readers: every error names the file and the key


def _str(where: str, key: str, v: Any) -> str:
    if not isinstance(v, str):
        raise ConfigError(f"{where}: {key} must be a string, not {type(v).__name__}")
    return v


def _str_list(where: str, key: str, v: Any) -> tuple[str, ...]:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ConfigError(f"{where}: {key} must be a list of strings")
    return tuple(v)


def _int(where: str, key: str, v: Any, lo: int = 0) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise ConfigError(f"{where}: {key} must be an integer >= {lo}")
    return v


def _float(where: str, key: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
        raise ConfigError(f"{where}: {key} must be a number >= 0")
    return float(v)


def _bool(where: str, key: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise ConfigError(f"{where}: {key} must be true or false")
    return v


def _table(where: str, key: str, v: Any) -> Mapping[str, Any]:
    if not isinstance(v, Mapping):
        raise ConfigError(f"{where}: {key} must be a table")
    return v


def _unknown(where: str, table: Mapping[str, Any], allowed: frozenset[str]) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        raise ConfigError(f"{where}: unknown key {extra[0]!r} (known: {', '.join(sorted(allowed))})")


# --------------------------------------------------------------------------------------------
# parsing


def parse_allowlist(raw: Any, where: str, *, global_: bool) -> Allowlist:
    t = _table(where, "allowlist", raw)
    _unknown(where, t, ALLOWLIST_KEYS if global_ else ALLOWLIST_KEYS - {"targetRules"})
    condition = _str(where, "condition", t.get("condition", "OR")).upper() or "OR"
    if condition not in CONDITIONS:
        raise ConfigError(f"{where}: condition must be OR or AND, not {t.get('condition')!r}")
    target = _str(where, "regexTarget", t.get("regexTarget", "secret")) or "secret"
    if target not in REGEX_TARGETS:
        raise ConfigError(f"{where}: regexTarget must be one of {', '.join(REGEX_TARGETS)}, not {target!r}")
    regexes = _str_list(where, "regexes", t.get("regexes", []))
    paths = _str_list(where, "paths", t.get("paths", []))
    stopwords = _str_list(where, "stopwords", t.get("stopwords", []))
    commits = _str_list(where, "commits", t.get("commits", []))
    if not (regexes or paths or stopwords or commits):
        raise ConfigError(f"{where}: an allowlist needs at least one of regexes, stopwords, paths or commits")
    return Allowlist(
        description=_str(where, "description", t.get("description", "")),
        condition=condition,
        regex_target=target,
        regexes=tuple(compile_re2(p, f"{where} regexes[{i}]") for i, p in enumerate(regexes)),
        stopwords=tuple(s.lower() for s in stopwords if s),
        paths=tuple(compile_re2(p, f"{where} paths[{i}]") for i, p in enumerate(paths)),
        commits=commits,
        target_rules=_str_list(where, "targetRules", t.get("targetRules", [])) if global_ else (),
    )


def _rule_allowlists(t: Mapping[str, Any], where: str) -> tuple[Allowlist, ...]:
    out: list[Allowlist] = []
    if "allowlist" in t and t.get("allowlists"):
        raise ConfigError(f"{where}: [rules.allowlist] is the old form of [[rules.allowlists]]; use one, not both")
    if "allowlist" in t:
        out.append(parse_allowlist(t["allowlist"], f"{where} allowlist", global_=False))
    lists = t.get("allowlists", [])
    if not isinstance(lists, list):
        raise ConfigError(f"{where}: allowlists must be an array of tables ([[rules.allowlists]])")
    for i, a in enumerate(lists):
        out.append(parse_allowlist(a, f"{where} allowlists[{i}]", global_=False))
    return tuple(out)


def parse_rule(raw: Any, origin: str, index: int, *, lazy: bool = False) -> Rule:
    """One ``[[rules]]`` table; ``origin`` is the file, ``index`` its position, for messages.

    ``lazy`` (built-in rules only) defers compiling the rule's regex to its first use.
    """
    where = f"{origin}: rules[{index}]"
    t = _table(where, "rules entry", raw)
    if "id" not in t:
        raise ConfigError(f"{where}: id is missing")
    rule_id = _str(where, "id", t["id"]).strip()
    if not rule_id or any(c.isspace() or c in "<>:" for c in rule_id):
        raise ConfigError(f"{where}: id {rule_id!r} must be non-empty with no spaces or '<', '>', ':'")
    where = f"{origin}: rule {rule_id!r}"
    _unknown(where, t, RULE_KEYS)
    regex_src = _str(where, "regex", t["regex"]) if "regex" in t else None
    path_src = _str(where, "path", t["path"]) if "path" in t else None
    # a rule with neither may only refine an existing rule of the same id (checked in extend())
    regex: Any = None
    if regex_src:
        regex = LazyRe2(regex_src, f"{where} regex") if lazy else compile_re2(regex_src, f"{where} regex")
    group = _int(where, "secretGroup", t.get("secretGroup", 0))
    if regex is not None and not lazy and group > regex.groups:
        raise ConfigError(f"{where}: secretGroup {group} but the regex has only {regex.groups} group(s)")
    required = []
    req_raw = t.get("required", [])
    if not isinstance(req_raw, list):
        raise ConfigError(f"{where}: required must be an array of tables ([[rules.required]])")
    for i, r in enumerate(req_raw):
        rw = f"{where} required[{i}]"
        rt = _table(rw, "required entry", r)
        _unknown(rw, rt, REQUIRED_KEYS)
        if "id" not in rt:
            raise ConfigError(f"{rw}: id is missing")
        required.append(
            Required(
                id=_str(rw, "id", rt["id"]),
                within_lines=_int(rw, "withinLines", rt["withinLines"]) if "withinLines" in rt else None,
                within_columns=_int(rw, "withinColumns", rt["withinColumns"]) if "withinColumns" in rt else None,
            )
        )
    span = _int(where, "span", t["span"]) if "span" in t else None
    return Rule(
        id=rule_id,
        description=_str(where, "description", t.get("description", "")) or rule_id,
        regex=regex,
        regex_source=regex_src,
        secret_group=group,
        entropy=_float(where, "entropy", t.get("entropy", 0.0)),
        keywords=tuple(k.lower() for k in _str_list(where, "keywords", t.get("keywords", [])) if k),
        path=compile_re2(path_src, f"{where} path") if path_src else None,
        allowlists=_rule_allowlists(t, where),
        tags=_str_list(where, "tags", t.get("tags", [])),
        skip_report=_bool(where, "skipReport", t.get("skipReport", False)),
        required=tuple(required),
        span=span,
        origin=origin,
    )


DOC_KEYS = frozenset({"title", "description", "minVersion", "extend", "rules", "allowlist", "allowlists"})
EXTEND_KEYS = frozenset({"path", "url", "useDefault", "disabledRules"})


def parse_document(doc: Mapping[str, Any], origin: str, *, lazy: bool = False) -> RuleDocument:
    """A whole gitleaks-format file (already read as TOML) into rules, allowlists and [extend].

    ``lazy`` is for the built-in file only (see :class:`LazyRe2`).
    """
    _unknown(origin, doc, DOC_KEYS)
    out = RuleDocument(origin=origin)
    if "extend" in doc:
        ext = _table(origin, "[extend]", doc["extend"])
        where = f"{origin}: [extend]"
        _unknown(where, ext, EXTEND_KEYS)
        if "url" in ext:
            raise ConfigError(f"{where}: url is not supported (codeward makes no network requests); use path")
        # the built-in rules always apply (user files only add); useDefault also lets rule ids of
        # gitleaks' default set (generic-api-key...) refine their codeward counterparts
        out.use_default = _bool(where, "useDefault", ext.get("useDefault", False))
        out.extend_path = _str(where, "path", ext["path"]) if "path" in ext else None
        if out.use_default and out.extend_path:
            raise ConfigError(f"{where}: path and useDefault cannot both be set (gitleaks refuses this too)")
        out.disabled_rules = _str_list(where, "disabledRules", ext.get("disabledRules", []))
    rules = doc.get("rules", [])
    if not isinstance(rules, list):
        raise ConfigError(f"{origin}: rules must be an array of tables ([[rules]])")
    positions: dict[str, int] = {}
    for i, r in enumerate(rules):
        rule = parse_rule(r, origin, i, lazy=lazy)
        if rule.id in positions:
            # as gitleaks: a later [[rules]] entry with the same id replaces the earlier one
            out.rules[positions[rule.id]] = rule
            continue
        positions[rule.id] = len(out.rules)
        out.rules.append(rule)
    if "allowlist" in doc and doc.get("allowlists"):
        raise ConfigError(f"{origin}: [allowlist] is the old form of [[allowlists]]; use one, not both")
    if "allowlist" in doc:
        out.allowlists.append(parse_allowlist(doc["allowlist"], f"{origin}: [allowlist]", global_=True))
    lists = doc.get("allowlists", [])
    if not isinstance(lists, list):
        raise ConfigError(f"{origin}: allowlists must be an array of tables ([[allowlists]])")
    for i, a in enumerate(lists):
        out.allowlists.append(parse_allowlist(a, f"{origin}: allowlists[{i}]", global_=True))
    return out


# --------------------------------------------------------------------------------------------
# merging (gitleaks' [extend] semantics)


def _merge_rule(base: Rule, top: Rule) -> Rule:
    """A same-id rule from an extending file: set fields win, keywords/tags/allowlists add up."""
    return replace(
        base,
        description=top.description if top.description != top.id else base.description,
        regex=top.regex if top.regex is not None else base.regex,
        regex_source=top.regex_source if top.regex is not None else base.regex_source,
        secret_group=top.secret_group or base.secret_group,
        entropy=top.entropy or base.entropy,
        keywords=tuple(dict.fromkeys((*base.keywords, *top.keywords))),
        path=top.path if top.path is not None else base.path,
        allowlists=(*base.allowlists, *top.allowlists),
        tags=tuple(dict.fromkeys((*base.tags, *top.tags))),
        skip_report=top.skip_report or base.skip_report,
        required=top.required or base.required,
        span=None if top.regex is not None else base.span,
        origin=top.origin,
    )


def extend(base: RuleSet, doc: RuleDocument, aliases: Mapping[str, str] | None = None) -> RuleSet:
    """``doc`` applied on top of ``base``: disabled rules removed, same ids merged, new rules added.

    ``aliases`` maps rule ids of gitleaks' default set to the built-in rule that plays their part:
    a refinement of ``generic-api-key`` (an allowlist, keywords, tags) lands on ``generic-secret``,
    and disabling it disables that. A same-id entry with its own regex or path is added as a rule
    of its own instead, so it cannot replace the detection of the other tokens ours covers.
    """
    aliases = aliases or {}
    disabled = {aliases.get(i, i) if aliases.get(i) in base.ids() else i for i in doc.disabled_rules}
    by_id = {r.id: r for r in base.rules if r.id not in disabled}
    order = [r.id for r in base.rules if r.id not in disabled]
    for rule in doc.rules:
        target = aliases.get(rule.id)
        if rule.id not in by_id and target in by_id and rule.regex is None and rule.path is None:
            desc = target if rule.description == rule.id else rule.description
            by_id[target] = _merge_rule(by_id[target], replace(rule, id=target, description=desc))
        elif rule.id in by_id:
            by_id[rule.id] = _merge_rule(by_id[rule.id], rule)
        elif rule.regex is None and rule.path is None:
            raise ConfigError(f"{doc.origin}: rule {rule.id!r}: needs a regex or a path")
        else:
            by_id[rule.id] = rule
            order.append(rule.id)
    rules = tuple(by_id[i] for i in order)
    known = {r.id for r in rules}
    mapped = []
    for a in doc.allowlists:
        targets = tuple(t if t in known else aliases.get(t, t) for t in a.target_rules)
        for target in targets:
            if target not in known:
                raise ConfigError(f"{doc.origin}: an allowlist's targetRules names unknown rule {target!r}")
        mapped.append(replace(a, target_rules=targets) if targets != a.target_rules else a)
    allowlists = (*base.allowlists, *mapped)
    return RuleSet(rules=rules, allowlists=allowlists)


def ruleset_from(documents: Iterable[RuleDocument]) -> RuleSet:
    """Fold documents in order onto an empty set (used for the built-in file)."""
    out = RuleSet()
    for d in documents:
        out = extend(out, d)
    return out
