"""Fixtures for the patch tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeward.workspace import Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    """An empty workspace whose root is also the cwd."""
    root = (tmp_path / "ws").resolve()
    root.mkdir()
    return Workspace(root=root, cwd=root)
