"""The event stream: the agent reports everything it does here, and sinks subscribe.

Like resolvelib's reporter, the loop never writes output itself. Events are plain dicts with a
``type``. The public ones are DESIGN §7's (``thread.started``, ``turn.*``, ``item.*``, ``error``,
``egress``) and go to ``exec --json``; the others are for the audit log and the terminal UI:

* ``session.started {session_id, cwd, workspace, provider, model, approval_mode, version}``
* ``request.sent`` is the ``egress`` event itself (the ledger entry)
* ``response.received {usage, duration_ms, tool_calls}``
* ``decision {action, target, decision, decided_by, reason, rule, source, outcome}``
* ``command.executed {argv, cwd, tier, exit_code, duration_ms, timed_out}``
* ``file.changed {path, kind, sha256_before, sha256_after, old_path}``
* ``withheld {tool, count, path, rule, source}``: paths the ignore rules kept out of a tool result
* ``session.ended {status, usage}``
"""

from __future__ import annotations

import json
import sys
import threading
from typing import IO, Any, Protocol

PUBLIC_TYPES = frozenset(
    {
        "thread.started",
        "turn.started",
        "turn.completed",
        "turn.failed",
        "item.started",
        "item.updated",
        "item.completed",
        "error",
        "egress",
        "context.compacted",
    }
)

Event = dict[str, Any]


class Sink(Protocol):
    def emit(self, event: Event) -> None: ...


class EventBus:
    """Fans each event out to every sink, in order. Sinks must not raise; a failing sink is reported."""

    def __init__(self) -> None:
        self._sinks: list[Sink] = []
        self._lock = threading.Lock()

    def add(self, sink: Sink) -> None:
        self._sinks.append(sink)

    def emit(self, event: Event) -> None:
        with self._lock:
            for sink in self._sinks:
                sink.emit(event)


class JsonlSink:
    """Writes DESIGN §7's public events, one JSON object per line (``exec --json``)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout

    def emit(self, event: Event) -> None:
        if event.get("type") not in PUBLIC_TYPES:
            return
        self.stream.write(json.dumps(event, ensure_ascii=False) + "\n")
        self.stream.flush()


class ListSink:
    """Keeps every event in memory (tests, and the session's own summaries)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)

    def of_type(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.get("type") == kind]


class ItemIds:
    """Hands out Codex-style item ids: item_0, item_1, ..."""

    def __init__(self) -> None:
        self._n = 0

    def next(self) -> str:
        i = f"item_{self._n}"
        self._n += 1
        return i
