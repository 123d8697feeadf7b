"""Which directories of the workspace commands may write, from ``allow_directories`` (DESIGN §3).

Patches obey ``allow_directories`` through :func:`codeward.policy.decide_edit`; this module turns
the same lists into the set of directories the sandbox spec names as writable, so the sandbox only
enforces directories it is given and never reads a policy itself. The rules:

* Every list must be met, as for edits (:mod:`codeward.policy.allow_lists`): the user's entries
  (``$CODEWARD_HOME/AGENTS.md``, the user config) as one list, and each repository file's (an
  AGENTS.md, an enclosing project's, a ``.codeward/config.toml``) as its own. With one non-empty
  list, its directories are the writable set. With several, the writable set is every directory of
  one list that lies under a directory of each other (user ``src/`` and repository ``src/api/``
  leave ``src/api/`` writable; a nested AGENTS.md cannot add a directory its parent's list lacks).
  No entries: no limit.
* A pattern is a directory path from the repository root (``src/``, ``./lib/core``); ``.`` or ``/``
  is the whole workspace. Glob patterns (``packages/*/src``, ``**/generated``) are expanded to the
  directories that exist when the command starts, with the same matching as ``decide_edit``; a
  directory made later is not writable until the next command. ``a/*`` and ``a/**`` cover all of
  ``a``. A glob that names files (``src/*.py``) makes only matching directories writable.
* Only existing, real directories become writable. An allowed directory that does not exist yet
  cannot be created by a command (its parent is read-only): create it with a patch, which
  ``allow_directories`` permits, or by hand. One reached through a symbolic link, or one that is
  not a directory, is not writable either (the link could point anywhere). These are listed in
  ``skipped`` so the model's note can say why.
* Directories inside a protected path (``.git/hooks``) or a hidden one (ignored, disallowed) are
  never writable, whatever the lists say.

Pure apart from reading directory entries under the workspace root; no symlink is followed.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from codeward.errors import UsageError
from codeward.sandbox.spec import is_within

MAX_DIRS = 256  # writable directories after expanding globs: each is a mount or a Landlock grant
MAX_WALK = 50_000  # directories a '**' pattern may visit before the expansion is refused
GLOB_CHARS = "*?["


@dataclass(frozen=True)
class WriteScope:
    """The result: ``dirs`` is None when nothing narrows the workspace."""

    dirs: tuple[Path, ...] | None
    rule: str = ""  # "allow_directories, AGENTS.md:7, ~/.codeward/config.toml"
    skipped: tuple[str, ...] = ()  # "src/gen/ does not exist"


def write_scope(
    root: Path,
    entries: Sequence[Any],
    *,
    masked: Iterable[Path] = (),
    protected: Iterable[Path] = (),
) -> WriteScope:
    """The writable directories under ``root`` (resolved) for ``allow_directories`` ``entries``.

    Each entry has ``pattern``, ``source`` and ``user_owned`` (a :class:`~codeward.config.model.PolicyEntry`).
    Raises UsageError, naming the entry, for a pattern that cannot be used or expands too far.
    """
    from codeward.policy.allow_lists import allow_groups
    from codeward.policy.directories import normalize_dir_pattern
    from codeward.policy.patterns import PatternError
    from codeward.workspace import is_protected

    lists: list[list[Path]] = []
    sources: list[str] = []
    for mine in allow_groups(entries):
        candidates: list[Path] = []
        for e in mine:
            try:
                pattern = normalize_dir_pattern(e.pattern)
            except PatternError as err:
                raise UsageError(f"{e.source}: allow_directories entry {e.pattern!r}: {err}") from None
            candidates += _expand(root, pattern, e)
            if e.source not in sources:
                sources.append(e.source)
        lists.append(minimal(candidates))
    if not lists:
        return WriteScope(None)
    chosen = lists[0]
    for other in lists[1:]:
        chosen = intersect(chosen, other)
    if chosen == [root]:
        return WriteScope(None)
    masked = list(masked)
    protected = list(protected)
    dirs: list[Path] = []
    skipped: list[str] = []
    for d in chosen:
        rel = d.relative_to(root).as_posix()
        why = _unusable(root, d)
        if why is None and (is_protected(rel) or any(is_within(d, p) for p in protected)):
            why = "is a protected path"
        if why is None and any(is_within(d, m) for m in masked):
            why = "is hidden from commands"
        if why is None:
            dirs.append(d)
        else:
            skipped.append(f"{rel}/ {why}")
    if len(dirs) > MAX_DIRS:
        raise UsageError(
            f"allow_directories ({', '.join(sources)}) names {len(dirs)} directories; the sandbox takes at most "
            f"{MAX_DIRS}: list fewer, broader directories"
        )
    return WriteScope(tuple(dirs), "allow_directories, " + ", ".join(sources), tuple(skipped))


def minimal(paths: Iterable[Path]) -> list[Path]:
    """The paths without those lying under another one of them, in a stable order."""
    ordered = sorted(set(paths), key=lambda p: (len(p.parts), str(p)))
    out: list[Path] = []
    for p in ordered:
        if not any(is_within(p, q) for q in out):
            out.append(p)
    return sorted(out)


def intersect(a: Sequence[Path], b: Sequence[Path]) -> list[Path]:
    """Directories under an entry of both lists: each entry of one list that lies under an entry of the other."""
    both = [p for p in a if any(is_within(p, q) for q in b)]
    both += [q for q in b if any(is_within(q, p) for p in a)]
    return minimal(both)


def _expand(root: Path, pattern: str, entry: Any) -> list[Path]:
    """The absolute directories a normalised pattern names (literal: itself, existing or not)."""
    while pattern in ("*", "**") or pattern.endswith(("/*", "/**")):
        # "a/*" and "a/**" cover every entry of "a" (files too, for patches): the same as "a"
        pattern = pattern.rpartition("/")[0] if "/" in pattern else ""
    if pattern == "":
        return [root]
    if not any(c in pattern for c in GLOB_CHARS):
        return [root / pattern]
    parts = pattern.split("/")
    if "**" in parts:
        return _expand_recursive(root, pattern, entry)
    level = [root]
    for part in parts:
        nxt: list[Path] = []
        for d in level:
            nxt += [p for p in _subdirs(d) if fnmatchcase(p.name, part)]
        level = nxt
    return level


def _expand_recursive(root: Path, pattern: str, entry: Any) -> list[Path]:
    """Top-most directories a ``**`` pattern matches, as ``decide_edit`` matches it (gitignore rules)."""
    import pathspec

    spec = pathspec.GitIgnoreSpec.from_lines(["/" + pattern])
    found: list[Path] = []
    todo = [root]
    seen = 0
    while todo:
        d = todo.pop()
        for sub in _subdirs(d):
            seen += 1
            if seen > MAX_WALK:
                raise UsageError(
                    f"{entry.source}: allow_directories entry {entry.pattern!r} would search more than {MAX_WALK} "
                    "directories on every command; write the directories without '**'"
                )
            if spec.match_file(sub.relative_to(root).as_posix()):
                found.append(sub)
            else:
                todo.append(sub)
    return found


def _subdirs(d: Path) -> list[Path]:
    """Real subdirectories of ``d`` a glob may match: no symbolic links, no ``.git`` or ``.codeward``."""
    from codeward.workspace import PROTECTED_DIRS

    try:
        with os.scandir(d) as it:
            return sorted(Path(e.path) for e in it if e.name not in PROTECTED_DIRS and e.is_dir(follow_symlinks=False))
    except OSError:
        return []


def _unusable(root: Path, d: Path) -> str | None:
    """Why ``d`` cannot be made writable, or None: every component below ``root`` must be a real directory."""
    cur = root
    for part in d.relative_to(root).parts:
        cur = cur / part
        try:
            st = os.lstat(cur)
        except FileNotFoundError:
            return "does not exist (create it with a patch first)"
        except OSError as e:
            return f"cannot be read ({e.strerror})"
        if stat.S_ISLNK(st.st_mode):
            return "is reached through a symbolic link"
        if not stat.S_ISDIR(st.st_mode):
            return "is not a directory"
    return None
