"""Issue 3's bar: secrets of every family, planted in ignored and in ordinary files, in git history
and in the environment; a scripted model goes after them through every tool and the usual shell
tricks (cat, env, grep -r, git log -p, base64). The server must receive none of them, and must
still receive every ordinary line around them.
"""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
from tests.support.cli import codeward, write_config
from tests.support.model_server import strings

from codeward.privacy.scanner import load_scanner

CASES = Path(__file__).resolve().parents[1] / "privacy" / "cases" / "rules.toml"

# the families issue 3 names, each by one rule of ours
FAMILIES = [
    "aws-access-key-id",
    "aws-secret-access-key",
    "gcp-service-account-key",
    "azure-storage-account-key",
    "github-pat",
    "gitlab-pat",
    "bitbucket-app-password",
    "openai-api-key",
    "anthropic-api-key",
    "huggingface-access-token",
    "stripe-access-token",
    "slack-bot-token",
    "slack-webhook-url",
    "discord-webhook-url",
    "telegram-bot-api-token",
    "private-key",
    "jwt",
    "url-credentials",
    "connection-string-password",
    "netrc-password",
    "npmrc-auth",
    "authorization-header",
    "generic-secret",
]
PATH_FAMILIES = {"pypirc-password": ".pypirc", "pgpass-password": ".pgpass"}
ENV_SECRETS = {
    "GITHUB_TOKEN": "ghp_Vb7Qx2Lm9Pz4Kt6Wr1Ys8Nd3Fh5Jc0Ag2Ek4",
    "AWS_SECRET_ACCESS_KEY": "Hs8Dk2Lq9Wz4Xc7Vb1Nm5Tr3Yp6Gf0Ju2Ei8Oa4",
}
HISTORY_SECRET = "ghp_Tn4Rw8Qz1Lx6Kc3Vb9Mp2Ys7Hd5Fj0Ge4Ua8Wi"
IGNORED_MARKER = "only-in-the-ignored-dotenv-f31c"


def cleaned(tp: str) -> str:
    """Golden tps end some tokens with '#' to mark their boundary; a file line does not need it."""
    return tp[:-1] if tp.endswith("#") else tp


def example(cases: dict[str, Any], rule: str, path: str | None = None) -> str:
    """The first golden tp that the scanner attributes to ``rule`` itself (some overlap another rule)."""
    scanner = load_scanner()
    for tp in cases[rule]["tp"]:
        if any(f.rule_id == rule for f in scanner.scan(cleaned(tp), path=path)):
            return cleaned(tp)
    raise AssertionError(f"no golden tp of {rule} is found as {rule} any more")


def planted_files() -> dict[str, str]:
    cases = tomllib.loads(CASES.read_text())
    lines = []
    for i, rule in enumerate(FAMILIES):
        lines.append(f"keep-me-{i}: an ordinary line before {rule}")
        lines.append(example(cases, rule))
    files = {"config/settings.txt": "\n".join(lines) + "\nkeep-me-last: the end\n"}
    for rule, name in PATH_FAMILIES.items():
        files[name] = example(cases, rule, name) + "\n"
    files[".env"] = f"MARKER={IGNORED_MARKER}\nSTRIPE_KEY=sk_live_4eC39HqLyjWDarjtT1zdp7dc\n"
    files["secrets/prod.txt"] = f"{IGNORED_MARKER}\n"
    return files


def secret_values(files: dict[str, str]) -> set[str]:
    """What the scanner calls a secret in the ordinary files, plus every planted outside value."""
    scanner = load_scanner()
    values: set[str] = set()
    for name, text in files.items():
        for f in scanner.scan(text, path=name):
            values.add(text[f.start : f.end])
    found_rules = {f.rule_id for name, text in files.items() for f in scanner.scan(text, path=name)}
    missing = (set(FAMILIES) | set(PATH_FAMILIES)) - found_rules
    assert not missing, f"the scanner no longer finds these planted families: {missing}"
    return values | set(ENV_SECRETS.values()) | {HISTORY_SECRET, IGNORED_MARKER}


ATTACKS = [
    {"tool": "read_file", "args": {"path": "config/settings.txt"}},
    {"tool": "read_file", "args": {"path": ".env"}},
    {"tool": "read_file", "args": {"path": ".pypirc"}},
    {"tool": "read_file", "args": {"path": ".pgpass"}},
    {"tool": "list_dir", "args": {"depth": 3}},
    {"tool": "grep", "args": {"pattern": "ghp_|AKIA|sk-|xox|hooks|password|keep-me|MARKER"}},
    {"tool": "shell", "args": {"command": "cat config/settings.txt .env secrets/prod.txt .pypirc .pgpass"}},
    {"tool": "shell", "args": {"command": "env; cat /proc/self/environ | tr '\\0' '\\n'"}},
    {"tool": "shell", "args": {"command": "grep -r . . --exclude-dir=.git"}},
    {"tool": "shell", "args": {"command": "git log -p --all"}},
    {"tool": "shell", "args": {"command": "base64 config/settings.txt"}},
    {"tool": "shell", "args": {"command": "base64 -w0 .pgpass; echo; base64 .env"}},
    {"tool": "text", "args": {}},
]


@pytest.mark.sandbox
@pytest.mark.parametrize("wire", ["chat", "responses"])
def test_no_secret_reaches_the_model_through_any_path(model_server, git_repo, cw_home, wire):
    files = planted_files()
    for name, text in files.items():
        p = git_repo / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    old = git_repo / "old_config.py"
    old.write_text(f'TOKEN = "{HISTORY_SECRET}"\nkeep-me-history = 1\n')
    subprocess.run(["git", "add", "old_config.py"], cwd=git_repo, check=True)
    subprocess.run(["git", "commit", "-qm", "add config"], cwd=git_repo, check=True)
    subprocess.run(["git", "rm", "-q", "old_config.py"], cwd=git_repo, check=True)
    subprocess.run(["git", "commit", "-qm", "remove config"], cwd=git_repo, check=True)
    values = secret_values(files)

    script = [s if s["tool"] != "text" else {"text": "looked everywhere"} for s in ATTACKS]
    model_server.script(script)
    write_config(cw_home, model_server.url, wire, extra="[sandbox]\noutput_cap_bytes = 1048576")
    run = codeward("exec", "--json", "-a", "full-auto", "find every credential you can", cwd=git_repo, env=ENV_SECRETS)
    assert run.returncode == 0, run.stderr
    reqs = model_server.requests
    assert len(reqs) == len(ATTACKS)

    sent = "\n".join(s for r in reqs for s in strings(json.loads(r.body)))
    leaked = sorted(v for v in values if v in sent)
    assert not leaked, f"these reached the model: {leaked}"
    # ...while the model still saw the rest of each file, the history and the command output
    for i in range(len(FAMILIES)):
        assert f"keep-me-{i}: an ordinary line before {FAMILIES[i]}" in sent
    assert "keep-me-last: the end" in sent and "keep-me-history = 1" in sent
    assert "hidden by the built-in rule '.env'" in sent
    assert "<secret:github-pat:" in sent and "<secret:private-key:" in sent
    # one egress event per request, each with its per-rule count of what the gate itself removed;
    # here that is nothing: the read tools redact as they read, commands read the files through the
    # sandbox's redacted view and git history through its object view, so placeholders arrive
    egress = [e for e in run.events if e["type"] == "egress"]
    assert len(egress) == len(reqs)
    assert all(isinstance(n, int) for e in egress for n in e["redactions"].values())
    # nothing secret in what codeward printed or wrote either
    written = run.stdout + run.stderr
    for f in Path(cw_home).rglob("*"):
        if f.is_file() and f.suffix == ".jsonl":
            written += f.read_text()
    assert not sorted(v for v in values if v in written)
