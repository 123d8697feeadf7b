"""Provider side of long sessions: overflow errors, reasoning items, Ollama's window."""

from __future__ import annotations

import json

import pytest

from codeward.config.model import ProviderConfig
from codeward.errors import ProviderError
from codeward.privacy.gate import GatedPayload
from codeward.privacy.ledger import LedgerEntry
from codeward.providers.client import ModelClient
from codeward.providers.ollama import ollama_window, show_url, window_from_show
from codeward.providers.responses import ResponsesFormat, ResponsesParser
from codeward.providers.types import AssistantTurn, Message, ModelRequest, ToolCall
from codeward.providers.wire import ContextOverflow


def _payload(body: bytes) -> GatedPayload:
    return GatedPayload(body=body, entry=LedgerEntry(host="h", url="u", bytes=len(body), sha256="0" * 64))


@pytest.mark.parametrize("wire", ["chat", "responses"])
def test_context_length_exceeded_is_its_own_error_with_the_refused_size(model_server, wire):
    model_server.configure(window=100)
    body = json.dumps({"model": "m", "stream": True, "messages": [], "input": "x" * 1000}).encode()
    p = ProviderConfig(id="s", name="S", base_url=model_server.url, wire_api=wire)
    with pytest.raises(ContextOverflow) as e:
        ModelClient(p, None).send(_payload(body))
    assert e.value.refused_bytes == len(body)
    assert "maximum context length is 100 tokens" in e.value.message
    assert len(model_server.requests) == 1  # not retried as is


def test_overflow_reported_mid_stream_by_responses():
    parser = ResponsesParser()
    ev = {"type": "response.failed", "response": {"error": {"code": "context_length_exceeded", "message": "too long"}}}
    with pytest.raises(ContextOverflow):
        parser.feed("", json.dumps(ev))


def test_reasoning_items_parsed_and_sent_back_before_their_calls():
    parser = ResponsesParser()
    item = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "opaque=="}
    call = {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "shell", "arguments": "{}"}
    for ev in (
        {"type": "response.output_item.done", "item": item},
        {"type": "response.output_item.added", "item": call},
        {"type": "response.output_item.done", "item": call},
        {"type": "response.completed", "response": {"usage": {"output_tokens_details": {"reasoning_tokens": 7}}}},
    ):
        parser.feed("", json.dumps(ev))
    done = parser.finish()
    assert done.turn.reasoning_items == (
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "opaque=="},
    )
    assert done.usage.reasoning_output_tokens == 7
    req = ModelRequest("o3", "i", (Message("user", "t"), done.turn), reasoning={"effort": "low"}, cache_key="k")
    body = ResponsesFormat().build(req)
    assert [i["type"] for i in body["input"]] == ["message", "reasoning", "function_call"]
    assert body["input"][1] == {"type": "reasoning", "summary": [], "encrypted_content": "opaque=="}
    assert body["reasoning"] == {"effort": "low"} and body["include"] == ["reasoning.encrypted_content"]
    assert body["prompt_cache_key"] == "k"


def test_plain_turns_have_no_reasoning_input():
    turn = AssistantTurn("", (ToolCall("c", "shell", "{}"),))
    body = ResponsesFormat().build(ModelRequest("m", "i", (turn,)))
    assert [i["type"] for i in body["input"]] == ["function_call"]
    assert "include" not in body and "reasoning" not in body


def test_ollama_show_url_and_parsing():
    assert show_url("http://localhost:11434/v1") == "http://localhost:11434/api/show"
    assert window_from_show({"parameters": "num_ctx 8192\nstop x"}) == 8192
    assert window_from_show({"model_info": {"llama.context_length": 131072}}) == 131072
    assert window_from_show({"parameters": 3}) is None


def test_ollama_window_from_a_real_server(model_server):
    model_server.configure(window=6000)
    assert ollama_window(model_server.url, "qwen2.5-coder") == 6000
    assert json.loads(model_server.requests[-1].body) == {"model": "qwen2.5-coder"}
    assert ollama_window("http://127.0.0.1:9/v1", "x", timeout_s=0.5) is None


def test_hung_endpoint_fails_at_the_request_deadline_not_after_every_retry(model_server):
    # the idle timeout (60 s) and 3 stream retries would hold the turn for minutes; the deadline ends it
    model_server.script([{"stall": 30}] * 4)
    p = ProviderConfig(id="s", name="S", base_url=model_server.url, stream_idle_timeout_ms=60_000)
    client = ModelClient(p, None, request_timeout_s=1.5)
    with pytest.raises(ProviderError) as e:
        client.send(_payload(b'{"model":"m","stream":true,"messages":[]}'))
    # only the deadline can end this: the idle timeout would have said "stream idle timeout"
    assert "idle" not in e.value.message and len(model_server.requests) == 1
    assert "no complete answer from 127.0.0.1" in e.value.message and "within 2s" in e.value.message
    assert "request_timeout_ms" in e.value.message


def test_exec_turn_fails_on_a_hung_endpoint_saying_so(model_server, git_repo, cw_home):
    from tests.support.cli import codeward, write_config

    model_server.script([{"stall": 30}] * 4)
    write_config(cw_home, model_server.url, "chat", extra="request_timeout_ms = 1500")
    run = codeward("exec", "--json", "hello", cwd=git_repo)
    assert run.returncode == 1
    failed = [e for e in run.events if e["type"] == "turn.failed"]
    assert failed and "no complete answer" in failed[-1]["error"]["message"]
    # an error item comes right before turn.failed, as Codex consumers expect
    assert run.events[-2]["type"] == "item.completed" and run.events[-2]["item"]["type"] == "error"
    assert run.events[-2]["item"]["message"] == failed[-1]["error"]["message"]


@pytest.mark.parametrize(
    ("code", "message", "overflow"),
    [
        ("context_length_exceeded", "anything", True),
        (None, "This model's maximum context length is 8192 tokens.", True),
        (None, "the request exceeds the available context size, try increasing it", True),
        (None, "The number of tokens to keep from the initial prompt is greater than the context length", True),
        ("rate_limit_exceeded", "Rate limit reached", False),
        (None, "invalid api key", False),
    ],
)
def test_overflow_recognised_by_code_or_words(code, message, overflow):
    from codeward.providers.wire import is_context_overflow

    assert is_context_overflow(code, message) is overflow
