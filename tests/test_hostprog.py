"""codeward's own host programs never come from a place commands write (codeward.hostprog).

Found by red team rt17 for ``find``; the same held for ``git`` (every history scan, view and
``doctor`` check runs it on the host) and a provider's ``key_command``: with a project's venv
activated, ``<workspace>/.venv/bin`` is first on PATH and a command can put a program there."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from tests.support.cw_subprocess import run_cw

from codeward import hostprog


def _program(where: Path, name: str, body: str) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    p = where / name
    p.write_text(f"#!/bin/sh\n{body}\n")
    p.chmod(0o755)
    return p


def test_a_name_is_not_taken_from_a_guarded_place_or_a_temp_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = tmp_path / "ws"
    planted = _program(ws / ".venv" / "bin", "cw-probe-tool", "echo planted")
    mine = _program(tmp_path / "home" / "bin", "cw-probe-tool", "echo mine")
    monkeypatch.setenv("PATH", f"{planted.parent}:{mine.parent}:/usr/bin:/bin")
    monkeypatch.setattr(hostprog, "_guarded", [])
    monkeypatch.setattr(hostprog, "SHARED_TEMP", ())
    monkeypatch.setattr(hostprog.tempfile, "gettempdir", lambda: "/nonexistent-tmp")
    assert hostprog.program("cw-probe-tool") == str(planted)  # nothing guarded yet: PATH order
    hostprog.guard(ws)
    assert hostprog.program("cw-probe-tool") == str(mine)
    assert str(planted.parent) not in hostprog.host_path().split(os.pathsep)
    assert hostprog.host_path().split(os.pathsep)[: len(hostprog.SYSTEM_DIRS)] == list(hostprog.SYSTEM_DIRS)
    monkeypatch.setattr(hostprog.tempfile, "gettempdir", lambda: str(tmp_path / "home"))
    assert hostprog.program("cw-probe-tool") is None  # a temp dir is shared with Landlock's commands
    assert hostprog.program("./cw-probe-tool") == "./cw-probe-tool"  # a path is the caller's own choice


def test_a_relative_path_entry_is_never_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _program(tmp_path / "bin", "cw-probe-rel", "echo planted")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", "bin:.:/usr/bin:/bin")
    assert hostprog.program("cw-probe-rel") is None


def test_a_key_command_is_not_run_from_the_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from codeward.auth.keys import resolve_key
    from codeward.config.model import ProviderConfig

    ws = tmp_path / "ws"
    marker = tmp_path / "ran"
    planted = _program(ws / ".venv" / "bin", "cw-vault", f"touch {marker}; echo planted-key")
    real = _program(tmp_path / "tools", "cw-vault", "echo the-real-key-value-123")
    monkeypatch.setenv("PATH", f"{planted.parent}:{real.parent}:/usr/bin:/bin")
    monkeypatch.setattr(hostprog, "_guarded", [])
    monkeypatch.setattr(hostprog, "SHARED_TEMP", ())  # this test's files are under /tmp
    monkeypatch.setattr(hostprog.tempfile, "gettempdir", lambda: "/nonexistent-tmp")
    hostprog.guard(ws)
    provider = ProviderConfig(id="vault", name="V", base_url="http://127.0.0.1:9/v1", key_command=("cw-vault",))
    assert resolve_key(provider).value == "the-real-key-value-123"
    assert not marker.exists()


def test_a_git_a_command_planted_in_an_activated_venv_never_runs_on_the_host(git_repo: Path, tmp_path: Path) -> None:
    """End to end with ``codeward sandbox``: the first command writes ``.venv/bin/git`` (a script that
    would leave a mark outside the workspace, where no command may write); the venv is activated
    (first on PATH) for both runs; the second run's host git calls (workspace checks, the history
    scan and view) must use the system git."""
    from codeward.errors import SandboxUnavailable
    from codeward.sandbox import select_sandbox

    try:
        select_sandbox("auto")
    except SandboxUnavailable as e:
        pytest.skip(f"no sandbox tier can be enforced here: {e}")
    marker = tmp_path / "outside" / "host-ran-it"
    marker.parent.mkdir()
    env = {"PATH": f"{git_repo / '.venv' / 'bin'}:{os.environ['PATH']}"}  # the venv activated
    script = f'#!/bin/sh\\necho x > {marker}\\nexec /usr/bin/git "$@"\\n'
    plant = f"mkdir -p .venv/bin && printf '{script}' > .venv/bin/git && chmod +x .venv/bin/git && echo planted"
    first = run_cw("sandbox", "--", "sh", "-c", plant, cwd=git_repo, env=env)
    assert "planted" in first.stdout, first.stderr
    assert not marker.exists()  # the sandbox kept the command in the workspace
    assert (git_repo / ".venv" / "bin" / "git").is_file()
    again = run_cw("sandbox", "--", "git", "status", "--short", cwd=git_repo, env=env)
    assert again.returncode == 0, again.stderr
    assert not marker.exists(), "codeward ran the planted git on the host"


def test_commands_are_refused_when_codeward_is_installed_in_the_workspace(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """codeward in the project's own venv (``pip install codeward`` into ``.venv``): a command could
    rewrite the code codeward runs on the host next time (red team rt18). Commands are refused,
    with what to do; the same project with codeward installed elsewhere runs them."""
    from codeward.errors import SandboxUnavailable
    from codeward.project.assemble import open_project

    monkeypatch.setattr(hostprog, "_guarded", [])
    project = open_project(git_repo)
    assert project.sandbox_spec().workspace == git_repo.resolve()  # installed elsewhere: fine
    venv = git_repo / ".venv"
    venv.mkdir()
    monkeypatch.setattr(sys, "prefix", str(venv))
    with pytest.raises(SandboxUnavailable, match=r"codeward itself is installed where commands may write .*\.venv"):
        project.sandbox_spec()
