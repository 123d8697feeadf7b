"""A repository whose ``.git/objects`` is a link (Android's ``repo`` lays checkouts out so) gets the
object view too, bound where the store lies (red team rt5: the view was skipped for a linked store,
so ``git show HEAD~1:.env`` shifted by one character carried an old password to the model).

Judged by what reached the scripted model; the control turns :func:`codeward.gitfiles.linked_store`
back into "no store here" for links, in-process, and shows the blob raw.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.support.cli import codeward, write_config
from tests.support.model_server import strings

pytestmark = pytest.mark.sandbox
PW = "Vt7Qm2Xr9Lk4Pw8Zn3Hc6Jd1"
SHIFT = "python3 -c 'import sys; print(\"\".join(chr(ord(c)+1) for c in sys.stdin.read()))'"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def _history_with_old_secret(repo: Path) -> None:
    """``.env`` committed once, then untracked and ignored; the store moved aside and linked back."""
    (repo / ".env").write_text(f"DB_PASSWORD={PW}\n")
    (repo / "a.txt").write_text("a\n")
    _git(repo, "add", "-f", ".env", "a.txt")
    _git(repo, "commit", "-qm", "one")
    _git(repo, "rm", "-q", "--cached", ".env")
    (repo / ".gitignore").write_text(".env\n")
    _git(repo, "add", ".gitignore")
    _git(repo, "commit", "-qm", "two")
    objects = repo / ".git" / "objects"
    os.rename(objects, repo / ".git" / "objects-store")
    os.symlink("objects-store", objects)


@pytest.mark.parametrize("where", ["root", "nested"])
def test_a_linked_object_store_gets_the_view(where: str, model_server: Any, git_repo: Path, cw_home: Path) -> None:
    repo = git_repo
    if where == "nested":
        repo = git_repo / "lib"
        repo.mkdir()
        _git(repo, "init", "-q")
        _git(repo, "config", "user.email", "t@example.com")
        _git(repo, "config", "user.name", "t")
        (git_repo / ".gitignore").write_text(".env\n")
    _history_with_old_secret(repo)
    show = f"git -C {repo.relative_to(git_repo).as_posix()} show HEAD~1:.env | {SHIFT}"
    model_server.script([{"tool": "shell", "args": {"command": show}}, {"text": "done"}])
    write_config(cw_home, model_server.url, "chat", extra='[sandbox]\ntier = "bwrap"\n')
    run = codeward("exec", "--json", "-a", "full-auto", "go", cwd=git_repo)
    assert run.returncode == 0, run.stderr
    sent = "\n".join(x for r in model_server.requests for x in strings(json.loads(r.body)))
    assert PW not in "".join(chr(ord(c) - 1) for c in sent)
    assert "hidden" in "".join(chr(ord(c) - 1) for c in sent)  # git printed the placeholder blob


@pytest.mark.xfail(strict=True, raises=AssertionError, reason="control: a linked store without a view is raw")
def test_control_a_linked_store_is_raw_without_its_view(git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from codeward import gitfiles
    from codeward.project import open_project
    from codeward.sandbox import select_sandbox

    _history_with_old_secret(git_repo)
    original = gitfiles.linked_store
    monkeypatch.setattr(gitfiles, "linked_store", lambda o, w: None if o.is_symlink() else original(o, w))
    r = select_sandbox("bwrap").run(["bash", "-c", "git show HEAD~1:.env"], open_project(git_repo).sandbox_spec())
    assert PW not in r.output
