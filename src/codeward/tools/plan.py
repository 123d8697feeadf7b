"""``update_plan``: the model's task list, shown as a ``todo_list`` item (DESIGN §7)."""

from __future__ import annotations

from typing import Any

from codeward.events import ItemStarted, ItemUpdated, TodoList
from codeward.providers.types import ToolCall
from codeward.tools.base import ToolContext, ToolError, ToolOutput


def todo_items(plan: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"text": p["step"], "completed": p["status"] == "completed"} for p in plan]


def update_plan(args: dict[str, Any], ctx: ToolContext, call: ToolCall) -> ToolOutput:
    plan = args["plan"]
    for i, step in enumerate(plan):
        if not isinstance(step.get("step"), str) or not step["step"].strip():
            raise ToolError(f"update_plan: plan[{i}].step must be a non-empty string")
        if step.get("status") not in ("pending", "in_progress", "completed"):
            raise ToolError(f"update_plan: plan[{i}].status must be pending, in_progress or completed")
    if sum(1 for s in plan if s["status"] == "in_progress") > 1:
        raise ToolError("update_plan: at most one step may be in_progress")
    first = ctx.plan_item_id is None
    if ctx.plan_item_id is None:
        ctx.plan_item_id = ctx.ids.next()
    item = TodoList(id=ctx.plan_item_id, items=tuple(todo_items(plan)))
    ctx.events.emit(ItemStarted(item) if first else ItemUpdated(item))
    ctx.last_plan = item
    done = sum(1 for s in plan if s["status"] == "completed")
    return ToolOutput(f"Plan updated ({done}/{len(plan)} steps completed)")
