"""The typed events' wire form: DESIGN §7's shapes, and which events ``exec --json`` shows."""

from __future__ import annotations

import io
import json

import pytest

from codeward.events import (
    AgentMessage,
    CommandExecution,
    ContextCompacted,
    DecisionMade,
    Egress,
    EventBus,
    FileChange,
    FileChanged,
    ItemCompleted,
    ItemStarted,
    JsonlSink,
    ListSink,
    SessionStarted,
    TodoList,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
)


@pytest.mark.parametrize(
    ("event", "wire"),
    [
        (TurnStarted(), {"type": "turn.started"}),
        (TurnFailed("boom"), {"type": "turn.failed", "error": {"message": "boom"}}),
        (TurnCompleted({"input_tokens": 3}), {"type": "turn.completed", "usage": {"input_tokens": 3}}),
        (
            ItemCompleted(AgentMessage(id="item_1", text="hi")),
            {"type": "item.completed", "item": {"id": "item_1", "type": "agent_message", "text": "hi"}},
        ),
        (
            ItemStarted(CommandExecution(id="item_2", command="ls")),
            {
                "type": "item.started",
                "item": {
                    "id": "item_2",
                    "type": "command_execution",
                    "command": "ls",
                    "aggregated_output": "",
                    "exit_code": None,
                    "status": "in_progress",
                },
            },
        ),
        (
            ItemCompleted(FileChange(id="i", changes=({"path": "a.py", "kind": "add"},), status="declined")),
            {
                "type": "item.completed",
                "item": {
                    "id": "i",
                    "type": "file_change",
                    "changes": [{"path": "a.py", "kind": "add"}],
                    "status": "declined",
                },
            },
        ),
        (
            ItemCompleted(TodoList(id="p", items=({"text": "x", "completed": False},))),
            {
                "type": "item.completed",
                "item": {"id": "p", "type": "todo_list", "items": [{"text": "x", "completed": False}]},
            },
        ),
        (
            Egress(host="h:1", bytes=5, sha256="ab", files=("a.py",), redactions={"aws": 1}),
            {"type": "egress", "host": "h:1", "bytes": 5, "sha256": "ab", "files": ["a.py"], "redactions": {"aws": 1}},
        ),
        (ContextCompacted(100, 10), {"type": "context.compacted", "tokens_before": 100, "tokens_after": 10}),
        (
            FileChanged("a.py", None, "add", None, "cd"),
            {
                "type": "file.changed",
                "path": "a.py",
                "old_path": None,
                "kind": "add",
                "sha256_before": None,
                "sha256_after": "cd",
            },
        ),
        (
            FileChanged("a.py", None, "delete", "cd", None, undo=True),
            {
                "type": "file.changed",
                "path": "a.py",
                "old_path": None,
                "kind": "delete",
                "sha256_before": "cd",
                "sha256_after": None,
                "undo": True,
            },
        ),
    ],
)
def test_wire_form(event, wire):
    assert event.to_json() == wire
    json.dumps(event.to_json())  # always serialisable


def test_exec_json_shows_public_events_only():
    out = io.StringIO()
    bus = EventBus()
    bus.add(JsonlSink(out))
    kept = ListSink()
    bus.add(kept)
    bus.emit(TurnStarted())
    bus.emit(DecisionMade("command", "ls", "allow", "ok", None, None, "mode:full-auto", "allowed"))
    bus.emit(SessionStarted("s", "r", False, "0", "/w", "/w", "p", "http://x", "m", "suggest", "bwrap", "off", "env"))
    assert [json.loads(line)["type"] for line in out.getvalue().splitlines()] == ["turn.started"]
    assert [e["type"] for e in kept.events] == ["turn.started", "decision", "session.started"]


def test_a_failing_sink_stops_the_emit_and_reaches_the_emitter():
    class Broken:
        def emit(self, event):
            raise OSError("disk full")

    seen = ListSink()
    bus = EventBus()
    bus.add(seen)
    bus.add(Broken())
    with pytest.raises(OSError):
        bus.emit(TurnStarted())
    assert seen.events == [{"type": "turn.started"}]  # the sink added first saw it


def test_records_refuse_wrong_fields_and_compare_by_value():
    assert TurnFailed("x") == TurnFailed(message="x") and TurnFailed("x") != TurnFailed("y")
    with pytest.raises(TypeError, match="missing field 'message'"):
        TurnFailed()
    with pytest.raises(TypeError, match="unexpected or repeated field 'nope'"):
        TurnFailed("x", nope=1)
    with pytest.raises(TypeError, match="takes 1 fields, got 2"):
        TurnFailed("x", "y")
    assert CommandExecution(id="i").status == "in_progress"  # defaults from the class
