"""Landlock tier on a workspace that is itself a mount point (``docker run -v $PWD:/src``).

The tier hides an ignored file by renaming it out of the workspace while a command runs. A rename
cannot cross mounts (``EXDEV``), and when the workspace is its mount's root every place on that mount
is inside the workspace, where Landlock cannot deny anything without freezing the directory above
it. So here the tier falls back to freezing the directories from the root down to each ignored file:
the files stay unreadable and untouched, directories without ignored files stay fully usable, and a
write the freeze refuses gets a note naming the cause and the fix (mount the parent). The README
"Limits" says so; these tests pin all three from the host side.

Making a mount point needs CAP_SYS_ADMIN (mount(2)); without it the tests on one are skipped (the note's
wording for other causes is checked for any user).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.sandbox


@pytest.fixture
def mounted(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    d = Path(tempfile.mkdtemp(prefix="codeward-llmount-", dir="/var/tmp"))
    os.chmod(d, 0o755)
    for sub in ("home", "cw-home", "repo"):
        (d / sub).mkdir()
    root = d / "repo"
    if shutil.which("mount") is None or os.geteuid() != 0:
        shutil.rmtree(d)
        pytest.skip("binding a directory onto itself needs mount(2), i.e. CAP_SYS_ADMIN (root)")
    if subprocess.run(["mount", "--bind", str(root), str(root)], capture_output=True).returncode != 0:
        shutil.rmtree(d)
        pytest.skip("mount --bind refused here (no CAP_SYS_ADMIN in this container)")
    monkeypatch.setenv("HOME", str(d / "home"))
    monkeypatch.setenv("CODEWARD_HOME", str(d / "cw-home"))
    mark = f"CWMARK-mounted-{os.urandom(6).hex()}"
    (root / ".env").write_text(mark + "\n")
    (root / "config").mkdir()
    (root / "config" / "production.yml").write_text(mark + "\n")
    (root / ".codexignore").write_text("config/production.yml\n")
    (root / "src").mkdir()
    (root / "src" / "main.py").write_text("print('hello')\n")
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True, env=env)
    files = [root / ".env", root / "config" / "production.yml"]
    before = {p: (p.stat().st_dev, p.stat().st_ino) for p in files}
    try:
        yield {"root": root, "mark": mark, "files": files, "before": before}
    finally:
        subprocess.run(["umount", str(root)], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


def _run(tier: str, root: Path, command: str) -> Any:
    from codeward.errors import SandboxUnavailable
    from codeward.project import open_project
    from codeward.sandbox import select_sandbox

    try:
        sb = select_sandbox(tier, allow_unsandboxed=tier == "none")
    except SandboxUnavailable as e:
        pytest.skip(f"{tier} cannot be enforced on this machine: {e}")
    spec = replace(open_project(root).sandbox_spec(), timeout_s=60.0)
    return sb.run(["bash", "-c", command], spec)


def test_the_workspace_is_a_mount_point(mounted: dict[str, Any]) -> None:
    from codeward.sandbox.frozen_note import is_mount_point

    assert is_mount_point(mounted["root"]) and not os.path.ismount(mounted["root"])


@pytest.mark.parametrize(
    "tier",
    ["landlock", pytest.param("none", marks=pytest.mark.xfail(strict=True, raises=AssertionError, reason="control"))],
)
def test_ignored_files_stay_hidden_and_in_place(tier: str, mounted: dict[str, Any]) -> None:
    root: Path = mounted["root"]
    for cmd in ("cat .env", "cat config/production.yml", "grep -r CWMARK . 2>/dev/null", "mv config cfg; cat cfg/*"):
        r = _run(tier, root, cmd)
        assert mounted["mark"] not in r.output, f"{cmd!r} leaked: {r.output!r}"
    for p in mounted["files"]:
        st = p.lstat()
        assert (st.st_dev, st.st_ino) == mounted["before"][p] and p.read_text() == mounted["mark"] + "\n"


def test_directories_without_ignored_files_stay_usable(mounted: dict[str, Any]) -> None:
    root: Path = mounted["root"]
    r = _run(
        "landlock",
        root,
        "sed -i s/hello/bonjour/ src/main.py && echo n > src/new.py && mv src/new.py src/renamed.py "
        "&& mkdir -p src/pkg/sub && echo t > $TMPDIR/t && cat $TMPDIR/t",
    )
    assert r.exit_code == 0, (r.output, r.note)
    assert "bonjour" in (root / "src" / "main.py").read_text()
    assert (root / "src" / "renamed.py").read_text() == "n\n" and (root / "src" / "pkg" / "sub").is_dir()


def test_a_frozen_directory_says_why_and_what_to_do(mounted: dict[str, Any]) -> None:
    """At the root (which holds .env) nothing can be created: the note names the cause and the fix."""
    root: Path = mounted["root"]
    r = _run("landlock", root, "echo new > notes.txt")
    assert r.exit_code != 0 and not (root / "notes.txt").exists()
    assert r.note is not None
    assert "the workspace is a mount point" in r.note and "the workspace root" in r.note, r.note
    assert ".env" in r.note and "mount its parent" in r.note, r.note
    assert mounted["mark"] not in r.note


def test_an_ordinary_failure_gets_no_frozen_note(mounted: dict[str, Any]) -> None:
    """Only a refused access points at the freeze: a failing test run or ``exit 3`` is the command's own."""
    r = _run("landlock", mounted["root"], "echo 'FAILED tests/x.py' ; exit 3")
    assert r.exit_code == 3 and r.note is None, r.note


def test_the_note_for_files_that_could_not_be_moved_elsewhere(tmp_path: Path) -> None:
    """Any user: a workspace that is no mount point gets the other cause, and the frozen places by name."""
    from codeward.sandbox.frozen_note import frozen_note, is_mount_point
    from codeward.sandbox.spec import SandboxSpec

    spec = SandboxSpec(workspace=tmp_path, cwd=tmp_path)
    assert is_mount_point(Path("/proc")) and not is_mount_point(tmp_path)
    left = [tmp_path / f"d{i}" / "k.pem" for i in range(4)] + [tmp_path / ".env"]
    note = frozen_note(left, spec)
    assert "another mount, or a directory codeward cannot write" in note and "docker" not in note
    assert "the workspace root, d0/, d1/" in note and ".env, d0/k.pem, d1/k.pem and 2 more" in note, note
