"""login / logout / auth status as a user runs them: a real codeward process, a real (test) keychain
or none at all."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest
from tests.support.cw_subprocess import run_cw

KEY = "sk-login-test-5f2b9c1d7e3a"
FILE_KEYRING = "tests.support.keyring_backend.FileKeyring"


@pytest.fixture
def with_keychain(tmp_path: Path) -> dict[str, str]:
    """Environment for a codeward process whose keychain is a JSON file this test can read."""
    return {"PYTHON_KEYRING_BACKEND": FILE_KEYRING, "CODEWARD_TEST_KEYRING": str(tmp_path / "keychain.json")}


def keychain_contents(env: dict[str, str]) -> dict[str, str]:
    p = Path(env["CODEWARD_TEST_KEYRING"])
    return json.loads(p.read_text()) if p.exists() else {}


def write_config(home: Path, text: str) -> None:
    (home / "config.toml").write_text(text)


def test_login_without_a_keychain_falls_back_to_a_0600_file_and_says_so(cw_home: Path) -> None:
    r = run_cw("login", "--with-api-key", input=KEY + "\n")
    assert r.returncode == 0, r.stderr
    assert "No usable system keychain" in r.stdout and "(mode 0600)" in r.stdout
    assert "keyring.backends.fail.Keyring" in r.stdout
    auth = cw_home / "auth.json"
    assert stat.S_IMODE(auth.stat().st_mode) == 0o600
    assert json.loads(auth.read_text())["keys"] == {"openai": KEY}
    assert KEY not in r.stdout + r.stderr

    st = run_cw("auth", "status")
    assert st.returncode == 0
    line = next(ln for ln in st.stdout.splitlines() if ln.lstrip("* ").startswith("openai"))
    assert "file" in line and str(auth) in line
    assert KEY not in st.stdout + st.stderr


def test_login_reads_piped_stdin_without_the_flag(cw_home: Path) -> None:
    r = run_cw("login", "--provider", "ollama", input=KEY)
    assert r.returncode == 0, r.stderr
    assert "needing no key" in r.stdout
    assert json.loads((cw_home / "auth.json").read_text())["keys"] == {"ollama": KEY}


def test_login_keeps_other_providers_keys(cw_home: Path) -> None:
    write_config(cw_home, '[providers.acme]\nbaseURL = "https://llm.acme.internal/v1"\n')
    assert run_cw("login", input="sk-openai-111111111").returncode == 0
    assert run_cw("login", "--provider", "acme", input="sk-acme-2222222222").returncode == 0
    keys = json.loads((cw_home / "auth.json").read_text())["keys"]
    assert keys == {"openai": "sk-openai-111111111", "acme": "sk-acme-2222222222"}


def test_login_stores_into_the_keychain_when_there_is_one(cw_home: Path, with_keychain: dict[str, str]) -> None:
    r = run_cw("login", "--with-api-key", input=KEY, env=with_keychain)
    assert r.returncode == 0, r.stderr
    assert "in the system keychain (tests.support.keyring_backend.FileKeyring)" in r.stdout
    assert keychain_contents(with_keychain) == {"codeward/openai": KEY}
    assert not (cw_home / "auth.json").exists()

    st = run_cw("auth", "status", "--json", env=with_keychain)
    data = json.loads(st.stdout)
    assert data["keychain"]["usable"] is True
    openai = next(p for p in data["providers"] if p["provider"] == "openai")
    assert openai["source"] == "keychain"
    assert KEY not in st.stdout

    out = run_cw("logout", env=with_keychain)
    assert out.returncode == 0 and "system keychain" in out.stdout
    assert keychain_contents(with_keychain) == {}
    st = json.loads(run_cw("auth", "status", "--json", "--provider", "openai", env=with_keychain).stdout)
    assert st["providers"][0]["source"] == "none"


def test_login_to_the_keychain_removes_an_older_file_copy(cw_home: Path, with_keychain: dict[str, str]) -> None:
    assert run_cw("login", input="sk-old-in-file-1234").returncode == 0  # no keychain yet: file
    r = run_cw("login", input=KEY, env=with_keychain)
    assert "removed the older copy" in r.stdout
    assert not (cw_home / "auth.json").exists()
    assert keychain_contents(with_keychain) == {"codeward/openai": KEY}


def test_logout_removes_the_key_from_every_store(cw_home: Path, with_keychain: dict[str, str]) -> None:
    assert run_cw("login", input="sk-in-file-12345678").returncode == 0
    Path(with_keychain["CODEWARD_TEST_KEYRING"]).write_text(json.dumps({"codeward/openai": KEY}))
    r = run_cw("logout", env=with_keychain)
    assert r.returncode == 0
    assert "system keychain" in r.stdout and "auth.json" in r.stdout
    assert keychain_contents(with_keychain) == {} and not (cw_home / "auth.json").exists()
    again = run_cw("logout", env=with_keychain)
    assert again.returncode == 0 and "No stored key" in again.stdout


def test_a_key_on_the_command_line_is_refused_without_echoing_it() -> None:
    r = run_cw("login", KEY)
    assert r.returncode == 2
    assert "takes no key on the command line" in r.stderr
    assert KEY not in r.stdout + r.stderr


@pytest.mark.parametrize(
    ("stdin", "message"),
    [("", "no key given"), ("a\nb\n", "one line"), ("sk with space", "spaces or control")],
)
def test_bad_key_input_is_a_usage_error(stdin: str, message: str, cw_home: Path) -> None:
    r = run_cw("login", "--with-api-key", input=stdin)
    assert r.returncode == 2 and message in r.stderr
    assert not (cw_home / "auth.json").exists()


def test_unknown_provider_is_a_usage_error() -> None:
    for args in (
        ["login", "--provider", "nope"],
        ["logout", "--provider", "nope"],
        ["auth", "status", "--provider", "nope"],
    ):
        r = run_cw(*args, input=KEY)
        assert r.returncode == 2 and "no such provider" in r.stderr, args


def test_loose_auth_file_is_refused_by_status_login_and_exec(cw_home: Path, git_repo: Path) -> None:
    assert run_cw("login", input=KEY).returncode == 0
    auth = cw_home / "auth.json"
    os.chmod(auth, 0o644)

    st = run_cw("auth", "status")
    assert st.returncode == 1
    assert f"chmod 600 {auth}" in st.stderr and "REFUSED" in st.stdout
    assert KEY not in st.stdout + st.stderr

    again = run_cw("login", "--provider", "ollama", input="sk-other-123456789")
    assert again.returncode == 2 and f"chmod 600 {auth}" in again.stderr

    ex = run_cw("exec", "-a", "full-auto", "hello", cwd=git_repo)
    assert ex.returncode == 2
    assert f"chmod 600 {auth}" in ex.stderr
    assert KEY not in ex.stdout + ex.stderr
    logs = cw_home / "logs"
    assert not logs.exists() or not list(logs.rglob("*.jsonl"))  # a refused run leaves no log behind


def test_status_names_env_and_command_sources_without_running_the_command(cw_home: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    write_config(
        cw_home,
        "[providers.vault]\n"
        'baseURL = "https://llm.example.com/v1"\n'
        f"key_command = [\"{sys.executable}\", \"-c\", \"open('{marker}', 'w'); print('k')\"]\n"
        "[providers.envy]\n"
        'baseURL = "https://llm.example.com/v1"\n'
        'envKey = "ENVY_KEY"\n',
    )
    r = run_cw("auth", "status", "--json", env={"ENVY_KEY": KEY})
    data = {p["provider"]: p for p in json.loads(r.stdout)["providers"]}
    assert data["vault"]["source"] == "command"
    assert data["envy"]["source"] == "env" and data["envy"]["detail"] == "$ENVY_KEY"
    assert data["ollama"]["source"] == "none" and data["ollama"]["requires_key"] is False
    assert not marker.exists()
    assert KEY not in r.stdout


def test_hidden_prompt_in_a_terminal(cw_home: Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    child = pexpect.spawn(sys.executable, ["-m", "codeward", "login"], env=env, encoding="utf-8", timeout=30)
    child.expect("input hidden")
    child.sendline(KEY)
    child.expect(pexpect.EOF)
    child.close()
    transcript = child.before or ""
    assert child.exitstatus == 0, transcript
    assert KEY not in transcript  # not echoed
    assert json.loads((cw_home / "auth.json").read_text())["keys"] == {"openai": KEY}
