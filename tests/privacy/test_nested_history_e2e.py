"""The history of nested repositories and submodules: their secrets are known values (tests by the
third red team, kept), and under bubblewrap they get the object view the workspace's repository
gets, so a transform no known-value matching follows (a shift by one character) finds only the
placeholder. Judged by the bytes the model server received; the sandbox-level controls are in
tests/sandbox/test_sandbox_git_nested_view.py (the nested binds dropped, the blob read raw)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.support.cli import codeward, write_config

pytestmark = pytest.mark.sandbox

AWS = "Hs8Dk2Lq9Wz4Xc7Vb1Nm5Tr3Yp6Gf0Ju2Ei8Oa4"


def g(repo: Path, *a: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=u", "-c", "user.email=u@e", "-c", "protocol.file.allow=always", *a],
        check=True,
        capture_output=True,
    )


def _leaky_repo(d: Path) -> None:
    d.mkdir(parents=True)
    g(d, "init", "-q")
    (d / "creds.txt").write_text(f"aws_secret_access_key = {AWS}\n")
    g(d, "add", "-A")
    g(d, "commit", "-qm", "add creds")
    (d / "creds.txt").unlink()
    (d / "README").write_text("lib\n")
    g(d, "add", "-A")
    g(d, "commit", "-qm", "remove creds")


def _run(model_server: Any, git_repo: Path, cw_home: Path, cmd: str, tier: str) -> str:
    model_server.script([{"tool": "shell", "args": {"command": cmd}}, {"text": "done"}])
    write_config(cw_home, model_server.url, "chat", extra=f'[sandbox]\ntier = "{tier}"\n')
    run = codeward("exec", "--json", "-a", "full-auto", "go", cwd=git_repo)
    assert run.returncode == 0, run.stderr
    assert len(model_server.requests) >= 2
    return "\n".join(r.body if isinstance(r.body, str) else r.body.decode() for r in model_server.requests)


@pytest.mark.parametrize("tier", ["bwrap", "landlock"])
def test_a_nested_repositorys_old_secret_is_redacted(
    model_server: Any, git_repo: Path, cw_home: Path, tier: str
) -> None:
    _leaky_repo(git_repo / "vendor" / "lib")
    sent = _run(model_server, git_repo, cw_home, "git -C vendor/lib show HEAD~1:creds.txt | rev; echo ran-it", tier)
    assert "ran-it" in sent
    assert AWS[::-1] not in sent and AWS not in sent


@pytest.mark.parametrize("tier", ["bwrap", "landlock"])
def test_a_submodules_old_secret_is_redacted(
    model_server: Any, git_repo: Path, cw_home: Path, tier: str, tmp_path: Path
) -> None:
    _leaky_repo(tmp_path / "upstream")
    g(git_repo, "submodule", "add", "-q", str(tmp_path / "upstream"), "sub")
    g(git_repo, "commit", "-qm", "add sub")
    sent = _run(model_server, git_repo, cw_home, "git -C sub show HEAD~1:creds.txt | rev; echo ran-it", tier)
    assert "ran-it" in sent
    assert AWS[::-1] not in sent and AWS not in sent


def test_nested_repositories_are_found_from_the_index(git_repo: Path, tmp_path: Path) -> None:
    from codeward.privacy.history_secrets import nested_repositories
    from codeward.project import open_project

    _leaky_repo(git_repo / "vendor" / "lib")
    _leaky_repo(tmp_path / "upstream")
    g(git_repo, "submodule", "add", "-q", str(tmp_path / "upstream"), "sub")
    found = nested_repositories(open_project(git_repo, None).workspace)
    assert found == [git_repo / "sub", git_repo / "vendor" / "lib"]


SHIFT = "python3 -c 'import sys; print(\"\".join(chr(ord(c) + 1) for c in sys.stdin.read()))'"


def _shifted(text: str) -> str:
    return "".join(chr(ord(c) + 1) for c in text)


@pytest.mark.parametrize("kind", ["nested", "submodule"])
def test_a_nested_repositorys_old_secret_shifted_by_one_stays_off_the_wire(
    model_server: Any, git_repo: Path, cw_home: Path, tmp_path: Path, kind: str
) -> None:
    if kind == "nested":
        _leaky_repo(git_repo / "vendor" / "lib")
        where = "vendor/lib"
    else:
        _leaky_repo(tmp_path / "upstream")
        g(git_repo, "submodule", "add", "-q", str(tmp_path / "upstream"), "sub")
        g(git_repo, "commit", "-qm", "add sub")
        where = "sub"
    cmd = f"git -C {where} show HEAD~1:creds.txt | {SHIFT}; git -C {where} log --format=%s; echo ran-it"
    sent = _run(model_server, git_repo, cw_home, cmd, "bwrap")
    assert "ran-it" in sent and "remove creds" in sent  # the command ran, its history reads
    assert _shifted(AWS) not in sent and AWS not in sent
