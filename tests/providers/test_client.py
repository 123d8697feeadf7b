"""The HTTP client against a real scripted server on loopback: streaming, retries and clear errors."""

from __future__ import annotations

import socket

import pytest

from codeward.config.model import ProviderConfig
from codeward.errors import ProviderError
from codeward.privacy.gate import GatedPayload
from codeward.privacy.ledger import LedgerEntry
from codeward.providers.client import ModelClient, endpoint_url, retry_after_seconds
from codeward.providers.types import TextDelta

KEY = "sk-test-client-key-0123456789abcdef"


def provider(url: str, wire: str = "chat", **kw) -> ProviderConfig:
    return ProviderConfig(id="scripted", name="Scripted", base_url=url, env_key="SCRIPTED_KEY", wire_api=wire, **kw)


def payload(body: bytes = b'{"model":"m","stream":true,"messages":[]}') -> GatedPayload:
    return GatedPayload(body=body, entry=LedgerEntry(host="h", url="u", bytes=len(body), sha256="0" * 64))


class Sleeps(list):
    def __call__(self, s: float) -> None:
        self.append(s)


@pytest.mark.parametrize("wire", ["chat", "responses"])
def test_streams_text_and_sends_key_headers_and_query(model_server, wire):
    model_server.script([{"text": "hello world"}])
    p = provider(model_server.url, wire, headers={"X-Team": "payments"}, query_params={"api-version": "2025-04-01"})
    deltas = []
    done = ModelClient(p, KEY).send(payload(), on_event=lambda e: deltas.append(e))
    assert done.turn.text == "hello world"
    assert "".join(d.text for d in deltas if isinstance(d, TextDelta)) == "hello world"
    req = model_server.requests[0]
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert req.headers["x-team"] == "payments"
    assert req.path.endswith("?api-version=2025-04-01")


def test_no_key_means_no_authorization_header(model_server):
    model_server.script([{"text": "ok"}])
    ModelClient(provider(model_server.url), None).send(payload())
    assert "authorization" not in model_server.requests[0].headers


def test_429_then_success_honours_retry_after(model_server):
    model_server.script([{"status": 429, "retry_after": "2", "message": "slow down"}, {"text": "after retry"}])
    sleeps = Sleeps()
    notes = []
    done = ModelClient(provider(model_server.url), KEY, sleep=sleeps, on_retry=notes.append).send(payload())
    assert done.turn.text == "after retry"
    assert sleeps == [2.0]
    assert len(model_server.requests) == 2
    assert "429" in notes[0] and "slow down" in notes[0]


def test_5xx_retries_then_gives_up_with_clear_message(model_server):
    model_server.script([{"status": 503}] * 10)
    sleeps = Sleeps()
    with pytest.raises(ProviderError, match=r"HTTP 503.*gave up after 2 retries"):
        ModelClient(provider(model_server.url, request_max_retries=2), KEY, sleep=sleeps).send(payload())
    assert len(model_server.requests) == 3
    assert len(sleeps) == 2 and all(s > 0 for s in sleeps)


@pytest.mark.parametrize("wire", ["chat", "responses"])
def test_dropped_stream_is_retried(model_server, wire):
    model_server.script([{"drop": True}, {"text": "second try"}])
    done = ModelClient(provider(model_server.url, wire), KEY, sleep=Sleeps()).send(payload())
    assert done.turn.text == "second try"
    assert len(model_server.requests) == 2


@pytest.mark.parametrize("wire", ["chat", "responses"])
def test_malformed_stream_fails_without_retry(model_server, wire):
    model_server.script([{"malformed": True}, {"text": "never reached"}])
    with pytest.raises(ProviderError, match="malformed stream"):
        ModelClient(provider(model_server.url, wire), KEY, sleep=Sleeps()).send(payload())
    assert len(model_server.requests) == 1


def test_idle_stream_times_out_and_retries(model_server):
    model_server.script([{"stall": 2}, {"text": "fresh"}])
    p = provider(model_server.url, stream_idle_timeout_ms=300)
    done = ModelClient(p, KEY, sleep=Sleeps()).send(payload())
    assert done.turn.text == "fresh"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dead_endpoint_says_cannot_reach():
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(ProviderError, match=rf"cannot reach {url} - is the server running"):
        ModelClient(provider(url), KEY, sleep=Sleeps()).send(payload())


def test_dead_ollama_endpoint_names_ollama():
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", 11434)) == 0:
            pytest.skip("something listens on 11434 here")
    p = ProviderConfig(id="ollama", name="Ollama", base_url="http://localhost:11434/v1", requires_key=False)
    with pytest.raises(ProviderError, match=r"cannot reach http://localhost:11434/v1 - is Ollama running"):
        ModelClient(p, None, sleep=Sleeps()).send(payload())


def test_wrong_key_message_names_fix_and_never_the_key(model_server):
    model_server.script([{"status": 401, "message": f"Incorrect API key provided: {KEY}"}])
    with pytest.raises(ProviderError) as ei:
        ModelClient(provider(model_server.url), KEY).send(payload())
    msg = str(ei.value)
    assert "rejected the API key" in msg and "$SCRIPTED_KEY" in msg and "codeward login" in msg
    assert KEY not in msg


def test_unknown_model_message(model_server):
    model_server.script([{"status": 404, "message": "The model `nope` does not exist"}])
    with pytest.raises(ProviderError, match=r"unknown model .*does not exist.*-m MODEL"):
        ModelClient(provider(model_server.url), KEY).send(payload())


def test_only_gated_payloads_can_be_sent(model_server):
    with pytest.raises(TypeError, match="privacy gate"):
        ModelClient(provider(model_server.url), KEY).send(b"{}")  # type: ignore[arg-type]
    assert model_server.requests == []


def test_endpoint_url_and_retry_after_parsing():
    p = provider("https://proxy.internal/v1/", query_params={"api-version": "x y"})
    assert endpoint_url(p) == "https://proxy.internal/v1/chat/completions?api-version=x+y"
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
