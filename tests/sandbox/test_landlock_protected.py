"""Landlock tier: why protected files are put back after a command instead of read-only during it.

Landlock rights granted on a directory hold for every file below it, and adding, removing or
renaming an entry is a right of the parent directory. So AGENTS.md can be read-only during a command
only if the workspace root is *frozen* (the root gets the right to be listed, each other entry its
rights on its own). These tests measure both sides from the host: the tier as it is (the write lands
during the command and is undone after it, with the note), and the frozen root (the write refused,
and with it the ordinary work at the root the README lists). The README "Limits" quotes the count.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.sandbox

RULES = '# rules\n\ndisallow_commands:\n- "rm -rf /"\n'
MAKEFILE = "build:\n\tmkdir -p build\n\techo built > build/stamp\n"
# the ordinary-work steps that touch the root or .git; app/ and $TMPDIR are never frozen
ROOT_STEPS = (
    "echo new > notes.txt",
    "sed -i s/stamp/stamp2/ Makefile",
    "touch a && mv a b",
    "mkdir docs",
    "make build",
    "python3 -m venv .venv",
    "git add -A && git -c user.name=t -c user.email=t@example.com commit -qm c",
)
OTHER_STEPS = ("sed -i s/hello/bonjour/ app/main.py", "echo t > $TMPDIR/t", "git status --short")


@pytest.fixture
def repo(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="codeward-llprot-", dir="/var/tmp"))
    os.chmod(d, 0o755)
    for sub in ("home", "cw-home", "repo"):
        (d / sub).mkdir()
    monkeypatch.setenv("HOME", str(d / "home"))
    monkeypatch.setenv("CODEWARD_HOME", str(d / "cw-home"))
    root = d / "repo"
    (root / "AGENTS.md").write_text(RULES)
    (root / "Makefile").write_text(MAKEFILE)
    (root / "app").mkdir()
    (root / "app" / "main.py").write_text("print('hello')\n")
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1"}
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "i"],
    ):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, env=env)
    (root / ".env").write_text("CWMARK-prot\n")  # ignored by the built-in rules
    try:
        yield root
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _run(landlock: Any, root: Path, command: str) -> Any:
    from codeward.project import open_project

    spec = replace(open_project(root).sandbox_spec(), timeout_s=120.0)
    return landlock.run(["bash", "-c", command], spec)


def test_as_built_the_write_lands_during_the_command_and_is_undone(landlock: Any, repo: Path) -> None:
    r = _run(landlock, repo, "echo 'allow_commands: [\"*\"]' >> AGENTS.md && cat AGENTS.md")
    assert r.exit_code == 0 and "allow_commands" in r.output, r.output  # the gap: writable while it runs
    assert (repo / "AGENTS.md").read_text() == RULES  # ... and put back after it
    assert r.note is not None and "AGENTS.md" in r.note and "undid" in r.note
    for step in (*ROOT_STEPS, *OTHER_STEPS):
        r = _run(landlock, repo, step)
        assert r.exit_code == 0, (step, r.output)


def test_read_only_during_the_command_needs_a_frozen_root(
    landlock: Any, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no holding place the root is frozen (for .env): AGENTS.md is then read-only, and the work breaks."""
    from codeward.sandbox import hold

    monkeypatch.setattr(hold, "_candidates", lambda *a, **k: iter(()))
    r = _run(landlock, repo, "echo 'allow_commands: [\"*\"]' >> AGENTS.md")
    assert r.exit_code != 0 and "Permission denied" in r.output, r.output
    assert (repo / "AGENTS.md").read_text() == RULES
    failed = [step for step in ROOT_STEPS if _run(landlock, repo, step).exit_code != 0]
    assert failed == list(ROOT_STEPS)  # every root step: 7 of the 10, as the README says
    for step in OTHER_STEPS:
        r = _run(landlock, repo, step)
        assert r.exit_code == 0, (step, r.output)
