"""Ignore files fail closed and say why: a UTF-8 BOM is read as git reads it, an unreadable file or
an invalid line refuses the run naming file (and line), and file names that are not UTF-8 work in
preview and list_dir instead of crashing them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tests.support.cw_subprocess import run_cw
from tests.support.sessions import offline_session

from codeward.errors import ConfigError
from codeward.privacy.ignore import load_ignore
from codeward.workspace import Workspace


def matcher(root: Path, home: Path):
    return load_ignore(Workspace(root=root, cwd=root), home)


def test_a_bom_does_not_swallow_the_first_rule(git_repo: Path, tmp_path: Path) -> None:
    (git_repo / ".codexignore").write_bytes(b"\xef\xbb\xbfprivate.txt\nother.txt\n")
    m = matcher(git_repo, tmp_path)
    assert m.match("private.txt") is not None and m.match("other.txt") is not None


def test_control_a_bom_read_naively_is_part_of_the_pattern(git_repo: Path) -> None:
    """What reading the file without dropping the BOM gives: the first pattern matches nothing."""
    import pathspec

    text = (b"\xef\xbb\xbfprivate.txt\n").decode("utf-8")
    assert not pathspec.GitIgnoreSpec.from_lines(text.splitlines()).match_file("private.txt")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_ignore_file_refuses_the_run(git_repo: Path, tmp_path: Path) -> None:
    f = git_repo / ".codexignore"
    f.write_text("private.txt\n")
    f.chmod(0)
    with pytest.raises(ConfigError, match=r"\.codexignore: cannot read"):
        matcher(git_repo, tmp_path)


def test_an_unreadable_ignore_file_refuses_the_run_even_as_root(git_repo: Path, tmp_path: Path) -> None:
    # a directory where the file should be is unreadable as a file for everyone, root included
    (git_repo / ".codexignore").mkdir()
    with pytest.raises(ConfigError, match=r"\.codexignore: cannot read this ignore file"):
        matcher(git_repo, tmp_path)
    r = run_cw("preview", cwd=git_repo)
    assert r.returncode == 2 and ".codexignore: cannot read" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize(
    ("line", "why"), [("!", "lone '!'"), ("\\", "trailing backslash"), ("foo\\", "trailing backslash")]
)
def test_an_invalid_line_names_file_and_line(git_repo: Path, tmp_path: Path, line: str, why: str) -> None:
    (git_repo / ".codexignore").write_text(f"ok.txt\n# comment\n{line}\n")
    with pytest.raises(ConfigError, match=rf"\.codexignore:3: invalid ignore pattern .*{why}"):
        matcher(git_repo, tmp_path)
    r = run_cw("preview", cwd=git_repo)
    assert r.returncode == 2 and ".codexignore:3:" in r.stderr and "internal error" not in r.stderr


def test_non_utf8_file_names_work_in_preview(git_repo: Path) -> None:
    with open(os.fsencode(git_repo) + b"/caf\xe9.txt", "wb") as f:
        f.write(b"hello\n")
    with open(os.fsencode(git_repo) + b"/caf\xe9.env", "wb") as f:
        f.write(b"K=v\n")
    (git_repo / ".codexignore").write_text("*.env\n")
    r = run_cw("preview", "--json", cwd=git_repo)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert any("caf" in p and p.endswith(".txt") for p in d["readable"])
    assert any("caf" in b["path"] and b["path"].endswith(".env") for b in d["blocked"])


@pytest.mark.sandbox
def test_non_utf8_file_names_work_in_list_dir_grep_and_shell(git_repo: Path) -> None:
    from codeward.providers.types import ToolCall

    with open(os.fsencode(git_repo) + b"/caf\xe9.txt", "wb") as f:
        f.write(b"needle\n")
    with open(os.fsencode(git_repo) + b"/caf\xe9.env", "wb") as f:
        f.write(b"HIDDEN_VALUE_7f3a\n")
    (git_repo / ".codexignore").write_text("*.env\n")
    s = offline_session(git_repo)

    def call(name: str, **args: object) -> str:
        return s.agent.tools.dispatch(ToolCall("c", name, json.dumps(args)), s.ctx).text

    listing = call("list_dir")
    assert "caf" in listing and "internal error" not in listing and "[1 entry hidden by ignore rules]" in listing
    assert "caf\\xe9.txt:1: needle" in call("grep", pattern="needle")
    out = call("shell", command="cat caf*.txt; cat caf*.env")
    assert "needle" in out and "HIDDEN_VALUE_7f3a" not in out and "internal error" not in out
