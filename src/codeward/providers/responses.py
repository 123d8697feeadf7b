"""The Responses wire format (``POST /responses``). Every request carries ``store: false``."""

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

REASONING_ITEM_KEYS = ("type", "id", "summary", "content", "encrypted_content")


def _input(request: ModelRequest) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in request.items:
        if isinstance(item, Message):
            kind = "output_text" if item.role == "assistant" else "input_text"
            out.append({"type": "message", "role": item.role, "content": [{"type": kind, "text": item.text}]})
        elif isinstance(item, AssistantTurn):
            for r in item.reasoning_items:
                # the id is left out: with store=false the provider keeps nothing to refer to
                out.append({k: v for k, v in r.items() if k != "id"})
            if item.text:
                out.append(
                    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": item.text}]}
                )
            for c in item.tool_calls:
                out.append({"type": "function_call", "call_id": c.call_id, "name": c.name, "arguments": c.arguments})
        elif isinstance(item, ToolResult):
            out.append({"type": "function_call_output", "call_id": item.call_id, "output": item.output})
    return out


def _usage(u: Any) -> Usage:
    return Usage.from_json(
        u,
        input_key="input_tokens",
        output_key="output_tokens",
        details_key="input_tokens_details",
        output_details_key="output_tokens_details",
    )


class ResponsesParser:
    def __init__(self) -> None:
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._calls: dict[str, dict[str, str]] = {}  # item id -> call
        self._order: list[str] = []
        self._final: dict[str, Any] | None = None
        self._reasoning_items: list[dict[str, Any]] = []

    def _call_slot(self, item: dict[str, Any]) -> dict[str, str]:
        key = str(item.get("id") or item.get("call_id") or len(self._order))
        if key not in self._calls:
            self._calls[key] = {"call_id": "", "name": "", "arguments": ""}
            self._order.append(key)
        slot = self._calls[key]
        slot["call_id"] = item.get("call_id") or slot["call_id"]
        slot["name"] = item.get("name") or slot["name"]
        return slot

    def feed(self, event: str, data: str) -> list[StreamEvent]:
        if data.strip() == "[DONE]":
            return []
        ev = load_json(data, "a Responses event")
        if not isinstance(ev, dict):
            raise MalformedStream("malformed stream: an event is not a JSON object")
        kind = ev.get("type") or event
        out: list[StreamEvent] = []
        if kind == "response.output_text.delta":
            d = ev.get("delta") or ""
            self._text.append(d)
            out.append(TextDelta(d))
        elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            d = ev.get("delta") or ""
            self._reasoning.append(d)
            out.append(ReasoningDelta(d))
        elif kind == "response.output_item.added":
            item = ev.get("item") or {}
            if item.get("type") == "function_call":
                self._call_slot(item)
        elif kind == "response.function_call_arguments.delta":
            key = str(ev.get("item_id") or "")
            if key in self._calls:
                self._calls[key]["arguments"] += ev.get("delta") or ""
        elif kind == "response.output_item.done":
            item = ev.get("item") or {}
            if item.get("type") == "reasoning":
                self._reasoning_items.append(_reasoning_item(item))
            elif item.get("type") == "function_call":
                slot = self._call_slot(item)
                if isinstance(item.get("arguments"), str):
                    slot["arguments"] = item["arguments"]
        elif kind == "response.completed":
            self._final = ev.get("response") or {}
        elif kind in ("response.failed", "response.incomplete"):
            resp = ev.get("response") or {}
            err = resp.get("error") or resp.get("incomplete_details") or {}
            msg = err.get("message") or err.get("reason") or kind
            if is_context_overflow(err.get("code"), msg):
                raise ContextOverflow(f"the provider refused the request as too long for the model: {msg}")
            raise StreamBroken(f"the provider reported {kind}: {msg}")
        elif kind == "error":
            if is_context_overflow(ev.get("code"), ev.get("message")):
                raise ContextOverflow(
                    f"the provider refused the request as too long for the model: {ev.get('message')}"
                )
            raise StreamBroken(f"the provider reported an error mid-stream: {ev.get('message') or ev}")
        return out

    def finish(self) -> Completed:
        if self._final is None:
            raise StreamBroken("the response stream ended before response.completed")
        text = "".join(self._text)
        if not text and not self._calls:
            # a server may send only the final response object: read its output items
            for item in self._final.get("output") or []:
                if item.get("type") == "reasoning" and not self._reasoning_items:
                    self._reasoning_items.append(_reasoning_item(item))
                elif item.get("type") == "message":
                    text += "".join(c.get("text", "") for c in item.get("content") or [] if isinstance(c, dict))
                elif item.get("type") == "function_call":
                    slot = self._call_slot(item)
                    slot["arguments"] = item.get("arguments") or "{}"
        calls = tuple(
            ToolCall(call_id=s["call_id"] or k, name=s["name"], arguments=s["arguments"] or "{}")
            for k, s in ((k, self._calls[k]) for k in self._order)
        )
        return Completed(
            AssistantTurn(
                text=text,
                tool_calls=calls,
                reasoning="".join(self._reasoning),
                reasoning_items=tuple(self._reasoning_items),
            ),
            _usage(self._final.get("usage")),
        )


class ResponsesFormat:
    path = "/responses"

    def build(self, request: ModelRequest, *, stream: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model,
            "instructions": request.instructions,
            "input": _input(request),
            "store": False,
        }
        if request.tools:
            body["tools"] = [
                {"type": "function", "name": t.name, "description": t.description, "parameters": t.parameters}
                for t in request.tools
            ]
            body["tool_choice"] = "auto"
        if request.reasoning is not None:
            body["reasoning"] = dict(request.reasoning)
            # store=false keeps nothing server-side: ask for the reasoning back, encrypted, to resend
            body["include"] = ["reasoning.encrypted_content"]
        if request.cache_key:
            body["prompt_cache_key"] = request.cache_key
        if stream:
            body["stream"] = True
        return body

    def parser(self) -> ResponsesParser:
        return ResponsesParser()

    def parse_body(self, body: dict[str, Any]) -> Completed:
        p = ResponsesParser()
        p._final = body
        return p.finish()


def _reasoning_item(item: dict[str, Any]) -> dict[str, Any]:
    """A reasoning output item as it is carried back: its known fields, content untouched."""
    return {k: item[k] for k in REASONING_ITEM_KEYS if k in item and item[k] is not None}
