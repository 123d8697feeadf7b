"""Fixtures shared by the privacy tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.watchable import watchable_dir


@pytest.fixture
def tree(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    """A small workspace where the learner's inotify watch is believed (the red-team watch tests)."""
    root = watchable_dir(tmp_path, request) / "ws"
    (root / "src/pkg").mkdir(parents=True)
    (root / "src/pkg/__init__.py").write_text("")
    (root / "docs").mkdir()
    (root / "docs/readme.md").write_text("# readme\n")
    yield root
