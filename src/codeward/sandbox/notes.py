"""One line for the model when the sandbox is why a command failed (pure: text in, text out).

The kernel's errors are terse (``Read-only file system``, ``Permission denied``, ``Address family
not supported``); a model that sees them tends to retry the same thing or to ask for the sandbox
to be turned off. The note says what was blocked, by which rule, and what the user can do.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from codeward.sandbox.spec import SandboxSpec

SIGXFSZ = 25
SIGSYS = 31

_NET = re.compile(
    r"Could not resolve host|Temporary failure in name resolution|Name or service not known|"
    r"Network is unreachable|Address family not supported|getaddrinfo failed|nodename nor servname|"
    r"Failed to establish a new connection|Couldn't connect to server|No address associated with hostname|"
    r"Could not resolve proxy|Name resolution|ENETUNREACH|EAI_AGAIN|ENOTFOUND",
    re.IGNORECASE,
)
_ROFS = re.compile(r"Read-only file system|EROFS", re.IGNORECASE)
_DENIED = re.compile(r"Permission denied|EACCES", re.IGNORECASE)
_EPERM = re.compile(r"Operation not permitted|EPERM", re.IGNORECASE)
_FSIZE = re.compile(r"File size limit exceeded|File too large|EFBIG", re.IGNORECASE)
_XDEV = re.compile(r"Invalid cross-device link|EXDEV", re.IGNORECASE)
_BUSY = re.compile(r"Device or resource busy|EBUSY", re.IGNORECASE)
_FORK = re.compile(r"Cannot fork|fork: retry|Resource temporarily unavailable", re.IGNORECASE)


def fmt_seconds(s: float) -> str:
    return f"{s:g}"


def _rel(p: Path, spec: SandboxSpec) -> str:
    try:
        r = p.relative_to(spec.workspace).as_posix()
        return r or "."
    except ValueError:
        return str(p)


def allow_dirs_note(spec: SandboxSpec) -> str:
    """Why a write in the workspace failed when ``allow_directories`` narrows it, and what to do.

    ``sandbox: only src/ may be modified (allow_directories, AGENTS.md:7); other paths are read-only``
    """
    dirs = spec.workspace_writable or ()
    shown = [_rel(d, spec) + "/" for d in dirs[:5]]
    if len(dirs) > 5:
        shown.append(f"{len(dirs) - 5} more")
    rule = spec.write_rule or "allow_directories"
    if shown:
        text = f"sandbox: only {', '.join(shown)} may be modified ({rule}); other paths are read-only"
    else:
        text = f"sandbox: nothing in the workspace may be modified ({rule}); it is read-only"
    if spec.write_skipped:
        text += "; " + "; ".join(spec.write_skipped[:3])
    return text + "; the temp dir ($TMPDIR) stays writable"


def _mentioned(output: str, paths: Sequence[Path], spec: SandboxSpec) -> str | None:
    """The first of ``paths`` the output names (by workspace-relative or absolute form)."""
    for p in sorted(paths, key=lambda x: -len(str(x))):  # ".codewardignore" before ".codeward"
        for form in (str(p), _rel(p, spec)):
            if form and form != "." and form in output:
                return _rel(p, spec)
    return None


def redacted_note(paths: Sequence[str], *, changed: bool = False) -> str:
    """Why a command cannot change a file that holds secrets, and what to use instead."""
    shown = ", ".join(paths[:5]) + (" ..." if len(paths) > 5 else "")
    one = len(paths) == 1
    it = "it" if one else "them"
    what = f"the command's changes to {it} were discarded" if changed else f"commands cannot write {it}"
    return (
        f"sandbox: {shown} {'holds' if one else 'hold'} secrets and {'is' if one else 'are'} shown to commands "
        f"redacted (placeholders instead of values); {what}: change {it} with apply_patch, which keeps the real values"
    )


def explain(
    *,
    exit_code: int | None,
    output: str,
    timed_out: bool,
    spec: SandboxSpec,
    tier: str,
    blocked_hosts: Sequence[str] = (),
    restored: Sequence[str] = (),
    discarded: Sequence[str] = (),
) -> str | None:
    """The note for a finished command, or None when nothing points at the sandbox.

    ``discarded`` names redacted copies a command changed (the Landlock tier lets it write them and
    throws the change away afterwards).
    """
    if timed_out:
        return f"sandbox: command timed out after {fmt_seconds(spec.timeout_s)} s and was killed with all its processes"
    if restored:
        shown = ", ".join(restored[:5]) + (" ..." if len(restored) > 5 else "")
        undone = f"sandbox: the command changed protected paths ({shown}); codeward undid those changes"
        return undone + ("; " + redacted_note(discarded, changed=True)[len("sandbox: ") :] if discarded else "")
    if discarded:
        return redacted_note(discarded, changed=True)
    if blocked_hosts:
        hosts = ", ".join(sorted(set(blocked_hosts))[:5])
        return (
            f"sandbox: blocked connection to {hosts}: not in [sandbox] allowed_domains; "
            "ask the user to add it or to allow the network with --allow-network"
        )
    if exit_code in (None, 0):
        return None
    if exit_code == 128 + SIGXFSZ or _FSIZE.search(output):
        return f"sandbox: file size limit ({spec.max_file_size} bytes) exceeded"
    if exit_code == 128 + SIGSYS:
        return "sandbox: the process was killed by the seccomp filter (a 32-bit or foreign-architecture system call)"
    if not spec.network and _NET.search(output):
        if spec.allowed_domains:
            return (
                "sandbox: network is off except HTTPS to "
                + ", ".join(spec.allowed_domains)
                + " through the proxy; ask the user to allow more with --allow-network"
            )
        return "sandbox: network is off; ask the user to allow it with --allow-network"
    if spec.redacted and (_ROFS.search(output) or _DENIED.search(output) or _BUSY.search(output)):
        hit = _mentioned(output, [h for h, _ in spec.redacted], spec)
        if hit is None and _BUSY.search(output):
            # an in-place editor (sed -i) names only its temp file next to the one it replaces
            hit = next((_rel(h, spec) for h, _ in spec.redacted if _rel(h.parent, spec) + "/" in output), None)
        if hit is not None:
            return redacted_note([hit])
    if _ROFS.search(output) or (tier == "landlock" and _DENIED.search(output)):
        hit = _mentioned(output, spec.protected, spec)
        if hit is not None:
            extra = " (git commands that write, like commit, must be run by the user)" if ".git" in hit else ""
            return f"sandbox: {hit} is read-only (protected path){extra}"
    if _DENIED.search(output) or _ROFS.search(output):
        hit = _mentioned(output, spec.masked, spec)
        if hit is not None:
            why = "ignored file or disallowed directory"
            if spec.redacted:  # the view hides what it cannot show redacted (binary, too large, unreadable)
                why += ", or a file holding secrets that cannot be shown redacted"
            return f"sandbox: {hit} is hidden from commands ({why})"
    if spec.workspace_writable is not None and (
        _ROFS.search(output) or _XDEV.search(output) or (tier == "landlock" and _DENIED.search(output))
    ):
        return allow_dirs_note(spec)
    if _BUSY.search(output):
        return (
            "sandbox: directories that hold protected or hidden files (and those files) cannot be renamed "
            "or removed; move or delete the other files in them instead"
        )
    if _XDEV.search(output):
        return (
            "sandbox: a rename or hard link crossed into or out of a directory that holds protected or hidden "
            "files; copy and delete instead (mv and cp do)"
        )
    if _ROFS.search(output):
        return "sandbox: only the workspace and the temp dir are writable (read-only file system elsewhere)"
    if tier == "landlock" and _DENIED.search(output):
        return (
            "sandbox (landlock): access denied outside the workspace, or in a directory that holds ignored "
            "or protected files (no entries can be added or removed there); install bubblewrap for finer rules"
        )
    if _FORK.search(output):
        return f"sandbox: process limit ({spec.max_processes}) reached"
    if _EPERM.search(output):
        return (
            "sandbox: an operation was blocked (ptrace, mount, namespaces, io_uring, kernel keyrings and "
            "setuid/setgid bits are off)"
        )
    return None
