"""Ignore rules match without case on a case-insensitive file system (issue 11).

No case-insensitive file system can be made on this test machine (the kernel has no casefold
support: ``mount -t tmpfs -o casefold`` and an ``ext4 -O casefold`` image both fail to mount, and
there is no vfat), so the matcher's folding is driven through the second real input codeward honours,
git's ``core.ignorecase``, in a real repository; the file system probe is checked for the answer it
must give here (case-sensitive) and for failing closed.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from codeward.agent.session import build_session
from codeward.config.load import ConfigOverrides
from codeward.events import EventBus
from codeward.privacy.fscase import case_insensitive, git_ignorecase
from codeward.project import open_project
from codeward.providers.types import ToolCall


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1"})


@pytest.fixture
def repo(git_repo: Path) -> Path:
    for rel, text in {
        "SECRETS/prod.key.txt": "prod-secret\n",
        ".ENV": "TOKEN=1\n",
        "Data/Customers/list.txt": "alice\n",
        "reports/Q1.CSV": "1,2\n",
        "src/app.py": "print('hi')\n",
    }.items():
        p = git_repo / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    (git_repo / ".codewardignore").write_text("*.csv\n")
    (git_repo / "AGENTS.md").write_text("disallow_directories:\n- data/customers/\n")
    return git_repo


FOLDED = ("SECRETS/prod.key.txt", ".ENV", "Data/Customers/list.txt", "reports/Q1.CSV")


def test_this_file_system_is_case_sensitive_and_the_probe_says_so(tmp_path: Path) -> None:
    (tmp_path / "Name").write_text("x")
    assert case_insensitive(tmp_path) is False
    empty = tmp_path / "empty"
    empty.mkdir()
    assert case_insensitive(empty) is False
    assert list(empty.iterdir()) == []  # the probe file is gone again


def test_a_root_that_cannot_be_probed_is_taken_as_case_insensitive(tmp_path: Path) -> None:
    assert case_insensitive(tmp_path / "missing") is True  # fail closed: fold, hide more


def test_control_exact_case_matching_where_the_file_system_keeps_case(repo: Path) -> None:
    matcher = open_project(repo).ignore
    assert not matcher.casefold
    assert [r for r in FOLDED if matcher.match(r) is None] == list(FOLDED)
    assert matcher.match("src/app.py") is None


def test_git_ignorecase_folds_every_layer(repo: Path) -> None:
    git(repo, "config", "core.ignorecase", "true")
    assert git_ignorecase(repo) is True
    matcher = open_project(repo).ignore
    assert matcher.casefold
    for rel in FOLDED:
        assert matcher.match(rel) is not None, rel
    assert matcher.match("SECRETS/prod.key.txt").pattern == "secrets/"  # type: ignore[union-attr]
    assert matcher.match("reports/Q1.CSV").source == ".codewardignore"  # type: ignore[union-attr]
    assert matcher.match("Data/Customers/list.txt").source == "AGENTS.md:2"  # type: ignore[union-attr]
    assert matcher.match("src/app.py") is None and matcher.match("SRC/APP.PY") is None
    assert matcher.hidden_from_listing(".GIT/config", False)
    masked = {p.relative_to(repo).as_posix() for p in matcher.masked_paths()}
    assert {"SECRETS", ".ENV", "Data/Customers", "reports/Q1.CSV"} <= masked


def test_the_read_tool_refuses_another_spelling(repo: Path) -> None:
    git(repo, "config", "core.ignorecase", "true")
    session = build_session(repo, ConfigOverrides(), events=EventBus(), approver=None, need_key=False, persist=False)  # type: ignore[arg-type]
    out = session.agent.tools.dispatch(
        ToolCall("c1", "read_file", json.dumps({"path": "SECRETS/prod.key.txt"})), session.ctx
    ).text
    assert "prod-secret" not in out and "secrets/" in out


def test_git_ignorecase_false_changes_nothing(repo: Path) -> None:
    git(repo, "config", "core.ignorecase", "false")
    assert git_ignorecase(repo) is False
    assert open_project(repo).ignore.match(".ENV") is None


@pytest.mark.parametrize("ignorecase", ["false", "true"])
def test_a_patch_to_git_hooks_in_another_spelling_asks(repo: Path, ignorecase: str) -> None:
    """Where the file system folds case, ``.GIT/hooks/pre-commit`` is the hook git runs: the patch asks
    (and, with nobody to answer, is declined). The "false" run is the control: on a case-keeping file
    system it is an ordinary new file, applied in auto-edit without asking."""
    from codeward.tools.asking import NoTerminalApprover

    git(repo, "config", "core.ignorecase", ignorecase)
    session = build_session(
        repo,
        ConfigOverrides(approval_mode="auto-edit"),
        events=EventBus(),
        approver=NoTerminalApprover(),
        need_key=False,
        persist=False,
    )
    patch = "*** Begin Patch\n*** Add File: .GIT/hooks/pre-commit\n+touch /tmp/owned\n*** End Patch\n"
    session.agent.tools.dispatch(ToolCall("c1", "apply_patch", json.dumps({"input": patch})), session.ctx)
    planted = (repo / ".GIT" / "hooks" / "pre-commit").exists()
    assert planted is (ignorecase == "false")
