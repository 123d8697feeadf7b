"""The learner's walk covers every ``.git`` directory's text files and skips only object stores."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from codeward.privacy import tree_walk
from codeward.privacy.learn import WorkspaceSecrets
from codeward.privacy.scanner import load_scanner

TOK = "ghp_" + "Q7mK2vX9pL4rT8wZ1nB6cJ3hF5dS0aYeUiOg"


WALKERS: dict[str, Callable[[str], dict[str, str]]] = {
    "find": tree_walk.snapshot,
    "python": tree_walk.python_snapshot,
}


@pytest.mark.parametrize("walker", sorted(WALKERS))
def test_git_text_files_are_walked_and_object_stores_are_not(tmp_path: Path, walker: str) -> None:
    def _rel(root: Path) -> set[str]:
        return {Path(p).relative_to(root).as_posix() for p in WALKERS[walker](str(root))}

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "a.txt").write_text("x\n")
    subprocess.run(["git", "-C", str(tmp_path), "add", "a.txt"], check=True)
    git = tmp_path / ".git"
    (git / "packed-refs").write_text("# pack-refs with: peeled\n")
    (git / "refs" / "heads" / "objects").mkdir()  # a branch named objects/x: a ref, not a store
    (git / "refs" / "heads" / "objects" / "x").write_text("0" * 40 + "\n")
    sub = git / "modules" / "lib"
    (sub / "objects" / "ab").mkdir(parents=True)
    (sub / "objects" / "ab" / "cdef").write_bytes(b"x")
    (sub / "HEAD").write_text("ref: refs/heads/main\n")
    (sub / "config").write_text("[core]\n")
    (git / "lfs" / "objects").mkdir(parents=True)
    (git / "lfs" / "objects" / "big").write_bytes(b"y")
    nested = tmp_path / "vendor" / "lib" / ".git"  # no repository: nothing in it is skipped
    (nested / "objects").mkdir(parents=True)
    (nested / "objects" / "deploy.env").write_text("x\n")
    seen = _rel(tmp_path)
    assert {".git/config", ".git/HEAD", ".git/packed-refs", ".git/description"} <= seen
    assert ".git/index" not in seen  # binary paths and ids: the staged blobs are the history scan's
    assert {".git/refs/heads/objects/x", ".git/modules/lib/config", "vendor/lib/.git/objects/deploy.env"} <= seen
    assert not [p for p in seen if p.startswith((".git/objects/", ".git/lfs/", ".git/modules/lib/objects/"))]
    assert any(p.startswith(".git/hooks/") for p in seen)


def test_a_token_in_git_config_is_learned_and_marked(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    url = f"https://x-access-token:{TOK}@github.com/acme/app.git"
    subprocess.run(["git", "-C", str(tmp_path), "remote", "add", "origin", url], check=True)
    os.link(tmp_path / ".git" / "config", tmp_path / ".git" / "config-link")
    learner = WorkspaceSecrets(tmp_path, load_scanner())
    assert any(TOK in v for v, _ in learner.refresh())
    config = str(tmp_path / ".git" / "config")
    assert {config, config + "-link"} <= learner.secret_paths()


def test_find_and_python_list_the_same_entries_around_git_directories(tmp_path: Path) -> None:
    """Every entry (directories and links too, for the name scan), the same stamps from both walks;
    a pruned ``objects`` that is no store is listed with its own entry, a real store not at all."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".git" / "refs" / "heads" / "objects").mkdir()
    os.symlink("../../x", tmp_path / ".git" / "refs" / "heads" / "lnk")
    nested = tmp_path / "vendor" / "lib" / ".git" / "objects"
    nested.mkdir(parents=True)
    (nested / "deploy.env").write_text("x\n")
    found = tree_walk.snapshot(str(tmp_path))
    assert found == tree_walk.python_snapshot(str(tmp_path))
    assert found[str(nested)].startswith("d ") and found[str(tmp_path)].startswith("d ")
    assert tree_walk.link_target(found[str(tmp_path / ".git" / "refs" / "heads" / "lnk")]) == "../../x"
    assert str(tmp_path / ".git" / "objects") not in found
