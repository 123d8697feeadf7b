"""Red team rt12: an extra writable directory's git config is read once per tree part, not per command.

For a ``--writable`` directory holding a repository, the protected paths there (its ``.git``, hooks,
AGENTS.md and every path its git config names: ``core.hooksPath``, included files) are worked out by
:func:`codeward.sandbox.layout_tree.extra_root_protected` *inside* the tree part
(:func:`codeward.sandbox.layout_tree._decide_tree_part`), which :func:`~codeward.sandbox.layout_tree.tree_part`
reuses while every index generation is unchanged. The workspace's own config paths are in
``spec.protected`` (read again every command, part of the cache key); the extra root's are not.
``git config core.hooksPath .husky`` (what ``husky install`` runs) writes ``.git/config`` by a rename
inside ``.git``, a directory no index enters, and the tree part's check on ``.git/config`` looks at
its file type only. So the next command of the session could write hooks into ``.husky/``, which
the host's git then ran. A spec with extra writable directories is now decided every command.

Judged from the host: the hook file left behind, and what ``git checkout`` on the host executes.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from tests.support.sandbox_helpers import Project

pytestmark = pytest.mark.sandbox


def _extra_repo(tmp_path: Path) -> Path:
    extra = (tmp_path / "extra").resolve()
    extra.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(extra)], check=True)
    (extra / ".husky").mkdir()  # committed in the repository; not yet git's hooks directory
    (extra / ".husky" / "README").write_text("hooks live here once husky is installed\n")
    subprocess.run(["git", "-C", str(extra), "add", "-A"], check=True)
    subprocess.run(
        ["git", "-C", str(extra), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"], check=True
    )
    return extra


def _session(sandbox: Any, project: Project, extra: Path) -> None:
    time.sleep(0.3)
    for _ in range(3):
        project.run(sandbox, "true", writable=(extra,))
    # the host (the user running ``npx husky install``), between two commands of the session
    subprocess.run(["git", "-C", str(extra), "config", "core.hooksPath", ".husky"], check=True)


PLANT = "printf '#!/bin/sh\\ntouch {out}\\n' > {hook} && chmod +x {hook} && echo planted; true"


def test_the_new_hooks_path_of_an_extra_repository_is_writable(bwrap: Any, project: Project, tmp_path: Path) -> None:
    extra = _extra_repo(tmp_path)
    _session(bwrap, project, extra)
    out = tmp_path / f"rt12-hook-ran-{os.urandom(4).hex()}"
    hook = extra / ".husky" / "post-checkout"
    r = project.run(bwrap, PLANT.format(out=out, hook=hook), writable=(extra,))
    ran = subprocess.run(["git", "-C", str(extra), "checkout", "-q", "-b", "x"], capture_output=True, check=False)
    assert not hook.exists(), f"a hook was planted in the new core.hooksPath ({r.output!r}); git ran it: {out.exists()}"
    assert ran.returncode == 0 and not out.exists()


def test_control_a_fresh_tree_part_keeps_it_read_only(
    bwrap: Any, project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codeward.sandbox import layout_tree

    extra = _extra_repo(tmp_path)
    _session(bwrap, project, extra)
    monkeypatch.setattr(layout_tree, "_tree_cache", None)
    hook = extra / ".husky" / "post-checkout"
    r = project.run(bwrap, PLANT.format(out=tmp_path / "x", hook=hook), writable=(extra,))
    assert "planted" not in r.output and not hook.exists()


def test_held_an_extra_repositorys_git_pointer_re_aimed_in_place(bwrap: Any, project: Project, tmp_path: Path) -> None:
    """The same cache, another input it reads: a ``.git`` pointer file's content (``gitdir: ...``),
    rewritten in place by the host (no directory's entries change). Held (passes): every git dir
    looks like a bare repository to the index (HEAD, objects, refs), which protects it by its names
    whatever pointer names it."""
    extra = (tmp_path / "extra").resolve()
    extra.mkdir()
    for name in ("store-a", "store-b"):  # two git dirs, e.g. worktrees' stores kept beside the checkout
        subprocess.run(["git", "init", "-q", "--bare", str(extra / name)], check=True)
    pointer = extra / ".git"
    pointer.write_text(f"gitdir: {extra / 'store-a'}\n")
    time.sleep(0.3)
    for _ in range(3):
        project.run(bwrap, "true", writable=(extra,))
    with open(pointer, "r+") as f:  # the host, in place
        f.write(f"gitdir: {extra / 'store-b'}\n")
    cfg = extra / "store-b" / "config"
    before = cfg.read_text()
    project.run(
        bwrap, f"printf '[core]\\n\\tfsmonitor = touch /tmp/rt12-fsmonitor\\n' >> {cfg}; true", writable=(extra,)
    )
    assert cfg.read_text() == before, "the git config the extra repository's pointer now names was written"
