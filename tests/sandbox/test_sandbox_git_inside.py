"""git inside the sandbox shows what the host shows: hidden tracked files unchanged, no stubs."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from tests.support.sandbox_helpers import Project, git

pytestmark = pytest.mark.sandbox


def _track_hidden(project: Project) -> str:
    """Commit the hidden files (people do track .env files and fixtures); return the host's own status."""
    git(project.root, "add", "-f", ".env", "secrets/token.txt", "certs/server.pem", "AGENTS.md", ".codewardignore")
    git(project.root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "tracked secrets")
    return git(project.root, "status", "--porcelain").stdout


def test_status_diff_log_match_the_host(bwrap: Any, project: Project) -> None:
    host = _track_hidden(project)
    r = project.run(
        bwrap, "git status --porcelain; echo status=$?; git diff --stat; echo diff=$?; git log --oneline | wc -l"
    )
    lines = r.output.splitlines()
    assert "status=0" in lines and "diff=0" in lines, r.output
    # tracked files: the same as on the host (untracked hidden directories cannot be listed inside)
    inside = [ln for ln in lines[: lines.index("status=0")] if not ln.startswith(("??", "warning:"))]
    assert inside == [ln for ln in host.splitlines() if not ln.startswith("??")]
    assert " .env" not in r.output and "cannot hash" not in r.output
    assert lines[-1].strip() == "2"
    # the real index is untouched: the host still tracks them without skip-worktree
    flags = git(project.root, "ls-files", "-v", ".env").stdout
    assert flags.startswith("H ")


def test_control_without_the_index_view_git_sees_phantom_changes(
    bwrap: Any, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    import codeward.sandbox.gitview as gv

    _track_hidden(project)
    monkeypatch.setattr(gv, "masked_index", lambda *a, **k: None)
    r = project.run(bwrap, "git status --porcelain; git diff --stat >/dev/null 2>&1; echo diff=$?")
    assert "M .env" in r.output or "diff=128" in r.output


def test_no_placeholder_for_missing_protected_names(bwrap: Any, project: Project) -> None:
    """A repository without .codexignore or .codeward shows none inside (no stub the host lacks)."""
    bare = project.root / "bare"
    bare.mkdir()
    git(bare, "init", "-q")
    r = bwrap.run(["bash", "-c", "ls -A; git status --porcelain"], project.spec(cwd=bare))
    assert r.output.split() == [".git"]
    assert not (bare / ".codexignore").exists() and not (bare / "AGENTS.md").exists()
    subprocess.run(["ls"], cwd=bare, check=True)
