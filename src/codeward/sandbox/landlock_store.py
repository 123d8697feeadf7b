"""Landlock tier: the repository's object store is out of the tree while a command runs; a view stands in.

bubblewrap binds the object-store view (:class:`~codeward.sandbox.spec.GitView`) over
``.git/objects``. Landlock cannot bind, and cannot deny a path inside the workspace it grants, so
the real store would be readable: ``git show REV:.env | cut -c3-`` or a pack inflated by hand
carries an old secret past any output matching. Instead the store is *held* like an ignored file
(:mod:`codeward.sandbox.hold`: renamed, same inode, into a holding directory the command cannot
see, and renamed back after), and a link to the view's *forged* store is put at its name. That
store holds each excluded blob, commit or tag under its own id with the placeholder content, and
reads every other object from the view's pack: no replace refs are needed, so nothing is written
into the user's ``.git/refs``. Nested repositories and submodules get the same, each at its own
store (a submodule's is the superproject's ``.git/modules/NAME/objects``).

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
from collections.abc import Sequence
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


def planned(spec: SandboxSpec) -> list[StoreView]:
    """The stores to hold and their views: the workspace repository's, then each nested
    repository's and submodule's; none for a repository in which no blob needs hiding.

    Only a ``.git`` directory at the workspace root gets a view (a worktree's pointer file leads to
    a store elsewhere, as under bubblewrap). A store that is a link is held where it lies when that
    is in the workspace; one outside it is as visible as its place is.
    """
    out: list[StoreView] = []
    git_dir = spec.workspace / ".git"
    if spec.git_view is not None and git_dir.is_dir() and not git_dir.is_symlink():
        store = linked_store(git_dir / "objects", spec.workspace)
        view = spec.git_view() if store is not None else None
        if store is not None and view is not None:
            out.append(StoreView(store, view))
    if spec.git_nested_views is not None:
        out += [StoreView(n.store, n.view) for n in spec.git_nested_views()]
    return out


def readable(plans: Sequence[StoreView]) -> list[Path]:
    """What the command may read (never write) for the views: the directories holding their stores."""
    return list(dict.fromkeys(p.view.forged.parent for p in plans))


def open_for(plans: Sequence[StoreView], user: tuple[int, int] | None) -> None:
    """As root running the command as another uid: let that uid traverse the scratch directory
    above each view (``0711``: its entries' random names cannot be listed)."""
    if user is None:
        return
    for top in dict.fromkeys(p.view.forged.parent.parent for p in plans):
        with contextlib.suppress(OSError):
            st = top.lstat()
            if stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid():
                os.chmod(top, stat.S_IMODE(st.st_mode) | 0o011)


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
        fd = open_dir_nofollow(plan.store.parent)
        try:
            os.symlink(plan.view.forged, plan.store.name, dir_fd=fd)
            st = os.stat(plan.store.name, dir_fd=fd, follow_symlinks=False)
        except OSError:
            take_back(done)
            raise
        finally:
            os.close(fd)
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
