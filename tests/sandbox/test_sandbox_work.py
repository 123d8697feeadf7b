"""Ordinary work still succeeds inside the sandbox: git, Python, a C build, pip, files in the workspace and /tmp."""

from __future__ import annotations

import shutil
from typing import Any

import pytest
from tests.support.sandbox_helpers import Project

pytestmark = pytest.mark.sandbox


def test_git_status_and_log(confined: Any, project: Project) -> None:
    r = project.run(confined, "git status --short && git log --oneline -1")
    assert r.exit_code == 0, r.output
    assert "init" in r.output


def test_git_commit_fails_with_a_clear_note(bwrap: Any, project: Project) -> None:
    """.git is protected (DESIGN §3), so commits are the user's; the model is told why."""
    head = (project.root / ".git" / "HEAD").read_text()
    r = project.run(bwrap, "echo more >> README.md && git add README.md && git commit -qm change")
    assert r.exit_code != 0
    assert "Read-only file system" in r.output
    assert r.note is not None and r.note.startswith("sandbox: .git")
    assert "read-only (protected path)" in r.note and "run by the user" in r.note
    assert (project.root / ".git" / "HEAD").read_text() == head


def test_python_and_files_in_workspace_and_tmp(confined: Any, project: Project) -> None:
    r = project.run(
        confined,
        "python3 -c 'import sys; print(sys.version_info[0])' && echo data > src/out.txt && mkdir -p src/pkg && "
        'echo tmp > "${TMPDIR:-/tmp}/scratch" && cat "${TMPDIR:-/tmp}/scratch" && python3 src/main.py',
    )
    assert r.exit_code == 0, r.output
    assert r.output.split() == ["3", "tmp", "hello"]
    assert (project.root / "src" / "out.txt").read_text() == "data\n"
    assert (project.root / "src" / "pkg").is_dir()


@pytest.mark.skipif(shutil.which("cc") is None or shutil.which("make") is None, reason="no C compiler or make")
def test_make_and_cc_build(confined: Any, project: Project) -> None:
    build = project.root / "src"
    (build / "hello.c").write_text('#include <stdio.h>\nint main(void){puts("built and ran");return 0;}\n')
    (build / "Makefile").write_text("hello: hello.c\n\tcc -O1 -o hello hello.c\n")
    r = project.run(confined, "make -s && ./hello", cwd=build)
    assert r.exit_code == 0, r.output
    assert "built and ran" in r.output
    assert (build / "hello").is_file()


def test_pip_version(confined: Any, project: Project) -> None:
    r = project.run(confined, "python3 -m pip --version")
    assert r.exit_code == 0, r.output
    assert r.output.startswith("pip ")


def test_asyncio_threadsafe_callbacks_work(confined: Any, project: Project) -> None:
    """The filter limits socket creation, not send(): asyncio's self-pipe must keep working."""
    code = (
        "import asyncio, threading\n"
        "async def main():\n"
        "    loop = asyncio.get_running_loop(); fut = loop.create_future()\n"
        "    threading.Thread(target=lambda: loop.call_soon_threadsafe(fut.set_result, 'ok')).start()\n"
        "    print(await asyncio.wait_for(fut, 5))\n"
        "asyncio.run(main())\n"
    )
    r = project.run(confined, ["python3", "-c", code], timeout_s=20)
    assert r.exit_code == 0, r.output
    assert r.output.strip() == "ok"


def test_workspace_root_is_writable(confined: Any, project: Project) -> None:
    """The root holds .env, and commands still add entries there (Landlock: test_landlock_work.py)."""
    r = project.run(confined, "echo new > newfile.txt && mkdir build && cat newfile.txt")
    assert r.exit_code == 0, r.output
    assert (project.root / "newfile.txt").read_text() == "new\n"


def test_protected_changes_are_put_back_under_landlock(landlock: Any, project: Project) -> None:
    hook = project.root / "sub" / ".git" / "hooks" / "pre-commit"
    r = project.run(landlock, "echo 'touch /tmp/owned' > sub/.git/hooks/pre-commit")
    assert not hook.exists()
    assert r.note is not None and "sub/.git/hooks/pre-commit" in r.note and "undid those changes" in r.note


def test_network_off_note(confined: Any, project: Project) -> None:
    r = project.run(confined, "curl -sS -m 5 https://pypi.org/simple/ >/dev/null")
    assert r.exit_code != 0
    assert r.note == "sandbox: network is off; ask the user to allow it with --allow-network"


def test_many_masked_files(bwrap: Any, project: Project) -> None:
    """A long mount list goes to bwrap through --args FD; the files stay hidden, no descriptor leaks."""
    keys = project.root / "keys"
    keys.mkdir()
    (keys / "README.txt").write_text("not secret\n")  # one visible entry: each key needs its own mount
    for i in range(1200):
        (keys / f"k{i:04d}.pem").write_text(f"PEMMARK{i}\n")
    spec = project.spec()
    assert len(spec.masked) > 1200
    r = bwrap.run(
        ["bash", "-c", "cat keys/k0042.pem keys/k1199.pem keys/README.txt; ls keys | wc -l; ls /proc/self/fd"], spec
    )
    assert "PEMMARK" not in r.output
    assert "not secret" in r.output
    lines = r.output.split()
    assert "1201" in lines  # the names are there, the contents are not
    assert sorted(int(x) for x in lines[lines.index("1201") + 1 :]) == [0, 1, 2, 3]


def test_directory_of_only_masked_files_is_one_mount(project: Project) -> None:
    from codeward.sandbox.layout import build_layout

    fixtures = project.root / "fixtures"
    fixtures.mkdir()
    for i in range(50):
        (fixtures / f"c{i}.key").write_text("x")
    layout = build_layout(project.spec())
    assert fixtures in layout.hidden_dirs
    assert not any(f.parent == fixtures for f in layout.hidden_files)
