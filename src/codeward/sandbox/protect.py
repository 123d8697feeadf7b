"""A tripwire for protected paths a tier cannot make read-only: record them, then put them back.

Also :func:`remove_created`: protected names that appear anywhere during a command are removed after it.

Landlock grants rights to whole directory trees, so inside the writable workspace it cannot keep
``AGENTS.md`` or ``.git/hooks`` read-only without also forbidding new files next to them. For those
paths the Landlock tier records the security-relevant state before a command (content, mode, link
target, or absence) and restores it after the whole process tree is dead, so a planted hook or an
edited ignore file never outlives the command. bwrap uses the same for protected paths that are
symlinks (a mount can protect the target, not the link).

What is recorded for a protected directory: for ``.git`` directories (and the git dirs that
``.git`` pointer files name) their ``config``, ``config.worktree``, ``commondir``, ``gitdir``,
``info/attributes`` and everything under ``hooks/``; for any other directory (``.codeward``) all of
it. Objects, refs and the index are left alone: they are data, not code or policy.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from codeward.errors import CodewardError
from codeward.fsutil import atomic_write_bytes
from codeward.sandbox.spec import is_within

GIT_FILES = ("config", "config.worktree", "commondir", "gitdir", "info/attributes")
GIT_DIRS = ("hooks",)
MAX_FILES = 5000
MAX_BYTES = 64 * 1024 * 1024


class TripwireTooLarge(CodewardError):
    """The protected paths are too big to record; the tier refuses rather than run unprotected."""


@dataclass(frozen=True)
class _State:
    kind: str  # "absent" | "file" | "link" | "dir" | "other"
    mode: int = 0
    data: bytes = b""
    target: str = ""


def _read_state(p: Path) -> _State:
    try:
        st = p.lstat()
    except FileNotFoundError:
        return _State("absent")
    except OSError:
        return _State("other")
    mode = stat.S_IMODE(st.st_mode)
    if stat.S_ISLNK(st.st_mode):
        return _State("link", mode, target=os.readlink(p))
    if stat.S_ISDIR(st.st_mode):
        return _State("dir", mode)
    if stat.S_ISREG(st.st_mode):
        fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as f:
            return _State("file", mode, data=f.read())
    return _State("other", mode)


def _is_git_dir(p: Path) -> bool:
    return p.name == ".git" or (p / "HEAD").is_file()


def _walk(root: Path) -> Iterator[Path]:
    """Every entry under ``root`` without following symlinks."""
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        d = Path(dirpath)
        for n in dirnames:
            yield d / n
        for n in filenames:
            yield d / n


class Tripwire:
    """Recorded state of a set of paths; :meth:`restore` undoes any change and reports it."""

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace
        self.states: dict[Path, _State] = {}
        # identity (device, inode) of each recorded directory and of every directory between the
        # workspace and a recorded path: a rename of any of them is undone by identity, not name
        self.idents: dict[Path, Ident] = {}
        self.lost: list[Path] = []  # recorded directories not found again: nothing is recreated in them
        self.trees: list[Path] = []  # directories whose new entries are removed on restore
        self._bytes = 0

    def _add(self, p: Path) -> None:
        if p in self.states:
            return
        s = _read_state(p)
        self._bytes += len(s.data)
        if len(self.states) >= MAX_FILES or self._bytes > MAX_BYTES:
            raise TripwireTooLarge(
                f"sandbox: the protected paths under {self.workspace} are too large to guard in this tier "
                f"(more than {MAX_FILES} files or {MAX_BYTES >> 20} MB); install bubblewrap"
            )
        self.states[p] = s
        self._add_ident(p)

    def _add_ident(self, p: Path) -> None:
        for d in (p, *p.parents):
            if d == self.workspace or not is_within(d, self.workspace) or d in self.idents:
                break
            ident = _ident(d)
            if ident is not None:
                self.idents[d] = ident

    def _add_tree(self, d: Path) -> None:
        self._add(d)
        if self.states[d].kind != "dir":
            return
        self.trees.append(d)
        for p in _walk(d):
            self._add(p)

    @classmethod
    def take(cls, workspace: Path, paths: Sequence[Path], identities: Sequence[Path] = ()) -> Tripwire:
        """Record ``paths`` (state and identity) and ``identities`` (identity only: hidden files and
        their directories, which a tier without mounts cannot pin, so a rename is put back)."""
        tw = cls(workspace)
        for p in identities:
            tw._add_ident(p)
        for p in paths:
            st = _read_state(p)
            if st.kind != "dir":
                tw._add(p)
                continue
            if _is_git_dir(p):
                tw._add(p)
                for name in GIT_FILES:
                    tw._add(p / name)
                for name in GIT_DIRS:
                    tw._add_tree(p / name)
            else:
                tw._add_tree(p)
        return tw

    def _rel(self, p: Path) -> str:
        try:
            return p.relative_to(self.workspace).as_posix()
        except ValueError:
            return str(p)

    def restore(self) -> list[str]:
        """Put every recorded path back as it was; return the workspace-relative paths that changed.

        Runs as the agent, outside any sandbox, so it never writes or deletes through a directory
        the command replaced by a symlink (that would let the command aim the restore at ``~/.ssh``
        or another repository's ``.git``): such paths are reported and left alone. Parents are put
        back before their children, so a replaced ``.git`` is a real directory again first.
        """
        changed = self._put_back_moved()
        for tree in self.trees:
            if (
                any(is_within(tree, d) for d in self.lost)
                or not _real_dirs_above(tree)
                or tree.is_symlink()
                or not tree.is_dir()
            ):
                continue
            for p in sorted(_walk(tree), key=lambda x: -len(x.parts)):
                if p not in self.states and SET_ASIDE not in p.name and not _under_set_aside(p, tree):
                    dest = set_aside(p)
                    if dest is not None:
                        changed.append(f"{self._rel(p)} (moved to {self._rel(dest)})")
        for p in sorted(self.states, key=lambda x: len(x.parts)):
            if any(is_within(p, d) for d in self.lost):
                continue
            if not _real_dirs_above(p):
                changed.append(f"{self._rel(p)} (left alone: a directory above it was replaced by a link)")
                continue
            want = self.states[p]
            have = _read_state(p)
            if have == want:
                continue
            changed.append(self._rel(p))
            _put(p, want, have)
        return sorted(set(changed))

    def _put_back_moved(self) -> list[str]:
        """Rename every recorded directory found under another name back to its own name.

        ``mv config cfg`` or ``mv vendor/lib vendor/lib.orig; mkdir vendor/lib`` leaves the names
        free for anything; the original is found by (device, inode) and renamed back, and what the
        command put at the name is moved aside. A directory that cannot be found (removed, or moved
        out of the workspace) is reported, never recreated from a guess.
        """
        changed: list[str] = []
        for d in sorted(self.idents, key=lambda x: len(x.parts)):
            want = self.idents[d]
            if _ident(d) == want:
                continue
            where = _find(self.workspace, want)
            if where is None:
                recorded = self.states.get(d)
                if (recorded is not None and recorded.kind == "file") or any(is_within(d, t) for t in self.trees):
                    continue  # its whole content was recorded: put back from the record below
                self.lost.append(d)
                changed.append(f"{self._rel(d)} (it was removed or moved out of the workspace)")
                continue
            if not _real_dirs_above(d) or is_within(d, where):
                changed.append(f"{self._rel(d)} (left at {self._rel(where)}: cannot move it back)")
                continue
            inside = where.relative_to(d) if is_within(where, d) else None
            aside = set_aside(d)
            if inside is not None and aside is not None:
                where = aside / inside  # it was moved below what now stood at its name
            d.parent.mkdir(parents=True, exist_ok=True)
            os.rename(where, d)
            note = f"{self._rel(d)} (moved back from {self._rel(where)}"
            changed.append(note + (f"; what was there is now {self._rel(aside)})" if aside else ")"))
        return changed


Ident = tuple[int, int, int, int, int]


def _ident(p: Path) -> Ident | None:
    """Identity of a directory or regular file: device, inode and type, and for a file its size and
    mtime, which a rename keeps but a new file reusing a freed inode number does not.
    A link has no identity worth keeping."""
    try:
        st = p.lstat()
    except OSError:
        return None
    if stat.S_ISDIR(st.st_mode):
        return (st.st_dev, st.st_ino, stat.S_IFDIR, 0, 0)
    if stat.S_ISREG(st.st_mode):
        return (st.st_dev, st.st_ino, stat.S_IFREG, st.st_size, st.st_mtime_ns)
    return None


def _find(root: Path, ident: Ident) -> Path | None:
    """The entry under ``root`` with this identity, without following links (None when gone).

    Runs only when something recorded is no longer at its name, so its cost is paid by the command
    that moved it, not by every command.
    """
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for n in (*dirnames, *filenames):
            p = Path(dirpath) / n
            if _ident(p) == ident:
                return p
    return None


def _real_dirs_above(p: Path) -> bool:
    """True when every existing directory above ``p`` is a real directory, not a symlink.

    Recorded paths lie under resolved writable roots, so any link on the way was planted.
    """
    cur = Path(p.anchor)
    for part in p.parent.parts[1:]:
        cur = cur / part
        try:
            st = os.lstat(cur)
        except FileNotFoundError:
            return True  # the rest is missing too; mkdir creates real directories
        except OSError:
            return False
        if not stat.S_ISDIR(st.st_mode):
            return False
    return True


SET_ASIDE = ".codeward-undone"


def set_aside(p: Path) -> Path | None:
    """Rename ``p`` to a free sibling name (``NAME.codeward-undone-N``) and return it; None when absent.

    Undoing a command never deletes anything: what it put in a protected place is moved out of the
    way, in the same directory (one atomic rename, no copy), where the user can look at it. Git runs
    only hooks with their exact names, and ``.git.codeward-undone-1`` is not a repository to git.
    """
    if not os.path.lexists(p):
        return None
    for n in range(1, 1000):
        dest = p.with_name(f"{p.name}{SET_ASIDE}-{n}")
        if os.path.lexists(dest):
            continue
        try:
            os.rename(p, dest)
        except FileNotFoundError:
            return None
        return dest
    raise CodewardError(f"sandbox: cannot move {p} aside: too many earlier copies next to it; remove them")


def _under_set_aside(p: Path, tree: Path) -> bool:
    """True when a directory between ``tree`` and ``p`` is one an earlier restore moved aside."""
    return any(SET_ASIDE in part for part in p.relative_to(tree).parts[:-1])


def _put(p: Path, want: _State, have: _State) -> None:
    if want.kind == "absent":
        set_aside(p)
        return
    if want.kind == "other":
        return  # a device or socket: nothing sensible to write back
    if have.kind != want.kind and have.kind != "absent":
        set_aside(p)
    if want.kind == "dir":
        p.mkdir(parents=True, exist_ok=True)
        os.chmod(p, want.mode)
    elif want.kind == "link":
        p.parent.mkdir(parents=True, exist_ok=True)
        set_aside(p)
        os.symlink(want.target, p)
    else:
        p.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(p, want.data, mode=want.mode)


def protected_census(root: Path) -> set[Path]:
    """Every path under ``root`` named like a protected path (``AGENTS.md``, ignore files, ``.git``, ``.codeward``).

    ``.git`` and ``.codeward`` directories are listed, not entered. Kept current by an index that
    lists again only the directories that changed (:mod:`codeward.sandbox.census`).
    """
    from codeward.sandbox.census import census

    return census(root)


def remove_created(
    root: Path, before: set[Path], *, keep: set[Path] | None = None, blind_before: Collection[str] | None = None
) -> list[str]:
    """Move aside protected-named paths that appeared under ``root`` since ``before`` (a new nested
    repo, a planted ``sub/AGENTS.md`` or ``.codexignore``); return them workspace-relative.

    No tier can make "create AGENTS.md in any directory" impossible without a mount per directory,
    so this closes the gap after the fact, once the command's processes are gone. Nothing is
    deleted: each is renamed in place and the report says to what.

    The census sees every directory the command could have written: one it made unlistable (as the
    user, the command owns what it made) is opened up for the census and the moves, and its mode put
    back after (:meth:`codeward.dirindex.DirIndex.opened`); one nested deeper than ``PATH_MAX`` is
    reached through directory descriptors. A directory that still cannot be listed, and could be
    listed before the command (``blind_before``: the index's blind spots when ``before`` was taken;
    by default those of its last refresh), is moved aside whole: what is in it cannot be checked.
    """
    from codeward.sandbox.census import index_for

    keep = keep or set()
    removed: list[str] = []

    def rel(p: Path) -> str:
        try:
            return p.relative_to(root).as_posix()
        except ValueError:
            return str(p)

    index = index_for(root)
    with index.lock, index.opened():
        if blind_before is None:
            blind_before = index.blind  # as the census before the command left it
        after = index.refresh()
        for p in sorted(after - before - keep):
            removed.append(_move_aside(p, rel))
        removed += move_aside_blind(root, index.blind - set(blind_before), rel)
    return removed


def move_aside_blind(root: Path, blind: Iterable[str], rel: Callable[[Path], str]) -> list[str]:
    """Move aside whole the directories the census could not list after the command (and could
    before): nothing in them can be checked, so nothing in them stays where git would look."""
    return [_move_aside(Path(d), rel, "could not be listed after the command") for d in sorted(blind) if d != str(root)]


def _move_aside(p: Path, rel: Callable[[Path], str], why: str = "") -> str:
    """Rename ``p`` aside (:func:`set_aside_at`), reached without following links; one line for the user."""
    why, shown = (f"{why}: " if why else ""), rel(p)
    try:
        dest = set_aside_at(p)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENOTDIR):
            return f"{shown} ({why}left alone: a directory above it is a link)"
        return f"{shown} ({why}could not be moved aside: {e.strerror}; remove it before running git there)"
    return f"{shown} ({why}moved to {rel(dest)})" if dest is not None else f"{shown} ({why}gone)"


def set_aside_at(p: Path) -> Path | None:
    """:func:`set_aside` for a path at any depth, reached through directory descriptors without
    following any link (a link above it raises ``ELOOP``/``ENOTDIR``). A directory of ours without
    the owner's write bit (the command's ``chmod``) gets it for the rename and its mode back."""
    from codeward.sandbox.hold import open_dir_nofollow

    fd = open_dir_nofollow(p.parent)
    try:
        try:
            os.stat(p.name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        st = os.fstat(fd)
        opened = st.st_uid == os.geteuid() != 0 and st.st_mode & 0o300 != 0o300
        if opened:
            os.fchmod(fd, stat.S_IMODE(st.st_mode) | 0o300)
        try:
            for n in range(1, 1000):
                dest = f"{p.name}{SET_ASIDE}-{n}"
                try:
                    os.stat(dest, dir_fd=fd, follow_symlinks=False)
                    continue
                except FileNotFoundError:
                    pass
                os.rename(p.name, dest, src_dir_fd=fd, dst_dir_fd=fd)
                return p.with_name(dest)
        finally:
            if opened:
                os.fchmod(fd, stat.S_IMODE(st.st_mode))
    finally:
        os.close(fd)
    raise CodewardError(f"sandbox: cannot move {p} aside: too many earlier copies next to it; remove them")
