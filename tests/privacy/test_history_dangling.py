"""A blob no commit, reflog or the index holds is left out of the sandbox's object view.

``git add -f data/customers/list.csv && git reset`` leaves the file's blob in the store with no
path: the ignore rules could not judge it, and the scanner finds nothing in customer data, so the
view kept it and ``git cat-file --batch-all-objects --batch`` printed it (red team rt5).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from codeward.privacy.history_view import excluded_blobs
from codeward.project import open_project


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def test_a_blob_staged_once_and_reset_is_hidden(git_repo: Path, tmp_path: Path) -> None:
    f = git_repo / "data" / "customers" / "list.csv"
    f.parent.mkdir(parents=True)
    f.write_text("name,email\nAlice,alice@example.com\n")
    _git(git_repo, "add", "-f", "data/customers/list.csv")
    oid = _git(git_repo, "hash-object", "data/customers/list.csv").strip()
    _git(git_repo, "reset", "-q")
    kept = git_repo / "kept.txt"
    kept.write_text("ordinary text\n")
    _git(git_repo, "add", "kept.txt")
    _git(git_repo, "commit", "-qm", "kept")
    kept_oid = _git(git_repo, "rev-parse", "HEAD:kept.txt").strip()
    project = open_project(git_repo)
    out = excluded_blobs(git_repo, project.scanner, project.ignore, tmp_path / "cache")
    assert oid in out and b"no commit" in out[oid]
    assert kept_oid not in out  # a committed, clean blob stays in the view
