"""Tell a refresh of the directory index that nothing changed, without an ``lstat`` per directory.

A refresh (:meth:`codeward.dirindex.DirIndex.refresh`) ``lstat``s every known directory to compare
its signature ``(dev, inode, ctime_ns)`` with the one it was listed under. A session refreshes three
times per command (the spec, the census before, the census after), which at 50 000 files in 500
directories was about a third of a command's cost with nothing changed. This watch answers the same
question from the kernel: an inotify watch on every indexed directory for exactly what moves a
directory's signature or replaces it:

* an entry created, deleted or renamed in it (``IN_CREATE``, ``IN_DELETE``, ``IN_MOVED_FROM/TO``);
* its own mode, owner, times or attributes set (``IN_ATTRIB`` without a name; with a name it is a
  file's, which no signature follows);
* the directory itself deleted or renamed (``IN_DELETE_SELF``, ``IN_MOVE_SELF``, ``IN_IGNORED``);
* the queue overflowing;
* and, since a mount over an indexed directory changes what its path shows without any inotify
  event, any change of the process's mount table (``POLLPRI`` on ``/proc/self/mountinfo``).

Quiet is believed only when it can be (:meth:`DirWatch.quiet`): the previous refresh listed every
directory with its watch already in place (a watch added during a refresh makes that refresh count
for nothing, since a change between its listing and the watch would be unseen), none of them was
racy, unreadable or on a file system whose ctime the local kernel does not keep (a remote change
makes no inotify event either) or where inotify misses changes (overlayfs: a file written into a
layer shows in the merged directory without an event; :data:`codeward.dirindex.WATCHABLE_FS`), and
nothing was queued since. Anything else, a watch that cannot be
added (the ``max_user_watches`` limit, a path past ``PATH_MAX``) included, leaves the refresh to its
``lstat`` walk, which is what ran before: the watch can only skip work, never decide a view.

A ``.git`` directory is not indexed, so not watched: git's own churn costs no refresh.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading

from codeward.dirindex import inotify
from codeward.dirindex.inotify import (
    IN_ATTRIB,
    IN_DONT_FOLLOW,
    IN_IGNORED,
    IN_ONLYDIR,
    NAME_EVENTS,
    SELF_EVENTS,
)

MASK = NAME_EVENTS | SELF_EVENTS | IN_ATTRIB | IN_ONLYDIR | IN_DONT_FOLLOW
SHARE = 3  # at most this share of the user's inotify watches (see :meth:`DirWatch.__init__`)


def max_user_watches() -> int:
    try:
        with open("/proc/sys/fs/inotify/max_user_watches", "rb") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 8192  # the kernel's old default


class DirWatch:
    """The index's inotify descriptor and what each watch descriptor stands for.

    The index drives it, under its own lock: :meth:`quiet` before a refresh, :meth:`begin`, then
    :meth:`cover` for each directory the refresh visits (after its ``lstat``), :meth:`settle` at the
    end with whether the refresh found anything that cannot be trusted to the watch. :meth:`close`
    may come from another thread (the process keeps few watches: :func:`codeward.dirindex.index_for`
    closes the oldest), hence the watch's own lock.

    A watch belongs to an inode, not to a name, and the kernel drops it with its directory: so a
    directory counts as watched only when ``inotify_add_watch`` on its path, called in every full
    refresh (it is idempotent), returns the descriptor recorded for that path before. A directory
    removed and made again, even with its old inode number back (ext4 reuses one at once), or
    swapped for another between the refresh's ``lstat`` and the call, gets a new descriptor, so that
    refresh does not count (red team rt10). And since no watch covers the root's ancestors, each quiet
    answer first ``lstat``s the root's path: renaming a directory above it and putting another tree
    at the path changes what the path leads to without any event in the watched tree (rt10).
    """

    def __init__(self, root: str, dirs: int) -> None:
        if dirs * SHARE > max_user_watches():
            # the new-names watch needs one per directory too, and a refused watch there refuses the
            # command: this one only saves time, so it leaves the limit to that one
            raise OSError(errno.ENOSPC, f"{dirs} directories: more than 1/{SHARE} of fs.inotify.max_user_watches")
        self.root = root
        self._lock = threading.Lock()
        self._wd: dict[str, int] = {}  # directory -> the watch descriptor its path gave
        self._root_ident: tuple[int, int] | None = None  # what the root's path led to at the last full refresh
        self._trusted = False  # the last refresh listed every directory under a watch, all trustworthy
        self._added = False  # a watch was added (or re-aimed) during the refresh under way
        self.broken = ""  # why the watch gave up for good (then every refresh walks)
        self._mounts = inotify.MountTable()
        try:
            self.fd = inotify.init()
        except OSError:
            self._mounts.close()
            raise

    def quiet(self) -> bool:
        """Whether no directory's signature can have changed since the last refresh. Reads (and so
        consumes) the queue; any event makes the next refresh a full one."""
        with self._lock:
            if self.broken:
                return False
            changed = self._drain()
            if self._mounts.changed():
                changed = True  # something was mounted or unmounted: a path may show another directory
            try:
                st = os.lstat(self.root)
                if (st.st_dev, st.st_ino) != self._root_ident:
                    changed = True  # the root's path leads elsewhere: a directory above it was renamed
            except OSError:
                changed = True
            if changed:
                self._trusted = False
            return self._trusted

    def begin(self) -> None:
        """A full refresh starts: it counts only if every directory it visits was already watched.
        The queue is emptied: the refresh looks at everything after this anyway."""
        with self._lock:
            self._added = False
            if not self.broken:
                self._drain()
                self._mounts.changed()

    def cover(self, d: str, ident: tuple[int, int]) -> None:
        """``d`` was just ``lstat``ed as a directory (``ident``): it is watched from now on, and this
        refresh counts only if it already was, by the same descriptor."""
        with self._lock:
            if self.broken:
                return
            if d == self.root:
                self._root_ident = ident
            wd = inotify.add_watch(self.fd, d, MASK)
            if wd < 0:
                self._added = True
                if -wd in (errno.ENOENT, errno.ENOTDIR):
                    self._wd.pop(d, None)
                    return  # gone or replaced meanwhile: this refresh does not count; the next one looks again
                self._close(f"cannot watch {d}: {os.strerror(-wd)}")  # frees its watches for the new-names one
                return
            if self._wd.get(d) != wd:
                self._added = True  # newly watched, or another directory than before under this name
                self._wd[d] = wd

    def settle(self, untrusted: bool, known: set[str]) -> None:
        """The refresh ended; ``untrusted`` when it met a racy, unreadable or remote directory.
        Directories no longer indexed are forgotten."""
        with self._lock:
            if self.broken:
                return
            gone = [d for d in self._wd if d not in known]
            if gone:
                kept = {w for d, w in self._wd.items() if d in known}
                for d in gone:
                    wd = self._wd.pop(d)
                    if wd not in kept:  # another indexed name of the same directory keeps it
                        inotify.rm_watch(self.fd, wd)
            self._trusted = not (untrusted or self._added)

    def close(self, why: str = "closed") -> None:
        with self._lock:
            self._close(why)

    def _drain(self) -> bool:
        """Read every queued event; True if one may have moved a directory's signature. A watch the
        kernel dropped (``IN_IGNORED``: its directory is gone) is forgotten."""
        changed = False
        dropped: set[int] = set()
        for wd, mask, _cookie, raw in inotify.queued_events(self.fd):
            if mask & IN_ATTRIB and raw and not mask & (NAME_EVENTS | SELF_EVENTS):
                continue  # a file's mode or times: no directory's signature follows them
            if mask & IN_IGNORED:
                dropped.add(wd)
            changed = True
        if dropped:
            self._wd = {d: w for d, w in self._wd.items() if w not in dropped}
        return changed

    def _close(self, why: str) -> None:
        if self.broken:
            return
        self.broken = why
        self._trusted = False
        self._wd.clear()
        with contextlib.suppress(OSError):
            os.close(self.fd)
        self._mounts.close()
