"""Run the real ``codeward`` command in a child process, as a user or a CI job meets it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_cw(
    *args: str,
    input: str | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """``python -m codeward ARGS`` with this test's HOME/CODEWARD_HOME; the repo on PYTHONPATH so the
    test keyring backends in ``tests.support`` can be selected by name."""
    full = {**os.environ, **(env or {})}
    full["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), full.get("PYTHONPATH", "")) if p)
    return subprocess.run(
        [sys.executable, "-m", "codeward", *args],
        input=input if input is not None else "",
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full,
        timeout=timeout,
    )


@contextlib.contextmanager
def sandbox_running(
    cwd: Path, script: str, *, args: Sequence[str] = (), env: dict[str, str] | None = None, kill: bool = False
) -> Iterator[subprocess.Popen[bytes]]:
    """``codeward sandbox [ARGS] -- sh -c 'echo started; SCRIPT'`` in a child, from the moment its
    command has printed ``started`` (the sandbox is set up) until it ends on its own, or, with
    ``kill``, until it is killed with SIGKILL with its whole process group (no cleanup runs)."""
    full = {**os.environ, **(env or {})}
    full["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), full.get("PYTHONPATH", "")) if p)
    proc = subprocess.Popen(
        [sys.executable, "-m", "codeward", "sandbox", *args, "--", "sh", "-c", f"echo started; {script}"],
        cwd=cwd,
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        for _ in range(5):  # lines a script prints before (none here) would come first
            line = proc.stdout.readline()
            if line.strip() == b"started" or not line:
                break
        assert line.strip() == b"started", "the sandboxed command did not start"
        yield proc
    finally:
        if kill:
            os.killpg(proc.pid, signal.SIGKILL)
        try:
            proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
