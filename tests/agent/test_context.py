"""Context accounting and compaction helpers: pure golden cases."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from codeward.agent.context import (
    SUMMARY_PREFIX,
    ContextTracker,
    compacted_items,
    fit_output,
    kept_user_messages,
    known_window,
    shrink_for_summary,
    tool_output_budget,
    units,
    window_from_error,
)
from codeward.providers.types import AssistantTurn, Message, ToolCall, ToolResult


def test_fit_output_keeps_head_and_tail_and_says_how_to_read_the_rest():
    text = "".join(f"{n:6}\tline {n}\n" for n in range(1, 5001))
    out = fit_output(text, 500, "read_file")
    assert len(out.encode()) <= 500 * 4
    assert out.startswith("     1\tline 1\n")
    assert out.rstrip().endswith("5000\tline 5000")
    assert "cut from the middle" in out and "offset/limit" in out
    # cuts fall on line boundaries: every kept line is whole
    kept = [ln for ln in out.splitlines() if "\t" in ln]
    assert all(ln.split("\t")[1] == f"line {int(ln.split(chr(9))[0])}" for ln in kept)


def test_fit_output_leaves_small_text_alone():
    assert fit_output("short", 10, "shell") == "short"


@given(st.text(min_size=0, max_size=20_000), st.integers(min_value=256, max_value=3000))
def test_fit_output_always_within_budget(text, tokens):
    out = fit_output(text, tokens, "shell")
    if len(text.encode()) <= tokens * 4:
        assert out == text
    else:
        assert len(out.encode()) <= tokens * 4 and "cut from the middle" in out


def test_known_windows_and_budgets():
    assert known_window("gpt-4o-2024-08-06") == 128_000
    assert known_window("openai/gpt-4.1-mini") == 1_047_576
    assert known_window("gpt-4") == 8_192
    assert known_window("my-local-thing") is None
    assert tool_output_budget(1_000_000) == 10_000
    assert tool_output_budget(16_000) == 1_600


def test_window_from_openai_error():
    msg = "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens."
    assert window_from_error(msg) == 8192
    assert window_from_error("something else") is None


def test_tracker_is_conservative_with_provider_usage():
    t = ContextTracker(100_000)
    assert t.limit == 90_000
    assert t.estimate(4000) == 1000
    t.observe(4000, input_tokens=2000, output_tokens=10)  # 2 bytes a token here: estimates follow
    assert t.estimate(4000) == 2000 and t.used == 2010
    t.observe(4000, input_tokens=100, output_tokens=0)  # a server under-reporting never lowers it
    assert t.estimate(4000) >= 1000
    t2 = ContextTracker(100_000, configured_limit=50_000)
    assert t2.limit == 50_000


def test_tracker_shrinks_after_an_overflow():
    t = ContextTracker(100_000)
    t.shrink_after_overflow(40_000, None)  # 10k tokens refused: the window is below that
    assert t.window < 10_000 and t.window_source == "provider error"
    t.shrink_after_overflow(40_000, 4096)  # the provider said how big it is
    assert t.window == 4096


def _history():
    pre = Message("developer", "preamble")
    items = [pre, Message("user", "the task")]
    for i in range(5):
        items.append(AssistantTurn("", (ToolCall(f"c{i}", "read_file", "{}"),)))
        items.append(ToolResult(f"c{i}", "read_file", f"output {i} " + "x" * 4000))
    items.append(Message("user", "a follow-up"))
    return pre, items


def test_units_keep_answers_with_their_results():
    _, items = _history()
    groups = units(items)
    assert [len(g) for g in groups] == [1, 1, 2, 2, 2, 2, 2, 1]


def test_compacted_history_keeps_task_and_recent_users_verbatim():
    pre, items = _history()
    out = compacted_items(pre, items, "what happened", 1000)
    assert out[0] is pre
    assert [m.text for m in out[1:-1]] == ["the task", "a follow-up"]
    assert out[-1].text == SUMMARY_PREFIX + "what happened"
    # compacting again does not keep the old summary as a user message
    again = compacted_items(pre, out, "later", 1000)
    assert [m.text for m in again[1:-1]] == ["the task", "a follow-up"]


def test_kept_user_messages_prefer_the_most_recent_within_budget():
    msgs = [Message("user", "task")] + [Message("user", f"m{i} " + "y" * 400) for i in range(10)]
    kept = kept_user_messages(msgs, 300)  # 1200 bytes: the task and the last two
    assert kept[0].text == "task"
    assert [m.text[:3] for m in kept[1:]] == ["m8 ", "m9 "]


def test_shrink_drops_seen_items_first_then_cuts_unseen_outputs():
    _, items = _history()
    received = items[:8]  # the model has received the first three tool results
    out = shrink_for_summary(items, lambda i: any(i is r for r in received), over=1500, tool_budget=2000)
    outputs = [i.output for i in out if isinstance(i, ToolResult)]
    assert not any(o.startswith("output 0") for o in outputs)  # oldest seen dropped
    assert any(o.startswith("output 4") for o in outputs)  # unseen kept
    assert all(isinstance(i, Message) for i in out if getattr(i, "role", "") == "user")
    # nothing left to drop: unseen outputs are cut rather than lost
    harder = shrink_for_summary(items, lambda i: False, over=100_000, tool_budget=2000)
    cut = [i.output for i in harder if isinstance(i, ToolResult)]
    assert len(cut) == 5 and all(o.startswith(f"output {n}") for n, o in enumerate(cut))
    assert all(len(o) < 4000 for o in cut)
