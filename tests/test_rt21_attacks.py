"""Red team rt21: the Landlock object-store view (landlock_store: the real store held, a forged one at its name).

Both attacks use a second codeward process whose Landlock command is running, so that
``.git/objects`` is its link to a forged store: one plans this command's view before taking the
workspace lock (no view, then the real store back and readable), the other builds a view through
the forged store and caches the placeholders' ids as clean. Each failed on a5dcd68.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from tests.privacy.history_repo import git, leaky_history
from tests.sandbox.test_landlock_store import SHIFT, _landlock, _leaks, _spec
from tests.support.cw_subprocess import sandbox_running

from codeward.project import open_project

pytestmark = pytest.mark.sandbox

CLI = [sys.executable, "-m", "codeward", "sandbox", "-c", "sandbox.tier=landlock", "--"]
READ = "git show HEAD~1:config.py | " + SHIFT  # a shift by one: no output matching follows it


@contextmanager
def other_session_running(repo: Path, seconds: int = 5) -> Iterator[None]:
    """Another codeward process (a second session, a parallel tool call) runs a Landlock command in
    ``repo``: while it runs, ``.git/objects`` is the link to that session's forged store."""
    with sandbox_running(repo, f"sleep {seconds}", args=("-c", "sandbox.tier=landlock")):
        assert (repo / ".git" / "objects").is_symlink(), "the other session's command is not running"
        yield


def test_a_command_started_while_another_session_s_command_runs_reads_the_raw_history(git_repo: Path) -> None:
    """planned() runs before the workspace lock: it sees .git/objects as a link to a store outside
    the workspace, plans no view and no hold, then waits for the lock; by the time the command runs
    the real store is back at its name, unheld, and readable."""
    sb = _landlock()
    leaky_history(git_repo)
    with other_session_running(git_repo):
        r = sb.run(["sh", "-c", READ], _spec(git_repo))
    assert _leaks(r.output) == []


def test_a_view_built_while_another_command_runs_marks_secret_blobs_clean(git_repo: Path, cw_home: Path) -> None:
    """A view built while another session's forged store stands at .git/objects (bubblewrap's
    object_binds, or any git_view() call of a second session) scans placeholders under the secret
    blobs' own ids, finds nothing, and saves those ids to the shared clean cache; the next view
    trusts the cache and packs the real blob."""
    sb = _landlock()
    leaky_history(git_repo)
    blob = git(git_repo, "rev-parse", "HEAD~1:config.py").strip()
    with other_session_running(git_repo):
        open_project(git_repo, None).sandbox_spec().git_view()  # what a second session's tier asks for
    poisoned = [f.name for f in cw_home.rglob("history-*.ids") if blob in f.read_text()]
    r = sb.run(["sh", "-c", READ], _spec(git_repo))
    assert _leaks(r.output) == [] and poisoned == []
