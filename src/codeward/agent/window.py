"""Which context window a session works with, and whether it is big enough to work at all.

Order: ``model_context_window`` from the config, then (for Ollama) what the server reports, then
the built-in table of well-known models, then a default. Kept apart from the loop because it is
the one place that may ask the endpoint something before the first request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codeward.agent.context import DEFAULT_WINDOW, ContextTracker, known_window
from codeward.config.model import Config, ProviderConfig

if TYPE_CHECKING:
    from codeward.agent.loop import Agent

ONE_TURN_TOKENS = 2_000
"""A prompt and an answer, besides one tool result: what a turn needs on top of the preamble."""


def context_tracker(
    config: Config, provider: ProviderConfig, *, probe: bool, model: str | None = None
) -> ContextTracker:
    model = model or config.model
    limit = config.model_auto_compact_token_limit
    if config.model_context_window:
        return ContextTracker(config.model_context_window, limit, "config (model_context_window)")
    if probe:
        from codeward.providers.ollama import is_ollama, ollama_window

        if is_ollama(provider.base_url, provider.id):
            window = ollama_window(provider.base_url, model)
            if window:
                return ContextTracker(window, limit, "Ollama /api/show")
    window = known_window(model)
    if window:
        return ContextTracker(window, limit, "built-in table")
    return ContextTracker(DEFAULT_WINDOW, limit, "default")


def window_notices(agent: Agent) -> list[str]:
    """A warning when the window cannot hold the instructions, the tools and one turn."""
    base = agent.context.estimate(len(agent.prepare(record=False).body))
    need = base + agent.context.tool_budget + ONE_TURN_TOKENS
    if need <= agent.context.window:
        return []
    return [
        f"the context window of {agent.model} is {agent.context.window} tokens ({agent.context.window_source}), "
        f"smaller than the instructions and tools ({base} tokens) plus one turn: expect failures; "
        "use a model with a larger window or raise its num_ctx / set model_context_window"
    ]
