"""The agent loop: send the conversation, run the tool calls that come back, repeat until the model
answers without tool calls or the step limit is hit.

It does no I/O of its own: requests go out through the gate and the provider client, tools act
through their context, and everything it does is reported on the event bus.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

from codeward.agent.context import (
    COMPACT_PROMPT,
    DEFAULT_WINDOW,
    USER_MESSAGES_SHARE,
    ContextTracker,
    compacted_items,
    fit_output,
    is_reasoning_model,
    shrink_for_summary,
    window_from_error,
)
from codeward.agent.instructions import BASE_INSTRUCTIONS
from codeward.errors import CodewardError, ProviderError
from codeward.events import (
    AgentMessage,
    ContextCompacted,
    Error,
    ErrorItem,
    EventBus,
    ItemCompleted,
    Reasoning,
    RequestRefused,
    ResponseReceived,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
)
from codeward.privacy.gate import Gate, GatedPayload
from codeward.privacy.redact import PLACEHOLDER
from codeward.providers.client import ModelClient
from codeward.providers.types import (
    AssistantTurn,
    Completed,
    Item,
    Message,
    ModelRequest,
    StreamEvent,
    ToolResult,
    Usage,
)
from codeward.providers.wire import ContextOverflow, Unreachable, WireFormat
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
        context: ContextTracker | None = None,
        reasoning_effort: str | None = None,
        reasoning_summary: str | None = None,
        cache_key: str | None = None,
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
        self.context = context or ContextTracker(DEFAULT_WINDOW)
        self.reasoning_effort = reasoning_effort
        self.reasoning_summary = reasoning_summary
        self.cache_key = cache_key or str(uuid.uuid4())
        self.compactions = 0
        self._floor = 0
        """Tokens the last compaction left; above the limit when the window cannot hold the basics."""
        """How many times the history was replaced by a summary (the session file follows it)."""
        self._seen: dict[int, Item] = {}
        """The items the model has received in some request, by identity (holding them keeps an
        identity from being reused by a newer item)."""
        ctx.output_budget_tokens = self.context.tool_budget

    # -- requests ---------------------------------------------------------------------------

    def reasoning(self) -> dict[str, str] | None:
        """Responses' ``reasoning`` settings: for reasoning models, or when the user set an effort."""
        if not (self.reasoning_effort or self.reasoning_summary or is_reasoning_model(self.model)):
            return None
        out = {"effort": self.reasoning_effort or "medium"}
        summary = self.reasoning_summary or "auto"
        if summary != "none":
            out["summary"] = summary
        return out

    def request(self, items: list[Item] | None = None) -> ModelRequest:
        return ModelRequest(
            self.model,
            self.instructions,
            tuple(self.items if items is None else items),
            self.tools.specs,
            reasoning=self.reasoning(),
            cache_key=self.cache_key,
        )

    def prepare(self, *, record: bool = True, items: list[Item] | None = None) -> GatedPayload:
        """The next request as it would leave: built, then passed through the gate."""
        files: set[str] = set()
        for item in self.items if items is None else items:
            files.update(getattr(item, "files", ()))
        return self.gate.prepare(self.wire.build(self.request(items)), files=files, record=record)

    def set_model(self, model: str, context: ContextTracker | None = None) -> None:
        """Switch model mid-session (``/model``): the history stays, the window may change.

        Encrypted reasoning items belong to the model that wrote them, so they are dropped.
        """
        if model != self.model:
            self.items = [
                replace(i, reasoning_items=()) if isinstance(i, AssistantTurn) and i.reasoning_items else i
                for i in self.items
            ]
        self.model = model
        if context is not None:
            self.context = context
            self.ctx.output_budget_tokens = context.tool_budget

    def clear(self) -> None:
        """Start a new task with a fresh context (the seed guide: context clears per task)."""
        self.items = [self.preamble]
        self._seen = {}
        self._floor = 0

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
        self.ctx.prompt_placeholders.update(PLACEHOLDER.findall(self.gate.redact_text(prompt)[0]))
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
                self.items.append(ToolResult(call.call_id, call.name, self._budgeted(out.text, call.name), out.files))
        self._finish_plan()
        return self._fail(
            f"stopped after {self.max_steps} model requests without a final answer "
            "(raise max_steps in config.toml or split the task)",
            usage,
        )

    def _budgeted(self, text: str, tool: str) -> str:
        """A tool result as it enters the history, within the tool output budget.

        A result that must be cut is redacted first, so the cut cannot split a secret (a private
        key block, say) into halves the scanner no longer recognises; one that fits stays as the
        tool returned it and is redacted by the gate on the way out, like everything else.
        """
        budget = self.context.tool_budget
        if len(text.encode()) <= budget * 4:
            return text
        clean, _ = self.gate.redact_text(text)
        return fit_output(clean, budget, tool)

    def _ask_model(self, on_stream: Callable[[StreamEvent], None] | None) -> tuple[AssistantTurn, Usage]:
        if self.client is None:
            raise CodewardError("no model client (dry run)")
        usage = Usage()
        estimate = self.context.estimate(len(self.prepare(record=False).body))
        # compacting again is pointless until the history has grown past what the last one left
        if estimate > self.context.limit and estimate > self._floor + self.context.tool_budget // 2:
            usage = usage + self.compact()
        try:
            payload, completed = self._send(self.items, on_stream)
        except ContextOverflow as e:
            self._learn_overflow(e)
            usage = usage + self.compact(harder=True)
            try:
                payload, completed = self._send(self.items, on_stream)
            except ContextOverflow as again:
                self._learn_overflow(again)
                raise CodewardError(
                    f"{again.message} (still too long after compacting; the next prompt compacts further, "
                    "or set model_context_window in config.toml to the model's real window)"
                ) from None
        self.context.observe(len(payload.body), completed.usage.input_tokens, completed.usage.output_tokens)
        self._seen.update((id(i), i) for i in self.items)
        return completed.turn, usage + completed.usage

    def _was_seen(self, item: Item) -> bool:
        return self._seen.get(id(item)) is item

    def _learn_overflow(self, e: ContextOverflow) -> None:
        self.context.shrink_after_overflow(e.refused_bytes, window_from_error(e.message))
        self.ctx.output_budget_tokens = self.context.tool_budget

    def _send(
        self, items: list[Item], on_stream: Callable[[StreamEvent], None] | None
    ) -> tuple[GatedPayload, Completed]:
        assert self.client is not None
        payload = self.prepare(items=items)
        started = time.monotonic()
        try:
            completed = self.client.send(payload, on_event=on_stream)
        except ProviderError as e:
            # the egress event said these bytes were leaving; say they were not accepted
            self.events.emit(
                RequestRefused(
                    host=payload.entry.host,
                    bytes=payload.entry.bytes,
                    sha256=payload.entry.sha256,
                    reason=_refusal_reason(e),
                    message=self.gate.redact_text(e.message)[0],
                )
            )
            raise
        self.events.emit(
            ResponseReceived(
                usage=completed.usage.to_json(),
                duration_ms=round((time.monotonic() - started) * 1000, 1),
                tool_calls=tuple(c.name for c in completed.turn.tool_calls),
            )
        )
        return payload, completed

    # -- compaction ---------------------------------------------------------------------------

    def compact(self, *, harder: bool = False) -> Usage:
        """Replace the history by a summary the model writes, keeping the task and recent user
        messages verbatim. The summary request goes through the gate like any other (egress event,
        audit record); it is itself kept within the window by dropping the oldest items the model
        has already seen, then by cutting what it has not seen yet to a smaller budget."""
        if self.client is None:
            raise CodewardError("no model client (dry run)")
        before = self.context.estimate(len(self.prepare(record=False).body))
        ceiling = self.context.limit // 2 if harder else self.context.limit
        history = list(self.items)
        prompt = Message("user", COMPACT_PROMPT)
        for _ in range(6):
            size = self.context.estimate(len(self.prepare(record=False, items=[*history, prompt]).body))
            if size <= ceiling:
                break
            history = shrink_for_summary(history, self._was_seen, size - ceiling, self.context.tool_budget)
        try:
            _, completed = self._send([*history, prompt], None)
        except ContextOverflow as e:
            self._learn_overflow(e)
            history = shrink_for_summary(history, self._was_seen, 1 << 40, self.context.tool_budget)
            _, completed = self._send([*history, prompt], None)
        summary = completed.turn.text.strip() or _mechanical_summary(history)
        user_budget = int(self.context.limit * USER_MESSAGES_SHARE)
        self.items = compacted_items(self.preamble, self.items, summary, user_budget)
        self._seen = {}  # what the old history held is gone; the new one is sent next
        self.compactions += 1
        after = self.context.estimate(len(self.prepare(record=False).body))
        self.context.used = after
        self._floor = after
        if after > self.context.limit:
            self.events.emit(
                Error(
                    f"the context window ({self.context.window} tokens) cannot hold even the compacted "
                    f"conversation ({after} tokens); use a model with a larger window or set model_context_window"
                )
            )
        self.events.emit(ContextCompacted(tokens_before=before, tokens_after=after))
        return completed.usage

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
        # Codex consumers read the reason from an error item, then the turn.failed that ends the turn
        shown = self.gate.redact_text(message)[0]  # a provider may echo a key in its error
        self.events.emit(ItemCompleted(ErrorItem(id=self.ctx.ids.next(), message=shown)))
        self.events.emit(TurnFailed(shown))
        return TurnResult("failed", "", usage, message)


def _mechanical_summary(history: list[Item]) -> str:
    """When the model wrote no summary: which tools ran on what, so the thread is not lost."""
    calls = [f"- {c.name} {c.arguments[:200]}" for i in history if isinstance(i, AssistantTurn) for c in i.tool_calls]
    return "The model wrote no summary. Tool calls made so far:\n" + "\n".join(calls[-50:])


def _refusal_reason(e: ProviderError) -> Literal["unreachable", "context_length_exceeded", "error"]:
    """Why a request got no answer: ``unreachable`` (never sent), ``context_length_exceeded``, ``error``."""
    if isinstance(e, Unreachable):
        return "unreachable"
    return "context_length_exceeded" if isinstance(e, ContextOverflow) else "error"
