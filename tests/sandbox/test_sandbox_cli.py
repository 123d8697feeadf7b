"""``codeward sandbox`` end to end: exit code passthrough, streaming, notes, flags, and the 125 refusal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from codeward.cli import main
from codeward.sandbox import tiers

pytestmark = pytest.mark.sandbox


def cw(*args: str, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codeward", *args], capture_output=True, text=True, cwd=cwd, timeout=timeout
    )


@pytest.fixture
def tier_available() -> None:
    from codeward.errors import SandboxUnavailable

    try:
        tiers.select_sandbox()
    except SandboxUnavailable as e:
        pytest.skip(f"no sandbox tier here: {e}")


@pytest.mark.usefixtures("tier_available")
def test_exit_code_and_output_pass_through(git_repo: Path) -> None:
    r = cw("sandbox", "-C", str(git_repo), "--", "echo out; echo err >&2; exit 7")
    assert r.returncode == 7
    assert r.stdout == "out\nerr\n"
    r = cw("sandbox", "-C", str(git_repo), "--", "sh", "-c", 'echo "$0 $1"; exit 3', "a b", "c")
    assert r.returncode == 3 and r.stdout == "a b c\n"


@pytest.mark.usefixtures("tier_available")
def test_runs_in_the_repository_of_the_directory(git_repo: Path) -> None:
    sub = git_repo / "pkg"
    sub.mkdir()
    r = cw("sandbox", "--", "pwd; echo x > ../at-root.txt", cwd=sub)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(sub)
    assert (git_repo / "at-root.txt").read_text() == "x\n"


@pytest.mark.usefixtures("tier_available")
def test_notes_go_to_stderr_and_timeout_is_124(git_repo: Path) -> None:
    (git_repo / ".env").write_text("TOKEN=1\n")
    r = cw("sandbox", "-C", str(git_repo), "--", "cat .env")
    assert r.returncode == 1
    assert "TOKEN" not in r.stdout
    assert "codeward: sandbox: .env is hidden from commands" in r.stderr
    r = cw("sandbox", "-C", str(git_repo), "-c", "sandbox.timeout_ms=300", "--", "sleep 20")
    assert r.returncode == 124
    assert "timed out after 0.3 s" in r.stderr


@pytest.mark.usefixtures("tier_available")
def test_writable_and_network_flags(git_repo: Path, tmp_path: Path) -> None:
    extra = tmp_path / "cache"
    extra.mkdir()
    r = cw("sandbox", "-C", str(git_repo), "--", f"echo hi > {extra}/f")
    assert r.returncode != 0 and not (extra / "f").exists()
    r = cw("sandbox", "-C", str(git_repo), "--writable", str(extra), "--", f"echo hi > {extra}/f")
    assert r.returncode == 0, r.stderr
    assert (extra / "f").read_text() == "hi\n"
    probe = "python3 -c 'import socket; socket.socket(socket.AF_INET); print(\"inet ok\")'"
    assert cw("sandbox", "-C", str(git_repo), "--", probe).returncode != 0
    r = cw("sandbox", "-C", str(git_repo), "--allow-network", "--", probe)
    assert r.returncode == 0 and r.stdout == "inet ok\n"


def test_bad_input_is_one_line(git_repo: Path, cw_home: Path) -> None:
    r = cw("sandbox", "-C", str(git_repo), "--writable", "/nonexistent-dir", "--", "true")
    assert r.returncode == 2 and "no such directory" in r.stderr and "Traceback" not in r.stderr
    (cw_home / "config.toml").write_text('[sandbox]\nenv_passthrough = ["OPENAI_API_KEY"]\n')
    r = cw("sandbox", "-C", str(git_repo), "--", "true")
    assert r.returncode == 2
    assert r.stderr.startswith("codeward: ") and "OPENAI_API_KEY is refused" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


class NothingHere:
    def bwrap(self) -> tiers.Probe:
        return tiers.Probe(False, "bwrap not found")

    def landlock(self) -> tiers.Probe:
        return tiers.Probe(False, "Landlock not supported by this kernel")

    def seatbelt(self) -> tiers.Probe:
        return tiers.Probe(False, "Seatbelt exists only on macOS")


def test_no_tier_exits_125_with_the_reason(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(tiers, "default_prober", NothingHere)
    marker = git_repo / "ran"
    assert main(["sandbox", "-C", str(git_repo), "--", f"touch {marker}"]) == 125
    err = capsys.readouterr().err
    assert "no sandbox can be enforced here" in err and "bwrap not found" in err
    assert not marker.exists()


def test_dangerous_flag_runs_unconfined_with_a_warning(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(tiers, "default_prober", NothingHere)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-pass")
    rc = main(["sandbox", "-C", str(git_repo), "--dangerously-allow-unsandboxed", "--", "env; exit 5"])
    out = capsys.readouterr()
    assert rc == 5
    assert "WARNING: no sandbox can be enforced here" in out.err
    assert "sk-should-not-pass" not in out.out and "PATH=" in out.out


def test_forced_landlock_tier_from_config(git_repo: Path) -> None:
    from codeward.errors import SandboxUnavailable

    try:
        tiers.select_sandbox("landlock")
    except SandboxUnavailable as e:
        pytest.skip(f"Landlock unavailable: {e}")
    # under bwrap /root is an empty private dir; under Landlock it is simply not granted
    r = cw("sandbox", "-C", str(git_repo), "-c", 'sandbox.tier="landlock"', "--", "ls /root")
    assert r.returncode != 0
    assert "Permission denied" in r.stdout
    assert "sandbox (landlock)" in r.stderr


@pytest.mark.usefixtures("tier_available")
def test_a_copy_of_a_known_value_in_an_unknown_form_is_redacted_too(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``notes.txt`` holds the ``.env`` value after a word no rule knows; only the sweep of known values
    marks it. The CLI waits for that sweep like the agent's shell tool (one function serves both)."""
    aws = "Hs8Dk2Lq9Wz4Xc7Vb1Nm5Tr3Yp6Gf0Ju2Ei8Oa4"
    (git_repo / "app.env").write_text(f"AWS_SECRET_ACCESS_KEY={aws}\n")
    (git_repo / "notes.txt").write_text(f"see {aws} above\n")
    r = cw("sandbox", "-C", str(git_repo), "--", "cat notes.txt")
    assert r.returncode == 0, r.stderr
    assert aws not in r.stdout and "see <secret:" in r.stdout
