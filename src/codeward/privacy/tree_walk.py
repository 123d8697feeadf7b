"""Every entry of a workspace with its identity, for the secret learner (:mod:`codeward.privacy.learn`).

The learner must know, in every new process, which of the workspace's entries changed since they
were scanned, so it ``lstat``s every one: 200 000 of them in a ``codeward sandbox`` process. A
Python walk costs about 1 s for that (an ``os.stat_result`` per file); GNU ``find`` does the same
system calls in C, in its own process (so it runs beside the Python work that comes before the
scan, on another core), and prints each entry as ``path NUL stamp NUL``. The output is decoded and
split in single C calls into a ``{path: stamp}`` dict, and what changed is found by comparing
dicts' item views, again in C; nothing is parsed per entry.

Every entry is listed, not only regular files: names and symlink targets are scanned too
(:mod:`codeward.privacy.names`), and a directory's stamp changes whenever an entry is added to it,
removed or renamed. A stamp is ``"type dev ino nlink size mtime ctime"`` (``type`` is find's ``%y``:
``f``, ``d``, ``l``, ``p``, ``s``, ``c``, ``b``; ``nlink`` its link count, which tells a session's
watch which files a write through another name could change, :mod:`codeward.privacy.tree_watch`),
a symlink's followed by a space and its target
(``%l``; a target cannot be changed in place, only by replacing the link), with the times as
``sec.nanoseconds0`` (find's ``%T@``): exact to the nanosecond, the ctime included (a command can
set a file's mtime back with ``touch -d``, not its ctime; setting an extended attribute moves it
too), and the inode and device (an entry replaced by another). The root is listed too (followed if
it is a link). Where GNU find is missing or fails (BSD or busybox find has no ``-printf``), the
same dict is built by a Python walk that formats stamps identically.

Inside a ``.git`` directory everything is walked but the object stores and the index: an
``objects`` or ``lfs`` directory, an ``index`` or ``sharedindex.*`` file, whose parent is a git
directory (holds ``HEAD``: the ``.git`` itself, or a submodule's ``modules/NAME``). A ``.git``
that is no repository (``vendor/lib/.git/deploy.env``) has no ``HEAD``, so nothing in it is
skipped. find prunes every ``objects``/``lfs`` directory below a ``.git`` and names it; those whose
parent has no ``HEAD`` are walked afterwards in Python, so pruning never loses a file.
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
from collections.abc import Callable, Iterator

GIT_DIR_NAME = ".git"
OBJECT_STORE_DIRS = frozenset({"objects", "lfs"})
INDEX_NAMES = ("index", "sharedindex.")
FIND_PATHS = ("/usr/bin/find", "/bin/find")
"""Where GNU find is looked for: system directories only, never ``$PATH``. A user's PATH may hold a
workspace directory (an activated ``.venv/bin``, ``node_modules/.bin``), where a command could plant
a ``find`` that codeward would run on the host, outside the sandbox, and that would report every
file unchanged."""
FIND_ENV = {"PATH": "/usr/bin:/bin", "LC_ALL": "C"}
PRUNED = "P"
"""The stamp find prints for a pruned object-store directory (no real stamp has one field)."""
_ENC = ("utf-8", "surrogateescape")


class Walk:
    """A walk of ``root`` under way (find started at construction); :meth:`result` waits for it."""

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/") or "/"
        self.digest: str | None = None
        """After :meth:`result`: a digest of find's whole output (None from the Python walk). Two
        walks with the same digest found the same files with the same stamps."""
        self._proc: subprocess.Popen[bytes] | None = None
        find = next((f for f in FIND_PATHS if os.path.isfile(f)), None)
        if find is not None:
            try:
                self._proc = subprocess.Popen(
                    _find_argv(find, self.root),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    close_fds=True,
                    env=FIND_ENV,
                )
            except OSError:
                self._proc = None

    def result(self) -> dict[str, str]:
        """``{path: stamp}`` of every entry under the root and of the root (absolute paths, links
        not followed)."""
        got = self.found()
        return got if got is not None else python_snapshot(self.root)

    def found(self) -> dict[str, str] | None:
        """:meth:`result` from find alone: None when find is missing, failed or was cancelled."""
        proc = self._proc
        if proc is None:
            return None
        out, _ = proc.communicate()
        self._proc = None
        got = _from_find(self.root, proc.returncode, out)
        if got is not None:
            self.digest = hashlib.sha256(out).hexdigest()
        return got

    def cancel(self) -> None:
        """Stop a walk whose result is not wanted (the process is killed; whoever waits in
        :meth:`found` gets None)."""
        proc = self._proc
        if proc is not None:
            proc.kill()
            proc.wait()  # reaped here (a reader in :meth:`found` sees it ended)


def snapshot(root: str) -> dict[str, str]:
    """``{path: stamp}`` of every entry under ``root`` (and of ``root``), now."""
    return Walk(root).result()


def is_file(stamp: str) -> bool:
    """Whether a stamp is a regular file's."""
    return stamp.startswith("f ")


def files(stamps: dict[str, str]) -> list[str]:
    """The regular files of a walk's dict."""
    return [p for p, s in stamps.items() if s.startswith("f ")]


def link_target(stamp: str) -> str | None:
    """A symlink's target (None for any other entry)."""
    return stamp.split(" ", 7)[7] if stamp.startswith("l ") else None


def changed(now: dict[str, str], base: dict[str, str]) -> list[str]:
    """The paths of ``now`` whose stamp is not the one ``base`` holds (new or changed), sorted."""
    return changed_within(now, base)[0]


def changed_within(now: dict[str, str], base: dict[str, str]) -> tuple[list[str], bool]:
    """:func:`changed`, and whether every entry of ``base`` is in ``now`` unchanged.

    The usual case, every file of ``base`` unchanged and a few more in ``now`` (the files with
    findings, which the clean cache leaves out), is settled by one dict comparison in C; any other
    compares each path's stamp (a tenth of a second at 200 000 files)."""
    extra = now.keys() - base.keys()
    if len(now) - len(extra) == len(base):
        same = dict(now)
        for p in extra:
            del same[p]
        if same == base:
            return sorted(extra), True
    get = base.get
    return sorted(p for p, s in now.items() if get(p) != s), False


def stamp_size(stamp: str) -> int:
    """The size field of a stamp."""
    return int(stamp.split(" ", 5)[4])


def stamp_links(stamp: str) -> int:
    """The link count field of a stamp."""
    return int(stamp.split(" ", 4)[3])


def stamp_ident(stamp: str) -> tuple[str, str, str]:
    """``(type, dev, ino)`` of a stamp: which entry it is, whatever happened to its contents."""
    t, dev, ino, _ = stamp.split(" ", 3)
    return t, dev, ino


def stamp_of(st: os.stat_result, target: str | None = None) -> str:
    """The stamp of an ``lstat`` result (and a link's ``target``), formatted exactly as find's
    ``%y %D %i %n %s %T@ %C@`` (`` %l`` for a link)."""
    m, mn = divmod(st.st_mtime_ns, 1_000_000_000)
    c, cn = divmod(st.st_ctime_ns, 1_000_000_000)
    stamp = f"{_type_of(st.st_mode)} {st.st_dev} {st.st_ino} {st.st_nlink} {st.st_size} {m}.{mn:09d}0 {c}.{cn:09d}0"
    return stamp if target is None else f"{stamp} {target}"


def _type_of(mode: int) -> str:
    """find's ``%y`` letter for a mode."""
    for test, letter in _TYPES:
        if test(mode):
            return letter
    return "U"


_TYPES = (
    (stat.S_ISREG, "f"),
    (stat.S_ISDIR, "d"),
    (stat.S_ISLNK, "l"),
    (stat.S_ISFIFO, "p"),
    (stat.S_ISSOCK, "s"),
    (stat.S_ISCHR, "c"),
    (stat.S_ISBLK, "b"),
)


def _find_argv(find: str, root: str) -> list[str]:
    # The root is absolute (it starts with "/"), so find cannot read it as an option or a test.
    # -H: a root that is a link to the workspace is followed (the Python walk follows it too);
    # no link below it is.
    return [
        find,
        "-H",
        root,
        "(",
        "-type",
        "d",
        "-path",
        f"*/{GIT_DIR_NAME}/*",
        "(",
        "-name",
        "objects",
        "-o",
        "-name",
        "lfs",
        ")",
        "-printf",
        f"%p\\0{PRUNED}\\0",
        "-prune",
        ")",
        "-o",
        "-type",
        "l",
        "-printf",
        "%p\\0%y %D %i %n %s %T@ %C@ %l\\0",
        "-o",
        "-printf",
        "%p\\0%y %D %i %n %s %T@ %C@\\0",
    ]


def _from_find(root: str, returncode: int, out: bytes) -> dict[str, str] | None:
    """find's output as a dict; None when find failed in a way that may have lost files.

    Exit status 1 with output is what find says when some directory could not be read: the Python
    walk skips those too. Anything else (find killed, no ``-printf``) falls back to that walk."""
    if returncode not in (0, 1) or (returncode == 1 and not out) or not out.endswith(b"\0"):
        return None
    parts = out[:-1].decode(*_ENC).split("\0")
    if len(parts) % 2:
        return None
    found = dict(zip(parts[0::2], parts[1::2], strict=True))
    if PRUNED in found.values():
        for d in [p for p, s in found.items() if s == PRUNED]:
            del found[d]
            if not _is_store(root, d):
                found.update(python_snapshot(d, in_git=True))
    for p in [p for p in found if "/.git/" in p]:
        name = p.rpartition("/")[2]
        index = name == INDEX_NAMES[0] or name.startswith(INDEX_NAMES[1])
        if index and found[p].startswith("f ") and _is_store(root, p):
            del found[p]
    return found


def _is_store(root: str, path: str) -> bool:
    """Whether ``path`` is skipped as a git directory's object store or index: its parent is inside
    (or is) a ``.git`` below ``root`` and holds ``HEAD``."""
    parent = path.rpartition("/")[0]
    rel = parent[len(root) :] + "/"
    return f"/{GIT_DIR_NAME}/" in rel and os.path.lexists(parent + "/HEAD")


def python_snapshot(
    root: str, *, in_git: bool = False, before_listing: Callable[[str], None] | None = None
) -> dict[str, str]:
    """The same dict from a Python walk (no GNU find, or a pruned directory that is no store).
    ``before_listing(d)`` is called before each directory is listed (a watch put on it first sees
    whatever changes after the listing)."""
    root = root.rstrip("/") or "/"
    try:
        out = {root: stamp_of(os.stat(root))}  # followed, as find -H does
    except OSError:
        return {}
    for p, st in _walk(root, in_git, before_listing):
        if stat.S_ISLNK(st.st_mode):
            try:
                out[p] = stamp_of(st, os.readlink(p))
            except OSError:
                continue
        else:
            out[p] = stamp_of(st)
    return out


def entry_stamp(root: str, path: str) -> str | None:
    """The stamp a walk of ``root`` would give ``path`` now (the root followed, nothing else), or
    None when the walk would not list it: gone, unreadable, or a git directory's object store or
    index (:func:`_is_store`). What a session's watch reads of an entry an event named."""
    try:
        st = os.stat(path) if path == root else os.lstat(path)
        if path != root and _stored(root, path, st.st_mode):
            return None
        return stamp_of(st, os.readlink(path)) if stat.S_ISLNK(st.st_mode) else stamp_of(st)
    except OSError:
        return None


def in_git_dir(root: str, path: str) -> bool:
    """Whether ``path`` is a ``.git`` directory below ``root`` or inside one (how a walk of its
    subtree must treat object stores, see :func:`_walk`)."""
    return f"/{GIT_DIR_NAME}/" in path[len(root) :] + "/"


def _stored(root: str, path: str, mode: int) -> bool:
    """Whether a walk skips ``path`` (of type ``mode``) as an object store or index."""
    name = path.rpartition("/")[2]
    if stat.S_ISDIR(mode):
        return name in OBJECT_STORE_DIRS and _is_store(root, path)
    index = name == INDEX_NAMES[0] or name.startswith(INDEX_NAMES[1])
    return index and stat.S_ISREG(mode) and _is_store(root, path)


def _walk(
    root: str, in_git: bool, before_listing: Callable[[str], None] | None = None
) -> Iterator[tuple[str, os.stat_result]]:
    """(path, lstat) of every entry below ``root`` but the object stores and indexes."""
    stack: list[tuple[str, bool]] = [(root, in_git)]
    while stack:
        d, inside = stack.pop()
        if before_listing is not None:
            before_listing(d)
        try:
            entries = list(os.scandir(d))
        except OSError:
            continue
        store_parent = inside and any(e.name == "HEAD" for e in entries)
        for e in entries:
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                if store_parent and e.name in OBJECT_STORE_DIRS:
                    continue
                stack.append((e.path, inside or e.name == GIT_DIR_NAME))
            elif (
                stat.S_ISREG(st.st_mode)
                and store_parent
                and (e.name == INDEX_NAMES[0] or e.name.startswith(INDEX_NAMES[1]))
            ):
                continue
            yield e.path, st
