"""rt1 finding 2, under bubblewrap and under Landlock: a secret committed, staged or stashed *during* a session is read
by the sandbox's git as a placeholder, whatever the command does with it (``cut`` slices shifted by
one character, which no known-value encoding follows; a pack inflated with Python's zlib after
``git gc``), through the session's own shell tool.

The object-store view (:mod:`codeward.privacy.history_view`) is rebuilt whenever the store changes,
so a blob added by the user between two commands is out of the view for the second one. bubblewrap
binds it over ``.git/objects``; Landlock holds the real store out of the tree and puts the view's
forged store at its name (:mod:`codeward.sandbox.landlock_store`). The strict xfail control runs
the same commands with the view switched off and must find the leak.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.support.cli import write_config
from tests.support.sessions import offline_session

from codeward.errors import SandboxUnavailable

TOK = "ghp_" + "Q7mK2vX9pL4rT8wZ1nB6cJ3hF5dS0aYeUiOg"
AWS = "Hs8Dk2Lq9Wz4Xc7Vb1Nm5Tr3Yp6Gf0Ju2Ei8Oa4"
SECRETS = (TOK[4:], AWS)
CONF = f"aws_secret_access_key = {AWS}\nGITHUB_TOKEN={TOK}\n"
SHIFT = "python3 -c 'import sys;sys.stdout.write(\"\".join(chr(ord(c)+1) for c in sys.stdin.read()))'"
UNPACK = """import glob, os, sys, zlib
stores = [".git/objects"]
if os.path.exists(".git/objects/info/alternates"):
    stores += open(".git/objects/info/alternates").read().split()
d = b"".join(open(f, "rb").read() for s in stores for f in glob.glob(s + "/pack/*.pack"))
d += b"".join(open(f, "rb").read() for s in stores for f in glob.glob(s + "/??/*"))
for i in range(len(d)):
    if d[i] == 0x78:
        try:
            sys.stdout.write(zlib.decompressobj().decompress(d[i:i + 4000]).decode("latin1"))
        except Exception:
            pass
"""


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


def committed(repo: Path) -> str:
    (repo / "app.conf").write_text(CONF)
    git(repo, "add", "app.conf")
    git(repo, "commit", "-qm", "conf")
    return f"git show HEAD:app.conf | cut -d= -f2 | cut -c3- | {SHIFT}"


def staged(repo: Path) -> str:
    (repo / "app.conf").write_text(CONF)
    git(repo, "add", "app.conf")
    return f"git show :app.conf | cut -d= -f2 | cut -c3- | {SHIFT}"


def history(repo: Path) -> str:
    committed(repo)
    (repo / "app.conf").write_text("aws_secret_access_key = ${AWS_SECRET}\n")
    git(repo, "commit", "-qam", "rm secret")
    return f"git log -p | {SHIFT}"


def stash(repo: Path) -> str:
    (repo / "README.md").write_text(f"# test\n{CONF}")
    git(repo, "stash")
    return f"git stash show -p | {SHIFT}; git show 'stash@{{0}}:README.md' | cut -c3- | {SHIFT}"


def packed(repo: Path) -> str:
    committed(repo)
    git(repo, "gc", "-q")
    (repo / "unpack.py").write_text(UNPACK)
    return f"python3 unpack.py | {SHIFT}"


CASES: dict[str, Callable[[Path], str]] = {f.__name__: f for f in (committed, staged, history, stash, packed)}
CONTROL = pytest.mark.xfail(strict=True, raises=AssertionError, reason="control: without the view the blob is raw")


def _dispatch(s: Any, command: str, n: int) -> str:
    from codeward.providers.types import ToolCall

    return str(s.agent.tools.dispatch(ToolCall(f"c{n}", "shell", json.dumps({"command": command})), s.ctx).text)


def _sent(s: Any, outputs: list[str]) -> str:
    """The tool results as the gate would send them."""
    body = {"messages": [{"role": "tool", "tool_call_id": f"c{i}", "content": o} for i, o in enumerate(outputs)]}
    texts = [m["content"] for m in json.loads(s.gate.prepare(body, record=False).body)["messages"]]
    return "\n".join(texts)


@pytest.mark.sandbox
@pytest.mark.parametrize("tier", ["bwrap", "landlock"])
@pytest.mark.parametrize(
    ("case", "view"),
    [pytest.param(c, True, id=f"{c}-view") for c in sorted(CASES)]
    + [pytest.param(c, False, id=f"{c}-no-view", marks=CONTROL) for c in sorted(CASES)],
)
def test_a_secret_added_to_git_during_the_session_is_a_placeholder(
    git_repo: Path, cw_home: Path, monkeypatch: pytest.MonkeyPatch, case: str, view: bool, tier: str
) -> None:
    from codeward.sandbox import select_sandbox

    try:
        select_sandbox(tier)
    except SandboxUnavailable as e:
        pytest.skip(f"{tier} cannot be enforced here: {e}")
    write_config(cw_home, "http://127.0.0.1:9/v1", "chat", extra=f'[sandbox]\ntier = "{tier}"')
    if not view:
        monkeypatch.setattr("codeward.sandbox.gitview.object_binds", lambda spec: [])
        monkeypatch.setattr("codeward.sandbox.landlock_store.planned", lambda spec: [])
    s = offline_session(git_repo)
    first = _dispatch(s, "git log --oneline | head -1", 0)  # a view (or none) is built before the change
    assert first.startswith("exit code: 0"), first
    command = CASES[case](git_repo)
    output = _dispatch(s, command, 1)
    assert output.startswith("exit code: 0") and len(output) > 20, output
    assert leaked(_sent(s, [first, output])) == []
