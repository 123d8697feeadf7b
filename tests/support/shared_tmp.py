"""A repository whose history holds secrets, with the workspace, HOME and CODEWARD_HOME all in
``/var/tmp``: then a Landlock command shares the host's ``/tmp`` (as in Docker CI), which the
pytest base directory under ``/tmp`` would prevent. Used by the red-team tests rt22-rt24."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.privacy.history_repo import leaky_history


def one_commit(repo: Path, name: str, text: str) -> None:
    """``git init`` an existing directory and commit one file."""
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1"}
    for a in (["init", "-q", "-b", "main"], ["config", "user.email", "t@e.com"], ["config", "user.name", "t"]):
        subprocess.run(["git", *a], cwd=repo, check=True, env=env)
    (repo / name).write_text(text)
    subprocess.run(["git", "add", "."], cwd=repo, check=True, env=env)
    subprocess.run(["git", "commit", "-qm", "init"], cwd=repo, check=True, env=env)


@contextlib.contextmanager
def leaky_outside_tmp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The repository; ``HOME`` and ``CODEWARD_HOME`` are ``home`` and ``cwhome`` beside it."""
    base = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="codeward-shared-tmp-"))
    for d in ("home", "cwhome", "repo"):
        (base / d).mkdir()
    monkeypatch.setenv("HOME", str(base / "home"))
    monkeypatch.setenv("CODEWARD_HOME", str(base / "cwhome"))
    repo = base / "repo"
    one_commit(repo, "README.md", "hi\n")
    leaky_history(repo)
    time.sleep(0.3)  # a store changed within 100 ms of a view's stamp is rebuilt next time (RACY_NS)
    try:
        yield repo
    finally:
        from codeward.scratch import remove

        remove(base)


def session_specs(repo: Path) -> Callable[[], Any]:
    """A spec per command from one project, as a session's shell tool makes them."""
    from codeward.project import open_project

    project = open_project(repo, None)
    return lambda: dataclasses.replace(project.sandbox_spec(), output_cap=8 << 20)
