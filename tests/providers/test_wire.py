"""The two wire formats: request bodies and stream parsing, pure."""

import json

import pytest

from codeward.providers.chat import ChatFormat
from codeward.providers.responses import ResponsesFormat
from codeward.providers.types import AssistantTurn, Message, ModelRequest, ToolCall, ToolResult, ToolSpec
from codeward.providers.wire import MalformedStream, StreamBroken

REQ = ModelRequest(
    model="m",
    instructions="be good",
    items=(
        Message("developer", "agents"),
        Message("user", "task"),
        AssistantTurn(text="", tool_calls=(ToolCall("c1", "shell", '{"command":"ls"}'),)),
        ToolResult("c1", "shell", "exit code: 0"),
    ),
    tools=(ToolSpec("shell", "run", {"type": "object"}),),
)


def test_chat_request_shape():
    body = ChatFormat().build(REQ)
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["system", "system", "user", "assistant", "tool"]
    assert body["messages"][3]["tool_calls"][0]["function"] == {"name": "shell", "arguments": '{"command":"ls"}'}
    assert body["messages"][4] == {"role": "tool", "tool_call_id": "c1", "content": "exit code: 0"}
    assert body["tools"][0]["function"]["name"] == "shell"
    assert body["stream"] is True


def test_responses_request_has_store_false_and_items():
    body = ResponsesFormat().build(REQ)
    assert body["store"] is False
    assert body["instructions"] == "be good"
    types = [i["type"] for i in body["input"]]
    assert types == ["message", "message", "function_call", "function_call_output"]
    assert body["input"][0]["role"] == "developer"
    assert body["tools"][0] == {
        "type": "function",
        "name": "shell",
        "description": "run",
        "parameters": {"type": "object"},
    }


def chat_chunk(delta, finish=None, **extra):
    return json.dumps({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra})


def test_chat_parser_joins_tool_call_fragments():
    p = ChatFormat().parser()
    p.feed(
        "", chat_chunk({"tool_calls": [{"index": 0, "id": "call_a", "function": {"name": "shell", "arguments": ""}}]})
    )
    p.feed("", chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"comm'}}]}))
    p.feed("", chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'and":"ls"}'}}]}))
    p.feed(
        "",
        chat_chunk(
            {"tool_calls": [{"index": 1, "id": "call_b", "function": {"name": "read_file", "arguments": "{}"}}]}
        ),
    )
    p.feed("", chat_chunk({}, "tool_calls"))
    p.feed("", json.dumps({"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3}}))
    p.feed("", "[DONE]")
    done = p.finish()
    assert [(c.call_id, c.name, c.arguments) for c in done.turn.tool_calls] == [
        ("call_a", "shell", '{"command":"ls"}'),
        ("call_b", "read_file", "{}"),
    ]
    assert done.usage.input_tokens == 7 and done.usage.output_tokens == 3


def test_chat_parser_text_and_truncated_stream():
    p = ChatFormat().parser()
    out = p.feed("", chat_chunk({"content": "hel"})) + p.feed("", chat_chunk({"content": "lo"}))
    assert [e.text for e in out] == ["hel", "lo"]
    with pytest.raises(StreamBroken):
        p.finish()  # no finish_reason, no [DONE]: the stream was cut


def test_chat_parser_rejects_non_json():
    with pytest.raises(MalformedStream, match="not JSON"):
        ChatFormat().parser().feed("", "{oops")


def test_responses_parser_function_call_and_usage():
    p = ResponsesFormat().parser()
    item = {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "shell", "arguments": ""}
    p.feed("", json.dumps({"type": "response.output_item.added", "item": item}))
    p.feed(
        "", json.dumps({"type": "response.function_call_arguments.delta", "item_id": "fc_1", "delta": '{"command":'})
    )
    p.feed("", json.dumps({"type": "response.function_call_arguments.delta", "item_id": "fc_1", "delta": '"ls"}'}))
    p.feed(
        "",
        json.dumps(
            {
                "type": "response.completed",
                "response": {
                    "usage": {"input_tokens": 4, "output_tokens": 2, "input_tokens_details": {"cached_tokens": 1}}
                },
            }
        ),
    )
    done = p.finish()
    assert done.turn.tool_calls == (ToolCall("call_1", "shell", '{"command":"ls"}'),)
    assert (done.usage.input_tokens, done.usage.cached_input_tokens, done.usage.output_tokens) == (4, 1, 2)


def test_responses_parser_failed_event_and_missing_completion():
    p = ResponsesFormat().parser()
    with pytest.raises(StreamBroken, match=r"response\.failed"):
        p.feed("", json.dumps({"type": "response.failed", "response": {"error": {"message": "overloaded"}}}))
    p2 = ResponsesFormat().parser()
    p2.feed("", json.dumps({"type": "response.output_text.delta", "delta": "hi"}))
    with pytest.raises(StreamBroken, match=r"before response\.completed"):
        p2.finish()
