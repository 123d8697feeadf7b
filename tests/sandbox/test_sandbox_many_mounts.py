"""Thousands of scattered ignored files: the launcher mounts them inside, and the view holds the same."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from tests.support.sandbox_helpers import Project

import codeward.sandbox.bwrap as bw

pytestmark = pytest.mark.sandbox


def _scatter(project: Project, dirs: int, per_dir: int) -> list[Path]:
    files = []
    for i in range(dirs):
        d = project.root / "pkg" / f"d{i:04d}"
        d.mkdir(parents=True)
        (d / "code.py").write_text("x = 1\n")
        for j in range(per_dir):
            f = d / f"k{j}.key"
            f.write_text(f"CWMARK-scatter-{i}-{j}\n")
            files.append(f)
    return files


def test_thousands_of_scattered_ignored_files_run_and_stay_hidden(bwrap: Any, project: Project) -> None:
    """3,000 ignored files over 1,500 directories: bwrap alone refused this (mount limit).

    As root the launcher mounts them; a normal user still gets the clear refusal (bwrap leaves it no
    mount power to hand on).
    """
    files = _scatter(project, 1500, 2)
    if os.geteuid() != 0:
        from codeward.errors import SandboxUnavailable

        with pytest.raises(SandboxUnavailable, match="ignore whole directories instead"):
            project.run(bwrap, "true", timeout_s=120)
        return
    r = project.run(
        bwrap,
        "cat pkg/d0000/k0.key pkg/d1499/k1.key 2>&1; mv pkg/d0007 pkg/x 2>&1; mv pkg p2 2>&1; "
        "echo new > pkg/d0003/new.txt && cat pkg/d0003/code.py; grep CapEff /proc/self/status; "
        "cp /bin/sh s && chmod 4755 s; unshare -m true",
        timeout_s=120,
    )
    assert r.exit_code is not None, r.output
    assert "CWMARK-scatter" not in r.output
    assert r.output.count("Device or resource busy") == 2
    assert "x = 1" in r.output and (project.root / "pkg" / "d0003" / "new.txt").read_text() == "new\n"
    assert "CapEff:\t0000000000000000" in r.output
    assert not (project.root / "s").stat().st_mode & 0o6000
    assert all(f.read_text().startswith("CWMARK-scatter") for f in files[:10])
    assert (project.root / "pkg" / "d0007").is_dir() and not (project.root / "pkg" / "x").exists()


def test_launcher_mode_matches_bwrap_mode(bwrap: Any, project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same small view through both paths: same hidden files, same refusals."""
    _scatter(project, 3, 1)
    cmd = "cat .env pkg/d0001/k0.key 2>&1; mv pkg/d0001 x 2>&1; cat pkg/d0002/code.py; echo ok"
    small = project.run(bwrap, cmd)
    monkeypatch.setattr(bw, "INSIDE_THRESHOLD", 0)
    inside = project.run(bwrap, cmd)
    assert small.output == inside.output
    assert project.marker("env") not in inside.output and "ok" in inside.output
    assert os.path.isdir(project.root / "pkg" / "d0001")


def test_without_a_launcher_python_bubblewrap_mounts_a_middling_view(
    bwrap: Any, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Root, no Python outside the workspace to run the launcher: up to ``BWRAP_ENOUGH`` paths bubblewrap
    mounts them itself (slower, same view); beyond that the command is refused, not run unhidden."""
    if os.geteuid() != 0:
        pytest.skip("the launcher mounts only as root; a normal user's view is bubblewrap's already")
    from codeward.errors import SandboxUnavailable
    from codeward.sandbox import launch

    def no_python(writable: Any) -> str:
        raise SandboxUnavailable("sandbox: every Python found lies inside a writable directory (test)")

    monkeypatch.setattr(launch, "trusted_python", no_python)
    _scatter(project, 20, 2)  # 40 hidden files and their anchors: above INSIDE_THRESHOLD
    r = project.run(bwrap, "cat pkg/d0000/k0.key pkg/d0019/k1.key 2>&1; mv pkg/d0003 x 2>&1; echo ok")
    assert "CWMARK-scatter" not in r.output and "ok" in r.output
    assert (project.root / "pkg" / "d0003" / "k0.key").read_text().startswith("CWMARK-scatter")  # anchored
    assert r.tier == "bwrap"
    monkeypatch.setattr(bw, "BWRAP_ENOUGH", 10)  # control: too many for bubblewrap, and no launcher
    with pytest.raises(SandboxUnavailable, match="every Python found"):
        project.run(bwrap, "true")
