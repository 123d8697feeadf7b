"""End to end (codeward exec, full-auto, scripted model on loopback, bubblewrap): a command that
races a host-side save of a hidden or redacted file and writes what it read into the workspace.

The host watch stops the command and withholds its output; what it wrote in that moment is moved
to the codeward home's quarantine, so the next command has nothing to read. Judged by the bytes the
model server received, decoded from the shift-by-one the attack uses (no rule or known value
follows it). The control at the sandbox level shows the written file really holds the secret.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from tests.support.cli import codeward, write_config
from tests.support.sandbox_helpers import Project

pytestmark = pytest.mark.sandbox

OLD = "Qm7Zx2Lp9Wv4Kc6Tr1Ys8Nd3Fh5Jb0"
NEW = "Hs8Dk2Lq9Wz4Xc7Vb1Nm5Tr3Yp6Gf0"

# each character shifted by one: no rule and no known-value window recognises it
PERSIST = r"""python3 -c '
import os
open("started", "w").close()
out = os.open("leak.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
while True:
    try:
        fd = os.open(".env", os.O_RDONLY)
    except OSError:
        continue
    b = os.read(fd, 4096)
    if b:
        os.write(out, bytes(c + 1 for c in b)); break
'; true"""

PRINT_NEW = r"""python3 -c '
import time
open("started", "w").close()
for i in range(60):
    try:
        print("".join(chr(ord(c) + 1) for c in open(".env").read()), flush=True)
    except OSError:
        pass
    time.sleep(0.1)
'; true"""


def _host_when_started(root: Path, action: Any) -> threading.Thread:
    def go() -> None:
        for _ in range(600):
            if (root / "started").exists():
                time.sleep(0.5)
                action()
                return
            time.sleep(0.05)

    t = threading.Thread(target=go, daemon=True)
    t.start()
    return t


def _shift_back(text: str) -> str:
    return "".join(chr(ord(c) - 1) for c in text)


def _sent(model_server: Any) -> str:
    return "\n".join(
        (r.body if isinstance(r.body, str) else r.body.decode("utf-8", "replace")) for r in model_server.requests
    )


def _run(model_server: Any, git_repo: Path, cw_home: Path, steps: list[dict[str, Any]]) -> str:
    model_server.script(steps)
    write_config(cw_home, model_server.url, "chat", extra='[sandbox]\ntier = "bwrap"\n')
    run = codeward("exec", "--json", "-a", "full-auto", "go", cwd=git_repo)
    assert run.returncode == 0, run.stderr
    return _sent(model_server)


def test_hidden_env_saved_by_host_is_not_persisted_for_the_next_command(
    model_server: Any, git_repo: Path, cw_home: Path
) -> None:
    env = git_repo / ".env"
    env.write_text(f"DB_PASSWORD={OLD}\n")

    def save() -> None:
        tmp = git_repo / "save.tmp"
        tmp.write_text(f"DB_PASSWORD={NEW}\n")
        os.replace(tmp, env)

    t = _host_when_started(git_repo, save)
    sent = _run(
        model_server,
        git_repo,
        cw_home,
        [
            {"tool": "shell", "args": {"command": PERSIST}},
            {"tool": "shell", "args": {"command": "cat leak.txt"}},
            {"text": "done"},
        ],
    )
    t.join(5)
    decoded = _shift_back(sent)
    assert OLD not in decoded and NEW not in decoded
    assert "moved out of the workspace" in sent and not (git_repo / "leak.txt").exists()
    assert list((cw_home / "quarantine").rglob("leak.txt"))  # set aside, not deleted
    assert env.read_text() == f"DB_PASSWORD={NEW}\n"  # the host's own save stays


AWS = "Hs8Dk2Lq9Wz4Xc7Vb1Nm5Tr3Yp6Gf0Ju2Ei8Oa4"

PERSIST_REDACTED = r"""python3 -c '
import os
open("started", "w").close()
out = os.open("leak.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
first = open("config/app.conf", "rb").read()
seen = {first}
while True:
    try:
        b = open("config/app.conf", "rb").read()
    except OSError:
        continue
    if b not in seen:
        seen.add(b)
        os.write(out, bytes(c + 1 for c in b))
'; true"""


def test_redacted_file_saved_by_host_is_not_persisted(model_server: Any, git_repo: Path, cw_home: Path) -> None:
    """A redacted (not ignored) file: in the rename's moment the command reads the original bytes
    (the secret the redacted copy replaced), keeps them shifted in the workspace; the next command reads them."""
    conf = git_repo / "config" / "app.conf"
    conf.parent.mkdir(exist_ok=True)
    conf.write_text(f"aws_secret_access_key = {AWS}\n")

    def save() -> None:
        tmp = conf.with_name("app.conf.swp")
        tmp.write_text("aws_secret_access_key = rotated-later\n")
        os.replace(tmp, conf)

    t = _host_when_started(git_repo, save)
    sent = _run(
        model_server,
        git_repo,
        cw_home,
        [
            {"tool": "shell", "args": {"command": PERSIST_REDACTED}},
            {"tool": "shell", "args": {"command": "cat leak.txt"}},
            {"text": "done"},
        ],
    )
    t.join(5)
    assert AWS not in _shift_back(sent)


def test_control_the_command_does_write_the_secret_before_it_is_stopped(
    bwrap: Any, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the quarantine (the sandbox alone) the file the stopped command wrote holds the value.

    The stop races the command; on a busy machine either may win, so here the watch notices a
    moment late (as it may under load), which lets the command show what it does when it wins."""
    from codeward.sandbox.host_watch import HostWatch

    prompt = HostWatch.poll

    def late(self: HostWatch) -> bool:
        if prompt(self):
            time.sleep(0.5)
            return True
        return False

    monkeypatch.setattr(HostWatch, "poll", late)
    env = project.root / ".env"
    env.write_text(f"DB_PASSWORD={OLD}\n")

    def save() -> None:
        tmp = project.root / "save.tmp"
        tmp.write_text(f"DB_PASSWORD={NEW}\n")
        os.replace(tmp, env)

    t = _host_when_started(project.root, save)
    r = project.run(bwrap, PERSIST)
    t.join(5)
    assert r.host_changed and "withheld" in r.output, (r.host_changed, r.note)
    leaked = _shift_back((project.root / "leak.txt").read_text())
    assert OLD in leaked or NEW in leaked
