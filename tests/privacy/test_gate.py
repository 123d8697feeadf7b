"""The one door out: what the gate changes, what it records, and that it fails closed."""

from __future__ import annotations

import hashlib
import json

import pytest

from codeward.privacy.gate import Gate, GateError
from codeward.privacy.redact import Redactor
from codeward.privacy.scanner import load_scanner

GH = "ghp_" + "q8Vz2LkP0wR4tY6uI8oPa1sD3fG5hJ7kL9zX"


def gate(**kw) -> tuple[Gate, list]:
    seen: list = []
    g = Gate(Redactor(load_scanner()), host="api.example", url="https://api.example/v1/x", on_egress=seen.append, **kw)
    return g, seen


def test_content_is_redacted_structure_is_not():
    g, seen = gate()
    body = {
        "model": GH,  # structural keys are protocol, never scanned or changed
        "messages": [
            {"role": "user", "content": f"token {GH} here"},
            {"role": "tool", "tool_call_id": "call_1", "content": f"{GH}\n{GH}"},
        ],
    }
    payload = g.prepare(body, files=["b.py", "a.py", "a.py"])
    sent = json.loads(payload.body)
    assert sent["model"] == GH
    assert GH not in sent["messages"][0]["content"] and "<secret:github-pat:" in sent["messages"][0]["content"]
    assert sent["messages"][1]["tool_call_id"] == "call_1"
    entry = payload.entry
    assert entry.redactions == {"github-pat": 3}
    assert entry.bytes == len(payload.body) and entry.sha256 == hashlib.sha256(payload.body).hexdigest()
    assert entry.files == ("a.py", "b.py") and entry.host == "api.example"
    assert seen == [entry]
    assert entry.to_event().to_json()["type"] == "egress"


def test_same_secret_same_placeholder_and_restore():
    g, _ = gate()
    a, _ = g.redact_text(f"x={GH}")
    b, _ = g.redact_text(f"y = '{GH}'")
    ph = a.split("=")[1]
    assert ph in b
    assert g.restore(f"new = {ph}") == f"new = {GH}"


def test_dry_run_records_nothing():
    g, seen = gate()
    g.prepare({"input": "hello"}, record=False)
    assert seen == []


def test_scanner_failure_blocks_the_request():
    class Broken:
        def redact(self, text, *, path=None):
            raise RuntimeError("engine exploded")

        def restore(self, text):
            return text

    seen: list = []
    g = Gate(Broken(), host="h", url="u", on_egress=seen.append)
    with pytest.raises(
        GateError, match=r"request not sent: the secret scanner failed \(RuntimeError: engine exploded\)"
    ):
        g.prepare({"messages": [{"role": "user", "content": "anything"}]})
    assert seen == []  # nothing recorded as sent, because nothing was


def test_cache_scans_each_text_once():
    calls = []

    class Counting:
        def __init__(self):
            self.inner = Redactor(load_scanner())

        def redact(self, text, *, path=None):
            calls.append(text)
            return self.inner.redact(text, path=path)

        def restore(self, text):
            return text

    g = Gate(Counting(), host="h", url="u")
    body = {"messages": [{"role": "user", "content": "a long history"}]}
    g.prepare(body)
    g.prepare(body)
    assert calls == ["a long history"]
