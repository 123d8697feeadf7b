"""The renderer as an event sink: what a user sees for each event, drawn into a string."""

from __future__ import annotations

import io
import re

from rich.console import Console

from codeward.providers.types import TextDelta
from codeward.ui.render import Activity, Renderer, collapse, diff_text, elapsed, plain_output, visible

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def make(width: int = 100) -> tuple[Renderer, io.StringIO]:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system="truecolor", width=width, height=30)
    return Renderer(console), out


def plain(out: io.StringIO) -> str:
    return ANSI.sub("", out.getvalue())


def test_visible_escapes_terminal_controls_and_bidi():
    assert visible("a\x1b[2Jb\x07c\td\ne") == "a\\x1b[2Jb\\x07c\td\ne"
    assert visible("safe \u202eevil") == "safe \\u202eevil"
    assert visible("naïve 日本 ✓") == "naïve 日本 ✓"
    assert plain_output("\x1b[31mred\x1b[0m line\r\n\x1b]0;title\x07x\x00") == "red line\nx\\x00"


def test_collapse():
    assert collapse("") == ([], 0)
    short = "\n".join(str(i) for i in range(16))
    assert collapse(short) == (short.split("\n"), 0)  # hiding 4 lines would save nothing
    assert collapse(short + "\n16")[1] == 5
    lines, hidden = collapse("\n".join(str(i) for i in range(1, 101)) + "\n")
    assert hidden == 88
    assert lines == [str(i) for i in (1, 2, 3, 4, 5, 6, 95, 96, 97, 98, 99, 100)]


def test_elapsed():
    assert elapsed(4.24) == "4.2s" and elapsed(65) == "1m 05s"


def test_privacy_line_per_request_counts_withheld_since_the_previous_one():
    r, out = make()
    r.show({"type": "withheld", "tool": "list_dir", "count": 2, "path": None, "rule": "r", "source": ".codexignore"})
    egress = {"type": "egress", "host": "api.openai.com", "bytes": 12_700, "sha256": "ab" * 32, "files": []}
    r.show({**egress, "redactions": {"aws": 3}})
    r.show({"type": "response.received"})
    r.show({**egress, "bytes": 100, "redactions": {}})
    r.end_turn()
    text = plain(out)
    assert "↑ sent 12.4 KB to api.openai.com; 3 secrets redacted; 2 files withheld by .codexignore" in text
    assert "↑ sent 100 B to api.openai.com; nothing redacted\n" in text
    assert [rec.entry.bytes for rec in r.sent] == [12_700, 100]


def test_agent_message_is_rendered_as_markdown_with_highlighted_code():
    r, out = make()
    r.show(
        {
            "type": "item.completed",
            "item": {
                "id": "i",
                "type": "agent_message",
                "text": "Use **this**:\n\n```python\ndef f():\n    return 1\n```\n",
            },
        }
    )
    raw = out.getvalue()
    text = plain(out)
    assert "```" not in text and "**" not in text
    assert "def f():" in text and "return 1" in text
    assert "\x1b[" in raw  # styled: bold text and highlighted code


def test_model_text_cannot_repaint_the_terminal():
    r, out = make()
    r.show({"type": "item.completed", "item": {"id": "i", "type": "agent_message", "text": "hi \x1b[2J\x1b[Hgone"}})
    raw = out.getvalue()
    assert "\x1b[2J" not in raw and "\\x1b[2J" in raw


def test_command_lifecycle_and_collapsed_output():
    r, out = make()
    item = {"id": "c1", "type": "command_execution", "command": "seq 1 100", "aggregated_output": "", "exit_code": None}
    r.show({"type": "item.started", "item": {**item, "status": "in_progress"}})
    assert r.running == {"c1": {**item, "status": "in_progress"}}
    output = "\n".join(str(i) for i in range(1, 101)) + "\n"
    r.show(
        {"type": "item.completed", "item": {**item, "status": "completed", "aggregated_output": output, "exit_code": 0}}
    )
    text = plain(out)
    assert "$ seq 1 100" in text
    assert "  6\n" in text and "  95\n" in text and "  50\n" not in text
    assert "… 88 more lines; /expand to see all" in text
    assert re.search(r"✓ exit 0 · \d+\.\ds", text)
    assert r.last_output == output and r.running == {}


def test_failed_and_declined_commands():
    r, out = make()
    item = {"id": "c", "type": "command_execution", "command": "false", "aggregated_output": ""}
    r.show({"type": "item.completed", "item": {**item, "status": "declined", "exit_code": None}})
    assert plain(out) == ""  # the approval prompt already said it
    r.show({"type": "item.completed", "item": {**item, "status": "failed", "exit_code": 1}})
    assert "✗ exit 1" in plain(out)


def test_policy_refusal_is_shown():
    r, out = make()
    r.show(
        {
            "type": "decision",
            "action": "command",
            "target": "rm -rf /",
            "decision": "deny",
            "reason": "matches disallow_commands 'rm -rf' (AGENTS.md:2)",
            "outcome": "denied",
        }
    )
    text = plain(out)
    assert "✗ refused by policy: $ rm -rf /" in text and "AGENTS.md:2" in text


def test_applied_edit_shows_its_diff_unless_the_approval_did():
    r, out = make()
    r.diff_source = lambda: "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+new\n"
    done = {
        "type": "item.completed",
        "item": {"id": "f", "type": "file_change", "changes": [{"path": "x", "kind": "update"}], "status": "completed"},
    }
    r.show(done)
    assert "+new" in plain(out) and "✓ applied: M x" in plain(out)
    r2, out2 = make()
    r2.diff_source = r.diff_source
    r2.diff_shown = True
    r2.show(done)
    assert "+new" not in plain(out2) and "✓ applied: M x" in plain(out2)


def test_diff_colours():
    t = diff_text("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+new\n ctx")
    styles = {t.plain[s.start : s.end].strip(): str(s.style) for s in t.spans}
    assert styles["-old"] == "red" and styles["+new"] == "green" and styles["@@ -1 +1 @@"] == "cyan"


def test_interrupted_closes_open_commands():
    r, out = make()
    item = {"id": "c", "type": "command_execution", "command": "sleep 30", "aggregated_output": "", "exit_code": None}
    r.show({"type": "item.started", "item": {**item, "status": "in_progress"}})
    emitted = []

    def emit(event):
        emitted.append(event.to_json())
        r.emit(event)

    r.interrupted(emit)
    r.show({"type": "turn.failed", "error": {"message": "interrupted by the user"}})
    assert emitted[0]["item"]["status"] == "failed" and emitted[0]["item"]["id"] == "c"
    text = plain(out)
    assert "⏹ stopped: the command and everything it started were killed" in text
    assert "✗ interrupted" not in text  # the session says it once, in its own words
    r.show({"type": "turn.failed", "error": {"message": "provider refused"}})
    assert "✗ provider refused" in plain(out)


def test_live_view_shows_the_tail_of_a_long_stream():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=40, height=10)
    act = Activity("waiting")
    act.text = "\n".join(f"line {i}" for i in range(50))
    console.print(act)
    text = ANSI.sub("", out.getvalue())
    assert "line 49" in text and "line 10" not in text
    assert "waiting" in text and "Ctrl-C to cancel" in text


def test_stream_deltas_feed_the_live_view():
    r, _ = make()
    r.on_stream(TextDelta("ignored: nothing is waiting"))
    r.start_activity("waiting")
    r.on_stream(TextDelta("hel"))
    r.on_stream(TextDelta("lo"))
    assert r._activity is not None and r._activity.text == "hello"
    r.end_turn()
    assert r._activity is None


def test_a_drawing_error_never_escapes_the_sink():
    r, out = make()
    r.show({"type": "item.started", "item": {"type": "command_execution"}})  # no id, no command: malformed
    assert "display error" in plain(out)


def test_read_tools_are_named_when_the_answer_asks_for_them():
    r, out = make()
    r.show({"type": "response.received", "usage": {}, "duration_ms": 1, "tool_calls": ["read_file", "grep", "shell"]})
    r.show({"type": "response.received", "usage": {}, "duration_ms": 1, "tool_calls": ["apply_patch"]})
    assert plain(out) == "· read_file, grep\n"


def test_plan_updates_and_reasoning():
    r, out = make()
    plan = {
        "id": "p",
        "type": "todo_list",
        "items": [{"text": "read the code", "completed": True}, {"text": "fix it", "completed": False}],
    }
    r.show({"type": "item.started", "item": plan})
    r.show({"type": "item.updated", "item": {**plan, "items": [{**i, "completed": True} for i in plan["items"]]}})
    r.show({"type": "item.completed", "item": {"id": "x", "type": "reasoning", "text": "the  bug is\nin add"}})
    text = plain(out)
    assert "plan:\n  ☑ read the code\n  ☐ fix it\nplan:\n  ☑ read the code\n  ☑ fix it\n" in text
    assert "thinking: the bug is in add" in text


def test_reasoning_deltas_switch_the_label_until_text_arrives():
    from codeward.providers.types import ReasoningDelta

    r, _ = make()
    r.start_activity("waiting for api.openai.com")
    r.on_stream(ReasoningDelta("hmm"))
    assert r._activity is not None and r._activity.thinking
    out = io.StringIO()
    Console(file=out, width=80, height=20).print(r._activity)
    assert "thinking ·" in out.getvalue()
    r.on_stream(TextDelta("Answer"))
    out = io.StringIO()
    Console(file=out, width=80, height=20).print(r._activity)
    assert "waiting for api.openai.com ·" in out.getvalue() and "Answer" in out.getvalue()
    r.end_turn()


def test_codex_shaped_items_are_shown_as_the_user_knows_them():
    """Items carry Codex's absolute paths and executed command lines; the terminal shows the
    workspace-relative path and the script the model asked for."""
    r, out = make()
    r.show({"type": "session.started", "workspace": "/w/repo"})
    r.show(
        {
            "type": "item.started",
            "item": {"id": "c", "type": "command_execution", "command": "bash -c 'make test'", "status": "in_progress"},
        }
    )
    r.show(
        {
            "type": "item.completed",
            "item": {
                "id": "f",
                "type": "file_change",
                "changes": [{"path": "/w/repo/src/a.py", "kind": "update"}, {"path": "/elsewhere/b", "kind": "add"}],
                "status": "completed",
            },
        }
    )
    text = plain(out)
    assert "$ make test" in text and "bash -c" not in text
    assert "M src/a.py" in text and "A /elsewhere/b" in text
