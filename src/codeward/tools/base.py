"""What every tool shares: its context, its result, argument checking and dispatch.

A tool never crashes the loop: bad arguments, refused paths and failures all become a result text
the model can read and act on (DESIGN §5: "tool errors go back to the model as results").
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from codeward.errors import CodewardError
from codeward.events import Error
from codeward.providers.types import ToolCall, ToolSpec

if TYPE_CHECKING:
    from codeward.config.model import Config
    from codeward.events import EventBus, ItemIds, TodoList
    from codeward.modes import Mode
    from codeward.policy import Policy
    from codeward.privacy.gate import Gate
    from codeward.privacy.ignore import IgnoreMatcher
    from codeward.project import Project
    from codeward.sandbox import Sandbox
    from codeward.tools.asking import Approver
    from codeward.workspace import Workspace


class ToolError(CodewardError):
    """A refusal or failure to report to the model as the tool's result."""


@dataclass
class ToolOutput:
    text: str
    files: tuple[str, ...] = ()
    """Workspace files whose content the text carries (for the ledger)."""


@dataclass
class ToolContext:
    """Everything a tool may use: the run's :class:`Project` plus the session's moving parts.

    Workspace, config, policy, ignore rules and the approval mode are read from ``project``, the
    one owner; a change of mode or of an ignore file replaces ``project`` with a derived one.
    """

    project: Project
    approver: Approver
    events: EventBus
    gate: Gate
    ids: ItemIds
    session_allow: set[str] = field(default_factory=set)
    """Command texts and edit paths the user approved with "always" in this session."""
    applied: list[list[Any]] = field(default_factory=list)
    """Change sets of the patches applied this session (``FileChange`` lists), for /undo and /diff."""
    plan_item_id: str | None = None
    last_plan: TodoList | None = None
    prompt_placeholders: set[str] = field(default_factory=set)
    """Placeholders standing for secrets the user typed in a prompt (restored into a file only with a yes)."""
    output_budget_tokens: int = 10_000
    """Tokens one tool result may take in the history (the agent sets it from the context window)."""
    sandbox_factory: Callable[[], Sandbox] | None = None
    """Makes the sandbox on first use; the project's strongest tier unless the session wraps it."""
    _sandbox: Sandbox | None = None

    @property
    def workspace(self) -> Workspace:
        return self.project.workspace

    @property
    def config(self) -> Config:
        return self.project.config

    @property
    def ignore(self) -> IgnoreMatcher:
        return self.project.ignore

    @property
    def policy(self) -> Policy:
        return self.project.policy

    @property
    def mode(self) -> Mode:
        return self.project.mode

    def sandbox(self) -> Sandbox:
        if self._sandbox is None:
            self._sandbox = (self.sandbox_factory or self.project.select_sandbox)()
        return self._sandbox

    def reload_ignore(self) -> None:
        """Re-read ignore files (after a patch changed one), through the project's own derivation."""
        self.project = self.project.with_ignore_reloaded()

    def follow_ignore_edits(self) -> None:
        """Before each tool call: the ignore files on disk are the rules in force. One you edit, add
        or remove on the host during a session counts from the next tool call, not after ``/new``."""
        sources = self.project.ignore.sources
        if sources is not None and sources.changed(self.project.workspace.root):
            self.reload_ignore()


Handler = Callable[[dict[str, Any], ToolContext, ToolCall], ToolOutput]


@dataclass(frozen=True)
class Tool:
    spec: ToolSpec
    handler: Handler


def check_args(spec: ToolSpec, raw: str) -> dict[str, Any]:
    """Parse and check arguments against the tool's schema (types of known fields, required ones)."""
    try:
        args = json.loads(raw or "{}")
    except json.JSONDecodeError as e:
        raise ToolError(f"{spec.name}: arguments are not valid JSON ({e.msg} at position {e.pos})") from None
    except ValueError as e:  # a lone surrogate and the like
        raise ToolError(f"{spec.name}: arguments are not valid JSON ({e})") from None
    if not isinstance(args, dict):
        raise ToolError(f"{spec.name}: arguments must be a JSON object")
    props: dict[str, Any] = spec.parameters.get("properties", {})
    for name in spec.parameters.get("required", []):
        if name not in args:
            raise ToolError(f"{spec.name}: missing required argument '{name}'")
    for name, value in args.items():
        if name not in props:
            continue  # tolerate extra fields some models add
        if not _type_ok(props[name], value):
            raise ToolError(f"{spec.name}: argument '{name}' has the wrong type (expected {_describe(props[name])})")
    return args


def _type_ok(schema: dict[str, Any], value: Any) -> bool:
    if "anyOf" in schema:
        return any(_type_ok(s, value) for s in schema["anyOf"])
    t = schema.get("type")
    if value is None:
        return False
    checks: dict[str, Callable[[Any], bool]] = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "array": lambda v: isinstance(v, list),
        "object": lambda v: isinstance(v, dict),
    }
    if t is None:
        return True
    if not checks.get(t, lambda v: True)(value):
        return False
    if t == "array" and "items" in schema:
        return all(_type_ok(schema["items"], v) for v in value)
    return "enum" not in schema or value in schema["enum"]


def _describe(schema: dict[str, Any]) -> str:
    if "anyOf" in schema:
        return " or ".join(_describe(s) for s in schema["anyOf"])
    t = schema.get("type", "any")
    if t == "array" and "items" in schema:
        return f"array of {_describe(schema['items'])}"
    return str(t)


class ToolRegistry:
    """Name -> tool; ``dispatch`` turns any failure into a result text."""

    def __init__(self, tools: list[Tool]) -> None:
        self._tools = {t.spec.name: t for t in tools}

    @property
    def specs(self) -> tuple[ToolSpec, ...]:
        return tuple(t.spec for t in self._tools.values())

    def dispatch(self, call: ToolCall, ctx: ToolContext) -> ToolOutput:
        tool = self._tools.get(call.name)
        if tool is None:
            known = ", ".join(self._tools)
            return ToolOutput(f"error: unknown tool '{call.name}'; available tools: {known}")
        try:
            args = check_args(tool.spec, call.arguments)
            ctx.follow_ignore_edits()
            return tool.handler(args, ctx, call)
        except CodewardError as e:
            return ToolOutput(f"error: {e.message}")
        except OSError as e:
            return ToolOutput(f"error: {call.name}: {e.strerror or e}")
        except Exception as e:  # a bug in a tool must not end the session; make it visible instead
            if os.environ.get("CODEWARD_DEBUG"):
                raise
            msg = f"internal error in tool {call.name}: {type(e).__name__}: {e}"
            ctx.events.emit(Error(msg))
            return ToolOutput(f"error: {msg}")
