"""A scripted OpenAI-compatible model server on loopback, for end-to-end tests and benchmarks.

It speaks Chat Completions and Responses, streamed (SSE, tool-call arguments split into fragments)
or not, and records every request it receives so a test can assert exactly what left codeward.

Each POST consumes the next step of the script:

* ``{"text": "..."}``: answer and end the turn (optionally ``"reasoning": "..."``);
* ``{"tool": NAME, "args": {...}}`` or ``{"tools": [[NAME, {...}], ...]}``: call tools;
* ``{"status": 429, "retry_after": "0", "message": "..."}``: an HTTP error (any status);
* ``{"malformed": true}``: a stream whose data is not JSON;
* ``{"drop": true}``: a stream cut off after the first delta, before it completes;
* ``{"stall": SECONDS}``: send the first delta, then nothing for SECONDS.

When the script runs out it answers ``"done"``.

Options of :class:`ModelServer`, for long sessions:

* ``window=N``: a context limit. A body over 4 bytes per token of ``N`` is refused like OpenAI does
  (HTTP 400, ``code: context_length_exceeded``) without consuming a step; ``refused`` counts them.
* ``summary_marker=TEXT``: a request whose last input contains TEXT is a compaction request; it is
  answered with a summary (``summary N``) without consuming a step.
* ``encrypted_reasoning=True``: every Responses answer starts with a reasoning item carrying
  ``encrypted_content`` (``enc-N-<random>``), like OpenAI's with ``store: false``. Run as a script for benchmarks:
``python model_server.py SCRIPT.json PORTFILE [RECORD.jsonl]``.
"""

from __future__ import annotations

import json
import secrets
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: str

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class ScriptState:
    steps: list[dict[str, Any]] = field(default_factory=list)
    index: int = 0
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    window: int | None = None
    summary_marker: str | None = None
    encrypted_reasoning: bool = False
    refused: int = 0
    summaries: int = 0
    reasoning_sent: list[dict[str, Any]] = field(default_factory=list)

    def next_step(self) -> dict[str, Any]:
        with self.lock:
            i = self.index
            self.index += 1
        return self.steps[i] if i < len(self.steps) else {"text": "done"}


def _base32(n: int) -> str:
    return "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(n))


def _last_input(req: dict[str, Any]) -> str:
    """The text of the last message of either wire API's request."""
    seq = req.get("messages") or req.get("input") or []
    if not isinstance(seq, list) or not seq:
        return ""
    return json.dumps(seq[-1])


def _calls(step: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    if "tool" in step:
        return [(step["tool"], step.get("args", {}))]
    return [(c[0], c[1]) for c in step.get("tools", [])]


USAGE_CHAT = {
    "prompt_tokens": 12,
    "completion_tokens": 5,
    "total_tokens": 17,
    "prompt_tokens_details": {"cached_tokens": 2},
    "completion_tokens_details": {"reasoning_tokens": 3},
}
USAGE_RESP = {
    "input_tokens": 12,
    "output_tokens": 5,
    "total_tokens": 17,
    "input_tokens_details": {"cached_tokens": 2},
    "output_tokens_details": {"reasoning_tokens": 3},
}


def make_handler(state: ScriptState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _send(
            self, code: int, body: str, ctype: str = "application/json", extra: dict[str, str] | None = None
        ) -> None:
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/models"):
                self._send(200, json.dumps({"object": "list", "data": [{"id": "scripted-model", "object": "model"}]}))
            else:
                self._send(404, json.dumps({"error": {"message": "not found"}}))

        def do_POST(self) -> None:
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n).decode("utf-8", "replace")
            with state.lock:
                state.requests.append(Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, raw))
            try:
                req = json.loads(raw)
            except ValueError:
                self._send(400, json.dumps({"error": {"message": "bad json"}}))
                return
            if self.path.rstrip("/").endswith("/api/show"):
                self._ollama_show(req)
                return
            if state.window is not None and len(raw.encode()) > 4 * state.window:
                with state.lock:
                    state.refused += 1
                err = {
                    "message": f"This model's maximum context length is {state.window} tokens. However, your "
                    f"messages resulted in {len(raw.encode()) // 4} tokens. Please reduce the length of the messages.",
                    "type": "invalid_request_error",
                    "param": "messages",
                    "code": "context_length_exceeded",
                }
                self._send(400, json.dumps({"error": err}))
                return
            if state.summary_marker is not None and state.summary_marker in _last_input(req):
                with state.lock:
                    state.summaries += 1
                    step = {"text": f"summary {state.summaries}"}
            else:
                step = state.next_step()
            if "status" in step:
                extra = {"Retry-After": str(step["retry_after"])} if "retry_after" in step else None
                msg = step.get("message", f"scripted HTTP {step['status']}")
                self._send(int(step["status"]), json.dumps({"error": {"message": msg}}), extra=extra)
                return
            stream = bool(req.get("stream"))
            route = self.path.split("?", 1)[0]
            if route.endswith("/chat/completions"):
                self._chat(step, stream)
            elif route.endswith("/responses"):
                self._responses(step, stream)
            else:
                self._send(404, json.dumps({"error": {"message": f"no route {self.path}"}}))

        def _ollama_show(self, req: dict[str, Any]) -> None:
            """Ollama's model metadata: ``window`` as the model's trained length and its num_ctx."""
            ctx = state.window or 4096
            body = {
                "parameters": f'stop                           "<|im_end|>"\nnum_ctx                        {ctx}',
                "model_info": {"general.architecture": "qwen2", "qwen2.context_length": 32768},
                "details": {"family": "qwen2"},
            }
            self._send(200, json.dumps(body))

        # -- streaming helpers ------------------------------------------------------------

        def _start_stream(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True

        def _write(self, text: str) -> None:
            self.wfile.write(text.encode())
            self.wfile.flush()

        def _special(self, step: dict[str, Any], first: str) -> bool:
            """Handle malformed/drop/stall steps after the stream started; True when handled."""
            if step.get("malformed"):
                self._write("data: {this is not json\n\n")
                return True
            if step.get("drop"):
                self._write(first)
                return True  # connection closes without completing
            if "stall" in step:
                self._write(first)
                time.sleep(float(step["stall"]))
                return True
            return False

        def _chat(self, step: dict[str, Any], stream: bool) -> None:
            calls = _calls(step)
            base = {"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 0, "model": "scripted-model"}
            if not stream and not any(k in step for k in ("malformed", "drop", "stall")):
                msg: dict[str, Any] = {"role": "assistant", "content": None if calls else step.get("text", "done")}
                if calls:
                    msg["tool_calls"] = [
                        {"id": f"call_{i}", "type": "function", "function": {"name": n, "arguments": json.dumps(a)}}
                        for i, (n, a) in enumerate(calls)
                    ]
                body = {
                    "id": "chatcmpl-s",
                    "object": "chat.completion",
                    "model": "scripted-model",
                    "usage": USAGE_CHAT,
                    "choices": [{"index": 0, "message": msg, "finish_reason": "tool_calls" if calls else "stop"}],
                }
                self._send(200, json.dumps(body))
                return
            self._start_stream()

            def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
                return (
                    "data: "
                    + json.dumps({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra})
                    + "\n\n"
                )

            first = chunk({"role": "assistant", "content": ""})
            if self._special(step, chunk({"content": "partial "})):
                return
            self._write(first)
            if step.get("reasoning"):
                self._write(chunk({"reasoning_content": step["reasoning"]}))
            if calls:
                for i, (name, args) in enumerate(calls):
                    a = json.dumps(args)
                    self._write(
                        chunk(
                            {
                                "tool_calls": [
                                    {
                                        "index": i,
                                        "id": f"call_{i}",
                                        "type": "function",
                                        "function": {"name": name, "arguments": ""},
                                    }
                                ]
                            }
                        )
                    )
                    third = max(1, len(a) // 3)
                    for part in (a[:third], a[third : 2 * third], a[2 * third :]):
                        if part:
                            self._write(chunk({"tool_calls": [{"index": i, "function": {"arguments": part}}]}))
                self._write(chunk({}, "tool_calls"))
            else:
                text = step.get("text", "done")
                for part in (text[: len(text) // 2], text[len(text) // 2 :]):
                    if part:
                        self._write(chunk({"content": part}))
                self._write(chunk({}, "stop"))
            self._write("data: " + json.dumps({**base, "choices": [], "usage": USAGE_CHAT}) + "\n\n")
            self._write("data: [DONE]\n\n")

        def _responses(self, step: dict[str, Any], stream: bool) -> None:
            calls = _calls(step)
            items: list[dict[str, Any]] = []
            if state.encrypted_reasoning:
                with state.lock:
                    n = len(state.reasoning_sent)
                    r = {
                        "type": "reasoning",
                        "id": f"rs_{n}",
                        "summary": [{"type": "summary_text", "text": f"thinking {n}"}],
                        # looks like a credential to a scanner: the gate must still pass it untouched
                        "encrypted_content": f"enc-{n} AKIA{_base32(16)} {secrets.token_urlsafe(48)}",
                    }
                    state.reasoning_sent.append(r)
                items.append(r)
            for i, (name, args) in enumerate(calls):
                items.append(
                    {
                        "type": "function_call",
                        "id": f"fc_{i}",
                        "call_id": f"call_{i}",
                        "name": name,
                        "arguments": json.dumps(args),
                        "status": "completed",
                    }
                )
            if not calls:
                items.append(
                    {
                        "type": "message",
                        "id": "msg_0",
                        "role": "assistant",
                        "status": "completed",
                        "content": [{"type": "output_text", "text": step.get("text", "done"), "annotations": []}],
                    }
                )
            resp = {
                "id": "resp_s",
                "object": "response",
                "status": "completed",
                "model": "scripted-model",
                "output": items,
                "usage": USAGE_RESP,
            }
            if not stream and not any(k in step for k in ("malformed", "drop", "stall")):
                self._send(200, json.dumps(resp))
                return
            self._start_stream()

            def ev(e: dict[str, Any]) -> str:
                return f"event: {e['type']}\ndata: {json.dumps(e)}\n\n"

            created = ev({"type": "response.created", "response": {**resp, "status": "in_progress", "output": []}})
            if self._special(
                step,
                created
                + ev(
                    {"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": "partial "}
                ),
            ):
                return
            self._write(created)
            if step.get("reasoning"):
                self._write(ev({"type": "response.reasoning_summary_text.delta", "delta": step["reasoning"]}))
            for idx, it in enumerate(items):
                if it["type"] == "reasoning":
                    self._write(ev({"type": "response.output_item.added", "output_index": idx, "item": it}))
                elif it["type"] == "function_call":
                    self._write(
                        ev(
                            {
                                "type": "response.output_item.added",
                                "output_index": idx,
                                "item": {**it, "arguments": "", "status": "in_progress"},
                            }
                        )
                    )
                    a = it["arguments"]
                    half = max(1, len(a) // 2)
                    for part in (a[:half], a[half:]):
                        if part:
                            self._write(
                                ev(
                                    {
                                        "type": "response.function_call_arguments.delta",
                                        "output_index": idx,
                                        "item_id": it["id"],
                                        "delta": part,
                                    }
                                )
                            )
                else:
                    self._write(
                        ev({"type": "response.output_item.added", "output_index": idx, "item": {**it, "content": []}})
                    )
                    text = it["content"][0]["text"]
                    for part in (text[: len(text) // 2], text[len(text) // 2 :]):
                        if part:
                            self._write(
                                ev(
                                    {
                                        "type": "response.output_text.delta",
                                        "output_index": idx,
                                        "content_index": 0,
                                        "delta": part,
                                    }
                                )
                            )
                self._write(ev({"type": "response.output_item.done", "output_index": idx, "item": it}))
            self._write(ev({"type": "response.completed", "response": resp}))

    return Handler


class ModelServer:
    """Runs the scripted server in a background thread; ``url`` is the ``/v1`` base URL."""

    def __init__(
        self,
        steps: list[dict[str, Any]] | None = None,
        *,
        window: int | None = None,
        summary_marker: str | None = None,
        encrypted_reasoning: bool = False,
    ) -> None:
        self.state = ScriptState(
            steps=list(steps or []),
            window=window,
            summary_marker=summary_marker,
            encrypted_reasoning=encrypted_reasoning,
        )
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(self.state))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def requests(self) -> list[Recorded]:
        with self.state.lock:
            return list(self.state.requests)

    def script(self, steps: list[dict[str, Any]]) -> None:
        with self.state.lock:
            self.state.steps = list(steps)
            self.state.index = 0
            self.state.requests.clear()
            self.state.refused = self.state.summaries = 0
            self.state.reasoning_sent.clear()

    def configure(
        self, *, window: int | None = None, summary_marker: str | None = None, encrypted_reasoning: bool = False
    ) -> None:
        """Set the long-session options on a running server (see the module docstring)."""
        with self.state.lock:
            self.state.window = window
            self.state.summary_marker = summary_marker
            self.state.encrypted_reasoning = encrypted_reasoning

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def main(argv: list[str]) -> None:
    with open(argv[1]) as f:
        steps = json.load(f)
    server = ModelServer(steps)
    with open(argv[2], "w") as f:
        f.write(str(server.port))
    record = argv[3] if len(argv) > 3 else None
    try:
        while True:
            time.sleep(0.5)
            if record:
                with open(record, "w") as f:
                    for r in server.requests:
                        f.write(
                            json.dumps({"path": r.path, "auth": r.headers.get("authorization"), "body": r.body}) + "\n"
                        )
    except KeyboardInterrupt:
        server.close()


if __name__ == "__main__":
    main(sys.argv)


def strings(obj: Any) -> list[str]:
    """Every string inside a decoded JSON request body: what a test searches for leaked secrets."""
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for v in obj.values() for s in strings(v)]
    if isinstance(obj, list):
        return [s for v in obj for s in strings(v)]
    return []
