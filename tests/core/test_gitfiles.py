"""What the git config read for a repository (its own, the user's global and the system's) makes git run or read."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeward.gitfiles import UserConfig, git_config_paths, parse_config, user_config
from codeward.workspace import Workspace


def test_parse_config_sections_quotes_and_comments() -> None:
    text = (
        '[core]\n\thooksPath = ".husky" ; comment\n'
        '[includeIf "gitdir:~/work/"]\n\tpath = ../team.cfg\n'
        '[alias]\n\tst = "!./scripts/st.sh --x"\n'
        '[filter "lfs"] clean = tools/clean.sh %f\n'
        "# note\n[Core.Sub]\n\tkey\n"
    )
    pairs = parse_config(text)
    assert ("core.hookspath", ".husky") in pairs
    assert ("includeif.gitdir:~/work/.path", "../team.cfg") in pairs
    assert ("alias.st", "!./scripts/st.sh --x") in pairs
    assert ("filter.lfs.clean", "tools/clean.sh %f") in pairs
    assert ("core.sub.key", "true") in pairs


def test_config_paths_follow_includes(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    gd = ws / ".git"
    gd.mkdir(parents=True)
    (gd / "config").write_text(
        "[core]\n\thooksPath = .githooks\n\tfsmonitor = tools/watch.sh\n\tpager = less\n"
        "[include]\n\tpath = ../.gitconfig\n[alias]\n\tx = !git status\n"
    )
    (ws / ".gitconfig").write_text('[diff "img"]\n\ttextconv = ./bin/exif\n[include]\n\tpath = nested.cfg\n')
    got = git_config_paths(gd, ws, UserConfig())  # the repository's own config only
    assert got == [
        ws / ".githooks",
        ws / "tools" / "watch.sh",
        ws / ".gitconfig",
        ws / "bin" / "exif",
        ws / "nested.cfg",
    ]


def test_workspace_protects_what_git_config_names(git_repo: Path) -> None:
    with open(git_repo / ".git" / "config", "a") as f:
        f.write("[core]\n\thooksPath = .husky\n[include]\n\tpath = ../.gitconfig\n\tpath = /etc/gitconfig-elsewhere\n")
    sub = git_repo / "vendor" / "lib"
    (sub / ".git").mkdir(parents=True)
    (sub / ".git" / "config").write_text("[core]\n\thooksPath = hooks\n")
    got = set(Workspace(git_repo, git_repo).protected_paths())
    assert {git_repo / ".husky", git_repo / ".gitconfig", sub / "hooks", git_repo / ".gitmodules"} <= got
    # outside the workspace too: the sandbox protects it when it lies in an extra writable dir
    assert Path("/etc/gitconfig-elsewhere") in got


def _user_env(home: Path, **extra: str) -> dict[str, str]:
    return {"HOME": str(home), "PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": str(home / ".config"), **extra}


def test_a_relative_hooks_path_in_the_global_config_is_resolved_in_each_worktree(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[core]\n\thooksPath = .githooks\n[include]\n\tpath = ~/team.gitconfig\n")
    (home / "team.gitconfig").write_text('[core]\n\tfsmonitor = tools/watch.sh\n[diff "x"]\n\ttextconv = ./bin/tc\n')
    ws = tmp_path / "ws"
    (ws / ".git").mkdir(parents=True)
    (ws / ".git" / "config").write_text("[core]\n\tbare = false\n")
    user = user_config(_user_env(home))
    assert home / ".gitconfig" in user.files and home / ".config" / "git" / "config" in user.files
    got = git_config_paths(ws / ".git", ws, user)
    assert {ws / ".githooks", ws / "tools" / "watch.sh", ws / "bin" / "tc", home / "team.gitconfig"} <= set(got)
    # the control: the repository's own config names none of them (the old reading missed them)
    assert ws / ".githooks" not in git_config_paths(ws / ".git", ws, UserConfig())


def test_git_config_global_and_env_settings_count(tmp_path: Path) -> None:
    """$GIT_CONFIG_GLOBAL replaces ~/.gitconfig (and may point into the workspace: the file itself is
    listed, existing or not); GIT_CONFIG_COUNT settings apply to every repository; NOSYSTEM drops the
    system file."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[core]\n\thooksPath = from-home\n")
    ws = tmp_path / "ws"
    (ws / ".git").mkdir(parents=True)
    env = _user_env(
        home,
        GIT_CONFIG_GLOBAL=str(ws / "team.gitconfig"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_COUNT="1",
        GIT_CONFIG_KEY_0="core.sshCommand",
        GIT_CONFIG_VALUE_0="ssh -F ops/ssh_config",
    )
    user = user_config(env)
    assert home / ".gitconfig" not in user.files and Path("/etc/gitconfig") not in user.files
    assert ("core.sshcommand", "ssh -F ops/ssh_config") in user.settings
    got = set(git_config_paths(ws / ".git", ws, user))
    assert {ws / "team.gitconfig", ws / "ops" / "ssh_config"} <= got
    assert ws / "from-home" not in got


def test_git_reports_the_files_it_reads(tmp_path: Path) -> None:
    """A system file at a path the documented rules do not name is found by asking git."""
    home = tmp_path / "home"
    home.mkdir()
    system = tmp_path / "etc-elsewhere" / "gitconfig"
    system.parent.mkdir()
    system.write_text("[core]\n\thooksPath = sys-hooks\n")
    user = user_config(_user_env(home, GIT_CONFIG_SYSTEM=str(system)))
    assert system in user.files
    ws = tmp_path / "ws"
    (ws / ".git").mkdir(parents=True)
    assert ws / "sys-hooks" in git_config_paths(ws / ".git", ws, user)


def test_a_relative_git_config_global_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rel.gitconfig").write_text("[core]\n\thooksPath = h\n")
    user = user_config(_user_env(tmp_path, GIT_CONFIG_GLOBAL="rel.gitconfig", GIT_CONFIG_NOSYSTEM="1"))
    assert user.files == (tmp_path / "rel.gitconfig",)


@pytest.mark.parametrize("where", ["global", "xdg"])
def test_workspace_protects_what_the_users_git_config_names(git_repo: Path, where: str) -> None:
    import os

    home = Path(os.environ["HOME"])  # the test's own home (tests/conftest.py)
    cfg = home / ".gitconfig" if where == "global" else home / ".config" / "git" / "config"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text("[core]\n\thooksPath = .githooks\n")
    sub = git_repo / "vendor" / "lib"
    (sub / ".git").mkdir(parents=True)
    got = set(Workspace(git_repo, git_repo).protected_paths())
    assert {git_repo / ".githooks", sub / ".githooks"} <= got
