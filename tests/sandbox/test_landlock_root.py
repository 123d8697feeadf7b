"""As root, a Landlock command owns no host file: chmod/utime/chown of root-owned files fail.

Landlock does not govern chmod, utime or chown; ownership does. A root codeward runs Landlock
commands as the workspace's owner, or (for a root-owned workspace) as an uid that owns nothing,
keeping only CAP_DAC_OVERRIDE so the workspace stays writable. Judged from the host: the mode and
the times of a root-owned file outside the workspace are unchanged. The control runs the same
attack with the old behaviour (uid 0, every capability dropped) and shows it works there.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from tests.support.sandbox_helpers import Project

from codeward.sandbox import landlock as ll

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(os.geteuid() != 0, reason="what root can do to root-owned files: needs root"),
]

ATTACK = "chmod 666 {v}; chmod 4755 {v}; touch -d 2001-01-01 {v}; chown 1:1 {v}; true"


def _state(p: Path) -> tuple[int, int, int]:
    st = p.stat()
    return st.st_mode, st.st_mtime_ns, st.st_uid


@pytest.mark.parametrize(
    "old_behaviour",
    [
        False,
        pytest.param(
            True,
            marks=pytest.mark.xfail(
                strict=True, raises=AssertionError, reason="control: commands run as root keep ownership of host files"
            ),
        ),
    ],
)
def test_root_command_cannot_chmod_or_touch_host_files(
    landlock: Any, project: Project, outside: Path, monkeypatch: pytest.MonkeyPatch, old_behaviour: bool
) -> None:
    victim = outside / "victim.txt"
    os.chmod(victim, 0o644)
    os.utime(victim, (1_000_000_000, 1_000_000_000))
    before = _state(victim)
    if old_behaviour:  # the control: uid 0 without capabilities still owns root's files
        monkeypatch.setattr(ll, "run_as", lambda workspace, euid=None: None)
    r = project.run(landlock, ATTACK.format(v=victim))
    assert r.exit_code == 0, r.output
    assert _state(victim) == before, f"host file changed: {r.output}"


def test_root_command_still_works_in_a_root_owned_workspace(landlock: Any, project: Project) -> None:
    assert project.root.stat().st_uid == 0
    r = project.run(
        landlock,
        "echo x > made.sh && chmod +x made.sh && ./made.sh; id -u; sed -i s/hello/hi/ src/main.py; touch src/main.py",
    )
    assert r.exit_code == 0, r.output
    assert str(ll.SANDBOX_ID) in r.output.split()
    made = project.root / "made.sh"
    assert os.access(made, os.X_OK) and made.stat().st_uid == ll.SANDBOX_ID
    assert "hi" in (project.root / "src" / "main.py").read_text()


def test_run_as_follows_the_workspace_owner(tmp_path: Path) -> None:
    os.chown(tmp_path, 1234, 2345)
    assert ll.run_as(tmp_path, euid=0) == (1234, 2345)
    assert ll.run_as(tmp_path, euid=1000) is None
    os.chown(tmp_path, 0, 0)
    assert ll.run_as(tmp_path, euid=0) == (ll.SANDBOX_ID, ll.SANDBOX_ID)
