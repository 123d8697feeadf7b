"""Landlock tier: the repository's object store is out of the tree while a command runs; a view stands in.

bubblewrap binds the object-store view (:class:`~codeward.sandbox.spec.GitView`) over
``.git/objects`` and its replace refs over ``.git/refs/replace``. Landlock cannot bind, and cannot
deny a path inside the workspace it grants, so the real store would be readable: ``git show
REV:.env | cut -c3-`` or a pack inflated by hand carries an old secret past any output matching.
Instead the store is *held* like an ignored file (:mod:`codeward.sandbox.hold`: renamed, same
inode, into a holding directory the command cannot see, and renamed back after), and a link to a
*forged* store is put at its name. Nested repositories and submodules get the same, each at its
own store (a submodule's is the superproject's ``.git/modules/NAME/objects``).

The forged store needs no replace refs, so nothing is written into the user's ``.git/refs``: it
holds each object the view leaves out *under that object's own id*, with its placeholder's
content (a loose object file is the zlib of its type, size and content: the placeholder's file,
copied to the other id's name), and reads every other object from the view as an alternate. git
checks an id when it writes or verifies an object (``fsck``, ``index-pack``), not when it reads,
so ``git show``, ``log -p``, ``archive`` and ``cat-file`` all print the placeholders.

The forged store lies in the codeward home (hidden from commands in every tier; the temporary
directory only when the home is inside a tree the command may write), as does the view, and the
command gets read rights on both and nothing more, also as root with ``CAP_DAC_OVERRIDE`` (a view
a command could change would feed later commands, and codeward itself when it makes the forged
store, which it reads by identity anyway: red team rt22): a ``git commit`` in the
sandbox fails before it moves a ref ("insufficient permission for adding an object"), as under
bubblewrap, whose ``.git`` is read-only; it never adds an object that vanishes with the view. The
link is removed by identity after the command; anything the command left at the store's name is
set aside by the hold's restore (``objects.from-sandbox``) and the real store goes back. A store
the hold cannot move (on another mount than every holding place) stays where it is, hidden by
Landlock rules: git inside then finds no object at all (fails closed).
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import re
import stat
import tempfile
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from codeward.errors import SandboxUnavailable
from codeward.gitfiles import linked_store
from codeward.sandbox.redacted_view import ViewError, read_regular
from codeward.sandbox.spec import GitView, SandboxSpec, is_within
from codeward.scratch import process_dir, remove

WRITE_REFUSED = "insufficient permission for adding an object"
NOTE = (
    "sandbox: git here reads a read-only view of the history without its secrets (the history holds "
    "some), so commits and other writes to .git/objects fail; commit on the host"
)


@dataclass(frozen=True)
class StoreView:
    """A store to hold and the forged store to put at its name."""

    store: Path
    view: GitView
    forged: Path


@dataclass(frozen=True)
class Placed:
    """The link put at a store's name, by identity."""

    link: Path
    dev: int
    ino: int


def planned(spec: SandboxSpec) -> list[StoreView]:
    """The stores to hold and their forged stores: the workspace repository's, then each nested
    repository's and submodule's; none for a repository in which no blob needs hiding.

    Only a ``.git`` directory at the workspace root gets a view (a worktree's pointer file leads to
    a store elsewhere, as under bubblewrap). A store that is a link is held where it lies when that
    is in the workspace; one outside it is as visible as its place is.
    """
    views: list[tuple[Path, GitView]] = []
    git_dir = spec.workspace / ".git"
    if spec.git_view is not None and git_dir.is_dir() and not git_dir.is_symlink():
        store = linked_store(git_dir / "objects", spec.workspace)
        view = spec.git_view() if store is not None else None
        if store is not None and view is not None:
            views.append((store, view))
    if spec.git_nested_views is not None:
        views += [(n.store, n.view) for n in spec.git_nested_views()]
    if not views:
        return []
    base = _base(spec)
    return [StoreView(store, view, _forged(view, base)) for store, view in views]


def read_only(plans: Sequence[StoreView]) -> list[Path]:
    """Directories the command may read and must never write: the forged stores and the views they
    read as alternates (one a command could change would feed later commands, and codeward itself)."""
    return list(dict.fromkeys(d for p in plans for d in (p.forged, p.view.objects)))


def place(plans: Sequence[StoreView], held: set[Path]) -> list[Placed]:
    """Put a link to each forged store at its held store's name. A store that was not held stays
    hidden where it is and gets none. The name is created by ``symlink``, which never overwrites;
    when one cannot be made, the links made so far are taken back and the error raised (the
    command does not run)."""
    from codeward.sandbox.hold import open_dir_nofollow

    done: list[Placed] = []
    for plan in plans:
        if plan.store not in held:
            continue
        try:
            fd = open_dir_nofollow(plan.store.parent)
            try:
                os.symlink(plan.forged, plan.store.name, dir_fd=fd)
                st = os.stat(plan.store.name, dir_fd=fd, follow_symlinks=False)
            finally:
                os.close(fd)
        except OSError:
            take_back(done)
            raise
        done.append(Placed(plan.store, st.st_dev, st.st_ino))
    return done


def take_back(placed: Sequence[Placed]) -> None:
    """Remove each link that is still ours; anything else at a name is the hold restore's to set aside."""
    from codeward.sandbox.hold import open_dir_nofollow

    for p in placed:
        try:
            fd = open_dir_nofollow(p.link.parent)
        except OSError:
            continue
        try:
            st = os.stat(p.link.name, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode) and (st.st_dev, st.st_ino) == (p.dev, p.ino):
                os.unlink(p.link.name, dir_fd=fd)
        except OSError:
            pass
        finally:
            os.close(fd)


def note_for(placed: Sequence[Placed], output: str) -> str | None:
    """The line for the model when git in the command failed to write to a view."""
    return NOTE if placed and WRITE_REFUSED in output else None


_lock = threading.Lock()
_made: dict[tuple[Path, Path], Path] = {}
_dirs: dict[Path, Path] = {}


def _base(spec: SandboxSpec) -> Path:
    """Where this process keeps its forged stores: ``<codeward home>/run``, or the temporary
    directory when the home lies inside a tree the command may write (Landlock would grant it)."""
    home_run = spec.home_dir() / "run"
    inside = any(is_within(home_run, r) for r in spec.roots())
    parent = Path(tempfile.gettempdir()) if inside else home_run
    with _lock:
        d = _dirs.get(parent)
        if d is None or not d.is_dir():
            try:
                with contextlib.suppress(FileExistsError):
                    parent.mkdir(parents=True, mode=0o700)
                d = process_dir("codeward-forged-", parent)
            except OSError as e:
                raise SandboxUnavailable(
                    f"sandbox: cannot make the git history view in {parent} ({e.strerror}); make it writable"
                ) from None
            atexit.register(remove, d)
            _dirs[parent] = d
        return d


def _forged(view: GitView, base: Path) -> Path:
    """The forged store of ``view`` (made once per view; those of views that are gone are removed).
    When it cannot be made the command is refused (nothing is held yet): never the real store."""
    key = (view.objects, view.replace)
    with _lock:
        for k in [k for k in _made if not k[0].is_dir()]:
            remove(_made.pop(k))
        hit = _made.get(key)
        if hit is not None and hit.is_dir():
            return hit
        made = Path(tempfile.mkdtemp(dir=base, prefix="store-"))
        try:
            (made / "info").mkdir()
            (made / "pack").mkdir()
            (made / "info" / "alternates").write_text(f"{view.objects}\n", encoding="utf-8")
            for ref in os.scandir(view.replace):
                new = read_regular(Path(ref.path))[0][:130].decode("ascii").strip()
                data = _placeholder(view.objects, new)
                if not _OID.fullmatch(ref.name) or len(ref.name) != len(new):
                    raise ValueError(f"a replace ref named {ref.name!r} in the view")
                (made / ref.name[:2]).mkdir(exist_ok=True)
                (made / ref.name[:2] / ref.name[2:]).write_bytes(data)
            _read_only(made)
        except (OSError, ValueError, ViewError, zlib.error) as e:
            remove(made)
            raise SandboxUnavailable(f"sandbox: cannot make the git history view for Landlock: {e}") from None
        _made[key] = made
        return made


_OID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def _placeholder(objects: Path, oid: str) -> bytes:
    """The loose object file of placeholder ``oid`` in the view, checked by identity: a full id,
    a regular file reached without a link, and content that hashes to that id. Views are made where
    no command writes; this keeps a changed one from carrying another file into the forged store."""
    if not _OID.fullmatch(oid):
        raise ValueError(f"the view names a placeholder {oid[:80]!r}, not an object id")
    data = read_regular(objects / oid[:2] / oid[2:])[0]
    raw = zlib.decompress(data)
    digest = (hashlib.sha256 if len(oid) == 64 else hashlib.sha1)(raw).hexdigest()
    if digest != oid:
        raise ValueError(f"the view's placeholder {oid} does not match its id")
    return data


def _read_only(store: Path) -> None:
    """Close ``store`` by mode too: a git started on the host (not root) while a command has the
    store at ``.git/objects`` then fails to add an object rather than adding one that vanishes."""
    for d, _, files in os.walk(store):
        for f in files:
            os.chmod(os.path.join(d, f), 0o444)
        os.chmod(d, 0o555)
