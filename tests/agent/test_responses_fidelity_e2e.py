"""Responses fidelity with a reasoning model and ``store: false``, end to end over loopback.

The scripted server returns a reasoning item with ``encrypted_content`` (shaped to look like a
credential to a scanner) before each answer; codeward must send each back, byte for byte and before
its tool call, with the reasoning settings, the ``include`` and one ``prompt_cache_key``.
"""

from __future__ import annotations

import json

from tests.support.cli import codeward, write_config

from codeward.privacy.gate import Gate

SCRIPT = [
    {"tool": "list_dir", "args": {}},
    {"tool": "list_dir", "args": {"path": "."}},
    {"text": "looked around"},
]


def test_reasoning_items_go_back_intact_and_in_order(model_server, git_repo, cw_home):
    model_server.configure(encrypted_reasoning=True)
    model_server.script(SCRIPT)
    extra = 'model_reasoning_effort = "high"\nmodel_reasoning_summary = "detailed"'
    write_config(cw_home, model_server.url, "responses", extra=extra)
    run = codeward("exec", "--json", "look around", cwd=git_repo)
    assert run.returncode == 0, run.stderr
    sent = model_server.state.reasoning_sent
    bodies = [r.json for r in model_server.requests]
    assert len(bodies) == 3 and len(sent) == 3

    for body in bodies:
        assert body["reasoning"] == {"effort": "high", "summary": "detailed"}
        assert body["include"] == ["reasoning.encrypted_content"]
        assert body["store"] is False
    thread = next(e for e in run.events if e["type"] == "thread.started")["thread_id"]
    assert {b["prompt_cache_key"] for b in bodies} == {thread}

    # request 3 carries both earlier reasoning items, unchanged, each right before its tool call
    items = bodies[2]["input"]
    kinds = [i["type"] for i in items]
    assert kinds[-6:] == ["reasoning", "function_call", "function_call_output"] * 2
    back = [i for i in items if i["type"] == "reasoning"]
    assert [b["encrypted_content"] for b in back] == [s["encrypted_content"] for s in sent[:2]]
    assert [b["summary"] for b in back] == [s["summary"] for s in sent[:2]]
    assert all("id" not in b for b in back)  # store=false: no server-side item to refer to


def test_gate_passes_encrypted_content_but_would_redact_the_same_text_elsewhere():
    """The mechanism: the key is structural for the gate; the same value as content is redacted."""
    from codeward.privacy.redact import Redactor
    from codeward.privacy.scanner import load_scanner

    value = "AKIAIOSFODNN7EXAMPLQ"
    gate = Gate(Redactor(load_scanner()), host="h", url="u")
    out = json.loads(gate.prepare({"input": [{"type": "reasoning", "encrypted_content": value}]}, record=False).body)
    assert out["input"][0]["encrypted_content"] == value
    control = json.loads(gate.prepare({"input": [{"type": "message", "text": f"key {value}"}]}, record=False).body)
    assert value not in control["input"][0]["text"]


def test_no_reasoning_settings_for_a_plain_model(model_server, git_repo, cw_home):
    model_server.script([{"text": "hi"}])
    write_config(cw_home, model_server.url, "responses")
    run = codeward("exec", "--json", "hello", cwd=git_repo)
    assert run.returncode == 0, run.stderr
    body = model_server.requests[0].json
    assert "reasoning" not in body and "include" not in body
    assert body["prompt_cache_key"]
