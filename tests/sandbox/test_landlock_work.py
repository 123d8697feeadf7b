"""Ordinary work in the Landlock tier, in a realistic repository, judged from the host.

The repository has what a real one has: AGENTS.md, the seed template as ``.codexignore``, ``.env``
at the root, ``secrets/``, a private key, a nested ignored file, a Python package, a Makefile and a
venv. At the root (which holds ``.env``) a command must be able to create, edit in place, rename,
make directories, build, create a venv and pip-install into it, and use ``/tmp``; the ignored files
must stay unreadable and unchanged, and be back in place, by identity, afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from codeward.init_templates import __file__ as templates_init

pytestmark = pytest.mark.sandbox

PYPROJECT = '[project]\nname = "demo"\nversion = "0.1"\n[tool.setuptools]\npackages = ["app", "app.sub"]\n'
MAKEFILE = "build:\n\tmkdir -p build\n\tcp -r app build/\n\techo built > build/stamp\n"


def _write(p: Path, text: str) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)


@pytest.fixture
def base(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Workspace, HOME and CODEWARD_HOME outside /tmp, as on a real machine (/tmp is then the command's)."""
    d = Path(tempfile.mkdtemp(prefix="codeward-llwork-", dir="/var/tmp"))
    os.chmod(d, 0o755)
    for sub in ("home", "cw-home", "repo"):
        (d / sub).mkdir()
    monkeypatch.setenv("HOME", str(d / "home"))
    monkeypatch.setenv("CODEWARD_HOME", str(d / "cw-home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(d / "home" / ".config"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _git(root: Path, *args: str) -> None:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, env=env)


@pytest.fixture
def repo(base: Path) -> dict[str, Any]:
    root = base / "repo"
    _git(root, "init", "-q", "-b", "main")
    _git(root, "config", "user.email", "test@example.com")
    _git(root, "config", "user.name", "Test")
    template = (Path(templates_init).parent / "codewardignore.txt").read_text()
    _write(root / ".codexignore", template)
    _write(root / "AGENTS.md", '# rules\n\ndisallow_commands:\n- "rm -rf /"\n')
    marks = {name: f"CWMARK-{name}-{os.urandom(6).hex()}" for name in ("env", "secret", "key", "nested", "prod")}
    files = {
        "env": root / ".env",
        "secret": root / "secrets" / "token.txt",
        "key": root / "deploy.key",
        "nested": root / "app" / "sub" / ".env.local",
        "prod": root / "config" / "production.yml",
    }
    for name, path in files.items():
        _write(path, marks[name] + "\n")
    _write(root / "config" / "dev.yml", "debug: true\n")
    _write(root / "app" / "__init__.py", "")
    _write(root / "app" / "main.py", "GREETING = 'hello'\nprint(GREETING)\n")
    _write(root / "app" / "sub" / "util.py", "X = 1\n")
    _write(root / "Makefile", MAKEFILE)
    _write(root / "pyproject.toml", PYPROJECT)
    _write(root / ".gitignore", ".env\n.env.*\nsecrets/\n*.key\nconfig/production.yml\n.venv/\nbuild/\ndist/\n")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "init")
    stat_before = {name: (p.stat().st_dev, p.stat().st_ino, p.read_text()) for name, p in files.items()}
    return {"root": root, "files": files, "marks": marks, "before": stat_before}


def _wheel(dist: Path) -> None:
    """A small wheel with a console script, so pip has to write, link and chmod in the venv."""
    import zipfile

    dist.mkdir()
    files = {
        "demo_tool/__init__.py": "def main():\n    print('hello from demo')\n",
        "demo_tool-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: demo-tool\nVersion: 1.0\n",
        "demo_tool-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        "demo_tool-1.0.dist-info/entry_points.txt": "[console_scripts]\ndemo-hello = demo_tool:main\n",
    }
    record = "".join(f"{name},,\n" for name in files) + "demo_tool-1.0.dist-info/RECORD,,\n"
    with zipfile.ZipFile(dist / "demo_tool-1.0-py3-none-any.whl", "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
        z.writestr("demo_tool-1.0.dist-info/RECORD", record)


def _assert_secrets_intact(repo: dict[str, Any]) -> None:
    for name, p in repo["files"].items():
        st = p.lstat()
        assert (st.st_dev, st.st_ino, p.read_text()) == repo["before"][name], f"{p} changed or was replaced"


def test_ordinary_work_at_the_root(landlock: Any, repo: dict[str, Any], project_run: Any) -> None:
    root: Path = repo["root"]
    script = " && ".join(
        [
            "echo new > notes.txt",
            "sed -i s/hello/bonjour/ app/main.py",
            "mv notes.txt NOTES.md",
            "mkdir -p docs/api && echo doc > docs/api/index.md",
            "make build",
            "echo tmpdir > $TMPDIR/x && cat $TMPDIR/x",
        ]
    )
    r = project_run(landlock, root, script)
    assert r.exit_code == 0, r.output
    assert (root / "NOTES.md").read_text() == "new\n"
    assert "bonjour" in (root / "app" / "main.py").read_text()
    assert (root / "docs" / "api" / "index.md").read_text() == "doc\n"
    assert (root / "build" / "stamp").read_text() == "built\n"
    assert (root / "build" / "app" / "main.py").exists()
    _assert_secrets_intact(repo)


def test_tmp_is_writable_with_the_network_off(landlock: Any, repo: dict[str, Any], project_run: Any) -> None:
    from codeward.sandbox.bwrap_diag import container_kind

    r = project_run(landlock, repo["root"], "echo s > /tmp/cw-ll-$$ && cat /tmp/cw-ll-$$ && rm /tmp/cw-ll-$$")
    if os.geteuid() == 0 and not container_kind():
        assert r.exit_code != 0  # root on a host: services' private dirs live there (a stated gap)
        return
    assert r.exit_code == 0, r.output
    assert r.output == "s\n"
    # the sockets kept in /tmp stay out of reach: no socket can be made with the network off
    r = project_run(landlock, repo["root"], "python3 -c 'import socket; socket.socket(socket.AF_UNIX)'")
    assert r.exit_code != 0 and ("PermissionError" in r.output or "OSError" in r.output), r.output


def test_venv_and_pip_into_it(landlock: Any, repo: dict[str, Any], project_run: Any) -> None:
    root: Path = repo["root"]
    py = shutil.which("python3") or sys.executable
    _wheel(root / "dist")
    r = project_run(
        landlock,
        root,
        f"{py} -m venv .venv && .venv/bin/python -m pip install -q --no-index --find-links dist demo-tool "
        "&& .venv/bin/demo-hello",
        timeout_s=240.0,
    )
    assert r.exit_code == 0, r.output
    assert "hello from demo" in r.output
    assert (root / ".venv" / "bin" / "python").exists()
    assert os.access(root / ".venv" / "bin" / "demo-hello", os.X_OK)
    assert list((root / ".venv").glob("lib/python3*/site-packages/demo_tool/__init__.py"))
    _assert_secrets_intact(repo)


def test_ignored_files_stay_unreadable_and_unwritable(landlock: Any, repo: dict[str, Any], project_run: Any) -> None:
    root: Path = repo["root"]
    attempts = [
        "cat .env",
        "cat secrets/token.txt",
        "cat deploy.key",
        "cat app/sub/.env.local",
        "cat config/production.yml",
        "grep -r CWMARK . /tmp 2>/dev/null",
        "mv config cfg && cat cfg/production.yml",
        "mv app app2 && cat app2/sub/.env.local",
        "echo overwritten > .env; cat .env",
        "mkdir -p secrets && echo overwritten > secrets/token.txt",
        "ln .env hard 2>&1; cat hard",
        "ln -s .env soft && cat soft",
        "find / -xdev -name '*.key' -newer Makefile 2>/dev/null | xargs cat 2>/dev/null",
    ]
    for cmd in attempts:
        r = project_run(landlock, root, cmd)
        for mark in repo["marks"].values():
            assert mark not in r.output, f"{cmd!r} leaked a secret: {r.output!r}"
    _assert_secrets_intact(repo)
    # the command's own stand-ins were moved aside, never deleted, and the user's files are back by identity
    assert (root / ".env.from-sandbox").read_text() == "overwritten\n"
    assert (root / "secrets.from-sandbox" / "token.txt").read_text() == "overwritten\n"
    # renaming an ancestor of a hidden file moved no protection: the files are back under their ruled names
    assert (root / "cfg" / "dev.yml").exists() and not (root / "cfg" / "production.yml").exists()


def test_control_without_hold_the_root_is_frozen(landlock: Any, repo: dict[str, Any], project_run: Any) -> None:
    """The mechanism, shown: with holding impossible (other mount), Landlock alone must freeze the root."""
    from codeward.sandbox import hold

    real = hold._candidates
    try:
        hold._candidates = lambda *a, **k: iter(())  # type: ignore[assignment]
        r = project_run(landlock, repo["root"], "echo new > fresh.txt")
    finally:
        hold._candidates = real  # type: ignore[assignment]
    assert r.exit_code != 0
    assert not (repo["root"] / "fresh.txt").exists()
    _assert_secrets_intact(repo)


@pytest.fixture
def project_run() -> Any:
    from dataclasses import replace

    from codeward.project import open_project

    def run(sandbox: Any, root: Path, command: str, timeout_s: float = 60.0) -> Any:
        spec = replace(open_project(root).sandbox_spec(), timeout_s=timeout_s)
        return sandbox.run(["bash", "-c", command], spec)

    return run


def test_git_works(landlock: Any, repo: dict[str, Any], project_run: Any) -> None:
    root: Path = repo["root"]
    r = project_run(
        landlock, root, "echo more >> Makefile && git status --short && git log --oneline -1 && git diff --stat"
    )
    assert r.exit_code == 0, r.output
    assert "M Makefile" in r.output and "init" in r.output and "1 file changed" in r.output
    assert "warning" not in r.output


def test_a_failing_clean_up_step_does_not_stop_the_others(
    landlock: Any, repo: dict[str, Any], project_run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in one undo step must not leave the secrets held or the scratch dir behind."""
    from codeward.sandbox import anchors

    def broken(self: Any) -> list[str]:
        raise RuntimeError("anchors failed")

    monkeypatch.setattr(anchors.Anchors, "restore", broken)
    scratch_before = set(Path(tempfile.gettempdir()).glob("codeward-sbx-*"))
    with pytest.raises(RuntimeError, match="anchors failed"):
        project_run(landlock, repo["root"], "true")
    _assert_secrets_intact(repo)
    assert set(Path(tempfile.gettempdir()).glob("codeward-sbx-*")) <= scratch_before
