"""``codeward scan`` and ``codeward redact`` as a user runs them: real processes, real git."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

GH = "ghp_" + "q8Vz2LkP0wR4tY6uI8oPa1sD3fG5hJ7kL9zX"
AWS = "AKIAZ7Q2LMKD3XUVWB4N"


def cw(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codeward", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1"},
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text(f"import os\n\nTOKEN = '{GH}'\n")
    (root / ".env").write_text(f"AWS_ACCESS_KEY_ID={AWS}\n")  # ignored by codeward, still scanned
    (root / "clean.txt").write_text("nothing to see\n")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text(f"token = {GH}\n")  # .git is skipped
    (root / "blob.bin").write_bytes(b"\0\1\2" + GH.encode())  # binary: skipped
    return root


def test_text_output_and_exit_one(tree: Path) -> None:
    p = cw("scan", cwd=tree)
    assert p.returncode == 1, p.stderr
    lines = p.stdout.splitlines()
    assert ".env:1:19: aws-access-key-id AWS access key ID" in lines
    assert "src/app.py:3:10: github-pat GitHub personal access token (classic)" in lines
    assert lines[-1].startswith("2 secrets found in 2 files")
    assert GH not in p.stdout + p.stderr and AWS not in p.stdout + p.stderr


def test_json_output_never_holds_the_value(tree: Path) -> None:
    p = cw("scan", "--format", "json", ".", cwd=tree)
    assert p.returncode == 1
    data = json.loads(p.stdout)
    assert {(d["path"], d["line"], d["rule"]) for d in data} == {
        (".env", 1, "aws-access-key-id"),
        ("src/app.py", 3, "github-pat"),
    }
    assert all({"path", "line", "column", "rule", "description", "fingerprint"} <= set(d) for d in data)
    assert GH not in p.stdout and AWS not in p.stdout


def test_sarif_shape(tree: Path) -> None:
    p = cw("scan", "--format", "sarif", "src", cwd=tree)
    doc = json.loads(p.stdout)
    assert doc["version"] == "2.1.0" and "sarif-2.1.0" in doc["$schema"]
    run = doc["runs"][0]
    assert run["tool"]["driver"]["name"] == "codeward"
    [res] = run["results"]
    assert res["ruleId"] == "github-pat"
    assert run["tool"]["driver"]["rules"][res["ruleIndex"]]["id"] == "github-pat"
    region = res["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"]) == (3, 10)
    assert res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "src/app.py"
    assert GH not in p.stdout


def test_clean_tree_exits_zero(tree: Path) -> None:
    p = cw("scan", "clean.txt", cwd=tree)
    assert p.returncode == 0 and p.stdout.startswith("no secrets found")
    p = cw("scan", "--format", "json", "clean.txt", cwd=tree)
    assert p.returncode == 0 and json.loads(p.stdout) == []


def test_usage_errors_exit_two(tree: Path) -> None:
    p = cw("scan", "missing-dir", cwd=tree)
    assert p.returncode == 2 and "missing-dir: no such file or directory" in p.stderr
    p = cw("scan", "--format", "xml", cwd=tree)
    assert p.returncode == 2
    p = cw("scan", "--staged", "src", cwd=tree)
    assert p.returncode == 2 and "not both" in p.stderr


def test_rules_flag_and_bad_rules_file(tree: Path) -> None:
    (tree / "src" / "acme.txt").write_text("acme_live_q8vz2lkp0wr4ty6ui8opa1sd\n")
    rules = tree / "acme.toml"
    rules.write_text("[[rules]]\nid = \"acme-token\"\nregex = '''acme_live_[a-z0-9]{24}'''\nkeywords = [\"acme_\"]\n")
    p = cw("scan", "--format", "json", "--rules", "acme.toml", "src/acme.txt", cwd=tree)
    assert [d["rule"] for d in json.loads(p.stdout)] == ["acme-token"]
    rules.write_text('[[rules]]\nid = "bad"\nregex = "(?<=x)y"\n')
    p = cw("scan", "--rules", "acme.toml", "src", cwd=tree)
    assert p.returncode == 2
    assert p.stderr.startswith("codeward: ") and "acme.toml: rule 'bad' regex" in p.stderr
    assert "Traceback" not in p.stderr


def test_config_rules_and_allowlist(tree: Path, cw_home: Path) -> None:
    (cw_home / "config.toml").write_text(f'[privacy]\nallowlist = ["{AWS}"]\n')
    p = cw("scan", "--format", "json", cwd=tree)
    assert [d["rule"] for d in json.loads(p.stdout)] == ["github-pat"]
    (cw_home / "config.toml").write_text("[privacy]\nredact_pii = maybe\n")
    p = cw("scan", cwd=tree)
    assert p.returncode == 2 and "config.toml" in p.stderr


def test_large_files_are_skipped_with_a_note(tree: Path) -> None:
    big = tree / "big.log"
    with big.open("w") as fh:
        fh.write(("x" * 1023 + "\n") * (9 * 1024))
    p = cw("scan", "big.log", cwd=tree)
    assert p.returncode == 0
    assert "skipped big.log" in p.stderr and "scan cap" in p.stderr


def test_path_rules_apply_to_binary_files(tree: Path) -> None:
    (tree / "client.p12").write_bytes(b"0\x82\x05\x00\x02\x01\x03\0\0binary")
    p = cw("scan", "--format", "json", "client.p12", cwd=tree)
    assert [d["rule"] for d in json.loads(p.stdout)] == ["pkcs12-file"]


def test_staged_scans_the_index_not_the_worktree(git_repo: Path) -> None:
    env_git = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1"}

    def git(*a: str) -> None:
        subprocess.run(["git", *a], cwd=git_repo, check=True, capture_output=True, env=env_git)

    (git_repo / "conf.py").write_text(f"TOKEN = '{GH}'\n")
    (git_repo / "name with space.txt").write_text(f"key {AWS}\n")
    git("add", "conf.py", "name with space.txt")
    (git_repo / "conf.py").write_text("TOKEN = os.environ['TOKEN']\n")  # fixed in the worktree, not staged
    (git_repo / "untracked.py").write_text(f"K = '{AWS}'\n")
    p = cw("scan", "--staged", "--format", "json", cwd=git_repo)
    assert p.returncode == 1, p.stderr
    assert {(d["path"], d["rule"]) for d in json.loads(p.stdout)} == {
        ("conf.py", "github-pat"),
        ("name with space.txt", "aws-access-key-id"),
    }
    git("reset", "-q")
    p = cw("scan", "--staged", cwd=git_repo)
    assert p.returncode == 0


def test_staged_outside_a_repository(tmp_path: Path) -> None:
    p = cw("scan", "--staged", cwd=tmp_path)
    assert p.returncode == 2 and "not inside a git repository" in p.stderr


def test_redact_stdin_and_file(tree: Path) -> None:
    p = cw("redact", cwd=tree, stdin=f"use {GH} here\nand {AWS}\n")
    assert p.returncode == 0
    assert GH not in p.stdout and AWS not in p.stdout
    assert p.stdout.startswith("use <secret:github-pat:") and p.stdout.endswith(">\n")
    assert "redacted 2 values (aws-access-key-id: 1, github-pat: 1)" in p.stderr
    p = cw("redact", "src/app.py", cwd=tree)
    assert "TOKEN = '<secret:github-pat:" in p.stdout
    p = cw("redact", "-", cwd=tree, stdin="hello\n")
    assert p.stdout == "hello\n" and "nothing to redact" in p.stderr
    p = cw("redact", "nope.txt", cwd=tree)
    assert p.returncode == 2 and "nope.txt: no such file" in p.stderr


def test_redact_of_an_ignored_file_prints_nothing(tree: Path) -> None:
    p = cw("redact", ".env", cwd=tree)
    assert p.returncode == 1 and p.stdout == ""
    assert ".env is hidden by the built-in rule '.env': the gate never sends it" in p.stderr


def test_pre_commit_hook_definition() -> None:
    hooks = (Path(__file__).resolve().parents[2] / ".pre-commit-hooks.yaml").read_text()
    assert "id: codeward-scan" in hooks and "entry: codeward scan --staged" in hooks
    assert "pass_filenames: false" in hooks
