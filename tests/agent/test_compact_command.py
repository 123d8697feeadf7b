"""``/compact``, ``/model`` and the context on the status line, on a real session over loopback."""

from __future__ import annotations

import io

from rich.console import Console
from tests.support.cli import FAKE_KEY, write_config

from codeward.agent.context import COMPACT_PROMPT, SUMMARY_PREFIX
from codeward.agent.session import build_session
from codeward.config.load import ConfigOverrides
from codeward.events import EventBus, ListSink
from codeward.tools.asking import NoTerminalApprover
from codeward.ui.interrupts import Interrupts
from codeward.ui.render import Renderer
from codeward.ui.session_loop import InteractiveSession


def _session(model_server, git_repo, cw_home, monkeypatch, lines):
    monkeypatch.setenv("SCRIPTED_KEY", FAKE_KEY)
    write_config(cw_home, model_server.url, "responses")
    sink = ListSink()
    bus = EventBus()
    bus.add(sink)
    out = io.StringIO()
    renderer = Renderer(Console(file=out, width=200))
    bus.add(renderer)  # as the interactive command wires it
    session = build_session(git_repo, ConfigOverrides(), events=bus, approver=NoTerminalApprover(), persist=False)
    feed = list(lines)

    def read() -> str:
        if not feed:
            raise EOFError
        return feed.pop(0)

    loop = InteractiveSession(session, renderer, Interrupts(), read)
    return loop, session, sink, out


def test_compact_summarises_through_the_gate_and_the_conversation_goes_on(model_server, git_repo, cw_home, monkeypatch):
    model_server.configure(summary_marker=COMPACT_PROMPT[:40])
    model_server.script([{"tool": "list_dir", "args": {}}, {"text": "first"}, {"text": "second"}])
    loop, _, sink, out = _session(model_server, git_repo, cw_home, monkeypatch, ["look", "/compact", "more"])
    loop.run()
    bodies = [r.json for r in model_server.requests]
    assert len(bodies) == 4 and model_server.state.summaries == 1
    assert [e["type"] for e in sink.events].count("context.compacted") == 1
    assert len(sink.of_type("egress")) == 4  # the summary request is an egress like any other
    last = bodies[-1]["input"]
    texts = [c["text"] for i in last if i["type"] == "message" for c in i["content"]]
    assert "look" in texts and "more" in texts  # user messages verbatim
    assert any(t.startswith(SUMMARY_PREFIX) and "summary 1" in t for t in texts)
    assert not any(i["type"] == "function_call" for i in last)  # the tool exchange was summarised
    assert "context compacted by the model" in out.getvalue()


def test_model_switches_mid_session_and_status_shows_the_window(model_server, git_repo, cw_home, monkeypatch):
    model_server.script([{"text": "a"}, {"text": "b"}])
    loop, session, _, out = _session(model_server, git_repo, cw_home, monkeypatch, ["one", "/model gpt-4o", "two"])
    loop.run()
    models = [r.json["model"] for r in model_server.requests]
    assert models == ["scripted-model", "gpt-4o"]
    assert "context window 128000 tokens, built-in table" in out.getvalue()
    line = loop.status_line()
    assert line.startswith("gpt-4o") and "/128k tokens" in line
    assert session.agent.context.used > 0


def test_a_refused_request_is_shown_as_refused_not_sent(model_server, git_repo, cw_home, monkeypatch):
    from codeward.ui.privacy import sent_report

    model_server.script([{"status": 400, "message": "bad request body"}, {"text": "fine now"}])
    loop, _, sink, out = _session(model_server, git_repo, cw_home, monkeypatch, ["first", "second"])
    loop.run()
    [refused] = sink.of_type("request.refused")
    first = sink.of_type("egress")[0]
    assert (refused["bytes"], refused["sha256"]) == (first["bytes"], first["sha256"])
    assert "refused the request" in out.getvalue()
    report = sent_report(loop.r.sent, local_time=False)
    assert "(1 refused by the provider" in report[0]
    assert "refused" in report[1] and "refused" not in report[2]  # the second request was accepted


def test_model_switch_drops_the_old_models_encrypted_reasoning(model_server, git_repo, cw_home, monkeypatch):
    model_server.configure(encrypted_reasoning=True)
    model_server.script([{"tool": "list_dir", "args": {}}, {"text": "a"}, {"text": "b"}, {"text": "c"}])
    loop, _, _, _ = _session(model_server, git_repo, cw_home, monkeypatch, ["one", "two", "/model o3", "three"])
    loop.run()
    kinds = [[i["type"] for i in r.json["input"]] for r in model_server.requests]
    assert "reasoning" in kinds[2]  # same model: carried back
    assert "reasoning" not in kinds[3]  # another model: not sent to it
