"""Red team rt17: the hard-link "other names" check (privacy/link_names.py, Learner.linked_outside).

Each test drives the real tool path (a session's shell tool, or ``codeward sandbox``), lets the
user write a secret into a workspace file on the host, and asserts that its raw value never reaches
the command's output; each fails on the code it was written against (the secret leaks).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.privacy.test_link_names import _home_beside
from tests.privacy.test_rt13_tree_watch import SECRET_LINE, _dispatch, _sent, _tier, leaked
from tests.support.leaks import SHIFT
from tests.support.sessions import offline_session


@pytest.fixture
def volume(workspace_beside_tmp: Path) -> Iterator[Path]:
    """A file system mounted inside the workspace (a docker-style volume at ``vol``)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount")
    vol = workspace_beside_tmp / "vol"
    vol.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "rt17vol", str(vol)], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield vol
    finally:
        subprocess.run(["umount", "-l", str(vol)], check=False)


@pytest.mark.sandbox
@pytest.mark.parametrize("tier", ["landlock"])  # bubblewrap binds a nested repository's .git read-only
def test_a_link_in_a_git_store_on_a_volume_inside_the_workspace_is_looked_for(
    volume: Path, monkeypatch: pytest.MonkeyPatch, tier: str
) -> None:
    """The secret file lives on a file system mounted inside the workspace. The walk (no -xdev)
    reads it; the search skips the workspace because its root's device is not the file's, and its
    ``-xdev`` would not enter the volume anyway. A link the walk skips (a nested repository's object
    store) is never looked for."""
    repo = volume.parent
    _, cw_home = _home_beside(repo, monkeypatch)
    _tier(cw_home, tier)
    (volume / "app.conf").write_text("debug = true\n")
    subprocess.run(["git", "init", "-q", str(volume / "vendored")], check=True)  # a checkout kept on the volume
    s = offline_session(repo)
    outputs = [_dispatch(s, "true", 0)]
    outputs.append(
        _dispatch(
            s,
            "ln vol/app.conf vol/vendored/.git/objects/keep && echo linked",
            1,
        )
    )
    assert "linked" in outputs[-1], outputs[-1]
    with open(volume / "app.conf", "a") as f:  # the user fills it in later
        f.write(SECRET_LINE)
    outputs.append(_dispatch(s, f"cat vol/vendored/.git/objects/keep | {SHIFT}", 2))
    assert str(volume / "app.conf") in s.gate.redactor.learner.secret_paths()
    assert leaked(_sent(s, outputs)) == [], outputs[-1]


NOBODY = 65534
AS_NOBODY = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
REPO = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = "/usr/bin/python3"


def _site_packages() -> list[str]:
    import sysconfig

    return [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]


def _as_nobody_cli(ws: Path, home: Path, command: str) -> subprocess.CompletedProcess[str]:
    """``codeward sandbox -- sh -c COMMAND`` in ``ws``, run by an ordinary user (not root)."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "CODEWARD_HOME": str(home / ".codeward"),
        "LANG": "C.UTF-8",
        # the system Python (the venv's may lie below root's 0700 home), with this checkout and its venv's packages
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO), *_site_packages()]),
        "SCRIPTED_KEY": "sk-unused",
    }
    return subprocess.run(
        [*AS_NOBODY, SYSTEM_PYTHON, "-m", "codeward", "sandbox", "--", "sh", "-c", command],
        cwd=ws,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def nobody_workspace(workspace_beside_tmp: Path) -> Iterator[tuple[Path, Path]]:
    """A workspace and home owned by ``nobody`` (beside /tmp, on its file system), for a codeward run
    by an ordinary user: its ``find`` cannot list what the user's commands make unreadable."""
    import shutil

    from tests.support.cli import write_config

    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run codeward as an ordinary user")
    ws = workspace_beside_tmp
    home = ws.parent / "user"
    write_config(home / ".codeward", "http://127.0.0.1:9/v1", "chat", extra='[sandbox]\ntier = "landlock"')
    (ws / "app.conf").write_text("debug = true\n")
    for p in [ws.parent, *ws.parent.rglob("*")]:
        os.chown(p, NOBODY, NOBODY, follow_symlinks=False)
    probe = _as_nobody_cli(ws, home, "echo ready")
    if "ready" not in probe.stdout:
        pytest.skip(f"codeward sandbox (landlock) does not run as nobody here: {probe.stderr[-300:]}")
    yield ws, home


@pytest.mark.sandbox
@pytest.mark.parametrize("mode", ["0300", "0000"])
def test_a_link_in_a_directory_of_tmp_the_user_cannot_list_is_still_found(
    nobody_workspace: tuple[Path, Path], mode: str
) -> None:
    """Landlock, codeward run by an ordinary user (the usual case). A command links the clean file
    into a directory of the shared /tmp that it then makes unlistable (``chmod 300``: it can still
    open a name it knows; or ``000``, undone by the next command, which owns it). ``find`` over /tmp
    runs as the same user, cannot read that directory, exits 1 with the rest of the listing, and
    ``other_names`` takes the cut listing as "no other name" (only a killed find fails closed)."""
    ws, home = nobody_workspace
    hide = f"/tmp/rt17-hide-{os.getpid()}-{mode}"
    try:
        made = _as_nobody_cli(
            ws, home, f"mkdir {hide} && ln app.conf {hide}/keep && chmod {mode} {hide} && echo linked"
        )
        assert "linked" in made.stdout, made.stderr
        with open(ws / "app.conf", "a") as f:  # the user fills it in later
            f.write(SECRET_LINE)
        read = _as_nobody_cli(ws, home, f"chmod 700 {hide}; cat {hide}/keep | {SHIFT}")
        assert leaked(read.stdout + read.stderr) == [], read.stdout
    finally:
        subprocess.run(["rm", "-rf", hide], check=False)


FAKE_LINE = "aws_secret_access_key = Qw3Er5Ty7Ui9Op1As3Df5Gh7Jk9Lz2Xc4Vb6Nm8P\n"
PLANT = """mkdir -p .venv/bin && cat > .venv/bin/find <<EOF && chmod +x .venv/bin/find
#!/usr/bin/python3
try:
    data = open("$PWD/app.conf").read()
    open("$PWD/loot.txt", "w").write("".join(chr(ord(c) + 1) for c in data))
except OSError:
    pass
EOF
printf '%s' '{fake}' > f1.txt && ln f1.txt f2.txt && echo planted"""


@pytest.mark.sandbox
@pytest.mark.parametrize("tier", ["bwrap", "landlock"])
def test_the_find_that_looks_for_other_names_is_not_taken_from_path(
    workspace_beside_tmp: Path, monkeypatch: pytest.MonkeyPatch, tier: str
) -> None:
    """``other_names`` runs ``shutil.which("find")``: the first ``find`` on codeward's PATH, on the
    host, outside the sandbox. With the project's venv activated (``.venv/bin`` first on PATH, the
    case ``tree_walk.FIND_PATHS`` guards against), a command plants ``.venv/bin/find``; the next
    search (a uv project's linked fixture, and any change of the linked files' stamps: here two
    names of a file the command writes) runs it unconfined. It reads the user's secret raw, leaves
    it shifted in the workspace, and prints nothing ("no other name")."""
    from tests.privacy.test_link_names import _installed

    repo = workspace_beside_tmp
    home, cw_home = _home_beside(repo, monkeypatch)
    _tier(cw_home, tier)
    _installed(home, repo, "uv")  # a uv venv: a fixture with a sample key, linked from the store
    monkeypatch.setenv("PATH", f"{repo / '.venv' / 'bin'}:{os.environ['PATH']}")  # the venv is activated
    s = offline_session(repo)
    outputs = [_dispatch(s, "true", 0)]
    outputs.append(_dispatch(s, PLANT.replace("{fake}", FAKE_LINE.strip()), 1))
    assert "planted" in outputs[-1], outputs[-1]
    (repo / "app.conf").write_text(SECRET_LINE)  # the user's secret, shown to commands redacted
    outputs.append(_dispatch(s, "cat loot.txt", 2))
    assert str(repo / "app.conf") in s.gate.redactor.learner.secret_paths()
    ran = (repo / "loot.txt").exists()
    assert (leaked(_sent(s, outputs)), ran) == ([], False), outputs[-1]  # nothing leaked; nothing of it ran


@pytest.mark.sandbox
def test_a_file_hidden_for_its_attributes_is_looked_for_under_other_names_too(
    workspace_beside_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Landlock. ``linked_outside`` looks only at files whose contents hold a secret
    (``_secret_paths``); a file hidden because a ``user.*`` extended attribute holds one
    (``_xattr_hidden``) is never looked for. The attribute belongs to the inode, so the command
    reads it through the name it gave the clean file in /tmp."""
    repo = workspace_beside_tmp
    _, cw_home = _home_beside(repo, monkeypatch)
    _tier(cw_home, "landlock")
    (repo / "notes.txt").write_text("todo\n")
    try:
        os.setxattr(repo / "notes.txt", "user.probe", b"1")
        os.removexattr(repo / "notes.txt", "user.probe")
    except OSError:
        pytest.skip("no user extended attributes on this file system")
    keep = f"/tmp/rt17-xattr-{os.getpid()}"
    s = offline_session(repo)
    try:
        outputs = [_dispatch(s, f"ln notes.txt {keep} && echo linked", 0)]
        assert "linked" in outputs[-1], outputs[-1]
        os.setxattr(repo / "notes.txt", "user.deploy", SECRET_LINE.encode())  # the user's tool tags the file
        read = "import os,sys; sys.stdout.write(os.getxattr(sys.argv[1], 'user.deploy').decode())"
        outputs.append(_dispatch(s, f'python3 -c "{read}" {keep} | {SHIFT}', 1))
        assert str(repo / "notes.txt") in s.gate.redactor.learner.hidden_entries()
        assert leaked(_sent(s, outputs)) == [], outputs[-1]
    finally:
        if os.path.lexists(keep):
            os.unlink(keep)
