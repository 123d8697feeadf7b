"""A :class:`Project` built by hand from a config, for unit tests of what reads one (status line, loop)."""

from __future__ import annotations

from pathlib import Path

from codeward.config.load import ConfigOverrides
from codeward.config.model import Config
from codeward.modes import Mode
from codeward.project import Project
from codeward.workspace import Workspace


def project_of(config: Config, mode: Mode | None = None, root: Path = Path("/w")) -> Project:
    """A project over ``config`` in ``root`` (nothing is read from disk until policy or ignore is asked for)."""
    return Project(
        config, ConfigOverrides(), Workspace(root, root), Path("/nonexistent-home"), mode or config.approval_mode
    )
