"""Keep a session's ``{path: stamp}`` walk of the workspace current from inotify, not by walking again.

The secret learner (:mod:`codeward.privacy.learn`) must know, before every command and every
request, which entries of the workspace are new or changed, so that a file that gained a secret is
redacted for the next command. Walking the tree for that (:mod:`codeward.privacy.tree_walk`) costs
0.2 s at 50 000 files and 0.85 s at 200 000, on every command. In a session this watch answers the
same question from the kernel: an inotify watch on every directory the walk lists reports every
entry created, deleted, renamed, written, truncated or re-attributed in it (by name), and every
directory deleted or moved; only those entries are looked at again (:meth:`TreeWatch.current`).

What the kernel does not report, and how each is covered:

* an event names the name a file was written through, not the file: a second name of the file
  (``ln a.py .env``, the link reported under ``.env`` only) is looked at again whenever one of its
  names changes, and every file with more than one link on every refresh (its stamp carries the link
  count); a write reported at a name that no longer leads to the written file (a program still
  writing to a file whose name was removed or replaced, after a command gave it another name; an
  ``O_TMPFILE`` written after ``linkat``) makes the refresh a full walk (red team rt13);
* a write through a shared memory map, through native AIO (``io_submit``, as InnoDB writes its
  files), and through a hard link made from outside the workspace after the walk (an event goes to
  the directory of the name used, and making the link reports nothing to ours): no event at all, so
  the whole tree is walked again at least every :data:`FULL_WALK_EVERY_S` seconds;
* a change made where no watch was: the watch is believed only after a full walk that listed every
  directory with its watch already in place, by the same descriptor (``inotify_add_watch`` on each
  path returns the one recorded; a directory removed and made again, even with its inode number
  back, gets another), and only while the root's path leads to the same directory;
* a mount or unmount (no event, yet a path shows another tree): any change of the process's mount
  table; a file system where inotify misses changes (NFS, FUSE, overlayfs:
  :func:`codeward.dirindex.watchable_device`); a queue overflow; a watch that cannot be added (the
  ``max_user_watches`` limit). Each makes the next refresh a full walk, which is what ran before: the
  watch can only skip work, never decide what a command sees.

A git directory's object stores and index are not walked (see :mod:`codeward.privacy.tree_walk`),
so not watched; an event naming ``HEAD``, which decides whether a directory below ``.git`` is a
store, makes the next refresh a full walk.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import time

from codeward.dirindex import watchable_device
from codeward.dirindex.inotify import (
    IN_ATTRIB,
    IN_CREATE,
    IN_DELETE,
    IN_DONT_FOLLOW,
    IN_ISDIR,
    IN_MODIFY,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    IN_ONLYDIR,
    IN_Q_OVERFLOW,
    NAME_EVENTS,
    SELF_EVENTS,
    MountTable,
    add_watch,
    init,
    queued_events,
    rm_watch,
)
from codeward.dirindex.watch import SHARE, max_user_watches
from codeward.privacy import tree_walk

MASK = NAME_EVENTS | SELF_EVENTS | IN_MODIFY | IN_ATTRIB | IN_ONLYDIR | IN_DONT_FOLLOW
FULL_WALK_EVERY_S = 60.0
"""A refresh walks the whole tree when the last full walk is older than this: what no event
reports (a write through a memory map, or through a hard link made from outside the workspace
after the walk) is seen within this time, on the next refresh after it."""
MAX_DIRTY = 5000
"""More named entries than this since the last refresh (a checkout, ``rm -rf build``): a full walk
costs about the same and is simpler to trust."""
STORE_DECIDER = "HEAD"


class TreeWatch:
    """The inotify watch of one walk's tree. The learner drives it under its own lock:
    :meth:`current` before a refresh (None: walk the tree), :meth:`cover` after every full walk.

    ``wd``s are kept both ways: an event names its directory by descriptor, and a directory counts
    as watched only while its path still gives the same descriptor. A directory that moved (an
    ``IN_MOVE_SELF``) or went away loses its descriptor at once, so no later event of it is taken
    for its old path; wherever it went inside the workspace, the ``IN_MOVED_TO`` its new parent
    reports makes that subtree listed again.
    """

    def __init__(self, root: str) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._path_wd: dict[str, int] = {}
        self._wd_path: dict[int, str] = {}
        self._trusted = False  # the last full walk listed every directory under its watch
        self._root_ident: tuple[int, int] | None = None
        self._walked_at = 0.0  # monotonic time of the last full walk this watch covered
        self._dirty: set[str] = set()  # entries named by events not applied yet
        self._linked: set[str] = set()  # files with another name: looked at on every refresh
        self._written: set[str] = set()  # names a write or attribute change was reported at, not left since
        self._since: set[str] | None = None  # every name an event gave since :meth:`mark` (None: no mark)
        self._fresh: set[str] = set()  # directories first watched since the mark: a walk may have listed them unwatched
        self._marked_at = 0.0
        self._full = False  # an event since the last refresh that only a full walk can settle
        self.broken = ""  # why the watch gave up for good (every refresh walks)
        self.full_walks = 0
        self.refreshes = 0
        self._mounts = MountTable()
        try:
            self.fd = init()
        except OSError:
            self._mounts.close()
            raise

    def current(self, stamps: dict[str, str]) -> tuple[dict[str, str], list[str], list[str]] | None:
        """``(now, changed, gone)``: ``stamps`` brought up to date from the events since the last
        call (a new dict when anything changed; ``changed`` the new or changed entries, ``gone``
        those no longer there), or None when only a full walk can tell (then call :meth:`cover`)."""
        with self._lock:
            if not self._usable():
                return None
            self.refreshes += 1
            dirty, self._dirty = self._dirty, set()
            written, self._written = self._written, set()
            dirty |= self._linked
            if not dirty:
                return stamps, [], []
            now = dict(stamps)
            changed, gone = self._apply(now, dirty)
            changed = self._other_names(now, changed)
            if self._full or self.broken or not self._explained(written, stamps, now):
                self._trusted = False  # trust nothing: the caller walks
                return None
            self._linked.difference_update(gone)
            for p in changed:
                self._note_links(p, now[p])
            return now, changed, gone

    def _explained(self, written: set[str], before: dict[str, str], now: dict[str, str]) -> bool:
        """Whether every write or attribute change an event named is seen on the file that name leads
        to now. The kernel names the name a file was opened by: a program still writing to a file
        whose name was removed, or that now names another file, writes to an inode that a command
        may have given another name meanwhile (``ln dev.log keep.txt; rm dev.log``), which no event
        will name (red team rt13). So the change must be on the same file, still at that name: else
        only a full walk finds where it went. A name new since the last refresh is its file's own
        (made there, or a link: then :meth:`_other_names` looks at the file's other names)."""
        for p in written:
            old, new = before.get(p), now.get(p)
            if new is None:
                if os.path.lexists(p):
                    continue  # a name the walk skips (a git directory's index or object store)
                return False  # written under a name that leads nowhere now (removed, or never one: O_TMPFILE)
            if old is not None and (new == old or tree_walk.stamp_ident(new) != tree_walk.stamp_ident(old)):
                return False  # the file at that name is another one, or unchanged: the write went elsewhere
        return True

    def _other_names(self, now: dict[str, str], changed: list[str]) -> list[str]:
        """Look again at every other name of a file that has more than one now: an event names only
        the name it happened at (``ln __init__.py .env`` reports ``.env``), and a later write
        through one name changes what every other name reads (red teams rt13, rt15). Whenever a
        changed entry is such a file, every entry of the tree is checked for its device and inode
        (one pass; a file with several names rarely changes)."""
        keys = set()
        for p in changed:
            stamp = now[p]
            if stamp.startswith("f ") and tree_walk.stamp_links(stamp) > 1:
                keys.add(" ".join(stamp.split(" ", 3)[:3]) + " ")
        if not keys:
            return changed
        out = set(changed)
        for q, stamp in now.items():
            if q not in out and stamp.startswith("f ") and " ".join(stamp.split(" ", 3)[:3]) + " " in keys:
                fresh = tree_walk.entry_stamp(self.root, q)
                if fresh is None:
                    self._full = True
                    continue
                if fresh != stamp:
                    now[q] = fresh
                out.add(q)
        if self._since is not None:
            self._since.update(out)
        return sorted(out)

    def mark(self) -> None:
        """A walk in the background starts now: from here every name an event gives is kept, so
        that :meth:`merge` can bring that walk's listing up to the moment it is used."""
        with self._lock:
            if self.broken or not self._trusted:
                return
            self._drain()
            self._since = set()
            self._fresh = set()
            self._marked_at = time.monotonic()

    def merge(
        self, walked: dict[str, str], stamps: dict[str, str]
    ) -> tuple[dict[str, str], list[str], list[str]] | None:
        """The background walk since :meth:`mark` gave ``walked`` (changed in place and returned as
        ``now``): ``(now, changed, gone)`` against
        ``stamps`` (the last refresh's), the walk brought up to now by looking again at every name
        an event gave since the mark, or None when that cannot be trusted (then walk, as ever).
        What no event reports (a memory map, AIO, a link from outside) is as the walk saw it, so the
        bound of :data:`FULL_WALK_EVERY_S` counts from the mark."""
        with self._lock:
            usable = self._since is not None and self._usable()  # (its drain adds to ``_since``)
            since, self._since = self._since, None
            if since is None or not usable:
                return None
            written, self._written = self._written, set()
            self._dirty.clear()  # every one of them is in ``since`` too
            now = walked  # taken over, not copied: a background walk's listing is merged once
            fresh, self._fresh = self._fresh, set()
            applied, _ = self._apply(now, since | self._linked, unwatched=fresh)
            self._other_names(now, applied)
            linked, unwatched = _linked_and_unwatched(now, self._path_wd)
            if unwatched:
                self._full = True  # a directory the walk listed that no watch covers: trust nothing
            if self._full or self.broken or not self._explained(written, stamps, now):
                self._trusted = False
                return None
            self._walked_at = self._marked_at
            self.full_walks += 1
            self._linked = linked
            gone = list(stamps.keys() - now.keys())
            return now, tree_walk.changed(now, stamps), gone

    def due(self) -> bool:
        """Whether a background walk should start (half the bound since the last full walk)."""
        with self._lock:
            return self._trusted and self._since is None and time.monotonic() - self._walked_at > FULL_WALK_EVERY_S / 2

    def begin_walk(self) -> None:
        """A full walk is about to list the tree: what was queued so far is in it."""
        with self._lock:
            if self.broken:
                return
            self._drain()
            self._dirty.clear()
            self._written.clear()
            self._since = None
            self._full = False
            self._mounts.changed()

    def cover(self, stamps: dict[str, str]) -> None:
        """A full walk gave ``stamps``: watch every directory in it. The walk counts (the next
        refresh may use :meth:`current`) only if every one was watched before it, by the same
        descriptor, on a file system whose changes inotify reports, and nothing was lost meanwhile
        (an overflow, a mount). Events queued while the walk ran are kept for the next refresh."""
        with self._lock:
            if self.broken:
                return
            self._drain()
            trusted = not self._full and not self._mounts.changed()
            self._full = False
            # the walk read each of these names at some moment while it ran: before or after the
            # write, it cannot say, so the next refresh could not either (a write through a removed
            # name while a full walk runs is the next full walk's, see FULL_WALK_EVERY_S)
            self._written.clear()
            try:
                st = os.stat(self.root)
                self._root_ident = (st.st_dev, st.st_ino)
            except OSError:
                trusted = False
            dirs = [p for p, s in stamps.items() if s.startswith("d ")]
            if len(dirs) * SHARE > max_user_watches():
                self._close(f"{len(dirs)} directories: more than 1/{SHARE} of fs.inotify.max_user_watches")
                return
            keep: set[str] = set()
            devices: dict[str, bool] = {}
            for d in dirs:
                dev = stamps[d].split(" ", 2)[1]
                ok = devices.get(dev)
                if ok is None:
                    ok = devices[dev] = watchable_device(int(dev))
                wd = self._watch(d)
                if wd is None:
                    if self.broken:
                        return
                    trusted = False
                    continue
                keep.add(d)
                # newly watched, another directory under this name, or where inotify misses changes
                trusted = trusted and wd[1] and ok
            for d in [d for d in self._path_wd if d not in keep]:
                self._forget(d, remove=True)
            self._linked = _linked_and_unwatched(stamps, self._path_wd)[0]
            self._trusted = trusted and not self._full
            self._walked_at = time.monotonic()
            self.full_walks += 1

    def close(self) -> None:
        with self._lock:
            self._close("closed")

    # internals, under the lock

    def _note_links(self, path: str, stamp: str) -> None:
        if stamp.startswith("f ") and tree_walk.stamp_links(stamp) > 1:
            self._linked.add(path)
        else:
            self._linked.discard(path)

    def _usable(self) -> bool:
        if self.broken or not self._trusted:
            return False
        if time.monotonic() - self._walked_at > FULL_WALK_EVERY_S:
            return False
        self._drain()
        if self._full or self._mounts.changed():
            self._trusted = False
            return False
        try:
            st = os.stat(self.root)
        except OSError:
            return False
        if (st.st_dev, st.st_ino) != self._root_ident:
            self._trusted = False  # the root's path leads elsewhere: a directory above it was renamed
            return False
        return True

    def _drain(self) -> None:
        """Turn queued events into dirty paths (or into :attr:`_full`)."""
        dropped: list[str] = []
        dirty: set[str] = set()
        for wd, mask, _cookie, raw in queued_events(self.fd):
            if mask & IN_Q_OVERFLOW:
                self._full = True
                continue
            d = self._wd_path.get(wd)
            if d is None:
                continue  # a watch already forgotten (its directory moved or went away)
            if mask & SELF_EVENTS:
                dirty.add(d)
                dropped.append(d)
                continue
            if not raw:
                dirty.add(d)  # the directory's own attributes
                continue
            name = os.fsdecode(raw)
            if name == STORE_DECIDER:
                self._full = True  # decides which directories of a git directory are walked
            path = f"{d}/{name}" if d != "/" else f"/{name}"
            dirty.add(path)
            if mask & NAME_EVENTS:
                dirty.add(d)
                if mask & (IN_MOVED_FROM | IN_DELETE):
                    self._written.discard(path)  # its writes went with the file, wherever it went
                if mask & IN_ISDIR and not mask & (IN_MOVED_TO | IN_CREATE):
                    dropped.append(path)  # its subtree left: no event of it names a path here
            else:
                self._written.add(path)
        for d in dropped:
            for sub in [p for p in self._path_wd if p == d or p.startswith(d + "/")]:
                self._forget(sub, remove=True)
            # writes below a directory that moved or went went with it: its files are listed again
            # wherever it is now (or are gone with it)
            self._written = {w for w in self._written if not w.startswith(d + "/")}
        self._dirty |= dirty
        if self._since is not None:
            self._since |= dirty
        if len(self._dirty) > MAX_DIRTY or (self._since is not None and len(self._since) > MAX_DIRTY):
            self._full = True

    def _apply(
        self,
        now: dict[str, str],
        dirty: set[str],
        unwatched: set[str] = frozenset(),  # type: ignore[assignment]
    ) -> tuple[list[str], list[str]]:
        """Look at each dirty entry again and update ``now`` in place. A directory in ``unwatched``
        is listed again even if it is watched now: ``now`` may hold what it was before its watch."""
        watched = self._path_wd.keys() - unwatched if unwatched else self._path_wd
        changed: list[str] = []
        gone: list[str] = []
        removed: set[str] = set()  # directories whose subtree must go (gone, or another directory now)
        relisted: set[str] = set()  # what was listed again below them
        for p in sorted(dirty):
            if any(p.startswith(r + "/") for r in removed):
                continue  # inside a subtree listed again (or gone) in this pass
            old = now.get(p)
            new = tree_walk.entry_stamp(self.root, p)
            if new == old and (old is None or not old.startswith("d ") or p in watched):
                continue
            if (
                old is not None
                and old.startswith("d ")
                and (new is None or tree_walk.stamp_ident(new) != tree_walk.stamp_ident(old) or p not in watched)
            ):
                removed.add(p)  # a directory that went, or that another one replaced: its subtree is stale
                for q in [q for q in self._path_wd if q == p or q.startswith(p + "/")]:
                    self._forget(q, remove=True)
            if new is None:
                if old is not None:
                    del now[p]
                    gone.append(p)
                continue
            if new.startswith("d ") and (p in removed or old is None or not old.startswith("d ")):
                listed = self._list(p)
                relisted.update(listed)
                for q, stamp in listed.items():
                    if now.get(q) != stamp:
                        now[q] = stamp
                        changed.append(q)
                continue
            now[p] = new
            changed.append(p)
        if removed:
            for q in [q for q in now if q not in relisted and _below_any(q, removed)]:
                del now[q]
                gone.append(q)
        if self._since is not None:
            # what a listing found (not an event) since a background walk's mark: that walk may have
            # listed these directories before they were watched, so its merge looks at them again
            self._since.update(relisted, changed, gone)
        return sorted(set(changed)), gone

    def _list(self, d: str) -> dict[str, str]:
        """A new directory's subtree, each directory watched before it is listed."""

        def watch(path: str) -> None:
            if self.broken:
                return
            try:
                st = os.lstat(path) if path != self.root else os.stat(path)
            except OSError:
                self._full = True  # gone meanwhile: the listing skips it, the next refresh walks
                return
            if not watchable_device(st.st_dev) or self._watch(path) is None:
                self._full = True

        sub = tree_walk.python_snapshot(d, in_git=tree_walk.in_git_dir(self.root, d), before_listing=watch)
        if d != self.root and d in sub:
            # python_snapshot follows its root (as find -H does for the workspace's); below the
            # workspace root a link is never followed, so the entry itself is read as a walk would
            stamp = tree_walk.entry_stamp(self.root, d)
            if stamp is None or not stamp.startswith("d "):
                self._full = True
            else:
                sub[d] = stamp
        return sub

    def _watch(self, d: str) -> tuple[int, bool] | None:
        """Watch ``d``: ``(wd, whether it was watched by that descriptor already)``, or None when it
        cannot be (gone meanwhile; or the limit, which breaks the watch for good)."""
        flags = MASK if d != self.root else MASK & ~IN_DONT_FOLLOW
        wd = add_watch(self.fd, d, flags)
        if wd < 0:
            if -wd in (errno.ENOENT, errno.ENOTDIR):
                self._forget(d, remove=False)
                return None
            self._close(f"cannot watch {d}: {os.strerror(-wd)}")
            return None
        same = self._path_wd.get(d) == wd
        if not same and self._since is not None:
            self._fresh.add(d)
        if not same:
            other = self._wd_path.get(wd)
            if other is not None and other != d:
                self._full = True  # one directory under two names (a bind mount): trust nothing
                self._path_wd.pop(other, None)
            self._path_wd[d] = wd
            self._wd_path[wd] = d
        return wd, same

    def _forget(self, d: str, *, remove: bool) -> None:
        wd = self._path_wd.pop(d, None)
        if wd is not None and self._wd_path.get(wd) == d:
            del self._wd_path[wd]
            if remove:
                rm_watch(self.fd, wd)

    def _close(self, why: str) -> None:
        if self.broken:
            return
        self.broken = why
        self._trusted = False
        self._path_wd.clear()
        self._wd_path.clear()
        with contextlib.suppress(OSError):
            os.close(self.fd)
        self._mounts.close()


def _linked_and_unwatched(stamps: dict[str, str], watched: dict[str, int]) -> tuple[set[str], bool]:
    """The files of ``stamps`` with more than one link, and whether a directory of it has no watch:
    one pass, as the refresh that merges a background walk pays it for every entry (two generator
    passes and a call per file took 260 of its 380 ms at 200 000 files)."""
    linked: set[str] = set()
    unwatched = False
    for path, stamp in stamps.items():
        kind = stamp[0]
        if kind == "f":
            if stamp.split(" ", 4)[3] not in ("0", "1"):  # the link count field (tree_walk.stamp_links)
                linked.add(path)
        elif kind == "d" and not unwatched and path not in watched:
            unwatched = True
    return linked, unwatched


def _below_any(path: str, dirs: set[str]) -> bool:
    """Whether a proper ancestor of ``path`` is in ``dirs``."""
    head = path
    while True:
        head = head.rpartition("/")[0]
        if not head:
            return False
        if head in dirs:
            return True
