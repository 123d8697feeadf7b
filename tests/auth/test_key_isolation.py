"""End to end: the key from `login` reaches the provider's Authorization header and nothing else:
not the child environment of a command, not the audit log, the --audit-log copy, the events, the
last-message file, or any file under CODEWARD_HOME other than auth.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.support.cw_subprocess import run_cw

from codeward.audit.verify import verify_file

KEY = "sk-isolation-8c1f0e6b2d9a4c7e"
ENV_KEY = "sk-envvar-3b7d9f1a5c2e8d4b"


def sandbox_tier() -> str | None:
    from codeward.sandbox import sandbox_status

    return next((t.tier for t in sandbox_status() if t.available and t.tier != "none"), None)


needs_sandbox = pytest.mark.skipif(sandbox_tier() is None, reason="no sandbox tier can be enforced on this machine")

PATCH = "*** Begin Patch\n*** Add File: notes.txt\n+hello\n*** End Patch\n"


def configure(home: Path, url: str, env_key: str | None = None) -> None:
    extra = f'envKey = "{env_key}"\n' if env_key else ""
    (home / "config.toml").write_text(
        f'provider = "scripted"\nmodel = "scripted-model"\n[providers.scripted]\nbaseURL = "{url}"\n'
        f'wire_api = "chat"\nrequires_key = true\n{extra}'
    )


def files_written(home: Path, *more: Path) -> list[Path]:
    out = [p for p in home.rglob("*") if p.is_file() and p.name != "auth.json"]
    return out + [p for p in more if p.exists()]


@needs_sandbox
@pytest.mark.sandbox
def test_login_key_goes_only_to_the_provider(cw_home: Path, git_repo: Path, model_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    configure(cw_home, model_server.url)
    assert run_cw("login", "--with-api-key", input=KEY).returncode == 0
    model_server.script(
        [
            {"tool": "shell", "args": {"command": f"env; cat {cw_home / 'auth.json'} 2>&1; echo done"}},
            {"tool": "apply_patch", "args": {"input": PATCH}},
            {"text": "all finished"},
        ]
    )
    audit, last = tmp_path / "audit.jsonl", tmp_path / "last.txt"
    r = run_cw("exec", "-a", "full-auto", "--json", "--audit-log", str(audit), "-o", str(last), "go", cwd=git_repo)
    assert r.returncode == 0, r.stderr

    reqs = model_server.requests
    assert len(reqs) == 3
    assert all(q.headers["authorization"] == f"Bearer {KEY}" for q in reqs)
    tool_output = reqs[1].body
    assert "PATH=" in tool_output  # the command really ran and its environment came back
    for q in reqs:
        assert KEY not in q.body
    assert KEY not in r.stdout + r.stderr

    written = files_written(cw_home, audit, last)
    assert audit in written and any(p.suffix == ".jsonl" and "logs" in p.parts for p in written)
    for p in written:
        assert KEY.encode() not in p.read_bytes(), p

    log = next(p for p in written if "logs" in p.parts and p.suffix == ".jsonl")
    assert log.read_bytes() == audit.read_bytes()
    assert verify_file(log, log.stem).ok and verify_file(audit).ok
    recs = [json.loads(line) for line in log.read_text().splitlines()]
    types = [x["type"] for x in recs]
    for t in ("session.start", "request.sent", "response", "decision", "command", "file.change", "session.end", "seal"):
        assert t in types, (t, types)
    start = recs[0]
    assert start["provider"] == "scripted" and start["key_source"] == "file"
    cmd = next(x for x in recs if x["type"] == "command")
    assert cmd["tier"] == sandbox_tier() and cmd["exit_code"] == 0 and cmd["duration_ms"] >= 0
    fc = next(x for x in recs if x["type"] == "file.change")
    assert fc["path"] == "notes.txt" and fc["kind"] == "add" and len(fc["sha256_after"]) == 64
    dec = next(x for x in recs if x["type"] == "decision")
    assert dec["decision"] == "allow" and dec["decided_by"].startswith("mode:full-auto")
    assert recs[-2]["status"] == "completed"
    assert run_cw("logs", "verify", "--all").returncode == 0


@needs_sandbox
@pytest.mark.sandbox
def test_env_var_key_is_not_in_the_child_environment(cw_home: Path, git_repo: Path, model_server) -> None:  # type: ignore[no-untyped-def]
    configure(cw_home, model_server.url, env_key="SCRIPTED_API_KEY")
    model_server.script([{"tool": "shell", "args": {"command": ["env"]}}, {"text": "ok"}])
    r = run_cw("exec", "-a", "full-auto", "--json", "go", cwd=git_repo, env={"SCRIPTED_API_KEY": ENV_KEY})
    assert r.returncode == 0, r.stderr
    reqs = model_server.requests
    assert reqs[0].headers["authorization"] == f"Bearer {ENV_KEY}"
    assert "PATH=" in reqs[1].body
    assert ENV_KEY not in reqs[1].body and "SCRIPTED_API_KEY" not in reqs[1].body
    for p in files_written(cw_home):
        assert ENV_KEY.encode() not in p.read_bytes(), p


@needs_sandbox
@pytest.mark.sandbox
def test_key_command_key_is_scrubbed_from_the_audit_log_even_when_a_command_names_it(
    cw_home: Path, git_repo: Path, model_server, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """The defensive scrub: a model that somehow knows the key and puts it in a command still
    cannot get it into the audit log or its --audit-log copy."""
    key = "sk-fromvault-4e8a1c6f0b2d9e7a"
    keycmd = tmp_path / "vault.sh"
    keycmd.write_text(f"#!/bin/sh\necho {key}\n")
    keycmd.chmod(0o755)
    (cw_home / "config.toml").write_text(
        f'provider = "scripted"\nmodel = "m"\n[providers.scripted]\nbaseURL = "{model_server.url}"\n'
        f'key_command = ["{keycmd}"]\n'
    )
    model_server.script([{"tool": "shell", "args": {"command": f"echo {key}"}}, {"text": "ok"}])
    audit = tmp_path / "audit.jsonl"
    r = run_cw("exec", "-a", "full-auto", "--audit-log", str(audit), "go", cwd=git_repo)
    assert r.returncode == 0, r.stderr
    assert model_server.requests[0].headers["authorization"] == f"Bearer {key}"
    logs = [p for p in (cw_home / "logs").rglob("*.jsonl")]
    assert len(logs) == 1
    for p in (*logs, audit):
        text = p.read_text()
        assert key not in text, p
        # the gate replaces a known key before any event is made (the audit scrubber is the second net)
        assert "<secret:codeward-api-key:" in text or "[REDACTED:api-key]" in text
    start = json.loads(logs[0].read_text().splitlines()[0])
    assert start["key_source"] == "command"
    assert verify_file(logs[0], logs[0].stem).ok
