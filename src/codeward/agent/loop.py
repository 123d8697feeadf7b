"""The agent loop: send the conversation, run the tool calls that come back, repeat until the model
answers without tool calls or the step limit is hit.

It does no I/O of its own: requests go out through the gate and the provider client, tools act
through their context, and everything it does is reported on the event bus.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from codeward.agent.instructions import BASE_INSTRUCTIONS
from codeward.errors import CodewardError
from codeward.events import (
    AgentMessage,
    EventBus,
    ItemCompleted,
    Reasoning,
    ResponseReceived,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
)
from codeward.privacy.gate import Gate, GatedPayload
from codeward.providers.client import ModelClient
from codeward.providers.types import (
    AssistantTurn,
    Item,
    Message,
    ModelRequest,
    StreamEvent,
    ToolResult,
    Usage,
)
from codeward.providers.wire import WireFormat
from codeward.tools.base import ToolContext, ToolRegistry


@dataclass
class TurnResult:
    status: str  # "completed" | "failed"
    final_message: str = ""
    usage: Usage = field(default_factory=Usage)
    error: str | None = None


class Agent:
    """One conversation with the model in one workspace."""

    def __init__(
        self,
        *,
        model: str,
        wire: WireFormat,
        gate: Gate,
        tools: ToolRegistry,
        ctx: ToolContext,
        events: EventBus,
        preamble: Message,
        max_steps: int,
        client: ModelClient | None = None,
        instructions: str = BASE_INSTRUCTIONS,
    ) -> None:
        self.model = model
        self.wire = wire
        self.gate = gate
        self.tools = tools
        self.ctx = ctx
        self.events = events
        self.client = client
        self.instructions = instructions
        self.max_steps = max_steps
        self.preamble = preamble
        self.items: list[Item] = [preamble]
        self.total_usage = Usage()

    # -- requests ---------------------------------------------------------------------------

    def request(self) -> ModelRequest:
        return ModelRequest(self.model, self.instructions, tuple(self.items), self.tools.specs)

    def prepare(self, *, record: bool = True) -> GatedPayload:
        """The next request as it would leave: built, then passed through the gate."""
        files: set[str] = set()
        for item in self.items:
            files.update(getattr(item, "files", ()))
        return self.gate.prepare(self.wire.build(self.request()), files=files, record=record)

    def clear(self) -> None:
        """Start a new task with a fresh context (the seed guide: context clears per task)."""
        self.items = [self.preamble]

    def interrupt(self, note: str, *, reason: str = "interrupted by the user") -> None:
        """End a turn the user cut short (Ctrl-C in the interactive session).

        Every tool call of the last answer still without a result gets one saying it was stopped
        (both wire APIs refuse a conversation with an unanswered call), then ``note`` is added as a
        user message so the next turn knows what happened. Reported as ``turn.failed``.
        """
        last = max((i for i, item in enumerate(self.items) if isinstance(item, AssistantTurn)), default=-1)
        if last >= 0:
            done = {item.call_id for item in self.items[last + 1 :] if isinstance(item, ToolResult)}
            turn = self.items[last]
            assert isinstance(turn, AssistantTurn)
            for call in turn.tool_calls:
                if call.call_id not in done:
                    self.items.append(ToolResult(call.call_id, call.name, f"{reason}: this tool call was stopped"))
        self.items.append(Message("user", note))
        self._finish_plan()
        self.events.emit(TurnFailed(reason))

    # -- the loop -----------------------------------------------------------------------------

    def run_turn(self, prompt: str, *, on_stream: Callable[[StreamEvent], None] | None = None) -> TurnResult:
        self.items.append(Message("user", prompt))
        self.events.emit(TurnStarted())
        usage = Usage()
        final = ""
        for _step in range(self.max_steps):
            try:
                turn, step_usage = self._ask_model(on_stream)
            except CodewardError as e:
                return self._fail(e.message, usage)
            usage = usage + step_usage
            self.items.append(turn)
            if turn.reasoning:
                self._text_item(Reasoning, turn.reasoning)
            if turn.text:
                final = turn.text
                self._text_item(AgentMessage, turn.text)
            if not turn.tool_calls:
                self.total_usage = self.total_usage + usage
                self._finish_plan()
                self.events.emit(TurnCompleted(usage.to_json()))
                return TurnResult("completed", final, usage)
            for call in turn.tool_calls:
                out = self.tools.dispatch(call, self.ctx)
                self.items.append(ToolResult(call.call_id, call.name, out.text, out.files))
        self._finish_plan()
        return self._fail(
            f"stopped after {self.max_steps} model requests without a final answer "
            "(raise max_steps in config.toml or split the task)",
            usage,
        )

    def _ask_model(self, on_stream: Callable[[StreamEvent], None] | None) -> tuple[AssistantTurn, Usage]:
        if self.client is None:
            raise CodewardError("no model client (dry run)")
        payload = self.prepare()
        started = time.monotonic()
        completed = self.client.send(payload, on_event=on_stream)
        self.events.emit(
            ResponseReceived(
                usage=completed.usage.to_json(),
                duration_ms=round((time.monotonic() - started) * 1000, 1),
                tool_calls=tuple(c.name for c in completed.turn.tool_calls),
            )
        )
        return completed.turn, completed.usage

    def _text_item(self, kind: type[AgentMessage] | type[Reasoning], text: str) -> None:
        shown, _ = self.gate.redact_text(text)
        self.events.emit(ItemCompleted(kind(id=self.ctx.ids.next(), text=shown)))

    def _finish_plan(self) -> None:
        if self.ctx.plan_item_id is not None and self.ctx.last_plan is not None:
            self.events.emit(ItemCompleted(self.ctx.last_plan))
            self.ctx.plan_item_id = None
            self.ctx.last_plan = None

    def _fail(self, message: str, usage: Usage) -> TurnResult:
        self.total_usage = self.total_usage + usage
        self.events.emit(TurnFailed(message))
        return TurnResult("failed", "", usage, message)
