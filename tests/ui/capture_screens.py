"""Capture the README's text screenshots from real sessions (not a test; run it by hand).

Each scene runs the real ``codeward`` in a tmux pane (a real terminal emulator, unlike pexpect)
against the test suite's scripted model server, types what a user would type, waits for what a
user would see, and prints the pane's text. Paste the output into README.md, "Interactive session".

usage: python tests/ui/capture_screens.py [SCENE...]     (needs tmux and a sandbox tier)
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.support.cli import write_config  # noqa: E402
from tests.support.model_server import ModelServer  # noqa: E402

DEMO = Path("/tmp/codeward-demo")
WIDTH, HEIGHT = 100, 45
CALC = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
FIX = (
    "*** Begin Patch\n*** Update File: calc.py\n@@\n def add(a, b):\n-    return a - b\n+    return a + b\n"
    "*** End Patch\n"
)
CHECK = "python3 -c 'import calc; assert calc.add(2, 3) == 5; print(\"add(2, 3) =\", calc.add(2, 3))'"
TOKEN = "ghp_Vb7Qx2Lm9Pz4Kt6Wr1Ys8Nd3Fh5Jc0Ag2Ek4"


class Pane:
    def __init__(self, name: str, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.name = name
        envs = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        cmd = f"cd {shlex.quote(str(cwd))} && env {envs} {shlex.quote(sys.executable)} -m codeward {shlex.join(args)}"
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", name, "-x", str(WIDTH), "-y", str(HEIGHT), cmd + "; sleep 600"],
            check=True,
        )
        subprocess.run(["tmux", "set-option", "-t", name, "history-limit", "5000"], check=True)

    def text(self) -> str:
        out = subprocess.run(
            ["tmux", "capture-pane", "-p", "-J", "-S", "-", "-t", self.name], capture_output=True, text=True
        ).stdout
        return "\n".join(line.rstrip() for line in out.rstrip().splitlines())

    def wait(self, needle: str, timeout: float = 30, count: int = 1) -> None:
        deadline = time.monotonic() + timeout
        while self.text().count(needle) < count:
            if time.monotonic() > deadline:
                raise SystemExit(f"{self.name}: timed out waiting for {needle!r}:\n{self.text()}")
            time.sleep(0.1)
        time.sleep(0.3)

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def type(self, text: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, "-l", text], check=True)
        time.sleep(0.1)
        self.keys("Enter")

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


def project(name: str) -> Path:
    root = DEMO / name
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    (root / "calc.py").write_text(CALC)
    (root / ".codexignore").write_text("customers.csv\n")
    (root / "customers.csv").write_text("id,email\n1,ada@example.com\n")
    (root / "README.md").write_text("# shop\n")
    (root / "app.log").write_text("12:00:01 INFO started\n12:00:02 INFO listening on :8000\n")
    git = ["git", "-c", "user.email=dev@example.com", "-c", "user.name=dev"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=root, check=True)
    subprocess.run([*git, "add", "."], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", "init"], cwd=root, check=True)
    return root


def run(server: ModelServer, steps: list[dict], args: list[str], scene: Callable[[Pane], None]) -> str:
    home = DEMO / "home"
    cw = DEMO / "codeward-home"
    for d in (home, cw):
        d.mkdir(parents=True, exist_ok=True)
    write_config(cw, server.url)
    server.script(steps)
    env = {
        "HOME": str(home),
        "CODEWARD_HOME": str(cw),
        "SCRIPTED_KEY": "sk-scripted-provider-key-5309-abcdef",
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "PYTHONPATH": str(REPO),
        "TERM": "xterm-256color",
    }
    pane = Pane("cwshot", args, env, DEMO / "shop")
    try:
        scene(pane)
        return pane.text()
    finally:
        pane.close()


def approvals(server: ModelServer) -> str:
    project("shop")
    steps = [
        {"tool": "read_file", "args": {"path": "calc.py"}},
        {"tool": "apply_patch", "args": {"input": FIX}},
        {"tool": "shell", "args": {"command": CHECK}},
        {
            "text": "Fixed `add` in **calc.py**: it subtracted instead of adding.\n\n"
            "```python\ndef add(a, b):\n    return a + b\n```\n\nChecked with `add(2, 3)`, which now gives 5."
        },
    ]

    def scene(p: Pane) -> None:
        p.wait("›")
        p.type("add() in calc.py gives the wrong result, fix it and check")
        p.wait("Apply this edit?")
        p.keys("y")
        p.wait("Run it?")
        p.keys("a")
        p.wait("network off", count=2)

    return run(server, steps, [], scene)


def privacy(server: ModelServer) -> str:
    project("shop")
    steps = [{"tool": "list_dir", "args": {"path": "."}}, {"text": "The project has `calc.py` and a README."}]

    def scene(p: Pane) -> None:
        p.wait("›")
        p.type(f"my deploy token is {TOKEN}; what files are here?")
        p.wait("network off", count=2)
        p.type("/sent")
        p.wait("network off", count=3)

    return run(server, steps, [], scene)


def cancel(server: ModelServer) -> str:
    project("shop")
    steps = [{"tool": "shell", "args": {"command": "tail -f app.log"}}, {"text": "Stopped watching the log."}]

    def scene(p: Pane) -> None:
        p.wait("›")
        p.type("watch app.log and tell me when an error shows up")
        p.wait("running")
        time.sleep(2.2)
        p.keys("C-c")
        p.wait("⏹ interrupted")
        p.wait("network off", count=2)

    return run(server, steps, ["-a", "full-auto"], scene)


def undo(server: ModelServer) -> str:
    project("shop")
    steps = [{"tool": "apply_patch", "args": {"input": FIX}}, {"text": "Done: `add` adds now."}]

    def scene(p: Pane) -> None:
        p.wait("›")
        p.type("fix add()")
        p.wait("Done:")
        p.wait("network off", count=2)
        p.type("/undo")
        p.wait("reverted")
        p.type("/status")
        p.wait("audit log")

    return run(server, steps, ["-a", "auto-edit"], scene)


def resume(server: ModelServer) -> str:
    project("shop")
    first = [{"text": "Noted: releases are tagged `vYYYY.MM`."}]

    def scene1(p: Pane) -> None:
        p.wait("›")
        p.type("remember: we tag releases as vYYYY.MM")
        p.wait("network off", count=2)
        p.keys("C-d")
        p.wait("continue it with")

    run(server, first, [], scene1)

    def scene2(p: Pane) -> None:
        p.wait("›")
        p.type("what is the next tag after v2025.06?")
        p.wait("network off", count=2)

    return run(server, [{"text": "The next tag is `v2025.07`."}], ["resume", "--last"], scene2)


SCENES = {"approvals": approvals, "privacy": privacy, "cancel": cancel, "undo": undo, "resume": resume}


def main(argv: list[str]) -> None:
    if not shutil.which("tmux"):
        raise SystemExit("tmux is needed (apt-get install -y tmux)")
    os.environ.pop("TMUX", None)
    server = ModelServer()
    try:
        for name in argv or list(SCENES):
            print(f"===== {name} =====")
            print(SCENES[name](server))
            print()
    finally:
        server.close()


if __name__ == "__main__":
    main(sys.argv[1:])
