"""The grep tool: the model's pattern meets only redacted text (no oracle on secret bytes), long
lines are redacted before they are cut, files it does not search are named, and it stops at its
time budget with what it found.
"""

from __future__ import annotations

import json
import os
import string
from pathlib import Path

import pytest
from tests.support.sessions import offline_session

from codeward.privacy import learn as learn_mod
from codeward.providers.types import ToolCall
from codeward.tools import grep as grep_mod

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8kW3nV2a"


class Tools:
    def __init__(self, root: Path) -> None:
        self.session = offline_session(root, "suggest")

    def grep(self, **args: object) -> str:
        out = self.session.agent.tools.dispatch(ToolCall("c1", "grep", json.dumps(args)), self.session.ctx)
        return out.text


@pytest.fixture
def repo(git_repo: Path) -> Path:
    (git_repo / "config").mkdir()
    (git_repo / "config" / "app.conf").write_text(f"region = eu\naws_secret_access_key = {SECRET}\n")
    return git_repo


def recover_first_chars(tools: Tools, n: int) -> str:
    """The oracle attack: guess the secret one character at a time from match / no match."""
    got = ""
    for _ in range(n):
        for c in string.ascii_letters + string.digits + "/+":
            pat = "aws_secret_access_key = (?:<secret|" + "".join("\\" + x if x in "/+" else x for x in got + c) + ")"
            probe = "aws_secret_access_key = " + "".join("\\" + x if x in "/+" else x for x in got + c)
            # the pair differs only when the secret's raw bytes decide the answer
            if ("app.conf" in tools.grep(pattern=probe)) and "app.conf" in tools.grep(pattern=pat):
                got += c
                break
        else:
            return got
    return got


def test_the_pattern_never_meets_the_raw_secret(repo: Path) -> None:
    tools = Tools(repo)
    assert recover_first_chars(tools, 3) == ""
    out = tools.grep(pattern="aws_secret_access_key")
    assert "config/app.conf:2: aws_secret_access_key = <secret:" in out and SECRET not in out
    assert "no matches" in tools.grep(pattern="aws_secret_access_key = wJ")


def test_control_raw_matching_is_an_oracle(repo: Path) -> None:
    """Without redaction before matching, the same probes recover the secret (what the tool prevents)."""
    import re2

    raw = (repo / "config" / "app.conf").read_text()
    got = ""
    for _ in range(3):
        got += next(
            c for c in string.ascii_letters + string.digits if re2.search("aws_secret_access_key = " + got + c, raw)
        )
    assert got == SECRET[:3]


def test_a_copy_of_a_secret_file_made_by_a_command_is_no_oracle_either(repo: Path) -> None:
    tools = Tools(repo)
    tools.grep(pattern="region")  # the session now knows the value
    (repo / "copy.txt").write_text(f"key = {SECRET}\n")  # as `cp` in a command would
    assert "copy.txt" in tools.grep(pattern="key = (?:<secret|wJ)")
    assert "copy.txt" in tools.grep(pattern="key = (?:<secret|zz)")  # same answer whatever the guess


def test_long_lines_are_redacted_before_they_are_cut(repo: Path) -> None:
    (repo / "long.txt").write_text("x" * 280 + f" aws_secret_access_key = {SECRET}\n")
    out = Tools(repo).grep(pattern="xxxx")
    line = next(ln for ln in out.splitlines() if ln.startswith("long.txt:"))
    assert SECRET[:10] not in line and "wJalr" not in line and line.endswith("[...]")


def test_files_too_large_to_search_are_named(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(grep_mod, "MAX_FILE_BYTES", 100)
    monkeypatch.setattr(learn_mod, "MAX_FILE_BYTES", 100)  # the workspace scan lists the files too large
    (repo / "big.txt").write_text("needle\n" + "y" * 200)
    (repo / "blob.bin").write_bytes(b"needle\x00\x01")
    out = Tools(repo).grep(pattern="needle")
    assert "no matches" in out and "[not searched: big.txt (over" in out


def test_time_budget_returns_what_was_found(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(5):
        (repo / f"m{i}.txt").write_text("needle\n")
    monkeypatch.setattr(grep_mod, "TIME_BUDGET_S", 0.0)
    out = Tools(repo).grep(pattern="needle")
    assert "time budget" in out and "incomplete" in out


def test_non_utf8_file_names_are_shown_escaped(repo: Path) -> None:
    name = os.fsencode(repo) + b"/caf\xe9.txt"
    with open(name, "wb") as f:
        f.write(b"needle here\n")
    out = Tools(repo).grep(pattern="needle")
    assert "caf\\xe9.txt:1: needle here" in out


def test_ripgrep_is_the_pinned_wheel() -> None:
    import subprocess

    rg = grep_mod.rg_binary()
    assert rg is not None
    assert subprocess.run([rg, "--version"], capture_output=True, text=True).stdout.startswith("ripgrep 14.1.0")


def test_a_reversed_copy_made_by_a_command_is_no_oracle(repo: Path) -> None:
    tools = Tools(repo)
    tools.grep(pattern="region")  # first walk done; the secret is known
    (repo / "rev.txt").write_text(SECRET[::-1] + "\n")  # as `rev config/app.conf > rev.txt` would
    first = SECRET[::-1][:3].replace("+", "\\+").replace("/", "\\/")
    right = tools.grep(pattern=f"^(?:<secret|{first})")
    wrong = tools.grep(pattern="^(?:<secret|zzz)")
    assert ("rev.txt" in right) == ("rev.txt" in wrong) == True  # noqa: E712
    assert SECRET[::-1] not in right
