"""Codeward started inside a nested repository keeps the enclosing project's ignore rules for it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from codeward.project import open_project


@pytest.fixture
def nested(git_repo: Path) -> Path:
    lib = git_repo / "vendor" / "lib"
    lib.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(lib)], check=True)
    (lib / "keys.txt").write_text("MARKER_INNER_KEY\n")
    (lib / "code.py").write_text("x = 1\n")
    (git_repo / ".codexignore").write_text("vendor/lib/keys.txt\n")
    (git_repo / "vendor" / ".codewardignore").write_text("lib/*.bak\n")
    (lib / "old.bak").write_text("MARKER_BAK\n")
    return lib


def test_the_enclosing_rules_hide_files_in_the_nested_repo(nested: Path, git_repo: Path) -> None:
    outer = open_project(git_repo)
    assert outer.hidden(nested / "keys.txt")  # the control: from the enclosing project it is hidden
    inner = open_project(nested)
    assert inner.workspace.root == nested.resolve()
    assert inner.hidden(nested / "keys.txt") and inner.hidden(nested / "old.bak")
    assert not inner.hidden(nested / "code.py")
    rule = inner.ignore.match_path(nested / "keys.txt")
    assert rule is not None and rule.source.endswith(".codexignore")
    masked = {p.name for p in inner.sandbox_spec().masked}
    assert {"keys.txt", "old.bak"} <= masked


def test_no_enclosing_repository_reads_nothing_above(tmp_path: Path) -> None:
    top = tmp_path / "loose"
    repo = top / "proj"
    repo.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (top / ".codexignore").write_text("proj/readme.md\n")
    (repo / "readme.md").write_text("hi\n")
    assert not open_project(repo).hidden(repo / "readme.md")
