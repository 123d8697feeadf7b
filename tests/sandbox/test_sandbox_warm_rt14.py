"""Red team rt14: ways a command served by the warm ``codeward sandbox`` server differs from a one-shot one.

Each test drives the real CLI in a child process against the real server it would meet (started as
``tests/sandbox/test_sandbox_warm.py`` starts one) and compares with what a one-shot
``codeward sandbox`` (same user, options and tree) does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support import warm as w
from tests.support.cw_subprocess import REPO, run_cw

from codeward.cli import sandbox_warm as warm

pytestmark = pytest.mark.sandbox


def _served(request: pytest.FixtureRequest, git_repo: Path, cw_home: Path) -> Iterator[tuple[Path, Path]]:
    yield from w.served(request, git_repo, cw_home)


served = pytest.fixture(params=["bwrap", "landlock"])(_served)
served_bwrap = pytest.fixture(params=["bwrap"])(_served)


def test_a_command_runs_once_even_when_the_server_dies_under_it(served: tuple[Path, Path]) -> None:
    """A command that printed nothing yet when the server went away must not be run a second time
    by the client (a one-shot runs it once). ``sandbox_warm.ask`` takes a connection closed before
    any frame for "nothing ran" and falls back, though the request was sent and the command ran."""
    repo, path = served
    counter = repo / "counter"
    env = {**os.environ, "PYTHONPATH": str(REPO), **w.DEBUG}
    client = subprocess.Popen(
        [sys.executable, "-m", "codeward", "sandbox", "--", "echo ran >> counter; exec sleep 4"],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (counter.exists() and counter.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert counter.read_text() == "ran\n", "the served command did not start"
    for pid in w.server_pids(path):  # the server dies (OOM killer, a kill, a crash) mid-command
        os.kill(pid, signal.SIGKILL)
    _out, err = client.communicate(timeout=120)
    assert counter.read_text() == "ran\n", f"the command ran {counter.read_text().count('ran')} times: {err}"


def test_a_served_command_does_not_find_an_earlier_commands_tmp(served_bwrap: tuple[Path, Path]) -> None:
    """Each one-shot ``codeward sandbox`` gets an empty private /tmp (bubblewrap's tmpfs); the warm
    server keeps one view holder for every request, so what one invocation's command leaves in /tmp,
    /var/tmp or /dev/shm the next invocation's command reads (``sandbox_cmd._sandbox`` keeps the
    sandbox, and with it the holder, across requests)."""
    repo, _ = served_bwrap
    plant = "echo planted-by-an-earlier-command > /tmp/rt14; echo x > /dev/shm/rt14"
    look = "cat /tmp/rt14 /dev/shm/rt14 2>&1; true"
    first = w.ask(repo, "--", plant)
    assert w.SERVED in first.stderr and first.returncode == 0, first.stderr
    # control: a one-shot (the option turned off: handed back, the server ends) starts empty
    second = w.ask(repo, "--", look)
    assert w.SERVED in second.stderr, second.stderr
    here = w.ask(repo, "-c", "sandbox.keep_warm_s=0", "--", look)
    assert w.SERVED not in here.stderr and "planted" not in here.stdout, here.stdout + here.stderr
    assert "planted" not in second.stdout, "a served command read what an earlier invocation left in /tmp"


RULE = """
[[rules]]
id = "rt14-new-format"
description = "a token format a codeward upgrade learns"
regex = '''(RT14TOK-[0-9a-f]{24})'''
keywords = ["rt14tok"]
"""
TOKEN = "RT14TOK-0123456789abcdef01234567"


def test_an_upgraded_rule_set_is_never_served_by_an_old_server(served_bwrap: tuple[Path, Path]) -> None:
    """An upgrade that changes only the built-in ``rules.toml`` (a new token format) keeps the socket
    name (``sandbox_warm.code_stamp`` digests ``.py`` files only) and the old server keeps the rules it
    parsed once (``gitleaks_config.builtin_ruleset``): the new format reaches the command raw, where a
    one-shot process of the upgraded codeward redacts it."""
    repo, _ = served_bwrap
    (repo / "conf.txt").write_text(f'token = "{TOKEN}"\n')
    rules = REPO / "src" / "codeward" / "privacy" / "rules.toml"
    before = rules.read_bytes()
    st = rules.stat()
    try:
        rules.write_bytes(before + RULE.encode())  # the upgrade
        got = w.ask(repo, "--", "cat conf.txt")
        here = w.ask(repo, "-c", "sandbox.keep_warm_s=0", "--", "cat conf.txt")  # control: a one-shot
    finally:
        rules.write_bytes(before)
        os.utime(rules, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert w.SERVED not in here.stderr and TOKEN not in here.stdout and "rt14-new-format" in here.stdout, here.stdout
    assert TOKEN not in got.stdout, "the old server showed a secret the upgraded rules redact: " + got.stderr


def test_an_edit_to_an_extended_rules_file_counts_for_the_next_served_command(git_repo: Path, cw_home: Path) -> None:
    """The user's ``privacy.rules`` file extends a team file (``[extend] path``, gitleaks' form). The
    scanner is cached by the stamps of the listed files only (``scanner.load_scanner``), so when the
    team file gains a rule, the warm server keeps the old scanner for as long as it lives: the new
    format reaches the command raw, where the next one-shot process redacts it."""
    w.use_tier(cw_home, "bwrap")
    team = cw_home / "team.toml"
    team.write_text('title = "team"\n')
    (cw_home / "mine.toml").write_text(f'[extend]\npath = "{team}"\n')
    with (cw_home / "config.toml").open("a") as f:
        f.write(f'\n[privacy]\nrules = ["{cw_home / "mine.toml"}"]\n')
    (git_repo / "conf.txt").write_text(f'token = "{TOKEN}"\n')
    path = w.start(cw_home, git_repo)
    try:
        first = w.ask(git_repo, "--", "cat conf.txt")
        assert w.SERVED in first.stderr and TOKEN in first.stdout, first.stdout + first.stderr  # no rule yet
        with team.open("a") as f:
            f.write(RULE.replace("rt14-new-format", "team-format"))  # the team's rules gain a format
        got = w.ask(git_repo, "--", "cat conf.txt")
        here = w.ask(git_repo, "-c", "sandbox.keep_warm_s=0", "--", "cat conf.txt")  # control: a one-shot
    finally:
        warm.stop_server(cw_home, str(git_repo.resolve()))
        for pid in w.server_pids(path):
            os.kill(pid, signal.SIGKILL)
    assert w.SERVED not in here.stderr and TOKEN not in here.stdout and "team-format" in here.stdout, here.stdout
    assert w.SERVED in got.stderr, got.stderr
    assert TOKEN not in got.stdout, "the warm server redacted with the team's rules as they were"


AWS = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8kW3nV2a"


def test_a_landlock_command_never_reads_a_secret_after_its_server_dies(git_repo: Path, cw_home: Path) -> None:
    """Landlock: while a served command runs, its secret files are held out of the workspace (the
    redacted copy in their place). When the server dies mid-command, the command lives on (own
    session, no pid namespace, nothing kills it) and the client at once falls back to running the
    request itself, whose first step puts the held files back: the still-running command then reads
    the raw secret. A one-shot run has no second process that repairs the hold while its command runs."""
    w.use_tier(cw_home, "landlock")
    (git_repo / "settings.py").write_text(f'aws_secret_access_key = "{AWS}"\n')
    path = w.start(cw_home, git_repo)
    env = {**os.environ, "PYTHONPATH": str(REPO), **w.DEBUG}
    try:
        client = subprocess.Popen(
            [sys.executable, "-m", "codeward", "sandbox", "--", "touch started; sleep 3; cat settings.py > leak.txt"],
            cwd=git_repo,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while not (git_repo / "started").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (git_repo / "started").exists(), "the served command did not start"
        for pid in w.server_pids(path):  # the server dies mid-command (OOM killer, a kill, a crash)
            os.kill(pid, signal.SIGKILL)
        _out, err = client.communicate(timeout=120)
        deadline = time.monotonic() + 20
        while not (git_repo / "leak.txt").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
    finally:
        for pid in w.server_pids(path):
            os.kill(pid, signal.SIGKILL)
    leaked = (git_repo / "leak.txt").read_text() if (git_repo / "leak.txt").exists() else ""
    assert AWS not in leaked, "a sandboxed command read the raw secret after its server died: " + err


def test_a_command_cannot_plant_the_code_the_warm_server_runs(git_repo: Path, cw_home: Path, tmp_path: Path) -> None:
    """``start_server`` runs ``python -m codeward.cli.sandbox_server`` with the workspace as its working
    directory, and ``-m`` puts the working directory first on ``sys.path``: a ``codeward/`` package at
    the workspace root (shipped by the repository, or written by a sandboxed command, which may write
    anywhere in the workspace) is imported instead of the installed codeward, unconfined. One
    ``codeward sandbox`` in a large workspace is enough: its command plants the package, and the
    server it leaves behind runs it. A one-shot ``codeward`` (the installed entry point) never
    imports from the workspace."""
    w.use_tier(cw_home, "bwrap")
    entry = Path(sys.executable).parent / "codeward"
    if not entry.exists():
        pytest.skip("no installed codeward entry point beside this interpreter")
    for i in range(warm.WARM_AFTER_ENTRIES // 100 + 1):  # a large workspace
        d = git_repo / "src" / f"d{i:03d}"
        d.mkdir(parents=True)
        for j in range(100):
            (d / f"f{j}.py").write_bytes(b"x = 1\n")
    escaped = tmp_path / "escaped"  # outside the workspace: no sandboxed command can write here
    payload = (
        "import os\n"
        f"with open({str(escaped)!r}, 'w') as f:\n"
        "    f.write(''.join(l for l in open('/proc/self/status') if l.startswith(('NoNewPrivs', 'Seccomp:'))))\n"
    )
    plant = (
        "mkdir -p codeward/cli && touch codeward/__init__.py codeward/cli/__init__.py && "
        f"cat > codeward/cli/sandbox_server.py <<'PY'\n{payload}PY\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTHONPATH")}
    path = warm.socket_path(cw_home, str(git_repo.resolve()))
    assert path is not None
    try:
        ran = subprocess.run(
            [str(entry), "sandbox", "--", plant], cwd=git_repo, env=env, capture_output=True, text=True, timeout=300
        )
        assert ran.returncode == 0, ran.stderr
        assert (git_repo / "codeward" / "cli" / "sandbox_server.py").exists()  # planted by the sandboxed command
        deadline = time.monotonic() + 60
        while not escaped.exists() and not path.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)
    finally:
        warm.stop_server(cw_home, str(git_repo.resolve()))
        for pid in w.server_pids(path):
            os.kill(pid, signal.SIGKILL)
    assert not escaped.exists(), "the workspace's code ran unconfined in the warm server: " + escaped.read_text()


def test_a_crashed_servers_socket_does_not_keep_a_new_server_from_starting(served_bwrap: tuple[Path, Path]) -> None:
    """(Availability, not a widening.) A server killed with SIGKILL leaves its socket file behind;
    ``start_server`` takes any existing socket for a live server and returns, so no server is ever
    started again for that workspace (every command falls back: "Connection refused")."""
    repo, path = served_bwrap
    for pid in w.server_pids(path):
        os.kill(pid, signal.SIGKILL)
    # gone from /proc's command lines is not gone: a killed process closes its descriptors, the
    # lock's among them, only once the kernel has torn down its inotify watches (20 000 directories)
    deadline = time.monotonic() + 30
    while (w.server_pids(path) or warm._answers(path)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert path.exists()  # the dead server's socket
    _start_or_not(repo)
    deadline = time.monotonic() + 90
    while True:  # until the new one listens (after its warm-up); each miss runs the command here
        got = w.ask(repo, "--", "true")
        if w.SERVED in got.stderr or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert w.SERVED in got.stderr, "no new server after a crash: " + got.stderr


def _start_or_not(repo: Path) -> None:
    from codeward.cli.options import RunOptions
    from codeward.home import codeward_home

    req = warm.request(warm.encode_options(RunOptions()), ["true"], [], False)
    req["cwd"] = str(repo.resolve())
    old = dict(os.environ)
    os.environ["PYTHONPATH"] = str(REPO)
    try:
        warm.start_server(codeward_home(), str(repo.resolve()), req)  # what the next large-workspace run does
    finally:
        os.environ.clear()
        os.environ.update(old)


def test_stop_warm_is_an_option(served_bwrap: tuple[Path, Path]) -> None:
    """``codeward sandbox --stop-warm`` ends the directory's server at once (the docstring promised it
    before the option existed: red team rt14)."""
    repo, path = served_bwrap
    got = run_cw("sandbox", "--stop-warm", cwd=repo)
    assert got.returncode == 0, got.stderr
    deadline = time.monotonic() + 10
    while w.server_pids(path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not w.server_pids(path)


def test_a_command_in_a_small_workspace_cannot_plant_the_warm_servers_code(
    git_repo: Path, cw_home: Path, tmp_path: Path
) -> None:
    """The same in any workspace: the sandboxed command itself makes the workspace "large" (20 500
    empty files) besides planting ``codeward/``; the user's next ``codeward sandbox -- true`` counts
    the entries, leaves a server behind, and the server's start runs the planted code unconfined."""
    w.use_tier(cw_home, "bwrap")
    entry = Path(sys.executable).parent / "codeward"
    if not entry.exists():
        pytest.skip("no installed codeward entry point beside this interpreter")
    escaped = tmp_path / "escaped"
    plant = (
        "mkdir -p gen codeward/cli && (cd gen && seq 1 20500 | xargs touch) && "
        "touch codeward/__init__.py codeward/cli/__init__.py && "
        f"cat > codeward/cli/sandbox_server.py <<'PY'\nopen({str(escaped)!r}, 'w').write('ran unconfined')\nPY\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTHONPATH")}
    path = warm.socket_path(cw_home, str(git_repo.resolve()))
    assert path is not None
    try:
        for argv in (["sandbox", "--", plant], ["sandbox", "--", "true"]):  # a command, then the user's next one
            ran = subprocess.run(
                [str(entry), *argv], cwd=git_repo, env=env, capture_output=True, text=True, timeout=300
            )
            assert ran.returncode == 0, ran.stderr
        deadline = time.monotonic() + 60
        while not escaped.exists() and not path.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)
    finally:
        warm.stop_server(cw_home, str(git_repo.resolve()))
        for pid in w.server_pids(path):
            os.kill(pid, signal.SIGKILL)
    assert not escaped.exists(), "code a sandboxed command wrote ran unconfined in the warm server"
