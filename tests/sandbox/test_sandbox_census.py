"""The census index: the same answer as a full walk, after every kind of change, without re-listing unchanged dirs."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from codeward import dirindex as census_mod
from codeward.sandbox.census import CensusIndex
from codeward.workspace import WATCHED_NAMES


def walk(root: Path) -> set[Path]:
    from codeward.workspace import PROTECTED_DIRS, PROTECTED_NAMES

    names = {*PROTECTED_DIRS, *PROTECTED_NAMES}
    found: set[Path] = set()
    for d, dirs, files in os.walk(root):
        for n in [*dirs, *files]:
            if n in names:
                found.add(Path(d) / n)
        dirs[:] = [n for n in dirs if n not in names]
    return found


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for i in range(30):
        (tmp_path / "src" / f"d{i}").mkdir(parents=True)
        (tmp_path / "src" / f"d{i}" / "f.py").write_text("x")
    (tmp_path / ".git").mkdir()
    (tmp_path / "AGENTS.md").write_text("r")
    (tmp_path / "src" / "d3" / ".codexignore").write_text("*.csv")
    return tmp_path


def test_matches_a_walk_after_changes(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(census_mod, "RACY_NS", 0)  # exercise the signature path, not the racy re-list
    idx = CensusIndex(tree, WATCHED_NAMES)
    assert idx.refresh() == walk(tree)
    time.sleep(0.05)  # a later clock tick than the listing, so only the signature can tell
    (tree / "src" / "d7" / "AGENTS.md").write_text("planted")
    (tree / "src" / "d3").rename(tree / "src" / "moved")
    (tree / "src" / "new" / "deep").mkdir(parents=True)
    (tree / "src" / "new" / "deep" / ".git").mkdir()
    os.utime(tree / "src" / "d7", (1, 1))  # setting the times back does not hide the change (ctime moves)
    assert idx.refresh() == walk(tree)


def test_unchanged_dirs_are_not_listed_again(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(census_mod, "RACY_NS", 0)
    idx = CensusIndex(tree, WATCHED_NAMES)
    idx.refresh()
    listed: list[str] = []
    real = census_mod._scan
    monkeypatch.setattr(census_mod, "_scan", lambda d, *a: listed.append(d) or real(d, *a))
    idx.refresh()
    assert listed == []
    time.sleep(0.05)
    (tree / "src" / "d5" / ".codewardignore").write_text("x")
    assert tree / "src" / "d5" / ".codewardignore" in idx.refresh()
    assert listed == [str(tree / "src" / "d5")]


def test_racy_dirs_are_listed_again(tree: Path) -> None:
    idx = CensusIndex(tree, WATCHED_NAMES)
    idx.refresh()  # everything was just written: all racy
    (tree / "src" / "d1" / "AGENTS.md").write_text("same tick")
    assert tree / "src" / "d1" / "AGENTS.md" in idx.refresh()
