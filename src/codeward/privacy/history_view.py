"""The object store the sandbox's git sees: every object of ``.git``, except the blobs that hold a
secret or that a hidden path ever held, which are replaced.

Attributes keep an honest ``git log -p`` from printing a hidden path, and the redactor knows the
history's secret values; but a command reads blobs raw (``git show REV:path``, ``cat-file``,
``archive``, ``bundle``) and can compress them (``git archive --format=tar.gz | base64``) past any
matching. So under bubblewrap the workspace's ``.git/objects`` is replaced by a *view*: a pack of
every object except the excluded blobs (:func:`build_view`), and ``.git/refs/replace`` by one
replace ref per excluded blob, pointing to a placeholder blob (the file's text with each secret
replaced by a placeholder, or a one-line note for a hidden path). git follows replace refs for every read, so
``git log -p`` and ``git show`` print the placeholders; a command that turns them off
(``--no-replace-objects``) finds the object missing. The real objects are not in the sandbox at all.

While the session's background scan (:mod:`codeward.privacy.history_secrets`) has not judged every
object, the view is *staged*: every tree, the commits and tags whose messages were judged, and only
HEAD's and the index's blobs; the other blobs are absent until the scan completes, so no command
reads a blob nobody scanned, and a request need not wait minutes for a large history. Without a
session scan (``codeward sandbox``) the view is built in full in the foreground, as before.

Costs: one ``pack-objects`` over the whole store (no delta search) whenever the store changes, a
copy of it on disk for the session, and git ignores the commit-graph while replace refs exist (a
history walk in the sandbox is slower on a large repository). Only a repository whose ``.git`` is a
directory at the workspace root gets a view (a worktree's objects live in the main checkout).
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import shutil
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeward.gitfiles import linked_store
from codeward.privacy.history import (
    MAX_BLOB,
    HistoryError,
    cached_objects_dir,
    clean_cache_file,
    is_repository,
    judge_blob,
    list_blobs,
    load_clean,
    paths_for,
    read_blobs,
    run_git,
    save_clean,
    snapshot_blobs,
    store_stamp,
)
from codeward.privacy.history_messages import placeholder, redacted_messages
from codeward.privacy.history_secrets import HistorySecrets, running_for
from codeward.scratch import process_dir

GRACE_S = 2.0
"""How long a session's first view waits for the history scan to finish before it is staged."""


@dataclass(frozen=True)
class ObjectView:
    """Directories to bind read-only over ``.git/objects`` and ``.git/refs/replace``."""

    objects: Path
    replace: Path
    excluded: int
    """Blobs replaced by a placeholder."""
    failure: str | None = None
    """Why the view is an empty store (the real one could not be filtered), else None."""
    note: str | None = None
    """For the model, when the view is staged (the history scan is not finished), else None."""


RACY_NS = 100_000_000
"""A store whose directories changed less than this before the stamp was taken is rebuilt next time:
file timestamps are coarse (a kernel tick), so a later write may leave them unchanged."""
_lock = threading.Lock()
_views: dict[Path, tuple[tuple[int, ...], Any, Any, ObjectView | None]] = {}
_dirs: dict[Path | None, Path] = {}
_built: dict[Path, list[Path]] = {}
_empties: dict[tuple[Path, Path | None], Path] = {}


def _private_dir(scratch: Path | None) -> Path:
    """This process's directory for views in ``scratch`` (default: the temporary directory)."""
    d = _dirs.get(scratch)
    if d is None or not d.is_dir():
        if scratch is not None:
            scratch.mkdir(parents=True, exist_ok=True, mode=0o700)
        d = _dirs[scratch] = process_dir("codeward-objects-", scratch)
        atexit.register(shutil.rmtree, d, True)
    return d


def has_view(root: Path) -> bool:
    """Whether commands under bubblewrap read a view of this repository's objects rather than the
    store itself (only a ``.git`` directory at the workspace root gets one)."""
    git_dir = root / ".git"
    return git_dir.is_dir() and not git_dir.is_symlink()


def object_view(
    root: Path, scanner: Any, ignore: Any, cache_dir: Path | None, *, prefix: str = "", scratch: Path | None = None
) -> ObjectView | None:
    """The view for the repository at ``root``, rebuilt when its object store changed or the
    session's history scan finished; None when no blob needs hiding (or ``root`` holds no ``.git``
    directory).

    While the session's background scan (:mod:`codeward.privacy.history_secrets`) has not judged
    every object, the view is *staged*: every commit, tag and tree, and only the blobs of HEAD and
    the index (see :func:`build_view`). Fails closed: when the store cannot be read, the scan
    failed or the view cannot be built, the view is an *empty* object store, so git inside the
    sandbox sees no object at all rather than the real ones.

    ``prefix``: where ``root`` lies in the workspace, for a nested repository or a submodule (its
    ``.git`` may then be a pointer file): the ignore rules judge its paths as ``prefix/path``.
    ``scratch``: where the view is made (default: the temporary directory). A place no command can
    write (the codeward home): under Landlock ``/tmp`` may be shared with commands, and one that could
    change the view could plant links that codeward, outside the sandbox, would follow (red team rt22)."""
    if not is_repository(root) or not (prefix or has_view(root)):
        return None
    with _lock:
        started = time.time_ns()
        try:
            stamp = store_stamp(cached_objects_dir(root))
        except HistoryError:
            stamp = ()
        hs = running_for(root, scanner, cache_dir)
        staged = False
        if hs is not None:
            hs.ready.wait()  # messages and the snapshot: seconds, and a command needs them
            if hs.error is None and not hs.complete.is_set():
                # a small history finishes in moments: the first view waits a little for it
                staged = not hs.complete.wait(GRACE_S if root not in _views else 0)
            if hs.error is not None:
                view = _empty_view(root, f"the git history scan failed: {type(hs.error).__name__}: {hs.error}", scratch)
                _views[root] = (stamp, scanner, ignore, view)
                return view
        hit = _views.get(root)
        same = hit is not None and hit[0] == stamp and hit[1] is scanner and hit[2] is ignore
        if same and hit is not None and hit[3] is not None and not _intact(hit[3]):
            same = False  # its directories are gone (a temporary directory emptied): made again
        if hit is not None and same and (hit[3] is None or (hit[3].note is not None) == staged):
            return hit[3]
        built: ObjectView | None
        try:
            built = build_view(root, scanner, ignore, cache_dir, hs, staged, prefix=prefix, scratch=scratch)
        except Exception as e:  # git, the disk or the scanner: fail closed, never the real store
            built = _empty_view(root, f"{type(e).__name__}: {e}", scratch)
        if any(m > started - RACY_NS for m in stamp):
            # the store changed within a timestamp tick of the stamp: a blob added after the listing
            # could leave the stamp as it is, and with no view (None) the real store would be bound
            # for it next time; such a stamp is not trusted (as git treats a racily clean index)
            stamp = (-1,)
        _views[root] = (stamp, scanner, ignore, built)
        return built


def _intact(view: ObjectView) -> bool:
    return view.objects.is_dir() and view.replace.is_dir()


def view_note(root: Path) -> str | None:
    """What the model is told about the view a command just got (a staged one), or None."""
    hit = _views.get(root)
    return hit[3].note if hit is not None and hit[3] is not None else None


def excluded_blobs(
    root: Path,
    scanner: Any,
    ignore: Any,
    cache_dir: Path | None,
    *,
    blobs: dict[str, int] | None = None,
    paths: dict[str, str] | None = None,
    known_clean: set[str] | frozenset[str] = frozenset(),
    prefix: str = "",
) -> dict[str, bytes]:
    """Blob id -> the placeholder content it is replaced by, for every blob that holds a finding, that
    a hidden path held, that no commit, reflog or the index holds, or that is too large to scan; ``blobs`` (default: the whole store) limits it
    to those, ``paths`` gives their paths, and ``known_clean`` are ids judged clean already; the
    ignore rules see each path below ``prefix`` (a nested repository's place in the workspace)."""
    blobs = list_blobs(root) if blobs is None else blobs
    paths = paths_for(root, blobs, cache_dir) if paths is None else paths
    out: dict[str, bytes] = {}
    for oid, path in paths.items():
        if path and oid in blobs and ignore.match(f"{prefix}/{path}" if prefix else path, is_dir=False) is not None:
            out[oid] = f"(codeward: the content of {path} is hidden: the ignore rules cover this path)\n".encode()
    for oid in blobs:
        if oid not in out and not paths.get(oid):
            # in no commit, reflog or the index (staged once and reset, a dropped stash): where it
            # belonged, and so whether the ignore rules hide it, is unknown (red team rt5)
            out[oid] = b"(codeward: this blob is in no commit, reflog or the index, so it is hidden)\n"
    for oid, size in blobs.items():
        if size > MAX_BLOB and oid not in out:
            out[oid] = b"(codeward: this blob is over 8 MiB and was not scanned for secrets, so it is hidden)\n"
    cache_file = clean_cache_file(cache_dir, root, scanner)
    clean = load_clean(cache_file) | set(known_clean)
    todo = [o for o, size in blobs.items() if o not in out and o not in clean and 0 < size <= MAX_BLOB]
    newly_clean: set[str] = set()
    for oid in todo:  # replaced unless judged below: one read_blobs leaves out was not checked (rt21)
        out[oid] = b"(codeward: this blob could not be read and checked for secrets, so it is hidden)\n"
    for oid, data in read_blobs(root, todo):
        del out[oid]
        if b"\0" in data[:8192]:
            # binary (an archive, UTF-16 text, a database): judged as the working tree's binaries are,
            # on its strings and what it unpacks to (red team rt6: a committed .gz was served raw)
            if judge_blob(data, scanner, paths.get(oid) or None)[1]:
                out[oid] = (
                    b"(codeward: this binary blob holds a secret or could not be read in full, so it is hidden)\n"
                )
            else:
                newly_clean.add(oid)
            continue
        text = data.decode("utf-8", "replace")
        found = scanner.scan(text, path=paths.get(oid) or None)
        if not found:
            newly_clean.add(oid)
            continue
        parts, last = [], 0
        for f in found:
            parts.append(text[last : f.start])
            parts.append(placeholder(f.rule_id, text[f.start : f.end]))
            last = f.end
        parts.append(text[last:])
        out[oid] = "".join(parts).encode("utf-8", "surrogateescape")
    if newly_clean:
        save_clean(cache_file, (clean & set(blobs)) | newly_clean)
    return out


def build_view(
    root: Path,
    scanner: Any,
    ignore: Any,
    cache_dir: Path | None,
    history: HistorySecrets | None = None,
    staged: bool = False,
    *,
    prefix: str = "",
    scratch: Path | None = None,
) -> ObjectView | None:
    """Pack every object but the excluded blobs into a new store, and write the replacements.

    ``staged``: pack every commit, tag and tree but, of the blobs, only HEAD's and the index's (the
    scan judged those first); the others are absent ("bad object", "missing blob") until the
    ``history`` scan is complete. Its verdicts (``history.clean``) are reused either way."""
    known = history.clean_ids() if history is not None else set()
    if not staged:
        excluded = excluded_blobs(root, scanner, ignore, cache_dir, known_clean=known, prefix=prefix)
        messages = redacted_messages(root, scanner, cache_dir, known_clean=known)
        if not excluded and not messages:
            return None
        listing = run_git(root, ["cat-file", "--batch-all-objects", "--unordered", "--batch-check=%(objectname)"])
        left_out = excluded.keys() | messages.keys()
        keep = b"\n".join(o for o in listing.split(b"\n") if o and o.decode("ascii") not in left_out) + b"\n"
        note = None
    else:
        assert history is not None
        listing = run_git(
            root,
            [
                "cat-file",
                "--batch-all-objects",
                "--unordered",
                "--batch-check=%(objectname) %(objecttype) %(objectsize)",
            ],
        )
        listed = [ln.split(b" ") for ln in listing.split(b"\n") if ln.count(b" ") == 2]
        every = {o.decode("ascii"): int(size) for o, kind, size in listed if kind == b"blob"}
        snapshot = {o: p for o, p in snapshot_blobs(root).items() if o in every}
        excluded = excluded_blobs(
            root,
            scanner,
            ignore,
            cache_dir,
            blobs={o: every[o] for o in snapshot},
            paths=snapshot,
            known_clean=known,
            prefix=prefix,
        )
        # trees, and the commits and tags whose messages the scan judged: one made since (on the
        # host) is left out until a full view, whose refresh scans it first
        judged = history.messages
        messages = redacted_messages(root, scanner, cache_dir, oids=dict.fromkeys(judged, 0), known_clean=known)
        kept = [
            oid
            for oid, kind, _ in listed
            if kind == b"tree"
            or (kind in (b"commit", b"tag") and oid.decode("ascii") in judged and oid.decode("ascii") not in messages)
        ]
        kept += [o.encode("ascii") for o in snapshot if o not in excluded]
        keep = b"\n".join(kept) + b"\n"
        p = history.progress()
        note = (
            f"the git history is still being scanned for secrets ({p.done} of {p.total} blobs): git here has "
            "every commit and tree but only the file versions of HEAD and the index; older ones are missing "
            '("bad object", "missing blob") and a later command will see them'
        )
    key = hashlib.sha256(str(root).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    tmp = Path(tempfile.mkdtemp(dir=_private_dir(scratch), prefix=f"{key}-"))
    objects = tmp / "objects"
    replace = tmp / "replace"
    (objects / "pack").mkdir(parents=True)
    (objects / "info").mkdir()
    replace.mkdir()
    # its temporary files go to the object directory: the view's, reading the real one as an
    # alternate, so that the user's .git is not touched (nor its stamp changed)
    real = cached_objects_dir(root)
    env = {"GIT_OBJECT_DIRECTORY": str(objects), "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(real)}
    run_git(root, ["pack-objects", "-q", "--window=0", str(objects / "pack" / "pack")], data=keep, env=env)
    for oid, content in excluded.items():
        new = _write_loose(objects, content, len(oid))
        (replace / oid).write_text(new + "\n")
    for oid, (kind, content) in messages.items():
        new = _write_loose(objects, content, len(oid), kind)
        (replace / oid).write_text(new + "\n")
    for d in (tmp, objects, replace):
        os.chmod(d, 0o755)
    # a command still running may have the previous view bound: keep it, drop the one before
    older = _built.setdefault(root, [])
    older.append(tmp)
    while len(older) > 2:
        shutil.rmtree(older.pop(0), ignore_errors=True)
    return ObjectView(objects, replace, len(excluded), note=note)


def _write_loose(objects: Path, content: bytes, hexlen: int, kind: bytes = b"blob") -> str:
    """Store ``content`` as a loose object of ``kind`` (SHA-1 or SHA-256 like the repository) and
    return its id."""
    data = kind + b" %d\0" % len(content) + content
    oid = (hashlib.sha256 if hexlen == 64 else hashlib.sha1)(data).hexdigest()
    d = objects / oid[:2]
    d.mkdir(exist_ok=True)
    (d / oid[2:]).write_bytes(zlib.compress(data))
    return oid


def _empty_view(root: Path, why: str, scratch: Path | None) -> ObjectView:
    """An object store with nothing in it: git inside fails ("bad object") instead of reading the real one."""
    base = _empties.get((root, scratch))
    if base is None or not base.is_dir():
        key = hashlib.sha256(str(root).encode("utf-8", "surrogateescape")).hexdigest()[:16]
        base = Path(tempfile.mkdtemp(dir=_private_dir(scratch), prefix=f"{key}-empty-"))  # never a name made before
        (base / "objects" / "pack").mkdir(parents=True)
        (base / "replace").mkdir()
        _empties[(root, scratch)] = base
    return ObjectView(base / "objects", base / "replace", 0, why)


@dataclass(frozen=True)
class NestedStore:
    """A nested repository's or submodule's view and where it goes."""

    view: ObjectView
    store: Path
    """the real object directory (a submodule's is the superproject's ``.git/modules/NAME/objects``)"""
    replace: Path | None
    """its ``refs/replace``, when placeholders can be bound there (None: a link, or an empty view)"""


def nested_stores(
    workspace: Path,
    repos: list[Path],
    masked: tuple[Path, ...],
    scanner: Any,
    ignore: Any,
    cache_dir: Path | None,
    scratch: Path | None = None,
) -> list[NestedStore]:
    """Every nested repository and submodule in ``repos`` with the object view the workspace's own
    repository gets (:func:`object_view`), wherever git says its store and ``refs/replace`` are. A
    repository inside a ``masked`` path is hidden whole already and gets none. Fails closed: a store
    whose view cannot be built, or that git cannot open as a repository (a broken pointer, a
    missing ``HEAD``), gets an empty view."""
    out: list[NestedStore] = []
    bound: set[Path] = set()
    if has_view(workspace):
        # the workspace's own store has its view already (a linked worktree inside it shares that
        # store: a second view over it, judged under the worktree's path, would replace the first)
        with contextlib.suppress(HistoryError):
            bound.add(cached_objects_dir(workspace).resolve())
    for repo in repos:
        if any(repo == m or m in repo.parents for m in masked):
            continue
        try:
            real = cached_objects_dir(repo)
        except HistoryError as e:
            store = _store_by_hand(repo)
            if store is not None and store.resolve() not in bound:
                bound.add(store.resolve())
                out.append(NestedStore(_empty_view(repo, f"git cannot open {repo}: {e}", scratch), store, None))
            continue
        common = real.parent
        store = linked_store(real, workspace)
        if store is None or store in bound:
            continue  # no store there to read, or one with its view already
        real = store
        bound.add(real)
        borrowed = _borrowed(real)
        if borrowed is not None:
            out.append(NestedStore(_empty_view(repo, borrowed, scratch), real, None))
            continue
        where = repo.relative_to(workspace).as_posix()
        view = object_view(repo, scanner, ignore, cache_dir, prefix=where, scratch=scratch)
        if view is None:
            continue  # no blob in it needs hiding
        replace = common / "refs" / "replace"  # the common directory's, as the store's
        if replace.is_symlink() or replace.parent.is_symlink():
            out.append(NestedStore(view, real, None))  # objects hidden; no placeholders
            continue
        with contextlib.suppress(OSError):
            replace.mkdir(mode=0o755, exist_ok=True)  # git ignores an empty one; bwrap needs a mount point
        out.append(NestedStore(view, real, replace if replace.is_dir() else None))
    return out


_borrow_checked: dict[Path, tuple[tuple[int, ...], str | None]] = {}


def _borrowed(store: Path) -> str | None:
    """Why objects read through a nested store might not be its own, else None: an alternates file
    (``git clone --shared``, or one a command wrote) or a link anywhere in it. Such a store gets an
    empty view. Its view would be judged under the nested repository's paths, while the objects
    could be the workspace's: red team rt23 pointed a clean nested repository at the workspace's
    store and committed the blob of an ignored ``.env`` as ``sub/notes.txt``, which no rule
    hides. The walk for links is redone only when the store's stamp changes (a link added to the
    store or a fan-out directory changes it)."""
    for name in ("alternates", "http-alternates"):
        if os.path.lexists(store / "info" / name):
            return f"{store}/info/{name} lends it objects from elsewhere, so it is hidden"
    try:
        stamp = store_stamp(store)
    except HistoryError:
        stamp = ()
    hit = _borrow_checked.get(store)
    if hit is not None and hit[0] == stamp and stamp:
        return hit[1]
    started = time.time_ns()
    why: str | None = None
    for d, dirs, files in os.walk(store):
        link = next((n for n in (*dirs, *files) if os.path.islink(os.path.join(d, n))), None)
        if link is not None:
            why = f"{os.path.join(d, link)} is a link, so the store is hidden"
            break
    if not any(m > started - RACY_NS for m in stamp):  # a stamp within a tick of the walk is not trusted
        _borrow_checked[store] = (stamp, why)
    return why


def _store_by_hand(repo: Path) -> Path | None:
    """The object directory a ``.git`` directory or ``gitdir:`` pointer names, read without git
    (which refused it): its blobs are files a command could still inflate by hand."""
    dot = repo / ".git"
    git_dir = dot
    if dot.is_file() and not dot.is_symlink():
        try:
            line = dot.read_text(encoding="utf-8", errors="surrogateescape").splitlines()[0]
        except (OSError, IndexError):
            return None
        if not line.startswith("gitdir:"):
            return None
        target = Path(line[len("gitdir:") :].strip())
        git_dir = target if target.is_absolute() else repo / target
    store = git_dir / "objects"
    return store if store.is_dir() and not store.is_symlink() else None
