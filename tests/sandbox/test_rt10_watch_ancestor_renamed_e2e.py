"""Red team rt10: the directory index's watch is on the workspace's directories, not on the path to
them. When the host renames a directory ABOVE the workspace root and puts another tree at the old
path (``mv ~/work ~/work.old && git clone ... ~/work/repo``), no watched directory gets an event: the
old root moved with its parent, its own inode saw nothing. The first version of the index and the
new-names watch kept answering for the old tree while the sandbox bound the path, now the new tree,
so the new tree's ``.env`` was not masked and its protected paths were not read-only; now the
index checks what the root's path leads to (:class:`codeward.dirindex.watch.DirWatch`).

Judged from the host: what the command printed, and what it changed in the new tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from typing import Any

import pytest
from tests.support.sandbox_helpers import Project, without_ignored_files

pytestmark = pytest.mark.sandbox


@pytest.fixture(params=["bwrap", "landlock"])
def tier(request: pytest.FixtureRequest, project: Project) -> Any:
    if request.param == "landlock":
        without_ignored_files(project)  # so that the index trusts its watch (see there)
    return request.getfixturevalue(request.param)


def _replace_the_parent(project: Project) -> str:
    """The host moves the workspace's parent away and puts another checkout of the project at the
    same path (the same AGENTS.md and ignore files), with a new ``.env.local`` and a nested repository."""
    root = project.root
    parent = root.parent
    old = parent.with_name(parent.name + "-old")
    os.rename(parent, old)
    shutil.copytree(old / root.name, root, symlinks=True)
    marker = f"CWMARK-rt10-{os.urandom(6).hex()}"
    (root / ".env.local").write_text(f"TOKEN={marker}\n")  # `.env.*`: a default ignore rule
    (root / "lib").mkdir()
    subprocess.run(["git", "init", "-q", str(root / "lib")], check=True)  # a nested repository
    time.sleep(0.3)
    return marker


def _armed(tier: Any, project: Project) -> None:
    time.sleep(0.3)
    for _ in range(3):  # from the 4th refresh the index keeps a watch; the 6th trusts it
        project.run(tier, "true")


def test_the_new_trees_env_is_read(tier: Any, project: Project) -> None:
    _armed(tier, project)
    marker = _replace_the_parent(project)
    r = project.run(tier, "cat .env.local 2>&1; true")
    assert marker not in r.output, "the new tree's .env was read"


def test_the_new_trees_nested_repository_is_writable(tier: Any, project: Project) -> None:
    _armed(tier, project)
    _replace_the_parent(project)
    cfg = project.root / "lib" / ".git" / "config"
    before = cfg.read_text()
    project.run(tier, "printf '[core]\\n\\tfsmonitor = touch /tmp/rt10-fsm\\n' >> lib/.git/config; true")
    assert cfg.read_text() == before, "the new tree's nested repository config was written"


def test_control_without_the_index_watch_the_new_trees_env_stays_hidden(
    tier: Any, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same session with the index's watch never started (every refresh ``lstat``s, as before
    the watch): the refresh sees the root's new inode and lists the new tree."""
    from codeward import dirindex

    monkeypatch.setattr(dirindex, "WATCH_AFTER", 10**9)
    _armed(tier, project)
    marker = _replace_the_parent(project)
    r = project.run(tier, "cat .env.local 2>&1; true")
    assert marker not in r.output
    cfg = project.root / "lib" / ".git" / "config"
    before = cfg.read_text()
    project.run(tier, "printf '[core]\\n\\tfsmonitor = touch /tmp/rt10-fsm\\n' >> lib/.git/config; true")
    assert cfg.read_text() == before
