"""Plain progress lines for ``exec`` without ``--json``: what happens, on stderr, as it happens.

Standard output is kept for the final message alone, so ``codeward exec "..." > answer.txt`` works.
"""

from __future__ import annotations

import sys
from typing import IO

from codeward.events import Event


class ProgressSink:
    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def emit(self, typed: Event) -> None:
        event = typed.to_json()
        kind = event.get("type")
        if kind == "egress":
            n = sum(event["redactions"].values())
            red = f"; {n} secret{'s' if n != 1 else ''} redacted" if n else ""
            self._line(f"-> sent {event['bytes']} bytes to {event['host']}{red}")
        elif kind == "context.compacted":
            self._line(f"  context compacted: {event['tokens_before']} -> {event['tokens_after']} tokens")
        elif kind == "request.refused":
            if event.get("reason") == "unreachable":
                self._line(f"<- {event['host']} was not reached: the request ({event['bytes']} bytes) was not sent")
            else:
                self._line(f"<- {event['host']} refused the request ({event['bytes']} bytes refused, not accepted)")
        elif kind == "error":
            self._line(f"! {event['message']}")
        elif kind == "turn.failed":
            self._line(f"error: {event['error']['message']}")
        elif kind == "item.started" and event["item"]["type"] == "command_execution":
            self._line(f"$ {event['item']['command']}")
        elif kind == "item.completed":
            item = event["item"]
            t = item["type"]
            if t == "command_execution":
                if item["status"] == "declined":
                    self._line(f"$ {item['command']}\n  declined")
                else:
                    self._line(f"  exit {item['exit_code']}")
            elif t == "file_change":
                files = ", ".join(f"{c['kind']} {c['path']}" for c in item["changes"])
                self._line(f"  patch {item['status']}: {files}")
            elif t == "reasoning":
                self._line(f"  (thinking) {item['text'][:200]}")
            elif t == "todo_list":
                done = sum(1 for i in item["items"] if i["completed"])
                self._line(f"  plan: {done}/{len(item['items'])} steps done")
        elif kind == "decision" and event.get("outcome") in ("denied", "declined"):
            self._line(f"  {event['outcome']}: {event['reason']}")
