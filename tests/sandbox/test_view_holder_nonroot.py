"""The view holder as a normal user (uid 1001, cwtest): bubblewrap makes every mount there and the
supervisor only forks, so the same guarantees are checked again from that side.

The driver (``view_holder_driver.py``) runs one session as that user with the system Python; the
test judges, as root, what each command showed, which holder ran it (by pid) and what is alive.
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
from typing import Any

import pytest

pytestmark = pytest.mark.sandbox

USER = 1001  # cwtest
SYSTEM_PYTHON = "/usr/bin/python3"
DRIVER = Path(__file__).with_name("view_holder_driver.py")


def _can_switch_user() -> str | None:
    if os.geteuid() != 0:
        return "needs root to switch to another user"
    if shutil.which("setpriv") is None or not os.access(SYSTEM_PYTHON, os.X_OK):
        return "setpriv or the system Python is missing"
    src = Path(__file__).resolve().parents[2] / "src"
    probe = subprocess.run(
        ["setpriv", f"--reuid={USER}", f"--regid={USER}", "--clear-groups", SYSTEM_PYTHON, "-c", "import tomllib"],
        capture_output=True,
        cwd="/",
    )
    if probe.returncode != 0:
        return f"uid {USER} cannot run {SYSTEM_PYTHON} (3.11+)"
    probe = subprocess.run(["setpriv", f"--reuid={USER}", f"--regid={USER}", "--clear-groups", "ls", str(src)])
    return None if probe.returncode == 0 else f"{src} is not readable by uid {USER}"


@pytest.fixture
def user_ws() -> Iterator[Path]:
    why = _can_switch_user()
    if why:
        pytest.skip(why)
    base = Path(tempfile.mkdtemp(prefix="codeward-holder-", dir="/tmp"))
    try:
        (base / "ws").mkdir()
        (base / "home" / ".codeward").mkdir(parents=True)
        (base / "ws" / "main.py").write_text("print(1)\n")
        for p in [base, *base.rglob("*")]:
            os.chown(p, USER, USER, follow_symlinks=False)
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _session(base: Path, control: str = "") -> dict[str, Any]:
    marker = f"CWMARK-holder-{os.urandom(6).hex()}"
    env_file = base / "ws" / ".env"
    env_file.write_text(marker + "\n")
    os.chown(env_file, USER, USER)
    token = f"cwholdnr{os.getpid()}x{time.monotonic_ns()}"
    cfg = {
        "workspace": str(base / "ws"),
        "home": str(base / "home"),
        "marker": marker,
        "token": token,
        "control": control,
    }
    r = subprocess.run(
        [
            "setpriv",
            f"--reuid={USER}",
            f"--regid={USER}",
            "--clear-groups",
            SYSTEM_PYTHON,
            str(DRIVER),
            json.dumps(cfg),
        ],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(base / "home"), "LANG": "C.UTF-8"},
        cwd=str(base / "ws"),
        timeout=180,
    )
    if r.returncode != 0 and "cannot be enforced" in r.stderr:
        pytest.skip(f"bwrap unavailable for uid {USER}: {r.stderr.strip().splitlines()[-1]}")
    assert r.returncode == 0, r.stderr
    out: dict[str, Any] = json.loads(r.stdout)
    out["marker"] = marker
    return out


def test_holder_as_a_normal_user(user_ws: Path) -> None:
    out = _session(user_ws)
    marker = out["marker"]
    unchanged = out["unchanged"]
    assert unchanged["holder"] is not None and unchanged["holder"] == out["settle3"]["holder"]  # reused
    lines = unchanged["output"].splitlines()
    assert lines[0] == "2" and lines[1] == str(USER)  # its own pid namespace; the user's uid
    assert marker not in unchanged["output"]
    assert "started" in out["background"]["output"]
    assert out["alive_after_background"] == 0
    assert out["mount"]["output"].split() == ["-1", "1"]  # EPERM
    after = out["after_host_save"]
    assert marker not in after["output"] and "rc=1" in after["output"]
    assert after["holder"] != out["mount"]["holder"]  # the host's save rebuilt the view


@pytest.mark.xfail(strict=True, raises=AssertionError, reason="control: a holder reused whatever the view")
def test_control_blind_reuse_leaks_the_saved_file(user_ws: Path) -> None:
    out = _session(user_ws, control="blind")
    assert out["marker"] not in out["after_host_save"]["output"]
