"""Other names of a secret-holding file: refused where a command can write (rt13, rt15), not where a
package manager put them.

uv (its default link mode on Linux) and pnpm install packages by hard-linking files from a store
under the user's home, so a venv's or node_modules' test fixture holding a sample key has a second
name outside the workspace. The first version of the identity check refused every command for
that (more links than names in the walk), which stopped all work in such a project; the check now
looks for the other names by identity in the places a command can write (the workspace's stores
the walk skips, the temporary directories, the extra writable directories) and refuses only for a
name there, naming it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from tests.privacy.test_rt13_tree_watch import SECRET_LINE, _dispatch, _tier
from tests.support.sessions import offline_session

from codeward.privacy import link_names
from codeward.privacy.learn import WorkspaceSecrets
from codeward.privacy.redacted_paths import LinkedOutside, secret_paths_now
from codeward.privacy.scanner import load_scanner

STORES = {
    "uv": (
        ".cache/uv/archive-v0/Xa1/botocore/tests/fixture.py",
        ".venv/lib/python3.11/site-packages/botocore/tests/fixture.py",
    ),
    "pnpm": (
        ".local/share/pnpm/store/v3/files/ab/cdef-index.js",
        "node_modules/.pnpm/aws-mock@1.0.0/node_modules/aws-mock/index.js",
    ),
}


def _home_beside(repo: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """The user's home and codeward home beside ``repo`` (on its file system, not below /tmp)."""
    home = repo.parent / "user"
    cw_home = home / ".codeward"
    cw_home.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("CODEWARD_HOME", str(cw_home))
    return home, cw_home


def _installed(home: Path, repo: Path, manager: str) -> Path:
    """A package file with a sample key, hard-linked from the manager's store as it installs it."""
    store, installed = (home / STORES[manager][0], repo / STORES[manager][1])
    store.parent.mkdir(parents=True)
    store.write_text("SAMPLE = 1\n" + SECRET_LINE)
    installed.parent.mkdir(parents=True)
    os.link(store, installed)
    return installed


@pytest.mark.sandbox
@pytest.mark.parametrize("manager", sorted(STORES))
@pytest.mark.parametrize("tier", ["bwrap", "landlock"])
def test_a_package_linked_from_a_store_in_the_home_does_not_stop_work(
    workspace_beside_tmp: Path, monkeypatch: pytest.MonkeyPatch, tier: str, manager: str
) -> None:
    """The home where it usually is: on the workspace's file system, not below /tmp (which Landlock
    commands write, so a store there would be a place a command could have linked to)."""
    repo = workspace_beside_tmp
    home, cw_home = _home_beside(repo, monkeypatch)
    _tier(cw_home, tier)
    installed = _installed(home, repo, manager)
    s = offline_session(repo)
    out = _dispatch(s, f"echo hello && grep -c aws_secret {installed.relative_to(repo)}", 0)
    assert "hello" in out and "has another name" not in out, out
    assert str(installed) in s.gate.redactor.learner.secret_paths()  # still a secret file, shown redacted
    assert "Hs8Dk2Lq9Wz4" not in out


@pytest.mark.sandbox
def test_under_landlock_a_link_in_tmp_still_refuses_and_is_named(
    workspace_beside_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same package linked from a store below /tmp: a Landlock command could have made that
    link (and can read it), so commands are refused, with the name to remove."""
    repo = workspace_beside_tmp
    _, cw_home = _home_beside(repo, monkeypatch)
    _tier(cw_home, "landlock")
    store = Path(tempfile.mkdtemp(prefix="uv-store-", dir="/tmp"))
    try:
        installed = _installed(store, repo, "uv")
        out = _dispatch(offline_session(repo), "echo hello", 0)
        assert "has another name (a hard link)" in out and str(store) in out and "rm " in out, out
    finally:
        shutil.rmtree(store, ignore_errors=True)
    assert installed.exists()


def _learner(root: Path) -> WorkspaceSecrets:
    learner = WorkspaceSecrets(root, load_scanner())
    learner.refresh()
    return learner


def _dirs(base: Path, *names: str) -> list[Path]:
    made = [base / n for n in names]
    for d in made:
        d.mkdir()
    return made


def test_a_link_in_an_extra_writable_directory_is_found_and_named(tmp_path: Path) -> None:
    ws, extra = _dirs(tmp_path, "ws", "extra")
    (ws / "app.conf").write_text(SECRET_LINE)
    os.link(ws / "app.conf", extra / "copy.conf")
    learner = _learner(ws)
    assert learner.linked_outside() == {}  # not a place of this command: /tmp and the workspace only
    assert learner.linked_outside([extra]) == {str(ws / "app.conf"): [str(extra / "copy.conf")]}
    redactor = type("R", (), {"learner": learner, "refresh": lambda self: None, "known": {}})()
    with pytest.raises(LinkedOutside) as e:
        secret_paths_now(redactor, [extra])
    assert str(extra / "copy.conf") in str(e.value) and "rm " in str(e.value)


def test_a_link_inside_a_git_store_of_the_workspace_is_found(tmp_path: Path) -> None:
    """The walk skips object stores; ``find`` over the workspace does not."""
    ws = tmp_path / "ws"
    (ws / "x" / ".git" / "objects").mkdir(parents=True)
    (ws / "x" / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (ws / "app.conf").write_text(SECRET_LINE)
    os.link(ws / "app.conf", ws / "x" / ".git" / "objects" / "keep")
    assert _learner(ws).linked_outside() == {str(ws / "app.conf"): [str(ws / "x" / ".git" / "objects" / "keep")]}


def test_the_answer_is_kept_until_a_linked_file_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A uv venv's fixtures are looked for once, not before every command; a new link (which moves
    the file's link count and ctime) is looked for again."""
    ws, store = _dirs(tmp_path, "ws", "store")
    (store / "fixture.py").write_text(SECRET_LINE)
    os.link(store / "fixture.py", ws / "fixture.py")
    learner = _learner(ws)
    calls = []
    real = link_names.other_names
    monkeypatch.setattr(link_names, "other_names", lambda *a: calls.append(a) or real(*a))
    assert learner.linked_outside() == {} and learner.linked_outside() == {}
    assert len(calls) == 1
    os.link(ws / "fixture.py", ws / "fixture-again.py")
    learner.refresh()
    assert learner.linked_outside() == {} and len(calls) == 2


def test_places_inside_another_are_searched_once(tmp_path: Path) -> None:
    inner = tmp_path / "ws" / "build"
    inner.mkdir(parents=True)
    places = link_names.command_places(str(tmp_path / "ws"), [inner, tmp_path])
    assert str(inner) not in places and str(tmp_path / "ws") not in places
    assert places.count(str(tmp_path.resolve())) <= 1


@pytest.mark.sandbox
@pytest.mark.parametrize("tier", ["bwrap", "landlock"])
def test_codeward_sandbox_runs_in_a_uv_project_and_refuses_a_link_in_an_extra_writable_dir(
    workspace_beside_tmp: Path, monkeypatch: pytest.MonkeyPatch, tier: str
) -> None:
    """The CLI takes the same path: the uv store does not stop it; a link in a directory it was
    given with ``--writable`` (or ``[sandbox] writable_roots``) does."""
    from tests.support.cli import codeward

    repo = workspace_beside_tmp
    home, cw_home = _home_beside(repo, monkeypatch)
    _tier(cw_home, tier)
    installed = _installed(home, repo, "uv")
    ok = codeward("sandbox", "--", "echo", "hello", cwd=repo)
    assert ok.returncode == 0 and "hello" in ok.stdout, ok.stderr
    extra = repo.parent / "build-out"
    extra.mkdir()
    os.link(installed, extra / "fixture.py")
    refused = codeward("sandbox", "--writable", str(extra), "--", "echo", "hello", cwd=repo)
    assert refused.returncode != 0 and "hello" not in refused.stdout
    assert str(extra / "fixture.py") in refused.stderr and "has another name" in refused.stderr, refused.stderr


def test_a_search_that_is_killed_refuses_instead_of_finding_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cut listing would say "no other name" (fail open): a ``find`` killed by a signal is an error."""
    ws, store = _dirs(tmp_path, "ws", "store")
    (store / "fixture.py").write_text(SECRET_LINE)
    os.link(store / "fixture.py", ws / "fixture.py")
    learner = _learner(ws)
    killed = tmp_path / "find"
    killed.write_text("#!/bin/sh\nkill -9 $$\n")
    killed.chmod(0o755)
    monkeypatch.setattr(link_names, "FIND_PATHS", (str(killed),))
    with pytest.raises(OSError, match="signal 9"):
        learner.linked_outside()


@pytest.mark.parametrize(
    ("owner", "mode", "refused"),
    [
        ("self", 0o300, True),  # a command's own `chmod 300` after `ln`
        ("other", 0o733, True),  # another's drop box this user may write in
        ("other", 0o711, False),  # another's directory: nothing of this user's making can be inside
        ("other", 0o700, False),
    ],
)
def test_an_unlistable_directory_refuses_only_where_this_user_could_have_made_a_name(
    owner: str, mode: int, refused: bool
) -> None:
    """Run as an ordinary user (``nobody``) through ``setpriv``: root lists everything."""
    import shutil
    import subprocess
    import tempfile

    if os.geteuid() != 0 or shutil.which("setpriv") is None or not os.path.exists("/usr/bin/python3"):
        pytest.skip("needs root, setpriv and /usr/bin/python3 to act as another user")
    nobody = 65534
    base = Path(tempfile.mkdtemp(prefix="cw-unlisted-"))  # reachable by nobody (the test's tmp is 0700)
    base.chmod(0o755)
    d = base / "d"
    d.mkdir()
    if owner == "self":
        os.chown(d, nobody, nobody)
    d.chmod(mode)
    src = Path(link_names.__file__).resolve().parents[2]
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); from codeward.privacy import link_names as l\n"
        "try:\n    l._refuse_unlisted(sys.argv[2]); print('allowed')\n"
        "except OSError as e:\n    print('refused:', e)"
    )
    as_nobody = ["setpriv", f"--reuid={nobody}", f"--regid={nobody}", "--clear-groups"]
    try:
        run = subprocess.run(
            [*as_nobody, "/usr/bin/python3", "-c", probe, str(src), str(d)], capture_output=True, text=True, timeout=30
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)
    assert run.stdout.startswith("refused" if refused else "allowed"), run.stdout + run.stderr
    if refused:
        assert f"chmod u+rx {d}" in run.stdout
