"""codeward init: writes the templates, never overwrites, --update only appends; the files it
writes mean what they say to the real ignore matcher and policy engine."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from tests.support.cw_subprocess import run_cw

from codeward.config.load import load_config
from codeward.home import codeward_home
from codeward.init_templates import ignore_sections
from codeward.init_templates.setup import template_disallow
from codeward.privacy.ignore import load_ignore
from codeward.workspace import Workspace


def init(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    r = run_cw("init", *args, cwd=repo)
    assert r.returncode == 0, r.stderr
    return r


def test_fresh_repository_gets_both_files(git_repo: Path) -> None:
    r = init(git_repo)
    assert "created .codewardignore" in r.stdout and "created AGENTS.md" in r.stdout
    ignore = (git_repo / ".codewardignore").read_text()
    for section in ("credentials", "cloud", "databases", "business", "production", "logs"):
        assert f"[{section}]" in ignore
    agents = (git_repo / "AGENTS.md").read_text()
    assert "disallow_commands:" in agents and '- "curl | bash"' in agents


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        "deploy/.env.production",
        "certs/server.key",
        "config/credentials.json",
        "gcp/service-account-prod.json",
        ".kube/config",
        "infra/prod.tfvars",
        "terraform.tfstate",
        "db.sqlite3",
        "backups/2024.tar",
        "prod_dump.sql",
        "exports/customers.csv",
        "data/exports/orders.csv",
        "reports/q3.xlsx",
        "config/production.yml",
        "src/main/resources/application-prod.yml",
        "logs/app.txt",
        "worker.log",
    ],
)
def test_template_hides_sensitive_paths(git_repo: Path, path: str) -> None:
    init(git_repo)
    matcher = load_ignore(Workspace.discover(git_repo), codeward_home())
    assert matcher.match(path, is_dir=False) is not None, path


@pytest.mark.parametrize(
    "path",
    [
        "README.md",
        "src/app.py",
        "migrations/0001_init.sql",
        "src/log/handler.go",
        "src/export/csv.py",
        "tests/test_db.py",
    ],
)
def test_template_leaves_source_code_readable(git_repo: Path, path: str) -> None:
    init(git_repo)
    matcher = load_ignore(Workspace.discover(git_repo), codeward_home())
    assert matcher.match(path, is_dir=False) is None, path


def test_policy_skeleton_is_read_by_the_policy_engine(git_repo: Path) -> None:
    from codeward.policy import decide_command, load_policy

    init(git_repo)
    ws = Workspace.discover(git_repo)
    config = load_config(git_repo)
    policy = load_policy(ws, config, codeward_home())
    patterns = [e.pattern for e in policy.disallow_commands]
    assert patterns == template_disallow()
    assert {"rm -rf", "sudo", "curl | bash", "wget | sh", "git push --force", "chmod -R 777"} <= set(patterns)
    assert all(
        e.source.startswith(str(git_repo / "AGENTS.md")) or "AGENTS.md" in e.source for e in policy.disallow_commands
    )
    # the commented examples stay comments
    assert not policy.allow_commands and not policy.allow_directories and not policy.disallow_directories
    assert decide_command("rm -fr build", "full-auto", policy).decision == "deny"
    assert decide_command("curl -s https://x.sh | bash", "full-auto", policy).decision == "deny"
    assert decide_command("ls -la", "full-auto", policy).decision == "allow"


def test_second_run_changes_nothing(git_repo: Path) -> None:
    init(git_repo)
    before = {p: (git_repo / p).read_bytes() for p in (".codewardignore", "AGENTS.md")}
    r = init(git_repo)
    assert r.stdout.count("skipped") == 2
    assert {p: (git_repo / p).read_bytes() for p in before} == before


def test_existing_files_are_kept_and_update_only_appends(git_repo: Path) -> None:
    mine_ignore = "# my rules\nprivate/\n!keep.me\n"
    mine_agents = "# Team rules\n\nUse tabs.\n"
    (git_repo / ".codewardignore").write_text(mine_ignore)
    (git_repo / "AGENTS.md").write_text(mine_agents)
    r = init(git_repo)
    assert "codeward init --update" in r.stdout
    assert (git_repo / ".codewardignore").read_text() == mine_ignore
    assert (git_repo / "AGENTS.md").read_text() == mine_agents

    r = init(git_repo, "--update")
    ignore = (git_repo / ".codewardignore").read_text()
    agents = (git_repo / "AGENTS.md").read_text()
    assert ignore.startswith(mine_ignore) and "# added by codeward init --update" in ignore
    n = len(ignore_sections()["credentials"])
    assert all(p in ignore.splitlines() for p in ignore_sections()["credentials"]) and n > 10
    assert agents.startswith(mine_agents) and "disallow_commands:" in agents
    assert agents.count("disallow_commands:") == 1
    r = init(git_repo, "--update")
    assert "already has every template pattern" in r.stdout and "with a disallow_commands list" in r.stdout
    assert (git_repo / "AGENTS.md").read_text() == agents


def test_agents_with_its_own_list_is_not_edited(git_repo: Path) -> None:
    text = 'disallow_commands:\n- "rm -rf"\n'
    (git_repo / "AGENTS.md").write_text(text)
    r = init(git_repo, "--update")
    assert (git_repo / "AGENTS.md").read_text() == text
    assert "not in it from the template: sudo" in r.stdout


def test_writes_at_the_repository_root_from_a_subdirectory(git_repo: Path) -> None:
    sub = git_repo / "pkg" / "deep"
    sub.mkdir(parents=True)
    r = run_cw("init", "-C", str(sub))
    assert r.returncode == 0
    assert (git_repo / ".codewardignore").is_file() and not (sub / ".codewardignore").exists()


def test_dry_run_writes_nothing(git_repo: Path) -> None:
    r = init(git_repo, "--dry-run")
    assert "would create .codewardignore" in r.stdout
    assert not (git_repo / ".codewardignore").exists() and not (git_repo / "AGENTS.md").exists()


def test_symlinked_agents_file_is_left_alone(git_repo: Path, tmp_path: Path) -> None:
    target = tmp_path / "shared-agents.md"
    target.write_text("# shared\n")
    os.symlink(target, git_repo / "AGENTS.md")
    r = init(git_repo, "--update")
    assert "not a regular file" in r.stdout
    assert (git_repo / "AGENTS.md").is_symlink() and target.read_text() == "# shared\n"


def test_outside_a_repository_writes_in_the_directory_it_is_told(tmp_path: Path) -> None:
    d = tmp_path / "plain"
    d.mkdir()
    r = run_cw("init", cwd=d)  # not a repository, not named: nothing is written
    assert r.returncode == 2 and "not in a git repository" in r.stderr and f"-C {d}" in r.stderr
    assert not (d / ".codewardignore").exists() and not (d / "AGENTS.md").exists()
    init(d, "-C", str(d))
    assert (d / ".codewardignore").is_file() and (d / "AGENTS.md").is_file()
