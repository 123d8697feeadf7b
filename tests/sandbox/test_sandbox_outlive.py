"""Nothing a command starts outlives it, even when it kills its own supervisor first.

The Landlock tier's supervisor runs as the command's user, so the command can SIGKILL it; a
``setsid`` child would then be re-parented to init and wait for codeward to put the held secrets
back and restore protected paths. Judged from the host: no process from the command is alive
afterwards, and the file it meant to fill with a secret stays empty.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.sandbox


def _alive_with(token: str) -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{name}/cmdline").read_bytes()
            state = Path(f"/proc/{name}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if token.encode() in cmd and state != b"Z":
            out.append(int(name))
    return out


def test_killing_the_supervisor_leaves_nothing_running(sandbox: Any, project: Any) -> None:
    token = f"cwoutlive{os.getpid()}x{time.monotonic_ns()}"
    script = project.root / "outlive.sh"
    script.write_text(
        f"# {token}\n"
        'kill -9 "$1" 2>/dev/null\n'
        "for i in $(seq 1 60); do [ -e .env ] && break; sleep 0.1; done\n"
        "cat .env > leak.txt 2>/dev/null\n"
    )
    project.run(sandbox, f"setsid bash outlive.sh $PPID {token} </dev/null >/dev/null 2>&1 & sleep 0.5")
    time.sleep(3)
    survivors = _alive_with(token)
    for pid in survivors:  # leave the machine clean whatever the outcome
        os.kill(pid, 9)
    leak = project.root / "leak.txt"
    assert survivors == []
    assert not leak.exists() or project.marker("env") not in leak.read_text()
