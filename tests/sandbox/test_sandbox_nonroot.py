"""The same confinement for an unprivileged user (the suite above runs as whatever user runs pytest).

Root is special to the kernel (RLIMIT_NPROC is ignored for it, /proc access checks differ), so a
few attempts are repeated as ``nobody`` through ``setpriv``, with the system Python, and judged
from here: files unchanged, the sentinel (also ``nobody``) alive, the process limit enforced.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.sandbox

NOBODY = 65534
SYSTEM_PYTHON = "/usr/bin/python3"
DRIVER = Path(__file__).with_name("nonroot_driver.py")


def _can_switch_user() -> str | None:
    if os.geteuid() != 0:
        return "needs root to switch to nobody"
    if shutil.which("setpriv") is None:
        return "setpriv (util-linux) not installed"
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        return f"{SYSTEM_PYTHON} not installed"
    probe = subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", SYSTEM_PYTHON, "-c", "import tomllib"],
        capture_output=True,
    )
    if probe.returncode != 0:
        return f"{SYSTEM_PYTHON} cannot run as nobody or is older than 3.11"
    src = Path(__file__).resolve().parents[2] / "src"
    probe = subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "ls", str(src)], capture_output=True
    )
    if probe.returncode != 0:
        return f"{src} is not readable by nobody"
    return None


@pytest.fixture
def nobody_dirs() -> Iterator[dict[str, Path]]:
    why = _can_switch_user()
    if why:
        pytest.skip(why)
    base = Path(tempfile.mkdtemp(prefix="codeward-nonroot-", dir="/tmp"))
    outside = Path(
        tempfile.mkdtemp(prefix="codeward-nonroot-out-", dir="/opt" if os.access("/opt", os.W_OK) else "/var/tmp")
    )
    dirs = {"base": base, "ws": base / "ws", "home": base / "home", "outside": outside}
    try:
        dirs["ws"].mkdir()
        (dirs["ws"] / "AGENTS.md").write_text("rules\n")
        (dirs["ws"] / "config").mkdir()
        (dirs["ws"] / "config" / "production.yml").write_text("NOBODYPROD-marker\n")
        (dirs["home"] / ".ssh").mkdir(parents=True)
        (dirs["home"] / ".ssh" / "id_rsa").write_text("NOBODYKEY-marker\n")
        (dirs["home"] / ".codeward").mkdir()
        (dirs["home"] / ".codeward" / "auth.json").write_text("NOBODYAUTH-marker\n")
        (outside / "victim.txt").write_text("original\n")
        for d in (base, outside):
            for p in [d, *d.rglob("*")]:
                os.chown(p, NOBODY, NOBODY)
        yield dirs
    finally:
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(outside, ignore_errors=True)


@pytest.mark.parametrize("tier", ["bwrap", "landlock"])
def test_unprivileged_user(tier: str, nobody_dirs: dict[str, Path]) -> None:
    as_nobody = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(nobody_dirs["home"]),
        "CODEWARD_HOME": str(nobody_dirs["home"] / ".codeward"),
        "LANG": "C.UTF-8",
    }
    sentinel = subprocess.Popen(
        [*as_nobody, "env", "SENTINEL_KEY=sk-nobody-sentinel-key", "sleep", "60"],
        env=env,
        stdin=subprocess.DEVNULL,
    )
    time.sleep(0.2)
    try:
        cfg = {
            "tier": tier,
            "workspace": str(nobody_dirs["ws"]),
            "home": str(nobody_dirs["home"]),
            "outside": str(nobody_dirs["outside"]),
            "sentinel": sentinel.pid,
            "max_processes": 16,
        }
        r = subprocess.run(
            [*as_nobody, SYSTEM_PYTHON, str(DRIVER), json.dumps(cfg)],
            capture_output=True,
            text=True,
            env=env,
            timeout=240,
        )
        if r.returncode != 0 and "cannot be enforced" in r.stderr:
            pytest.skip(f"{tier} unavailable for nobody: {r.stderr.strip().splitlines()[-1]}")
        assert r.returncode == 0, r.stderr
        res = json.loads(r.stdout)
        assert res["whoami"]["output"].strip() == str(NOBODY)
        assert all(v["tier"] == tier for v in res.values())
        forked = [line for line in res["forks"]["output"].splitlines() if line.startswith("forked")]
        n = int(forked[0].split()[1])
        assert n < 16, res["forks"]["output"]  # RLIMIT_NPROC holds for a non-root user
        assert "fork failed 11" in res["forks"]["output"]  # EAGAIN
        assert (nobody_dirs["outside"] / "victim.txt").read_text() == "original\n"
        assert (nobody_dirs["ws"] / "AGENTS.md").read_text() == "rules\n"
        assert "NOBODYKEY-marker" not in res["ssh"]["output"]
        assert "NOBODYAUTH-marker" not in res["auth"]["output"]
        assert "sk-nobody-sentinel-key" not in res["environ"]["output"]
        assert sentinel.poll() is None
        if tier == "bwrap":  # the Landlock tier's rules are its own (another worktree)
            assert "NOBODYPROD-marker" not in res["chmod_read"]["output"], res
            assert "NOBODYPROD-marker" in res["chmod_control"]["output"], res  # the attack works without it
    finally:
        sentinel.kill()
        sentinel.wait()
