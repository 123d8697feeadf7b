"""The assembly floor: one :class:`Project` per run, built by :func:`open_project` (DESIGN principle 7)."""

from __future__ import annotations

from codeward.project.assemble import open_default_project, open_project
from codeward.project.model import Project, network_state

__all__ = ["Project", "network_state", "open_default_project", "open_project"]
