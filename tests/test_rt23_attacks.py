"""Red team rt23: the Landlock object-store view after rt22 (views and forged stores in <home>/run).

Fixtures keep the workspace, HOME and CODEWARD_HOME under /var/tmp (so /tmp stays shared with the
command, as in Docker CI). Each test drives one project across commands, as a session does.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.privacy.history_repo import PRIVATE_NOTE
from tests.sandbox.test_landlock_store import _landlock, _leaks
from tests.support.shared_tmp import leaky_outside_tmp, one_commit, session_specs

pytestmark = pytest.mark.sandbox


@pytest.fixture
def outside(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with leaky_outside_tmp(monkeypatch) as repo:
        yield repo


def _nested_clean_repo(sub: Path) -> None:
    """A vendored clone with an ordinary history (nothing to hide: it gets no view of its own)."""
    sub.mkdir()
    one_commit(sub, "lib.py", "def f():\n    return 1\n")
    time.sleep(0.3)


# Command 1: a nested repository of the command's own whose store borrows the workspace's store by
# info/alternates (during the command that name is the link to the forged store, so git accepts the
# id), and whose one commit files the old .env blob (an ignored path in the workspace's history)
# under an ordinary name.
NEST = r"""
ID=$(git rev-parse HEAD~1:.env)
cd sub
echo "$(cd .. && pwd)/.git/objects" > .git/objects/info/alternates
git update-index --add --cacheinfo 100644,$ID,notes.txt
T=$(git write-tree)
C=$(git -c user.name=a -c user.email=a@b commit-tree $T -m x)
git update-ref refs/heads/main $C
git log --oneline | wc -l
"""


def test_a_nested_repo_borrowing_the_workspace_store_by_alternates_reads_an_ignored_blob(outside: Path) -> None:
    """The nested repository's view is built outside the sandbox, when the workspace's real store is
    back at .git/objects: its info/alternates reaches every real object, and the blob is judged by
    the nested repository's path for it (sub/notes.txt, not ignored), so only the scanner's findings
    are replaced and the rest of the ignored .env (here the note no rule finds) is packed into the
    view that the next command reads."""
    sb = _landlock()
    _nested_clean_repo(outside / "sub")
    spec = session_specs(outside)
    first = sb.run(["sh", "-c", NEST], spec())
    assert first.exit_code == 0, first.output
    second = sb.run(["sh", "-c", "cd sub && git show HEAD:notes.txt; git cat-file -p HEAD:notes.txt"], spec())
    assert _leaks(second.output) == [], second.output
    assert PRIVATE_NOTE[14:] not in second.output


ROTATED = "Rotated0Rotated1Rotated2Rotated3Rotated4x"  # the .env on disk (hidden: ignored)


def test_a_bwrap_command_started_during_a_landlock_command_reads_the_real_store_once_it_is_back(
    outside: Path,
) -> None:
    """A bwrap command takes no workspace lock while it runs. Started while another process's Landlock
    command holds the store (.git/objects is the link to that command's forged store), bwrap binds
    its view where the link leads (onto the forged store's directory, not the name .git/objects).
    When the Landlock command ends, the real store is renamed back to .git/objects, which nothing
    covers in the bwrap command's mount namespace: it reads the whole history raw. (.env, held the
    same way, is caught by the host watch: the output is withheld; the store is not watched.)"""
    from tests.support.cw_subprocess import sandbox_running

    from codeward.errors import SandboxUnavailable
    from codeward.sandbox import select_sandbox

    _landlock()
    try:
        bw = select_sandbox("bwrap")
    except SandboxUnavailable as e:
        pytest.skip(f"bubblewrap cannot run here: {e}")
    spec = session_specs(outside)
    spec()  # the bwrap session's first view, as a session opens (the store is in place)
    with sandbox_running(outside, "sleep 3", args=("-c", "sandbox.tier=landlock")):
        assert (outside / ".git" / "objects").is_symlink()
        r = bw.run(["sh", "-c", "sleep 6; git show HEAD~1:.env; git show HEAD~1:config.py; true"], spec())
    leaked = [*_leaks(r.output), *([ROTATED] if ROTATED in r.output else [])]
    assert leaked == [], r.output


def test_after_a_killed_landlock_run_a_bwrap_run_leaves_the_store_held_and_the_user_s_git_broken(
    outside: Path,
) -> None:
    """kill -9 of codeward during a Landlock command leaves .git/objects as the link to its forged
    store and the real store in the holding directory; only the Landlock tier's hold.take reads the
    journal. The next run under bubblewrap (another session, `sandbox.tier=bwrap`, a machine where
    bwrap works again) puts nothing back, and its process_dir sweep removes the dead process's view
    that the forged store reads as its alternate: the user's own `git log` on the host then fails
    (bad object) until some later Landlock command happens to run."""
    from tests.support.cw_subprocess import run_cw, sandbox_running

    from codeward.errors import SandboxUnavailable
    from codeward.sandbox import select_sandbox

    _landlock()
    try:
        select_sandbox("bwrap")
    except SandboxUnavailable as e:
        pytest.skip(f"bubblewrap cannot run here: {e}")
    with sandbox_running(outside, "sleep 60", args=("-c", "sandbox.tier=landlock"), kill=True):
        assert (outside / ".git" / "objects").is_symlink()
    time.sleep(0.5)
    run_cw("sandbox", "-c", "sandbox.tier=bwrap", "--", "git log --oneline", cwd=outside)
    host = subprocess.run(["git", "log", "--oneline"], cwd=outside, capture_output=True, text=True)
    assert host.returncode == 0, host.stderr
    assert not (outside / ".git" / "objects").is_symlink(), "the real store is still held"
