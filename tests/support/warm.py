"""The warm ``codeward sandbox`` server as tests meet it (:mod:`codeward.cli.sandbox_warm`): a tier
chosen in the test's config, a server started as the CLI starts one, its processes found by
command line, and the CLI asked with ``CODEWARD_DEBUG`` so it says whether it was served."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.cli import write_config
from tests.support.cw_subprocess import REPO, run_cw

from codeward.cli import sandbox_warm as warm
from codeward.errors import SandboxUnavailable

DEBUG = {"CODEWARD_DEBUG": "1"}
SERVED = "served by the warm sandbox server"


def use_tier(home: Path, tier: str, extra: str = "") -> None:
    """Commands under ``tier`` (skipped where it cannot be enforced)."""
    from codeward.sandbox import select_sandbox

    try:
        select_sandbox(tier)
    except SandboxUnavailable as e:
        pytest.skip(f"{tier} cannot be enforced here: {e}")
    write_config(home, "http://127.0.0.1:9/v1", "chat", extra=f'[sandbox]\ntier = "{tier}"\n{extra}')


def request(repo: Path, argv: list[str], **options: object) -> dict[str, object]:
    """What the CLI would send for ``argv`` in ``repo``."""
    from codeward.cli.options import RunOptions

    req = warm.request(warm.encode_options(RunOptions(**options)), argv, [], False)  # type: ignore[arg-type]
    req["cwd"] = str(repo)
    return req


def server_pids(path: Path) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                cmd = Path(f"/proc/{d}/cmdline").read_bytes()
            except OSError:
                continue
            if b"codeward.cli.sandbox_server" in cmd and os.fsencode(path) in cmd:
                out.append(int(d))
    return out


def start(home: Path, repo: Path) -> Path:
    """Start ``repo``'s server as the CLI does and wait until its socket exists; the socket's path."""
    workdir = str(repo.resolve())
    path = warm.socket_path(home, workdir)
    assert path is not None, "the test's home is too deep for a socket path"
    old = dict(os.environ)
    os.environ["PYTHONPATH"] = str(REPO)
    try:
        warm.start_server(home, workdir, request(repo, ["true"]))
    finally:
        os.environ.clear()
        os.environ.update(old)
    deadline = time.monotonic() + 90
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert path.exists(), "the warm server did not come up"
    return path


def served(request_: pytest.FixtureRequest, repo: Path, home: Path) -> Iterator[tuple[Path, Path]]:
    """A fixture body: ``repo`` with its server running under the parameter's tier."""
    use_tier(home, request_.param)
    path = start(home, repo)
    yield repo, path
    stop(home, repo, path)


def stop(home: Path, repo: Path, path: Path) -> None:
    warm.stop_server(home, str(repo.resolve()))
    for pid in server_pids(path):
        os.kill(pid, signal.SIGKILL)


def ask(repo: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``codeward sandbox ARGS`` in ``repo``, saying whether it was served."""
    return run_cw("sandbox", *args, cwd=repo, env={**DEBUG, **(env or {})})
