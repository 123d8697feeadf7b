"""Ignore rules: which paths the agent may never read or write (DESIGN §3).

Sources, in two layers:

* the user's layer: built-in defaults (hold with no file at all) and ``$CODEWARD_HOME/ignore``,
  where a ``!pattern`` may re-allow a built-in default (it is the user's own file);
* the repository's layer: ``.codewardignore`` and ``.codexignore`` in any directory (patterns
  relative to that directory, deeper files win), plus ``disallow_directories``.

A path is blocked when either layer blocks it, so a repository can add rules but never un-ignore a
user or built-in rule (principle 2). As in git, a path inside an ignored directory stays ignored
whatever a later ``!`` says. ``.gitignore`` only hides paths from listings; it is not a boundary.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pathspec

from codeward.errors import ConfigError
from codeward.home import HOME_RULE_SOURCE
from codeward.privacy.fscase import case_insensitive
from codeward.workspace import IGNORE_FILES, Workspace, dir_index

BUILTIN_PATTERNS: tuple[str, ...] = (
    ".env",
    ".env.*",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "id_rsa*",
    "id_ed25519*",
    ".ssh/",
    ".aws/",
    ".netrc",
    ".git-credentials",
    "secrets/",
    "credentials/",
    "*.tfstate*",
)

SKIP_DIRS = frozenset({".git"})
MATCHING_VERSION = 1  # bump when how a pattern matches changes: saved classifications are then redone


@dataclass(frozen=True)
class IgnoreRule:
    """One pattern and where it was written, for refusal messages."""

    pattern: str
    source: str
    line: int | None = None
    user_owned: bool = True

    def describe(self) -> str:
        if self.source == HOME_RULE_SOURCE:
            return f"rule that hides codeward's own home ({self.pattern.strip('/')}: sessions, logs, keys)"
        if self.source == "built-in":
            return f"built-in rule '{self.pattern}'"
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"rule '{self.pattern}' ({where})"

    def how_to_allow(self) -> str:
        if self.source == HOME_RULE_SOURCE:
            return "it is never shown to the agent; keep the files you want it to see elsewhere"
        if self.source == "built-in":
            return f"to allow it, add '!{self.pattern}' to your own $CODEWARD_HOME/ignore"
        if self.source.endswith("config.toml") or self.source.endswith("AGENTS.md") or ":" in self.source:
            return f"to allow it, remove '{self.pattern}' from {self.source.split(':')[0]}"
        return f"to allow it, remove the pattern from {self.source}"


class _Layer:
    """Patterns of one owner, each file's patterns anchored at the directory holding it.

    With ``casefold`` (a case-insensitive file system) patterns and anchors are kept lower-cased;
    the matcher lower-cases each path it checks, so ``SECRETS/k`` meets ``secrets/``.
    """

    def __init__(self, casefold: bool = False) -> None:
        self._groups: list[tuple[str, pathspec.GitIgnoreSpec, list[IgnoreRule], str]] = []
        self.casefold = casefold
        self.text: list[tuple[str, str, tuple[str, ...]]] = []  # what the groups are made of, for the key

    def add(self, base: str, lines: Sequence[tuple[str, IgnoreRule]], *, above: str = "") -> None:
        """``base`` is the directory (workspace-relative, '' for root) the patterns are relative to;
        ``above`` is, for a file in a directory above the workspace, the workspace root's path from
        that directory (``vendor/lib``), so its patterns are matched as they are written."""
        if not lines:
            return
        if self.casefold:
            base, above = base.lower(), above.lower()
        spec = pathspec.GitIgnoreSpec.from_lines([text.lower() if self.casefold else text for text, _ in lines])
        self._groups.append((base, spec, [rule for _, rule in lines], above))
        self.text.append((base, above, tuple(text for text, _ in lines)))

    def check(self, rel: str, is_dir: bool) -> IgnoreRule | bool | None:
        """The rule that ignores ``rel``; False when a negation re-allowed it; None when nothing matched.

        Groups are consulted in order and the last one with a match decides (deeper files come
        later, as in git).
        """
        verdict: IgnoreRule | bool | None = None
        for base, spec, rules, above in self._groups:
            if above:
                sub = f"{above}/{rel}"
            elif base:
                if not (rel == base or rel.startswith(base + "/")):
                    continue
                sub = rel[len(base) + 1 :]
            else:
                sub = rel
            if not sub:
                continue
            res = spec.check_file(sub + "/" if is_dir else sub)
            if res.include is None:
                continue
            verdict = rules[res.index] if res.include and res.index is not None else False
        return verdict


class IgnoreMatcher:
    """Answers "may the agent see this path?" and lists what the sandbox must mask."""

    def __init__(
        self,
        workspace: Workspace,
        user: _Layer,
        repo: _Layer,
        listing_hidden: pathspec.GitIgnoreSpec | None,
        *,
        casefold: bool = False,
    ):
        self.workspace = workspace
        self._user = user
        self._repo = repo
        self._listing = listing_hidden
        self.casefold = casefold  # names compared without case: the workspace's file system folds them
        digest = hashlib.sha256(
            repr((MATCHING_VERSION, pathspec.__version__, casefold, user.text, repo.text)).encode(
                "utf-8", "surrogateescape"
            )
        )
        self._key = digest.hexdigest()
        self.sources: IgnoreSources | None = None  # set by :func:`load_ignore`

    def _norm(self, rel: str) -> str:
        rel = _matchable(rel)
        return rel.lower() if self.casefold else rel

    @property
    def key(self) -> str:
        """Changes whenever what the rules hide could: every pattern, where it applies, and in which layer."""
        return self._key

    def hides(self, rel: str, is_dir: bool) -> bool:
        """Whether a rule hides ``rel`` itself (its parents are not looked at: walks stop at a hidden directory)."""
        return self._check_one(rel, is_dir) is not None

    def _check_one(self, rel: str, is_dir: bool) -> IgnoreRule | None:
        rel = self._norm(rel)
        for layer in (self._user, self._repo):
            v = layer.check(rel, is_dir)
            if isinstance(v, IgnoreRule):
                return v
        return None

    def match(self, rel: str | PurePosixPath, *, is_dir: bool | None = None) -> IgnoreRule | None:
        """The rule that blocks the workspace-relative path ``rel`` (or one of its parents), else None."""
        rel = PurePosixPath(rel).as_posix().strip("/")
        if rel in ("", "."):
            return None
        if is_dir is None:
            is_dir = (self.workspace.root / rel).is_dir()
        parts = rel.split("/")
        for i in range(1, len(parts)):
            rule = self._check_one("/".join(parts[:i]), True)
            if rule is not None:
                return rule
        return self._check_one(rel, is_dir)

    def match_path(self, path: Path) -> IgnoreRule | None:
        """:meth:`match` for an absolute path inside the workspace; outside paths are not ours to judge."""
        try:
            rel = path.relative_to(self.workspace.root)
        except ValueError:
            return None
        return self.match(rel.as_posix())

    def hidden_from_listing(self, rel: str, is_dir: bool) -> bool:
        """True for ``.git`` and paths in ``.gitignore``: left out of listings and grep, still readable."""
        rel = self._norm(rel)
        parts = PurePosixPath(rel).parts
        if any(p in SKIP_DIRS for p in parts):
            return True
        if self._listing is None:
            return False
        return self._listing.match_file(rel + "/" if is_dir else rel)

    def blocked_paths(self, *, limit: int | None = None) -> Iterable[tuple[Path, IgnoreRule]]:
        """The topmost blocked paths under the root with their rules (a blocked directory is not entered).

        Read from the workspace's directory index (:mod:`codeward.dirindex`), refreshed with these
        rules: only directories that changed since the index last saw them are listed again.
        """
        for count, (p, is_dir) in enumerate(self._hidden(), 1):
            rule = self._check_one(self.workspace.rel(p), is_dir)
            yield p, rule or IgnoreRule("(ignore rules)", "index")  # the same rules hid it: never None
            if limit is not None and count >= limit:
                return

    def masked_paths(self, cache_dir: Path | None = None) -> list[Path]:
        """Absolute paths the sandbox must hide from commands (``cache_dir``: where a previous
        process saved the directory index, :mod:`codeward.dirindex.store`)."""
        return [p for p, _ in self._hidden(cache_dir)]

    def _hidden(self, cache_dir: Path | None = None) -> list[tuple[Path, bool]]:
        root = self.workspace.root
        index = dir_index(root, cache_dir)
        with index.lock:  # no other thread's refresh may leave an entry unclassified in between
            index.refresh(self)
            hidden = index.hidden_paths()
        base = len(str(index.root)) + 1
        return [(root / p[base:], is_dir) for p, is_dir in hidden]


def _matchable(rel: str) -> str:
    """``rel`` with bytes that are not UTF-8 (surrogate escapes from the file system) replaced, so
    that a file name in another encoding is matched by wildcards instead of breaking the matcher."""
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        return rel.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return rel


def _read_patterns(
    path: Path, source: str, user_owned: bool, *, missing_ok: bool = False
) -> list[tuple[str, IgnoreRule]]:
    """The patterns of one ignore file, each with its file:line.

    Fails closed: a file that exists but cannot be read, or a line that is not a valid pattern,
    raises :class:`ConfigError` naming the file (and line) rather than applying fewer rules. A UTF-8
    byte-order mark at the start is dropped, as git does.
    """
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        if missing_ok:
            return []
        raise ConfigError(f"{source}: ignore file disappeared while it was read; run again") from None
    except OSError as e:
        raise ConfigError(
            f"{source}: cannot read this ignore file ({e.strerror or e}); codeward will not run with fewer "
            "ignore rules than you wrote: fix its permissions or remove it"
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    out = []
    for i, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        problem = _invalid(line)
        if problem is not None:
            raise ConfigError(f"{source}:{i}: invalid ignore pattern {line!r}: {problem}; fix or remove the line")
        out.append((line, IgnoreRule(line.strip(), source, i, user_owned)))
    return out


def _invalid(line: str) -> str | None:
    """Why ``line`` is not a pattern git would apply, or None."""
    body = line.strip()
    if body == "!":
        return "a lone '!' negates nothing"
    if body.endswith("\\") and not body.endswith("\\\\") and not line.endswith(" "):
        return "a trailing backslash escapes nothing"
    try:
        pathspec.GitIgnoreSpec.from_lines([line])
    except Exception as e:  # pathspec's own error types vary by version
        return str(e) or type(e).__name__
    return None


_IGNORE_NAMES = frozenset(IGNORE_FILES)


def _repo_ignore_files(root: Path, cache_dir: Path | None = None) -> list[Path]:
    """Every .codewardignore / .codexignore under the root, shallow first (deeper files win).

    One that is not a regular file (a directory, a socket) is listed too: reading it fails, and the
    run is refused naming it, rather than quietly applying no rules. From the directory index, so
    finding them costs one ``lstat`` per directory once the index is warm.
    """
    index = dir_index(root, cache_dir)
    index.refresh()
    base = str(index.root)
    found: list[Path] = []
    for d, e in index.walk(lambda e: _IGNORE_NAMES):
        if not e.watched_files and not e.watched_dirs:
            continue
        here = root / d[len(base) + 1 :] if d != base else root
        found += [here / name for name in IGNORE_FILES if name in e.watched]
    found.sort(key=lambda p: (len(p.relative_to(root).parts), str(p)))
    return found


def _enclosing_ignore_files(root: Path) -> list[tuple[Path, str]]:
    """Ignore files of every enclosing repository, in the directories above ``root`` up to the
    outermost one's root (:func:`codeward.workspace.enclosing_project_dirs`).

    Running codeward inside a nested repository (``vendor/lib``, or ``mid/vendor/lib`` two
    repositories deep) must not drop what an enclosing project hides there (``vendor/lib/keys.txt``
    in its ``.codexignore``): those rules keep applying, matched from where they are written.
    Shallowest first, like the files inside.
    """
    from codeward.workspace import enclosing_project_dirs

    out: list[tuple[Path, str]] = []
    for d in enclosing_project_dirs(root):  # no enclosing repository: nothing above is a project's rule
        above = root.relative_to(d).as_posix()
        for name in IGNORE_FILES:
            f = d / name
            if f.exists() or f.is_symlink():
                out.append((f, above))  # one that cannot be read is refused by name (fail closed)
    return out


def load_ignore(
    workspace: Workspace,
    home: Path,
    disallow_directories: Sequence[tuple[str, str, bool]] = (),
    always_hidden: Sequence[tuple[str, str]] = (),
) -> IgnoreMatcher:
    """Build the matcher for ``workspace``.

    ``disallow_directories`` holds ``(pattern, source, user_owned)`` triples from AGENTS.md and the
    config; each is treated as a directory pattern anchored at the root (``data/customers/``).
    ``always_hidden`` holds ``(pattern, source)`` pairs no ignore file can negate, not even the
    user's own (codeward's home inside the workspace, :func:`codeward.home.home_patterns`).
    """
    root = workspace.root
    casefold = case_insensitive(root)
    user = _Layer(casefold)
    user_lines = [(p, IgnoreRule(p, "built-in")) for p in BUILTIN_PATTERNS]
    global_file = home / "ignore"
    user_lines += _read_patterns(global_file, str(global_file), True, missing_ok=True)
    user.add("", user_lines)

    repo = _Layer(casefold)
    enclosing = _enclosing_ignore_files(root)
    inside = _repo_ignore_files(root, home / "cache")
    sources = IgnoreSources(home, [global_file, *(f for f, _ in enclosing), *inside])
    for f, above in enclosing:
        repo.add("", _read_patterns(f, str(f), False), above=above)
    for f in inside:
        base = f.parent.relative_to(root).as_posix()
        repo.add("" if base == "." else base, _read_patterns(f, f.relative_to(root).as_posix(), False))

    dir_lines: list[tuple[str, IgnoreRule]] = []
    for pattern, source, owned in disallow_directories:
        p = pattern.strip().strip("/")
        if not p or p.startswith("!"):
            continue
        dir_lines.append(("/" + p + "/", IgnoreRule(pattern, source, None, owned)))
        dir_lines.append(("/" + p, IgnoreRule(pattern, source, None, owned)))
    # disallow_directories can never be negated by ignore files: they sit in both layers' tail
    user.add("", [(t, r) for t, r in dir_lines if r.user_owned])
    user.add("", [(t, IgnoreRule(t, source)) for t, source in always_hidden])  # last: nothing negates it
    repo.add("", [(t, r) for t, r in dir_lines if not r.user_owned])

    listing: pathspec.GitIgnoreSpec | None = None
    gitignore = root / ".gitignore"
    if gitignore.is_file():
        try:
            lines = gitignore.read_text(encoding="utf-8-sig", errors="replace").splitlines()
            valid = [ln.lower() if casefold else ln for ln in lines if _invalid(ln) is None]
            listing = pathspec.GitIgnoreSpec.from_lines(valid)
        except OSError:
            listing = None  # .gitignore only tidies listings; it is no privacy boundary
    matcher = IgnoreMatcher(workspace, user, repo, listing, casefold=casefold)
    matcher.sources = sources
    return matcher


def _stamp(p: Path) -> tuple[int, ...] | None:
    try:
        st = os.lstat(p)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode)


class IgnoreSources:
    """The ignore files a matcher was built from, each with its stamp when read, to tell whether the
    rules on disk are still the ones in force: a session reads them again when you edit, add or
    remove one on the host (red team rt12: a rule added mid-session applied only after ``/new``).
    Taken before the files are read, so an edit during the read shows as a change."""

    def __init__(self, home: Path, files: Sequence[Path]) -> None:
        self.home = home
        self.files = tuple(files)
        self.stamps = tuple(_stamp(f) for f in self.files)

    def changed(self, root: Path) -> bool:
        """True when a file's stamp moved, or the set of ignore files is not the same."""
        if any(_stamp(f) != s for f, s in zip(self.files, self.stamps, strict=True)):
            return True
        now = [
            self.home / "ignore",
            *(f for f, _ in _enclosing_ignore_files(root)),
            *_repo_ignore_files(root, self.home / "cache"),
        ]
        return now != list(self.files)
