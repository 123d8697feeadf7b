"""Red team rt12 (side finding, not a cache): ``core.hooksPath`` naming a link whose target is missing.

The user's ``core.hooksPath = .githooks`` with ``.githooks`` a committed link to ``tools/hooks``
that no checkout has made yet. :func:`codeward.workspace.Workspace.protected_paths` lists
``.githooks`` (git's name for the hooks directory); the tree part
(:func:`codeward.sandbox.layout_tree._decide_tree_part`) saw a link and protected its target only
``if ... target.exists()``, and the census after the command watches protected *names*, not
where a link leads: a command made ``tools/hooks/post-checkout`` and the host's ``git checkout``
ran it. A missing target is now guarded like a missing protected name (whatever a command makes
there is moved aside after it). With the target present the same write is refused (control).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.support.sandbox_helpers import Project

pytestmark = pytest.mark.sandbox

PLANT = (
    "mkdir -p tools/hooks && printf '#!/bin/sh\\ntouch {flag}\\n' > tools/hooks/post-checkout "
    "&& chmod +x tools/hooks/post-checkout && echo planted; true"
)


@pytest.fixture(params=["bwrap", "landlock"])
def tier(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(request.param)


def _hooks_link(root: Path) -> None:
    (root / ".githooks").symlink_to("tools/hooks")
    subprocess.run(["git", "-C", str(root), "config", "core.hooksPath", ".githooks"], check=True)


def _checkout(root: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    subprocess.run(["git", "-C", str(root), "checkout", "-q", "-b", "rt12"], env=env, capture_output=True, check=False)


def test_a_hook_made_where_the_hooks_link_leads_runs_on_the_host(tier: Any, project: Project, tmp_path: Path) -> None:
    _hooks_link(project.root)
    flag = tmp_path / "rt12-hook-ran"
    r = project.run(tier, PLANT.format(flag=flag))
    _checkout(project.root)
    hook = project.root / "tools" / "hooks" / "post-checkout"
    assert not hook.exists() and not flag.exists(), f"{r.output!r}: hook left {hook.exists()}, ran {flag.exists()}"


def test_control_with_the_target_present_the_hook_is_refused(tier: Any, project: Project, tmp_path: Path) -> None:
    (project.root / "tools" / "hooks").mkdir(parents=True)
    _hooks_link(project.root)
    flag = tmp_path / "rt12-hook-ran"
    project.run(tier, PLANT.format(flag=flag))
    _checkout(project.root)
    assert not (project.root / "tools" / "hooks" / "post-checkout").exists() and not flag.exists()
