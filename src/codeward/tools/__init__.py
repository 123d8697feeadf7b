"""The tools the model gets (DESIGN §5): shell, apply_patch, read_file, list_dir, grep, update_plan."""

from __future__ import annotations

from codeward.tools.base import Tool, ToolContext, ToolError, ToolOutput, ToolRegistry


def default_tools() -> ToolRegistry:
    from codeward.tools import schemas
    from codeward.tools.grep import grep
    from codeward.tools.patch_tool import apply_patch
    from codeward.tools.plan import update_plan
    from codeward.tools.read import list_dir, read_file
    from codeward.tools.shell import shell

    return ToolRegistry(
        [
            Tool(schemas.SHELL, shell),
            Tool(schemas.APPLY_PATCH, apply_patch),
            Tool(schemas.READ_FILE, read_file),
            Tool(schemas.LIST_DIR, list_dir),
            Tool(schemas.GREP, grep),
            Tool(schemas.UPDATE_PLAN, update_plan),
        ]
    )


__all__ = ["Tool", "ToolContext", "ToolError", "ToolOutput", "ToolRegistry", "default_tools"]
