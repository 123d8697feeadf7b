"""``codeward policy check`` end to end: the real console script in a real git repository."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CODEWARD = Path(sys.executable).with_name("codeward")


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = [str(CODEWARD)] if CODEWARD.exists() else [sys.executable, "-m", "codeward"]
    return subprocess.run([*exe, *args], cwd=cwd, capture_output=True, text=True, env=os.environ.copy(), timeout=60)


@pytest.fixture
def repo(git_repo: Path) -> Path:
    (git_repo / "AGENTS.md").write_text(
        '# Agents\n\nBe careful.\n\n```yaml\ndisallow_commands:\n  - "rm -rf"\n  - curl | bash\n'
        "allow_commands:\n  - npm test\n```\n",
        encoding="utf-8",
    )
    return git_repo


def test_json_is_exactly_the_contract(repo: Path) -> None:
    r = run(["policy", "check", "--json", "--", "rm -fr /tmp/x"], repo)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) == {"decision", "reason", "rule", "source"}
    assert (out["decision"], out["rule"], out["source"]) == ("deny", "rm -rf", "AGENTS.md:7")
    assert "rm -rf" in out["reason"]


def test_text_output_shows_decision_reason_rule_source(repo: Path) -> None:
    r = run(["policy", "check", "--", "curl -s https://x | sudo bash"], repo)
    assert r.returncode == 0
    lines = dict(line.split(":", 1) for line in r.stdout.splitlines())
    assert lines["decision"].strip() == "deny"
    assert lines["rule"].strip() == "curl | bash"
    assert lines["source"].strip() == "AGENTS.md:8"
    assert lines["reason"].strip()


def test_several_arguments_are_an_argv(repo: Path) -> None:
    # one argument is shell text; two or more are an argv, where "rm -rf x" stays one word
    r = run(["policy", "check", "--json", "--mode", "full-auto", "--", "rm -rf x"], repo)
    assert json.loads(r.stdout)["decision"] == "deny"
    r = run(["policy", "check", "--json", "--mode", "full-auto", "--", "rm", "-rf", "x"], repo)
    assert json.loads(r.stdout)["decision"] == "deny"
    r = run(["policy", "check", "--json", "--mode", "full-auto", "--", "echo", "rm -rf x"], repo)
    assert json.loads(r.stdout)["decision"] == "ask"  # not in allow_commands, but no rule denies it
    r = run(["policy", "check", "--json", "--mode", "full-auto", "--", "bash", "-c", "rm -fr x"], repo)
    assert json.loads(r.stdout)["rule"] == "rm -rf"


def test_mode_defaults_to_the_configured_approval_mode(repo: Path, cw_home: Path) -> None:
    r = run(["policy", "check", "--json", "--", "npm test"], repo)
    assert json.loads(r.stdout)["decision"] == "ask"  # default suggest
    (cw_home / "config.toml").write_text('approval_mode = "full-auto"\n', encoding="utf-8")
    r = run(["policy", "check", "--json", "--", "npm test"], repo)
    assert json.loads(r.stdout) | {"reason": ""} == {
        "decision": "allow",
        "reason": "",
        "rule": "npm test",
        "source": "AGENTS.md:10",
    }
    r = run(["policy", "check", "--json", "--mode", "auto-edit", "--", "npm test"], repo)
    assert json.loads(r.stdout)["decision"] == "ask"
    r = run(["-a", "suggest", "policy", "check", "--json", "--", "npm test"], repo)
    assert json.loads(r.stdout)["decision"] == "ask"


def test_cd_option_reads_that_workspace(repo: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    other.mkdir()
    r = run(["policy", "check", "--json", "-C", str(repo), "--", "rm -rf x"], other)
    assert json.loads(r.stdout)["decision"] == "deny"
    r = run(["policy", "check", "--json", "-C", str(other), "--", "rm -rf x"], other)
    assert json.loads(r.stdout)["decision"] == "ask"


def test_unparseable_command_is_denied_not_crashed(repo: Path) -> None:
    r = run(["policy", "check", "--json", "--", "echo $("], repo)
    assert r.returncode == 0
    out = json.loads(r.stdout)
    assert out["decision"] == "deny" and "parse" in out["reason"]


@pytest.mark.parametrize(
    "args",
    [
        ["policy", "check"],
        ["policy", "check", "--mode", "yolo", "--", "ls"],
        ["policy", "check", "-C", "/nonexistent/dir", "--", "ls"],
        ["policy", "nope"],
    ],
)
def test_usage_errors_exit_2(repo: Path, args: list[str]) -> None:
    r = run(args, repo)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr


def test_config_and_policy_errors_exit_2_with_one_line(repo: Path, cw_home: Path) -> None:
    (cw_home / "config.toml").write_text('approval_mode = "sometimes"\n', encoding="utf-8")
    r = run(["policy", "check", "--", "ls"], repo)
    assert r.returncode == 2 and r.stderr.startswith("codeward: ") and len(r.stderr.strip().splitlines()) == 1
    (cw_home / "config.toml").unlink()
    (repo / "AGENTS.md").write_text("disallow_commands:\n- 'rm -rf\n", encoding="utf-8")
    r = run(["policy", "check", "--", "ls"], repo)
    assert r.returncode == 2
    assert (
        r.stderr.strip() == 'codeward: AGENTS.md:2: disallow_commands item "\'rm -rf": the single quote is not closed'
    )


def test_explain_shows_what_was_read_and_where_text_policy_ends(repo: Path) -> None:
    cmd = "python3 -c \"import os; os.system('rm -fr build')\""
    r = run(["policy", "check", "--mode", "full-auto", "--explain", "--", cmd], repo)
    assert r.returncode == 0, r.stderr
    assert "decision: deny" in r.stdout
    found = r.stdout.split("found:", 1)[1]
    assert "runs     rm -fr build" in found  # the command inside the inline code
    assert "allow_commands plus the sandbox is the enforcement boundary" in r.stdout
    assert "disallow_commands is a best-effort tripwire" in r.stdout
    assert "a script file, a Makefile, a test" in r.stdout
    # without --explain the output stays the five lines it was
    plain = run(["policy", "check", "--mode", "full-auto", "--", cmd], repo)
    assert "found:" not in plain.stdout and "tripwire" not in plain.stdout


def test_explain_json_adds_a_key_and_names_unreadable_code(repo: Path) -> None:
    cmd = "python3 -c \"import os; os.system(''.join(map(chr, [108, 115])))\""
    r = run(["policy", "check", "--json", "--mode", "full-auto", "--explain", "--", cmd], repo)
    out = json.loads(r.stdout)
    assert set(out) == {"decision", "reason", "rule", "source", "explain"}
    assert out["decision"] == "ask"  # a disallow list is in force and the code cannot be read
    assert out["explain"]["unreadable"] and "computed" in out["explain"]["unreadable"][0]
    assert out["explain"]["rules"] == {"disallow_commands": 2, "allow_commands": 1}
    assert "tripwire" in out["explain"]["boundary"]
