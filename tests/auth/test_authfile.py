"""auth.json: written 0600 atomically, other providers' keys kept, refused when others can read it."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from codeward.auth import authfile
from codeward.errors import ConfigError


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_store_creates_a_0600_file_and_keeps_other_providers(cw_home: Path) -> None:
    os.umask(0o022)
    p = authfile.store_key("openai", "sk-one-1234567890")
    assert p == cw_home / "auth.json"
    assert mode(p) == 0o600
    authfile.store_key("fake", "sk-two-1234567890")
    assert authfile.read_keys() == {"openai": "sk-one-1234567890", "fake": "sk-two-1234567890"}
    assert json.loads(p.read_text())["version"] == 1
    assert [f.name for f in cw_home.iterdir()] == ["auth.json"]  # no temp file left behind


def test_home_created_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "new-home"
    monkeypatch.setenv("CODEWARD_HOME", str(home))
    authfile.store_key("openai", "sk-one-1234567890")
    assert mode(home) == 0o700


@pytest.mark.parametrize("loose", [0o644, 0o640, 0o604, 0o660])
def test_loose_permissions_are_refused_with_the_chmod(cw_home: Path, loose: int) -> None:
    p = authfile.store_key("openai", "sk-one-1234567890")
    os.chmod(p, loose)
    with pytest.raises(ConfigError) as e:
        authfile.read_keys()
    assert f"chmod 600 {p}" in e.value.message
    assert f"{loose:03o}" in e.value.message
    assert "sk-one" not in e.value.message
    with pytest.raises(ConfigError):  # nor is a new key merged into it
        authfile.store_key("fake", "sk-two-1234567890")
    state = authfile.inspect()
    assert state.problem is not None and state.fix == f"chmod 600 {p}"


def test_flat_form_is_read(cw_home: Path) -> None:
    p = cw_home / "auth.json"
    p.write_text('{"fake": "x-key-12345678"}')
    os.chmod(p, 0o600)
    assert authfile.read_keys() == {"fake": "x-key-12345678"}
    assert authfile.inspect().providers == ("fake",)


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"keys": {"a": 1}}', '{"keys": "x"}'])
def test_broken_files_name_the_file(cw_home: Path, text: str) -> None:
    p = cw_home / "auth.json"
    p.write_text(text)
    os.chmod(p, 0o600)
    with pytest.raises(ConfigError, match=str(p)):
        authfile.read_keys()
    assert authfile.inspect().fix == f"remove {p} and run codeward login"


def test_remove_key_even_from_a_loose_file_and_drop_the_empty_file(cw_home: Path) -> None:
    authfile.store_key("openai", "sk-one-1234567890")
    p = authfile.store_key("fake", "sk-two-1234567890")
    os.chmod(p, 0o644)
    assert authfile.remove_key("openai") is True
    assert mode(p) == 0o600  # rewritten through the 0600 path
    assert authfile.read_keys() == {"fake": "sk-two-1234567890"}
    assert authfile.remove_key("openai") is False
    assert authfile.remove_key("fake") is True
    assert not p.exists()
