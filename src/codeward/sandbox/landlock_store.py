"""Landlock tier: the repository's object store is out of the tree while a command runs; a view stands in.

bubblewrap binds the object-store view (:class:`~codeward.sandbox.spec.GitView`) over
``.git/objects``. Landlock cannot bind, and cannot deny a path inside the workspace it grants, so
the real store would be readable: ``git show REV:.env | cut -c3-`` or a pack inflated by hand
carries an old secret past any output matching. Instead the store is *held* like an ignored file
(:mod:`codeward.sandbox.hold`: renamed, same inode, into a holding directory the command cannot
see, and renamed back after), and a link to the view's *forged* store is put at its name. That
store holds each excluded blob, commit or tag under its own id with the placeholder content, and
reads every other object from the view's pack: no replace refs are needed, so nothing is written
into the user's ``.git/refs``.

The command gets read rights on the view only: a ``git commit`` in the sandbox fails before it
moves a ref ("insufficient permission for adding an object"), as under bubblewrap, whose ``.git``
is read-only. The link is removed by identity after the command; anything the command left at
the store's name is set aside by the hold's restore (``objects.from-sandbox``) and the real store
goes back. A store the hold cannot move (on another mount than every holding place) stays where
it is, hidden by Landlock rules: git inside then finds no object at all (fails closed).
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from codeward.gitfiles import linked_store
from codeward.sandbox.spec import GitView, SandboxSpec

WRITE_REFUSED = "insufficient permission for adding an object"
NOTE = (
    "sandbox: git here reads a read-only view of the history without its secrets (the history holds "
    "some), so commits and other writes to .git/objects fail; commit on the host"
)


@dataclass(frozen=True)
class StoreView:
    """The store to hold and the view to put at its name."""

    store: Path
    view: GitView


@dataclass(frozen=True)
class Placed:
    """The link put at the store's name, by identity."""

    link: Path
    dev: int
    ino: int


def planned(spec: SandboxSpec) -> StoreView | None:
    """The workspace repository's store and its view, or None when no blob needs hiding.

    Only a ``.git`` directory at the workspace root gets a view (a worktree's pointer file leads to
    a store elsewhere, as under bubblewrap). A store that is a link is held where it lies when that
    is in the workspace; one outside it is as visible as its place is.
    """
    git_dir = spec.workspace / ".git"
    if spec.git_view is None or not git_dir.is_dir() or git_dir.is_symlink():
        return None
    store = linked_store(git_dir / "objects", spec.workspace)
    if store is None:
        return None
    view = spec.git_view()
    return StoreView(store, view) if view is not None else None


def readable(plan: StoreView | None) -> list[Path]:
    """What the command may read (never write) for the view: the directory holding its stores."""
    return [plan.view.forged.parent] if plan is not None else []


def open_for(plan: StoreView | None, user: tuple[int, int] | None) -> None:
    """As root running the command as another uid: let that uid traverse the scratch directory
    above the view (``0711``: its entries' random names cannot be listed)."""
    if plan is None or user is None:
        return
    top = plan.view.forged.parent.parent
    with contextlib.suppress(OSError):
        st = top.lstat()
        if stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid():
            os.chmod(top, stat.S_IMODE(st.st_mode) | 0o011)


def place(plan: StoreView | None, held: set[Path]) -> Placed | None:
    """Put a link to the forged store at the held store's name; None when the store was not held
    (it stays hidden where it is). The name is created by ``symlink``, which never overwrites."""
    if plan is None or plan.store not in held:
        return None
    from codeward.sandbox.hold import open_dir_nofollow

    fd = open_dir_nofollow(plan.store.parent)
    try:
        os.symlink(plan.view.forged, plan.store.name, dir_fd=fd)
        st = os.stat(plan.store.name, dir_fd=fd, follow_symlinks=False)
    finally:
        os.close(fd)
    return Placed(plan.store, st.st_dev, st.st_ino)


def take_back(placed: Placed | None) -> None:
    """Remove the link if it is still ours; anything else at the name is the hold restore's to set aside."""
    if placed is None:
        return
    from codeward.sandbox.hold import open_dir_nofollow

    try:
        fd = open_dir_nofollow(placed.link.parent)
    except OSError:
        return
    try:
        st = os.stat(placed.link.name, dir_fd=fd, follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode) and (st.st_dev, st.st_ino) == (placed.dev, placed.ino):
            os.unlink(placed.link.name, dir_fd=fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def note_for(placed: Placed | None, output: str) -> str | None:
    """The line for the model when git in the command failed to write to the view."""
    return NOTE if placed is not None and WRITE_REFUSED in output else None
