"""End to end (codeward exec, full-auto, scripted model on loopback): the host saves a new
``.env.local`` while a command runs; the command renames it to an ordinary name and prints it
shifted by one character (no rule or known value follows that). The command is stopped, its output
withheld, and the renamed copy (the command's doing) is moved to the quarantine, so the next
command finds nothing. Judged by the bytes the model server received, in both tiers.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from tests.support.cli import codeward, write_config

pytestmark = pytest.mark.sandbox

VALUE = "Pz4Kd8Wq2Lm6Xv9Tr3Hb7Ny5Jc1Fg0"
GRAB = r"""python3 -c '
import os, time
open("started", "w").close()
for _ in range(200):
    if os.path.exists(".env.local"):
        time.sleep(0.2)
        os.rename(".env.local", "n.txt")
        print("".join(chr(ord(c) + 1) for c in open("n.txt").read()), flush=True)
        break
    time.sleep(0.02)
'; true"""


def _host_when_started(root: Path) -> threading.Thread:
    def go() -> None:
        for _ in range(600):
            if (root / "started").exists():
                time.sleep(0.3)
                (root / ".env.local").write_text(f"DB_PASSWORD={VALUE}\n")
                return
            time.sleep(0.05)

    t = threading.Thread(target=go, daemon=True)
    t.start()
    return t


@pytest.mark.parametrize("tier", ["bwrap", "landlock"])
def test_a_new_hidden_file_renamed_and_printed_stays_off_the_wire(
    model_server: Any, git_repo: Path, cw_home: Path, tier: str
) -> None:
    t = _host_when_started(git_repo)
    model_server.script(
        [
            {"tool": "shell", "args": {"command": GRAB}},
            {"tool": "shell", "args": {"command": "cat n.txt; ls"}},
            {"text": "done"},
        ]
    )
    write_config(cw_home, model_server.url, "chat", extra=f'[sandbox]\ntier = "{tier}"\n')
    run = codeward("exec", "--json", "-a", "full-auto", "go", cwd=git_repo)
    t.join(5)
    assert run.returncode == 0, run.stderr
    sent = "\n".join(
        (r.body if isinstance(r.body, str) else r.body.decode("utf-8", "replace")) for r in model_server.requests
    )
    shifted = "".join(chr(ord(c) + 1) for c in VALUE)
    assert "withheld" in sent and "quarantine" in sent
    assert VALUE not in sent and shifted not in sent
    assert not (git_repo / "n.txt").exists()  # set aside, not deleted
    assert [p.read_text() for p in (cw_home / "quarantine").rglob("n.txt")] == [f"DB_PASSWORD={VALUE}\n"]
