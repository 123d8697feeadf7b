"""codeward's prompt and options do not show in ``/proc/PID/cmdline`` (``ps``), where other users
and, under the Landlock tier, sandboxed commands could read them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

MARKER = "ghp_Cmd4Ln8Qx2Wz6Rt1Yc5Vd3Hf7Js0Ga2Eu6Pq"

CHILD = """
import sys, time
from codeward.cli.cmdline import hide_arguments
if sys.argv[1] == "hide":
    hide_arguments()
print("ready", flush=True)
time.sleep(30)
"""


def _cmdline_of(hide: bool) -> bytes:
    p = subprocess.Popen(
        [sys.executable, "-c", CHILD, "hide" if hide else "keep", "exec", "--json", f"deploy with {MARKER}"],
        stdout=subprocess.PIPE,
    )
    try:
        assert p.stdout is not None and p.stdout.readline() == b"ready\n"
        return Path(f"/proc/{p.pid}/cmdline").read_bytes()
    finally:
        p.kill()
        p.wait()


def test_the_prompt_is_not_in_the_process_command_line() -> None:
    seen = _cmdline_of(hide=True)
    assert MARKER.encode() not in seen
    assert b"[arguments hidden]" in seen and seen.startswith(os.fsencode(sys.executable))


def test_control_without_hiding_the_prompt_is_there() -> None:
    assert MARKER.encode() in _cmdline_of(hide=False)


def test_the_real_cli_hides_its_arguments(tmp_path: Path) -> None:
    """The console entry point itself: a session waiting on its prompt shows no argument."""
    env = {**os.environ, "CODEWARD_HOME": str(tmp_path / "home")}
    named = tmp_path / MARKER  # the marker travels in an option's value; redact then waits on stdin
    named.mkdir()
    p = subprocess.Popen(
        [sys.executable, "-m", "codeward", "-C", str(named), "redact", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        deadline = time.monotonic() + 10
        seen = b""
        while time.monotonic() < deadline and p.poll() is None:
            seen = Path(f"/proc/{p.pid}/cmdline").read_bytes()
            if b"[arguments hidden]" in seen:
                break
            time.sleep(0.02)
        assert p.poll() is None, p.stderr.read() if p.stderr else ""  # still waiting: the check saw it live
        assert MARKER.encode() not in seen and b"[arguments hidden]" in seen
    finally:
        p.kill()
        p.wait()
