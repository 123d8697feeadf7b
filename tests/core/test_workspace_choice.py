"""No accidental workspace: outside a repository, in ``$HOME`` and in ``/`` the user must choose.

The rule lives in :func:`codeward.workspace.choose_root` and every command that opens a Project goes
through it; these tests check the rule itself and then the real program (``exec``, ``preview``,
``init``, the commands that need no workspace) as a user meets it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from tests.support.cw_subprocess import run_cw

from codeward.cli.options import RunOptions
from codeward.cli.session_cmd import confirm_workspace
from codeward.errors import UsageError
from codeward.project import open_project
from codeward.workspace import WorkspaceNotChosen, choose_root, user_homes


def git_init(d: Path) -> None:
    subprocess.run(["git", "init", "-q", str(d)], check=True, env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1"})


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    d = tmp_path / "plain"
    (d / "sub").mkdir(parents=True)
    (d / "notes.txt").write_text("not a repository\n")
    return d


@pytest.fixture
def home() -> Path:
    return Path(os.environ["HOME"]).resolve()  # the test's own (conftest), never the real one


# -- the rule ------------------------------------------------------------------------------------


def test_inside_a_repository_its_root_needs_no_flag(git_repo: Path) -> None:
    (git_repo / "src").mkdir()
    assert choose_root(git_repo / "src") == git_repo.resolve()


def test_outside_a_repository_the_directory_must_be_named(plain: Path) -> None:
    with pytest.raises(WorkspaceNotChosen) as e:
        choose_root(plain / "sub")
    assert e.value.askable and e.value.candidate == (plain / "sub").resolve()
    assert f"-C {plain / 'sub'}" in e.value.message and "\n" not in e.value.message
    assert choose_root(plain / "sub", named=True) == (plain / "sub").resolve()  # -C DIR
    assert choose_root(plain, explicit=True) == plain.resolve()  # --workspace DIR


def test_home_is_a_workspace_only_with_the_explicit_flag(home: Path) -> None:
    for named in (False, True):  # -C ~ is not enough
        with pytest.raises(WorkspaceNotChosen) as e:
            choose_root(home, named=named)
        assert not e.value.askable and f"--workspace {home}" in e.value.message
    assert choose_root(home, explicit=True) == home


def test_a_directory_holding_the_home_is_like_the_home(home: Path) -> None:
    """``-C /home`` would hand the agent every account's files: it needs ``--workspace`` too."""
    with pytest.raises(WorkspaceNotChosen) as e:
        choose_root(home.parent, named=True)
    assert not e.value.askable and "holding your home" in e.value.message
    assert choose_root(home.parent, explicit=True) == home.parent


def test_the_accounts_passwd_home_counts_when_home_is_changed() -> None:
    import pwd

    passwd_home = Path(pwd.getpwuid(os.getuid()).pw_dir).resolve()
    assert passwd_home in user_homes()  # $HOME points elsewhere in every test (conftest)
    with pytest.raises(WorkspaceNotChosen):
        choose_root(passwd_home, named=True)


def test_root_is_a_workspace_only_with_the_explicit_flag() -> None:
    with pytest.raises(WorkspaceNotChosen) as e:
        choose_root(Path("/"), named=True)
    assert not e.value.askable and "root directory" in e.value.message
    assert choose_root(Path("/"), explicit=True) == Path("/")


def test_a_dotfiles_repository_in_home_is_no_workspace_by_itself(home: Path) -> None:
    """``git init ~`` (dotfiles): a project directory below it is not silently widened to all of $HOME."""
    git_init(home)
    proj = home / "proj"
    proj.mkdir()
    with pytest.raises(WorkspaceNotChosen) as e:
        choose_root(proj)
    assert e.value.askable and "rooted at" in e.value.message
    assert choose_root(proj, named=True) == proj  # the directory named, not the dotfiles root
    with pytest.raises(WorkspaceNotChosen):
        choose_root(home, named=True)
    assert choose_root(home, explicit=True) == home
    inner = proj / "real"  # a real repository below still counts as one
    inner.mkdir()
    git_init(inner)
    assert choose_root(inner) == inner


def test_a_workspace_inside_the_codeward_home_is_refused(cw_home: Path) -> None:
    from codeward.config.load import ConfigOverrides

    sessions = cw_home / "sessions"
    sessions.mkdir()
    with pytest.raises(UsageError, match="inside codeward's home"):
        open_project(sessions, ConfigOverrides(workspace_named=True, workspace_explicit=True), load=False)


def test_run_options_say_how_the_directory_was_chosen(plain: Path) -> None:
    assert not RunOptions().overrides().workspace_named
    ov = RunOptions(cd=plain).overrides()
    assert ov.workspace_named and not ov.workspace_explicit
    ov = RunOptions(workspace=plain).overrides()
    assert ov.workspace_named and ov.workspace_explicit
    with pytest.raises(UsageError, match="name different directories"):
        RunOptions(cd=plain, workspace=plain / "sub").workdir()


# -- the interactive session asks ----------------------------------------------------------------


def test_session_asks_before_taking_a_plain_directory(plain: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(plain)
    asked: list[str] = []

    def no(q: str) -> bool:
        asked.append(q)
        return False

    with pytest.raises(UsageError, match="was not accepted"):
        confirm_workspace(RunOptions(), no)
    assert len(asked) == 1 and str(plain) in asked[0]
    opts = confirm_workspace(RunOptions(), lambda q: True)
    assert opts.workspace == plain.resolve() and opts.overrides().workspace_explicit


def test_session_never_asks_about_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(home)
    asked: list[str] = []
    with pytest.raises(WorkspaceNotChosen, match="--workspace"):
        confirm_workspace(RunOptions(cd=home), lambda q: asked.append(q) is None)
    assert asked == []  # refused, not offered


def test_session_in_a_repository_asks_nothing(git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(git_repo)
    opts = RunOptions()
    assert confirm_workspace(opts, lambda q: pytest.fail("asked inside a repository")) is opts


# -- the real program ----------------------------------------------------------------------------


def test_exec_refuses_a_plain_directory_and_runs_when_told(plain: Path) -> None:
    r = run_cw("exec", "--dry-run", "list the files", cwd=plain)
    assert r.returncode == 2 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "not in a git repository" in lines[0] and f"-C {plain}" in lines[0]
    for flags in (["-C", str(plain)], ["--workspace", "."]):
        r = run_cw("exec", *flags, "--dry-run", "list the files", cwd=plain)
        assert r.returncode == 0, r.stderr


def test_exec_in_home_needs_the_workspace_flag(home: Path) -> None:
    (home / ".bashrc").write_text("export EDITOR=vi\n")
    r = run_cw("exec", "-C", str(home), "--dry-run", "hello", cwd=home)
    assert r.returncode == 2 and f"--workspace {home}" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run_cw("exec", "--workspace", str(home), "--dry-run", "hello", cwd=home)
    assert r.returncode == 0, r.stderr


def test_preview_init_doctor_and_sandbox_refuse_too(plain: Path) -> None:
    for args in (["preview"], ["init"], ["doctor"], ["policy", "check", "--", "ls"], ["sandbox", "--", "true"]):
        r = run_cw(*args, cwd=plain)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert "not in a git repository" in r.stderr, args
    assert not (plain / ".codewardignore").exists()  # init wrote nothing
    for args in (["--workspace", ".", "preview"], ["preview", "--workspace", "."]):
        r = run_cw(*args, cwd=plain)
        assert r.returncode == 0 and f"workspace: {plain}" in r.stdout, r.stderr
    r = run_cw("policy", "check", "--workspace", str(plain), "--", "ls", cwd=plain)
    assert r.returncode == 0 and "decision: ask" in r.stdout, r.stderr
    r = run_cw("init", "--workspace", ".", "--dry-run", cwd=plain)
    assert r.returncode == 0 and "would create" in r.stdout, r.stderr


def test_commands_that_read_no_workspace_work_anywhere(plain: Path) -> None:
    """``scan FILE``, stdin ``redact``, ``logs``, ``auth status``: nothing of the directory reaches a model."""
    assert run_cw("scan", "notes.txt", cwd=plain).returncode == 0
    r = run_cw("redact", input="hello\n", cwd=plain)
    assert r.returncode == 0 and r.stdout == "hello\n", r.stderr
    assert run_cw("logs", "list", cwd=plain).returncode == 0
    assert run_cw("auth", "status", cwd=plain).returncode == 0


def test_a_chosen_directory_stays_chosen_for_the_whole_session(plain: Path) -> None:
    """``/new`` re-opens the project from the same overrides: the user's choice is not asked again or lost."""
    from codeward.agent.session import build_session
    from codeward.config.load import ConfigOverrides
    from codeward.events import EventBus
    from codeward.tools.asking import NoTerminalApprover

    overrides = RunOptions(cd=plain).overrides()
    session = build_session(
        plain, overrides, events=EventBus(), approver=NoTerminalApprover(), need_key=False, persist=False
    )
    session.clear()
    assert session.project.workspace.root == plain.resolve()
    with pytest.raises(WorkspaceNotChosen):
        build_session(
            plain, ConfigOverrides(), events=EventBus(), approver=NoTerminalApprover(), need_key=False, persist=False
        )


# -- what counts as a repository (git's own rule) -------------------------------------------------


def git_says_repository(d: Path, ceiling: Path) -> bool:
    r = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"],
        cwd=d,
        capture_output=True,
        env={**os.environ, "GIT_CEILING_DIRECTORIES": str(ceiling)},
    )
    return r.returncode == 0


def test_a_dot_git_that_is_no_repository_makes_no_workspace(tmp_path: Path) -> None:
    """Anyone who can write a shared parent (``/tmp``) can plant ``.git`` there: an empty directory, a
    stray file or a pointer to nothing is not a repository for git, so not for codeward either; the
    directory below stays unchosen and a real repository further up is still found."""
    shared = tmp_path / "shared"
    work = shared / "work"
    work.mkdir(parents=True)
    plants = {
        "empty dir": lambda dot: dot.mkdir(),
        "stray file": lambda dot: dot.write_text("not a repository\n"),
        "pointer to nothing": lambda dot: dot.write_text(f"gitdir: {tmp_path / 'nowhere'}\n"),
        "pointer to an empty dir": lambda dot: (
            (tmp_path / "hollow").mkdir(exist_ok=True),
            dot.write_text(f"gitdir: {tmp_path / 'hollow'}\n"),
        ),
    }
    for what, plant in plants.items():
        dot = shared / ".git"
        plant(dot)
        assert not git_says_repository(work, tmp_path), what  # git agrees: not a repository
        with pytest.raises(WorkspaceNotChosen, match="not in a git repository"):
            choose_root(work)
        subprocess.run(["rm", "-rf", str(dot)], check=True)
    git_init(tmp_path)  # control: a real repository above the planted one is the workspace
    (shared / ".git").mkdir()
    assert choose_root(work) == tmp_path.resolve()


def test_a_real_repository_and_a_linked_worktree_are_workspaces(tmp_path: Path) -> None:
    """The control: ``git init`` and a ``git worktree add`` (a ``gitdir:`` file whose directory has
    ``commondir``) are taken as they always were."""
    repo = tmp_path / "repo"
    git_init(repo)
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e"}  # fmt: skip
    subprocess.run(["git", "-C", str(repo), "commit", "-q", "--allow-empty", "-m", "x"], check=True, env=env)
    wt = tmp_path / "wt"
    subprocess.run(["git", "-C", str(repo), "worktree", "add", "-q", str(wt)], check=True, env=env)
    (wt / "src").mkdir()
    assert (wt / ".git").is_file()
    assert choose_root(repo) == repo.resolve()
    assert choose_root(wt / "src") == wt.resolve()


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another uid needs root")
def test_a_repository_owned_by_another_user_is_refused_and_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """git's safe.directory rule: another local user's repository in a shared parent is not the
    user's workspace (its AGENTS.md and files would reach the model); the refusal names the owner.
    As root, the ``sudo`` caller's own repository is still theirs, as git allows."""
    shared = tmp_path / "shared"
    work = shared / "work"
    work.mkdir(parents=True)
    git_init(shared)
    assert choose_root(work) == shared.resolve()  # control: the user's own repository
    subprocess.run(["chown", "-R", "54321", str(shared / ".git")], check=True)
    monkeypatch.delenv("SUDO_UID", raising=False)
    with pytest.raises(WorkspaceNotChosen) as e:
        choose_root(work)
    assert "owned by uid 54321" in e.value.message and "safe.directory" in e.value.message
    assert "\n" not in e.value.message
    assert choose_root(work, named=True) == work.resolve()  # -C: the directory itself, not theirs
    gitconfig = Path(os.environ["HOME"]) / ".gitconfig"
    (shared / ".git" / "config").write_text(f"[safe]\n\tdirectory = {shared}\n")  # the repository's own: no
    with pytest.raises(WorkspaceNotChosen):
        choose_root(work)
    gitconfig.write_text(f"[safe]\n\tdirectory = {shared}\n")  # the user's own git config: as git, yes
    assert choose_root(work) == shared.resolve()
    gitconfig.write_text(f"[safe]\n\tdirectory = {shared}\n\tdirectory =\n")  # an empty value forgets it
    with pytest.raises(WorkspaceNotChosen):
        choose_root(work)
    gitconfig.write_text("[safe]\n\tdirectory = *\n")
    assert choose_root(work) == shared.resolve()
    gitconfig.unlink()
    os.chown(shared, 54321, 54321)
    monkeypatch.setenv("SUDO_UID", "54321")  # root through sudo: the caller's repository
    assert choose_root(work) == shared.resolve()


# -- homes by identity ----------------------------------------------------------------------------


@pytest.fixture
def home_bind(home: Path, tmp_path: Path):
    """``$HOME`` mounted again at another path (a bind mount), unmounted after the test."""
    if os.geteuid() != 0:
        pytest.skip("a bind mount needs root")
    bind = tmp_path / "homebind"
    bind.mkdir()
    subprocess.run(["mount", "--bind", str(home), str(bind)], check=True)
    try:
        yield bind
    finally:
        subprocess.run(["umount", str(bind)], check=False)


def test_the_home_through_a_bind_mount_is_still_the_home(home: Path, home_bind: Path) -> None:
    assert home_bind.resolve() not in user_homes()  # a path comparison does not see it
    with pytest.raises(WorkspaceNotChosen) as e:
        choose_root(home_bind, named=True)
    assert "your home directory" in e.value.message
    assert choose_root(home_bind, explicit=True) == home_bind.resolve()


def test_a_dotfiles_repository_through_a_bind_mount_is_no_workspace(home: Path, home_bind: Path) -> None:
    git_init(home)
    (home / "proj").mkdir()
    with pytest.raises(WorkspaceNotChosen) as e:
        choose_root(home_bind / "proj")  # no flag: the dotfiles root must not be taken
    assert e.value.askable
    assert choose_root(home_bind / "proj", named=True) == (home_bind / "proj").resolve()


def _other_login_home() -> Path:
    import pwd

    mine = {Path(pwd.getpwuid(os.getuid()).pw_dir).resolve()}
    for e in pwd.getpwall():
        h = Path(e.pw_dir)
        if 1000 <= e.pw_uid < 65534 and h.is_dir() and h.resolve() not in mine:
            return h.resolve()
    pytest.skip("no other login account with a home on this machine")


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can read other accounts' homes")
def test_as_root_every_login_accounts_home_is_a_home(monkeypatch: pytest.MonkeyPatch) -> None:
    other = _other_login_home()
    monkeypatch.delenv("SUDO_USER", raising=False)
    assert other in user_homes()
    with pytest.raises(WorkspaceNotChosen):
        choose_root(other, named=True)
    with pytest.raises(WorkspaceNotChosen):
        choose_root(other.parent, named=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="sudo makes root")
def test_under_sudo_the_callers_home_is_a_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``sudo codeward -C /home/alice``: alice's home, whatever her uid (a passwd entry below 1000 too)."""
    import pwd

    entry = next(
        (e for e in pwd.getpwall() if 0 < e.pw_uid < 1000 and Path(e.pw_dir).is_dir() and e.pw_dir != "/"), None
    )
    if entry is None:
        pytest.skip("no system account with a home directory here")
    before = user_homes()
    monkeypatch.setenv("SUDO_USER", entry.pw_name)
    assert Path(entry.pw_dir).resolve() in user_homes()
    assert Path(entry.pw_dir).resolve() not in before


def test_a_dot_git_link_to_a_repository_is_one(tmp_path: Path) -> None:
    """git follows a ``.git`` that is a link to a git directory; so does codeward."""
    store = tmp_path / "store"
    git_init(store)
    proj = tmp_path / "proj"
    (proj / "src").mkdir(parents=True)
    os.symlink(store / ".git", proj / ".git")
    assert git_says_repository(proj / "src", tmp_path)
    assert choose_root(proj / "src") == proj.resolve()


def test_a_workspace_inside_the_codeward_home_through_a_bind_mount_is_refused(cw_home: Path, tmp_path: Path) -> None:
    from codeward.config.load import ConfigOverrides

    if os.geteuid() != 0:
        pytest.skip("a bind mount needs root")
    (cw_home / "sessions").mkdir()
    bind = tmp_path / "elsewhere"
    bind.mkdir()
    subprocess.run(["mount", "--bind", str(cw_home), str(bind)], check=True)
    try:
        for d in (bind, bind / "sessions"):
            with pytest.raises(UsageError, match="inside codeward's home"):
                open_project(d, ConfigOverrides(workspace_named=True, workspace_explicit=True), load=False)
        other = tmp_path / "other"
        other.mkdir()  # control: an ordinary directory named the same way is a workspace
        open_project(other, ConfigOverrides(workspace_named=True, workspace_explicit=True), load=False)
    finally:
        subprocess.run(["umount", str(bind)], check=False)
