"""The secret values in a repository's git history, learned so that no command can read them out of ``.git``.

The sandbox hides ignored files and redacts the workspace's secrets, but ``.git`` holds every
version of every file ever committed (and every blob ever staged): ``git show HEAD~3:.env``,
``git cat-file -p <blob>`` or ``git log -p --text`` print them, raw, and a pipe can transform them
(``| rev``). Attributes given to the sandbox's git (:mod:`codeward.sandbox.gitview`) keep an honest
``git log -p`` from printing ignored paths, and under bubblewrap commands read an object-store view
without the blobs that hold secrets (:mod:`codeward.privacy.history_view`); but the Landlock tier
has no view and a command there reads blobs directly, so the values themselves must be known to the
redactor before any command output leaves (:mod:`codeward.privacy.known` then finds them in their
encodings).

:class:`codeward.privacy.history_secrets.HistorySecrets` (in stages, see there) therefore scans every blob in the object store once (and every commit
and tag, whose messages ``git log`` prints): every object ``cat-file --batch-all-objects`` lists (reachable from any ref, a reflog or the index, or
dangling: a command can list those too, with ``git fsck``), each with the path it was committed
under where one exists (path rules need it). Blobs are immutable, so the ids of those that held no
finding are cached in the codeward home's ``cache/`` (ids only: never a value, never which blobs hold
secrets) under the rule set that judged them, beside a map of every blob's path; blobs with
findings are read again every session to learn their values afresh. A later refresh rescans only
when the object store changed (a stat of its directories) and then only the new blobs.

This module holds the parts: listing the store, the paths, :func:`scan_blobs` and the caches.
:func:`codeward.privacy.history_report.history_findings` is the same scan for ``codeward doctor``
(under a time budget): rule ids, paths and the commits that introduced each secret, never the values.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_BLOB = 8 << 20
MESSAGES = ("commit", "tag")
"""Objects whose text (a commit or tag message) ``git log`` prints: scanned like blobs."""
BINARY_SNIFF = 8192
TIMEOUT_S = 600
PROGRESS_EVERY = 256


class HistoryError(Exception):
    """git could not list or read the object store."""


def run_git(root: Path, args: list[str], *, data: bytes | None = None, env: dict[str, str] | None = None) -> bytes:
    from codeward.hostgit import git_command

    argv, env = git_command(args, root, drivers=False, env=env)
    try:
        p = subprocess.run(argv, cwd=root, env=env, input=data, capture_output=True, timeout=TIMEOUT_S, check=False)
    except FileNotFoundError:
        raise HistoryError("git is not installed") from None
    except (OSError, subprocess.TimeoutExpired) as e:
        raise HistoryError(f"git {args[0]}: {e}") from None
    if p.returncode != 0:
        lines = p.stderr.decode("utf-8", "replace").strip().splitlines()
        raise HistoryError(f"git {args[0]}: {lines[-1] if lines else f'exit {p.returncode}'}")
    return p.stdout


def is_repository(root: Path) -> bool:
    """A ``.git`` directory or pointer file at the workspace root (a nested repo's history is its own)."""
    return (root / ".git").exists()


def objects_dir(root: Path) -> Path:
    """The object store of the repository at ``root`` (a worktree's is the main checkout's)."""
    out = run_git(root, ["rev-parse", "--git-path", "objects"]).decode("utf-8", "surrogateescape").strip()
    p = Path(out)
    return p if p.is_absolute() else (root / p)


def store_stamp(objects: Path) -> tuple[int, ...]:
    """Changes whenever an object is added: the mtimes of the pack directory and the loose fan-out.

    Runs twice per sandboxed command: the 258 names are made once per store (as strings: building
    them as paths each time cost more than the ``stat`` calls)."""
    out: list[int] = []
    for d in _stamp_dirs(str(objects)):
        try:
            out.append(os.stat(d).st_mtime_ns)
        except OSError:
            out.append(0)
    return tuple(out)


@functools.lru_cache(maxsize=16)
def _stamp_dirs(objects: str) -> tuple[str, ...]:
    return (f"{objects}/pack", objects, *(f"{objects}/{i:02x}" for i in range(256)))


def list_blobs(root: Path, kinds: tuple[str, ...] = ("blob",)) -> dict[str, int]:
    """id -> size of every object of ``kinds`` in the store (loose, packed or through alternates)."""
    out = run_git(
        root,
        ["cat-file", "--batch-all-objects", "--unordered", "--batch-check=%(objectname) %(objecttype) %(objectsize)"],
    )
    blobs: dict[str, int] = {}
    for line in out.split(b"\n"):
        parts = line.split(b" ")
        if len(parts) == 3 and parts[1].decode("ascii", "replace") in kinds:
            blobs[parts[0].decode("ascii")] = int(parts[2])
    return blobs


def blob_paths(root: Path) -> dict[str, str]:
    """id -> the first path a blob was committed (or staged) under, over every ref, reflog and the index."""
    # a partial clone (--filter=blob:none) or a damaged store lacks objects: list what is there (what
    # is missing cannot be read inside the sandbox either; protocol.allow=never stops lazy fetches)
    missing = "--missing=allow-any"
    try:
        out = run_git(root, ["rev-list", missing, "--objects", "--all", "--reflog", "--indexed-objects"])
    except HistoryError:
        out = run_git(root, ["rev-list", missing, "--objects", "--all"])  # an empty repository has no reflog
    paths: dict[str, str] = {}
    for line in out.split(b"\n"):
        oid, sep, path = line.partition(b" ")
        if sep and path:
            paths.setdefault(oid.decode("ascii"), path.decode("utf-8", "surrogateescape"))
    return paths


def read_blobs(
    root: Path, oids: Iterable[str], stop: threading.Event | None = None, mismatched: list[str] | None = None
) -> Iterator[tuple[str, bytes]]:
    """(id, content) for each object whose content has that id, streamed from one ``cat-file --batch``.

    An object whose content does not hash to its id is left out, like a missing one: git checks
    ids only when it writes, and while a Landlock command runs ``.git/objects`` is a forged store
    holding placeholders under the secret blobs' own ids (:mod:`codeward.sandbox.landlock_store`).
    Judged as clean, a placeholder would vouch for the real blob in the shared cache (red team
    rt21). Callers treat an id left out as not judged: hidden now, read again later; such ids are
    added to ``mismatched`` when given.
    """
    from codeward.hostgit import git_command

    ids = list(oids)
    if not ids:
        return
    argv, env = git_command(["cat-file", "--batch"], root, drivers=False)
    proc = subprocess.Popen(
        argv, cwd=root, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert proc.stdin is not None and proc.stdout is not None

    def feed() -> None:
        try:
            for oid in ids:
                proc.stdin.write(oid.encode("ascii") + b"\n")  # type: ignore[union-attr]
            proc.stdin.close()  # type: ignore[union-attr]
        except OSError:
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        for _ in ids:
            if stop is not None and stop.is_set():
                return
            header = proc.stdout.readline()
            parts = header.split()
            if len(parts) != 3:
                continue  # "<id> missing": nothing to read
            size = int(parts[2])
            data = proc.stdout.read(size)
            proc.stdout.read(1)
            oid = parts[0].decode("ascii")
            if object_id(parts[1], data, len(oid)) == oid:
                yield oid, data
            elif mismatched is not None:
                mismatched.append(oid)
    finally:
        proc.kill()
        proc.wait()
        writer.join(1)


def object_id(kind: bytes, data: bytes, hexlen: int) -> str:
    """The id git gives an object of ``kind`` with content ``data`` (SHA-1, or SHA-256 when ``hexlen`` is 64)."""
    return (hashlib.sha256 if hexlen == 64 else hashlib.sha1)(kind + b" %d\0" % len(data) + data).hexdigest()


def paths_for(root: Path, wanted: Iterable[str], cache_dir: Path | None) -> dict[str, str]:
    """id -> path (``""`` for a blob no commit, reflog or the index holds) covering ``wanted``.

    The map is kept in the home's ``cache/`` per repository (ids and file names only, of every
    blob alike): walking a long history for the paths costs seconds, so the walk is redone only
    when a wanted blob is not in the map, or had no path and the store changed since (it may have
    been committed under a hidden path since)."""
    name = hashlib.sha256(str(root.resolve()).encode("utf-8", "surrogateescape")).hexdigest()[:24]
    cache = cache_dir / f"history-paths-{name}.json" if cache_dir is not None else None
    stamp = hashlib.sha256(repr(store_stamp(cached_objects_dir(root))).encode()).hexdigest()
    known: dict[str, str] = {}
    old_stamp = ""
    if cache is not None:
        try:
            data = json.loads(cache.read_text(encoding="utf-8", errors="surrogateescape"))
            known, old_stamp = data["paths"], data["stamp"]
        except (OSError, ValueError, KeyError, TypeError):
            known = {}
    want = list(wanted)
    if all(known.get(o) or (o in known and old_stamp == stamp) for o in want):
        return known
    fresh: dict[str, str] = blob_paths(root)
    for o in want:
        fresh.setdefault(o, "")
    if cache is not None:
        data = json.dumps({"stamp": stamp, "paths": fresh}, ensure_ascii=False)
        _write_private(cache, data.encode("utf-8", "surrogateescape"))
    return fresh


def _text(data: bytes) -> str | None:
    """The blob as text, or None when it is binary."""
    if b"\0" in data[:BINARY_SNIFF]:
        return None
    return data.decode("utf-8", "replace")


@dataclass
class BlobScan:
    """What one pass over the object store found."""

    values: list[tuple[str, str]] = field(default_factory=list)
    """(value, rule id) of every finding (for the redactor only: never printed or stored)."""
    secret_blobs: dict[str, list[str]] = field(default_factory=dict)
    """blob id -> the rule ids of its findings."""
    clean: set[str] = field(default_factory=set)
    paths: dict[str, str] = field(default_factory=dict)
    scanned: int = 0
    skipped: int = 0
    """Binary blobs and blobs over :data:`MAX_BLOB` (not scanned)."""
    unfinished: int = 0
    """Objects left unread because the scan was stopped or ran out of time."""


def foreign_message(data: bytes) -> tuple[str, str | None] | None:
    """For a commit or tag whose ``encoding`` header names another encoding than UTF-8: that
    encoding and its message as ``git log`` shows it (re-encoded: ``+AF8-`` in UTF-7 is ``_``), or
    None for the message when Python has no such codec. None for any other object."""
    import codecs

    if not data.startswith((b"tree ", b"object ")):
        return None
    head, _sep, body = data.partition(b"\n\n")
    encoding = next((ln[9:].strip() for ln in head.split(b"\n") if ln.startswith(b"encoding ")), b"")
    name = encoding.decode("ascii", "replace")
    if not encoding or name.lower() in ("utf-8", "utf8"):
        return None
    try:
        return name, codecs.decode(body, codecs.lookup(name).name, errors="replace")
    except (LookupError, ValueError):
        return name, None


def judge_blob(data: bytes, scanner: Any, path: str | None) -> tuple[list[tuple[str, str]], list[str]]:
    """The secrets in one blob as ``(value, rule)`` pairs and the rule ids; both empty: clean.

    Text is scanned as it is; a binary blob (an archive, UTF-16 text, a database) on what the
    working tree's binaries are scanned on, its strings and what it unpacks to (red team rt6: a
    committed ``.gz`` counted as clean and was served raw by the object view). One that cannot be
    read in full counts as holding a secret (rule ``unscannable``), never as clean."""
    text = _text(data)
    foreign = foreign_message(data)
    if foreign is not None and foreign[1] is None:
        return [], ["unscannable"]  # a message in an encoding this cannot decode
    if text is not None:
        texts = [text] if foreign is None or foreign[1] is None else [text, foreign[1]]
    else:
        from codeward.privacy.contents import contents

        unpacked = contents(data)
        if unpacked.unscannable:
            return [], ["unscannable"]
        texts = [t for t in unpacked.texts if t]
    values: list[tuple[str, str]] = []
    rules: list[str] = []
    for t in texts:
        for f in scanner.scan(t, path=path):
            values.append((t[f.start : f.end], f.rule_id))
            rules.append(f.rule_id)
    return values, rules


def scan_blobs(
    root: Path,
    scanner: Any,
    blobs: dict[str, int],
    *,
    known_clean: set[str] | frozenset[str] = frozenset(),
    stop: threading.Event | None = None,
    cache_dir: Path | None = None,
    pathless: frozenset[str] | set[str] = frozenset(),
    paths: dict[str, str] | None = None,
    deadline: float | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    workers: int = 1,
) -> BlobScan:
    """Scan every object of ``blobs`` not in ``known_clean``; paths are looked up only when there is
    work (unless given as ``paths``), and never for ``pathless`` ones (commit and tag messages).

    ``deadline`` (a :func:`time.monotonic` value) and ``stop`` end the scan early; what was not read
    is counted in :attr:`BlobScan.unfinished` and is neither clean nor known. ``workers`` above 1
    forks that many scanners where that is safe (:mod:`codeward.privacy.history_pool`)."""
    result = BlobScan()
    todo = [o for o, size in blobs.items() if o not in known_clean and 0 < size <= MAX_BLOB]
    result.skipped = sum(1 for size in blobs.values() if size > MAX_BLOB)
    if not todo:
        return result
    result.paths = paths if paths is not None else paths_for(root, [o for o in todo if o not in pathless], cache_dir)
    done = 0
    ended = threading.Event() if stop is None else stop
    if workers > 1:
        from codeward.privacy.history_pool import can_fork, scan_forked

        if can_fork(len(todo)):
            for values, secret, clean, scanned, skipped, n in scan_forked(
                root,
                scanner,
                todo,
                result.paths,
                read_blobs,
                judge_blob,
                deadline=deadline,
                stop=ended,
                on_progress=on_progress,
            ):
                result.values += values
                result.secret_blobs.update(secret)
                result.clean |= clean
                result.scanned += scanned
                result.skipped += skipped
                done += n
            result.unfinished = len(todo) - done if ended.is_set() else 0
            return result
    for oid, data in read_blobs(root, todo, ended):
        done += 1
        if on_progress is not None and done % PROGRESS_EVERY == 0:
            on_progress(done, len(todo))
        if deadline is not None and time.monotonic() > deadline:
            ended.set()  # read_blobs stops at its next object
        result.scanned += 1
        found, rules = judge_blob(data, scanner, result.paths.get(oid) or None)
        if not rules:
            result.clean.add(oid)
            continue
        result.secret_blobs[oid] = rules
        result.values.extend(found)
    result.unfinished = len(todo) - done if ended.is_set() else 0  # (a missing object is not read either)
    if on_progress is not None:
        on_progress(done, len(todo))
    return result


def clean_cache_file(cache_dir: Path | None, root: Path, scanner: Any) -> Path | None:
    """One file of clean blob ids per repository and rule set (other rules may find what these did not)."""
    if cache_dir is None:
        return None
    from codeward import __version__

    # v2: binary blobs are judged on their contents (v1 called every blob with a NUL byte clean);
    # v3: a message in a declared encoding is judged as git shows it, streams at any offset and
    # text's encoded compressed blobs are read (v2 judged stored bytes and missed them)
    h = hashlib.sha256(f"history\0v3\0{__version__}\0{root.resolve()}".encode("utf-8", "surrogateescape"))
    for r in getattr(getattr(scanner, "ruleset", None), "rules", ()):
        h.update(f"\0{r.id}\0{r.regex_source}\0{r.origin}\0{r.keywords}\0{len(r.allowlists)}".encode())
    h.update(repr(getattr(scanner, "allowlist", ())).encode())
    h.update(repr(getattr(scanner, "redact_pii", False)).encode())
    return cache_dir / f"history-{h.hexdigest()[:24]}.ids"


def load_clean(path: Path | None) -> set[str]:
    if path is None:
        return set()
    try:
        data = path.read_bytes()
    except OSError:
        return set()
    return {line for line in data.decode("ascii", "replace").split("\n") if len(line) in (40, 64)}


def save_clean(path: Path | None, clean: set[str]) -> None:
    """The clean blob ids (a cache only saves time, so failures are ignored)."""
    if path is not None:
        _write_private(path, "\n".join(sorted(clean)).encode("ascii"))


def _write_private(path: Path, data: bytes) -> None:
    """Atomically, 0600 in a 0700 directory; failures are ignored (callers only cache)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError:
        pass


_paths_cache: dict[Path, tuple[tuple[int, ...], frozenset[str]]] = {}
_hidden_cache: dict[Path, tuple[frozenset[str], Any, tuple[str, ...]]] = {}
_paths_lock = threading.RLock()  # history_paths -> paths_for -> cached_objects_dir
_objects_dirs: dict[Path, Path] = {}


def history_paths(root: Path, cache_dir: Path | None = None) -> frozenset[str]:
    """The path of every blob in the store (the first a walk of every ref, reflog and the index
    meets it under), cached until the store changes (and on disk, see :func:`paths_for`).

    A path all of whose versions were first met under another path is not listed: its content is
    then readable under that other path anyway, so the attributes built from this list hide no less."""
    stamp = store_stamp(cached_objects_dir(root))
    with _paths_lock:
        hit = _paths_cache.get(root)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        paths = frozenset(paths_for(root, list_blobs(root), cache_dir).values()) - {""}
        _paths_cache[root] = (stamp, paths)
        return paths


def cached_objects_dir(root: Path) -> Path:
    """:func:`objects_dir`, asked of git once per repository and process (it runs per command)."""
    with _paths_lock:
        objects = _objects_dirs.get(root)
        if objects is None:
            objects = _objects_dirs[root] = objects_dir(root)
        return objects


def hidden_history_paths(root: Path, ignore: Any, cache_dir: Path | None = None) -> tuple[str, ...]:
    """The paths in the history that ``ignore`` hides (for the sandbox's git attributes).

    Empty outside a repository and when git fails: the attributes are a courtesy to honest
    commands; the history's secret *values* are kept off the wire by :class:`HistorySecrets`."""
    if not is_repository(root):
        return ()
    try:
        paths = history_paths(root, cache_dir)
    except HistoryError:
        return ()
    hit = _hidden_cache.get(root)
    if hit is not None and hit[0] is paths and hit[1] is ignore:
        return hit[2]
    hidden = tuple(sorted(p for p in paths if ignore.match(p, is_dir=False) is not None))
    _hidden_cache[root] = (paths, ignore, hidden)
    return hidden


def snapshot_blobs(root: Path) -> dict[str, str]:
    """id -> path of every file blob of HEAD's tree and of the index: the content the working tree
    has (give or take uncommitted edits), which the staged object-store view shows first."""
    out: dict[str, str] = {}
    try:
        tree = run_git(root, ["ls-tree", "-r", "-z", "--full-tree", "HEAD"])
    except HistoryError:
        tree = b""  # no commit yet
    for rec in tree.split(b"\0"):
        meta, _, path = rec.partition(b"\t")
        parts = meta.split()
        if len(parts) == 3 and parts[1] == b"blob":
            out.setdefault(parts[2].decode("ascii"), path.decode("utf-8", "surrogateescape"))
    for rec in run_git(root, ["ls-files", "-s", "-z"]).split(b"\0"):
        meta, _, path = rec.partition(b"\t")
        parts = meta.split()
        if len(parts) == 3 and parts[0] != b"160000":  # a gitlink names a commit of another repository
            out.setdefault(parts[1].decode("ascii"), path.decode("utf-8", "surrogateescape"))
    return out
