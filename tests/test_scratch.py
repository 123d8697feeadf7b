"""Scratch directories a killed codeward left are removed by the next run (codeward.scratch).

The end-to-end case kills a real ``codeward sandbox`` with SIGKILL while its command runs in a git
repository whose history holds a secret (so it made the object-store view, a copy of the pack),
then runs another command and looks at the temporary directory and the codeward home's ``run``."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from tests.support.cw_subprocess import run_cw, sandbox_running

from codeward import scratch


def _dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_a_dead_process_s_directory_is_removed_and_a_live_one_kept(tmp_path: Path) -> None:
    dead = tmp_path / f"codeward-x-{_dead_pid()}-abc"
    (dead / "sub").mkdir(parents=True)
    (dead / "sub" / "pack").write_bytes(b"x" * 100)
    with subprocess.Popen(["sleep", "30"]) as live_proc:
        live = tmp_path / f"codeward-x-{live_proc.pid}-def"
        live.mkdir()
        other_prefix = tmp_path / f"codeward-y-{_dead_pid()}-ghi"
        other_prefix.mkdir()
        made = scratch.process_dir("codeward-x-", tmp_path)
        live_proc.kill()
    assert not dead.exists()
    assert live.is_dir()  # its process still ran when the sweep looked
    assert other_prefix.is_dir()  # another prefix is another kind of scratch
    assert made.name.startswith(f"codeward-x-{os.getpid()}-") and made.is_dir()
    assert made.stat().st_mode & 0o777 == 0o700


def test_a_read_only_tree_of_a_dead_process_is_removed_too(tmp_path: Path) -> None:
    """A forged object store is ``0555`` on purpose (no git adds to it); its owner still removes it."""
    dead = tmp_path / f"codeward-x-{_dead_pid()}-abc"
    store = dead / "store-1" / "ab"
    store.mkdir(parents=True)
    (store / "cdef").write_bytes(b"x")
    for p in (store / "cdef", store, store.parent, dead):
        p.chmod(0o444 if p.is_file() else 0o555)
    assert scratch.sweep("codeward-x-", tmp_path) == [dead.name]
    assert not dead.exists()


def test_a_link_or_a_file_with_a_dead_pid_s_name_is_not_followed_or_removed(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep").write_text("data\n")
    pid = _dead_pid()
    (tmp_path / f"codeward-x-{pid}-lnk").symlink_to(precious)
    (tmp_path / f"codeward-x-{pid}-file").write_text("not a directory\n")
    assert scratch.sweep("codeward-x-", tmp_path) == []
    assert (precious / "keep").read_text() == "data\n"
    assert (tmp_path / f"codeward-x-{pid}-file").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs another user to own the directory (run as root)")
def test_another_user_s_directory_is_left_alone(tmp_path: Path) -> None:
    theirs = tmp_path / f"codeward-x-{_dead_pid()}-abc"
    theirs.mkdir()
    os.chown(theirs, 65534, 65534)
    assert scratch.sweep("codeward-x-", tmp_path) == []
    assert theirs.is_dir()


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1"}
    )


def test_what_a_killed_codeward_sandbox_left_is_removed_by_the_next_run(
    git_repo: Path, tmp_path: Path, cw_home: Path
) -> None:
    from codeward.errors import SandboxUnavailable
    from codeward.sandbox import select_sandbox

    try:
        select_sandbox("bwrap")
    except SandboxUnavailable as e:
        pytest.skip(f"the object-store view is made under bubblewrap only: {e}")
    token = "ghp_" + "Q7r2Xk9Lm4Np8Tv3Wz6Yb1Cd5Fg0Hj2Kl4Mn"
    (git_repo / "deploy.txt").write_text(f"token = {token}\n")
    _git(git_repo, "add", "deploy.txt")
    _git(git_repo, "commit", "-qm", "oops")
    (git_repo / "deploy.txt").write_text("token = (from the vault)\n")
    _git(git_repo, "commit", "-qam", "fix")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    run = cw_home / "run"  # the object-store view is made in the codeward home, the rest in $TMPDIR

    def scratch() -> list[Path]:
        return sorted([*tmp.iterdir(), *(run.iterdir() if run.is_dir() else ())])

    with sandbox_running(git_repo, "sleep 60", env={"TMPDIR": str(tmp)}, kill=True) as proc:
        pass
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and subprocess.run(["pgrep", "-s", str(proc.pid)], capture_output=True).stdout:
        time.sleep(0.1)  # bwrap's children of the killed session
    left = scratch()  # all the killed run's (both places are this test's own): no atexit ran
    assert any(p.name.startswith("codeward-objects-") for p in left), left  # the view's copy of the store
    again = run_cw("sandbox", "--", "true", cwd=git_repo, env={"TMPDIR": str(tmp)})
    assert again.returncode == 0, again.stderr
    assert [p for p in left if p.exists()] == []
