"""Each doctor check as a pure function of a hand-made context."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from codeward.auth.authfile import FileState
from codeward.auth.keychain import Backend
from codeward.auth.login import KeyStatus
from codeward.config.model import AuditConfig, Config, PolicyEntry, ProviderConfig, SandboxConfig
from codeward.doctor import checks as c
from codeward.doctor.model import CheckResult, CredentialFile, DoctorContext, PathPerm, SandboxTier, TrackedSecret

OPENAI = ProviderConfig("openai", "OpenAI", "https://api.openai.com/v1", env_key="OPENAI_API_KEY", wire_api="responses")


def cfg(**kw: object) -> Config:
    base = Config(providers={"openai": OPENAI})
    return replace(base, **kw)  # type: ignore[arg-type]


def ctx(**kw: object) -> DoctorContext:
    base = DoctorContext(config=cfg(), config_error=None, root=Path("/w"), home=Path("/h"), env={})
    return replace(base, **kw)  # type: ignore[arg-type]


def with_provider(url: str, wire: str = "chat", **extra: ProviderConfig) -> Config:
    p = ProviderConfig("corp", "Corp", url, wire_api=wire)
    return cfg(provider="corp", providers={"corp": p, "openai": OPENAI, **extra})


def test_results_are_well_formed() -> None:
    with pytest.raises(ValueError):
        CheckResult("x", "ok", "d")
    assert CheckResult("x", "pass", "d", "ignored fix").fix is None
    results = c.run_checks(ctx())
    assert len(results) == len(c.CHECKS) >= 8
    assert len({r.check for r in results}) == len(results)
    assert all(set(r.to_json()) == {"check", "status", "detail", "fix"} for r in results)


@pytest.mark.parametrize(("mode", "status"), [("suggest", "pass"), ("auto-edit", "pass"), ("full-auto", "warn")])
def test_approval_mode(mode: str, status: str) -> None:
    assert c.check_approval_mode(ctx(config=cfg(approval_mode=mode))).status == status


def test_ignore_file() -> None:
    env_file = CredentialFile(".env", "credentials", "built-in rule '.env'")
    sa = CredentialFile("gcp/service-account.json", "credentials", None)
    db = CredentialFile("app.sqlite3", "databases", None)
    r = c.check_ignore_file(ctx(credential_files=(env_file, sa)))
    assert r.status == "fail" and "gcp/service-account.json" in r.detail and "codeward init" in (r.fix or "")
    r = c.check_ignore_file(ctx(credential_files=(env_file,)))
    assert r.status == "warn" and "no .codewardignore" in r.detail
    r = c.check_ignore_file(ctx(ignore_files=(".codewardignore",), credential_files=(env_file, db)))
    assert r.status == "warn" and "app.sqlite3" in r.detail
    r = c.check_ignore_file(ctx(ignore_files=(".codexignore",), credential_files=(env_file,)))
    assert r.status == "pass" and "1 credential file present, all hidden" in r.detail


def test_tracked_secrets() -> None:
    assert c.check_tracked_secrets(ctx(in_git=False)).status == "pass"
    assert c.check_tracked_secrets(ctx(in_git=True, tracked_error="git is not installed")).status == "warn"
    t = (
        TrackedSecret(".env", ("a credential file by name",)),
        TrackedSecret("src/my file.py", ("github-pat on line 3",)),
    )
    r = c.check_tracked_secrets(ctx(in_git=True, tracked=t))
    assert r.status == "fail" and ".env" in r.detail and "github-pat on line 3" in r.detail
    assert r.fix is not None and r.fix.startswith("git rm --cached .env 'src/my file.py'") and "rotate" in r.fix
    r = c.check_tracked_secrets(ctx(in_git=True, tracked_scanned=12, tracked_skipped=2))
    assert r.status == "pass" and "12 tracked files" in r.detail


def test_auth_file() -> None:
    assert c.check_auth_file(ctx(auth_file=FileState(Path("/h/auth.json"), False))).status == "pass"
    bad = FileState(Path("/h/auth.json"), True, 0o644, problem="readable by others", fix="chmod 600 /h/auth.json")
    r = c.check_auth_file(ctx(auth_file=bad))
    assert (r.status, r.fix) == ("fail", "chmod 600 /h/auth.json")
    ok = FileState(Path("/h/auth.json"), True, 0o600, ("openai",))
    assert c.check_auth_file(ctx(auth_file=ok)).status == "pass"


@pytest.mark.parametrize(
    ("key", "usable", "status"),
    [
        (KeyStatus("openai", "keychain", "system keychain (x)"), True, "pass"),
        (KeyStatus("openai", "env", "$OPENAI_API_KEY"), True, "pass"),
        (KeyStatus("openai", "command", "key_command (op)"), True, "pass"),
        (KeyStatus("openai", "file", "/h/auth.json"), True, "warn"),
        (KeyStatus("openai", "file", "/h/auth.json"), False, "warn"),
        (KeyStatus("openai", "none", "no key"), True, "warn"),
        (KeyStatus("ollama", "none", "no key needed", requires_key=False), True, "pass"),
    ],
)
def test_key_source(key: KeyStatus, usable: bool, status: str) -> None:
    r = c.check_key_source(ctx(key=key, keychain=Backend("b", usable, "" if usable else "headless")))
    assert r.status == status
    if key.source == "file":
        assert ("codeward login" in (r.fix or "")) == usable


def test_sandbox() -> None:
    bw = SandboxTier("bwrap", True, "bubblewrap 0.8")
    ll = SandboxTier("landlock", True, "ABI 4", ("a process may write inside a frozen directory",))
    no_bw = SandboxTier("bwrap", False, "user namespaces disabled")
    assert c.check_sandbox(ctx(sandbox=(bw, ll))).status == "pass"
    r = c.check_sandbox(ctx(sandbox=(no_bw, ll)))
    assert r.status == "warn" and "frozen directory" in r.detail and "user namespaces disabled" in r.detail
    assert r.fix is not None and r.fix.startswith("install bubblewrap")
    r = c.check_sandbox(ctx(sandbox=(no_bw, replace(ll, available=False, reason="kernel too old"))))
    assert r.status == "fail" and "commands will be refused" in r.detail and "kernel too old" in r.detail
    # installed but refused: the fix for that cause, not "install bubblewrap"
    refused = replace(no_bw, fix="sudo sysctl -w user.max_user_namespaces=15000")
    r = c.check_sandbox(ctx(sandbox=(refused, replace(ll, available=False))))
    assert r.status == "fail" and r.fix == "sudo sysctl -w user.max_user_namespaces=15000"
    r = c.check_sandbox(ctx(sandbox=(refused, ll)))
    assert r.status == "warn" and r.fix is not None and r.fix.startswith("sudo sysctl -w user.max_user_namespaces")
    r = c.check_sandbox(ctx(sandbox=(bw,), config=cfg(sandbox=SandboxConfig(unsafe_allow_unsandboxed=True))))
    assert r.status == "fail"
    assert c.check_sandbox(ctx(sandbox=(bw,), config=cfg(sandbox=SandboxConfig(tier="none")))).status == "fail"
    assert c.check_sandbox(ctx(sandbox=(bw, ll), config=cfg(sandbox=SandboxConfig(tier="landlock")))).status == "warn"
    assert c.check_sandbox(ctx(sandbox_error="broken")).status == "fail"


def test_network() -> None:
    assert c.check_network(ctx()).status == "pass"
    assert c.check_network(ctx(config=cfg(sandbox=SandboxConfig(network=True)))).status == "warn"
    r = c.check_network(ctx(config=cfg(sandbox=SandboxConfig(allowed_domains=["pypi.org"]))))
    assert r.status == "pass" and "pypi.org" in r.detail


def test_network_names_origin_and_what_a_repository_tried(git_repo, cw_home) -> None:  # type: ignore[no-untyped-def]
    """The reported case: doctor said "pass network: off, except ..." for a list the repository shipped."""
    from codeward.config.load import load_config

    (cw_home / "config.toml").write_text('[sandbox]\nallowed_domains = ["pypi.org"]\n')
    (git_repo / ".codeward").mkdir()
    repo_cfg = git_repo / ".codeward" / "config.toml"
    repo_cfg.write_text('model = "routed"\n[sandbox]\nallowed_domains = ["203.0.113.7"]\n')
    config = load_config(git_repo)
    r = c.check_network(ctx(config=config))
    assert r.status == "warn"  # the repository's entry is not in the user's list: the intersection is empty
    assert r.detail.startswith("off for commands by default; refused from the repository: ")
    assert f"sandbox.allowed_domains ({repo_cfg}:3)" in r.detail
    r = c.check_config(ctx(config=config))
    assert r.status == "warn" and f"model ({repo_cfg}:1)" in r.detail and "allowed_domains" not in r.detail
    repo_cfg.unlink()
    r = c.check_network(ctx(config=load_config(git_repo)))
    assert r.status == "pass" and r.detail == f"off, except HTTPS to: pypi.org (from {cw_home / 'config.toml'}:2)"


def test_agents_policy() -> None:
    assert c.check_agents_policy(ctx()).status == "warn"
    entries = (PolicyEntry("rm -rf", "/w/AGENTS.md:12"), PolicyEntry("sudo", "/w/AGENTS.md:13"))
    r = c.check_agents_policy(ctx(disallow=entries))
    assert r.status == "pass" and "2 disallowed" in r.detail and "/w/AGENTS.md" in r.detail
    assert c.check_agents_policy(ctx(policy_error="bad block")).status == "warn"


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("localhost", "local"),
        ("127.0.0.1", "local"),
        ("[::1]", "local"),
        ("10.2.3.4", "enterprise"),
        ("192.168.1.5", "enterprise"),
        ("llm.corp", "enterprise"),
        ("proxy.internal", "enterprise"),
        ("gateway", "enterprise"),
        ("api.openai.com", "public"),
        ("8.8.8.8", "public"),
    ],
)
def test_host_kind(host: str, kind: str) -> None:
    assert c.host_kind(host) == kind


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("https://api.openai.com/v1", "pass"),
        ("http://localhost:11434/v1", "pass"),
        ("http://127.0.0.1:8000/v1", "pass"),
        ("https://llm.acme.internal/v1", "pass"),
        ("http://llm.acme.internal/v1", "fail"),
        ("http://api.example.com/v1", "fail"),
    ],
)
def test_provider_endpoint(url: str, status: str) -> None:
    r = c.check_provider_endpoint(ctx(config=with_provider(url)))
    assert r.status == status, r.detail
    if status == "fail":
        assert r.fix == "use an https:// URL in providers.corp.baseURL"


def test_unused_plain_http_provider_is_a_warning() -> None:
    other = ProviderConfig("old", "Old", "http://10.0.0.9/v1")
    r = c.check_provider_endpoint(ctx(config=with_provider("https://api.example.com/v1", old=other)))
    assert r.status == "warn" and "old (http://10.0.0.9/v1)" in r.detail


def test_log_dir() -> None:
    logs = Path("/h/logs")
    assert c.check_log_dir(ctx(logs=PathPerm(logs, False))).status == "pass"
    assert c.check_log_dir(ctx(logs=PathPerm(logs, True, 0o700))).status == "pass"
    r = c.check_log_dir(ctx(logs=PathPerm(logs, True, 0o755)))
    assert r.status == "fail" and r.fix == f"chmod -R go-rwx {logs}"
    r = c.check_log_dir(ctx(logs=PathPerm(logs, True, 0o700, ("2025/01/01/x.jsonl",))))
    assert r.status == "fail" and "x.jsonl" in r.detail
    assert c.check_log_dir(ctx(config=cfg(audit=AuditConfig(enabled=False)))).status == "warn"


def test_home_dir() -> None:
    assert c.check_home_dir(ctx(home_perm=PathPerm(Path("/h"), True, 0o700))).status == "pass"
    r = c.check_home_dir(ctx(home_perm=PathPerm(Path("/h"), True, 0o755)))
    assert r.status == "warn" and r.fix == "chmod 700 /h"


def test_data_retention() -> None:
    r = c.check_data_retention(ctx())
    assert r.status == "pass" and "store: false" in r.detail
    r = c.check_data_retention(ctx(config=with_provider("https://x.example.com/v1")))
    assert r.status == "pass" and "no storage flag" in r.detail


def test_egress_names_only_the_endpoint() -> None:
    r = c.check_egress(ctx(env={"HTTPS_PROXY": "http://proxy:3128"}))
    assert r.status == "pass"
    assert "only to api.openai.com:443" in r.detail and "HTTPS_PROXY ignored" in r.detail
    vault = replace(OPENAI, key_command=("op", "read", "op://x"))
    r = c.check_egress(ctx(config=cfg(providers={"openai": vault})))
    assert "key_command runs op" in r.detail


def test_config_error() -> None:
    r = c.check_config(ctx(config_error="/h/config.toml: invalid TOML"))
    assert r.status == "fail" and "invalid TOML" in r.detail


def test_git_history() -> None:
    assert c.check_git_history(ctx(in_git=False)).status == "pass"
    assert c.check_git_history(ctx(in_git=True)).status == "pass"
    assert c.check_git_history(ctx(in_git=True, history_error="git log: boom")).status == "warn"
    r = c.check_git_history(ctx(in_git=True, history_hidden=(".env", "secrets/key.pem")))
    assert r.status == "fail" and "2 paths" in r.detail and ".env" in r.detail
    assert r.fix is not None and "--path .env --path secrets/key.pem" in r.fix
