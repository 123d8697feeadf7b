"""The macOS profile: golden text for a fixed spec (it cannot run here), and its quoting."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from codeward.sandbox import SandboxSpec
from codeward.sandbox.seatbelt import build_profile, sbpl_string

GOLDEN = Path(__file__).with_name("golden") / "seatbelt_profile.sb"


def _profile(*, network: bool = False, proxy_port: int | None = 49152) -> str:
    spec = SandboxSpec(
        workspace=Path("/Users/ann/src/app"),
        cwd=Path("/Users/ann/src/app"),
        writable=(Path("/Users/ann/.cache/pip"),),
        network=network,
        allowed_domains=("pypi.org",),
    )
    return build_profile(
        spec,
        private_tmp=Path("/private/var/folders/xy/T/codeward-sbx-1"),
        homes=[Path("/Users/ann")],
        toolchains=[Path("/Users/ann/.pyenv")],
        hidden=[Path("/Users/ann/src/app/.env"), Path("/Users/ann/.codeward")],
        protected=[Path("/Users/ann/src/app/.git"), Path("/Users/ann/src/app/AGENTS.md")],
        proxy_port=proxy_port,
    )


def test_profile_matches_golden() -> None:
    text = _profile()
    if os.environ.get("CODEWARD_UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


def test_rule_order_makes_denies_win() -> None:
    """SBPL: the last matching rule wins, so each deny must follow the allow it narrows."""
    text = _profile()
    assert text.index("(allow file-read*)") < text.index('(deny file-read*\n  (literal "/Users/ann")')
    assert text.index("(allow file-read* file-write*") < text.index("(deny file-write*")
    assert text.index("(deny file-write*") < text.index("(deny file-read* file-write*")
    assert text.rstrip().endswith('(allow network-outbound (remote ip "localhost:49152"))')
    assert "(allow network*)" not in text


def test_network_on_and_off() -> None:
    assert "(allow network*)" in _profile(network=True)
    off = _profile(proxy_port=None)
    assert "network-outbound" not in off and "(allow network" not in off


def test_quoting() -> None:
    assert sbpl_string('a"b\\c') == '"a\\"b\\\\c"'


def test_run_path_with_a_recording_sandbox_exec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sandbox-exec itself exists only on macOS; a stand-in records the profile and runs the rest."""
    from codeward.sandbox import seatbelt

    mp = monkeypatch
    record = tmp_path / "profile.sb"
    fake = tmp_path / "sandbox-exec"
    fake.write_text(f'#!/bin/sh\n[ "$1" = "-p" ] || exit 99\nprintf "%s" "$2" > {record}\nshift 2\nexec "$@"\n')
    fake.chmod(0o755)
    mp.setattr(seatbelt, "SANDBOX_EXEC", str(fake))
    ws = tmp_path / "ws"
    ws.mkdir()
    spec = SandboxSpec(workspace=ws, cwd=ws, masked=(ws / ".env",), timeout_s=20)
    (ws / ".env").write_text("x")
    r = seatbelt.SeatbeltSandbox().run(["sh", "-c", "echo in; exit 4"], spec)
    assert r.tier == "seatbelt" and r.exit_code == 4 and r.output == "in\n"
    profile = record.read_text()
    assert f'(subpath "{ws}")' in profile
    assert f'(literal "{ws}/.env")' in profile
