"""The event stream: every event a run reports, as typed values built here and nowhere else.

Like resolvelib's reporter, the engine never writes output itself: it emits events, and sinks
(``exec --json``, the progress lines, the terminal renderer, the audit log) subscribe to the
:class:`EventBus`. Each event is a typed record (:func:`record`, read as a dataclass by type checkers) whose one :meth:`Event.to_json` gives the wire
form, so ``exec --json`` and the audit log can never disagree about a field's name.

The public events are DESIGN §7's (``thread.started``, ``turn.*``, ``item.*``, ``error``,
``egress``, ``context.compacted``) and go to ``exec --json``; the others (``session.*``,
``response.received``, ``decision``, ``command.executed``, ``file.changed``, ``withheld``) feed the
audit log and the terminal UI.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, Any, ClassVar, Literal, Protocol, TypeVar, dataclass_transform

_T = TypeVar("_T", bound=type)


@dataclass_transform(eq_default=False)
def record(cls: _T) -> _T:
    """A light dataclass: the fields are the annotations along the MRO (``ClassVar`` ones excepted),
    in order, with class attributes as defaults. No code is generated per class (``@dataclass``
    costs about a millisecond per class at start-up, and this module has two dozen), and type
    checkers read it as a dataclass. Construction goes through :meth:`_Record.__init__`."""
    names: list[str] = []
    defaults: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        for name, ann in klass.__dict__.get("__annotations__", {}).items():  # noqa: RUF063 - inspect is heavier
            if "ClassVar" in str(ann):
                continue
            if name not in names:
                names.append(name)
            if name in klass.__dict__:
                defaults[name] = klass.__dict__[name]
    cls._fields = tuple(names)  # type: ignore[attr-defined]
    cls._defaults = defaults  # type: ignore[attr-defined]
    return cls


class _Record:
    """Keyword or positional construction in field order, defaults filled in, unknown names refused."""

    _fields: ClassVar[tuple[str, ...]] = ()
    _defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if len(args) > len(self._fields):
            raise TypeError(f"{type(self).__name__} takes {len(self._fields)} fields, got {len(args)}")
        values = dict(zip(self._fields, args, strict=False))
        for k, v in kwargs.items():
            if k not in self._fields or k in values:
                raise TypeError(f"{type(self).__name__}: unexpected or repeated field {k!r}")
            values[k] = v
        for name in self._fields:
            if name in values:
                object.__setattr__(self, name, values[name])
            elif name in self._defaults:
                object.__setattr__(self, name, self._defaults[name])
            else:
                raise TypeError(f"{type(self).__name__}: missing field {name!r}")

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and all(getattr(self, n) == getattr(other, n) for n in self._fields)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{n}={getattr(self, n)!r}' for n in self._fields)})"


ItemStatus = Literal["in_progress", "completed", "failed", "declined"]


def _plain(value: Any) -> Any:
    if isinstance(value, Item | Event):
        return value.to_json()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


# -- items (Codex's thread items) -------------------------------------------------------------


@record
class Item(_Record):
    """A thread item: its ``id`` and Codex's ``type`` name, then its own fields."""

    kind: ClassVar[str]
    id: str

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "type": self.kind}
        for name in self._fields:
            if name != "id":
                out[name] = _plain(getattr(self, name))
        return out


@record
class AgentMessage(Item):
    kind: ClassVar[str] = "agent_message"
    text: str = ""


@record
class Reasoning(Item):
    kind: ClassVar[str] = "reasoning"
    text: str = ""


@record
class CommandExecution(Item):
    kind: ClassVar[str] = "command_execution"
    command: str = ""
    aggregated_output: str = ""
    exit_code: int | None = None
    status: ItemStatus = "in_progress"


@record
class FileChange(Item):
    kind: ClassVar[str] = "file_change"
    changes: tuple[Mapping[str, str], ...] = ()
    """``{"path": ..., "kind": "add" | "delete" | "update"}`` per file."""
    status: ItemStatus = "completed"


@record
class TodoList(Item):
    kind: ClassVar[str] = "todo_list"
    items: tuple[Mapping[str, Any], ...] = ()


@record
class ErrorItem(Item):
    kind: ClassVar[str] = "error"
    message: str = ""


# -- events -------------------------------------------------------------------------------------


@record
class Event(_Record):
    """One thing that happened; ``type`` is its wire name, ``public`` whether ``exec --json`` shows it."""

    type: ClassVar[str]
    public: ClassVar[bool] = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        for name in self._fields:
            out[name] = _plain(getattr(self, name))
        return out


@record
class ThreadStarted(Event):
    type: ClassVar[str] = "thread.started"
    public: ClassVar[bool] = True
    thread_id: str


@record
class TurnStarted(Event):
    type: ClassVar[str] = "turn.started"
    public: ClassVar[bool] = True


@record
class TurnCompleted(Event):
    type: ClassVar[str] = "turn.completed"
    public: ClassVar[bool] = True
    usage: Mapping[str, int]


@record
class TurnFailed(Event):
    type: ClassVar[str] = "turn.failed"
    public: ClassVar[bool] = True
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "error": {"message": self.message}}


@record
class ItemStarted(Event):
    type: ClassVar[str] = "item.started"
    public: ClassVar[bool] = True
    item: Item


@record
class ItemUpdated(Event):
    type: ClassVar[str] = "item.updated"
    public: ClassVar[bool] = True
    item: Item


@record
class ItemCompleted(Event):
    type: ClassVar[str] = "item.completed"
    public: ClassVar[bool] = True
    item: Item


@record
class Error(Event):
    type: ClassVar[str] = "error"
    public: ClassVar[bool] = True
    message: str


@record
class Egress(Event):
    """A request about to leave, after the gate (codeward's extension to Codex's stream)."""

    type: ClassVar[str] = "egress"
    public: ClassVar[bool] = True
    host: str
    bytes: int
    sha256: str
    files: tuple[str, ...]
    redactions: Mapping[str, int]


@record
class ContextCompacted(Event):
    type: ClassVar[str] = "context.compacted"
    public: ClassVar[bool] = True
    tokens_before: int
    tokens_after: int


@record
class RequestRefused(Event):
    """A request the egress event announced got no answer: never sent, or refused by the provider."""

    type: ClassVar[str] = "request.refused"
    host: str
    bytes: int
    sha256: str
    reason: Literal["unreachable", "context_length_exceeded", "error"]
    message: str


@record
class SessionStarted(Event):
    type: ClassVar[str] = "session.started"
    session_id: str
    run_id: str
    resumed: bool
    version: str
    cwd: str
    workspace: str
    provider: str
    endpoint: str
    model: str
    approval_mode: str
    sandbox: str
    network: str
    key_source: str


@record
class SessionEnded(Event):
    type: ClassVar[str] = "session.ended"
    status: str
    usage: Mapping[str, int]


@record
class ResponseReceived(Event):
    type: ClassVar[str] = "response.received"
    usage: Mapping[str, int]
    duration_ms: float
    tool_calls: tuple[str, ...]


@record
class DecisionMade(Event):
    """A policy decision and its outcome, naming who decided (a mode, a rule, the user)."""

    type: ClassVar[str] = "decision"
    action: Literal["command", "edit"]
    target: str
    decision: str
    reason: str
    rule: str | None
    source: str | None
    decided_by: str
    outcome: Literal["allowed", "declined", "denied"]


@record
class CommandExecuted(Event):
    type: ClassVar[str] = "command.executed"
    argv: tuple[str, ...]
    cwd: str
    tier: str
    exit_code: int | None
    duration_ms: float
    timed_out: bool


@record
class NetworkConnection(Event):
    """One connection a command asked the sandbox's proxy for (``allowed_domains``): where, how much, or why refused."""

    type: ClassVar[str] = "network.connection"
    host: str
    port: int
    address: str | None
    bytes_up: int
    bytes_down: int
    refused: str | None


@record
class FileChanged(Event):
    type: ClassVar[str] = "file.changed"
    path: str
    old_path: str | None
    kind: str
    sha256_before: str | None
    sha256_after: str | None
    undo: bool = False

    def to_json(self) -> dict[str, Any]:
        out = super().to_json()
        if not self.undo:
            del out["undo"]
        return out


@record
class Withheld(Event):
    """Paths the ignore rules kept out of a tool result (the privacy line counts them)."""

    type: ClassVar[str] = "withheld"
    tool: str
    count: int
    path: str | None
    rule: str
    source: str


# -- the bus and the simple sinks --------------------------------------------------------------


class Sink(Protocol):
    def emit(self, event: Event) -> None: ...


class EventBus:
    """Hands each event to every sink, in the order they were added, one event at a time.

    It does not catch: a sink that raises (the audit log cannot be written) stops the emit and the
    error reaches the code that emitted, which is how a failing audit log ends a session. Sinks
    added first see an event before a later sink can fail, so the terminal renderer goes first.
    """

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
        if not event.public:
            return
        self.stream.write(json.dumps(event.to_json(), ensure_ascii=False) + "\n")
        self.stream.flush()


@dataclass
class ListSink:
    """Keeps every event in memory, in wire form (tests, and the session's own summaries)."""

    events: list[dict[str, Any]] = field(default_factory=list)

    def emit(self, event: Event) -> None:
        self.events.append(event.to_json())

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == kind]


class ItemIds:
    """Hands out Codex-style item ids: item_0, item_1, ..."""

    def __init__(self) -> None:
        self._n = 0

    def next(self) -> str:
        i = f"item_{self._n}"
        self._n += 1
        return i
