"""Stop a command that opens a file the ignore rules hide which appeared while it ran.

The sandbox hides what exists when a command starts (bubblewrap mounts over each hidden path,
Landlock moves each out of the tree). A name that does not exist then has nothing over it, so a
file the host creates meanwhile (an editor's ``.env.local``, a tool's ``credentials/`` or a new
directory with a ``deploy.key``, a rename or hard link bringing one in) would be readable raw. No
list of names covers this (``*.key`` has no end), so each new name is judged with the session's
own ignore matcher (the spec's ``ignore_rules``), wherever it appears:

* one inotify descriptor per workspace, kept for the session (:func:`watch_for`), watches every
  directory for entries created, moved, opened, read and closed; a command adds only the
  directories new since the last one;
* before a command (:meth:`NewNames.prepare`) a hidden name that appeared since the view was
  computed is handed back, to be hidden too;
* while it runs (:meth:`NewNames.poll`, through :class:`codeward.sandbox.host_watch.HostWatch`) a
  new hidden file may be opened and closed once, by whoever made it, and not read; any other open,
  a read or a read-only close stops the command, output withheld. A file moved or linked in, or in
  a new hidden directory, may not be opened at all. The count follows the file through renames
  (the events' cookie) and hard links (its inode); a rename out of the tree stops the command. A
  new directory is watched at once, then listed, so what was made in it before is judged too.

Why opens and not creations: inotify does not say who made a name, and commands make hidden names
in ordinary work (``python3 -m venv`` writes pip's ``cacert.pem``). Who opened one is not known
either, so a command reading back a hidden file it made itself is stopped too (fails closed),
unless the file is public by content once its writer closed it (pip re-reads ``cacert.pem`` to hash
it; :meth:`NewNames._judge_public`). That exemption is for a file with one name only: a rename or
another link (a reused inode number included) ends it, since the watch learns a file's inode when it
reads the event, not when the file was made, and a command could swap its own certificate in under
the host's new name (red team rt7); a write after the verdict stops the command at once. The names
a stopped file was given are hidden from later commands while they name it (:meth:`NewNames._taint`). A
directory that cannot be watched, or the watch limit, refuses the command; lost events (more than
the kernel queues) are made up for from the tree (:meth:`NewNames._recover`).

Left open (README "Limits"): a file opened in a new directory before its watch existed (about a
millisecond); a file the host links in from an unnamed temporary file (``O_TMPFILE``), which
counts as made by an open; a hard link made, opened and removed before the queue is read; a hidden
file a command made and keeps open that the host then writes in place; and, since inotify merges
an event into an identical one still queued, a reader that opens for writing in the instant after
the maker, reads through a memory map and closes in the instant after the maker does.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from codeward.dirindex import inotify
from codeward.dirindex.inotify import (
    IN_ACCESS,
    IN_CLOSE_NOWRITE,
    IN_CLOSE_WRITE,
    IN_CREATE,
    IN_DONT_FOLLOW,
    IN_IGNORED,
    IN_ISDIR,
    IN_MODIFY,
    IN_MOVE_SELF,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    IN_ONLYDIR,
    IN_OPEN,
    IN_Q_OVERFLOW,
    queued_events,
)
from codeward.errors import SandboxUnavailable
from codeward.sandbox.public_files import is_public_file
from codeward.sandbox.spec import same_paths

if TYPE_CHECKING:
    from codeward.dirindex import Classify, DirIndex

USE = IN_OPEN | IN_ACCESS | IN_MODIFY | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE
MASK = IN_CREATE | IN_MOVED_FROM | IN_MOVED_TO | USE | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW
NOT_ENTERED = ".git"  # as the directory index: git's own directory is protected whole, never walked
OVERFLOW = "(too many changes to follow)"
Hides = Callable[[str, bool], bool]


@dataclass
class Count:
    """The opens a new hidden file may still have, shared by every name it gets, and where it appeared."""

    left: int
    origin: str
    closes: int = -1  # closes for writing it may still have: as many as opens (set with ``left``)
    ident: tuple[int, int] | None = None  # (dev, inode) when it was counted; None: followed by name only
    public: bool | None = None  # judged by content once its writer closed it (:meth:`NewNames._judge_public`)
    read_as_public: bool = False  # read after its writer closed it, allowed if public by content
    names: int = 1  # names it has had: a rename or another link makes it no candidate for the exemption
    listed: bool = False  # found by listing a new directory: its maker's open may have gone unseen

    def another_name(self) -> None:
        """It was renamed, or another name (a hard link, a reused inode number) led to it: what is
        read under one name may not be what was judged under another, so it is never public again."""
        self.names += 1
        if self.public:
            self.public = False

    def __post_init__(self) -> None:
        if self.closes < 0:
            self.closes = self.left


class NewNames:
    """The session-long watch of one workspace tree (see the module docstring)."""

    def __init__(self, root: Path, hides: Hides, key: str = "") -> None:
        self.root = str(root).rstrip("/") or "/"
        self.hides = hides
        self.key = key
        self.lock = threading.RLock()
        self.fd = -1
        self._wd: dict[int, tuple[str, tuple[int, int], bool]] = {}  # wd -> (path, (dev, inode), new and hidden)
        self._dirs: dict[str, int] = {}
        self._covered: frozenset[str] = frozenset()
        self._covered_from: list[tuple[tuple[Path, ...], frozenset[str]]] = [((), frozenset())] * 2
        self.found: list[str] = []  # new hidden files opened while armed (the stop's reason)
        # (armed) new hidden file -> the opens it may still have, one counter per file shared by every
        # name it gets (a rename, a hard link); by (dev, inode) too, to know a link made to it
        self._opens: dict[str, Count] = {}
        self._inodes: dict[tuple[int, int], Count] = {}
        self._moving: dict[int, Count] = {}  # rename cookie -> the renamed file's count
        self._pending: dict[int, tuple[Count, str]] = {}  # read back, to be judged by content (:meth:`_judge_public`)
        self._tainted: dict[str, tuple[int, int]] = {}  # names of stopped files, hidden while they name them
        self._sigs: dict[str, tuple[int, int, int]] = {}  # directory -> signature as the command starts
        self._armed = False
        self._open()

    def _open(self) -> None:
        try:
            self.fd = inotify.init()
        except OSError as e:
            raise SandboxUnavailable(f"sandbox: cannot watch the workspace for new files: {e.strerror}") from None
        self._wd.clear()
        self._dirs.clear()

    def fileno(self) -> int:
        return self.fd

    def close(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
        self.fd = -1  # a later read fails (closed: nothing is passed) rather than read a reused number

    # --- before a command -------------------------------------------------------------------------

    def prepare(self, index: DirIndex, covered: Iterable[Path]) -> list[Path]:
        """The hidden paths that appeared since the last command and that ``covered`` (what the view
        about to be built hides) leaves out; the caller hides them too. Directories the ``index``
        (just refreshed) knows and the watch does not are added."""
        with self.lock:
            self._taint()
            self._cover(covered, 0)
            self.found = []
            self._armed = False
            self._opens, self._inodes, self._moving, self._pending = {}, {}, {}, {}
            exposed: list[str] = self._tainted_paths()
            if self._drain(exposed):
                # events were lost: watch afresh; a directory changed since the view's listing is
                # listed again either way (its signature says so), so nothing depended on the events
                self.close()
                self._open()
            self._sync(index, exposed)
            with index.lock:  # what the tree is as the command starts, for :meth:`_recover`
                self._sigs = {d: e.sig for d, e in index.dirs.items()}
            return [Path(p) for p in dict.fromkeys(exposed) if os.path.lexists(p)]

    def _taint(self) -> None:
        """After a stop, every name a stopped file now has is kept hidden from later commands while it
        is that file: a command that renamed the host's new ``.env.local`` to ``n.txt`` before it was
        stopped would otherwise read it as an ordinary file in its next command (red team rt7)."""
        for path, count in self._opens.items():
            if count.origin in self.found:
                with contextlib.suppress(OSError):
                    st = os.lstat(path)
                    self._tainted[path] = (st.st_dev, st.st_ino)

    def _tainted_paths(self) -> list[str]:
        """The tainted names still naming the file they named (forgotten once gone or replaced)."""
        out: list[str] = []
        for path, ident in list(self._tainted.items()):
            try:
                st = os.lstat(path)
            except OSError:
                del self._tainted[path]
                continue
            if (st.st_dev, st.st_ino) != ident:
                del self._tainted[path]
            elif not self._is_covered(path):
                out.append(path)
        return out

    def _sync(self, index: DirIndex, out: list[str]) -> None:
        """Watch every directory of ``index`` not watched yet, then list the ones that may hold what
        the view was not computed from. One listed under the ignore rules that has not changed since
        (same signature, classified) is not listed again: the view was computed from what it held."""
        with index.lock:
            entries = list(index.dirs.items())
        todo: list[str] = []
        for d, e in entries:
            wd = self._dirs.get(d)
            if wd is not None:
                if e.unreadable or self._wd[wd][1] == (e.sig[0], e.sig[1]):
                    continue  # watched, and still the directory the index lists under that name
                # another directory under a watched name (a directory above the root renamed and
                # another tree put at the path): the old watch follows the old tree (red team rt10)
                inotify.rm_watch(self.fd, wd)
                self._forget(wd)
            if self._is_covered(d) or not self._inside(d):
                continue
            try:
                if not self._add(d):
                    continue
            except SandboxUnavailable:
                if e.unreadable and os.geteuid() != 0:
                    continue  # not ours to read (another owner's, mode 000): nothing can appear in it for us
                raise
            if e.hidden is not None and not e.racy and not e.unreadable:
                with contextlib.suppress(OSError):
                    st = os.lstat(d)
                    if (st.st_dev, st.st_ino, st.st_ctime_ns) == e.sig:
                        continue
            todo.append(d)
        for d in todo:
            self._list(d, out, recurse=False)

    # --- while a command runs ---------------------------------------------------------------------

    def arm(self, covered: Iterable[Path]) -> None:
        """From now until :meth:`prepare`, judge for a running command whose view hides ``covered``."""
        with self.lock:
            self._cover(covered, 1)
            self.found = []
            self._opens, self._inodes, self._moving, self._pending = {}, {}, {}, {}
            self._armed = True

    def _cover(self, covered: Iterable[Path], slot: int) -> None:
        """What the view hides, as strings; the same paths as the last time in this ``slot`` (0: the
        spec's masks, 1: the layout's hidden paths; an unchanged view, thousands of hidden files) are
        not turned into strings again."""
        paths = tuple(covered)
        last = self._covered_from[slot]
        if not same_paths(paths, last[0]):
            last = self._covered_from[slot] = (paths, frozenset(map(str, paths)))
        self._covered = last[1]

    def poll(self) -> bool:
        """Read what is queued; True once a new hidden file was opened beyond its maker's one open
        (``found`` says which), or events were lost."""
        with self.lock:
            if self._drain(self.found):
                self._recover()
            return bool(self.found)

    def _recover(self) -> None:
        """Events were lost (more than the kernel queues, as ``grep -r`` over a large tree makes):
        what a lost event could have said is read from the tree instead. A new hidden file already
        counted may have been opened unseen (a stop); any other one made meanwhile is in a directory
        whose signature changed since the command started, so those are listed, and an uncovered
        hidden name there is a stop. Only a hidden file made and removed again within the lost
        events goes unseen."""
        if self._opens:
            self.found.append(OVERFLOW)
            return
        for d in list(self._dirs):
            try:
                st = os.lstat(d)
            except OSError:
                continue
            sig = (st.st_dev, st.st_ino, st.st_ctime_ns)
            if self._sigs.get(d) == sig:
                continue
            self._sigs[d] = sig
            self._sweep(d)

    def _sweep(self, d: str) -> None:
        try:
            with os.scandir(d) as it:
                names = [e.name for e in it]
        except OSError:
            self.found.append(OVERFLOW)  # cannot be checked: fail closed
            return
        inside_hidden = self._wd.get(self._dirs.get(d, -1), ("", (0, 0), False))[2]
        for n in names:
            p = f"{d}/{n}" if d != "/" else "/" + n
            if self._is_covered(p) or p in self._opens:
                continue
            try:
                is_dir = os.path.isdir(p) and not os.path.islink(p)
            except OSError:
                is_dir = False
            if inside_hidden or self.hides(self._rel(p), is_dir):
                if p not in self.found:
                    self.found.append(p)
            elif is_dir and p not in self._dirs and (self._armed or n != NOT_ENTERED) and self._add(p):
                self._sweep(p)

    # --- shared -----------------------------------------------------------------------------------

    def _drain(self, out: list[str]) -> bool:
        """Judge every queued event; True on a lost event. Before a command, hidden new paths go to
        ``out``; while one runs, opens of new hidden files are counted (:meth:`_opened`)."""
        lost = False
        for wd, mask, cookie, raw in queued_events(self.fd):
            if mask & USE:
                if raw and self._armed and not mask & IN_ISDIR:
                    self._used(wd, raw, mask)
            elif mask & IN_Q_OVERFLOW:
                lost = True
            elif mask & IN_IGNORED:
                self._forget(wd)
            elif mask & IN_MOVE_SELF:
                self._moved(wd)
            elif wd not in self._wd:
                continue
            elif mask & IN_MOVED_FROM:
                path = self._path(wd, raw)
                if path in self._opens:  # a new hidden file renamed: its count goes with it
                    self._moving[cookie] = self._opens.pop(path)
            elif mask & (IN_CREATE | IN_MOVED_TO):
                path = self._path(wd, raw)
                self._replaced(path)
                moved = self._moving.pop(cookie, None) if mask & IN_MOVED_TO else None
                if moved is not None:
                    moved.another_name()
                    self._opens[path] = moved
                    continue
                self._judge(path, out, made=bool(mask & IN_CREATE), inside_hidden=self._wd[wd][2])
        # a rename's two events are queued together: one without its pair left the watched tree,
        # where nothing counts its opens any more
        for count in self._moving.values():
            if count.origin not in self.found:
                self.found.append(count.origin)
        self._moving.clear()
        self._judge_public()
        return lost

    def _path(self, wd: int, raw: bytes) -> str:
        d = self._wd[wd][0]
        return f"{d}/{os.fsdecode(raw)}" if d != "/" else "/" + os.fsdecode(raw)

    def _used(self, wd: int, raw: bytes, mask: int) -> None:
        """A file in a watched directory was opened, read or closed. For a new hidden file a stop:
        an open or a close for writing past its maker's one, any read, any close of a read-only open.

        inotify merges an event into an identical one still queued, so a second open right after the
        maker's may arrive as one; a reader still shows by its reads and its close (a reader that maps
        the file, opens it for writing and closes it in the instant after the maker does is the
        residual case, see the module docstring)."""
        entry = self._wd.get(wd)
        if entry is None:
            return
        path = self._path(wd, raw)
        count = self._opens.get(path)
        if count is None:
            if not entry[2]:
                return  # not a new hidden file: the view decides what it shows
            count = self._opens[path] = Count(0, path)  # in a new hidden directory, made before its watch
        if mask & IN_OPEN:
            count.left -= 1
        if mask & IN_CLOSE_WRITE:
            count.closes -= 1
        # written to after its maker closed it (a second writer: write, truncate, fallocate), or
        # read while still open for writing, or under more than one name: no exemption (one found
        # by a listing may or may not be open still: judged on what it holds at the batch's end,
        # and a write after that verdict is a stop)
        rewritten = bool(mask & IN_MODIFY) and (count.public is True or (count.closes <= 0 and count.left < 0))
        read = count.left < 0 or bool(mask & (IN_ACCESS | IN_CLOSE_NOWRITE))
        over = (
            count.closes < 0
            or rewritten
            or (read and (count.public is False or (count.closes > 0 and not count.listed) or count.names > 1))
        )
        if read and not over:  # perhaps public by content: judged once this batch of events is read
            count.read_as_public = True
            if count.public is None:
                self._pending[id(count)] = (count, path)
        # named by where it appeared: a renamed copy is the command's doing, to be set aside, not the host's
        if over and count.origin not in self.found:
            self.found.append(count.origin)

    def _judge_public(self) -> None:
        """A new hidden file read back after its one writer closed it may stay readable when it is
        public by content (a certificate bundle: pip writes certifi's ``cacert.pem`` into a new venv
        and reads it back to hash it). Judged once, at the end of the batch of events, on the file the
        watch counted (same device and inode); the check's own open and read, which the watch sees
        too, are then reads of a public file. A file put in its place after it was read (a rename
        over it, a new file under its name) stops the command (:meth:`_replaced`): the file judged
        may not be the one read. A later write to it stops too (a close for writing over the count)."""
        pending, self._pending = self._pending, {}
        for count, path in pending.values():
            if count.public is None:
                count.public = count.ident is not None and is_public_file(Path(path), ident=count.ident)
            if not count.public and count.origin not in self.found:
                self.found.append(count.origin)

    def _replaced(self, path: str) -> None:
        """A name appeared where a new hidden file read as public was: what was read may not be what
        is judged (or was), so the command stops."""
        prev = self._opens.get(path)
        if prev is not None and prev.read_as_public and prev.origin not in self.found:
            self.found.append(prev.origin)

    def _judge(
        self, path: str, out: list[str], *, made: bool = False, inside_hidden: bool = False, listed: bool = False
    ) -> None:
        """A name that appeared (``made``: created here, not moved or found by a listing). Before a
        command a hidden one goes to ``out``; while one runs a hidden file may be opened once by its
        maker (one made here, with one link), anything else in it none (:meth:`_opened`); a directory
        is watched, then listed (all of it)."""
        if self._is_covered(path) or not self._inside(path):
            return
        try:
            st = os.lstat(path)
        except OSError:
            st = None  # gone already: before a command, judged by its name alone
        is_dir = st is not None and stat.S_ISDIR(st.st_mode)
        if not is_dir and st is not None and stat.S_ISLNK(st.st_mode):
            with contextlib.suppress(OSError):
                is_dir = os.path.isdir(path)  # as the index classifies a link to a directory
        hidden = inside_hidden or self.hides(self._rel(path), is_dir)
        if hidden and not self._armed:
            out.append(path)
            return
        if self._armed and st is None and hidden:
            self._opens.setdefault(path, Count(1 if made else 0, path))  # gone or renamed: followed by name
            return
        if self._armed and st is not None and stat.S_ISREG(st.st_mode):
            ident = (st.st_dev, st.st_ino)
            counter = self._inodes.get(ident)
            if counter is None and hidden:
                # one found by listing a new directory may still be open for writing by its maker,
                # whose open went unseen: its one close for writing is still to come
                opens = 1 if made and st.st_nlink == 1 else 0
                counter = self._inodes[ident] = Count(opens, path, 1 if listed else opens, ident=ident, listed=listed)
                if listed and st.st_atime_ns > st.st_mtime_ns and path not in self.found:
                    # made in a new directory before its watch existed, and read since it was last
                    # written (the access time says so, where the file system keeps it): a stop
                    self.found.append(path)
            elif counter is not None and made and counter.listed and path == counter.origin and st.st_nlink == 1:
                # its creation is queued too: the listing came first, and the maker's open is still to be read
                counter.left += 1
                counter.listed = False
            # a new hidden file, or another name (a hard link, a reused inode number) of one
            if counter is not None and self._opens.setdefault(path, counter) is counter and path != counter.origin:
                counter.another_name()
            return
        # a ``.git`` that exists is protected whole (read-only to commands: nothing new in it); one
        # that appears while a command runs is the command's, and watched like any directory
        # (red team rt9: a hard link to the host's new file inside a fresh ``x/.git`` went unseen)
        real_dir = (
            st is not None and stat.S_ISDIR(st.st_mode) and (self._armed or os.path.basename(path) != NOT_ENTERED)
        )
        if real_dir and self._add(path, hidden=hidden):
            self._list(path, out, recurse=True, hidden=hidden)

    def _list(self, d: str, out: list[str], *, recurse: bool, hidden: bool = False) -> None:
        """Judge what ``d`` holds (after its watch exists: nothing made from then on is missed)."""
        try:
            with os.scandir(d) as it:
                names = [e.name for e in it]
        except FileNotFoundError:
            return
        except OSError as err:
            raise SandboxUnavailable(
                f"sandbox: cannot list {d} to check it for hidden files: {os.strerror(err.errno or 0)}"
            ) from None
        for n in names:
            p = f"{d}/{n}" if d != "/" else "/" + n
            if recurse:
                self._judge(p, out, inside_hidden=hidden, listed=True)
                continue
            # a directory already watched is listed on its own; here only its name is judged
            if p in self._dirs:
                if not self._is_covered(p) and self.hides(self._rel(p), True):
                    out.append(p)
                continue
            self._judge(p, out)

    def _add(self, d: str, *, hidden: bool = False) -> bool:
        """Watch ``d``; False when it is gone. Fails closed when it cannot be watched."""
        wd = inotify.add_watch(self.fd, d, MASK)
        if wd < 0:
            err = -wd
            if err in (errno.ENOENT, errno.ENOTDIR):
                return False
            if err == errno.ENOSPC:
                raise SandboxUnavailable(
                    f"sandbox: the workspace has more directories than inotify may watch ({limit_text()}), so files "
                    "the ignore rules hide could appear unseen while a command runs; raise the limit: "
                    "sudo sysctl fs.inotify.max_user_watches=524288"
                )
            raise SandboxUnavailable(f"sandbox: cannot watch {d} for new hidden files: {os.strerror(err)}")
        try:
            st = os.lstat(d)
            ident = (st.st_dev, st.st_ino)
        except OSError:
            ident = (0, 0)
        old = self._wd.get(wd)
        if old is not None and old[0] != d:
            self._rename(old[0], d)  # the same directory under a new name: its subdirectories moved with it
        self._wd[wd] = (d, ident, hidden)
        self._dirs[d] = wd
        return True

    def _rename(self, old: str, new: str) -> None:
        prefix = old + "/"
        for wd, (p, ident, hidden) in list(self._wd.items()):
            if p == old or p.startswith(prefix):
                moved = new + p[len(old) :]
                self._dirs.pop(p, None)
                self._wd[wd] = (moved, ident, hidden)
                self._dirs[moved] = wd

    def _moved(self, wd: int) -> None:
        """A watched directory was renamed: unless it was already followed to its new name (its new
        parent's event came first), it and what is below it are dropped, to be found anew."""
        entry = self._wd.get(wd)
        if entry is None:
            return
        path, ident, _ = entry
        with contextlib.suppress(OSError):
            st = os.lstat(path)
            if (st.st_dev, st.st_ino) == ident:
                return
        prefix = path + "/"
        for w, (p, _, _) in list(self._wd.items()):
            if p == path or p.startswith(prefix):
                inotify.rm_watch(self.fd, w)
                self._forget(w)

    def _forget(self, wd: int) -> None:
        entry = self._wd.pop(wd, None)
        if entry is not None and self._dirs.get(entry[0]) == wd:
            del self._dirs[entry[0]]

    def _is_covered(self, path: str) -> bool:
        covered = self._covered
        if not covered:
            return False
        p = path
        while len(p) > len(self.root):
            if p in covered:
                return True
            p = p.rpartition("/")[0]
        return p in covered

    def _inside(self, path: str) -> bool:
        return path == self.root or path.startswith(self.root + "/") or self.root == "/"

    def _rel(self, path: str) -> str:
        return path[len(self.root) + 1 :] if self.root != "/" else path[1:]

    @property
    def watched(self) -> int:
        return len(self._wd)


def limit_text() -> str:
    try:
        with open("/proc/sys/fs/inotify/max_user_watches", encoding="ascii") as f:
            return f"fs.inotify.max_user_watches is {f.read().strip()}"
    except OSError:
        return "fs.inotify.max_user_watches"


KEPT = 4  # workspaces watched at once by one process (a session has one)
_watches: dict[str, NewNames] = {}
_lock = threading.Lock()


def watch_for(root: Path, rules: Classify) -> NewNames:
    """The process's watch of ``root``, kept across commands while the rules' key stays the same."""
    with _lock:
        w = _watches.get(str(root))
        if w is not None and w.key == rules.key:
            w.hides = rules.hides  # the same rules, perhaps another matcher object
            return w
        if w is not None:
            del _watches[str(root)]
            w.close()
        while len(_watches) >= KEPT:  # inotify instances are few (128 per user): the oldest goes
            _watches.pop(next(iter(_watches))).close()
        w = _watches[str(root)] = NewNames(root, rules.hides, rules.key)
        return w


def prepared(
    root: Path, rules: Classify | None, index: DirIndex, covered: Sequence[Path]
) -> tuple[NewNames | None, list[Path]]:
    """For a tier, before it builds its view: the session's watch of ``root`` and the hidden paths
    that appeared since ``covered`` was computed (the tier hides them too). ``(None, [])`` without rules."""
    if rules is None:
        return None, []
    watch = watch_for(root, rules)
    return watch, watch.prepare(index, covered)
