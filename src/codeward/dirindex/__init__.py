"""One per-directory index of a workspace, shared by every walk that decides the sandbox's view.

Three questions used to walk the whole tree on every command: which paths the ignore rules hide
(:mod:`codeward.privacy.ignore`), which paths are protected (:meth:`codeward.workspace.Workspace.protected_paths`)
and which protected names exist, before and after a command (:mod:`codeward.sandbox.census`). They
all read the same thing: per directory, what it holds. This index keeps that per directory with
the directory's signature ``(dev, inode, ctime_ns)``; a refresh ``lstat``s the known directories and
lists again only those whose signature changed (plus new ones found there).

Why the signature is enough: a directory's ctime changes whenever an entry is added, removed or
renamed in it, and also when its times are set (``touch -d`` moves ctime to now); a directory
replaced by another has another inode. A directory whose ctime is too close to its listing to be
trusted (the same clock tick) is listed again next time, as git does with a racy index entry. How
close is too close depends on how finely the file system keeps times, which is read from the time
itself, not from the file system's name: a ctime with no sub-second part may be a whole-second
timestamp (ext2/ext3, ext4 made with 128-byte inodes, FAT), so such a directory stays racy for two
seconds (:data:`COARSE_RACY_NS`) rather than :data:`RACY_NS`. On a file system whose ctime the local kernel does not keep (NFS, FUSE: :data:`TRUSTED_FS`), no signature
is trusted and every directory is listed on every refresh.

What the ignore rules hide in a directory depends on the rules too, so those entries are kept with
the key of the rules that classified them (:class:`Classify`); other rules classify everything again.
A directory of ours that a command closed (no read or search bit for its owner) is opened up to be
listed and its mode put back (:mod:`codeward.dirindex.reach`), and a path longer than ``PATH_MAX`` is
reached by descriptor, so the census misses nothing a command could write; such a directory is still
reported (:meth:`DirIndex.unreadable`) so callers hide it whole, and what cannot be listed at all is
a blind spot (:attr:`DirIndex.blind`) that the census after a command moves aside.
Persisting across processes is :mod:`codeward.dirindex.store`'s job; in a session, an inotify watch
(:mod:`codeward.dirindex.watch`) lets a refresh skip its ``lstat`` walk when nothing can have changed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from codeward.dirindex import inotify, reach
from codeward.dirindex.watch import DirWatch

RACY_NS = 100_000_000  # a directory changed this close to its listing is listed again next time
# a ctime with no sub-second part comes from a file system that keeps whole seconds (ext2/3, ext4 with
# 128-byte inodes; FAT keeps two): a change later in the same second, or two, leaves it as it was
COARSE_RACY_NS = 2_000_000_000 + RACY_NS
ALL: frozenset[str] = frozenset({"/"})  # :meth:`DirIndex.walk`'s "enter nothing below this one"
NOT_ENTERED = ".git"  # git's own directory is never walked (it is protected whole)
BARE_FILES = frozenset({"HEAD"})  # git opens one without a config file, HEAD a link or not
BARE_DIRS = frozenset({"objects", "refs"})
# refreshes in one process before the index keeps an inotify watch (:mod:`codeward.dirindex.watch`):
# a one-command process (``codeward sandbox``, three refreshes) would pay a watch per directory for
# nothing; a session's second command starts one, and from then on a refresh that the watch says
# nothing touched lstats nothing
WATCH_AFTER = 3


_lstat = os.lstat  # one name each, so a test can play a coarse clock (past PATH_MAX: reach.lstat)
_now = time.time_ns


class Classify(Protocol):
    """What the ignore rules hide: :meth:`hides` for one workspace-relative path, and the ``key``
    that changes whenever the rules do (a hash of every rule's text and where it applies)."""

    @property
    def key(self) -> str: ...
    def hides(self, rel: str, is_dir: bool) -> bool: ...


@dataclass
class Dir:
    """One directory as it was last listed."""

    sig: tuple[int, int, int]  # (dev, inode, ctime_ns)
    racy: bool
    unreadable: bool = False
    watched_dirs: frozenset[str] = frozenset()  # watched names present as directories (or links to one)
    watched_files: frozenset[str] = frozenset()  # ... and as anything else
    subdirs: tuple[str, ...] = ()  # full paths of real subdirectories (not links, not .git), sorted
    bare: bool = False  # looks like a bare git repository
    hidden: tuple[tuple[str, ...], tuple[str, ...]] | None = None  # (dirs, files) the rules hide; None: unknown

    @property
    def watched(self) -> frozenset[str]:
        return self.watched_dirs | self.watched_files


@dataclass
class DirIndex:
    """What every directory under ``root`` holds, kept current by :meth:`refresh`.

    ``names`` are the watched names (the protected ones); ``key`` the rules key the ``hidden``
    entries were classified under; ``generation`` grows whenever an entry changes, so a caller can
    tell that nothing did since it last derived something from the index.
    """

    root: Path
    names: frozenset[str]
    dirs: dict[str, Dir] = field(default_factory=dict)
    key: str | None = None
    generation: int = 0
    saved_generation: int = -1
    _census: tuple[int, frozenset[Path]] | None = None  # (generation, answer): nothing changed, same answer
    memo: dict[object, tuple[int, object]] = field(default_factory=dict)  # callers' answers, by generation
    lock: threading.RLock = field(default_factory=threading.RLock)
    # directories whose content the last refresh could not list at all, even as their owner: blind spots
    blind: frozenset[str] = frozenset()
    _opening: reach.Opened | None = None  # set inside :meth:`opened`
    watch: DirWatch | None = None  # kept from the :data:`WATCH_AFTER`-th refresh on
    _refreshes: int = 0
    _classified: bool = False  # every entry's ``hidden`` is known (for ``key``)

    @contextlib.contextmanager
    def opened(self) -> Iterator[None]:
        """Within this block, directories of ours that a refresh had to open up (a ``chmod`` took away
        the owner's read or search bit) stay open, so the caller can also move what it found in them
        aside; their modes are put back when the block ends. Outside it, each refresh puts them back."""
        with self.lock:
            if self._opening is not None:
                yield
                return
            self._opening = reach.Opened()
            try:
                yield
            finally:
                opening, self._opening = self._opening, None
                opening.close()

    def refresh(self, classify: Classify | None = None) -> set[Path]:
        """Bring the index up to date (classifying what the rules hide when ``classify`` is given) and
        return every watched name under the root, protected-named directories listed, not entered."""
        with self.lock, self.opened():
            return self._refresh(classify, self._opening or reach.Opened())

    def _refresh(self, classify: Classify | None, opening: reach.Opened) -> set[Path]:
        with self.lock:
            w = self.watch
            if w is not None and (classify is None or (classify.key == self.key and self._classified)) and w.quiet():
                return self.census()  # no directory's signature moved since the last full refresh
            if w is None and self._refreshes == WATCH_AFTER:  # tried once: without inotify the refresh walks
                w = self.watch = _start_watch(self)
            self._refreshes += 1
            if w is not None:
                w.begin()
            _follow_mounts()
            untrusted = unclassified = False
            if classify is not None and classify.key != self.key:
                for e in self.dirs.values():
                    e.hidden = None
                self.key = classify.key
                self.generation += 1
            root = str(self.root)
            dirs, lstat, is_dir, trusted, watchable = self.dirs, _lstat, stat.S_ISDIR, _trusted, _watchable
            seen: set[str] = set()
            blind: set[str] = set()
            deep_chars = reach.MAX_PATH_BYTES // 4  # shorter in characters is never too deep in bytes
            stack = [root]
            while stack:
                d = stack.pop()
                try:
                    if len(d) > deep_chars and reach.too_deep(d):
                        raise OSError(36, "nested too deep to index", d)
                    try:
                        st = lstat(d)
                    except OSError as e:
                        if e.errno != errno.ENAMETOOLONG:
                            raise
                        st = reach.lstat(d)  # longer than PATH_MAX: reached by descriptor
                except (FileNotFoundError, NotADirectoryError):
                    continue  # gone: forgotten below
                except OSError:
                    # there but not reachable (a parent without search permission that is not ours to
                    # open, or deeper than the index goes): what is in it is unknown, so it is reported
                    # unreadable and hidden whole, as one that cannot be listed
                    seen.add(d)
                    blind.add(d)
                    dirs[d] = Dir((0, 0, 0), racy=True, unreadable=True, hidden=((), ()))
                    self.generation += 1
                    continue
                if not is_dir(st.st_mode):
                    continue
                if w is not None:
                    w.cover(d, (st.st_dev, st.st_ino))  # before the signature is compared: nothing after goes unseen
                seen.add(d)
                # a directory of ours without the owner's read or search bit (a command's chmod) is
                # opened up to be listed, and stays reported unreadable: the sandbox hides it whole
                closed = st.st_mode & 0o500 != 0o500 and opening.open_up(d, st)
                sig = (st.st_dev, st.st_ino, st.st_ctime_ns)
                entry = dirs.get(d)
                remote = not (trusted.get(sig[0]) or trusted_device(sig[0]))
                if (
                    closed
                    or entry is None
                    or entry.sig != sig
                    or entry.racy
                    or (classify is not None and entry.hidden is None)
                    or remote
                ):
                    entry = _scan(d, sig, self.names, classify, d[len(root) + 1 :] if d != root else "")
                    if entry.unreadable:
                        blind.add(d)
                    elif closed:
                        entry.racy = entry.unreadable = True
                    dirs[d] = entry
                    self.generation += 1
                    unclassified = unclassified or classify is None
                untrusted = untrusted or remote or entry.racy or entry.unreadable
                if w is not None and not untrusted and not (watchable.get(sig[0]) or watchable_device(sig[0])):
                    untrusted = True  # overlayfs: a write into a layer makes no event here
                stack += entry.subdirs
            self.blind = frozenset(blind)
            gone = set(self.dirs) - seen
            for d in gone:
                del self.dirs[d]
            if gone:
                self.generation += 1
            self._classified = classify is not None or (self._classified and not unclassified)
            if w is not None:
                w.settle(untrusted or bool(blind), seen)
            return self.census()

    def walk(self, skip: Callable[[Dir], Collection[str]] = lambda e: ()) -> Iterator[tuple[str, Dir]]:
        """The indexed directories from the root down, depth first in name order (as ``os.walk``
        visits them), not entering a subdirectory whose name is in ``skip(entry)``, nor any
        subdirectory at all of an entry for which ``skip`` returns :data:`ALL`."""
        with self.lock:
            stack = [str(self.root)]
            dirs = self.dirs
            while stack:
                d = stack.pop()
                entry = dirs.get(d)
                if entry is None:
                    continue
                yield d, entry
                names = skip(entry)
                if names is ALL:
                    continue
                if names:
                    stack.extend(s for s in reversed(entry.subdirs) if s[s.rindex("/") + 1 :] not in names)
                else:
                    stack.extend(reversed(entry.subdirs))

    def census(self) -> set[Path]:
        """Every watched name under the root; a directory with a watched name is listed, not entered."""
        with self.lock:
            if self._census is not None and self._census[0] == self.generation:
                return set(self._census[1])
            out: set[Path] = set()
            for d, e in self.walk(lambda e: e.watched_dirs):  # watched names are listed, not entered
                if e.watched_dirs or e.watched_files:
                    out.update(Path(d, n) for n in e.watched)
            self._census = (self.generation, frozenset(out))
            return out

    def unreadable(self) -> list[Path]:
        """Directories the last refresh could not list (what is in them is unknown).

        Whatever the ignore rules would hide in such a directory is unknown, and a command that made
        it unlistable could make it listable again, so callers hide these directories whole.
        """
        with self.lock:
            return sorted(Path(d) for d, e in self.dirs.items() if e.unreadable)

    def paths_of(self, identities: Collection[tuple[int, int]]) -> list[str]:
        """The indexed directories whose ``(dev, inode)`` is one of ``identities`` (as last refreshed):
        where a directory appears again under another name, through a bind mount."""
        with self.lock:
            return [d for d, e in self.dirs.items() if (e.sig[0], e.sig[1]) in identities]

    def hidden_paths(self) -> list[tuple[str, bool]]:
        """The topmost paths the rules hide (a hidden directory is not entered), in ``os.walk`` order,
        each with whether it is a directory.

        Needs a :meth:`refresh` with the rules first; an entry never classified fails closed.
        """
        out: list[tuple[str, bool]] = []
        for d, e in self.walk(lambda e: e.hidden[0] if e.hidden else ()):
            if e.hidden is None:
                raise RuntimeError(f"{d}: not classified by the ignore rules; refresh the index with them first")
            out += [(f"{d}/{n}", True) for n in e.hidden[0]]
            out += [(f"{d}/{n}", False) for n in e.hidden[1]]
        return out


def _scan(d: str, sig: tuple[int, int, int], names: frozenset[str], classify: Classify | None, rel: str) -> Dir:
    started = _now()
    wdirs: set[str] = set()
    wfiles: set[str] = set()
    subdirs: list[str] = []
    hidden_dirs: list[str] = []
    hidden_files: list[str] = []
    dirish: set[str] = set()
    files: set[str] = set()
    try:
        prefix = d.rstrip("/") + "/"
        fd = reach.open_dir(d)  # by descriptor: any depth, the directory itself never a link
        try:
            it = os.scandir(fd)
        finally:
            os.close(fd)  # scandir keeps its own copy
        with it:
            for e in it:
                n = e.name
                try:
                    is_dir = e.is_dir()  # as os.walk sorts entries: a link to a directory counts as one
                except OSError:
                    is_dir = False
                (dirish if is_dir else files).add(n)
                if n in names:
                    (wdirs if is_dir else wfiles).add(n)
                if n == NOT_ENTERED and is_dir:
                    continue
                if e.is_dir(follow_symlinks=False):
                    subdirs.append(prefix + n)
                if classify is not None and classify.hides(f"{rel}/{n}" if rel else n, is_dir):
                    (hidden_dirs if is_dir else hidden_files).append(n)
    except OSError:
        # a directory a command made unlistable (chmod 000, as the owner): nothing in it can be
        # checked, so it is reported, and always listed again
        return Dir(sig, racy=True, unreadable=True, hidden=((), ()))
    return Dir(
        sig,
        racy=started - sig[2] < racy_window(sig[2]),
        watched_dirs=frozenset(wdirs),
        watched_files=frozenset(wfiles),
        subdirs=tuple(sorted(subdirs)),
        bare=files >= BARE_FILES and dirish >= BARE_DIRS,
        hidden=(tuple(sorted(hidden_dirs)), tuple(sorted(hidden_files))) if classify is not None else None,
    )


def _start_watch(index: DirIndex) -> DirWatch | None:
    """The index's watch, or None when the kernel gives no inotify descriptor or too few watches for
    its directories (the refresh walks, as without it). A process keeps :data:`KEPT_WATCHES` at
    most (inotify descriptors are 128 per user, and the new-names watch needs its own): starting
    one closes the oldest other's, whose index walks again."""
    try:
        w = DirWatch(str(index.root), len(index.dirs))
    except OSError:
        return None
    with _lock:
        _watching.append(index)
        while len(_watching) > KEPT_WATCHES:
            old = _watching.pop(0)
            if old.watch is not None:
                old.watch.close("closed: the process watches newer workspaces")
    return w


def racy_window(ctime_ns: int) -> int:
    """How long after ``ctime_ns`` a listing cannot tell a later change from none: the clock tick,
    and on a file system that keeps whole seconds (a ctime with no sub-second part) two seconds more.

    Read per directory from its own ctime: on a coarse file system every ctime is whole seconds; on a
    fine one a whole-second ctime is a one-in-a-million chance that only costs one more listing.
    """
    return COARSE_RACY_NS if ctime_ns % 1_000_000_000 == 0 else RACY_NS


# file systems whose directories' ctime is kept by the local kernel on every change; elsewhere (NFS
# and other network or FUSE file systems, whose attributes may be cached or made up) a signature
# proves nothing, so every directory there is listed again on every refresh
TRUSTED_FS = frozenset({"ext2", "ext3", "ext4", "xfs", "btrfs", "tmpfs", "overlay", "zfs", "f2fs", "bcachefs", "ramfs"})
# ... and where inotify also reports every such change: not overlayfs, where a file written into a
# layer (the lower directory is often the user's real checkout) shows in the merged directory and
# moves its ctime with no event on it (red team rt11); the index's watch is never trusted there
WATCHABLE_FS = TRUSTED_FS - {"overlay"}
_trusted: dict[int, bool] = {}
_watchable: dict[int, bool] = {}
_mount_table: inotify.MountTable | None = None
_device_lock = threading.RLock()
"""Guards the verdicts and the table they follow (the learner's threads ask as well as the main one)."""


def trusted_device(dev: int) -> bool:
    """Whether a directory's signature on device ``dev`` can be trusted (:data:`TRUSTED_FS`)."""
    return _device_in(dev, _trusted, TRUSTED_FS)


def watchable_device(dev: int) -> bool:
    """Whether the index's inotify watch sees every change on device ``dev`` (:data:`WATCHABLE_FS`)."""
    return _device_in(dev, _watchable, WATCHABLE_FS)


def _device_in(dev: int, verdicts: dict[int, bool], kinds: frozenset[str]) -> bool:
    """Whether device ``dev``'s file system is one of ``kinds``, remembered in ``verdicts`` while the
    mount table stays the same (:func:`_follow_mounts`). Under the lock: the secret learner's first
    walk asks from its own thread while a command's index refresh asks from the main one, and a
    verdict must not be recorded against a table that changed in between."""
    with _device_lock:
        _follow_mounts()
        v = verdicts.get(dev)
        if v is None:
            v = verdicts[dev] = _fs_type(dev) in kinds
        return v


def _follow_mounts() -> None:
    """Forget every device's verdict when the mount table changed: anonymous device numbers (tmpfs,
    overlay, NFS, FUSE) are handed out again as soon as a mount goes, so a network file system
    mounted where a tmpfs was would inherit its trust (red team rt11)."""
    global _mount_table
    with _device_lock:
        try:
            if _mount_table is None:
                _mount_table = inotify.MountTable()
            if not _mount_table.changed():
                return
        except OSError:  # nothing to follow changes by: judged afresh every time
            pass
        _trusted.clear()
        _watchable.clear()


def _fs_type(dev: int) -> str | None:
    """The file system type of the mount whose device is ``dev`` (``/proc/self/mountinfo``), if known."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.split()
                if len(parts) < 9 or "-" not in parts[6:]:
                    continue
                major, _, minor = parts[2].partition(":")
                if major.isdigit() and minor.isdigit() and os.makedev(int(major), int(minor)) == dev:
                    return parts[parts.index("-", 6) + 1]
    except OSError:
        return None
    return None


_indexes: dict[Path, DirIndex] = {}
_lock = threading.Lock()
KEPT_WATCHES = 4
_watching: list[DirIndex] = []  # indexes with a watch, oldest first


def index_for(root: Path, names: Iterable[str], cache_dir: Path | None = None) -> DirIndex:
    """The process's index of ``root`` (one per root, shared by every caller).

    The first call with a ``cache_dir`` starts from the index a previous process saved there, when
    it is this workspace's and intact (:func:`codeward.dirindex.store.load`); it is trusted only
    where a directory's signature still matches.
    """
    want = frozenset(names)
    with _lock:
        index = _indexes.get(root)
        if index is not None and index.names == want:
            return index
        loaded = None
        if cache_dir is not None:
            from codeward.dirindex.store import load

            loaded = load(root, want, cache_dir)
        if index is not None and index.watch is not None:
            index.watch.close()  # replaced by one for other names
        index = _indexes[root] = loaded or DirIndex(root, want)
        return index


def forget(root: Path) -> None:
    """Drop the process's index of ``root`` (tests; a workspace removed)."""
    with _lock:
        index = _indexes.pop(root, None)
    if index is not None and index.watch is not None:
        index.watch.close()
