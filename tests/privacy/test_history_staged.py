"""The history scan in stages: under bubblewrap, commands get a *staged* object-store view (every
commit and tree, only HEAD's and the index's blobs) until the background scan has judged every
object, so a request does not wait minutes for a large history; where commands read ``.git`` raw
(Landlock) the request still waits, and says how far the scan is."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

import pytest
from tests.privacy.history_repo import AWS, DANGLING, LETTERS, PRIVATE_NOTE, TOKEN, git, leaky_history

from codeward.privacy import history_secrets, history_view
from codeward.privacy.history_secrets import HistorySecrets
from codeward.project import open_project


class Paused:
    """The project's scanner, held before the first object outside messages and the snapshot (the
    full scan's third stage) until :attr:`go` is set: a large history, still being scanned."""

    def __init__(self, real: Any, snapshot: set[str]) -> None:
        self.real = real
        self.snapshot = snapshot
        self.go = threading.Event()
        self.held = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)  # ruleset, allowlist: the same clean-blob cache as the view's

    def scan(self, text: str, path: str | None = None) -> Any:
        if text not in self.snapshot and not text.startswith(("tree ", "object ")):
            self.held.set()
            assert self.go.wait(60)
        return self.real.scan(text, path=path)


def _paused_history(repo: Path, **kw: Any) -> tuple[Any, HistorySecrets, Paused]:
    project = open_project(repo, None)
    snapshot = {git(repo, "show", f":{p}") for p in git(repo, "ls-files").split()}
    scanner = Paused(project.scanner, snapshot)
    hs = HistorySecrets(repo, scanner, background=True, cache_dir=project.home / "cache", **kw)
    assert scanner.held.wait(30) and hs.ready.is_set() and not hs.complete.is_set()
    return project, hs, scanner


def _bwrap():  # type: ignore[no-untyped-def]
    from codeward.errors import SandboxUnavailable
    from codeward.sandbox import select_sandbox

    try:
        return select_sandbox("bwrap")
    except SandboxUnavailable as e:
        pytest.skip(f"bwrap cannot be enforced here: {e}")


OLD_READS = (
    "git show HEAD~1:config.py; git show HEAD~1:.env; git cat-file -p $(git rev-parse HEAD~1:.env); "
    "git log -p --all --text; git cat-file --batch-all-objects --batch; git archive HEAD~1 | base64"
)


@pytest.mark.sandbox
def test_staged_view_shows_the_snapshot_and_hides_unscanned_blobs_until_the_scan_ends(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = _bwrap()
    leaky_history(git_repo)
    monkeypatch.setattr(history_view, "_views", {})
    monkeypatch.setattr(history_view, "GRACE_S", 0.0)
    project, hs, scanner = _paused_history(git_repo)
    spec = dataclasses.replace(project.sandbox_spec(), output_cap=8 << 20)
    r = sb.run(["sh", "-c", OLD_READS + "; git log --oneline | wc -l; git show HEAD:notes.txt"], spec)
    out = r.output
    assert not any(v in out for v in (AWS, LETTERS, TOKEN, DANGLING, PRIVATE_NOTE))
    assert "ordinary-line-1" in out  # HEAD's config.py (the snapshot) is there
    assert "notes: an ordinary file" in out
    assert out.rstrip().endswith("notes: an ordinary file") and "\n4\n" in out  # every commit is there
    assert "bad object" in out or "unable to read" in out or "missing" in out  # old blobs are absent
    assert r.note is not None and "still being scanned" in r.note
    # the control: the host's store has them; the staged view is what keeps them out
    assert TOKEN in git(git_repo, "show", "HEAD~1:config.py")

    scanner.go.set()
    assert hs.complete.wait(30) and hs.error is None
    r = sb.run(["sh", "-c", OLD_READS], spec)
    assert not any(v in r.output for v in (AWS, LETTERS, TOKEN, DANGLING, PRIVATE_NOTE))
    assert "<secret:github-pat:" in r.output and "the content of .env is hidden" in r.output  # the full view
    assert r.note is None or "still being scanned" not in r.note
    hs.stop()


@pytest.mark.sandbox
def test_a_failed_history_scan_gives_an_empty_store(git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail closed: the view never falls back to the real store when the scan it relies on failed."""
    sb = _bwrap()
    leaky_history(git_repo)
    monkeypatch.setattr(history_view, "_views", {})
    project, hs, scanner = _paused_history(git_repo)
    scanner.real = None  # the scan's next object raises
    scanner.go.set()
    assert hs.complete.wait(30) and hs.error is not None
    r = sb.run(["sh", "-c", "git show HEAD:config.py; " + OLD_READS], project.sandbox_spec())
    assert "ordinary-line-1" not in r.output and TOKEN not in r.output
    with pytest.raises(AttributeError):
        hs.refresh()  # and the gate refuses the request


def test_the_gate_does_not_wait_where_commands_see_only_scanned_objects(git_repo: Path) -> None:
    leaky_history(git_repo)
    _, hs, scanner = _paused_history(git_repo, staged=lambda: True)
    got = hs.refresh()  # returns while the third stage is held
    assert not hs.complete.is_set()
    assert TOKEN not in {v for v, _ in got}  # only HEAD~1 holds it: not judged yet
    scanner.go.set()
    assert hs.complete.wait(30)
    later = {v for v, _ in got} | {v for v, _ in hs.refresh()}
    assert {AWS, TOKEN, DANGLING} <= later  # learned once the scan ends
    hs.stop()


def test_the_gate_waits_where_commands_read_the_store_raw_and_says_so(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Landlock (or a tier not known): a request waits for the whole scan, as before, with a progress line."""
    monkeypatch.setattr(history_secrets, "NOTICE_AFTER_S", 0.0)
    leaky_history(git_repo)
    lines: list[str] = []
    _, hs, scanner = _paused_history(git_repo, staged=lambda: False, on_wait=lines.append)
    result: list[set[str]] = []
    t = threading.Thread(target=lambda: result.append({v for v, _ in hs.refresh()}))
    t.start()
    t.join(1.0)
    assert t.is_alive() and not result  # blocked on the unfinished scan
    assert lines and lines[0].startswith("scanning git history for secrets: ") and " of " in lines[0]
    assert "first time for this repository" in lines[0]
    scanner.go.set()
    t.join(30)
    assert result and {AWS, TOKEN, DANGLING} <= result[0]


def test_stopping_keeps_what_was_judged_clean_for_the_next_session(git_repo: Path) -> None:
    leaky_history(git_repo)
    _, hs, scanner = _paused_history(git_repo)
    scanner.go.set()
    hs.stop()
    assert hs.cache_file is not None and hs.cache_file.exists()
    assert len(hs.cache_file.read_text().split()) >= 3


@pytest.mark.sandbox
def test_a_commit_made_while_staged_is_left_out_until_its_message_is_scanned(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scan listed the store at its start: a commit made on the host since has a message nobody
    judged, which a command could print transformed (``git log | rev``) past the known values."""
    sb = _bwrap()
    leaky_history(git_repo)
    monkeypatch.setattr(history_view, "_views", {})
    monkeypatch.setattr(history_view, "GRACE_S", 0.0)
    project, hs, scanner = _paused_history(git_repo)
    secret = "ghp_Mn4Bv8Cx2Zq6Wr1Ty9Ui3Op7As5Df0Gh2Jk8"
    git(git_repo, "commit", "-q", "--allow-empty", "-m", f"rotate {secret}")
    new = git(git_repo, "rev-parse", "HEAD").strip()
    r = sb.run(["sh", "-c", f"git cat-file -p {new} | rev; git log --all --format=%B | rev"], project.sandbox_spec())
    assert secret[::-1] not in r.output
    assert "bad object" in r.output or "Not a valid object" in r.output
    # the control: the host's git prints it
    assert secret in git(git_repo, "log", "-1", "--format=%B")
    scanner.go.set()
    assert hs.complete.wait(30)
    hs.stop()


def test_the_gate_sends_tool_output_at_once_under_a_staged_view_and_holds_it_otherwise(git_repo: Path) -> None:
    """Through the real gate: a request carrying a command's output goes while the third stage is
    held when commands see a staged view; otherwise (the control: the old blocking) it waits."""
    from codeward.privacy.gate import Gate
    from codeward.privacy.redact import Redactor

    leaky_history(git_repo)
    body = {"messages": [{"role": "tool", "tool_call_id": "c1", "content": "exit 0"}]}
    for staged in (True, False):
        project, hs, scanner = _paused_history(git_repo, staged=lambda s=staged: s)
        gate = Gate(Redactor(project.scanner, sources=[hs]), host="127.0.0.1", url="http://127.0.0.1/v1")
        sent = threading.Event()
        t = threading.Thread(target=lambda g=gate, e=sent: (g.prepare(body), e.set()))
        t.start()
        assert sent.wait(5) is staged  # the staged request went; the other is still held
        scanner.go.set()
        assert sent.wait(30) and hs.complete.wait(30)
        t.join()
        hs.stop()


def test_a_scan_stopped_before_it_finished_refuses_rather_than_hangs(git_repo: Path) -> None:
    leaky_history(git_repo)
    _, hs, scanner = _paused_history(git_repo, staged=lambda: False)
    hs._stop.set()
    scanner.go.set()
    from codeward.privacy.history import HistoryError

    with pytest.raises(HistoryError, match="stopped before it finished"):
        hs.refresh()


@pytest.mark.sandbox
def test_a_staged_view_redacts_commit_messages_too(git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Messages are the scan's first stage; the staged view shows every judged commit, and one whose
    message holds a secret as a redacted copy (a shifted copy of the token is no known value)."""
    sb = _bwrap()
    leaky_history(git_repo)
    token = "ghp_Sg3Kd8Wq2Lm7Zx4Rt9Yp1Vb6Nc5Hj0Fa2Eu8"
    (git_repo / "notes.txt").write_text("notes: changed\n")
    git(git_repo, "commit", "-q", "-am", f"rotate\n\nwas {token}")
    monkeypatch.setattr(history_view, "_views", {})
    monkeypatch.setattr(history_view, "GRACE_S", 0.0)
    project, hs, scanner = _paused_history(git_repo)
    shift = "python3 -c 'import sys;sys.stdout.write(\"\".join(chr(ord(c)+1) for c in sys.stdin.read()))'"
    r = sb.run(["sh", "-c", f"git log --format=%B | {shift}; git rev-list --count HEAD"], project.sandbox_spec())
    shifted = "".join(chr(ord(c) + 1) for c in token)
    assert r.note is not None and "still being scanned" in r.note
    assert shifted not in r.output and "=tfdsfu;" in r.output  # "<secret:" shifted
    assert r.output.rstrip().endswith("5")
    scanner.go.set()
    assert hs.complete.wait(30)
    hs.stop()
