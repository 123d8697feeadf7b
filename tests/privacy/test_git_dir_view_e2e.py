"""rt1 finding 1: the text files of a ``.git`` directory are shown redacted to commands.

``.git/config`` with a token in a remote URL or the ``http.*.extraheader`` a CI checkout writes, a
commit message in ``.git/logs/HEAD``, a submodule's ``.git/modules/NAME/config``, ``info/exclude``
(which bubblewrap binds a copy of, with the attributes), a hook, a hard link to a
secret file put inside ``.git``, and a ``.git`` directory deeper in the tree: a command reads each
and shifts every character by one, which no known-value encoding follows. Judged by what the
scripted server received: no 10-character piece of the token, plain or shifted back, may be there.
The strict xfail control runs the same commands with the learner walking as before (every ``.git``
skipped) and must find the leak.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.cli import codeward, write_config
from tests.support.model_server import strings
from tests.support.sessions import offline_session

from codeward.errors import SandboxUnavailable

TOK = "ghp_" + "Q7mK2vX9pL4rT8wZ1nB6cJ3hF5dS0aYeUiOg"
BASIC = base64.b64encode(f"x-access-token:{TOK}".encode()).decode()
AWS = "Hs8Dk2Lq9Wz4Xc7Vb1Nm5Tr3Yp6Gf0Ju2Ei8Oa4"
SECRETS = (TOK[4:], BASIC[8:-4], AWS)
CONF = f"aws_secret_access_key = {AWS}\nGITHUB_TOKEN={TOK}\n"
SHIFT = "python3 -c 'import sys;sys.stdout.write(\"\".join(chr(ord(c)+1) for c in sys.stdin.read()))'"


def git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, env=env)


def leaked(text: str) -> list[str]:
    """10-character pieces of a planted secret in ``text`` or in ``text`` shifted back by one."""
    found: list[str] = []
    for d in (text, "".join(chr(ord(c) - 1) if ord(c) > 33 else c for c in text)):
        for s in SECRETS:
            found += [s[i : i + 10] for i in range(len(s) - 9) if s[i : i + 10] in d]
    return sorted(set(found))


def remote_url(repo: Path) -> str:
    git(repo, "remote", "add", "origin", f"https://x-access-token:{TOK}@github.com/acme/app.git")
    return ".git/config"


def extraheader(repo: Path) -> str:
    git(repo, "config", "http.https://github.com/.extraheader", f"AUTHORIZATION: basic {BASIC}")
    return ".git/config"


def commit_message(repo: Path) -> str:
    (repo / "notes.txt").write_text("notes\n")
    git(repo, "add", "notes.txt")
    git(repo, "commit", "-qm", f"use deploy token {TOK}")
    return ".git/logs/HEAD"


def submodule(repo: Path) -> str:
    lib = repo.parent / f"{repo.name}-lib"
    lib.mkdir()
    git(lib, "init", "-q")
    (lib / "lib.py").write_text("X = 1\n")
    git(lib, "add", "lib.py")
    git(lib, "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-qm", "lib")
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib), "lib")
    git(repo / "lib", "remote", "set-url", "origin", f"https://x-access-token:{TOK}@github.com/acme/lib.git")
    return ".git/modules/lib/config"


def hard_link(repo: Path) -> str:
    (repo / "app.conf").write_text(CONF)
    os.link(repo / "app.conf", repo / ".git" / "description2")
    return ".git/description2"


def nested_dot_git(repo: Path) -> str:
    (repo / "vendor" / "lib" / ".git").mkdir(parents=True)
    (repo / "vendor" / "lib" / ".git" / "deploy.env").write_text(CONF)
    return "vendor/lib/.git/deploy.env"


def info_exclude(repo: Path) -> str:
    # a hidden .env makes bubblewrap bind a copy of .git/info (with the attributes for hidden paths)
    (repo / ".env").write_text("DEBUG=1\n")
    (repo / ".git" / "info" / "exclude").write_text(f"# deploy: {TOK}\n*.log\n")
    return ".git/info/exclude"


def hook(repo: Path) -> str:
    hook = repo / ".git" / "hooks" / "pre-push"
    hook.write_text(f"#!/bin/sh\nexport GITHUB_TOKEN={TOK}\n")
    hook.chmod(0o755)
    return ".git/hooks/pre-push"


CASES: dict[str, Callable[[Path], str]] = {
    f.__name__: f
    for f in (remote_url, extraheader, commit_message, submodule, hard_link, nested_dot_git, info_exclude, hook)
}


def _tier(home: Path, tier: str, url: str = "http://127.0.0.1:9/v1") -> None:
    from codeward.sandbox import select_sandbox

    try:
        select_sandbox(tier)
    except SandboxUnavailable as e:
        pytest.skip(f"{tier} cannot be enforced here: {e}")
    write_config(home, url, "chat", extra=f'[sandbox]\ntier = "{tier}"\noutput_cap_bytes = 1048576')


def _snapshot(git_dir: Path) -> dict[str, bytes]:
    """Every file of ``git_dir`` but its objects, by relative path: nothing may change on the host."""
    out = {}
    for p in sorted(git_dir.rglob("*")):
        rel = p.relative_to(git_dir).as_posix()
        if p.is_file() and not p.is_symlink() and not rel.startswith("objects/"):
            out[rel] = p.read_bytes()
    return out


@pytest.mark.sandbox
@pytest.mark.parametrize("tier", ["bwrap", "landlock"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_a_secret_in_a_git_directory_is_shown_redacted(
    model_server, git_repo: Path, cw_home: Path, tier: str, case: str
) -> None:
    path = CASES[case](git_repo)
    before = _snapshot(git_repo / ".git")
    steps: list[dict[str, Any]] = [
        {"tool": "shell", "args": {"command": f"cat {path} | {SHIFT}"}},
        {"tool": "shell", "args": {"command": f"cat {path}"}},
        {"text": "done"},
    ]
    model_server.script(steps)
    _tier(cw_home, tier, model_server.url)
    run = codeward("exec", "--json", "-a", "full-auto", "go", cwd=git_repo)
    assert run.returncode == 0, run.stderr
    bodies = [json.loads(r.body) for r in model_server.requests]
    sent = "\n".join(s for b in bodies for s in strings(b))
    assert leaked(sent) == []
    outputs = [m["content"] for m in bodies[-1]["messages"] if m.get("role") == "tool"]
    assert all(o.startswith("exit code: 0") for o in outputs), outputs
    assert "<secret:" in outputs[1]  # the honest cat shows the placeholder where the value was
    assert _snapshot(git_repo / ".git") == before  # the host's .git is as it was (Landlock held it)
    assert not list((cw_home / "run").glob("view-*"))


@pytest.mark.sandbox
def test_git_writes_to_a_redacted_config_under_landlock_leave_the_real_one(git_repo: Path, cw_home: Path) -> None:
    """Landlock puts the copy in ``.git/config``'s place; git rewrites a config by lock and rename.
    After the command the real file (with its token) is back and nothing is left beside it."""
    _tier(cw_home, "landlock")
    remote_url(git_repo)
    before = (git_repo / ".git" / "config").read_bytes()
    s = offline_session(git_repo)
    out = _dispatch(s, "git config user.name changed; git config --get remote.origin.url; git status --short", 0)
    assert "x-access-token:<secret:" in out, out
    assert (git_repo / ".git" / "config").read_bytes() == before
    assert sorted(p.name for p in (git_repo / ".git").iterdir() if "config" in p.name) == ["config"]
    after = _dispatch(s, "git config --get remote.origin.url", 1)
    assert "x-access-token:<secret:" in after and TOK[4:14] not in after


def _dispatch(s: Any, command: str, n: int) -> str:
    from codeward.providers.types import ToolCall

    return str(s.agent.tools.dispatch(ToolCall(f"c{n}", "shell", json.dumps({"command": command})), s.ctx).text)


def _sent(s: Any, outputs: list[str]) -> str:
    """The tool results as the gate would send them."""
    body = {"messages": [{"role": "tool", "tool_call_id": f"c{i}", "content": o} for i, o in enumerate(outputs)]}
    return "\n".join(strings(json.loads(s.gate.prepare(body, record=False).body)))


def _dirs_skipping_git(root: Path) -> Iterator[tuple[str, Any, list[tuple[str, str, os.stat_result]]]]:
    """The learner's walk as it was: every directory named ``.git`` skipped."""
    from codeward.privacy.walk import _dirs

    for d, st, entries in _dirs(root):
        if ".git" not in Path(d).relative_to(root).parts:
            yield d, st, [e for e in entries if e[1] != ".git"]


CONTROL = pytest.mark.xfail(strict=True, raises=AssertionError, reason="control: a walk that skips .git leaks")


@pytest.mark.sandbox
@pytest.mark.parametrize(
    ("case", "covered"),
    [pytest.param(c, True, id=f"{c}-walked") for c in sorted(CASES)]
    + [pytest.param(c, False, id=f"{c}-skipped", marks=CONTROL) for c in sorted(CASES)],
)
def test_each_git_file_leaks_when_the_learner_skips_git(
    git_repo: Path, cw_home: Path, monkeypatch: pytest.MonkeyPatch, case: str, covered: bool
) -> None:
    _tier(cw_home, "bwrap")
    path = CASES[case](git_repo)
    if not covered:
        monkeypatch.setattr("codeward.privacy.learn._dirs", _dirs_skipping_git)
    s = offline_session(git_repo)
    output = _dispatch(s, f"cat {path} | {SHIFT}", 0)
    assert output.startswith("exit code: 0") and len(output) > 30, output
    assert leaked(_sent(s, [output])) == []
