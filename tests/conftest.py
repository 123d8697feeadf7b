"""Test isolation: no test may touch the real $HOME, the real codeward home or the real keychain.

The autouse fixture points HOME and CODEWARD_HOME at temp dirs, selects the null keyring backend
(tests that need a keychain install the in-memory one from ``codeward.auth.keychain``), and removes
provider keys from the environment so a developer's real key can never reach a test server.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

KEY_VARS = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "CODEWARD_DEBUG")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    base = tmp_path_factory.mktemp("home")
    home = base / "user"
    cw_home = base / "codeward-home"
    home.mkdir()
    cw_home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("CODEWARD_HOME", str(cw_home))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local/share"))
    for var in KEY_VARS:
        monkeypatch.delenv(var, raising=False)
    return cw_home


@pytest.fixture
def cw_home(isolated_home: Path) -> Path:
    """The CODEWARD_HOME of this test."""
    return isolated_home


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    """A real git repository with one commit."""
    import subprocess

    repo = tmp_path / "repo"
    repo.mkdir()
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1"}

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, env=env)

    git("init", "-q", "-b", "main")
    git("config", "user.email", "test@example.com")
    git("config", "user.name", "Test")
    (repo / "README.md").write_text("# test repo\n")
    git("add", "README.md")
    git("commit", "-q", "-m", "init")
    return repo


@pytest.fixture
def model_server():
    """A scripted OpenAI-compatible server on loopback (both wire APIs); records every request."""
    from tests.support.model_server import ModelServer

    server = ModelServer()
    yield server
    server.close()


@pytest.fixture
def workspace_beside_tmp() -> Iterator[Path]:
    """A repository on /tmp's file system but not below /tmp (a home on the root file system, where
    Landlock's shared /tmp is not), for the attacks and the ordinary work that need both."""
    if not os.path.isdir("/var/tmp") or os.stat("/var/tmp").st_dev != os.stat("/tmp").st_dev:
        pytest.skip("/var/tmp is not on /tmp's file system here")
    base = Path(tempfile.mkdtemp(prefix="rt13-", dir="/var/tmp"))
    ws = base / "ws"
    subprocess.run(["git", "init", "-q", str(ws)], check=True)
    yield ws
    shutil.rmtree(base, ignore_errors=True)
