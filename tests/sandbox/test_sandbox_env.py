"""child_env: an allowlist, and a refusal for anything that looks like a key."""

from __future__ import annotations

import pytest

from codeward.errors import ConfigError
from codeward.sandbox import child_env
from codeward.sandbox.env import clean_path

HOST = {
    "PATH": "/usr/bin:.::relative/bin:/bin:/usr/bin",
    "HOME": "/home/u",
    "LANG": "C.UTF-8",
    "LC_ALL": "C",
    "LC_API_TOKEN": "smuggled",
    "TERM": "xterm",
    "USER": "u",
    "SHELL": "/bin/bash",
    "TMPDIR": "/tmp",
    "OPENAI_API_KEY": "sk-secret",
    "AWS_SECRET_ACCESS_KEY": "x",
    "SSH_AUTH_SOCK": "/tmp/agent.sock",
    "LD_PRELOAD": "/tmp/evil.so",
    "BASH_ENV": "/tmp/evil.sh",
    "PYTHONPATH": "/tmp/evil",
    "GIT_DIR": "/tmp/evil",
    "CARGO_HOME": "/opt/cargo",
}


def test_only_the_allowlist_crosses() -> None:
    env = child_env(source=HOST)
    assert set(env) == {"PATH", "HOME", "LANG", "LC_ALL", "TERM", "USER", "SHELL", "TMPDIR"}
    assert env["PATH"] == "/usr/bin:/bin"  # relative and empty entries dropped, duplicates too
    assert "sk-secret" not in env.values()


def test_passthrough_and_overrides() -> None:
    env = child_env(["CARGO_HOME", "NOT_SET"], source=HOST, home="/sandbox/home", tmpdir="/sandbox/tmp")
    assert env["CARGO_HOME"] == "/opt/cargo"
    assert "NOT_SET" not in env
    assert env["HOME"] == "/sandbox/home"
    assert env["TMPDIR"] == "/sandbox/tmp"


@pytest.mark.parametrize(
    "name",
    [
        "OPENAI_API_KEY",
        "GITHUB_TOKEN",
        "AWS_SECRET_ACCESS_KEY",
        "DB_PASSWORD",
        "my_key",
        "SSH_AUTH_SOCK",
        "NPM_AUTH_TOKEN",
    ],
)
def test_credential_names_are_refused(name: str) -> None:
    with pytest.raises(ConfigError, match=rf"env_passthrough: {name} is refused"):
        child_env([name], source=HOST)


def test_configured_provider_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="provider's API key"):
        child_env(["CORP_LLM"], source={"CORP_LLM": "x"}, extra_keys={"CORP_LLM"})


def test_malformed_names_are_refused() -> None:
    for bad in ("", "A-B", "1X", "A=B"):
        with pytest.raises(ConfigError, match="is not an environment variable name"):
            child_env([bad], source=HOST)


def test_clean_path_default() -> None:
    assert clean_path(None) == "/usr/local/bin:/usr/bin:/bin"
    assert clean_path(".:bin") == "/usr/local/bin:/usr/bin:/bin"
