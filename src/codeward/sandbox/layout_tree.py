"""The part of the sandbox's view decided from the workspace's trees, reused while they are unchanged.

:func:`codeward.sandbox.layout.build_layout` splits its work in two. What lies outside the
workspace and the extra dirs (homes, sockets, system secrets) is a few dozen ``lstat`` calls and is
decided every time. What lies inside (the masked and protected paths, and the ancestors that anchor
them) costs an ``lstat`` per path, thousands in a large repository; it is decided here, and kept
while the directory index of every tree, just refreshed by the caller, reports no change.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from codeward.sandbox.spec import SandboxSpec, is_within

if TYPE_CHECKING:
    from codeward.dirindex import DirIndex


def _lstat(p: Path) -> os.stat_result | None:
    try:
        return p.lstat()
    except OSError:
        return None


def _is_dir(p: Path) -> bool:
    st = _lstat(p)
    return st is not None and stat.S_ISDIR(st.st_mode)


def _under_any(p: Path, roots: Iterable[Path]) -> bool:
    return any(is_within(p, r) for r in roots)


@dataclass(frozen=True)
class TreePart:
    """What the layout takes from the workspace and the extra dirs (see :func:`_tree_part`)."""

    readonly: tuple[Path, ...]
    missing: tuple[Path, ...]
    linked: tuple[Path, ...]
    hidden_dirs: tuple[Path, ...]
    hidden_files: tuple[Path, ...]
    anchored: tuple[Path, ...]
    anchored_set: frozenset[Path]
    hidden_set: frozenset[Path]  # hidden_dirs and hidden_files, for membership
    # paths whose answer no index vouches for (a link's target; a name in a directory the index does
    # not enter, such as inside ``.git``), with what they were: looked at again before any reuse
    checks: tuple[tuple[Path, tuple[int | None, str]], ...]
    outside: tuple[Path, ...]  # masked and extra hidden paths outside the trees: no index watches them
    # files left visible for what they hold (a public certificate bundle), with their stamp when
    # judged: an edit in place moves no directory's ctime, so the stamp is looked at before any reuse
    stamps: tuple[tuple[Path, tuple[int, ...] | None], ...] = ()


# the last tree part decided from just-refreshed indexes: (key, the indexes themselves, part)
_tree_cache: tuple[object, tuple[DirIndex, ...], TreePart] | None = None


def tree_part(
    spec: SandboxSpec,
    trees: list[Path],
    writable: list[Path],
    extra_hidden: list[Path],
    collapse: bool,
    indexes: Sequence[DirIndex],
) -> TreePart:
    """Read-only, missing and linked protected paths, hidden paths and their anchors in the trees.

    This is the part that costs an ``lstat`` per masked or protected path and per anchor (about
    60 ms for 5 000 scattered ignored files). Every answer it depends on is a name's binding in a
    directory of one of the trees, and any change to such a binding (create, remove, rename,
    replace a file by a link or a directory) changes that directory's ctime, which the caller's
    refresh of ``indexes`` turns into a new generation. So the part is reused while the spec, the
    arguments and each index (the same object, the same generation) are unchanged, and decided
    again otherwise. Without ``indexes`` (a tier that did not refresh them) it is never reused.
    """
    global _tree_cache
    key: object = None
    # an extra writable directory's protected paths come from its git config's content, which no
    # index follows (``core.hooksPath`` set by ``husky install`` on the host): decided every time
    extra_roots = any(w != spec.workspace for w in spec.writable)
    if indexes and not extra_roots and {str(i.root) for i in indexes} >= {str(r) for r in trees}:
        # what the tree part does not depend on is left out: the redacted copies (fresh paths per
        # command) and the history view (a new callable per spec)
        plain = replace(spec, redacted=(), git_view=None, git_note=None, git_nested_views=None, ignore_rules=None)
        key = (plain, tuple(extra_hidden), collapse, tuple(i.generation for i in indexes))
        cached = _tree_cache
        if (
            cached is not None
            and cached[0] == key
            and all(a is b for a, b in zip(cached[1], indexes, strict=True))
            and all(_fingerprint(p, _lstat(p)) == fp for p, fp in cached[2].checks)
            and all(_stamp(p) == st for p, st in cached[2].stamps)
        ):
            return cached[2]
    part = _decide_tree_part(spec, trees, writable, extra_hidden, collapse, indexes if key is not None else None)
    if key is not None:
        _tree_cache = (key, tuple(indexes), part)
    return part


def _stamp(p: Path) -> tuple[int, ...] | None:
    """A file's identity and content stamp (device, inode, size, mtime, ctime), None when missing."""
    st = _lstat(p)
    return None if st is None else (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _fingerprint(p: Path, st: os.stat_result | None) -> tuple[int | None, str]:
    """What a path is (its file type, or None when missing) and, for a link, where it leads now."""
    if st is None:
        return (None, "")
    if not stat.S_ISLNK(st.st_mode):
        return (stat.S_IFMT(st.st_mode), "")
    try:
        return (stat.S_IFLNK, str(p.resolve()))
    except (OSError, RuntimeError):  # a loop: unresolvable now, maybe not next time
        return (stat.S_IFLNK, "\0")


def _decide_tree_part(
    spec: SandboxSpec,
    trees: list[Path],
    writable: list[Path],
    extra_hidden: list[Path],
    collapse: bool,
    indexes: Sequence[DirIndex] | None = None,
) -> TreePart:
    checks: list[tuple[Path, tuple[int | None, str]]] = []

    def look(p: Path) -> os.stat_result | None:
        """``lstat``, noting what the reused answer must be checked against (see :class:`TreePart`)."""
        st = _lstat(p)
        if indexes is not None:
            parent = os.path.dirname(str(p))
            if (st is not None and stat.S_ISLNK(st.st_mode)) or not any(parent in i.dirs for i in indexes):
                checks.append((p, _fingerprint(p, st)))
        return st

    readonly: list[Path] = []
    missing: list[Path] = []
    linked: list[Path] = []
    for p in (*spec.protected, *extra_root_protected(spec)):
        if not _under_any(p, trees):
            continue  # outside the workspace and the extra dirs everything is read-only already
        in_writable = _under_any(p, writable)
        st = look(p)
        if st is None:
            if in_writable:
                missing.append(p)  # watched: moved aside after the command if it appeared
            continue
        if stat.S_ISLNK(st.st_mode):
            if in_writable:
                linked.append(p)  # the link itself can be replaced: the tripwire puts it back
            # a link in the read-only part may still lead into a writable directory: protect its target,
            # and one that does not exist yet may not be created (``.githooks -> tools/hooks`` with no
            # ``tools/hooks``: ``mkdir -p`` and a hook there would run on the host; red team rt12)
            target = p.resolve()
            if _under_any(target, writable) and target not in readonly:
                if target.exists():
                    readonly.append(target)
                elif target not in missing:
                    missing.append(target)
            continue
        if in_writable and p not in readonly:
            readonly.append(p)

    hider = Hider(look, trees)
    hide, hidden_dirs, hidden_files, seen = hider.hide, hider.dirs, hider.files, hider.seen

    from codeward.sandbox.public_files import is_public_file

    masked: list[Path] = []
    stamps: list[tuple[Path, tuple[int, ...] | None]] = []
    for m in spec.masked:
        if not _under_any(m, trees):
            continue
        stamp = _stamp(m)  # before the judgement: a change after it shows in the stamp
        if is_public_file(m):
            stamps.append((m, stamp))  # CA bundles stay usable, while they hold what was judged
        else:
            masked.append(m)
    masked += [p for p in extra_hidden if p not in masked and _under_any(p, trees)]
    # collapsing saves bwrap mounts at the price of listing each parent; a tier that mounts cheaply skips it
    for p in collapse_masked(masked, [*trees, *writable]) if collapse else masked:
        hide(p)
    guarded = [*readonly, *linked, *hidden_dirs, *hidden_files, *spec.protected, *missing]
    anchored = tuple(a for a in anchors(guarded, writable) if _is_dir(a))
    return TreePart(
        readonly=tuple(readonly),
        missing=tuple(missing),
        linked=tuple(linked),
        hidden_dirs=tuple(hidden_dirs),
        hidden_files=tuple(hidden_files),
        anchored=anchored,
        anchored_set=frozenset(anchored),
        hidden_set=frozenset(seen),
        checks=tuple(checks),
        outside=tuple(p for p in dict.fromkeys((*spec.masked, *extra_hidden)) if not _under_any(p, trees)),
        stamps=tuple(stamps),
    )


class Hider:
    """Sorts the paths to hide into directories and files, once each; a hidden symlink hides what it
    points to when that lies inside the trees (the link itself can be re-aimed, its target cannot
    be read through another name). One mechanism for the tree part and the per-command rest."""

    def __init__(
        self,
        look: Callable[[Path], os.stat_result | None],
        trees: Sequence[Path],
        already: frozenset[Path] = frozenset(),
    ) -> None:
        self.look, self.trees, self.already = look, trees, already
        self.dirs: list[Path] = []
        self.files: list[Path] = []
        self.seen: set[Path] = set()

    def hide(self, p: Path) -> None:
        st = self.look(p)
        if st is None or p in self.seen or p in self.already:
            return
        if stat.S_ISLNK(st.st_mode):
            target = p.resolve()
            if target != p and _under_any(target, self.trees) and self.look(target) is not None:
                self.hide(target)
            return
        self.seen.add(p)
        (self.dirs if stat.S_ISDIR(st.st_mode) else self.files).append(p)


def parents_first(dirs: Iterable[Path]) -> tuple[Path, ...]:
    """``dirs`` without repeats, in :func:`anchors`' order (parents first)."""
    return tuple(Path(a) for a in sorted({str(d) for d in dirs}, key=lambda a: (a.count("/"), a)))


def extra_root_protected(spec: SandboxSpec) -> list[Path]:
    """Protected paths inside the extra writable directories (``--writable``, ``writable_roots``):
    a repository there keeps its ``.git``, hooks and AGENTS.md read-only like the workspace's."""
    from codeward.workspace import Workspace

    out: list[Path] = []
    for w in spec.writable:
        if w != spec.workspace:
            out += [p for p in Workspace(w, w).protected_paths() if p.parent != w or p.exists()]
    return out


def anchors(paths: Iterable[Path], writable: Iterable[Path]) -> tuple[Path, ...]:
    """Every directory strictly between a writable root and one of ``paths``, parents first.

    Renaming ``config/`` would carry the mount over ``config/production.yml`` with it and leave the
    name ``config/production.yml`` free for anything; a directory that is itself a mount point
    cannot be renamed or removed (EBUSY), so binding each such ancestor onto itself makes the
    protection hold by construction instead of by checking names afterwards. The writable roots
    are mount points already.
    """
    roots = sorted({str(r) for r in writable}, key=len, reverse=True)
    out: set[str] = set()
    for p in paths:
        sp = str(p)
        root = next((r for r in roots if sp.startswith(r + "/") or (r == "/" and sp != "/")), None)
        if root is None:
            continue
        a = os.path.dirname(sp)
        while a != root and a not in out and a.startswith(root + "/"):  # strings: thousands of paths
            out.add(a)
            a = os.path.dirname(a)
    return tuple(Path(a) for a in sorted(out, key=lambda a: (a.count("/"), a)))


def collapse_masked(masked: Iterable[Path], writable: Iterable[Path]) -> list[Path]:
    """Masked files, with every directory whose entries are *all* masked replaced by the directory.

    Each masked file costs a mount, and bwrap's cost per mount grows with the number of mounts
    (about 0.5 ms each at 1 000, 1.4 ms at 2 500 here), so a fixture directory of 2 000 ``*.pem``
    files becomes one mount. The view is the same except that nothing new can be created in such a
    directory. Never collapses a root given in ``writable`` (the workspace, an allowed or extra dir).
    """
    roots = {str(r) for r in writable}
    result = {str(m) for m in masked}
    changed = True
    while changed:
        changed = False
        by_parent: dict[str, set[str]] = {}
        for p in result:
            by_parent.setdefault(os.path.dirname(p), set()).add(os.path.basename(p))
        for parent, members in by_parent.items():
            if parent in roots or parent in result or len(members) < 2:
                continue
            try:
                entries = os.listdir(parent)
            except OSError:
                continue
            if entries and len(entries) <= len(members) and members.issuperset(entries):
                result -= {os.path.join(parent, n) for n in members}
                result.add(parent)
                changed = True
    return [Path(p) for p in sorted(result)]
