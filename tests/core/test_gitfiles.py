"""What a repository's git config makes git run or read, found without running git."""

from __future__ import annotations

from pathlib import Path

from codeward.gitfiles import git_config_paths, parse_config
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
    got = git_config_paths(gd, ws)
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
