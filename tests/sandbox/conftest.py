"""Fixtures for the sandbox tests: real tiers, a realistic project, secrets with markers, host listeners.

Every escape test checks its outcome from the host side (a file unchanged, a listener that got
nothing, a sentinel process still alive), never only the command's exit code. Markers are unique
strings planted in each secret, so "the output does not contain the marker" is the ground truth for
reads.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.sandbox_helpers import Listener, Project, Sentinel, git

from codeward.errors import SandboxUnavailable

TIERS = ("bwrap", "landlock")


def _sandbox_or_skip(tier: str) -> Any:
    from codeward.sandbox import select_sandbox

    try:
        return select_sandbox(tier)
    except SandboxUnavailable as e:
        pytest.skip(f"{tier} cannot be enforced on this machine: {e}")


# The "none" run of every confinement test is the control: without a sandbox the escape must
# succeed, which proves the test can fail. strict=True turns an unexpected pass into a failure, and
# raises=AssertionError makes a control that breaks for another reason (a setup error) fail loudly.
CONTROL = pytest.param(
    "none",
    marks=pytest.mark.xfail(
        strict=True, raises=AssertionError, reason="control: with no sandbox this escape must succeed"
    ),
)


def _tier(name: str) -> Any:
    if name == "none":
        from codeward.sandbox import select_sandbox

        return select_sandbox("none", allow_unsandboxed=True)
    return _sandbox_or_skip(name)


@pytest.fixture(params=[*TIERS, CONTROL])
def sandbox(request: pytest.FixtureRequest) -> Any:
    """Each real tier in turn (skipped, with the reason, where the machine lacks it), plus the control."""
    return _tier(request.param)


@pytest.fixture(params=TIERS)
def confined(request: pytest.FixtureRequest) -> Any:
    """The real tiers only, for attempts too disruptive to try unconfined (mounting over host paths)."""
    return _sandbox_or_skip(request.param)


@pytest.fixture(params=[*TIERS, "none"])
def any_tier(request: pytest.FixtureRequest) -> Any:
    """Guarantees every tier gives, even "none": env allowlist, limits, timeout, output cap, tree kill."""
    return _tier(request.param)


@pytest.fixture
def bwrap() -> Any:
    return _sandbox_or_skip("bwrap")


@pytest.fixture
def landlock() -> Any:
    return _sandbox_or_skip("landlock")


def _write(p: Path, text: str) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)


@pytest.fixture
def project(git_repo: Path, cw_home: Path) -> Project:
    root = git_repo
    home = Path(os.environ["HOME"])
    proj = Project(root=root, home=home, cw_home=cw_home)
    secrets = {
        "env": root / ".env",
        "pem": root / "certs" / "server.pem",
        "secrets_dir": root / "secrets" / "token.txt",
        "customers": root / "data" / "customers" / "list.csv",
        "private": root / "private" / "notes.txt",
        "ssh": home / ".ssh" / "id_rsa",
        "aws": home / ".aws" / "credentials",
        "gh": home / ".config" / "gh" / "hosts.yml",
        "auth": cw_home / "auth.json",
    }
    for name, path in secrets.items():
        proj.markers[name] = f"CWMARK-{name}-{os.urandom(6).hex()}"
        _write(path, proj.markers[name] + "\n")
    _write(root / "AGENTS.md", "# rules\n\ndisallow_directories:\n- data/customers/\n")
    _write(root / ".codewardignore", "private/\n")
    _write(root / ".codeward" / "config.toml", "[sandbox]\nnetwork = false\n")
    _write(root / "src" / "main.py", "print('hello')\n")
    _write(home / ".bashrc", "# user's bashrc\n")
    # a nested repository with its own hooks
    nested = root / "sub"
    nested.mkdir()
    git(nested, "init", "-q", "-b", "main")
    # a worktree-style .git pointer file naming a git dir inside the workspace
    gitdir = root / "wt-gitdir"
    (gitdir / "hooks").mkdir(parents=True)
    _write(gitdir / "HEAD", "ref: refs/heads/main\n")
    _write(gitdir / "config", "[core]\n\tbare = false\n")
    _write(root / "wt" / ".git", "gitdir: ../wt-gitdir\n")
    _write(root / "wt" / "file.txt", "x\n")
    return proj


@pytest.fixture
def outside(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A host directory outside the workspace that commands can see (read-only), not under /tmp or a home.

    Root uses a system directory. A normal user can write only where the sandbox hides everything
    (/tmp, /var/tmp, the homes), so for it /var/tmp is made an ordinary host directory for this test:
    shown read-only like /opt, not replaced by a private one. Hiding plays no part in the outcome.
    """
    for base in ("/opt", "/srv", "/var/lib", "/usr/local"):
        if os.access(base, os.W_OK):
            break
    else:
        from codeward.sandbox import layout

        if not os.access("/var/tmp", os.W_OK):
            pytest.skip("no writable host directory outside /tmp and the homes to use as the outside target")
        base = "/var/tmp"
        monkeypatch.setattr(layout, "PRIVATE_DIRS", tuple(d for d in layout.PRIVATE_DIRS if d != base))
        assert base not in (*layout.PRIVATE_DIRS, *layout.other_top_dirs())
    d = Path(tempfile.mkdtemp(prefix="codeward-escape-", dir=base))
    try:
        (d / "victim.txt").write_text("original\n")
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


# --- host-side observers -----------------------------------------------------------------------


@pytest.fixture
def listeners(outside: Path) -> Iterator[dict[str, Listener]]:
    tag = os.urandom(4).hex()
    ls = {
        "tcp": Listener("tcp"),
        "udp": Listener("udp"),
        "abstract": Listener("abstract", f"codeward-test-{tag}"),
        "unix": Listener("unix", str(outside / "agent.sock")),
    }
    try:
        yield ls
    finally:
        for listener in ls.values():
            listener.close()


@pytest.fixture
def sentinel() -> Iterator[Sentinel]:
    key = "sk-proj-SENTINEL" + os.urandom(12).hex()
    env = {**os.environ, "OPENAI_API_KEY": key}
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time\nwhile True: time.sleep(1)"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.2)
    try:
        yield Sentinel(proc, key)
    finally:
        proc.kill()
        proc.wait()
