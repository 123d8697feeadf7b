"""The git history's secrets become known values; the sandbox's git treats hidden paths as binary."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from tests.privacy.history_repo import AWS, DANGLING, LETTERS, PLANTED, TOKEN, git, leaky_history

from codeward.privacy.history import hidden_history_paths
from codeward.privacy.history_report import history_findings
from codeward.privacy.history_secrets import HistorySecrets
from codeward.privacy.redact import Redactor
from codeward.project import open_project
from codeward.sandbox.gitview import attribute_line


def _scanner(repo: Path):  # type: ignore[no-untyped-def]
    return open_project(repo, None).scanner


def test_every_blob_is_learned_also_removed_ignored_and_dangling(git_repo: Path, tmp_path: Path) -> None:
    leaky_history(git_repo)
    h = HistorySecrets(git_repo, _scanner(git_repo), cache_dir=tmp_path / "cache")
    values = {v for v, _ in h.refresh()}
    assert {AWS, LETTERS, TOKEN, DANGLING} <= values
    assert h.refresh() == []  # nothing new in the object store: no rescan, nothing reported


def test_the_cache_keeps_clean_blob_ids_only_and_values_are_learned_again(git_repo: Path, tmp_path: Path) -> None:
    leaky_history(git_repo)
    scanner = _scanner(git_repo)
    first = HistorySecrets(git_repo, scanner, cache_dir=tmp_path / "cache")
    first.refresh()
    [cache] = (tmp_path / "cache").glob("history-*.ids")
    text = cache.read_text()
    [paths] = (tmp_path / "cache").glob("history-paths-*.json")  # every blob's path, secret or not
    assert all(v not in text and v not in paths.read_text() for v in PLANTED)
    secret_blob = git(git_repo, "rev-parse", "HEAD~1:.env").strip()
    assert secret_blob not in text.split("\n")  # which blobs hold secrets is not written down either
    clean_blob = git(git_repo, "rev-parse", "HEAD:README.md").strip()
    assert clean_blob in text.split("\n")
    second = HistorySecrets(git_repo, scanner, cache_dir=tmp_path / "cache")
    values = {v for v, _ in second.refresh()}
    assert {AWS, TOKEN, DANGLING} <= values  # the blobs with findings are read again
    assert second.blobs_scanned < first.blobs_scanned  # the clean ones are not


def test_a_new_commit_is_scanned_on_the_next_refresh(git_repo: Path) -> None:
    h = HistorySecrets(git_repo, _scanner(git_repo))
    assert h.refresh() == []
    late = "ghp_Lt5Rw8Qp2Zx7Cv4Bn1Mk9Jh3Gf6Ds0Aa2Ss5"
    (git_repo / "late.py").write_text(f'T = "{late}"\n')
    git(git_repo, "add", "late.py")
    git(git_repo, "commit", "-q", "-m", "late")
    assert late in {v for v, _ in h.refresh()}


def test_a_secret_in_a_commit_message_is_learned_and_counted(git_repo: Path) -> None:
    msg_token = "ghp_Cm4Sg7Ms2Xq9Lw5Ke8Rt1Yu6Io3Pa0Sd2Fg7"
    git(git_repo, "commit", "-q", "--allow-empty", "-m", f"deploy with {msg_token}")
    scanner = _scanner(git_repo)
    assert msg_token in {v for v, _ in HistorySecrets(git_repo, scanner).refresh()}
    r = history_findings(git_repo, scanner)
    assert (r.secrets, r.commits, r.paths, r.unreferenced) == (1, 1, (), 0)


def test_not_a_repository_has_no_history(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    h = HistorySecrets(tmp_path / "plain", object())
    assert h.refresh() == []


def test_doctor_findings_count_secrets_and_commits_never_values(git_repo: Path) -> None:
    leaky_history(git_repo)
    r = history_findings(git_repo, _scanner(git_repo))
    assert r.secrets == 4  # AWS, the letters-only password, the token, the dangling token
    assert r.commits == 1  # only "add config" introduced a secret blob (the dangling one has no commit)
    assert set(r.paths) == {".env", "config.py"}
    assert r.unreferenced == 1  # the dangling blob
    assert "github-pat" in r.rules
    assert all(v not in repr(r) for v in PLANTED)


def test_hidden_history_paths_follow_the_ignore_rules(git_repo: Path) -> None:
    leaky_history(git_repo)
    project = open_project(git_repo, None)
    assert hidden_history_paths(git_repo, project.ignore) == (".env",)


@pytest.mark.parametrize(
    "name", ["plain.env", "sp ace.txt", 'q"uote', "st*r", "br[ck]et", "back\\slash", "#hash", "!bang"]
)
def test_attribute_lines_match_exactly_that_path(tmp_path: Path, name: str) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q")
    decoy = "stxr" if name == "st*r" else "bk"
    (repo / ".git" / "info" / "attributes").write_text(attribute_line(name) + attribute_line("dir/"))
    out = subprocess.run(
        ["git", "check-attr", "-z", "diff", "--stdin"],
        cwd=repo,
        input=f"{name}\0{decoy}\0dir/a/b.txt\0".encode(),
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    got = {out[i].decode(): out[i + 2].decode() for i in range(0, len(out) - 2, 3)}
    assert got == {name: "unset", decoy: "unspecified", "dir/a/b.txt": "unset"}


@pytest.mark.sandbox
def test_without_the_history_source_a_reversed_old_secret_leaves(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gate's second line, in the Landlock tier with its object-store view switched off (as a
    worktree whose ``.git`` is a pointer file has none), so commands read raw blobs: the raw command
    output carries the reversed old values; a redactor that knows only the working tree's files lets
    them through, the session's (with the history) does not."""
    from codeward.agent.session import build_session
    from codeward.config.load import ConfigOverrides
    from codeward.errors import SandboxUnavailable
    from codeward.events import EventBus
    from codeward.privacy.learn import WorkspaceSecrets
    from codeward.providers.types import ToolCall
    from codeward.sandbox import select_sandbox
    from codeward.tools.asking import NoTerminalApprover

    try:
        select_sandbox("landlock")
    except SandboxUnavailable as e:
        pytest.skip(f"landlock cannot be enforced here: {e}")
    leaky_history(git_repo)
    monkeypatch.setattr("codeward.sandbox.landlock_store.planned", lambda spec: [])
    overrides = ConfigOverrides(approval_mode="full-auto", dotted=['sandbox.tier="landlock"'])
    s = build_session(
        git_repo, overrides, events=EventBus(), approver=NoTerminalApprover(), need_key=False, persist=False
    )
    cmd = "git show HEAD~1:.env | rev; git show HEAD~1:config.py | rev"
    out = s.agent.tools.dispatch(ToolCall("c1", "shell", json.dumps({"command": cmd})), s.ctx).text
    body = {"messages": [{"role": "tool", "tool_call_id": "c1", "content": out}]}
    scanner = s.ctx.project.scanner
    tree_only = Redactor(scanner, learner=WorkspaceSecrets(git_repo, scanner))
    tree_only.refresh()
    leaked = tree_only.redact(out).text
    assert AWS[::-1] in leaked and TOKEN[::-1] in leaked  # the attack works without the history's values
    sent = s.gate.prepare(body).body.decode()
    assert AWS[::-1] not in sent and TOKEN[::-1] not in sent and LETTERS[::-1] not in sent


def test_a_partial_clone_is_scanned_for_what_it_holds_and_fetches_nothing(git_repo: Path, tmp_path: Path) -> None:
    """A ``--filter=blob:none`` clone lacks old blobs: the scan lists what is there, and neither it nor
    doctor's findings fail (the control: plain ``rev-list --objects`` stops at the first missing blob)."""
    leaky_history(git_repo)
    git(git_repo, "config", "uploadpack.allowFilter", "true")
    clone = tmp_path / "partial"
    subprocess.run(
        ["git", "clone", "-q", "--no-local", "--filter=blob:none", git_repo.as_uri(), str(clone)],
        check=True,
        capture_output=True,
    )
    git(clone, "remote", "set-url", "origin", str(tmp_path / "gone"))  # a lazy fetch would fail loudly
    plain = subprocess.run(["git", "rev-list", "--objects", "--all"], cwd=clone, capture_output=True, check=False)
    assert plain.returncode != 0 and b"promisor remote" in plain.stderr  # lacks blobs; plain git would fetch them
    h = HistorySecrets(clone, _scanner(clone), cache_dir=tmp_path / "cache")
    h.refresh()  # no HistoryError
    report = history_findings(clone, _scanner(clone), cache_dir=tmp_path / "cache2")
    assert report is not None
