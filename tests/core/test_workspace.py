"""Workspace confinement, AGENTS.md discovery order and protected paths."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from codeward.workspace import PathError, Workspace, is_protected


def test_resolve_confines_to_root(git_repo, tmp_path):
    (git_repo / "src").mkdir()
    ws = Workspace.discover(git_repo / "src")
    assert ws.root == git_repo.resolve()
    assert ws.resolve("a.py") == ws.root / "src" / "a.py"
    assert ws.resolve("../README.md") == ws.root / "README.md"
    for bad in ("../../etc/passwd", "/etc/passwd", str(tmp_path)):
        with pytest.raises(PathError, match="outside the workspace"):
            ws.resolve(bad)
    with pytest.raises(PathError, match="non-empty"):
        ws.resolve("")


def test_symlinks_cannot_lead_out(git_repo, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "f").write_text("x")
    os.symlink(outside, git_repo / "link")
    os.symlink(outside / "missing", git_repo / "dangling")
    ws = Workspace.discover(git_repo)
    for p in ("link/f", "link/new-file", "dangling"):
        with pytest.raises(PathError, match="symlink leads outside"):
            ws.resolve(p)
    os.symlink(git_repo / "README.md", git_repo / "inside")
    assert ws.resolve("inside") == ws.root / "inside"


def test_agents_files_global_then_root_to_cwd(git_repo, cw_home):
    (cw_home / "AGENTS.md").write_text("global")
    (git_repo / "AGENTS.md").write_text("root")
    (git_repo / "a" / "b").mkdir(parents=True)
    (git_repo / "a" / "AGENTS.md").write_text("a")
    (git_repo / "a" / "b" / "AGENTS.md").write_text("b")
    (git_repo / "other").mkdir()
    (git_repo / "other" / "AGENTS.md").write_text("other")
    ws = Workspace.discover(git_repo / "a" / "b")
    assert [f.read_text() for f in ws.agents_files(cw_home)] == ["global", "root", "a", "b"]


def test_protected_paths_include_missing_root_names_nested_repos_and_pointer_targets(git_repo, tmp_path):
    sub = git_repo / "vendor" / "lib"
    sub.mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=sub, check=True)
    (git_repo / "pkg").mkdir()
    gitdir = tmp_path / "elsewhere.git"
    gitdir.mkdir()
    (git_repo / "pkg" / ".git").write_text(f"gitdir: {gitdir}\n")
    (git_repo / "docs").mkdir()
    (git_repo / "docs" / ".codexignore").write_text("x\n")
    ws = Workspace.discover(git_repo)
    got = set(ws.protected_paths())
    root = ws.root
    for p in (
        root / ".git",
        root / "AGENTS.md",
        root / ".codewardignore",
        root / ".codexignore",
        root / ".codeward",
        sub.resolve() / ".git",
        root / "pkg" / ".git",
        gitdir,
        root / "docs" / ".codexignore",
    ):
        assert p in got, p


@pytest.mark.parametrize(
    ("rel", "expect"),
    [
        ("AGENTS.md", True),
        ("sub/AGENTS.md", True),
        (".git/hooks/pre-commit", True),
        ("a/.git/config", True),
        (".codeward/config.toml", True),
        (".codexignore", True),
        ("x/.codewardignore", True),
        ("src/agents.md", False),
        ("gitignore.txt", False),
        (".github/workflows/ci.yml", False),
    ],
)
def test_is_protected(rel, expect):
    assert is_protected(rel) is expect


def test_repo_root_without_git_is_the_named_directory(tmp_path):
    d = tmp_path / "plain"
    d.mkdir()
    assert Workspace.discover(d, named=True).root == d.resolve()
    assert isinstance(Workspace.discover(d, named=True).root, Path)
