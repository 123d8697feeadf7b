"""The status line and /status: provider kind, network state, sandbox tier, in plain words."""

from __future__ import annotations

import pytest
from tests.support.projects import project_of

from codeward.config.model import Config, ProviderConfig, SandboxConfig
from codeward.project import Project, network_state
from codeward.ui.status import (
    Status,
    format_bytes,
    provider_kind,
    sandbox_label,
    status_line,
    status_report,
)


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://localhost:11434/v1", "local"),
        ("http://LOCALHOST:1234/v1", "local"),
        ("http://127.0.0.1:8080/v1", "local"),
        ("http://127.9.8.7/v1", "local"),
        ("http://[::1]:8000/v1", "local"),
        ("http://ollama.localhost/v1", "local"),
        ("https://api.openai.com/v1", "public"),
        ("https://API.OpenAI.com/v1", "public"),
        ("https://api.anthropic.com/v1", "public"),
        ("https://openrouter.ai/api/v1", "public"),
        ("https://your-company-openai-proxy.internal/v1", "enterprise"),
        ("https://team.openai.azure.com/openai", "enterprise"),
        ("http://192.168.1.20:11434/v1", "enterprise"),  # a server on the LAN is not this machine
        ("http://10.0.0.5/v1", "enterprise"),
        ("https://api.openai.com.evil.example/v1", "enterprise"),
        ("not a url", "enterprise"),
    ],
)
def test_provider_kind(url, kind):
    assert provider_kind(url) == kind


def test_network_state():
    assert network_state(SandboxConfig()) == "off"
    assert network_state(SandboxConfig(network=True)) == "on"
    assert network_state(SandboxConfig(allowed_domains=["pypi.org", "files.pythonhosted.org"])) == (
        "only pypi.org, files.pythonhosted.org"
    )
    # full network wins over a domain list
    assert network_state(SandboxConfig(network=True, allowed_domains=["pypi.org"])) == "on"


def _config(url: str, mode: str | None = None, **kw) -> Project:
    cfg = Config(provider="corp", model="gpt-5", **kw)
    cfg.providers["corp"] = ProviderConfig(id="corp", name="Corp", base_url=url)
    return project_of(cfg, mode)  # type: ignore[arg-type]


def test_status_line_names_everything():
    cfg = _config("https://llm.corp.internal/v1", approval_mode="auto-edit")
    line = status_line(Status.of(cfg, "bwrap"))
    assert line == "gpt-5 · corp (enterprise) · auto-edit · sandbox bwrap · network off"


def test_status_follows_the_session_mode_and_an_unavailable_sandbox():
    project = _config("http://localhost:11434/v1", mode="full-auto")
    s = Status.of(project, "unavailable: no bwrap and no Landlock on this kernel")
    assert not s.sandbox_ok
    assert status_line(s) == (
        "gpt-5 · corp (local) · full-auto · sandbox unavailable: no bwrap and no Landlock on this kernel · network off"
    )


def test_long_sandbox_reason_is_cut_in_the_line_only():
    reason = "unavailable: " + "x" * 200
    assert len(sandbox_label(reason)) == 60 and sandbox_label(reason).endswith("…")
    assert sandbox_label("landlock") == "landlock"
    s = Status.of(_config("http://localhost/v1"), reason)
    report = status_report(
        s,
        session_id="sid",
        workspace="/w",
        endpoint="http://localhost/v1/chat/completions",
        key_source="env:CORP_KEY",
        requests=2,
        sent_bytes=12_700,
        tokens={"input_tokens": 10, "cached_input_tokens": 2, "output_tokens": 3},
        changes=1,
        audit_log=None,
    )
    assert any(line.endswith(reason) for line in report)  # /status shows the whole reason


def test_status_report_rows():
    s = Status.of(_config("https://api.openai.com/v1", approval_mode="suggest"), "bwrap")
    report = status_report(
        s,
        session_id="abc",
        workspace="/repo",
        endpoint="https://api.openai.com/v1/responses",
        key_source="keychain:SecretService",
        requests=3,
        sent_bytes=12_700,
        tokens={"input_tokens": 100, "cached_input_tokens": 20, "output_tokens": 7},
        changes=2,
        audit_log="/home/u/.codeward/logs/x.jsonl",
    )
    text = "\n".join(report)
    assert "corp (public) https://api.openai.com/v1/responses" in text
    assert "keychain:SecretService" in text
    assert "3 (12.4 KB)" in text
    assert "100 in (20 cached), 7 out" in text
    assert "/home/u/.codeward/logs/x.jsonl" in text
    labels = [line.split("  ", 1)[0].strip() for line in report]
    assert labels[:3] == ["session", "workspace", "model"] and "audit log" in labels


@pytest.mark.parametrize(
    ("n", "text"), [(0, "0 B"), (812, "812 B"), (1024, "1.0 KB"), (12_700, "12.4 KB"), (3_250_000, "3.1 MB")]
)
def test_format_bytes(n, text):
    assert format_bytes(n) == text
