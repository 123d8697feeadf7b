"""Red team rt15: ordinary work that Landlock's /tmp without REFER (``landlock.build_landlock_spec``,
since rt13) breaks: git's receive-pack moves pushed objects from its quarantine directory into
``objects/xx/`` (a rename across directories), so ``git push`` to a repository under /tmp fails under
Landlock; bubblewrap (its own /tmp) and the workspace (granted REFER) are fine."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.cli import write_config
from tests.support.cw_subprocess import run_cw

from codeward.errors import SandboxUnavailable

pytestmark = pytest.mark.sandbox


@pytest.fixture
def beside_tmp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A repository and a home outside /tmp (where a user has them), so Landlock grants /tmp."""
    base = Path(tempfile.mkdtemp(prefix="rt15-", dir="/var/tmp"))
    ws = base / "ws"
    ws.mkdir()
    for args in (
        ["init", "-q", "-b", "main"],
        ["-c", "user.name=a", "-c", "user.email=a@b", "commit", "-q", "--allow-empty", "-m", "init"],
    ):
        subprocess.run(["git", *args], cwd=ws, check=True)
    home = base / "user"
    (home / ".codeward").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("CODEWARD_HOME", str(home / ".codeward"))
    yield ws
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("tier", ["landlock", "bwrap"])
def test_git_push_to_a_repository_under_tmp(beside_tmp: Path, tier: str) -> None:
    from codeward.sandbox import select_sandbox

    try:
        select_sandbox(tier)
    except SandboxUnavailable as e:
        pytest.skip(f"{tier} cannot be enforced here: {e}")
    write_config(
        Path(str(beside_tmp.parent / "user/.codeward")),
        "http://127.0.0.1:9/v1",
        "chat",
        extra=f'[sandbox]\ntier = "{tier}"\n',
    )
    bare = f"/tmp/rt15-{uuid.uuid4().hex}.git"
    try:
        got = run_cw(
            "sandbox",
            "--",
            f"git init -q --bare {bare} && git push -q {bare} HEAD:refs/heads/main && echo pushed",
            cwd=beside_tmp,
        )
    finally:
        shutil.rmtree(bare, ignore_errors=True)
    assert "pushed" in got.stdout, got.stdout + got.stderr
