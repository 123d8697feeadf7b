"""Landlock tier: hidden paths inside the writable trees are moved out of a command's reach while it runs.

Why not rules: Landlock only ever *adds* rights along a path, so a directory whose new files must be
readable makes every file below it readable too; an ignored ``.env`` at the workspace root can only
be hidden by denying the root itself. So instead of freezing directories, the Landlock tier *holds*
each hidden path: before the command it is renamed (the same inode, on the same mount, nothing
copied) into a holding directory the command cannot see (its own, mode 0700, never one another
user could have planted), and renamed back once the command's whole process tree is dead. While the command runs the secret is not in the tree at all, so no rename,
link, or re-creation of an ancestor can reach it, and the workspace is fully writable.

Putting back is by identity and never destroys anything: the walk from the workspace root goes
through directory descriptors without following links; a directory missing on the way is created;
a link or file in the way, or a new entry at the held name, is renamed aside to ``NAME.from-sandbox``
(reported) and the user's entry goes back to its own name. A journal, written before anything
moves to a place every codeward home of this user shares (:data:`JOURNALS`), lets the next run of
any tier and any home put back what a crash left held (and keeps naming what could not be put
back); an flock on the workspace directory keeps two sessions, whatever their codeward home, from
holding the same files at once.

A path on another mount than every holding place (the workspace is itself a mount point, as with
``docker run -v $PWD:/src``) cannot be renamed away: it stays in ``left`` and the tier falls back
to freezing the directories above it (see :mod:`codeward.sandbox.landlock`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import hashlib
import json
import os
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from codeward.sandbox.spec import is_within

HOLD_PREFIX = ".codeward-hold-"
ASIDE_SUFFIX = ".from-sandbox"


@dataclass(frozen=True)
class Held:
    """One hidden path as the journal records it: where it was, where it is, what it is."""

    root: str  # the writable tree it lies in
    rel: str  # its path below ``root``
    slot: str  # its absolute path in a holding directory
    dev: int
    ino: int


@dataclass
class Hold:
    """The hidden paths of one command that are out of the tree while it runs."""

    journal: Path
    lock_fd: int
    items: list[Held] = field(default_factory=list)
    left: list[Path] = field(default_factory=list)  # could not be moved: the tier freezes above them
    dirs: list[Path] = field(default_factory=list)  # holding directories (hidden from the command)
    recovered: list[str] = field(default_factory=list)  # what an interrupted earlier run left, now put back
    # some of it is back in the tree (not just still held): unscanned, so the next command must not run
    recovered_into_tree: bool = False

    @property
    def held_paths(self) -> set[Path]:
        return {Path(h.root) / h.rel for h in self.items}

    def restore(self) -> list[str]:
        """Put every held path back (see the module doc); returns what to tell the user, one line each."""
        try:
            notes = _restore_all(self.items)
            _rewrite_journal(self.journal, self.items)
            for d in self.dirs:
                with contextlib.suppress(OSError):
                    d.rmdir()  # only when empty: anything left in it stays for the user
            return notes
        finally:
            os.close(self.lock_fd)


def _key(workspace: Path) -> str:
    return hashlib.sha256(os.fsencode(str(workspace))).hexdigest()[:16]


def workspace_lock(workspace: Path, *, shared: bool = False) -> int:
    """An flock on the workspace directory itself: sessions with different codeward homes still meet.

    The Landlock tier holds it exclusively while files are held; another tier's command can hold
    it shared, so that held files are never put back while its command runs. Close the fd to release.
    """
    fd = os.open(workspace, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
    except OSError:
        os.close(fd)
        raise
    return fd


def recover(home: Path, workspace: Path) -> None:
    """For a tier that holds nothing itself (bubblewrap, none): put back what an interrupted
    Landlock run of this home left held before the command, and refuse it when anything came back.

    Without this a Landlock run killed mid-command left the repository's object store in the
    holding directory and ``.git/objects`` a link to a view the next run then swept: the user's own
    git failed until a Landlock command ran (red team rt23). What came back was not scanned before
    this command's view was decided, so the command does not run; the next one sees it."""
    journals = [j for j in _journals(home, workspace, create=False) if os.path.lexists(j)]
    if not journals:
        return
    try:
        fd: int | None = workspace_lock(workspace)
    except OSError:
        fd = None  # no flock here: no Landlock run can hold anything meanwhile (its take needs the lock)
    try:
        notes, back = _recover_all(journals)
    finally:
        if fd is not None:
            os.close(fd)
    if back:
        raise refusal_after_recovery(notes)


def _recover_all(journals: Sequence[Path]) -> tuple[list[str], bool]:
    notes: list[str] = []
    back = False
    for journal in journals:
        n, b = recover_locked(journal)
        notes += n
        back = back or b
    return notes, back


def refusal_after_recovery(notes: Sequence[str]) -> Exception:
    """The error for a command refused because recovery put unscanned files back into the tree."""
    from codeward.errors import SandboxUnavailable

    return SandboxUnavailable(
        "sandbox: files an interrupted earlier run had moved out of the workspace are back ("
        + "; ".join(notes[:3])
        + "); they were not scanned for secrets before this command, so it did not run: run it again"
    )


@contextlib.contextmanager
def shared(workspace: Path) -> Iterator[None]:
    """The workspace lock, shared, for a whole command of a tier that holds nothing: a Landlock
    command of another session (which holds it exclusively while the store and hidden files are out
    of the tree) neither starts nor ends meanwhile, so the names this command's mounts cover stay the
    ones it saw (red team rt23: a bubblewrap command bound its view over a Landlock command's link,
    then read the real store once it was back). Where the filesystem has no ``flock``, none."""
    try:
        fd = workspace_lock(workspace, shared=True)
    except OSError:
        yield
        return
    try:
        yield
    finally:
        os.close(fd)


JOURNALS = Path("/var/tmp")
"""Where this user's hold journals are kept for every codeward home: a run killed under one home is
put back by the next run under any other (red team rt24: under another home it stayed held, and the
user's next commit went into the dead run's view). Commands never see it (a private ``/var/tmp`` in
every tier), and a directory there is used only when it is this user's own and closed to others."""


def _journals(home: Path, workspace: Path, *, create: bool = True) -> list[Path]:
    """Where a journal of ``workspace`` is written (the first) and may be found: the per-user place
    every home shares, then the home's own ``hold/`` (used when that place is not usable). With
    ``create`` false nothing is made: a place that is not there holds no journal."""
    name = f"{_key(workspace)}.json"
    out: list[Path] = []
    common = JOURNALS / f".codeward-holds-{os.geteuid()}"
    if _own_private_dir(common) if create else _private_of_mine(common):
        out.append(common / name)
    base = home / "hold"
    if create:
        base.mkdir(parents=True, exist_ok=True, mode=0o700)
    out.append(base / name)
    return out


def _write_journal(journal: Path, rows: object) -> None:
    """Replace the journal atomically. No fsync: it guards against codeward dying, which the page
    cache survives; after a power cut the held files are still in the ``.codeward-hold-*`` dirs."""
    tmp = journal.with_name(journal.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(rows, f)
    os.replace(tmp, journal)


def _rewrite_journal(journal: Path, items: Sequence[Held]) -> None:
    """Keep in the journal only what is still in a holding directory (for the next run to put back)."""
    left = [h for h in items if (st := lstat_or_none(Path(h.slot))) is not None and _same(st, h)]
    if left:
        _write_journal(journal, [[h.root, h.rel, [h.slot], h.dev, h.ino] for h in left])
    else:
        journal.unlink(missing_ok=True)


def _own_private_dir(d: Path) -> bool:
    """Create ``d`` (0700) or accept an existing one only if it is a real directory of ours, closed to others.

    /var/tmp and a project's parent may be writable by other users, who could plant the name first.
    """
    with contextlib.suppress(FileExistsError, PermissionError):
        d.mkdir(mode=0o700)
    return _private_of_mine(d)


def _private_of_mine(d: Path) -> bool:
    """Whether ``d`` is a real directory of this user's that no one else may enter."""
    st = lstat_or_none(d)
    return (
        st is not None
        and stat.S_ISDIR(st.st_mode)
        and st.st_uid == os.geteuid()
        and stat.S_IMODE(st.st_mode) & 0o077 == 0
    )


def _candidates(home: Path, workspace: Path, tree: Path, roots: Sequence[Path]) -> Iterator[Path]:
    """Holding directories to try, in order: the codeward home, /var/tmp, next to the tree.

    Each lies outside every tree the command works in and the Landlock tier hides them all; the
    first two are hidden by every tier, so they come first (what a crash leaves there stays hidden
    even if the next command runs under bubblewrap). Next to the tree is for a workspace whose
    mount holds neither (a CI checkout on a volume).
    """
    key = _key(workspace)
    for base in (home / "hold", Path("/var/tmp"), tree.parent):
        d = base / f"{HOLD_PREFIX}{key}"
        if not any(is_within(d, r) or is_within(r, d) for r in roots):
            yield d


def holding_dirs(home: Path, workspace: Path, roots: Sequence[Path]) -> list[Path]:
    """The holding directories of ``workspace`` that exist (used now, or left by an earlier run): to hide."""
    out: list[Path] = []
    for tree in roots:
        for d in _candidates(home, workspace, tree, roots):
            if d not in out and os.path.lexists(d):
                out.append(d)
    return out


def take(
    home: Path, workspace: Path, roots: Sequence[Path], hidden: Sequence[Path], lock_fd: int | None = None
) -> Hold:
    """Recover any earlier hold of ``workspace``, then move ``hidden`` (paths inside ``roots``) away.

    ``lock_fd``: the exclusive :func:`workspace_lock` the caller took before deciding what to hide
    (the hold owns it from here and releases it in :meth:`Hold.restore`); taken here otherwise."""
    if lock_fd is None:
        lock_fd = workspace_lock(workspace)
    try:
        journals = _journals(home, workspace)
    except BaseException:
        os.close(lock_fd)
        raise
    journal = journals[0]
    hold = Hold(journal, lock_fd)
    try:
        hold.recovered, hold.recovered_into_tree = _recover_all([j for j in journals if os.path.lexists(j)])
        token = os.urandom(6).hex()  # never the name of a slot an earlier run left behind
        plan: list[tuple[Path, Path, os.stat_result]] = []
        for p in _outermost(hidden):
            tree = next((r for r in roots if is_within(p, r) and p != r), None)
            if tree is None:
                continue
            try:
                st = p.lstat()
            except OSError:
                continue
            plan.append((p, tree, st))
        # the journal names every planned slot before anything moves
        dirs_of: dict[Path, list[str]] = {}
        rows: list[tuple[Path, str, str, list[str], int, int]] = []
        for i, (p, tree, st) in enumerate(plan):
            if tree not in dirs_of:
                dirs_of[tree] = [str(d) for d in _candidates(home, workspace, tree, roots)]
            slots = [f"{d}/{token}-{i}" for d in dirs_of[tree]]
            rows.append((p, str(tree), str(p)[len(str(tree)) + 1 :], slots, st.st_dev, st.st_ino))
        if rows:
            _write_journal(journal, [row[1:] for row in rows])
        usable: dict[Path, bool] = {}  # holding dir -> ours and private (checked once)
        far: set[tuple[Path, int]] = set()  # (holding dir, device) pairs that answered EXDEV
        for p, root, rel, slots, st_dev, st_ino in rows:
            for slot in slots:
                d = Path(os.path.dirname(slot))
                if (d, st_dev) in far:
                    continue
                if d not in usable:
                    usable[d] = _own_private_dir(d)
                if not usable[d]:
                    continue
                try:
                    os.rename(p, slot)
                except OSError as e:
                    if e.errno in (errno.EXDEV, errno.EBUSY, errno.EACCES, errno.EPERM, errno.EROFS):
                        if e.errno == errno.EXDEV:
                            far.add((d, st_dev))
                        continue
                    if e.errno == errno.ENOENT:
                        break  # gone since the plan: nothing to hide
                    raise
                hold.items.append(Held(root, rel, slot, st_dev, st_ino))
                if d not in hold.dirs:
                    hold.dirs.append(d)
                break
            else:
                hold.left.append(p)
        for d, ours in usable.items():
            if ours and d not in hold.dirs:
                with contextlib.suppress(OSError):
                    d.rmdir()  # created for nothing (another mount): only when empty
        if not hold.items:
            journal.unlink(missing_ok=True)  # else the plan stays: it names every slot the items may be in
        return hold
    except BaseException:
        try:
            _restore_all(hold.items)  # nothing stays held when the command never starts
        finally:
            os.close(lock_fd)
        raise


def _outermost(paths: Sequence[Path]) -> list[Path]:
    """The paths not below another of them; by ancestor lookup, so thousands cost milliseconds."""
    chosen = {str(p): p for p in paths}
    return [chosen[k] for k in sorted(chosen) if not has_ancestor_in(k, chosen)]


def has_ancestor_in(path: str, chosen: Mapping[str, object]) -> bool:
    d = os.path.dirname(path)
    while True:
        if d in chosen:
            return True
        up = os.path.dirname(d)
        if up == d:
            return False
        d = up


def recover_locked(journal: Path) -> tuple[list[str], bool]:
    """Put back what an earlier run left held (it crashed or was killed); the caller holds the lock.

    Returns what to tell the user and whether anything left its holding place (back in the tree, or
    never moved there): what is still held stays hidden and stays in the journal for the next run.
    """
    try:
        data = json.loads(journal.read_text(encoding="utf-8"))
        items = [
            Held(str(root), str(rel), str(slot), int(dev), int(ino))
            for root, rel, slots, dev, ino in data
            for slot in slots
        ]
    except FileNotFoundError:
        return [], False
    except (OSError, ValueError, TypeError):
        return [f"sandbox: cannot read the hold journal {journal}; files it names may be in {HOLD_PREFIX}* dirs"], True
    notes = _restore_all(items)
    _rewrite_journal(journal, items)
    back = any((st := lstat_or_none(Path(h.slot))) is None or not _same(st, h) for h in items)
    return [f"put back after an interrupted run: {n}" for n in notes] or [
        "put back files an interrupted run held"
    ], back


def _restore_all(items: Sequence[Held]) -> list[str]:
    notes: list[str] = []
    for h in items:
        note = _restore_one(h)
        if note:
            notes.append(note)
    return notes


def _same(st: os.stat_result, h: Held) -> bool:
    return st.st_dev == h.dev and st.st_ino == h.ino


def lstat_or_none(p: Path) -> os.stat_result | None:
    try:
        return p.lstat()
    except OSError:
        return None


def aside(dirfd: int, name: str) -> str:
    """Rename the command's entry ``name`` out of the way (never delete it); returns its new name."""
    n = 0
    while True:
        new = f"{name}{ASIDE_SUFFIX}" + (f"-{n}" if n else "")
        try:
            os.stat(new, dir_fd=dirfd, follow_symlinks=False)
        except FileNotFoundError:
            os.rename(name, new, src_dir_fd=dirfd, dst_dir_fd=dirfd)
            return new
        n += 1


def _restore_one(h: Held) -> str | None:
    slot = Path(h.slot)
    st = lstat_or_none(slot)
    if st is None or not _same(st, h):
        return None  # never moved there (another slot, or still in place)
    parts = Path(h.rel).parts
    notes: list[str] = []
    modes = _Modes(h.root)
    root = Path(h.root)
    try:
        up = open_dir_nofollow(root.parent)
        try:
            fd = modes.enter(up, root.name, "")
        finally:
            os.close(up)
    except OSError as e:
        modes.close(notes)
        return f"{h.rel}: left in {slot} ({h.root}: {e.strerror})"
    try:
        for i, part in enumerate(parts[:-1]):
            here = "/".join(parts[:i])
            for _ in range(3):
                try:
                    nfd = modes.enter(fd, part, "/".join(parts[: i + 1]))
                    break
                except FileNotFoundError:
                    with contextlib.suppress(FileExistsError):
                        modes.writable(fd, here, functools.partial(os.mkdir, part, 0o755, dir_fd=fd))
                except (NotADirectoryError, OSError) as e:
                    if e.errno not in (errno.ENOTDIR, errno.ELOOP):
                        raise
                    moved = modes.writable(fd, here, functools.partial(aside, fd, part))
                    notes.append(f"{'/'.join(parts[: i + 1])} (made by the command) moved to {moved}")
            else:
                return f"{h.rel}: left in {slot} (cannot re-create {'/'.join(parts[: i + 1])})"
            os.close(fd)
            fd = nfd
        name, here = parts[-1], "/".join(parts[:-1])
        try:
            os.stat(name, dir_fd=fd, follow_symlinks=False)
            moved = modes.writable(fd, here, lambda: aside(fd, name))
            notes.append(f"{h.rel} (made by the command) moved to {moved}")
        except FileNotFoundError:
            pass
        modes.writable(fd, here, lambda: os.rename(slot, name, dst_dir_fd=fd))
    except OSError as e:
        return f"{h.rel}: left in {slot} ({e.strerror})"
    finally:
        os.close(fd)
        modes.close(notes)
    return "; ".join(notes) or None


_T = TypeVar("_T")
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class _Modes:
    """Directories on the way back that the command closed to their owner (``chmod 300``, ``500``):
    as their owner, codeward gives them ``rwx`` for the put-back and then puts the command's mode back.

    Without this a held file whose directory the command made unlistable or read-only stays in the
    holding place, and the user's file is missing from then on.
    """

    def __init__(self, root: str) -> None:
        self.root = root
        self.changed: list[tuple[int, int, str]] = []  # (descriptor, the command's mode, path shown)

    def _open_up(self, fd: int, shown: str) -> bool:
        st = os.fstat(fd)
        if st.st_uid != os.geteuid() or stat.S_IMODE(st.st_mode) & 0o700 == 0o700:
            return False
        os.fchmod(fd, stat.S_IMODE(st.st_mode) | 0o700)
        self.changed.append((os.dup(fd), stat.S_IMODE(st.st_mode), shown))
        return True

    def enter(self, fd: int, part: str, shown: str) -> int:
        """A descriptor of directory ``part`` in ``fd`` (never a link), opened up when it was closed."""
        try:
            return os.open(part, _DIR, dir_fd=fd)
        except PermissionError:
            st = os.stat(part, dir_fd=fd, follow_symlinks=False)
            if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
                raise
            os.chmod(part, stat.S_IMODE(st.st_mode) | 0o700, dir_fd=fd)  # a directory, just checked
            nfd = os.open(part, _DIR, dir_fd=fd)
            self.changed.append((os.dup(nfd), stat.S_IMODE(st.st_mode), shown))
            return nfd

    def writable(self, fd: int, shown: str, change: Callable[[], _T]) -> _T:
        """Run ``change`` in directory ``fd``; when its owner may not write there, open it up and retry."""
        try:
            return change()
        except PermissionError:
            if not self._open_up(fd, shown):
                raise
            return change()

    def close(self, notes: list[str]) -> None:
        """Put back every mode changed, deepest first, and say so."""
        for fd, mode, shown in reversed(self.changed):
            try:
                os.fchmod(fd, mode)
            finally:
                os.close(fd)
            where = shown or "the workspace"
            notes.append(
                f"{where} (mode {mode:03o}, set by the command) was opened to put a held file back, then set back"
            )
        self.changed = []


def open_dir_nofollow(d: Path) -> int:
    """A descriptor of directory ``d`` (absolute, resolved) reached without following any link.

    A command may have replaced any ancestor with a link; ``O_NOFOLLOW`` on ``d`` alone would still
    follow the ones above it.
    """
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open("/", flags)
    try:
        for part in d.parts[1:]:
            nfd = os.open(part, flags, dir_fd=fd)
            os.close(fd)
            fd = nfd
    except OSError:
        os.close(fd)
        raise
    return fd
