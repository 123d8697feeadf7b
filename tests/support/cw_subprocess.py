"""Run the real ``codeward`` command in a child process, as a user or a CI job meets it."""

from __future__ import annotations

import os
import subprocess
import sys
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
