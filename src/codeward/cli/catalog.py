"""The top-level CLI described as data: commands, shared options and the help text built from them.

This module imports nothing heavy. ``codeward --help`` renders from it without loading click, and
the click group renders the very same text, so the two can never drift apart.
"""

from __future__ import annotations

import os

from codeward.modes import HELP as MODES_HELP

# name -> (module[:attribute], one-line summary)
COMMANDS: dict[str, tuple[str, str]] = {
    "exec": ("codeward.cli.exec_cmd", "Run a task headless (CI): events on stdout with --json."),
    "resume": ("codeward.cli.resume_cmd", "Continue a saved interactive session."),
    "scan": ("codeward.cli.scan_cmd", "Scan files for secrets; exit 1 when any is found."),
    "redact": ("codeward.cli.redact_cmd", "Print text as the privacy gate would send it."),
    "preview": ("codeward.cli.preview_cmd", "Show what the agent may read, and the rule for each blocked path."),
    "policy": ("codeward.cli.policy_cmd", "Check a command against the approval mode and AGENTS.md policy."),
    "sandbox": ("codeward.cli.sandbox_cmd", "Run a command in the same OS sandbox agent commands get."),
    "login": ("codeward.cli.auth_cmd:login", "Store a provider API key in the system keychain."),
    "logout": ("codeward.cli.auth_cmd:logout", "Remove a stored provider API key."),
    "auth": ("codeward.cli.auth_cmd:auth", "Show where each provider's key comes from (never the key)."),
    "logs": ("codeward.cli.logs_cmd", "List, show, verify and export the tamper-evident audit log."),
    "doctor": ("codeward.cli.doctor_cmd", "Run the security checklist: pass / warn / fail with the fix."),
    "init": ("codeward.cli.init_cmd", "Write an ignore-file template and an AGENTS.md policy skeleton."),
    "config": ("codeward.cli.config_cmd", "Explain each config value: where it came from, what a repo was refused."),
}

# (flags, destination, metavar or None for a flag, help); "choice:" metavars list the allowed values
COMMON_OPTIONS: tuple[tuple[tuple[str, ...], str, str | None, str], ...] = (
    (
        ("-a", "--approval-mode"),
        "approval_mode",
        "MODE",
        MODES_HELP,
    ),
    (("-m", "--model"), "model", "MODEL", "Model name to use."),
    (("--provider",), "provider", "ID", "Provider id: openai, ollama, lmstudio or one from config.toml."),
    (("-p", "--profile"), "profile", "NAME", "Use the [profiles.NAME] table of your config.toml."),
    (
        ("-c", "--config"),
        "config_flags",
        "KEY=VALUE",
        "Override a config key (dotted path; VALUE parsed as TOML, else a string). Repeatable.",
    ),
    (("-C", "--cd"), "cd", "DIR", "Work in DIR instead of the current directory."),
    (
        ("--workspace",),
        "workspace",
        "DIR",
        "Use DIR as the workspace even outside a git repository (the only way to work in $HOME or /).",
    ),
    (("--allow-network",), "allow_network", None, "Let sandboxed commands use the network."),
)

GROUP_DOC = """\
A coding agent that keeps your code, keys and machine under your control.

With no command, opens an interactive session (optionally starting with PROMPT).
Nothing leaves the machine without passing the privacy gate; every command runs in
the OS sandbox after a policy decision; everything is written to the audit log."""


def _wrap(text: str, width: int, indent: int) -> list[str]:
    words = text.split()
    lines: list[str] = []
    cur = ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > width - indent:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}" if cur else w
    if cur:
        lines.append(cur)
    return lines or [""]


def _rows(rows: list[tuple[str, str]], width: int) -> list[str]:
    col = min(max(len(a) for a, _ in rows) + 4, 32)
    out: list[str] = []
    for left, right in rows:
        wrapped = _wrap(right, width, col)
        if len(left) + 4 > col:
            out.append(f"  {left}")
            out.extend(" " * col + w for w in wrapped)
        else:
            out.append(f"  {left}".ljust(col) + wrapped[0])
            out.extend(" " * col + w for w in wrapped[1:])
    return out


def render_help(width: int | None = None) -> str:
    """The text of ``codeward --help``."""
    if width is None:
        try:
            width = min(os.get_terminal_size().columns, 100)
        except OSError:
            width = 80
    width = max(width, 50)
    lines = ["Usage: codeward [OPTIONS] [PROMPT]", "       codeward COMMAND [ARGS]...", ""]
    for para in GROUP_DOC.split("\n\n"):
        lines.extend("  " + line for line in _wrap(para, width, 2))
        lines.append("")
    opt_rows = []
    for flags, _dest, metavar, help_ in COMMON_OPTIONS:
        left = ", ".join(flags) + (f" {metavar}" if metavar else "")
        opt_rows.append((left, help_))
    opt_rows.append(("-V, --version", "Show the version and exit."))
    opt_rows.append(("-h, --help", "Show this message and exit."))
    lines.append("Options:")
    lines.extend(_rows(opt_rows, width))
    lines.append("")
    lines.append("Commands:")
    lines.extend(_rows([(name, summary) for name, (_, summary) in COMMANDS.items()], width))
    lines.append("")
    lines.append("Run 'codeward COMMAND --help' for a command's options.")
    return "\n".join(lines) + "\n"
