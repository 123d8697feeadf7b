"""Prompt history: one file per project, 0600, redacted before it is written, fail closed."""

from __future__ import annotations

import json
import os
from pathlib import Path

from codeward.ui.input_history import append_history, history_path, make_history, read_history


def test_one_file_per_project(tmp_path):
    a, b = history_path(tmp_path, Path("/src/a")), history_path(tmp_path, Path("/src/b"))
    assert a != b and a.parent == b.parent == tmp_path / "history"
    assert history_path(tmp_path, Path("/src/a")) == a


def test_append_and_read_back(tmp_path):
    path = history_path(tmp_path, tmp_path / "repo")
    append_history(path, "first", tmp_path / "repo")
    append_history(path, "second\nwith two lines", tmp_path / "repo")
    assert read_history(path) == ["first", "second\nwith two lines"]
    lines = path.read_text().splitlines()
    assert json.loads(lines[0]) == {"workspace": str(tmp_path / "repo")}
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700


def test_a_file_made_readable_by_others_is_tightened(tmp_path):
    path = history_path(tmp_path, tmp_path)
    append_history(path, "x", tmp_path)
    os.chmod(path, 0o644)
    append_history(path, "y", tmp_path)
    assert path.stat().st_mode & 0o777 == 0o600


def test_damaged_lines_are_skipped_and_the_count_is_capped(tmp_path):
    path = history_path(tmp_path, tmp_path)
    for i in range(5):
        append_history(path, f"p{i}", tmp_path)
    with path.open("a") as f:
        f.write('{"ts": 1, "text": "cut in the mid')
    assert read_history(path) == [f"p{i}" for i in range(5)]
    assert read_history(path, limit=2) == ["p3", "p4"]
    assert read_history(tmp_path / "missing.jsonl") == []


def test_prompt_toolkit_history_redacts_before_writing(tmp_path):
    path = history_path(tmp_path, tmp_path)
    errors: list[str] = []
    hist = make_history(path, tmp_path, lambda t: t.replace("hunter2", "<secret:password:1234abcd>"), errors.append)
    hist.store_string("login with hunter2")
    assert "hunter2" not in path.read_text()
    assert read_history(path) == ["login with <secret:password:1234abcd>"]
    assert list(hist.load_history_strings()) == ["login with <secret:password:1234abcd>"]
    assert errors == []


def test_a_scanner_failure_writes_nothing(tmp_path):
    path = history_path(tmp_path, tmp_path)
    errors: list[str] = []

    def broken(text: str) -> str:
        raise RuntimeError("rules failed to load")

    hist = make_history(path, tmp_path, broken, errors.append)
    hist.store_string("token sk-live-123")
    assert not path.exists()
    assert errors == ["prompt not saved to history: the secret scanner failed (rules failed to load)"]


def test_persistence_none_keeps_history_in_memory(tmp_path):
    from prompt_toolkit.history import InMemoryHistory

    hist = make_history(None, tmp_path, lambda t: t, lambda m: None)
    assert isinstance(hist, InMemoryHistory)
    hist.store_string("kept in memory only")
    assert list(tmp_path.iterdir()) == []


def test_newest_first_for_prompt_toolkit(tmp_path):
    path = history_path(tmp_path, tmp_path)
    for p in ("old", "mid", "new"):
        append_history(path, p, tmp_path)
    hist = make_history(path, tmp_path, lambda t: t, lambda m: None)
    assert list(hist.load_history_strings()) == ["new", "mid", "old"]
