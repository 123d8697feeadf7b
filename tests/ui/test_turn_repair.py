"""After Ctrl-C the conversation must stay valid for both wire APIs, and say what happened."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

from codeward.agent.history import SavedSession
from codeward.agent.loop import Agent
from codeward.events import EventBus, ListSink
from codeward.providers.types import AssistantTurn, Message, ToolCall, ToolResult
from codeward.ui.session_loop import INTERRUPT_NOTE, recap_lines


def agent() -> tuple[Agent, ListSink]:
    bus = EventBus()
    sink = ListSink()
    bus.add(sink)
    ctx = SimpleNamespace(plan_item_id=None, last_plan=None)
    a = Agent(
        model="m",
        wire=None,  # type: ignore[arg-type]
        gate=None,  # type: ignore[arg-type]
        tools=None,  # type: ignore[arg-type]
        ctx=ctx,  # type: ignore[arg-type]
        events=bus,
        preamble=Message("developer", "pre"),
        max_steps=3,
    )
    return a, sink


def test_interrupted_while_waiting_for_the_first_answer():
    a, sink = agent()
    a.items += [Message("user", "do it")]
    a.interrupt(INTERRUPT_NOTE)
    assert a.items[-2:] == [Message("user", "do it"), Message("user", INTERRUPT_NOTE)]
    assert sink.of_type("turn.failed") == [{"type": "turn.failed", "error": {"message": "interrupted by the user"}}]


def test_every_unanswered_call_gets_a_result():
    a, _ = agent()
    # an earlier turn used the same call ids (some servers number per response)
    a.items += [
        Message("user", "old"),
        AssistantTurn("", (ToolCall("call_0", "shell", "{}"),)),
        ToolResult("call_0", "shell", "exit code: 0"),
        AssistantTurn("done"),
        Message("user", "new"),
        AssistantTurn("", (ToolCall("call_0", "read_file", "{}"), ToolCall("call_1", "shell", "{}"))),
        ToolResult("call_0", "read_file", "content"),
    ]
    a.interrupt(INTERRUPT_NOTE)
    assert a.items[-2] == ToolResult("call_1", "shell", "interrupted by the user: this tool call was stopped")
    assert a.items[-1] == Message("user", INTERRUPT_NOTE)
    last_turn = max(i for i, item in enumerate(a.items) if isinstance(item, AssistantTurn))
    answered = {i.call_id for i in a.items[last_turn + 1 :] if isinstance(i, ToolResult)}
    assert answered == {"call_0", "call_1"}


def test_recap_of_a_saved_session():
    saved = SavedSession(
        path=Path("/x.jsonl"),
        session_id="0123abcd-0000",
        created=time.mktime((2025, 3, 4, 5, 6, 0, 0, 0, -1)),
        cwd="/src/app",
        items=(
            Message("developer", "pre"),
            Message("user", "fix the login bug\nit fails on empty passwords"),
            AssistantTurn("", (ToolCall("c", "shell", "{}"),)),
            ToolResult("c", "shell", "ok"),
            AssistantTurn("Fixed: empty passwords are refused.\nTests pass."),
            Message("user", "[The user changed the approval mode to full-auto.]"),
        ),
        meta={},
    )
    lines = recap_lines(saved)
    assert lines[0] == "resuming session 0123abcd-0000 from 2025-03-04 05:06 in /src/app"
    assert lines[1] == "1 prompt, 1 answer, 1 tool call"
    assert lines[2:] == [
        "last prompt:",
        "  › fix the login bug",
        "  › it fails on empty passwords",
        "last answer:",
        "  Fixed: empty passwords are refused.",
        "  Tests pass.",
    ]
