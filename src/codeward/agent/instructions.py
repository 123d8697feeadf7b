"""What the model is told before the task: base instructions, AGENTS.md files, the environment.

AGENTS.md text goes out as instructions like everything else, through the gate. A file too large
to send whole is cut with a visible note (never silently, unlike Codex's 32 KiB limit).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from codeward.project import Project

MAX_AGENTS_BYTES = 64 * 1024

BASE_INSTRUCTIONS = """\
You are codeward, a coding agent working in the user's repository through tools.

How to work:
- Read before you change: use list_dir, grep and read_file to understand the code.
- Change files only with apply_patch (the Codex patch format); run commands with shell.
- Keep changes focused on the task; run the project's tests when they exist.
- When the task is done, answer with a short summary of what you changed and how you checked it.

What codeward enforces (do not try to get around it):
- Files hidden by ignore rules (.codewardignore, .codexignore, built-in rules for keys and
  credentials) cannot be read, listed, searched or changed, by tools or by shell commands.
- Secrets in anything you see are replaced by placeholders like <secret:rule-id:1a2b3c4d>. You may
  copy a placeholder into a patch (the real value goes into the file), but never try to recover
  the value. Commands get the placeholder text, not the value: files that hold secrets are shown
  to commands redacted and read-only; change them with apply_patch.
- Commands run in an OS sandbox: writes only inside the workspace and temp dirs, no network unless
  the user allowed it, AGENTS.md, ignore files, .codeward/ and .git/ read-only.
- Some commands and edits need the user's approval or are refused by policy. A refusal says why;
  do not retry the same action in another form, work with what is allowed or explain what is needed.
"""


@dataclass(frozen=True)
class Preamble:
    """The developer message that precedes the task."""

    text: str
    files: tuple[str, ...]
    notices: tuple[str, ...]


def build_preamble(project: Project, *, sandbox: str) -> Preamble:
    """The developer message; an AGENTS.md that the ignore rules hide is left out (and said so).

    It takes the whole :class:`Project` so that no caller can build it without the ignore rules.
    """
    workspace, home, mode, network = project.workspace, project.home, project.mode, project.network
    parts: list[str] = []
    files: list[str] = []
    notices: list[str] = []
    budget = MAX_AGENTS_BYTES
    for f in workspace.agents_files(home):
        rule = project.ignore.match_path(f)
        if rule is not None:
            notices.append(f"{workspace.rel(f)} is not sent to the model: hidden by the {rule.describe()}")
            continue
        try:
            text = f.read_text(encoding="utf-8", errors="replace")
        except OSError as e:
            notices.append(f"could not read {f}: {e.strerror}")
            continue
        if not text.strip():
            continue
        label = "$CODEWARD_HOME/AGENTS.md" if f.parent == home else (workspace.rel(f) or "AGENTS.md")
        data = text.encode("utf-8")
        if len(data) > budget:
            text = data[:budget].decode("utf-8", errors="ignore")
            notices.append(f"{label} was cut to {budget} bytes (AGENTS.md files may hold {MAX_AGENTS_BYTES} in all)")
            text += f"\n[... {label} cut here: over the {MAX_AGENTS_BYTES}-byte limit for instructions]"
        budget -= min(len(data), budget)
        parts.append(f"## {label}\n\n{text.strip()}\n")
        if f.parent != home:
            files.append(workspace.rel(f))
        if budget <= 0:
            break
    env = (
        "<environment_context>\n"
        f"  <cwd>{workspace.cwd}</cwd>\n"
        f"  <approval_mode>{mode}</approval_mode>\n"
        f"  <sandbox>{sandbox}</sandbox>\n"
        f"  <network_access>{network}</network_access>\n"
        "  <shell>bash</shell>\n"
        "</environment_context>"
    )
    text = env
    if parts:
        text = "# Instructions from AGENTS.md files (follow them)\n\n" + "\n".join(parts) + "\n" + env
    return Preamble(text=text, files=tuple(files), notices=tuple(notices))
