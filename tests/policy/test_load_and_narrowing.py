"""Where policy comes from (config, global and repository AGENTS.md files) and how the lists combine.

Principle 2: a repository can add to disallow lists and narrow allow lists, never widen them. The
user's own allow list and the repository's are separate constraints that must both be met.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from policy_helpers import make_policy

from codeward.config.load import load_config
from codeward.errors import ConfigError
from codeward.policy import decide_command, decide_edit, load_policy
from codeward.workspace import Workspace


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def repo(git_repo: Path, cw_home: Path) -> Path:
    write(git_repo / "AGENTS.md", "# Root\n\ndisallow_commands:\n- rm -rf\nallow_commands:\n- npm test\n- ls\n")
    write(git_repo / "pkg" / "AGENTS.md", "Package rules\ndisallow_commands:\n  - 'curl | bash'\n")
    write(git_repo / "other" / "AGENTS.md", "disallow_commands:\n- ls\n")  # not on the cwd chain
    write(cw_home / "AGENTS.md", "Mine.\n\ndisallow_commands:\n- sudo\nallow_commands:\n- ls\n- npm test\n- make\n")
    write(cw_home / "config.toml", '[policy]\ndisallow_commands = ["mkfs"]\nallow_directories = ["src/", "pkg/"]\n')
    return git_repo


def load(repo: Path, cwd: Path, home: Path):  # type: ignore[no-untyped-def]
    ws = Workspace.discover(cwd)
    return load_policy(ws, load_config(cwd), home)


def test_sources_and_ownership(repo: Path, cw_home: Path) -> None:
    policy = load(repo, repo / "pkg", cw_home)
    got = [(e.pattern, e.source, e.user_owned) for e in policy.disallow_commands]
    assert got == [
        ("mkfs", f"{cw_home / 'config.toml'}:2", True),
        ("sudo", f"{cw_home / 'AGENTS.md'}:4", True),
        ("rm -rf", "AGENTS.md:4", False),
        ("curl | bash", "pkg/AGENTS.md:3", False),
    ]
    assert [(e.pattern, e.user_owned) for e in policy.allow_commands] == [
        ("ls", True),
        ("npm test", True),
        ("make", True),
        ("npm test", False),
        ("ls", False),
    ]
    assert [(e.pattern, e.user_owned) for e in policy.allow_directories] == [("src/", True), ("pkg/", True)]


def test_files_off_the_cwd_chain_do_not_apply(repo: Path, cw_home: Path) -> None:
    policy = load(repo, repo, cw_home)
    assert "ls" not in [e.pattern for e in policy.disallow_commands]
    assert "curl | bash" not in [e.pattern for e in policy.disallow_commands]  # pkg/ is below the cwd


def test_every_source_denies(repo: Path, cw_home: Path) -> None:
    policy = load(repo, repo / "pkg", cw_home)
    cases = {
        "mkfs /dev/x": ("mkfs", f"{cw_home / 'config.toml'}:2"),
        "sudo ls": ("sudo", f"{cw_home / 'AGENTS.md'}:4"),
        "rm -fr /": ("rm -rf", "AGENTS.md:4"),
        "curl u | sh": ("curl | bash", "pkg/AGENTS.md:3"),
    }
    for command, (rule, source) in cases.items():
        d = decide_command(command, "full-auto", policy)
        assert (d.decision, d.rule, d.source) == ("deny", rule, source), command


def test_repository_narrows_the_users_allow_list(repo: Path, cw_home: Path) -> None:
    policy = load(repo, repo, cw_home)
    assert decide_command("npm test", "full-auto", policy).decision == "allow"
    assert decide_command("ls -la", "full-auto", policy).decision == "allow"
    # the user allows make, the repository does not: both lists must be met
    d = decide_command("make", "full-auto", policy)
    assert d.decision == "ask" and "repository's allow_commands" in d.reason and d.source == "AGENTS.md"


def test_repository_project_config_is_repo_owned(git_repo: Path, cw_home: Path) -> None:
    write(git_repo / ".codeward" / "config.toml", '[policy]\nallow_commands = ["git status"]\n')
    policy = load(git_repo, git_repo, cw_home)
    assert [(e.pattern, e.user_owned) for e in policy.allow_commands] == [("git status", False)]
    assert decide_command("git status", "full-auto", policy).decision == "allow"
    assert decide_command("git push", "full-auto", policy).decision == "ask"


def test_bad_pattern_in_config_names_the_file(git_repo: Path, cw_home: Path) -> None:
    write(cw_home / "config.toml", '[policy]\ndisallow_commands = ["rm \'x"]\n')
    with pytest.raises(ConfigError) as e:
        load(git_repo, git_repo, cw_home)
    assert str(cw_home / "config.toml") in e.value.message and "disallow_commands" in e.value.message


def test_bad_item_in_repository_agents_md_is_refused(git_repo: Path, cw_home: Path) -> None:
    write(git_repo / "AGENTS.md", 'text\ndisallow_commands:\n- "rm -rf\n')
    with pytest.raises(ConfigError) as e:
        load(git_repo, git_repo, cw_home)
    assert e.value.message.startswith("AGENTS.md:3:")


# ---- narrowing, on hand-built policies


@pytest.mark.parametrize(
    ("user_allow", "repo_allow", "command", "expected"),
    [
        (["npm test", "ls"], ["npm test"], "ls", "ask"),  # repository narrows
        (["npm test"], ["npm test", "curl"], "curl x", "ask"),  # repository cannot widen
        (["npm test"], ["npm test", "curl"], "npm test", "allow"),
        ([], ["npm test"], "ls", "ask"),  # a repository list alone still constrains
        ([], ["npm test"], "npm test", "allow"),
        (["ls"], [], "ls", "allow"),
        (["ls"], [], "cat x", "ask"),
        ([], [], "cat x", "allow"),
        (["npm test", "grep"], ["npm test", "grep"], "npm test | grep ok", "allow"),
        (["npm test"], ["npm test", "grep"], "npm test | grep ok", "ask"),
    ],
)
def test_allow_lists_are_both_constraints(
    user_allow: list[str], repo_allow: list[str], command: str, expected: str
) -> None:
    policy = make_policy(allow=repo_allow, user_allow=user_allow)
    assert decide_command(command, "full-auto", policy).decision == expected


def test_disallow_lists_add_up_and_beat_any_allow_list() -> None:
    policy = make_policy(
        disallow=["rm -rf"], allow=["rm -rf", "sudo"], user_disallow=["sudo"], user_allow=["rm -rf", "sudo"]
    )
    d1 = decide_command("rm -rf x", "full-auto", policy)
    d2 = decide_command("sudo ls", "full-auto", policy)
    assert (d1.decision, d1.rule, d1.source) == ("deny", "rm -rf", "AGENTS.md:1")
    assert (d2.decision, d2.rule, d2.source) == ("deny", "sudo", "/home/u/.codeward/config.toml")


def test_piped_allow_entry_covers_its_pipeline_only() -> None:
    policy = make_policy(allow=["git log | head"])
    assert decide_command("git log --oneline | head -5", "full-auto", policy).decision == "allow"
    assert decide_command("head -5 x", "full-auto", policy).decision == "ask"
    assert decide_command("head x | git log", "full-auto", policy).decision == "ask"


# ---- file edits


@pytest.mark.parametrize(
    ("path", "mode", "expected", "rule"),
    [
        ("src/app.py", "suggest", "ask", None),
        ("src/app.py", "auto-edit", "allow", None),
        ("src/app.py", "full-auto", "allow", None),
        ("./src/../src/app.py", "full-auto", "allow", None),
        ("data/customers/a.csv", "full-auto", "deny", "data/customers/"),
        ("data/customers", "full-auto", "deny", "data/customers/"),
        ("data/customers2/a.csv", "full-auto", "allow", None),  # not under data/customers/
        ("README.md", "full-auto", "deny", None),
        ("src/AGENTS.md", "full-auto", "ask", None),
        (".git/hooks/pre-commit", "full-auto", "deny", None),
        ("src/.codewardignore", "auto-edit", "ask", None),
        ("src/.git/config", "full-auto", "ask", None),
        ("../outside.py", "full-auto", "deny", None),
        ("/etc/passwd", "full-auto", "deny", None),
        ("", "full-auto", "deny", None),
    ],
)
def test_decide_edit(path: str, mode: str, expected: str, rule: str | None) -> None:
    policy = make_policy(allow_dirs=["src/", "data/"], disallow_dirs=["data/customers/"])
    d = decide_edit(path, mode, policy)
    assert (d.decision, d.rule) == (expected, rule), d.reason


def test_edit_protected_paths_ask_in_every_mode_without_allow_dirs() -> None:
    policy = make_policy()
    for mode in ("suggest", "auto-edit", "full-auto"):
        for path in ("AGENTS.md", ".codexignore", ".codeward/config.toml", ".git/config", "a/b/AGENTS.md"):
            d = decide_edit(path, mode, policy)
            assert d.decision == "ask" and "protected" in d.reason, (path, mode)


def test_edit_allow_directories_narrowing() -> None:
    policy = make_policy(allow_dirs=["src/"], user_allow_dirs=["src/", "docs/"])
    assert decide_edit("src/a.py", "full-auto", policy).decision == "allow"
    d = decide_edit("docs/a.md", "full-auto", policy)  # the user allows docs/, the repository does not
    assert d.decision == "deny" and "the only places the agent may modify" in d.reason
    assert decide_edit("src/a.py", "full-auto", make_policy(allow_dirs=["src/**/gen"])).decision == "deny"
    assert decide_edit("src/x/gen/a.py", "full-auto", make_policy(allow_dirs=["src/**/gen"])).decision == "allow"
    assert decide_edit("pkg1/a.py", "full-auto", make_policy(allow_dirs=["pkg*/"])).decision == "allow"


def test_unknown_mode_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown approval mode"):
        decide_command("ls", "yolo", make_policy())
    with pytest.raises(ValueError, match="unknown approval mode"):
        decide_edit("a", "yolo", make_policy())
