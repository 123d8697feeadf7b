"""Under Landlock the repository's object store is out of the tree while a command runs, and a view
without the history's secrets stands at its name (:mod:`codeward.sandbox.landlock_store`).

Judged from outside: what the command printed (raw reads, a shift no known-value encoding follows, a
pack and loose objects inflated by hand through the view's alternates), and the host's ``.git``
afterwards (the same store by inode, refs unmoved, nothing left in ``.git/refs``). The control runs
the same reads with the view switched off and must find every planted value.
"""

from __future__ import annotations

import dataclasses
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from tests.privacy.history_repo import AWS, DANGLING, LETTERS, PLANTED, PRIVATE_NOTE, TOKEN, git, leaky_history
from tests.privacy.test_git_objects_view_e2e import UNPACK as INFLATE
from tests.support.cw_subprocess import run_cw, sandbox_running

from codeward.project import open_project

pytestmark = pytest.mark.sandbox

SHIFT = "python3 -c 'import sys;sys.stdout.write(\"\".join(chr(ord(c)+1) for c in sys.stdin.read()))'"
READS = (
    "git show HEAD~1:.env; git show HEAD~1:config.py | cut -c3- | " + SHIFT + "; "
    "git --no-replace-objects show HEAD~1:.env; git cat-file -p $(git rev-parse HEAD~1:.env); "
    "git cat-file --batch-all-objects --batch; git log -p --all --text --binary | " + SHIFT + "; "
    "git archive HEAD~1 | " + SHIFT + "; python3 inflate.py | " + SHIFT + "; true"
)


def _landlock() -> Any:
    from codeward.errors import SandboxUnavailable
    from codeward.sandbox import select_sandbox

    try:
        return select_sandbox("landlock")
    except SandboxUnavailable as e:
        pytest.skip(f"Landlock cannot be enforced here: {e}")


def _leaks(out: str) -> list[str]:
    """Planted values in ``out``, as they are or shifted by one character."""
    back = "".join(chr(ord(c) - 1) if ord(c) > 33 else c for c in out)
    return [v for v in (*PLANTED, PRIVATE_NOTE) if v in out or v[2:] in back]


def _store(repo: Path) -> tuple[int, int]:
    st = (repo / ".git" / "objects").lstat()
    return st.st_dev, st.st_ino


def _spec(repo: Path) -> Any:
    (repo / "inflate.py").write_text(INFLATE)
    spec = open_project(repo, None).sandbox_spec()
    return dataclasses.replace(spec, output_cap=8 << 20)


def test_reads_of_the_history_find_placeholders_and_the_store_comes_back(git_repo: Path) -> None:
    sb = _landlock()
    leaky_history(git_repo)
    before, head = _store(git_repo), git(git_repo, "rev-parse", "HEAD")
    r = sb.run(["sh", "-c", READS], _spec(git_repo))
    assert _leaks(r.output) == []
    assert "the content of .env is hidden" in r.output and "<secret:github-pat:" in r.output
    assert "ordinary-line-3" in r.output  # what is not secret still reads
    assert _store(git_repo) == before and not (git_repo / ".git" / "refs" / "replace").exists()
    assert not list((git_repo / ".git").glob("*.from-sandbox"))
    assert git(git_repo, "rev-parse", "HEAD") == head
    assert AWS in git(git_repo, "show", "HEAD~1:.env")  # the user's store is whole


@pytest.mark.xfail(strict=True, raises=AssertionError, reason="control: without the view the store is raw")
def test_control_without_the_view_the_history_is_raw(git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sb = _landlock()
    leaky_history(git_repo)
    monkeypatch.setattr("codeward.sandbox.landlock_store.planned", lambda spec: [])
    r = sb.run(["sh", "-c", READS], _spec(git_repo))
    assert _leaks(r.output) == []


def test_a_commit_in_the_sandbox_fails_before_it_moves_a_ref(git_repo: Path) -> None:
    sb = _landlock()
    leaky_history(git_repo)
    head = git(git_repo, "rev-parse", "HEAD")
    r = sb.run(
        ["sh", "-c", "echo new > new.txt && git add new.txt && git -c user.name=a -c user.email=a@b commit -qm x"],
        _spec(git_repo),
    )
    assert r.exit_code not in (0, None)
    assert r.note is not None and "read-only view of the history" in r.note
    assert git(git_repo, "rev-parse", "HEAD") == head
    subprocess.run(["git", "fsck", "--no-dangling"], cwd=git_repo, check=True, capture_output=True)


def test_what_a_command_puts_at_the_store_s_name_is_set_aside(git_repo: Path) -> None:
    sb = _landlock()
    leaky_history(git_repo)
    before = _store(git_repo)
    r = sb.run(["sh", "-c", "rm .git/objects && mkdir .git/objects && echo planted > .git/objects/x"], _spec(git_repo))
    assert r.exit_code == 0, r.output
    assert _store(git_repo) == before
    aside = git_repo / ".git" / "objects.from-sandbox"
    assert (aside / "x").read_text() == "planted\n"
    assert AWS in git(git_repo, "show", "HEAD~1:.env")


def test_a_killed_run_s_store_is_put_back_by_the_next(git_repo: Path) -> None:
    _landlock()
    leaky_history(git_repo)
    before = _store(git_repo)
    tier = ("-c", "sandbox.tier=landlock")
    with sandbox_running(git_repo, "sleep 60", args=tier, kill=True):
        assert (git_repo / ".git" / "objects").is_symlink()  # the view stands at the store's name
    time.sleep(0.5)
    again = run_cw("sandbox", *tier, "--", "git show HEAD~1:config.py", cwd=git_repo)
    assert "interrupted" in again.stderr + again.stdout  # refused once: what came back was not scanned
    again = run_cw("sandbox", *tier, "--", "git show HEAD~1:config.py", cwd=git_repo)
    assert again.returncode == 0, again.stderr
    assert TOKEN not in again.stdout and "<secret:github-pat:" in again.stdout
    assert _store(git_repo) == before
    every = subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch"], cwd=git_repo, capture_output=True)
    assert all(v.encode() in every.stdout for v in (LETTERS, DANGLING))  # the user's store is whole
