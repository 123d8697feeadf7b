"""codeward doctor on real repositories: a risky one fails, and passes after init and the fixes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.support.cw_subprocess import run_cw

GHP = "ghp_" + "0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f"


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def doctor(repo: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, dict]]:
    r = run_cw("doctor", "--json", *args, cwd=repo, env=env)
    assert r.returncode in (0, 1), r.stderr
    data = json.loads(r.stdout)
    assert isinstance(data, list)
    for item in data:
        assert set(item) == {"check", "status", "detail", "fix"}
        assert item["status"] in ("pass", "warn", "fail")
        if item["status"] == "pass":
            assert item["fix"] is None, item
        if item["status"] == "fail":
            assert item["fix"], item
    return r.returncode, {d["check"]: d for d in data}


def fails(checks: dict[str, dict]) -> set[str]:
    return {name for name, c in checks.items() if c["status"] == "fail"}


def test_risky_repository_fails_then_passes_after_init_and_fixes(git_repo: Path, cw_home: Path) -> None:
    (git_repo / ".env").write_text(f"API_TOKEN={GHP}\n")
    (git_repo / "service-account.json").write_text('{"type": "service_account"}\n')
    git(git_repo, "add", ".env")
    git(git_repo, "commit", "-qm", "env")
    auth = cw_home / "auth.json"
    auth.write_text('{"fake": "x-key-12345678"}')
    os.chmod(auth, 0o644)

    rc, checks = doctor(git_repo)
    assert rc == 1
    assert {"tracked-secrets", "auth-file", "ignore-file"} <= fails(checks)
    assert ".env" in checks["tracked-secrets"]["detail"] and "github-pat" in checks["tracked-secrets"]["detail"]
    assert checks["tracked-secrets"]["fix"].startswith("git rm --cached .env")
    assert checks["auth-file"]["fix"] == f"chmod 600 {auth}"
    assert "service-account.json" in checks["ignore-file"]["detail"]
    assert GHP not in json.dumps(checks)

    assert run_cw("init", cwd=git_repo).returncode == 0
    os.chmod(auth, 0o600)
    rc, checks = doctor(git_repo)
    assert not any(n for n in fails(checks) if "auth" in n or "ignore" in n)
    assert checks["ignore-file"]["status"] == "pass" and checks["agents-policy"]["status"] == "pass"
    assert fails(checks) == {"tracked-secrets", "git-history"}

    git(git_repo, "rm", "-q", "--cached", ".env")
    git(git_repo, "commit", "-qm", "untrack")
    rc, checks = doctor(git_repo)
    # untracked, but every command can still read it from the history
    assert "git-history" in fails(checks) and "tracked-secrets" not in fails(checks)
    assert ".env" in checks["git-history"]["detail"] and "--path .env" in checks["git-history"]["fix"]

    import shutil

    shutil.rmtree(git_repo / ".git")  # what git filter-repo achieves: a history without .env
    git(git_repo, "init", "-q")
    (git_repo / ".gitignore").write_text(".env\nservice-account.json\n")
    git(git_repo, "add", "-A")
    git(git_repo, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "fresh")
    rc, checks = doctor(git_repo)
    if checks["sandbox"]["status"] == "fail":  # a machine without any sandbox tier
        assert fails(checks) == {"sandbox"}
    else:
        assert rc == 0 and not fails(checks), fails(checks)


def test_secret_in_a_tracked_source_file_is_found_by_content(git_repo: Path) -> None:
    (git_repo / "src").mkdir()
    (git_repo / "src" / "settings.py").write_text(f'TOKEN = "{GHP}"\n')
    (git_repo / "logo.bin").write_bytes(b"\0\1\2" + GHP.encode())
    (git_repo / ".env.example").write_text("API_TOKEN=\n")
    git(git_repo, "add", ".")
    git(git_repo, "commit", "-qm", "oops")
    _, checks = doctor(git_repo)
    t = checks["tracked-secrets"]
    assert t["status"] == "fail" and "src/settings.py (github-pat on line 1)" in t["detail"]
    assert "logo.bin" not in t["detail"] and ".env.example" not in t["detail"]


def test_untracked_files_are_not_tracked_secrets(git_repo: Path) -> None:
    (git_repo / "notes.txt").write_text(f"{GHP}\n")
    _, checks = doctor(git_repo)
    assert checks["tracked-secrets"]["status"] == "pass"


def test_text_output_marks_and_fixes(git_repo: Path, cw_home: Path) -> None:
    (cw_home / "config.toml").write_text(
        'provider = "corp"\napproval_mode = "full-auto"\n[providers.corp]\nbaseURL = "http://llm.example.com/v1"\n'
        "[sandbox]\nnetwork = true\n"
    )
    r = run_cw("doctor", cwd=git_repo)
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    i = next(i for i, ln in enumerate(lines) if "provider-endpoint" in ln)
    assert lines[i].startswith("✗ FAIL") and "plain HTTP" in lines[i]
    assert "fix: use an https:// URL in providers.corp.baseURL" in lines[i + 1]
    assert any(ln.startswith("! warn  approval-mode") for ln in lines)
    assert any(ln.startswith("! warn  network") for ln in lines)
    assert "failed" in lines[-1]


def test_loose_log_directory_fails(git_repo: Path, cw_home: Path) -> None:
    logs = cw_home / "logs"
    logs.mkdir(mode=0o755)
    os.chmod(logs, 0o755)
    _, checks = doctor(git_repo)
    assert checks["log-dir"]["status"] == "fail" and checks["log-dir"]["fix"] == f"chmod -R go-rwx {logs}"
    os.chmod(logs, 0o700)
    _, checks = doctor(git_repo)
    assert checks["log-dir"]["status"] == "pass"


def test_broken_config_is_one_failing_check_not_a_crash(git_repo: Path, cw_home: Path) -> None:
    (cw_home / "config.toml").write_text("provider = [broken\n")
    rc, checks = doctor(git_repo)
    assert rc == 1 and checks["config"]["status"] == "fail" and "config.toml" in checks["config"]["detail"]
    assert len(checks) >= 8


def test_key_in_env_and_keychain_sources(git_repo: Path) -> None:
    _, checks = doctor(git_repo, env={"OPENAI_API_KEY": "sk-doctor-env-123456789"})
    assert checks["key-source"]["status"] == "pass" and "$OPENAI_API_KEY" in checks["key-source"]["detail"]
    assert "sk-doctor-env" not in json.dumps(checks)
