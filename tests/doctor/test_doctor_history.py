"""``codeward doctor`` fails a repository whose git history holds secrets (removed, ignored or in a
dangling blob), with counts, rule ids and the fix, never the values; a clean history passes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.doctor.test_doctor_cli import doctor
from tests.privacy.history_repo import PLANTED, TOKEN, git, leaky_history

from codeward.doctor import checks as c
from codeward.privacy.history_report import HistoryReport


def test_a_removed_secret_fails_with_counts_rules_and_the_filter_repo_line(git_repo: Path, cw_home: Path) -> None:
    leaky_history(git_repo)
    rc, checks = doctor(git_repo)
    h = checks["git-history"]
    assert rc == 1 and h["status"] == "fail"
    assert "4 secrets" in h["detail"] and "in 1 commit " in h["detail"]
    assert "github-pat" in h["detail"] and "config.py" in h["detail"]
    assert "1 in blobs no commit holds" in h["detail"]
    assert "git filter-repo --invert-paths --path .env" in h["fix"]
    assert "git filter-repo --replace-text" in h["fix"] and "git gc --prune=now" in h["fix"]
    assert "rotate the credentials" in h["fix"]
    out = json.dumps(checks)
    assert all(v not in out for v in PLANTED)
    # the second run reads the clean-blob cache in the home, and says the same
    _, again = doctor(git_repo)
    assert again["git-history"] == h
    assert any(p.name.startswith("history-") for p in (cw_home / "cache").iterdir())


def test_a_secret_only_in_an_old_version_of_an_ordinary_file_fails(git_repo: Path, cw_home: Path) -> None:
    """No ignored path at all: the earlier check (paths only) passed this repository."""
    (git_repo / "app.py").write_text(f'TOKEN = "{TOKEN}"\n')
    git(git_repo, "add", "app.py")
    git(git_repo, "commit", "-q", "-m", "token")
    (git_repo / "app.py").write_text('import os\nTOKEN = os.environ["TOKEN"]\n')
    git(git_repo, "commit", "-q", "-am", "env")
    _, checks = doctor(git_repo)
    h = checks["git-history"]
    assert h["status"] == "fail" and "1 secret (github-pat) in 1 commit of the git history in app.py" in h["detail"]
    assert "--invert-paths" not in h["fix"] and "--replace-text" in h["fix"]
    assert checks["tracked-secrets"]["status"] == "pass"  # the tree is clean now: only history holds it


def test_a_clean_history_passes(git_repo: Path, cw_home: Path) -> None:
    (git_repo / "app.py").write_text("print('hello')\n")
    git(git_repo, "add", "app.py")
    git(git_repo, "commit", "-q", "-m", "app")
    _, checks = doctor(git_repo)
    h = checks["git-history"]
    assert h["status"] == "pass" and "no secret in the 4 files and messages of .git" in h["detail"]


def test_check_wording_singular_and_both_findings() -> None:
    from tests.doctor.test_checks import ctx

    one = HistoryReport(1, 1, ("github-pat",), ("a.py",), 0, 3, 3, 0)
    r = c.check_git_history(ctx(in_git=True, history_secrets=one))
    assert r.status == "fail" and r.detail.startswith("1 secret (github-pat) in 1 commit ")
    both = c.check_git_history(ctx(in_git=True, history_hidden=(".env",), history_secrets=one))
    assert both.fix is not None and both.fix.startswith("git filter-repo --invert-paths --path .env && ")
    clean = HistoryReport(0, 0, (), (), 0, 7, 7, 0)
    assert c.check_git_history(ctx(in_git=True, history_secrets=clean)).status == "pass"


def _history_check(repo: Path, budget: float | None) -> dict[str, str | None]:
    from codeward.doctor import diagnose

    (r,) = [r for r in diagnose(repo, None, history_budget_s=budget) if r.check == "git-history"]
    return {"status": r.status, "detail": r.detail, "fix": r.fix}


def test_a_history_not_scanned_within_the_budget_fails_and_the_next_run_goes_on(git_repo: Path, cw_home: Path) -> None:
    """An unscanned history is never a pass: past its budget the check fails saying how far it got;
    what it judged is cached, so runs with the same budget finish it one after another."""
    for i in range(6):
        (git_repo / f"mod{i}.py").write_text(f"VALUE_{i} = {i}\n")
        git(git_repo, "add", ".")
        git(git_repo, "commit", "-q", "-m", f"mod {i}")
    h = _history_check(git_repo, 0.0)
    assert h["status"] == "fail"
    assert str(h["detail"]).startswith("history not fully scanned (") and " blobs) in 0 s" in str(h["detail"])
    assert "codeward doctor --full-history" in str(h["fix"])
    runs = 1
    while h["status"] == "fail" and runs < 40:
        h = _history_check(git_repo, 0.0)
        runs += 1
    assert h["status"] == "pass" and runs > 2  # each run judged at least one more object
    # the control: without a budget the same clean history passes at once (fresh cache)
    for f in (cw_home / "cache").iterdir():
        f.unlink()
    assert _history_check(git_repo, None)["status"] == "pass"


def test_full_history_flag_scans_without_a_limit(git_repo: Path, cw_home: Path) -> None:
    leaky_history(git_repo)
    rc, checks = doctor(git_repo, "--full-history")
    assert rc == 1 and "4 secrets" in checks["git-history"]["detail"]
    rc, checks = doctor(git_repo, "--history-budget", "30")
    assert "4 secrets" in checks["git-history"]["detail"]
