"""macOS: the same rules as a ``sandbox-exec`` (Seatbelt) profile. Built and golden-tested everywhere, run on macOS.

Only ``/usr/bin/sandbox-exec`` is ever run, never one found on PATH. In SBPL the last matching
rule wins, so the profile allows broadly first and then denies: reads everywhere except the
homes (toolchains allowed again), the codeward home and the masked paths; writes only in the
writable roots (the workspace, or only its ``allow_directories`` when they narrow it) and the
private temp dir, with the protected paths denied again (``literal`` as
well as ``subpath``, so a missing ``AGENTS.md`` or ``.git`` cannot be created); network only to
the local proxy port when ``allowed_domains`` is set. Seatbelt has no pid or network namespace
and no private ``/tmp``; those gaps are listed in ``sandbox_status()``. Limits and the process
tree kill come from the launcher, run inside the profile.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from codeward.sandbox.spec import CommandResult, SandboxSpec, validate_spec
from codeward.scratch import process_dir

if TYPE_CHECKING:
    from codeward.sandbox.proxy import Connection

SANDBOX_EXEC = "/usr/bin/sandbox-exec"
# mach services ordinary tools need: user lookups, logging, preferences, certificate checks for HTTPS
MACH_SERVICES: tuple[str, ...] = (
    "com.apple.system.opendirectoryd.libinfo",
    "com.apple.system.logger",
    "com.apple.system.notification_center",
    "com.apple.cfprefsd.daemon",
    "com.apple.trustd.agent",
    "com.apple.SecurityServer",
)


def sbpl_string(s: str) -> str:
    """A string literal for SBPL (Scheme-like: backslash and double quote escaped)."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _filters(paths: Iterable[Path], *, literal: bool = True) -> list[str]:
    out: list[str] = []
    for p in paths:
        if literal:
            out.append(f"(literal {sbpl_string(str(p))})")
        out.append(f"(subpath {sbpl_string(str(p))})")
    return out


def _rule(action: str, ops: str, filters: list[str]) -> list[str]:
    if not filters:
        return []
    return [f"({action} {ops}"] + [f"  {f}" for f in filters] + [")"]


def build_profile(
    spec: SandboxSpec,
    *,
    private_tmp: Path,
    homes: Sequence[Path],
    toolchains: Sequence[Path],
    hidden: Sequence[Path],
    protected: Sequence[Path],
    proxy_port: int | None,
) -> str:
    """The SBPL profile text for ``spec`` (pure; every path comes in as an argument)."""
    lines = [
        "(version 1)",
        "(deny default)",
        ";; processes: run anything, signal and inspect only processes of this sandbox",
        "(allow process-exec process-fork)",
        "(allow signal (target same-sandbox))",
        "(allow process-info* (target same-sandbox))",
        "(allow sysctl-read)",
        "(allow ipc-posix-shm-read-data ipc-posix-shm-read-metadata)",
    ]
    lines += _rule("allow", "mach-lookup", [f"(global-name {sbpl_string(n)})" for n in MACH_SERVICES])
    lines += [";; reads: everywhere but the homes, the codeward home and the masked paths", "(allow file-read*)"]
    lines += _rule("deny", "file-read*", _filters(homes))
    lines += _rule("allow", "file-read*", _filters(toolchains))
    # the directories above a writable root must be stat-able for path lookups (names only, no listing)
    ancestors: list[Path] = []
    for root in spec.roots():
        for a in reversed(root.parents):
            if any(a == h or h in a.parents for h in homes) and a not in ancestors:
                ancestors.append(a)
    lines += _rule("allow", "file-read-metadata", [f"(literal {sbpl_string(str(a))})" for a in ancestors])
    if spec.readonly_roots():
        lines += [";; the workspace is read-only but for its allow_directories"]
        lines += _rule("allow", "file-read*", _filters(spec.readonly_roots(), literal=False))
        lines += [";; writes: the allowed directories, --writable dirs, the private temp dir and the null devices"]
    else:
        lines += [";; writes: the workspace, --writable dirs, the private temp dir and the null devices"]
    writable = [*spec.writable_roots(), private_tmp]
    lines += _rule("allow", "file-read* file-write*", _filters(writable, literal=False))
    lines += _rule(
        "allow",
        "file-write-data",
        [f"(literal {sbpl_string(d)})" for d in ("/dev/null", "/dev/zero", "/dev/dtracehelper")],
    )
    if spec.workspace_writable:
        # as under bwrap (a mount point) and Landlock (no rights on the parent): the entries of an
        # allowed directory are writable, the directory itself cannot be removed or renamed away
        lines += [";; an allowed directory itself stays where it is"]
        lines += _rule("deny", "file-write*", [f"(literal {sbpl_string(str(d))})" for d in spec.workspace_writable])
    lines += [";; protected paths stay read-only, and cannot be created, renamed or removed"]
    lines += _rule("deny", "file-write*", _filters(protected))
    lines += [";; hidden: ignored files, disallowed directories, the codeward home"]
    lines += _rule("deny", "file-read* file-write*", _filters(hidden))
    if spec.network:
        lines += [";; network: on", "(allow network*)"]
    else:
        lines += [";; network: off" + (" except the local proxy" if proxy_port is not None else "")]
        if proxy_port is not None:
            lines += [f'(allow network-outbound (remote ip "localhost:{proxy_port}"))']
    return "\n".join(lines) + "\n"


class SeatbeltSandbox:
    """Runs commands under ``/usr/bin/sandbox-exec`` with the launcher inside for limits and kill."""

    tier = "seatbelt"
    shares_host_tmp = True

    def run(
        self,
        argv: Sequence[str],
        spec: SandboxSpec,
        *,
        on_output: Callable[[str], None] | None = None,
        on_connection: Callable[[Connection], None] | None = None,
    ) -> CommandResult:
        from codeward.sandbox import launch
        from codeward.sandbox.env import child_env
        from codeward.sandbox.landlock import proxy_env
        from codeward.sandbox.layout import TOOLCHAIN_DIRS, build_layout
        from codeward.sandbox.notes import explain
        from codeward.sandbox.protect import protected_census, remove_created
        from codeward.sandbox.proxy import ConnectProxy, DomainPolicy
        from codeward.sandbox.runner import run_process
        from codeward.sandbox.spec import host_homes

        validate_spec(spec, argv)
        python = launch.trusted_python(spec.roots())
        child_env(spec.env_passthrough)
        # no mounts here to show a redacted copy: files that hold secrets are denied instead (fail closed)
        layout = build_layout(spec, private_dirs=(), extra_hidden=[h for h, _ in spec.redacted])
        homes = host_homes()
        toolchains = [h / n for h in homes for n in TOOLCHAIN_DIRS if (h / n).is_dir()]
        before = protected_census(spec.workspace)
        private = process_dir("codeward-sbx-").resolve()
        proxy: ConnectProxy | None = None
        restored: list[str] = []
        try:
            (private / "home").mkdir()
            env = child_env(spec.env_passthrough, home=str(private / "home"), tmpdir=str(private))
            if spec.allowed_domains and not spec.network:
                proxy = ConnectProxy(DomainPolicy(spec.allowed_domains), on_connection=on_connection).start()
                env.update(proxy_env(f"http://127.0.0.1:{proxy.port}"))
            profile = build_profile(
                spec,
                private_tmp=private,
                homes=homes,
                toolchains=toolchains,
                hidden=[*layout.hidden(), spec.home_dir()],
                protected=[*layout.readonly, *layout.missing_protected, *layout.linked_protected],
                proxy_port=proxy.port if proxy else None,
            )
            launcher_spec = {
                "rlimits": {"fsize": spec.max_file_size, "nproc": spec.max_processes, "core": 0},
                "supervise": True,
            }
            full = [SANDBOX_EXEC, "-p", profile, *launch.launcher_argv(python, launcher_spec, argv)]
            raw = run_process(
                full,
                env=env,
                cwd=str(spec.cwd),
                timeout_s=spec.timeout_s,
                output_cap=spec.output_cap,
                on_output=on_output,
                stop=lambda p: os.kill(p.pid, 15),
            )
        finally:
            if proxy is not None:
                proxy.stop()
            shutil.rmtree(private, ignore_errors=True)
            restored = remove_created(spec.workspace, before)
        note = explain(
            exit_code=raw.returncode,
            output=raw.output,
            timed_out=raw.timed_out,
            spec=spec,
            tier=self.tier,
            blocked_hosts=proxy.blocked if proxy else (),
            restored=restored,
        )
        return CommandResult(raw.returncode, raw.output, raw.truncated, raw.timed_out, raw.duration_ms, self.tier, note)
