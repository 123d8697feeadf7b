"""Files outside the workspace that not every account may read are not a build's inputs.

Commands see the system directories read-only, because builds need compilers, headers and
configuration that every account may read. What only some accounts may read is something else:
``/etc/mysql/debian.cnf`` and ``/etc/gitlab-runner/config.toml`` are root's ``0600`` files, readable
by an agent run as root in a container even though the sandbox dropped every capability (the
command is still uid 0, their owner), and the Landlock launcher keeps ``CAP_DAC_OVERRIDE`` for a
command it runs as another uid. A list of known credential places cannot keep up with every
package, and what the command's own credentials may read depends on the tier, so this decides by
what the file *is*: outside the trees, an entry other accounts may not read (a file without the
"other" read bit, a directory without the "other" search bit, whatever its owner, group or ACL) is
hidden whole, and so is a directory codeward cannot list (what is in it is unknown).

What is walked: every top-level directory the view shows (``/usr``, ``/etc``, ``/var``, ``/opt``,
``/nix``, ``/sys`` ...; not ``/proc`` and ``/dev``, which the sandbox makes afresh, nor the private
directories the view replaces; under ``/sys`` by directory, :func:`collapse_sysfs`),
across mounts (a data volume under ``/opt``); ``readable_roots`` in the config are trusted as the
user listed them and not walked.

Cost: the first walk ``lstat``s every entry (about 150,000 here). It is kept per directory with
the directory's signature (device, inode, ctime) in ``$CODEWARD_HOME/cache``, so a later process
``lstat``s each directory and lists again only those whose entries changed (a file created,
removed or renamed moves its directory's ctime). A ``chmod`` that makes an existing file private
does not move its directory, so a saved walk older than :data:`MAX_AGE_S` is not trusted: the
next process walks everything again. Within one process the answer is reused for
:data:`REFRESH_S` seconds (see :func:`private_outside`). A walk past :data:`MAX_ENTRIES` entries
stops, and what it did not reach is hidden whole (fail closed), named in :attr:`Outside.unchecked`.
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

NOT_WALKED: frozenset[str] = frozenset({"proc", "dev"})
"""Top-level directories the sandbox makes afresh (its own ``/proc`` and ``/dev``)."""
SYSFS = "/sys"
COLLAPSE_AT = 4
SYSFS_KEPT = ("/sys/devices/system/cpu", "/sys/fs/cgroup")
"""Under ``/sys`` a directory with this many hidden entries is hidden whole (see :func:`collapse_sysfs`)."""
MAX_ENTRIES = 1_000_000
MAX_AGE_S = 3600.0
RACY_NS = 2_000_000_000  # listed within this long of its last change: listed again next time
FORMAT = 6


@dataclass(frozen=True)
class Outside:
    """What the walk found: entries to hide, and directories hidden because the walk ran out."""

    private: tuple[Path, ...]
    unchecked: tuple[Path, ...] = ()


@dataclass
class _Dir:
    sig: tuple[int, int, int]
    private: list[str] = field(default_factory=list)  # names of private entries in it
    subdirs: list[str] = field(default_factory=list)  # names of public subdirectories (any device)
    racy: bool = False
    whole: bool = False  # the directory itself is hidden: private, or it cannot be listed


def is_private(st: os.stat_result) -> bool:
    """True when other accounts may not read the inode (a directory: enter it), whoever owns it."""
    if stat.S_ISDIR(st.st_mode):
        return not st.st_mode & 0o001
    if stat.S_ISREG(st.st_mode) or stat.S_ISSOCK(st.st_mode) or stat.S_ISFIFO(st.st_mode):
        return not st.st_mode & 0o004
    return False  # links are judged where they point; devices are the sandbox's own /dev


def walked_tops() -> tuple[str, ...]:
    """The top-level directories (not links) the walk starts from."""
    return tops_under("/")


def tops_under(root: str) -> tuple[str, ...]:
    """The entries (not links) directly under ``root``, but for :data:`NOT_WALKED`: the directories
    the walk starts from and the files it judges there (a container's ``/key.json``)."""
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return ()
    return tuple(e.path for e in entries if e.name not in NOT_WALKED and not e.is_symlink())


def _list(d: str, sig: tuple[int, int, int], skipped: set[str]) -> _Dir | None:
    """One directory's private entries and public subdirectories; None when it cannot be listed."""
    try:
        entries = list(os.scandir(d))
    except OSError:
        return None
    out = _Dir(sig, racy=time.time_ns() - sig[2] < RACY_NS)
    for e in entries:
        if e.path in skipped:
            continue
        try:
            st = e.stat(follow_symlinks=False)
        except OSError:
            continue
        if is_private(st):
            out.private.append(e.name)
        elif stat.S_ISDIR(st.st_mode):
            out.subdirs.append(e.name)  # also another file system mounted here (a data volume)
    return out


Tops = dict[str, "tuple[int, int, int, int] | None"]
"""Each top-level entry's ``(dev, ino, ctime, mode)``, None when it is gone (a file's ctime moves
with its mode, so a top-level file made private is seen)."""


def top_states(tops: Iterable[str]) -> Tops:
    out: Tops = {}
    for t in tops:
        try:
            st = os.lstat(t)
        except OSError:
            out[t] = None
            continue
        out[t] = (st.st_dev, st.st_ino, st.st_ctime_ns, st.st_mode)
    return out


def private_entries(
    tops: Iterable[str],
    skip: Iterable[Path],
    limit: int = MAX_ENTRIES,
    known: dict[str, _Dir] | None = None,
) -> tuple[Outside, dict[str, _Dir]]:
    """Walk ``tops`` (not following links) for entries other accounts may not read.

    ``skip``: directories the view replaces or the user vouched for, not walked. ``known``: the
    directories of an earlier walk; one whose signature still matches is not listed again.
    Returns the answer and the directories as walked now (for the next call).
    """
    skipped = {str(p) for p in skip}
    known = known or {}
    now: dict[str, _Dir] = {}
    found: list[str] = []
    unchecked: list[str] = []
    listed = 0
    stack = [t for t in reversed(list(tops)) if t not in skipped]
    top_set = set(stack)
    while stack:
        d = stack.pop()
        try:
            st = os.lstat(d)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode):
            if d in top_set and is_private(st):
                found.append(d)  # a file directly under / (the tops are given unlisted)
            continue  # else replaced by something else since its parent was listed
        sig = (st.st_dev, st.st_ino, st.st_ctime_ns)
        if is_private(st):
            now[d] = _Dir(sig, whole=True)  # hidden whole, not walked
            found.append(d)
            continue
        entry = known.get(d)
        if entry is None or entry.sig != sig or entry.racy or entry.whole:
            if listed >= limit:
                unchecked.append(d)
                continue
            entry = _list(d, sig, skipped)
            if entry is None:  # cannot be listed: what is in it is unknown, so hidden whole
                now[d] = _Dir(sig, whole=True, racy=True)
                found.append(d)
                continue
            listed += len(entry.private) + len(entry.subdirs) + 1
        now[d] = entry
        found += (os.path.join(d, n) for n in entry.private)
        stack += (os.path.join(d, n) for n in entry.subdirs)
    return Outside(tuple(sorted(map(Path, collapse_sysfs(found)))), tuple(sorted(map(Path, unchecked)))), now


def collapse_sysfs(found: list[str], sysfs: str = SYSFS) -> list[str]:
    """``found`` with what lies under ``/sys`` hidden by directory: the kernel's interface holds
    thousands of root-only attribute files (slab statistics, ACPI tables, DMI serials, PCI
    resources), one mount each would be too many, and no build reads them. A private file with a
    read bit hides its directory (a write-only attribute has nothing to read); a directory whose
    hidden entries lie in :data:`COLLAPSE_AT` or more of its subdirectories is hidden whole instead
    (``/sys/module``). Never collapsed: the directories above :data:`SYSFS_KEPT`, which tools read
    for the CPU count and the container's limits."""
    prefix = sysfs + "/"
    rest = [f for f in found if not f.startswith(prefix)]
    hidden: set[str] = set()
    for f in found:
        if not f.startswith(prefix):
            continue
        try:
            st = os.lstat(f)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode):
            hidden.add(f)
        elif st.st_mode & 0o440:
            hidden.add(os.path.dirname(f))
    kept = {a for k in SYSFS_KEPT for a in [k, *_ancestors(k, sysfs)]}
    branches: dict[str, set[str]] = {}
    for d in hidden:
        child = d
        for a in _ancestors(d, sysfs):
            branches.setdefault(a, set()).add(child)
            child = a
    for a in sorted(branches, key=lambda x: x.count("/")):
        if a not in kept and len(branches[a]) >= COLLAPSE_AT and not any(x in hidden for x in _ancestors(a, sysfs)):
            hidden = {d for d in hidden if not d.startswith(a + "/")} | {a}
    hidden = {d for d in hidden if not any(x in hidden for x in _ancestors(d, sysfs))}
    return rest + sorted(hidden)


def _ancestors(d: str, stop: str) -> list[str]:
    out = []
    p = os.path.dirname(d)
    while p != stop and len(p) > len(stop):
        out.append(p)
        p = os.path.dirname(p)
    return out


_lock = threading.Lock()
_memo: dict[tuple[str, ...], tuple[Outside, dict[str, _Dir] | _Saved, float, float]] = {}
REFRESH_S = 30.0


def private_outside(skip: Iterable[Path], cache_dir: Path | None = None) -> Outside:
    """:func:`private_entries` over every top-level directory, saved and replayed.

    A refresh costs one ``lstat`` per directory once the walk is known (too much for every command
    of a session), so within a process the answer is reused for :data:`REFRESH_S` seconds: what the
    host's administrator changes outside the workspace (no command can write there) reaches the view
    within that time. A walk (saved or in the process) older than :data:`MAX_AGE_S` is not trusted:
    everything is walked again. The directories are saved in ``cache_dir`` for the next process.
    """
    skip_key = tuple(sorted({str(p) for p in skip}))
    tops = tuple(t for t in walked_tops() if t not in skip_key)  # /tmp changes all the time: not ours
    with _lock:
        held = _memo.get(skip_key)
        now = time.time()
        if held is not None and time.monotonic() - held[2] < REFRESH_S:
            return held[0]
        if held is not None and now - held[3] < MAX_AGE_S:
            known, since = (held[1].known() if isinstance(held[1], _Saved) else held[1]), held[3]
        else:
            recent = _load_recent(cache_dir, skip_key, top_states(tops))
            if recent is not None:  # checked by another process moments ago
                _memo[skip_key] = (recent[0], {}, time.monotonic() - (now - recent[1]), 0.0)
                return recent[0]
            saved = _load(cache_dir, skip_key)
            since = saved.since
            if saved.fields and saved.tops == top_states(tops):
                answer = _replay(saved)
                if answer is not None:
                    _memo[skip_key] = (answer, saved, time.monotonic(), since)  # made into directories when refreshed
                    _save_recent(cache_dir, skip_key, saved.tops, answer, since)
                    return answer
            known = saved.known()
        if not known:
            since = now  # a walk from nothing: everything is looked at now
        states = top_states(tops)
        answer, dirs = private_entries(tops, map(Path, skip_key), known=known)
        _memo[skip_key] = (answer, dirs, time.monotonic(), since)
        if not answer.unchecked:  # a walk that ran out is not kept for replay
            _save(cache_dir, skip_key, dirs, since, states, answer)
            _save_recent(cache_dir, skip_key, states, answer, since)
        return answer


def _load_recent(cache_dir: Path | None, skip_key: tuple[str, ...], tops: Tops) -> tuple[Outside, float] | None:
    """The answer a process checked less than :data:`REFRESH_S` ago, with when, if the top-level
    directories are as they were then (the same trust a session gives its own answer)."""
    if cache_dir is None:
        return None
    try:
        fd = os.open(cache_dir / f"outside-{os.geteuid()}.recent", os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if st.st_uid != os.geteuid() or st.st_mode & 0o022:
            return None
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = json.loads(f.read(16 << 20))
        checked = float(data["checked"])
        saved_tops = {t: (tuple(v) if v is not None else None) for t, v in data["tops"].items()}
        if (
            data.get("format") != FORMAT
            or data.get("skip") != list(skip_key)
            or not 0 <= time.time() - checked < REFRESH_S
            or not 0 <= time.time() - float(data["since"]) < MAX_AGE_S
            or saved_tops != tops
        ):
            return None
        return Outside(tuple(Path(p) for p in data["answer"])), checked
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    finally:
        os.close(fd)


def _save_recent(
    cache_dir: Path | None, skip_key: tuple[str, ...], tops: Tops | None, answer: Outside, since: float
) -> None:
    if cache_dir is None or tops is None:
        return
    from codeward.fsutil import atomic_write_text

    body = {
        "format": FORMAT,
        "skip": list(skip_key),
        "checked": time.time(),
        "since": since,
        "tops": {t: (list(v) if v is not None else None) for t, v in tops.items()},
        "answer": [os.fsdecode(p) for p in answer.private],
    }
    try:
        cache_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        atomic_write_text(cache_dir / f"outside-{os.geteuid()}.recent", json.dumps(body), mode=0o600)
    except OSError:
        pass


def _replay(saved: _Saved) -> Outside | None:
    """The saved walk's answer when no directory of it changed, else None: one ``lstat`` per
    directory, compared with the signatures saved with the walk (no listing, no objects made).
    The caller has checked the top-level directories; a walk with a directory listed in the same
    tick as its change is not replayed."""
    if saved.racy or saved.answer is None or saved.sigs is None:
        return None
    try:
        stats = list(map(os.lstat, saved.fields[0::4]))
    except OSError:
        return None
    devs, inos, ctimes = saved.sigs
    if (
        [st.st_ctime_ns for st in stats] != ctimes
        or [st.st_ino for st in stats] != inos
        or [st.st_dev for st in stats] != devs
    ):
        return None
    return saved.answer


def _cache_file(cache_dir: Path) -> Path:
    return cache_dir / f"outside-{os.geteuid()}.walk"


@dataclass
class _Saved:
    """A saved walk as read: its records' fields, made into directories only when walked from."""

    fields: list[str] = field(default_factory=list)
    since: float = 0.0
    tops: Tops | None = None
    sigs: tuple[list[int], list[int], list[int]] | None = None  # devices, inodes, ctimes, in order
    racy: bool = True
    answer: Outside | None = None

    def known(self) -> dict[str, _Dir]:
        out: dict[str, _Dir] = {}
        f = self.fields
        for i in range(0, len(f) - 3, 4):
            dev, ino, ctime, racy, whole = f[i + 1].split(" ")
            out[f[i]] = _Dir(
                (int(dev), int(ino), int(ctime)),
                f[i + 2].split("/") if f[i + 2] else [],
                f[i + 3].split("/") if f[i + 3] else [],
                racy == "1",
                whole == "1",
            )
        return out


def _load(cache_dir: Path | None, skip_key: tuple[str, ...]) -> _Saved:
    """The saved walk, when it was walked from nothing less than :data:`MAX_AGE_S` ago; nothing
    when the file is missing, old, foreign, writable by others or malformed.

    Format: a JSON header line (format, skip list, time, top-level states), then NUL-separated
    fields, four per directory: path, ``dev ino ctime racy whole``, private names and public
    subdirectory names (each joined with ``/``, which no name contains)."""
    if cache_dir is None:
        return _Saved()
    try:
        fd = os.open(_cache_file(cache_dir), os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return _Saved()
    try:
        st = os.fstat(fd)
        if st.st_uid != os.geteuid() or st.st_mode & 0o022:
            return _Saved()
        with os.fdopen(fd, "rb", closefd=False) as f:
            head = json.loads(f.readline(1 << 20))
            body = f.read()
        since = float(head["since"])
        if (
            head.get("format") != FORMAT
            or head.get("skip") != list(skip_key)
            or not 0 <= time.time() - since < MAX_AGE_S
        ):
            return _Saved()
        tops: Tops = {t: (tuple(v) if v is not None else None) for t, v in head["tops"].items()}
        fields = body.decode("utf-8", "surrogateescape").split("\0") if body else []
        if len(fields) % 4 != 1 or fields[-1] != "":
            return _Saved()
        answer = Outside(tuple(Path(p) for p in head["answer"]))
        devs, inos, ctimes = head["sigs"]
        if not len(devs) == len(inos) == len(ctimes) == (len(fields) - 1) // 4:
            return _Saved()
        sigs = ([int(x) for x in devs], [int(x) for x in inos], [int(x) for x in ctimes])
        return _Saved(fields[:-1], since, tops, sigs, bool(head["racy"]), answer)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return _Saved()
    finally:
        os.close(fd)


def _save(
    cache_dir: Path | None,
    skip_key: tuple[str, ...],
    dirs: dict[str, _Dir],
    since: float,
    tops: Tops,
    answer: Outside,
) -> None:
    if cache_dir is None:
        return
    from codeward.fsutil import atomic_write_bytes

    head = {
        "format": FORMAT,
        "skip": list(skip_key),
        "since": since,
        "tops": {t: (list(v) if v is not None else None) for t, v in tops.items()},
        "sigs": [[e.sig[i] for e in dirs.values()] for i in range(3)],
        "racy": any(e.racy for e in dirs.values()),
        "answer": [os.fsdecode(p) for p in answer.private],
    }
    parts: list[str] = []
    for d, e in dirs.items():
        dev, ino, ctime = e.sig
        parts += (d, f"{dev} {ino} {ctime} {int(e.racy)} {int(e.whole)}", "/".join(e.private), "/".join(e.subdirs))
    body = "".join(p + "\0" for p in parts).encode("utf-8", "surrogateescape")
    try:
        cache_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        atomic_write_bytes(_cache_file(cache_dir), json.dumps(head).encode() + b"\n" + body, mode=0o600)
    except OSError:
        pass  # a cache: the next process walks again
