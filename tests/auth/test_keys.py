"""The lookup chain (env, keychain, auth.json, key_command) and key_command's failure modes."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest

from codeward.auth import authfile, keys
from codeward.config.model import ProviderConfig
from codeward.errors import ConfigError


def provider(**kw: object) -> ProviderConfig:
    base: dict[str, object] = {"id": "acme", "name": "Acme", "base_url": "https://llm.acme.internal/v1"}
    base.update(kw)
    return ProviderConfig(**base)  # type: ignore[arg-type]


def script(tmp_path: Path, body: str) -> str:
    p = tmp_path / "keycmd.sh"
    p.write_text("#!/bin/sh\n" + textwrap.dedent(body))
    p.chmod(0o755)
    return str(p)


def running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (killed but not yet reaped by its new parent)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_order_env_then_keychain_then_file_then_command(
    memory_keyring, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    cmd = script(tmp_path, "echo sk-from-command-123456\n")
    p = provider(env_key="ACME_KEY", key_command=(cmd,))
    assert keys.resolve_key(p).value == "sk-from-command-123456"
    assert keys.resolve_key(p).source == f"command:{cmd}"
    authfile.store_key("acme", "sk-from-file-1234567")
    assert keys.resolve_key(p).source.startswith("file:")
    memory_keyring.set_password("codeward", "acme", "sk-from-keychain-1234")
    r = keys.resolve_key(p)
    assert (r.value, r.source.split(":")[0]) == ("sk-from-keychain-1234", "keychain")
    monkeypatch.setenv("ACME_KEY", " sk-from-env-12345678\n")
    r = keys.resolve_key(p)
    assert (r.value, r.source) == ("sk-from-env-12345678", "env:ACME_KEY")
    assert "sk-from" not in repr(r)


def test_every_resolved_key_is_remembered_for_scrubbing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_KEY", "sk-remember-me-12345")
    keys.resolve_key(provider(env_key="ACME_KEY"))
    assert "sk-remember-me-12345" in keys.known_secrets()


def test_loose_auth_file_stops_the_lookup_with_the_fix(cw_home: Path) -> None:
    p = authfile.store_key("acme", "sk-from-file-1234567")
    os.chmod(p, 0o644)
    with pytest.raises(ConfigError, match=r"chmod 600"):
        keys.require_key(provider())


def test_no_key_anywhere_says_how_to_add_one() -> None:
    with pytest.raises(ConfigError) as e:
        keys.require_key(provider(env_key="ACME_KEY"))
    assert "$ACME_KEY" in e.value.message and "codeward login --provider acme" in e.value.message
    assert keys.require_key(provider(requires_key=False)).value is None


def test_key_command_failure_reports_exit_code_and_first_error_line(tmp_path: Path) -> None:
    cmd = script(tmp_path, "echo 'vault is sealed' >&2\necho more >&2\nexit 3\n")
    with pytest.raises(ConfigError) as e:
        keys.resolve_key(provider(key_command=(cmd,)))
    assert "exited 3: vault is sealed" in e.value.message
    assert "providers.acme" not in e.value.message or "key_command" in e.value.message


@pytest.mark.parametrize("out", ["", "line1\\nline2"])
def test_key_command_must_print_one_line(tmp_path: Path, out: str) -> None:
    cmd = script(tmp_path, f"printf '{out}'\n")
    with pytest.raises(ConfigError, match="one line"):
        keys.resolve_key(provider(key_command=(cmd,)))


def test_key_command_not_found() -> None:
    with pytest.raises(ConfigError, match="program not found"):
        keys.resolve_key(provider(key_command=("/nonexistent/op", "read")))


def test_slow_key_command_times_out_and_its_whole_tree_is_killed(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    # killing only the shell would leave its child running (and, holding stdout, keep us waiting)
    cmd = script(tmp_path, f"sleep 60 >/dev/null 2>&1 &\necho $! > {pidfile}\nwait\n")
    with pytest.raises(ConfigError) as e:
        keys.resolve_key(provider(key_command=(cmd,), key_command_timeout_ms=300))
    assert "no answer within 0.3s" in e.value.message
    assert "key_command_timeout_ms" in e.value.message
    assert not running(int(pidfile.read_text()))


def test_key_command_gets_no_stdin(tmp_path: Path) -> None:
    # a secret manager that would prompt must not read codeward's own stdin
    cmd = script(tmp_path, "read x && echo got-$x || echo sk-no-stdin-12345\n")
    assert keys.resolve_key(provider(key_command=(cmd,))).value == "sk-no-stdin-12345"


def test_python_key_command(tmp_path: Path) -> None:
    r = keys.resolve_key(provider(key_command=(sys.executable, "-c", "print('sk-py-1234567890')")))
    assert r.value == "sk-py-1234567890" and r.source == f"command:{sys.executable}"
