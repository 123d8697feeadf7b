"""The sealing state, the index and the logs are out of reach of sandboxed commands, in both tiers.

Judged from the host: the key's bytes never appear in what a command printed, and the files are
unchanged after a command tried to overwrite them. The control runs the same reads unconfined.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.support.cw_subprocess import run_cw

from codeward.audit.keys import read_state, state_path

pytestmark = pytest.mark.sandbox


def sandboxed(tier: str, repo: Path, script: str, *extra: str) -> tuple[int, str]:
    r = run_cw("sandbox", "-C", str(repo), "-c", f"sandbox.tier={tier}", *extra, "--", script, cwd=repo)
    if r.returncode == 125:
        pytest.skip(f"the {tier} tier cannot run on this machine: {r.stderr.strip()[:200]}")
    return r.returncode, r.stdout + r.stderr


@pytest.mark.parametrize("tier", ["bwrap", "landlock"])
def test_commands_cannot_read_or_roll_back_the_sealing_state(tier: str, git_repo: Path, cw_home: Path) -> None:
    assert run_cw("logs", "setup-keys").returncode == 0
    state = state_path(cw_home)
    before = state.read_bytes()
    key_hex = read_state(cw_home).key.hex()
    _, out = sandboxed(tier, git_repo, f"cat {state}; base64 {state}; xxd {state}; ls -la {cw_home}")
    assert key_hex not in out and before.decode().strip()[:40] not in out
    _, out = sandboxed(tier, git_repo, f"echo forged > {state}; rm -f {state}; mv {state} {git_repo}/s")
    assert state.read_bytes() == before and not (git_repo / "s").exists()


def test_control_unconfined_read_shows_the_key(git_repo: Path, cw_home: Path) -> None:
    """Control: without the sandbox the same command prints the key (so the test above can fail)."""
    import subprocess

    assert run_cw("logs", "setup-keys").returncode == 0
    out = subprocess.run(["cat", str(state_path(cw_home))], capture_output=True, text=True).stdout
    assert read_state(cw_home).key.hex() in out
