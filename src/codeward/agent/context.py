"""Context accounting and compaction: how big the conversation is, and how to make it smaller.

Pure functions and a small tracker; the agent loop does the sending. Every request is measured as
the gate will send it (its body bytes), so the accounting sees exactly what leaves, redactions and
JSON escaping included. Without a tokenizer the estimate is one token per 4 bytes of body; once the
provider reports usage, the observed bytes-per-token of this conversation is used when it is larger
(never smaller: the estimate stays conservative).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from codeward.providers.types import AssistantTurn, Item, Message, ToolResult

BYTES_PER_TOKEN = 4
DEFAULT_WINDOW = 128_000
"""For a model neither the config nor the built-in table knows."""
AUTO_COMPACT_RATIO = 0.9
"""Codex compacts when usage reaches 90% of the window; so does codeward by default."""
MAX_TOOL_OUTPUT_TOKENS = 10_000
MIN_TOOL_OUTPUT_TOKENS = 256
USER_MESSAGES_SHARE = 0.2
"""At most this share of the compaction limit is spent keeping recent user messages verbatim."""

# Well-known models' windows (tokens), by name prefix; the longest matching prefix wins.
KNOWN_WINDOWS: dict[str, int] = {
    "gpt-5": 272_000,
    "codex-mini": 200_000,
    "o1": 200_000,
    "o3": 200_000,
    "o4-mini": 200_000,
    "gpt-4.1": 1_047_576,
    "gpt-4o": 128_000,
    "gpt-4-turbo": 128_000,
    "gpt-4": 8_192,
    "gpt-3.5-turbo": 16_385,
    "gpt-oss": 128_000,
    "claude": 200_000,
    "qwen2.5-coder": 32_768,
    "llama3.1": 128_000,
    "llama3.2": 128_000,
    "mistral": 32_768,
    "deepseek-r1": 128_000,
}

# Models that take Responses' ``reasoning`` settings and return encrypted reasoning items.
REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5", "codex-")

SUMMARY_PREFIX = "[codeward: the conversation so far was compacted; summary of earlier work follows]\n"
COMPACT_PROMPT = (
    "Context checkpoint: the conversation is about to be compacted to fit the model's context window. "
    "Write a handoff summary for yourself to continue the task from here: the task and constraints, "
    "what has been done and found (files read and the facts that matter in them, changes made, command "
    "results), decisions taken, and what remains to do next. Be specific (paths, names, numbers); "
    "do not call tools; answer with the summary only."
)


def is_reasoning_model(model: str) -> bool:
    name = model.rsplit("/", 1)[-1].lower()
    return name.startswith(REASONING_PREFIXES)


def known_window(model: str) -> int | None:
    """The built-in window for ``model`` (``openai/gpt-4o`` and ``gpt-4o-2024-08-06`` match ``gpt-4o``)."""
    name = model.rsplit("/", 1)[-1].lower()
    best = ""
    for prefix in KNOWN_WINDOWS:
        if name.startswith(prefix) and len(prefix) > len(best):
            best = prefix
    return KNOWN_WINDOWS[best] if best else None


def estimate_tokens(body_bytes: int) -> int:
    """Tokens a request body of this size holds, assuming no more than 4 bytes per token."""
    return math.ceil(body_bytes / BYTES_PER_TOKEN)


def tool_output_budget(window: int) -> int:
    """Tokens one tool result may take: Codex's 10k, less for small windows (a tenth of it)."""
    return max(MIN_TOOL_OUTPUT_TOKENS, min(MAX_TOOL_OUTPUT_TOKENS, window // 10))


_WINDOW_IN_ERROR = re.compile(r"maximum context length is (\d+) tokens|context window of (\d+) tokens")


def window_from_error(message: str) -> int | None:
    """The window a ``context_length_exceeded`` message states (OpenAI and vLLM word it so)."""
    m = _WINDOW_IN_ERROR.search(message)
    if not m:
        return None
    return int(m.group(1) or m.group(2))


@dataclass
class ContextTracker:
    """The window, the compaction limit and what the last request used."""

    window: int
    configured_limit: int | None = None
    window_source: str = "default"
    bytes_per_token: float = float(BYTES_PER_TOKEN)
    """Observed body bytes per provider-reported input token, when lower than 4 (never higher)."""
    used: int = 0
    """Tokens of the last request plus its answer: what the status line shows."""

    @property
    def limit(self) -> int:
        auto = int(self.window * AUTO_COMPACT_RATIO)
        return min(self.configured_limit, auto) if self.configured_limit else auto

    @property
    def tool_budget(self) -> int:
        return tool_output_budget(self.window)

    def estimate(self, body_bytes: int) -> int:
        return max(estimate_tokens(body_bytes), math.ceil(body_bytes / self.bytes_per_token))

    def observe(self, body_bytes: int, input_tokens: int, output_tokens: int) -> None:
        """Learn from a completed request: provider usage when it reports any, else the estimate."""
        if input_tokens > 0:
            ratio = body_bytes / input_tokens
            if ratio < self.bytes_per_token:
                self.bytes_per_token = max(ratio, 1.0)
            self.used = max(input_tokens, self.estimate(body_bytes)) + output_tokens
        else:
            self.used = self.estimate(body_bytes) + output_tokens

    def shrink_after_overflow(self, refused_bytes: int, stated_window: int | None) -> None:
        """The provider refused a body as too long: the real window is smaller than we thought."""
        refused = self.estimate(refused_bytes)
        new = stated_window if stated_window else int(refused * 0.8)
        new = min(new, int(refused * 0.95))
        if new < self.window:
            self.window = max(new, 1_000)
            self.window_source = "provider error"
        if self.configured_limit and self.configured_limit > self.limit:
            self.configured_limit = None


# ---- tool output budgets ----------------------------------------------------------------------


def _hint(tool: str) -> str:
    if tool == "read_file":
        return "read the cut part with read_file offset/limit (the line numbers around the cut show where it is)"
    if tool == "shell":
        return "re-run the command narrowed (grep, head, tail, sed -n 'A,Bp') or write its output to a file and page it with read_file offset/limit"
    return "narrow the request (a smaller path, a more specific pattern) or page with offset/limit"


def fit_output(text: str, max_tokens: int, tool: str) -> str:
    """``text`` within ``max_tokens`` (at 4 bytes a token): head and tail kept, a marker in between.

    Cuts fall on line boundaries when a line break is near, so a line number and its content stay
    together; the marker says how much was cut and how to read it.
    """
    data = text.encode("utf-8")
    budget = max_tokens * BYTES_PER_TOKEN
    if len(data) <= budget:
        return text
    room = max(budget - 400, 64)  # the marker's own size
    head_n, tail_n = room // 2, room - room // 2
    head = data[:head_n].decode("utf-8", "ignore")
    tail = data[len(data) - tail_n :].decode("utf-8", "ignore")
    nl = head.rfind("\n")
    if nl > len(head) // 2:
        head = head[: nl + 1]
    nl = tail.find("\n")
    if 0 <= nl < len(tail) // 2:
        tail = tail[nl + 1 :]
    cut = len(data) - len(head.encode()) - len(tail.encode())
    lines_cut = text.count("\n") - head.count("\n") - tail.count("\n")
    marker = (
        f"\n[... {cut} bytes (~{estimate_tokens(cut)} tokens, {lines_cut} lines) cut from the middle of this "
        f"{len(data)}-byte output to fit the context budget; {_hint(tool)} ...]\n"
    )
    return head + marker + tail


# ---- compaction -------------------------------------------------------------------------------


def units(items: Sequence[Item]) -> list[list[Item]]:
    """Items grouped so that none can be dropped alone: an answer travels with its tool results."""
    out: list[list[Item]] = []
    for item in items:
        if isinstance(item, ToolResult) and out and isinstance(out[-1][0], AssistantTurn):
            out[-1].append(item)
        else:
            out.append([item])
    return out


def is_summary(item: Item) -> bool:
    return isinstance(item, Message) and item.role == "user" and item.text.startswith(SUMMARY_PREFIX)


def kept_user_messages(items: Sequence[Item], max_tokens: int) -> list[Message]:
    """The task and the most recent user messages, verbatim, within ``max_tokens`` (oldest first).

    The first user message (the task) and the last are always kept; a message too large for the
    budget is cut with :func:`fit_output` rather than dropped.
    """
    users = [i for i in items if isinstance(i, Message) and i.role == "user" and not is_summary(i)]
    if not users:
        return []
    budget = max_tokens * BYTES_PER_TOKEN
    task, rest = users[0], users[1:]
    chosen: list[Message] = []
    spent = len(task.text.encode())
    for msg in reversed(rest):
        size = len(msg.text.encode())
        if chosen and spent + size > budget:
            break
        chosen.insert(0, msg)
        spent += size
    share = max(max_tokens // (len(chosen) + 1), MIN_TOOL_OUTPUT_TOKENS)
    return [
        Message("user", fit_output(m.text, share, "user message"), m.files) if spent > budget else m
        for m in [task, *chosen]
    ]


def compacted_items(preamble: Message, items: Sequence[Item], summary: str, user_budget: int) -> list[Item]:
    """The history after compaction: the preamble, kept user messages, then the summary."""
    body = items[1:] if items and items[0] is preamble else items
    kept: list[Item] = [preamble, *kept_user_messages(body, user_budget)]
    # the model's own text, sent back as an assistant item the gate does not redact: redacting it
    # would answer the guesses written into it (red team rt20)
    kept.append(Message("assistant", SUMMARY_PREFIX + summary.strip()))
    return kept


def shrink_for_summary(items: list[Item], seen: Callable[[Item], bool], over: int, tool_budget: int) -> list[Item]:
    """Make the summary request's history about ``over`` tokens smaller.

    Drops the oldest units the model has already received (``seen(item)``; never the preamble nor a
    user message), then, when that is not enough, cuts the remaining tool results to a quarter of
    the budget, so every output still reaches the model in some form.
    """
    head, body = items[:1], items[1:]
    to_free = over * BYTES_PER_TOKEN
    kept: list[Item] = []
    for group in units(body):
        if to_free > 0 and not _is_user(group) and all(seen(i) for i in group):
            to_free -= sum(_size(i) for i in group)
            continue
        kept.extend(group)
    if to_free > 0:
        budget = max(MIN_TOOL_OUTPUT_TOKENS // 2, tool_budget // 4)
        kept = [
            ToolResult(i.call_id, i.name, fit_output(i.output, budget, i.name), i.files)
            if isinstance(i, ToolResult)
            else i
            for i in kept
        ]
    return head + kept


def _is_user(group: list[Item]) -> bool:
    return len(group) == 1 and isinstance(group[0], Message) and group[0].role == "user"


def _size(item: Item) -> int:
    if isinstance(item, Message):
        return len(item.text.encode())
    if isinstance(item, ToolResult):
        return len(item.output.encode()) + 64
    return len(item.text.encode()) + sum(len(c.arguments.encode()) + 64 for c in item.tool_calls)
