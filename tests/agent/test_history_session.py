"""The session's history source: under a staged object-store view the gate does not wait for the
whole history scan, so nothing but commands may read ``.git``'s objects, and the tools that read
the host's files (``read_file``, ``grep``, ``list_dir``) never return a blob's content raw."""

from __future__ import annotations

import zlib
from pathlib import Path

from tests.agent.test_tools import Harness
from tests.privacy.history_repo import TOKEN, git, leaky_history

from codeward.privacy.history_secrets import HistorySecrets


def _loose(repo: Path, rev: str) -> Path:
    oid = git(repo, "rev-parse", rev).strip()
    return repo / ".git" / "objects" / oid[:2] / oid[2:]


def test_tools_do_not_return_old_blobs_from_the_object_store(git_repo: Path) -> None:
    leaky_history(git_repo)
    obj = _loose(git_repo, "HEAD~1:config.py")
    assert TOKEN.encode() in zlib.decompress(obj.read_bytes())  # the control: the store holds it
    h = Harness(git_repo)
    rel = str(obj.relative_to(git_repo))
    out = h.call("read_file", path=rel)
    assert TOKEN not in out and "ordinary-line" not in out
    for pattern in ("ordinary-line-3", "ghp_", "GITHUB_TOKEN"):
        assert ".git/" not in h.call("grep", pattern=pattern)
    assert TOKEN not in h.call("list_dir", path=".git", depth=3)


def test_the_session_stages_the_history_only_where_commands_read_a_view(git_repo: Path) -> None:
    leaky_history(git_repo)
    h = Harness(git_repo)
    (source,) = h.session.gate.redactor.sources
    assert isinstance(source, HistorySecrets) and source.staged is not None
    assert source.staged() == (h.session.sandbox_tier == "bwrap")
    source.stop()
