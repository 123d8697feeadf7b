"""Issue 11: a secret in a file name, a symlink target or a ``user.*`` extended attribute.

None of them is file content, so the content scan never saw them and ``ls | rev``, ``readlink`` or
``getfattr`` carried the value to a command raw. The golden cases: each is found (and its value
learned), what a hit hides (the directory that lists the entry, or the entry with the attribute),
and the near misses (hash-like names, short prefixes, ordinary links and attributes) hide nothing.
End to end on both tiers, a command shifting the listing by one character (no known value follows
that) gets nothing; the strict xfail control, without the hiding, leaks.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from tests.support.cli import codeward, write_config
from tests.support.model_server import strings
from tests.support.sessions import offline_session

from codeward.errors import SandboxUnavailable
from codeward.privacy.learn import WorkspaceSecrets
from codeward.privacy.redacted_paths import secret_paths_now
from codeward.privacy.scanner import load_scanner
from codeward.sandbox.redacted_view import ViewError, prepare

TOK = "ghp_Q7mK2vX9pL4rT8wZ1nB6cJ3hF5dS0aYeUiOg"
SHIFT = "python3 -c 'import sys;sys.stdout.write(\"\".join(chr(ord(c)+1) for c in sys.stdin.read()))'"


def leaked(text: str) -> list[str]:
    found: list[str] = []
    for d in (text, "".join(chr(ord(c) - 1) if ord(c) > 33 else c for c in text)):
        found += [TOK[4:][i : i + 10] for i in range(len(TOK) - 13) if TOK[4:][i : i + 10] in d]
    return sorted(set(found))


def _secret_name(d: Path) -> Path:
    (d / TOK).write_text("nothing secret inside\n")
    return d


def _secret_link(d: Path) -> Path:
    os.symlink(f"../{TOK}", d / "current")
    return d


def _secret_xattr(d: Path) -> Path:
    f = d / "notes.txt"
    f.write_text("nothing secret inside\n")
    os.setxattr(f, "user.token", f"GITHUB_TOKEN={TOK}".encode())
    return f


def _secret_dir_name(d: Path) -> Path:
    (d / f"cache-{TOK}").mkdir()
    return d


CASES = {
    "file-name": _secret_name,
    "dir-name": _secret_dir_name,
    "symlink-target": _secret_link,
    "xattr": _secret_xattr,
}


def _learner(ws: Path) -> WorkspaceSecrets:
    learner = WorkspaceSecrets(ws, load_scanner())
    learner.refresh()
    return learner


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_secret_is_found_and_what_shows_it_is_hidden(tmp_path: Path, case: str) -> None:
    ws = tmp_path / "ws"
    (ws / "sub").mkdir(parents=True)
    (ws / "sub" / "app.py").write_text("print('hi')\n")
    hides = CASES[case](ws / "sub")
    learner = WorkspaceSecrets(ws, load_scanner())
    values = {v for v, _ in learner.refresh()}
    assert any(TOK in v for v in values), values  # learned: the gate redacts it wherever else it appears
    assert learner.hidden_entries() == {str(hides)}
    assert learner.secret_paths() == set()  # no file content holds it (the grep tool reads them raw)


NEAR_MISSES = {
    "hash-names": lambda d: [
        (d / f"{h}.json").write_text("{}") for h in ("d41d8cd98f00b204e9800998ecf8427e", "a" * 40)
    ],
    "short-prefix": lambda d: (d / "ghp_notatoken.txt").write_text("x"),
    "ordinary-link": lambda d: os.symlink("../lib/python3.11/site-packages", d / "site"),
    "ordinary-xattr": lambda d: (
        (d / "f").write_text("x"),
        os.setxattr(d / "f", "user.xdg.origin.url", b"https://example.com/download/file.tar.gz"),
    ),
}


@pytest.mark.parametrize("case", sorted(NEAR_MISSES))
def test_near_misses_hide_nothing(tmp_path: Path, case: str) -> None:
    ws = tmp_path / "ws"
    (ws / "sub").mkdir(parents=True)
    NEAR_MISSES[case](ws / "sub")
    learner = _learner(ws)
    assert learner.hidden_entries() == set() and learner.secret_paths() == set()


def test_renaming_the_entry_away_unhides_the_directory(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / "sub").mkdir(parents=True)
    _secret_name(ws / "sub")
    learner = _learner(ws)
    assert learner.hidden_entries() == {str(ws / "sub")}
    os.rename(ws / "sub" / TOK, ws / "sub" / "renamed.txt")
    learner.refresh()
    assert learner.hidden_entries() == set()
    # and a name that appears later is found by the incremental walk (the directory changed)
    (ws / "sub" / f"backup-{TOK}").write_text("")
    learner.refresh()
    assert learner.hidden_entries() == {str(ws / "sub")}


def test_the_view_hides_the_directory_and_makes_no_copy_inside_it(tmp_path: Path) -> None:
    ws, home = tmp_path / "ws", tmp_path / "home"
    (ws / "sub").mkdir(parents=True)
    _secret_name(ws / "sub")
    (ws / "sub" / "app.conf").write_text(f"GITHUB_TOKEN={TOK[:-1]}X\n")  # a redactable file in it
    (ws / "top.conf").write_text(f"GITHUB_TOKEN={TOK[:-2]}YZ\n")
    learner = _learner(ws)
    paths = secret_paths_now(type("R", (), {"learner": learner, "refresh": lambda self: None, "known": _NoKnown()})())
    plan = prepare(home, ws, paths, lambda t, rel: t.replace("ghp_", "<secret:x>"))
    try:
        assert plan.hidden == (ws / "sub",)
        assert [h for h, _ in plan.redacted] == [ws / "top.conf"]
    finally:
        plan.remove()


class _NoKnown:
    def items(self) -> list[tuple[str, str]]:
        return []


@pytest.mark.parametrize("case", ["file-name", "xattr"])
def test_a_hit_at_the_workspace_root_refuses_the_command(tmp_path: Path, case: str) -> None:
    """The root cannot be hidden from a command run in it: the command is refused, with what to do."""
    ws, home = tmp_path / "ws", tmp_path / "home"
    ws.mkdir()
    if case == "file-name":
        _secret_name(ws)
    else:
        os.setxattr(ws, "user.token", f"GITHUB_TOKEN={TOK}".encode())
    learner = _learner(ws)
    assert learner.hidden_entries() == {str(ws)}
    with pytest.raises(ViewError, match="workspace root holds a secret; rename or remove"):
        prepare(home, ws, learner.hidden_entries(), lambda t, rel: t)


# --- end to end


def _tier(cw_home: Path, tier: str, url: str = "http://127.0.0.1:9/v1") -> None:
    from codeward.sandbox import select_sandbox

    try:
        select_sandbox(tier)
    except SandboxUnavailable as e:
        pytest.skip(f"{tier} cannot be enforced here: {e}")
    write_config(cw_home, url, "chat", extra=f'[sandbox]\ntier = "{tier}"\noutput_cap_bytes = 1048576')


def _run(s: Any, command: str) -> str:
    from codeward.providers.types import ToolCall

    out = str(s.agent.tools.dispatch(ToolCall("c0", "shell", json.dumps({"command": command})), s.ctx).text)
    body = {"messages": [{"role": "tool", "tool_call_id": "c0", "content": out}]}
    return str(json.loads(s.gate.prepare(body, record=False).body)["messages"][0]["content"])


READ_ALL = (
    "ls -laR data; find data -type l -exec readlink {} +; "
    "python3 -c \"import os;[print(p, n, os.getxattr(p, n)) for r, ds, fs in os.walk('data') "
    'for p in [os.path.join(r, f) for f in fs] for n in os.listxattr(p)]"; true'
)
CONTROL = pytest.mark.xfail(strict=True, raises=AssertionError, reason="control: without the hiding it leaks")


@pytest.mark.sandbox
@pytest.mark.parametrize("tier", ["bwrap", "landlock"])
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("hiding", [True, pytest.param(False, marks=CONTROL)])
def test_a_shifted_listing_carries_nothing(
    git_repo: Path, cw_home: Path, monkeypatch: pytest.MonkeyPatch, tier: str, case: str, hiding: bool
) -> None:
    _tier(cw_home, tier)
    (git_repo / "data" / "sub").mkdir(parents=True)
    (git_repo / "data" / "keep.txt").write_text("keep me\n")
    CASES[case](git_repo / "data" / "sub")
    if not hiding:
        monkeypatch.setattr(WorkspaceSecrets, "hidden_entries", lambda self: set())
    s = offline_session(git_repo)
    out = _run(s, f"({READ_ALL}) | {SHIFT}")
    assert out.startswith("exit code: 0")
    assert leaked(out) == [], out
    plain = _run(s, "cat data/keep.txt; ls data/sub")
    assert "keep me" in plain  # only what shows the secret is hidden, not its neighbours


@pytest.mark.sandbox
@pytest.mark.parametrize("tier", ["bwrap", "landlock"])
def test_a_scripted_model_listing_the_tree_gets_nothing(
    model_server: Any, git_repo: Path, cw_home: Path, tier: str
) -> None:
    (git_repo / "data" / "a").mkdir(parents=True)
    (git_repo / "data" / "b").mkdir()
    (git_repo / "data" / "c").mkdir()
    _secret_name(git_repo / "data" / "a")
    _secret_link(git_repo / "data" / "b")
    _secret_xattr(git_repo / "data" / "c")
    steps: list[dict[str, Any]] = [
        {"tool": "shell", "args": {"command": f"({READ_ALL}) | {SHIFT}"}},
        {"tool": "shell", "args": {"command": f"ls -R | rev; ls data/a data/b 2>&1 | {SHIFT}; echo listed"}},
        {"text": "done"},
    ]
    model_server.script(steps)
    _tier(cw_home, tier, model_server.url)
    run = codeward("exec", "--json", "-a", "full-auto", "go", cwd=git_repo)
    assert run.returncode == 0, run.stderr
    assert len(model_server.requests) == len(steps)
    sent = "\n".join(x for r in model_server.requests for x in strings(json.loads(r.body)))
    assert leaked(sent) == []
    assert "listed" in sent


def test_a_name_holding_a_known_value_no_rule_finds_is_hidden_by_the_sweep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``.env`` holds a password (found there by its key); a directory named after the bare value is
    found by no rule, only by the sweep for known values. The near miss: a value under 16 characters
    (``postgres``, which the same rule takes from ``POSTGRES_PASSWORD=postgres``) hides nothing."""
    ws = tmp_path / "ws"
    (ws / "backups" / "riverbankmoonlight42").mkdir(parents=True)
    (ws / "docker" / "postgres").mkdir(parents=True)
    (ws / ".env").write_text("DB_PASSWORD=riverbankmoonlight42\nPOSTGRES_PASSWORD=postgres\n")
    monkeypatch.setattr(WorkspaceSecrets, "_start_sweep", lambda self, values: None)  # no race with the check
    learner = WorkspaceSecrets(ws, load_scanner())
    values = learner.refresh()
    assert {"riverbankmoonlight42", "postgres"} <= {v for v, _ in values}
    assert learner.hidden_entries() == set()  # rules alone miss the bare value in a name
    learner.sweep(values)
    assert learner.hidden_entries() == {str(ws / "backups")}


@pytest.mark.sandbox
@pytest.mark.parametrize("tier", ["bwrap", "landlock"])
@pytest.mark.parametrize("hiding", [True, pytest.param(False, marks=CONTROL)])
def test_a_secret_name_at_the_workspace_root_refuses_commands_until_renamed(
    git_repo: Path, cw_home: Path, monkeypatch: pytest.MonkeyPatch, tier: str, hiding: bool
) -> None:
    _tier(cw_home, tier)
    _secret_name(git_repo)
    if not hiding:
        monkeypatch.setattr(WorkspaceSecrets, "hidden_entries", lambda self: set())
    s = offline_session(git_repo)
    out = _run(s, f"ls -a | {SHIFT}")
    assert leaked(out) == [], out
    assert "workspace root holds a secret; rename or remove that entry" in out and "not run" in out, out
    os.rename(git_repo / TOK, git_repo / "renamed.txt")
    assert "renamed.txt" in _run(s, "ls")  # the next command runs again
