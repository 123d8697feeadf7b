"""Red team rt1 on the real bubblewrap tier: binary and UTF-16 files, the sweep race, parts of values.

Each attack runs in process through the shell tool, and its output is judged as the gate would
send it: no 10-character piece of a planted secret, plain or shifted back by one, may be left.
"""

from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from tests.support.cli import write_config
from tests.support.sessions import offline_session

from codeward.errors import SandboxUnavailable

TOK = "ghp_Q7mK2vX9pL4rT8wZ1nB6cJ3hF5dS0aYeUiOg"
AWS = "Hs8Dk2Lq9Wz4Xc7Vb1Nm5Tr3Yp6Gf0Ju2Ei8Oa4"
CONF = f"aws_secret_access_key = {AWS}\nGITHUB_TOKEN={TOK}\nregion = eu-west-1\n"
SHIFT = "python3 -c 'import sys;sys.stdout.write(\"\".join(chr(ord(c)+1) for c in sys.stdin.read()))'"


def leaked(text: str) -> list[str]:
    found: list[str] = []
    for d in (text, "".join(chr(ord(c) - 1) if ord(c) > 33 else c for c in text)):
        for s in (TOK[4:], AWS):
            found += [s[i : i + 10] for i in range(len(s) - 9) if s[i : i + 10] in d]
    return sorted(set(found))


def _tier(cw_home: Path, tier: str) -> Path:
    from codeward.sandbox import select_sandbox

    try:
        select_sandbox(tier)
    except SandboxUnavailable as e:
        pytest.skip(f"{tier} cannot be enforced here: {e}")
    extra = f'[sandbox]\ntier = "{tier}"\noutput_cap_bytes = 1048576'
    write_config(cw_home, "http://127.0.0.1:9/v1", "chat", extra=extra)
    return cw_home


@pytest.fixture
def bwrap_home(cw_home: Path) -> Path:
    return _tier(cw_home, "bwrap")


def _run(s: Any, command: str) -> str:
    from codeward.providers.types import ToolCall

    out = str(s.agent.tools.dispatch(ToolCall("c0", "shell", json.dumps({"command": command})), s.ctx).text)
    body = {"messages": [{"role": "tool", "tool_call_id": "c0", "content": out}]}
    return str(json.loads(s.gate.prepare(body, record=False).body)["messages"][0]["content"])


def _zip(r: Path) -> str:
    with zipfile.ZipFile(r / "bundle.zip", "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("app.conf", CONF)
    return "python3 -c \"import zipfile;print(zipfile.ZipFile('bundle.zip').read('app.conf').decode())\""


def _sqlite(r: Path) -> str:
    import sqlite3

    db = sqlite3.connect(r / "dev.sqlite3")
    db.execute("create table creds(k text, v text)")
    db.execute("insert into creds values ('aws_secret_access_key', ?), ('github', ?)", (AWS, TOK))
    db.commit()
    db.close()
    return (
        "python3 -c \"import sqlite3;print(sqlite3.connect('dev.sqlite3').execute('select * from creds').fetchall())\""
    )


ATTACKS = {
    "sqlite": (_sqlite, None),
    "utf16": (
        lambda r: (r / "settings.txt").write_bytes(CONF.encode("utf-16")),
        "iconv -f utf-16 -t utf-8 settings.txt",
    ),
    "binary": (
        lambda r: (r / "blob.bin").write_bytes(b"\x7fELF\0\0\0" + b"\0" * 100 + f"\ntoken={TOK}\n{CONF}".encode()),
        "strings blob.bin",
    ),
    "gzip": (lambda r: (r / "backup.conf.gz").write_bytes(gzip.compress(CONF.encode())), "zcat backup.conf.gz"),
    "zip": (_zip, None),
}


@pytest.mark.sandbox
@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_binary_and_utf16_files_give_a_command_nothing(git_repo: Path, bwrap_home: Path, name: str) -> None:
    setup, command = ATTACKS[name]
    made = setup(git_repo)
    command = command or str(made)
    s = offline_session(git_repo)
    out = _run(s, f"{command} | {SHIFT}")
    assert leaked(out) == [], out
    if name == "utf16":  # text: shown redacted, in its own encoding
        plain = _run(s, "iconv -f utf-16 -t utf-8 settings.txt")
        assert "region = eu-west-1" in plain and plain.count("<secret:") == 2, plain
    else:  # binary: hidden, never shown redacted or raw
        files = " ".join(p.name for p in git_repo.iterdir() if p.suffix in (".bin", ".gz", ".zip", ".sqlite3"))
        probe = _run(s, f"for f in {files}; do cat $f >/dev/null 2>&1 && echo READ $f || echo HIDDEN $f; done")
        assert "HIDDEN" in probe and "READ" not in probe, probe


def test_the_old_sniff_called_every_attack_file_binary(tmp_path: Path) -> None:
    """The control: each file above has a NUL in its first 8 KiB, which the old scan and view took for
    a binary to skip and show as it is."""
    for setup, _ in ATTACKS.values():
        setup(tmp_path)
    for f in tmp_path.iterdir():
        assert b"\0" in f.read_bytes()[:8192], f.name


NOTES = f"prod: {AWS}\nother: {TOK[4:]}\n"


def _sweep_race_repo(r: Path) -> None:
    (r / ".env").write_text(f"GITHUB_TOKEN={TOK}\nAWS_SECRET_ACCESS_KEY={AWS}\n")
    (r / "notes.txt").write_text(NOTES)  # copies no rule finds: only the sweep for known values marks it


@pytest.mark.sandbox
@pytest.mark.parametrize(
    "wait", [True, pytest.param(False, marks=pytest.mark.xfail(strict=True, raises=AssertionError))]
)
def test_the_first_command_waits_for_the_sweep_of_known_values(
    git_repo: Path, bwrap_home: Path, monkeypatch: pytest.MonkeyPatch, wait: bool
) -> None:
    """The background sweep is switched off, so it can never win the race by chance: the shell tool's
    own wait for the sweep is what keeps ``notes.txt`` from being read raw. The control (xfail)
    switches that wait off too and must leak."""
    from codeward.privacy.learn import WorkspaceSecrets

    _sweep_race_repo(git_repo)
    monkeypatch.setattr(WorkspaceSecrets, "_start_sweep", lambda self, values: None)
    if not wait:
        monkeypatch.setattr(WorkspaceSecrets, "sweep", lambda self, values: None)
    s = offline_session(git_repo)
    out = _run(s, f"cat notes.txt | {SHIFT}")
    assert out.startswith("exit code: 0"), out
    assert leaked(out) == [], out


@pytest.mark.sandbox
def test_a_cut_of_a_known_value_read_raw_from_git_is_redacted(
    git_repo: Path, cw_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gate's second line: with the Landlock object-store view switched off (as for a linked
    worktree, which has none), a command reads git's objects raw: ``cut -c3-`` of a staged value, or
    the token without its ``ghp_``, is caught by the gate's windows of the values the history scan
    made known."""
    import subprocess

    _tier(cw_home, "landlock")
    monkeypatch.setattr("codeward.sandbox.landlock_store.planned", lambda spec: [])
    (git_repo / "app.conf").write_text(CONF)
    subprocess.run(["git", "add", "app.conf"], cwd=git_repo, check=True, capture_output=True)
    (git_repo / "app.conf").write_text("aws_secret_access_key = ${AWS_SECRET}\n")
    s = offline_session(git_repo)
    out = _run(s, "git show :app.conf | cut -d= -f2 | cut -c3-; git show :app.conf | sed -e 's/ghp_//'")
    assert out.startswith("exit code: 0") and "eu-west-1" in out, out
    assert leaked(out) == [], out
