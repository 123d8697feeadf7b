"""The directory index saved across processes, under the codeward home's ``cache/``.

Each ``codeward sandbox`` or ``exec`` is a new process; without a saved index every one of them
would list (and classify) the whole tree again. The file is an optimisation, never an authority:

* it is bound to one workspace (its path, device and inode) and to the watched names;
* it is authenticated with an HMAC under a random key kept next to it (0600), so a file planted or
  edited by anything that does not hold the key (another tool, a copied home, a corrupt write) is
  ignored, not trusted;
* even an intact file is trusted only per directory, where the directory's signature
  ``(dev, inode, ctime_ns)`` still matches (:meth:`codeward.dirindex.DirIndex.refresh`), and only
  under the ignore rules' key it was classified with.

Anything wrong with it (unreadable, malformed, another format) means starting from nothing, which
costs time, never protection. Writes are atomic (temp file and rename) with mode 0600.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import stat
import tempfile
from pathlib import Path
from typing import Any

from codeward.dirindex import Dir, DirIndex

FORMAT = 2  # 2: a bare repository needs no config file (red team rt8)
KEY_FILE = "view-index.key"


def cache_file(root: Path, cache_dir: Path) -> Path:
    """Where the index of ``root`` is kept (one file per workspace path)."""
    return cache_dir / f"view-{hashlib.sha256(os.fsencode(root)).hexdigest()[:32]}.json"


def load(root: Path, names: frozenset[str], cache_dir: Path) -> DirIndex | None:
    """The saved index of ``root``, or None when there is none or it cannot be trusted."""
    try:
        key = cache_key(cache_dir, create=False)
        if key is None:
            return None
        raw = read_private(cache_file(root, cache_dir))
        mac, _, body = raw.partition(b"\n")
        if not hmac.compare_digest(mac, hmac.new(key, body, hashlib.sha256).hexdigest().encode()):
            return None
        doc = json.loads(body)
        return _decode(doc, root, names)
    except Exception:  # any failure means starting cold: the file is an optimisation, never an authority
        return None


def save(index: DirIndex, cache_dir: Path) -> None:
    """Write ``index`` for the next process, when it changed since it was loaded or last saved.

    A home that cannot be written (read-only, full disk) only means the next process starts cold.
    """
    with index.lock:
        if index.saved_generation == index.generation:
            return
        try:
            root_st = os.stat(index.root)
        except OSError:
            return
        doc = {
            "format": FORMAT,
            "root": os.fsdecode(index.root),
            "root_id": [root_st.st_dev, root_st.st_ino],
            "names": sorted(index.names),
            "key": index.key,
            "dirs": {_rel(index.root, d): _encode(e) for d, e in index.dirs.items()},
        }
        generation = index.generation
    body = json.dumps(doc, separators=(",", ":")).encode()
    with contextlib.suppress(OSError):
        cache_dir.mkdir(exist_ok=True, mode=0o700)  # in an existing home only: saving never creates one
        key = cache_key(cache_dir, create=True)
        if key is None:
            return
        mac = hmac.new(key, body, hashlib.sha256).hexdigest().encode()
        write_private(cache_file(index.root, cache_dir), mac + b"\n" + body)
        index.saved_generation = generation


def ensure_key(cache_dir: Path) -> bool:
    """Create the cache directory (0700) and its key now, before any command of the run: a key made
    only when the first index is saved would be made after that command's view was computed, where
    nothing hid it yet. True when the key exists afterwards."""
    try:
        cache_dir.mkdir(exist_ok=True, mode=0o700)
        return cache_key(cache_dir, create=True) is not None
    except OSError:
        return False


def _rel(root: Path, d: str) -> str:
    return d[len(str(root)) + 1 :] if d != str(root) else ""


def _encode(e: Dir) -> list[Any]:
    return [
        list(e.sig),
        e.racy,
        e.unreadable,
        sorted(e.watched_dirs),
        sorted(e.watched_files),
        [os.path.basename(s) for s in e.subdirs],
        e.bare,
        None if e.hidden is None else [list(e.hidden[0]), list(e.hidden[1])],
    ]


_EMPTY: frozenset[str] = frozenset()


def _names(v: Any) -> tuple[str, ...]:
    """A list of plain entry names (no separator, not ``.``/``..``): anything else is not ours."""
    if type(v) is not list:
        raise ValueError("bad name list")
    for n in v:
        if type(n) is not str or not n or "/" in n or n == "." or n == "..":
            raise ValueError("bad name")
    return tuple(v)


def _watched(v: Any, names: frozenset[str]) -> frozenset[str]:
    return frozenset(_names(v)) & names if v else _EMPTY


def _decode(doc: Any, root: Path, names: frozenset[str]) -> DirIndex | None:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("root") != os.fsdecode(root):
        return None
    st = os.stat(root)
    if doc.get("root_id") != [st.st_dev, st.st_ino] or frozenset(_names(doc.get("names"))) != names:
        return None
    key = doc.get("key")
    if key is not None and not isinstance(key, str):
        return None
    dirs: dict[str, Dir] = {}
    base = str(root)
    for rel, v in doc["dirs"].items():
        if not isinstance(rel, str) or (rel and any(p in ("", ".", "..") for p in rel.split("/"))):
            return None
        d = f"{base}/{rel}" if rel else base
        sig, racy, unreadable, wdirs, wfiles, subdirs, bare, hidden = v
        if type(sig) is not list or len(sig) != 3 or not (type(sig[0]) is type(sig[1]) is type(sig[2]) is int):
            return None
        if not (type(racy) is type(unreadable) is type(bare) is bool):
            return None
        h = None if hidden is None else (_names(hidden[0]), _names(hidden[1]))
        dirs[d] = Dir(
            (sig[0], sig[1], sig[2]),
            racy=racy,
            unreadable=unreadable,
            watched_dirs=_watched(wdirs, names),
            watched_files=_watched(wfiles, names),
            subdirs=tuple([f"{d}/{n}" for n in _names(subdirs)]),
            bare=bare,
            hidden=h,
        )
    index = DirIndex(root, names, dirs, key=key)
    index.saved_generation = index.generation
    return index


def cache_key(cache_dir: Path, *, create: bool) -> bytes | None:
    path = cache_dir / KEY_FILE
    try:
        key = read_private(path)
    except FileNotFoundError:
        if not create:
            return None
        key = secrets.token_bytes(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            return read_private(path) or None  # another process made it first
        with os.fdopen(fd, "wb") as f:
            f.write(key)
    return key if len(key) == 32 else None


def read_private(path: Path) -> bytes:
    """A regular file of ours that no one else can write; anything else is not ours to trust."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise OSError("not a regular file")
        if st.st_uid != os.geteuid() or st.st_mode & 0o077:
            raise OSError("not a private file")
        return f.read()


def write_private(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
