"""Provider-neutral conversation and stream types.

The agent speaks only these; ``chat.py`` and ``responses.py`` translate them to and from the two
wire formats, so the loop never cares which API a provider uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class ToolSpec:
    """A function tool offered to the model (name, description, JSON-schema parameters)."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    call_id: str
    name: str
    arguments: str
    """The raw JSON text of the arguments, exactly as the model produced it."""


@dataclass(frozen=True)
class Message:
    """A plain text message in the conversation."""

    role: Literal["system", "developer", "user", "assistant"]
    text: str
    files: tuple[str, ...] = ()
    """Workspace files whose content this text carries (for the egress ledger)."""


@dataclass(frozen=True)
class AssistantTurn:
    """What the model answered in one response: text and/or tool calls."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    reasoning: str = ""
    reasoning_items: tuple[dict[str, Any], ...] = ()
    """Responses' reasoning items (summary and ``encrypted_content``), opaque, sent back in order
    before this turn's tool calls so a stateless (``store: false``) reasoning model keeps its thread."""


@dataclass(frozen=True)
class ToolResult:
    call_id: str
    name: str
    output: str
    files: tuple[str, ...] = ()


Item = Message | AssistantTurn | ToolResult


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_output_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.cached_input_tokens + other.cached_input_tokens,
            self.output_tokens + other.output_tokens,
            self.reasoning_output_tokens + other.reasoning_output_tokens,
        )

    @classmethod
    def from_json(
        cls, u: object, *, input_key: str, output_key: str, details_key: str, output_details_key: str
    ) -> Usage:
        """Read a usage object of either wire API (they name the same counts differently)."""
        if not isinstance(u, dict):
            return cls()
        details = u.get(details_key)
        cached = details.get("cached_tokens") if isinstance(details, dict) else 0
        out_details = u.get(output_details_key)
        reasoning = out_details.get("reasoning_tokens") if isinstance(out_details, dict) else 0
        return cls(int(u.get(input_key) or 0), int(cached or 0), int(u.get(output_key) or 0), int(reasoning or 0))

    def to_json(self) -> dict[str, int]:
        """Codex's ``turn.completed`` usage fields."""
        return {
            "input_tokens": self.input_tokens,
            "cached_input_tokens": self.cached_input_tokens,
            "output_tokens": self.output_tokens,
            "reasoning_output_tokens": self.reasoning_output_tokens,
        }


@dataclass(frozen=True)
class ModelRequest:
    """One request to the model, before it is put on the wire."""

    model: str
    instructions: str
    items: tuple[Item, ...]
    tools: tuple[ToolSpec, ...] = ()
    reasoning: dict[str, str] | None = None
    """Responses' ``reasoning`` settings (``effort``, ``summary``); None for a model without them."""
    cache_key: str | None = None
    """One ``prompt_cache_key`` for the whole session, so the provider can reuse its prompt cache."""


# ---- stream events, produced while a response arrives -------------------------------------


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True)
class Completed:
    turn: AssistantTurn
    usage: Usage = field(default_factory=Usage)


StreamEvent = TextDelta | ReasoningDelta | Completed
