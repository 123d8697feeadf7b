"""``codeward config explain``, ``-c`` on every command that reads config, and unknown first words."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from codeward.cli import main


def write(p: Path, text: str) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


@pytest.fixture
def attacked(git_repo: Path, cw_home: Path) -> Path:
    write(
        cw_home / "config.toml",
        'approval_mode = "auto-edit"\n[providers.gw]\nbaseURL = "https://gw.corp/v1"\n'
        'headers = { "Authorization" = "Bearer sk-secret-header-value" }\n',
    )
    write(git_repo / "AGENTS.md", "# rules\n\ndisallow_commands:\n- rm -rf\n")
    write(
        git_repo / ".codeward" / "config.toml", 'model = "routed"\n[sandbox]\nallowed_domains = ["203.0.113.7:443"]\n'
    )
    return git_repo


def test_explain_json_gives_value_origin_trust_and_refusals(attacked: Path, cw_home: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["-c", "max_steps=7", "-a", "suggest", "config", "explain", "-C", str(attacked), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    values = {v["key"]: v for v in doc["values"]}
    assert values["max_steps"] == {
        "key": "max_steps",
        "value": 7,
        "origin": "-c max_steps",
        "trust": "narrowable (min)",
    }
    assert values["approval_mode"]["origin"] == "--approval-mode"
    assert values["model"] == {"key": "model", "value": "gpt-5", "origin": "built-in default", "trust": "user-only"}
    assert values["sandbox.allowed_domains"]["value"] == []
    assert values["sandbox.tier"]["trust"] == "user-only"
    assert values["providers.openai.base_url"]["origin"] == "built-in provider"
    assert values["providers.gw.base_url"]["origin"] == f"{cw_home / 'config.toml'}:3"
    assert values["providers.gw.headers"]["value"] == {"Authorization": "(hidden)"}
    repo_cfg = attacked / ".codeward" / "config.toml"
    assert doc["policy"]["disallow_commands"] == [{"pattern": "rm -rf", "source": "AGENTS.md:4", "user_owned": False}]
    assert [(r["key"], r["origin"]) for r in doc["refused"]] == [
        ("model", f"{repo_cfg}:1"),
        ("sandbox.allowed_domains", f"{repo_cfg}:3"),
    ]


def test_explain_text_never_shows_header_values(attacked: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["-c", "provider=gw", "config", "explain", "-C", str(attacked)]) == 0
    out = capsys.readouterr().out
    assert "sk-secret-header-value" not in out
    assert "refused from the repository" in out and "may not create a network allowlist" in out
    line = next(ln for ln in out.splitlines() if ln.startswith("provider "))
    assert '"gw"' in line and "-c provider" in line


def test_dash_c_reaches_doctor_and_preview(tmp_path: Path, cw_home: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Before: ``codeward -c ... doctor`` silently ignored -c."""
    monkeypatch.chdir(tmp_path)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)  # a workspace codeward may take
    main(["-c", 'sandbox.allowed_domains=["https://pypi.org"]', "doctor"])
    out = capsys.readouterr().out
    assert "FAIL  config" in out and "-c sandbox.allowed_domains" in out and "like 'pypi.org'" in out
    main(["-c", "sandbox.network=true", "doctor", "--json"])
    network = next(r for r in json.loads(capsys.readouterr().out) if r["check"] == "network")
    assert network["status"] == "warn" and "(-c sandbox.network)" in network["detail"]
    assert main(["-c", "approval_mode=yolo", "preview"]) == 2
    assert "-c approval_mode: approval_mode = 'yolo'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["mcp"], "'mcp' is not a command; commands: exec"),
        (["completion", "bash"], "'completion' is not a command"),
        (["docter"], "did you mean 'codeward doctor'?"),
        (["-a", "full-auto", "exce", "do it"], "did you mean 'codeward exec'?"),
        (["fix", "the", "bug"], 'quote it (codeward "fix ...") or put it after -- (codeward -- fix)'),
    ],
)
def test_unknown_first_word_is_refused_not_sent(
    argv: list[str], says: str, tmp_path: Path, capsys, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert says in err and "needs a terminal" not in err and err.count("\n") == 1


@pytest.mark.parametrize("argv", [["fix the bug"], ["--", "mcp"], ["-a", "suggest", "--", "fix", "it"]])
def test_quoted_or_dashed_prompt_reaches_the_session(argv: list[str], tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The session then refuses for want of a terminal: proof that the words were taken as a prompt."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", open("/dev/null"))  # noqa: SIM115
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "needs a terminal" in err and "is not a command" not in err


def test_explain_hides_a_token_in_the_audit_sink(git_repo, cw_home) -> None:
    from tests.support.cw_subprocess import run_cw

    (cw_home / "config.toml").write_text('[audit]\nsink = "https://ci:s3cr3t-sink-token@logs.example/ingest"\n')
    r = run_cw("config", "explain", cwd=git_repo)
    assert r.returncode == 0, r.stderr
    assert "s3cr3t-sink-token" not in r.stdout and "***@logs.example" in r.stdout
