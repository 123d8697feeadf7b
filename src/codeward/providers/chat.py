"""The Chat Completions wire format (``POST /chat/completions``), as Ollama, vLLM and proxies speak it."""

from __future__ import annotations

from typing import Any

from codeward.providers.types import (
    AssistantTurn,
    Completed,
    Message,
    ModelRequest,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolResult,
    Usage,
)
from codeward.providers.wire import ContextOverflow, MalformedStream, StreamBroken, is_context_overflow, load_json


def _messages(request: ModelRequest) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"role": "system", "content": request.instructions}]
    for item in request.items:
        if isinstance(item, Message):
            # "developer" is not understood by every Chat Completions server; system is
            role = "system" if item.role == "developer" else item.role
            out.append({"role": role, "content": item.text})
        elif isinstance(item, AssistantTurn):
            msg: dict[str, Any] = {"role": "assistant", "content": item.text or None}
            if item.tool_calls:
                msg["tool_calls"] = [
                    {"id": c.call_id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                    for c in item.tool_calls
                ]
            out.append(msg)
        elif isinstance(item, ToolResult):
            out.append({"role": "tool", "tool_call_id": item.call_id, "content": item.output})
    return out


def _usage(u: Any) -> Usage:
    return Usage.from_json(
        u,
        input_key="prompt_tokens",
        output_key="completion_tokens",
        details_key="prompt_tokens_details",
        output_details_key="completion_tokens_details",
    )


class ChatParser:
    """Accumulates streamed deltas, including tool calls whose arguments arrive in fragments."""

    def __init__(self) -> None:
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._calls: dict[int, dict[str, str]] = {}
        self._usage = Usage()
        self._finished = False
        self._done = False

    def feed(self, event: str, data: str) -> list[StreamEvent]:
        if data.strip() == "[DONE]":
            self._done = True
            return []
        chunk = load_json(data, "a chat completion chunk")
        if not isinstance(chunk, dict):
            raise MalformedStream("malformed stream: a chunk is not a JSON object")
        if "error" in chunk:
            err = chunk["error"]
            msg = err.get("message") if isinstance(err, dict) else str(err)
            if is_context_overflow(err.get("code") if isinstance(err, dict) else None, msg):
                raise ContextOverflow(f"the provider refused the request as too long for the model: {msg}")
            raise StreamBroken(f"the provider reported an error mid-stream: {msg}")
        out: list[StreamEvent] = []
        if chunk.get("usage"):
            self._usage = _usage(chunk["usage"])
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or choice.get("message") or {}
            content = delta.get("content")
            if isinstance(content, str) and content:
                self._text.append(content)
                out.append(TextDelta(content))
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                self._reasoning.append(reasoning)
                out.append(ReasoningDelta(reasoning))
            for tc in delta.get("tool_calls") or []:
                idx = int(tc.get("index", len(self._calls)))
                slot = self._calls.setdefault(idx, {"id": "", "name": "", "arguments": ""})
                if tc.get("id"):
                    slot["id"] = tc["id"]
                fn = tc.get("function") or {}
                if fn.get("name") and not slot["name"]:
                    slot["name"] = fn["name"]
                if fn.get("arguments"):
                    slot["arguments"] += fn["arguments"]
            if choice.get("finish_reason"):
                self._finished = True
        return out

    def finish(self) -> Completed:
        if not (self._done or self._finished):
            raise StreamBroken("the response stream ended before the model finished")
        calls = tuple(
            ToolCall(call_id=s["id"] or f"call_{i}", name=s["name"], arguments=s["arguments"] or "{}")
            for i, s in sorted(self._calls.items())
        )
        turn = AssistantTurn(text="".join(self._text), tool_calls=calls, reasoning="".join(self._reasoning))
        return Completed(turn, self._usage)


class ChatFormat:
    path = "/chat/completions"

    def build(self, request: ModelRequest, *, stream: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {"model": request.model, "messages": _messages(request)}
        if request.tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
                }
                for t in request.tools
            ]
            body["tool_choice"] = "auto"
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    def parser(self) -> ChatParser:
        return ChatParser()

    def parse_body(self, body: dict[str, Any]) -> Completed:
        """A non-streamed answer (some servers ignore ``stream``)."""
        p = ChatParser()
        choices = body.get("choices")
        if not isinstance(choices, list) or not choices:
            raise MalformedStream("malformed response: no choices in the chat completion")
        for i, tc in enumerate((choices[0].get("message") or {}).get("tool_calls") or []):
            tc.setdefault("index", i)
        p.feed("", _dumps({"choices": choices, "usage": body.get("usage")}))
        p._finished = True
        return p.finish()


def _dumps(obj: Any) -> str:
    import json

    return json.dumps(obj)
