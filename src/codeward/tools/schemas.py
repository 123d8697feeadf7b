"""The tools offered to the model. Names and JSON arguments are a contract (DESIGN §5)."""

from __future__ import annotations

from codeward.providers.types import ToolSpec

SHELL = ToolSpec(
    name="shell",
    description=(
        "Run a command in the workspace inside an OS sandbox (writes only in the workspace and temp dirs, "
        "no network unless the user allowed it, protected files read-only, ignored files invisible). "
        "`command` is shell text run with `bash -c`, or an argv list. Returns the exit code and the combined "
        "output (capped). Commands are checked against the approval mode and the AGENTS.md policy first; "
        "a refused command returns the reason."
    ),
    parameters={
        "type": "object",
        "properties": {
            "command": {
                "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
                "description": "Shell text, or an argv list.",
            },
            "workdir": {"type": "string", "description": "Directory to run in, relative to the workspace."},
            "timeout_ms": {"type": "integer", "description": "Time limit in milliseconds."},
        },
        "required": ["command"],
        "additionalProperties": False,
    },
)

APPLY_PATCH = ToolSpec(
    name="apply_patch",
    description=(
        "Edit files with a patch. Format:\n"
        "*** Begin Patch\n"
        "*** Add File: path/new.py\n+line\n"
        "*** Update File: path/old.py\n[*** Move to: path/renamed.py]\n@@ [optional: a line such as `def f():` "
        "to locate the hunk]\n context line\n-removed line\n+added line\n[*** End of File]\n"
        "*** Delete File: path/gone.py\n"
        "*** End Patch\n"
        "Paths are relative to the workspace. Give 3 lines of context around each change. The whole patch is "
        "applied or nothing is. Values shown as <secret:...> placeholders may be written as-is: the real value "
        "goes into the file."
    ),
    parameters={
        "type": "object",
        "properties": {"input": {"type": "string", "description": "The whole patch text."}},
        "required": ["input"],
        "additionalProperties": False,
    },
)

READ_FILE = ToolSpec(
    name="read_file",
    description=(
        "Read a text file in the workspace. Lines are numbered (the numbers are not part of the file). "
        "`offset` is the first line (1-based), `limit` the number of lines. Files hidden by ignore rules "
        "cannot be read; secrets in the content are replaced by placeholders."
    ),
    parameters={
        "type": "object",
        "properties": {
            "path": {"type": "string"},
            "offset": {"type": "integer", "description": "First line to read, 1-based."},
            "limit": {"type": "integer", "description": "Number of lines to read (default 2000)."},
        },
        "required": ["path"],
        "additionalProperties": False,
    },
)

LIST_DIR = ToolSpec(
    name="list_dir",
    description="List a directory of the workspace (directories end with /). `depth` defaults to 2.",
    parameters={
        "type": "object",
        "properties": {"path": {"type": "string"}, "depth": {"type": "integer"}},
        "additionalProperties": False,
    },
)

GREP = ToolSpec(
    name="grep",
    description=(
        "Search file contents with a regular expression (RE2 syntax). `path` is a file or directory "
        "(default: the workspace), `glob` filters file names (for example *.py). Returns path:line: text."
    ),
    parameters={
        "type": "object",
        "properties": {"pattern": {"type": "string"}, "path": {"type": "string"}, "glob": {"type": "string"}},
        "required": ["pattern"],
        "additionalProperties": False,
    },
)

UPDATE_PLAN = ToolSpec(
    name="update_plan",
    description="Record the plan for this task as steps with a status; at most one step in_progress.",
    parameters={
        "type": "object",
        "properties": {
            "explanation": {"type": "string"},
            "plan": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "step": {"type": "string"},
                        "status": {"type": "string", "enum": ["pending", "in_progress", "completed"]},
                    },
                    "required": ["step", "status"],
                },
            },
        },
        "required": ["plan"],
        "additionalProperties": False,
    },
)
