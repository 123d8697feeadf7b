"""``codeward sandbox`` through the warm server (:mod:`codeward.cli.sandbox_warm`, ``sandbox_server``).

Judged as a user meets it: the real CLI in a child process, the real server it leaves behind, real
bubblewrap / Landlock. A served command must see exactly what a one-shot one sees (edits between
commands included), no confined process may be served, and a command dies with its client.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support import warm as w
from tests.support.cw_subprocess import REPO

from codeward.cli import sandbox_warm as warm

pytestmark = pytest.mark.sandbox

AWS = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8kW3nV2a"


@pytest.fixture(params=["bwrap", "landlock"])
def served(request: pytest.FixtureRequest, git_repo: Path, cw_home: Path) -> Iterator[tuple[Path, Path]]:
    """A repository whose warm server runs (started as the CLI starts one), and its socket."""
    (git_repo / "settings.py").write_text(f'aws_secret_access_key = "{AWS}"\n')
    (git_repo / ".env").write_text("DB_PASSWORD=hunter2-hunter2\n")
    yield from w.served(request, git_repo, cw_home)


def _notes(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "debug:" not in line]


def _placeholders(text: str) -> str:
    """Placeholders carry their process's own key: equal up to it (forwards or reversed)."""
    return re.sub(r">[^<>]*:terces<", "<secret>", re.sub(r"<secret:[^>]*>", "<secret>", text))


def test_a_served_command_sees_what_a_one_shot_one_sees(served: tuple[Path, Path]) -> None:
    repo, path = served
    command = "cat settings.py | rev; cat .env"
    got = w.ask(repo, "--", command)
    assert w.SERVED in got.stderr, got.stderr
    assert AWS not in got.stdout and AWS[::-1] not in got.stdout and "hunter2" not in got.stdout
    here = w.ask(repo, "-c", "sandbox.keep_warm_s=0", "--", command)  # turned off: handed back, the server ends
    assert w.SERVED not in here.stderr, here.stderr
    assert _placeholders(here.stdout) == _placeholders(got.stdout)
    assert _notes(here.stderr) == _notes(got.stderr)
    assert here.returncode == got.returncode
    deadline = time.monotonic() + 10
    while w.server_pids(path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not w.server_pids(path)


def test_edits_between_served_commands_count(served: tuple[Path, Path]) -> None:
    repo, _ = served
    (repo / "notes.txt").write_text("nothing here\n")
    first = w.ask(repo, "--", "rev notes.txt")
    assert w.SERVED in first.stderr and "ereh gnihton" in first.stdout
    (repo / "notes.txt").write_text(f"aws_secret_access_key = {AWS}\n")  # the host gives it a secret
    second = w.ask(repo, "--", "rev notes.txt; base64 -w0 notes.txt")
    assert w.SERVED in second.stderr, second.stderr
    assert AWS[::-1] not in second.stdout and AWS not in second.stdout
    assert "aws_secret_access_key"[::-1] in second.stdout  # read, redacted
    (repo / ".codexignore").write_text("notes.txt\n")  # a rule added between commands
    third = w.ask(repo, "--", "cat notes.txt")
    assert w.SERVED in third.stderr, third.stderr
    assert third.returncode != 0 and "aws_secret" not in third.stdout


PEER = r"""
import json, socket, struct, sys
req = json.loads(sys.argv[2])
try:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
except OSError as e:
    print("unreachable", e.errno); sys.exit(0)
data = json.dumps(req).encode()
try:
    s.sendall(struct.pack(">I", len(data)) + data)
except OSError:
    pass  # refused before the request was read: the answer is still there to read
while True:
    head = s.recv(4)
    if len(head) < 4:
        print("closed"); sys.exit(0)
    n = struct.unpack(">I", head)[0]
    body = b""
    while len(body) < n:
        body += s.recv(n - len(body))
    print("reply", json.loads(body))
"""


def test_a_sandboxed_command_is_not_served(served: tuple[Path, Path]) -> None:
    """A command could otherwise ask the server to run something with wider options (the network
    on here). The control: the same request from this unconfined test process is served."""
    repo, path = served
    req = w.request(repo, ["sh", "-c", "echo PWNED-$((6*7))"], allow_network=True)
    (repo / "peer.py").write_text(PEER)
    # with the network on (else the seccomp filter refuses an AF_UNIX socket before any check)
    inside = w.ask(repo, "--allow-network", "--", "python3", "peer.py", str(path), json.dumps(req))
    assert w.SERVED in inside.stderr, inside.stderr
    assert "PWNED-42" not in inside.stdout
    assert "unreachable" in inside.stdout or "not served" in inside.stdout, inside.stdout + inside.stderr
    control = subprocess.run(
        [sys.executable, str(repo / "peer.py"), str(path), json.dumps(req)], capture_output=True, text=True, timeout=60
    )
    assert "PWNED-42" in control.stdout, control.stdout + control.stderr


def test_the_command_dies_with_its_client(served: tuple[Path, Path]) -> None:
    repo, path = served
    client = _started(repo, "echo started; exec sleep 313")
    client.kill()
    client.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and (_sleepers() or w.server_pids(path)):
        time.sleep(0.2)
    assert not _sleepers(), "the command outlived its client"
    assert not w.server_pids(path)


def _started(repo: Path, command: str) -> subprocess.Popen[str]:
    """A ``codeward sandbox`` client whose served command printed ``started``."""
    env = {**os.environ, "PYTHONPATH": str(REPO), **w.DEBUG}
    client = subprocess.Popen(
        [sys.executable, "-m", "codeward", "sandbox", "--", command],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert client.stdout is not None
    assert client.stdout.readline() == "started\n"
    return client


def _sleepers(seconds: int = 313) -> list[int]:
    want = b"sleep\x00%d\x00" % seconds
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if Path(f"/proc/{d}/cmdline").read_bytes() == want:
                    out.append(int(d))
            except OSError:
                pass
    return out


def test_a_large_workspace_leaves_a_server_behind_except_in_ci(git_repo: Path, cw_home: Path) -> None:
    w.use_tier(cw_home, "bwrap")
    src = git_repo / "src"
    for i in range(warm.WARM_AFTER_ENTRIES // 100 + 1):
        d = src / f"d{i:03d}"
        d.mkdir(parents=True)
        for j in range(100):
            (d / f"f{j}.py").write_bytes(b"x = 1\n")
    path = warm.socket_path(cw_home, str(git_repo.resolve()))
    assert path is not None
    ci = w.ask(git_repo, "--", "true", env={"CI": "true"})
    assert ci.returncode == 0, ci.stderr
    time.sleep(1)
    assert not path.exists() and not w.server_pids(path)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    user = subprocess.run(
        [sys.executable, "-m", "codeward", "sandbox", "--", "true"],
        cwd=git_repo,
        env={**env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
    )  # returns at once: the server is detached from this process's output
    assert user.returncode == 0, user.stderr
    try:
        deadline = time.monotonic() + 120
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert path.exists()
        again = w.ask(git_repo, "--", "true")
        assert w.SERVED in again.stderr, again.stderr
    finally:
        warm.stop_server(cw_home, str(git_repo.resolve()))
        for pid in w.server_pids(path):
            os.kill(pid, signal.SIGKILL)


def test_another_users_process_is_not_served(served: tuple[Path, Path]) -> None:
    if os.geteuid() != 0:
        pytest.skip("switching users needs root")
    repo, path = served
    # every directory above the socket that the other user could not pass (pytest's own 0700
    # /tmp/pytest-of-root included), ours, opened for the test and closed again after
    opened = [
        d
        for d in (path.parent, *path.parent.parents)
        if d.stat().st_uid == os.geteuid() and not d.stat().st_mode & 0o001
    ]
    modes = {d: d.stat().st_mode & 0o7777 for d in [path, *opened]}
    for d in opened:  # let the other user reach the socket itself: only the peer check is left
        os.chmod(d, modes[d] | 0o011)
    os.chmod(path, 0o666)
    try:
        req = json.dumps(w.request(repo, ["sh", "-c", "echo PWNED-$((6*7))"]))
        other = subprocess.run(
            ["/usr/bin/python3", "-c", PEER, str(path), req],
            capture_output=True,
            text=True,
            timeout=60,
            user=65534,
            group=65534,
            env={"PATH": "/usr/bin:/bin"},
            cwd="/",
        )
    finally:
        for d, mode in modes.items():
            os.chmod(d, mode)
    assert "PWNED-42" not in other.stdout
    assert "not served" in other.stdout, other.stdout + other.stderr


def test_the_socket_name_follows_the_user_the_directory_and_the_code(tmp_path: Path) -> None:
    a = warm.socket_path(tmp_path, "/w/one")
    assert a is not None and a.parent == tmp_path / "run"
    assert warm.socket_path(tmp_path, "/w/two") != a
    assert warm.socket_path(tmp_path / "h", "/w/one") != a
    assert warm.socket_path(Path("/" + "x" * 120), "/w/one") is None  # too long for AF_UNIX: no server
    stamp = warm.code_stamp()
    source = Path(warm.__file__)
    st = source.stat()
    try:
        os.utime(source, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        assert warm.code_stamp() != stamp  # an upgraded codeward never talks to an old server
    finally:
        os.utime(source, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_a_server_killed_mid_command_never_makes_the_client_run_it_again(served: tuple[Path, Path]) -> None:
    """Once the server has taken a command, a broken connection is an unknown result, never a
    reason to run the command a second time in the client (its side effects would happen twice)."""
    repo, path = served
    client = _started(repo, "echo ran >> count.txt; echo started; exec sleep 317")
    for pid in w.server_pids(path):
        os.kill(pid, signal.SIGKILL)
    _, err = client.communicate(timeout=60)
    assert client.returncode != 0
    assert "went away while the command ran" in err, err
    assert (repo / "count.txt").read_text() == "ran\n"
    for pid in _sleepers(317):  # the Landlock tier's command is in its own session: not ours to leave
        os.kill(pid, signal.SIGKILL)
