"""The object-store view is not reused on a stamp taken while the store was changing: a blob added
in the same timestamp tick as the listing leaves the stamp as it was, and a repository that had no
view (None: nothing to hide) would then get its real store bound, with the new secret blob in it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from codeward.privacy import history_view

TOK = "ghp_" + "Q7mK2vX9pL4rT8wZ1nB6cJ3hF5dS0aYeUiOg"


def _git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, env=env)


def _dirs(repo: Path) -> list[Path]:
    objects = repo / ".git" / "objects"
    return [objects, objects / "pack", *(objects / f"{i:02x}" for i in range(256))]


def _add_secret_keeping_stamp(repo: Path) -> None:
    """Stage a secret and put every store directory's mtime back: what a write in the same tick does."""
    before = {d: os.stat(d).st_mtime_ns for d in _dirs(repo)}
    (repo / "app.conf").write_text(f"GITHUB_TOKEN={TOK}\n")
    _git(repo, "add", "app.conf")
    for d, m in before.items():
        os.utime(d, ns=(m, m))


@pytest.mark.parametrize("racy", [True, False])
def test_a_racy_stamp_is_not_trusted(
    git_repo: Path, cw_home: Path, monkeypatch: pytest.MonkeyPatch, racy: bool
) -> None:
    from codeward.project import open_project

    monkeypatch.setattr(history_view, "_views", {})
    # a loaded machine may pause between the change and the stamp: a wide guard keeps this exact;
    # the control, a guard of zero, trusts every stamp and the stale None comes back
    monkeypatch.setattr(history_view, "RACY_NS", 10**10 if racy else 0)
    project = open_project(git_repo, None)
    scanner, ignore = project.scanner, project.ignore
    for d in _dirs(git_repo):
        d.mkdir(exist_ok=True)  # the store changes just before the stamp (every fan-out dir made now)
    assert history_view.object_view(git_repo, scanner, ignore, cw_home / "cache") is None
    _add_secret_keeping_stamp(git_repo)
    view = history_view.object_view(git_repo, scanner, ignore, cw_home / "cache")
    if racy:
        assert view is not None and view.excluded == 1
    else:
        assert view is None  # the real store, with the new secret blob, would be bound
