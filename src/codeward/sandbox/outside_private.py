"""Files outside the workspace that only their owner (or group) may read are not a build's inputs.

Commands see the system directories read-only, because builds need compilers, headers and
configuration that every account may read. What an account may read *only because it owns the
file* (or is in its group) is something else: ``/etc/mysql/debian.cnf`` and
``/etc/gitlab-runner/config.toml`` are root's ``0600`` files, readable by an agent run as root in a
container even though the sandbox dropped every capability (the command is still uid 0, their
owner). A list of known credential places cannot keep up with every package, so this decides by
what the file *is*: outside the trees, an entry the command's credentials can read (or, for a
directory, enter) but other accounts cannot is hidden whole. World-readable files stay visible;
directories no other account may enter are hidden without being walked.

What is walked: the directories a system keeps local state and configuration in (``/etc``,
``/var``, ``/opt``, ``/boot``, ``/usr/local``), not the distribution's ``/usr`` (package files,
world-readable by construction) nor the private directories the view replaces anyway;
``readable_roots`` in the config are trusted as the user listed them and not walked.

Cost: the first walk ``lstat``s every entry (about 12,000 here, 0.25 s under load). It is kept per
directory with the directory's signature (device, inode, ctime) in ``$CODEWARD_HOME/cache``, so a
later process ``lstat``s each directory and lists again only those whose entries changed (a file
created, removed or renamed moves its directory's ctime). Not seen until its directory changes: a
``chmod`` that makes an existing, so far world-readable file private (it was public until then).
Within one process the answer is reused for :data:`REFRESH_S` seconds (see :func:`private_outside`).
A walk past :data:`MAX_ENTRIES` entries stops, and what it did not reach is hidden whole (fail
closed), named in :attr:`Outside.unchecked`.
"""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

WALKED_TOPS: tuple[str, ...] = ("/etc", "/var", "/opt", "/boot", "/usr/local")
MAX_ENTRIES = 200_000
RACY_NS = 2_000_000_000  # listed within this long of its last change: listed again next time
FORMAT = 1


@dataclass(frozen=True)
class Outside:
    """What the walk found: entries to hide, and directories hidden because the walk ran out."""

    private: tuple[Path, ...]
    unchecked: tuple[Path, ...] = ()


@dataclass
class _Dir:
    sig: tuple[int, int, int]
    private: list[str] = field(default_factory=list)  # names of private entries in it
    subdirs: list[str] = field(default_factory=list)  # names of public subdirectories on the same device
    racy: bool = False


def readable_class(st: os.stat_result, uid: int, gids: frozenset[int]) -> int:
    """The permission bits (``rwx`` as 0-7) that apply to ``uid``/``gids`` for this inode, as the
    kernel picks them without capabilities: owner's, else group's, else other's."""
    mode = st.st_mode
    if st.st_uid == uid:
        return (mode >> 6) & 7
    if st.st_gid in gids:
        return (mode >> 3) & 7
    return mode & 7


def is_private(st: os.stat_result, uid: int, gids: frozenset[int]) -> bool:
    """True when these credentials may read (a directory: enter) the inode and other accounts may not."""
    mine = readable_class(st, uid, gids)
    other = st.st_mode & 7
    if stat.S_ISDIR(st.st_mode):
        return bool(mine & 1) and not other & 1
    if stat.S_ISREG(st.st_mode) or stat.S_ISSOCK(st.st_mode) or stat.S_ISFIFO(st.st_mode):
        return bool(mine & 4) and not other & 4
    return False  # links are judged where they point; devices are the sandbox's own /dev


def _list(d: str, sig: tuple[int, int, int], uid: int, gids: frozenset[int], skipped: set[str]) -> _Dir | None:
    """One directory's private entries and public subdirectories; None when it cannot be listed."""
    try:
        entries = list(os.scandir(d))
    except OSError:
        return None  # not ours to list: other accounts cannot list it either
    out = _Dir(sig, racy=time.time_ns() - sig[2] < RACY_NS)
    for e in entries:
        if e.path in skipped:
            continue
        try:
            st = e.stat(follow_symlinks=False)
        except OSError:
            continue
        if is_private(st, uid, gids):
            out.private.append(e.name)
        elif stat.S_ISDIR(st.st_mode) and st.st_dev == sig[0]:
            out.subdirs.append(e.name)
    return out


def private_entries(
    tops: Iterable[str],
    skip: Iterable[Path],
    uid: int,
    gids: Iterable[int],
    limit: int = MAX_ENTRIES,
    known: dict[str, _Dir] | None = None,
) -> tuple[Outside, dict[str, _Dir]]:
    """Walk ``tops`` (not following links, not leaving each top's filesystem) for private entries.

    ``skip``: directories the view replaces or the user vouched for, not walked. ``known``: the
    directories of an earlier walk; one whose signature still matches is not listed again.
    Returns the answer and the directories as walked now (for the next call).
    """
    groups = frozenset(gids)
    skipped = {str(p) for p in skip}
    known = known or {}
    now: dict[str, _Dir] = {}
    found: list[Path] = []
    unchecked: list[Path] = []
    listed = 0
    for top in tops:
        try:
            top_st = os.lstat(top)
        except OSError:
            continue
        if not stat.S_ISDIR(top_st.st_mode) or top in skipped:
            continue
        if is_private(top_st, uid, groups):
            found.append(Path(top))
            continue
        stack = [top]
        while stack:
            d = stack.pop()
            try:
                st = os.lstat(d)
            except OSError:
                continue
            if not stat.S_ISDIR(st.st_mode):
                continue  # replaced by something else since its parent was listed
            if is_private(st, uid, groups):
                found.append(Path(d))  # closed by a chmod since its parent was listed
                continue
            sig = (st.st_dev, st.st_ino, st.st_ctime_ns)
            entry = known.get(d)
            if entry is None or entry.sig != sig or entry.racy:
                if listed >= limit:
                    unchecked.append(Path(d))
                    continue
                entry = _list(d, sig, uid, groups, skipped)
                if entry is None:
                    continue
                listed += len(entry.private) + len(entry.subdirs) + 1
            now[d] = entry
            found += (Path(d, n) for n in entry.private)
            stack += (os.path.join(d, n) for n in entry.subdirs)
    return Outside(tuple(sorted(found)), tuple(sorted(unchecked))), now


_lock = threading.Lock()
_memo: dict[tuple[object, ...], tuple[Outside, dict[str, _Dir], float]] = {}
REFRESH_S = 30.0


def private_outside(skip: Iterable[Path], cache_dir: Path | None = None) -> Outside:
    """:func:`private_entries` for this process's credentials (a command keeps them).

    A refresh costs one ``lstat`` per directory once the walk is known (about 1,500 here, 15-50 ms
    in Python), too much for every command of a session, so within a process the answer is reused
    for :data:`REFRESH_S` seconds: what the host's administrator changes outside the workspace (no
    command can write there) reaches the view within that time. The directories are saved in
    ``cache_dir`` for the next process.
    """
    uid = os.geteuid()
    gids = frozenset({os.getegid(), *os.getgroups()})
    skip_key = tuple(sorted({str(p) for p in skip}))
    key = (uid, gids, skip_key)
    with _lock:
        held = _memo.get(key)
        if held is not None and time.monotonic() - held[2] < REFRESH_S:
            return held[0]
        known = held[1] if held else _load(cache_dir, uid, skip_key)
        answer = _replay(known, uid, gids) if held is None else None
        if answer is not None:
            _memo[key] = (answer, known, time.monotonic())
            return answer
        answer, dirs = private_entries(WALKED_TOPS, map(Path, skip_key), uid, gids, known=known)
        _memo[key] = (answer, dirs, time.monotonic())
        if dirs != known and not answer.unchecked:  # a walk that ran out is not kept for replay
            _save(cache_dir, uid, skip_key, dirs)
        return answer


def _replay(known: dict[str, _Dir], uid: int, gids: frozenset[int]) -> Outside | None:
    """The saved walk's answer when no directory of it changed (one ``lstat`` each, no listing,
    no path arithmetic), else None. A walk that ran out is never replayed: it walks again."""
    if not known:
        return None
    found = [Path(t) for t in WALKED_TOPS if _private_top(t, uid, gids)]
    for d, e in known.items():
        try:
            st = os.lstat(d)
        except OSError:
            return None
        if e.racy or (st.st_dev, st.st_ino, st.st_ctime_ns) != e.sig or is_private(st, uid, gids):
            return None
        found += (Path(d, n) for n in e.private)
    return Outside(tuple(sorted(found)))


def _private_top(top: str, uid: int, gids: frozenset[int]) -> bool:
    try:
        st = os.lstat(top)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and is_private(st, uid, gids)


def _cache_file(cache_dir: Path, uid: int) -> Path:
    return cache_dir / f"outside-{uid}.json"


def _load(cache_dir: Path | None, uid: int, skip_key: tuple[str, ...]) -> dict[str, _Dir]:
    """The saved directories, or nothing when the file is missing, foreign, writable by others or malformed."""
    if cache_dir is None:
        return {}
    path = _cache_file(cache_dir, uid)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return {}
    try:
        st = os.fstat(fd)
        if st.st_uid != os.geteuid() or st.st_mode & 0o022:
            return {}
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = json.loads(f.read(64 << 20))
        if data.get("format") != FORMAT or data.get("skip") != list(skip_key):
            return {}
        return {
            d: _Dir((int(s[0]), int(s[1]), int(s[2])), list(p), list(sub), bool(r))
            for d, (s, p, sub, r) in data["dirs"].items()
        }
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}
    finally:
        os.close(fd)


def _save(cache_dir: Path | None, uid: int, skip_key: tuple[str, ...], dirs: dict[str, _Dir]) -> None:
    if cache_dir is None:
        return
    from codeward.fsutil import atomic_write_text

    body = {
        "format": FORMAT,
        "skip": list(skip_key),
        "dirs": {d: [list(e.sig), e.private, e.subdirs, e.racy] for d, e in dirs.items()},
    }
    try:
        cache_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        atomic_write_text(_cache_file(cache_dir, uid), json.dumps(body, separators=(",", ":")), mode=0o600)
    except OSError:
        pass  # a cache: the next process walks again
