"""The workspace walk behind :mod:`codeward.privacy.learn`: every directory and its entries.

The walk goes through every directory without following symlinks, entries of every type included
(names and link targets are scanned too, :mod:`codeward.privacy.names`). Inside a ``.git``
directory the object stores and the index are skipped (the history scan's).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

GIT_DIR_NAME = ".git"
OBJECT_STORE_DIRS = frozenset({"objects", "lfs"})
"""Skipped inside a git directory (one holding ``HEAD``): compressed objects, scanned by the history scan."""
INDEX_NAMES = ("index", "sharedindex.")
"""A git directory's index (and split-index parts): binary paths and ids, the staged blobs are the
history scan's; hiding it as a binary "holding" a path name would break git inside the sandbox."""


def _walk(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    """(path, lstat) of every regular file under ``root``, without following symlinks (see :func:`_dirs`)."""
    for _d, _st, entries in _dirs(root):
        for path, _name, st in entries:
            if stat.S_ISREG(st.st_mode):
                yield path, st


def _dirs(root: Path) -> Iterator[tuple[str, os.stat_result | None, list[tuple[str, str, os.stat_result]]]]:
    """Each directory under ``root`` (``root`` first), its lstat, and its entries as (path, name,
    lstat), without following symlinks.

    Inside a ``.git`` directory everything is walked but the object stores and the index: an
    ``objects`` or ``lfs`` directory, an ``index`` or ``sharedindex.*`` file, whose parent is a git
    directory (holds ``HEAD``: the ``.git`` itself, or a submodule's ``modules/NAME``). A ``.git`` that is no repository (``vendor/lib/.git/deploy.env``)
    has no ``HEAD``, so nothing in it is skipped."""
    try:
        root_st: os.stat_result | None = os.lstat(root)
    except OSError:
        root_st = None
    stack: list[tuple[str, os.stat_result | None, bool]] = [(str(root), root_st, False)]
    while stack:
        d, d_st, in_git = stack.pop()
        try:
            entries = list(os.scandir(d))
        except OSError:
            continue
        store_parent = in_git and any(e.name == "HEAD" for e in entries)
        out: list[tuple[str, str, os.stat_result]] = []
        for e in entries:
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                if store_parent and e.name in OBJECT_STORE_DIRS:
                    continue
                stack.append((e.path, st, in_git or e.name == GIT_DIR_NAME))
            elif (
                store_parent
                and stat.S_ISREG(st.st_mode)
                and (e.name == INDEX_NAMES[0] or e.name.startswith(INDEX_NAMES[1]))
            ):
                continue
            out.append((e.path, e.name, st))
        yield d, d_st, out
