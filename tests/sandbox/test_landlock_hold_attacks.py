"""Attacks on the Landlock tier's hold, with the real tier, judged from the host.

A held secret is out of the tree while the command runs; these try to find it where it is held,
to outlive the command and read it once it is back, and to make the way back write elsewhere.
Each control runs the same attempt with no sandbox and shows that it reads the secret there.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from tests.support.sandbox_helpers import Project

pytestmark = pytest.mark.sandbox


@pytest.fixture(params=["landlock", pytest.param("none", marks=pytest.mark.xfail(strict=True, raises=AssertionError))])
def tier(request: pytest.FixtureRequest, landlock: Any) -> Any:
    from codeward.sandbox import select_sandbox

    return landlock if request.param == "landlock" else select_sandbox("none", allow_unsandboxed=True)


def test_the_holding_place_cannot_be_found_or_read(tier: Any, project: Project) -> None:
    mark = project.marker("env")
    r = project.run(
        tier,
        f"cat .env; cat {project.cw_home}/hold/.codeward-hold-*/* 2>/dev/null; "
        f"cat {project.root.parent}/.codeward-hold-*/* /var/tmp/.codeward-hold-*/* 2>/dev/null; "
        f"grep -rs CWMARK-env {project.cw_home} {project.root.parent} /var/tmp 2>/dev/null | head -3; true",
    )
    assert mark not in r.output


def test_a_process_left_behind_cannot_read_the_secret_once_it_is_back(landlock: Any, project: Project) -> None:
    """No control: every tier kills the whole tree when the command ends (test_sandbox_escapes covers
    that mechanism); here it must happen before the secret is put back."""
    tier = landlock
    mark = project.marker("env")
    leak = project.root / "leak.txt"
    project.run(
        tier,
        f"(setsid sh -c 'for i in $(seq 1 60); do cat {project.root}/.env >> {leak} 2>/dev/null; sleep 0.05; done' "
        "</dev/null >/dev/null 2>&1 &); true",
    )
    time.sleep(3.5)  # longer than the loop: anything still running has had its chance
    assert (project.root / ".env").read_text().strip() == mark
    assert not leak.exists() or mark not in leak.read_text()


def test_the_way_back_does_not_follow_planted_links(tier: Any, project: Project, tmp_path: Path) -> None:
    """The command replaces the secret's parent with a link to a place it can read later."""
    mark = project.marker("secrets_dir")
    drop = project.root / "drop"
    r = project.run(tier, f"cat secrets/token.txt; mkdir -p drop && rm -rf secrets && ln -s {drop} secrets; true")
    assert mark not in r.output
    assert not any(p.is_file() and mark in p.read_text() for p in drop.iterdir())
    assert (project.root / "secrets" / "token.txt").read_text().strip() == mark
    r = project.run(tier, "cat drop/* 2>/dev/null; cat secrets/token.txt 2>/dev/null; true")
    assert mark not in r.output
