"""Red team rt24: the fixes after rt23 (borrowed nested stores, the shared lock, recovery by every tier).

Fixtures as in tests/test_rt23_attacks.py: workspace, HOME and CODEWARD_HOME under /var/tmp.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.privacy.history_repo import PRIVATE_NOTE
from tests.sandbox.test_landlock_store import _landlock, _leaks
from tests.support.shared_tmp import leaky_outside_tmp, session_specs

pytestmark = pytest.mark.sandbox


@pytest.fixture
def outside(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with leaky_outside_tmp(monkeypatch) as repo:
        yield repo


def _bwrap() -> Any:
    from codeward.errors import SandboxUnavailable
    from codeward.sandbox import select_sandbox

    try:
        return select_sandbox("bwrap")
    except SandboxUnavailable as e:
        pytest.skip(f"bubblewrap cannot run here: {e}")


ROTATED = "Rotated0Rotated1Rotated2Rotated3Rotated4x"

# Reads every store it can find under /var/tmp by hand: the blob id comes from the view's trees.
FIND_HELD = r"""
ID=$(git rev-parse HEAD~1:.env 2>/dev/null || true)
echo "id=$ID"
for d in $(find / -xdev \( -path /proc -o -path /sys \) -prune -o -type d -name 'objects' -print 2>/dev/null) \
         $(find / -xdev \( -path /proc -o -path /sys \) -prune -o -type d -path '*codeward-hold-*' -print 2>/dev/null); do
  [ -d "$d/pack" ] || continue
  GIT_DIR=/nonexistent GIT_OBJECT_DIRECTORY="$d" git cat-file -p "$ID" 2>/dev/null && echo "from $d"
done
true
"""


def test_a_killed_landlock_run_of_another_home_is_not_recovered_and_the_user_s_next_commit_is_lost(
    outside: Path,
) -> None:
    """hold.recover only reads the journal of the bwrap session's own codeward home. A Landlock run
    under another CODEWARD_HOME (a second tool, a CI job, `codeward sandbox` from another shell with
    its own home) that is killed leaves the real store in its holding directory and .git/objects a
    link to its forged store. The bwrap session takes the shared lock (nobody holds it), puts nothing
    back, and binds no view (the link leads out of the workspace), so git in the bwrap session fails
    ("not a git repository"). On the host, .git/objects still leads to the dead run's forged store:
    the user's next commit (as root, whom the store's 0555 mode does not stop; otherwise the commit
    fails) writes its objects there, and the other home's next run puts the real store back and
    sweeps the forged one: HEAD is a bad object, the commit is lost."""
    from tests.support.cw_subprocess import sandbox_running

    from codeward.errors import SandboxUnavailable

    _landlock()
    bw = _bwrap()
    other = outside.parent / "cwhome2"
    other.mkdir()
    with sandbox_running(
        outside, "sleep 60", args=("-c", "sandbox.tier=landlock"), env={"CODEWARD_HOME": str(other)}, kill=True
    ):
        assert (outside / ".git" / "objects").is_symlink()
    time.sleep(0.5)
    spec = session_specs(outside)
    with pytest.raises(SandboxUnavailable, match="interrupted earlier run"):  # put back, then refused once
        bw.run(["sh", "-c", "true"], spec())
    assert not (outside / ".git" / "objects").is_symlink()
    r = bw.run(["sh", "-c", FIND_HELD], spec())
    leaked = [*_leaks(r.output), *([PRIVATE_NOTE] if PRIVATE_NOTE in r.output else [])]
    assert leaked == [], r.output
    inside = bw.run(["sh", "-c", "git log --oneline | wc -l"], spec())
    (outside / "README.md").write_text("user keeps working\n")
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "add", "README.md"], cwd=outside, env=env, capture_output=True)
    host = subprocess.run(["git", "commit", "-qm", "work"], cwd=outside, env=env, capture_output=True, text=True)
    # the other home's next run puts the store back and sweeps its dead run's forged store
    from tests.support.cw_subprocess import run_cw

    run_cw("sandbox", "-c", "sandbox.tier=landlock", "--", "true", cwd=outside, env={"CODEWARD_HOME": str(other)})
    run_cw("sandbox", "-c", "sandbox.tier=landlock", "--", "true", cwd=outside, env={"CODEWARD_HOME": str(other)})
    log = subprocess.run(["git", "log", "--oneline"], cwd=outside, env=env, capture_output=True, text=True)
    assert host.returncode == 0 and log.returncode == 0 and "work" in log.stdout, (
        "the user's commit made while the other home's dead run held the store: "
        + host.stderr
        + " / git log now: "
        + log.stderr
        + log.stdout
        + " / git log in the bwrap session meanwhile: "
        + inside.output[-300:]
    )
