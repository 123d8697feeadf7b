"""``shell``: every command passes the policy, then runs in the OS sandbox (DESIGN §4, §8).

The decision is reported as a ``decision`` event naming who decided (the mode, a rule with its
source, or the user); the run is a ``command_execution`` item and a ``command.executed`` record.
Output goes to the model raw (the gate redacts it on the way out) and to events already redacted.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeward.errors import CodewardError
from codeward.events import (
    CommandExecuted,
    CommandExecution,
    ItemCompleted,
    ItemStarted,
    ItemStatus,
    NetworkConnection,
)
from codeward.providers.types import ToolCall
from codeward.tools.approval import settle
from codeward.tools.asking import CommandRequest
from codeward.tools.base import ToolContext, ToolError, ToolOutput
from codeward.tools.read import blocked_message

if TYPE_CHECKING:
    from codeward.sandbox.spec import CommandResult, SandboxSpec


def _connection_event(c: Any) -> NetworkConnection:
    """A proxy connection (``codeward.sandbox.proxy.Connection``) as the event the audit log records."""
    return NetworkConnection(c.host, c.port, c.address, c.bytes_up, c.bytes_down, c.refused)


def _command_item(
    item_id: str, command: str, status: ItemStatus, output: str = "", exit_code: int | None = None
) -> CommandExecution:
    return CommandExecution(id=item_id, command=command, aggregated_output=output, exit_code=exit_code, status=status)


@contextmanager
def redacted_view(ctx: ToolContext, spec: SandboxSpec, shares_host_tmp: bool = True) -> Iterator[SandboxSpec]:
    """``spec`` with the workspace's secret-holding files shown redacted (DESIGN principle 5).

    The session's learner is refreshed first, so a file that gained a secret since the last
    command (through a patch, a command or the user) is redacted for this one, and its sweep for
    the values known so far is waited for (fail closed; the grep tool's slow path does the same).
    Each copy is the file as the gate would send it, with the same placeholders, so
    ``apply_patch`` restores them.
    A failure to build the view refuses the command (fail closed). ``shares_host_tmp``: the tier's
    commands write the host's temporary directories (another place a file could have been linked).
    """
    from codeward.sandbox.redacted_view import ViewError, view_for

    redactor: Any = ctx.gate.redactor
    learner = getattr(redactor, "learner", None)
    if learner is None:
        yield spec
        return

    def secret_paths() -> list[Path]:
        from codeward.privacy.link_names import host_temp
        from codeward.privacy.redacted_paths import LinkedOutside, secret_paths_now

        places: list[str | os.PathLike[str]] = [*spec.writable, *(host_temp() if shares_host_tmp else ())]
        try:
            found = secret_paths_now(redactor, places)  # incremental: only what changed is read again
        except LinkedOutside as e:
            raise ToolError(f"shell: {e}; not run") from None
        except Exception as e:
            raise ToolError(
                f"shell: the secret scan of the workspace failed ({type(e).__name__}: {e}); not run"
            ) from None
        base = Path(learner.root)
        return [spec.workspace / os.path.relpath(p, base) for p in found]

    try:
        with view_for(
            spec, ctx.project.home, secret_paths, lambda text, rel: ctx.gate.redact_text(text, path=rel)[0]
        ) as s:
            yield s
    except ViewError as e:
        raise ToolError(f"shell: cannot show the workspace redacted to commands ({e}); not run") from None


def shell(args: dict[str, Any], ctx: ToolContext, call: ToolCall) -> ToolOutput:
    from codeward.policy import decide_command

    command = args["command"]
    if isinstance(command, list):
        if not command or not all(isinstance(a, str) for a in command):
            raise ToolError("shell: command list must be a non-empty list of strings")
        display = shlex.join(command)
        argv = list(command)
    else:
        if not command.strip():
            raise ToolError("shell: command is empty")
        display = command
        argv = ["bash", "-c", command]
    workdir = ctx.workspace.resolve(args.get("workdir") or ".", must_exist=True)
    if not workdir.is_dir():
        raise ToolError(f"shell: workdir {args.get('workdir')} is not a directory")
    rule = ctx.ignore.match_path(workdir)
    if rule is not None:
        raise ToolError(blocked_message(ctx.workspace.rel(workdir), rule))
    limit_ms = ctx.config.sandbox.timeout_ms
    timeout_ms = min(int(args.get("timeout_ms") or limit_ms), limit_ms)
    if timeout_ms <= 0:
        raise ToolError("shell: timeout_ms must be positive")

    item_id = ctx.ids.next()
    shown_cmd, _ = ctx.gate.redact_text(display)  # events and logs never carry a secret, even in a command
    # the item carries the command line as executed (``bash -c '...'``), as Codex reports it
    item_cmd, _ = ctx.gate.redact_text(shlex.join(argv))
    decision = decide_command(command, ctx.mode, ctx.policy)
    outcome = settle(
        ctx,
        "command",
        [(shown_cmd, "cmd:" + display, decision)],
        lambda reasons: ctx.approver.approve_command(CommandRequest(display, workdir, reasons[0], ctx.mode)),
    )
    if not outcome.go:
        ctx.events.emit(ItemCompleted(_command_item(item_id, item_cmd, "declined")))
        return ToolOutput(outcome.message)

    ctx.events.emit(ItemStarted(_command_item(item_id, item_cmd, "in_progress")))
    try:
        sandbox = ctx.sandbox()
        spec = ctx.project.sandbox_spec()
        spec = replace(spec, cwd=workdir, timeout_s=timeout_ms / 1000)
        with redacted_view(ctx, spec, sandbox.shares_host_tmp) as spec:
            result = sandbox.run(argv, spec, on_connection=lambda c: ctx.events.emit(_connection_event(c)))
    except CodewardError as e:
        ctx.events.emit(ItemCompleted(_command_item(item_id, item_cmd, "failed", f"sandbox: {e.message}")))
        return ToolOutput(f"error: the command did not run: {e.message}")

    if result.host_changed:
        result = _set_aside(ctx, result, spec)
    shown, _ = ctx.gate.redact_text(result.output)
    status: ItemStatus = "completed" if result.exit_code == 0 else "failed"
    ctx.events.emit(ItemCompleted(_command_item(item_id, item_cmd, status, shown, result.exit_code)))
    ctx.events.emit(
        CommandExecuted(
            argv=tuple(ctx.gate.redact_text(a)[0] for a in argv),
            cwd=ctx.workspace.rel(workdir) or ".",
            tier=result.tier,
            exit_code=result.exit_code,
            duration_ms=round(result.duration_ms, 1),
            timed_out=result.timed_out,
        )
    )
    lines = [f"exit code: {result.exit_code if result.exit_code is not None else 'none (killed)'}"]
    if result.output:
        lines.append(result.output.rstrip("\n"))
    if result.truncated:
        lines.append(f"[output truncated to {ctx.config.sandbox.output_cap_bytes} bytes]")
    if result.note:
        lines.append(f"[{result.note}]")
    return ToolOutput("\n".join(lines))


def _set_aside(ctx: ToolContext, result: CommandResult, spec: SandboxSpec) -> CommandResult:
    """The host exposed a hidden file while the command ran: what it wrote meanwhile is moved out.
    Not the files the command's view hid or showed redacted (``spec``'s): it could not write them,
    though under Landlock holding them out of the tree and back moved their ctime (red team rt13)."""
    from codeward.tools.quarantine import quarantine_changed

    learner = getattr(ctx.gate.redactor, "learner", None)
    if learner is None:
        return result
    try:
        untouchable = [*spec.masked, *(host for host, _ in spec.redacted)]
        where, moved = quarantine_changed(learner, ctx.project.home, result.host_changed, untouchable)
    except OSError as e:
        raise ToolError(f"shell: could not set aside what the stopped command wrote: {e}") from None
    if not moved:
        return result
    shown = ", ".join(moved[:5]) + (f" and {len(moved) - 5} more" if len(moved) > 5 else "")
    note = f"{result.note}; files it wrote meanwhile were moved out of the workspace (to {where}): {shown}"
    return replace(result, note=note)
