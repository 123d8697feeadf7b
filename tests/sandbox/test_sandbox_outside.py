"""Outside the workspace: other projects unreadable unless listed, toolchain tokens hidden, writes refused visibly."""

from __future__ import annotations

import dataclasses
import os
import pwd
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.sandbox_helpers import Project

from codeward.sandbox.layout import other_top_dirs
from codeward.sandbox.spec import is_within

pytestmark = pytest.mark.sandbox


@pytest.fixture
def other_project() -> Iterator[Path]:
    """Another project under /srv (the issue's ``../other-service/.env``), with a marked secret."""
    if not os.access("/srv", os.W_OK):
        # a normal user cannot create one (/srv is root's, 0755); test_host_project_dirs_look_empty
        # checks the same hiding for any user on what those places already hold
        pytest.skip("/srv is not writable by this user: only root can plant another project there")
    d = Path(tempfile.mkdtemp(prefix="codeward-other-", dir="/srv"))
    try:
        (d / ".env").write_text(f"DB_PASSWORD=CWMARK-other-{d.name}\n")
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_other_projects_are_not_readable(sandbox: Any, project: Project, other_project: Path) -> None:
    r = project.run(sandbox, f"cat {other_project}/.env; true")
    assert f"CWMARK-other-{other_project.name}" not in r.output
    r = project.run(sandbox, "ls /srv 2>/dev/null; true")
    assert other_project.name not in r.output  # not even listed


def test_listed_readable_roots_are_readable_not_writable(confined: Any, project: Project, other_project: Path) -> None:
    r = project.run(
        confined, f"cat {other_project}/.env; echo x > {other_project}/new", readable_roots=(other_project,)
    )
    assert f"CWMARK-other-{other_project.name}" in r.output
    assert not (other_project / "new").exists()


def _nonempty_hidden_places() -> list[str]:
    """Places other projects and homes live (this user's real one too) that hold something listable."""
    out = []
    for d in ("/home", "/srv", "/mnt", "/media", *other_top_dirs(), pwd.getpwuid(os.getuid()).pw_dir):
        try:
            if os.listdir(d) and d not in out:
                out.append(d)
        except OSError:
            continue
    return out


def test_host_project_dirs_look_empty(sandbox: Any, project: Project) -> None:
    """For any user: /home, /srv, /work, the user's own real home and the like show none of what the host has there.

    What the sandbox may show there: the mount points of its own view (the test's HOME and
    CODEWARD_HOME, the user's home as an empty directory, toolchains re-exposed read-only).
    """
    from codeward.sandbox.layout import build_layout

    places = _nonempty_hidden_places()
    if not places:
        pytest.skip("no non-empty /home, /srv, /mnt or other project directory on this machine to compare with")
    r = project.run(sandbox, " ; ".join(f"echo '== {d}'; ls -A {d} 2>/dev/null" for d in places) + "; true")
    shown: dict[str, set[str]] = {}
    current = ""
    for line in r.output.splitlines():
        if line.startswith("== "):
            current = line[3:]
            shown[current] = set()
        elif current:
            shown[current].add(line)
    own = [project.root, project.home, project.cw_home, Path(pwd.getpwuid(os.getuid()).pw_dir)]
    own += build_layout(project.spec()).reexposed
    for d in places:
        host = set(os.listdir(d))
        leaked = {n for n in shown.get(d, set()) & host if not any(is_within(p, Path(d) / n) for p in own)}
        assert not leaked, f"{d}: the sandbox lists {sorted(leaked)} from the host"
    assert any(shown.get(d) is not None for d in places), r.output


def test_cargo_token_is_hidden_but_build_config_is_not(sandbox: Any, project: Project) -> None:
    cargo = project.home / ".cargo"
    cargo.mkdir()
    (cargo / "config.toml").write_text('[registries.corp]\ntoken = "CWMARK-cargo-token"\n')
    (cargo / "bin").mkdir()
    r = project.run(sandbox, f"cat {cargo}/config.toml; true")
    assert "CWMARK-cargo-token" not in r.output
    (cargo / "config.toml").write_text("[build]\njobs = 2 # CWMARK-cargo-build\n")
    r = project.run(sandbox, f"cat {cargo}/config.toml")
    assert "CWMARK-cargo-build" in r.output  # a toolchain's build settings stay usable


def test_writes_outside_fail_visibly_and_tmp_is_scratch(bwrap: Any, project: Project) -> None:
    """Under bubblewrap a write to $HOME used to succeed into a tmpfs and vanish; now it fails, with the note."""
    r = project.run(bwrap, "echo x > /tmp/scratch && cat /tmp/scratch && echo 'alias ls=evil' >> ~/.bashrc")
    assert r.exit_code != 0
    assert "Read-only file system" in r.output and r.output.startswith("x\n")
    assert r.note is not None and "only the workspace and the temp dir are writable" in r.note
    assert (project.home / ".bashrc").read_text() == "# user's bashrc\n"
    r = project.run(bwrap, "touch /srv/x /mnt/x /root/x 2>&1; cd ~ && pwd")
    assert r.output.count("Read-only file system") == 3
    assert r.output.strip().endswith(str(project.home))


def test_other_top_dirs(tmp_path: Path) -> None:
    for d in ("usr", "etc", "srv", "work", "data", "opt/tool/bin", "opt/app/.git"):
        (tmp_path / d).mkdir(parents=True)
    (tmp_path / "bin").symlink_to("usr")
    got = other_top_dirs(str(tmp_path))
    assert got == [str(tmp_path / n) for n in ("data", "srv", "work")] + [str(tmp_path / "opt" / "app")]


def test_readable_roots_are_validated(project: Project) -> None:
    from codeward.errors import UsageError
    from codeward.sandbox.spec import validate_spec

    spec = project.spec()
    with pytest.raises(UsageError, match="readable"):
        validate_spec(dataclasses.replace(spec, readable_roots=(Path("relative"),)), ["true"])
    with pytest.raises(UsageError, match="readable root"):
        validate_spec(dataclasses.replace(spec, readable_roots=(Path("/"),)), ["true"])
