"""What both wire formats share: the stream-parser protocol and its errors."""

from __future__ import annotations

from typing import Any, Protocol

from codeward.errors import ProviderError
from codeward.providers.types import Completed, ModelRequest, StreamEvent


class StreamBroken(ProviderError):
    """The response stream ended early or could not be read; the request may be retried."""


class MalformedStream(ProviderError):
    """The provider sent something that is not the wire format; retrying will not help."""


class ContextOverflow(ProviderError):
    """The provider refused the request as longer than the model's context window.

    Not retried as is: the agent compacts the history and tries once more.
    """

    def __init__(self, message: str, *, refused_bytes: int = 0) -> None:
        super().__init__(message)
        self.refused_bytes = refused_bytes


class Unreachable(ProviderError):
    """No connection could be made: the request never left the machine."""


CONTEXT_OVERFLOW_CODES = frozenset({"context_length_exceeded", "string_above_max_length"})


def is_context_overflow(code: object, message: object) -> bool:
    """OpenAI says ``context_length_exceeded``; some compatible servers only say it in words."""
    if isinstance(code, str) and code in CONTEXT_OVERFLOW_CODES:
        return True
    text = str(message or "").lower()
    if "maximum context length" in text or "context_length_exceeded" in text:
        return True
    # vLLM, llama.cpp and LM Studio word it in their own ways
    said_limit = "context window" in text or "context length" in text or "context size" in text
    return said_limit and any(w in text for w in ("exceed", "greater than", "too long", "longer than"))


class WireParser(Protocol):
    def feed(self, event: str, data: str) -> list[StreamEvent]: ...

    def finish(self) -> Completed: ...


class WireFormat(Protocol):
    """One of the two OpenAI-compatible APIs: where to POST, how to build the body, how to read it."""

    path: str

    def build(self, request: ModelRequest, *, stream: bool = True) -> dict[str, Any]: ...

    def parser(self) -> WireParser: ...

    def parse_body(self, body: dict[str, Any]) -> Completed: ...


def load_json(data: str, what: str) -> Any:
    import json

    try:
        return json.loads(data)
    except ValueError:
        shown = data if len(data) < 120 else data[:117] + "..."
        raise MalformedStream(f"malformed stream: {what} is not JSON: {shown!r}") from None
