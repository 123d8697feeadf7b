"""Keys configured in provider ``headers`` and ``query_params`` are keys: never in ledger entries,
``--dry-run``, errors or outbound text; and an error body is scrubbed before it is cut.
"""

from __future__ import annotations

import pytest

from codeward.config.model import ProviderConfig
from codeward.errors import ProviderError
from codeward.privacy.config_secrets import looks_secret, redact_url, secret_values
from codeward.privacy.gate import Gate, GatedPayload
from codeward.privacy.ledger import LedgerEntry
from codeward.privacy.redact import Redactor
from codeward.privacy.scanner import load_scanner
from codeward.providers.client import ModelClient, endpoint_url

KEY = "sk-test-client-key-0123456789abcdef"
HEADER_KEY = "azk7Qm2vX8kL4pZk3pQ8rTm2Wq8zK2mP"
QUERY_KEY = "fnQm2vX8kL4pZk3pQ8rTm2Wq8"


def provider(url: str, **kw) -> ProviderConfig:
    return ProviderConfig(id="scripted", name="Scripted", base_url=url, env_key="SCRIPTED_KEY", wire_api="chat", **kw)


def payload() -> GatedPayload:
    body = b'{"model":"m","stream":true,"messages":[]}'
    return GatedPayload(body=body, entry=LedgerEntry(host="h", url="u", bytes=len(body), sha256="0" * 64))


def test_which_configured_values_are_secret() -> None:
    assert looks_secret("api-key", "short") and looks_secret("code", "x1") and looks_secret("X-Custom", HEADER_KEY)
    assert not looks_secret("api-version", "2025-04-01") and not looks_secret("X-Team", "payments")
    assert secret_values({"Authorization": f"Bearer {HEADER_KEY}"}, {}) == [f"Bearer {HEADER_KEY}", HEADER_KEY]


def test_dry_run_url_and_ledger_hide_query_keys() -> None:
    url = endpoint_url(provider("https://x.example/v1", query_params={"api-version": "2025-04-01", "code": QUERY_KEY}))
    assert QUERY_KEY in url  # the request itself must carry it
    shown = redact_url(url)
    assert QUERY_KEY not in shown and "api-version=2025-04-01" in shown and "code=<redacted>" in shown
    gate = Gate(Redactor(load_scanner()), host="x.example", url=url)
    entry = gate.prepare({"messages": [{"role": "user", "content": f"the code is {QUERY_KEY[::-1]}"}]}).entry
    assert QUERY_KEY not in entry.url
    sent = gate.prepare({"messages": [{"role": "user", "content": f"echo {QUERY_KEY}"}]}).body.decode()
    assert QUERY_KEY not in sent


def test_error_body_echoing_a_header_key_past_the_cut(model_server) -> None:
    echoed = "x" * 190 + f" your api-key header {HEADER_KEY} is not valid for this deployment"
    model_server.script([{"status": 403, "message": echoed}])
    p = provider(model_server.url, headers={"api-key": HEADER_KEY})
    with pytest.raises(ProviderError) as ei:
        ModelClient(p, KEY).send(payload())
    msg = str(ei.value)
    assert HEADER_KEY[:8] not in msg, msg
    assert HEADER_KEY not in ModelClient(p, KEY).scrub(f"boom {HEADER_KEY}")


def test_control_cutting_before_scrubbing_leaves_part_of_the_key() -> None:
    """What the old order (cut at 300, then replace the whole key) let through."""
    echoed = "x" * 280 + f" {HEADER_KEY}"
    cut = echoed[:300]
    assert HEADER_KEY not in cut and HEADER_KEY[:8] in cut.replace(HEADER_KEY, "<api-key>")


def test_error_body_with_the_bearer_key_past_the_cut(model_server) -> None:
    model_server.script([{"status": 401, "message": "y" * 250 + f" Incorrect API key provided: {KEY}"}])
    with pytest.raises(ProviderError) as ei:
        ModelClient(provider(model_server.url), KEY).send(payload())
    assert KEY[:12] not in str(ei.value)


def test_a_query_key_and_its_echoes_stay_out_of_events_and_the_audit_log(model_server, git_repo, cw_home) -> None:
    """A ``?key=`` parameter is not written in ``session.start``; a provider echoing it (upper-cased,
    spaced out) in a refusal does not carry it into ``turn.failed`` or the audit log."""
    from tests.support.cli import FAKE_KEY, codeward, write_config

    key = "qpsecretRT9z8y7x6w5v4u3t2s1r0qYY"
    write_config(cw_home, model_server.url, "chat")
    with (cw_home / "config.toml").open("a") as f:
        f.write(f'query_params = {{ "key" = "{key}" }}\n')
    echoed = f"bad key {key.upper()} / {' '.join(key)} / {FAKE_KEY.upper()}"
    model_server.script([{"status": 401, "message": echoed}])
    run = codeward("exec", "--json", "hello", cwd=git_repo)
    assert run.returncode == 1
    assert model_server.requests, "the request reached the server (the control that the key was in use)"
    logs = "".join(p.read_text() for p in (cw_home / "logs").rglob("*.jsonl"))
    for where in (run.stdout, run.stderr, logs):
        assert key not in where and key.upper() not in where and " ".join(key) not in where
        assert FAKE_KEY.upper() not in where
    assert "session.start" in logs and "<redacted>" in logs
