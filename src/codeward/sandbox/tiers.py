"""Which tier can be enforced here: probe each once per process, pick the strongest, or refuse.

Order: bubblewrap -> Landlock + seccomp -> Seatbelt (macOS) -> none. "none" is only ever chosen
when the user said so (``[sandbox] unsafe_allow_unsandboxed = true`` or
``--dangerously-allow-unsandboxed``); otherwise :func:`select_sandbox` raises
:class:`~codeward.errors.SandboxUnavailable` (exit 125) naming why each tier failed, so a degraded
host never runs model commands unconfined without anyone noticing.

The probes sit behind :class:`Prober` so tests can present any host (no bwrap, userns disabled,
an old kernel) without changing the machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from codeward.errors import SandboxUnavailable, UsageError
from codeward.hostprog import program
from codeward.sandbox import launch  # reads the launcher's text now, at session start
from codeward.sandbox.spec import TIERS, CommandResult, Sandbox, SandboxSpec, TierStatus, validate_spec
from codeward.scratch import process_dir

if TYPE_CHECKING:
    from codeward.sandbox.proxy import Connection

MIN_BWRAP = (0, 8, 0)


@dataclass(frozen=True)
class Probe:
    available: bool
    reason: str  # why not, or a short description when available
    detail: str = ""
    path: str = ""
    abi: int = 0


class Prober(Protocol):
    def bwrap(self) -> Probe: ...
    def landlock(self) -> Probe: ...
    def seatbelt(self) -> Probe: ...


def find_program(name: str) -> str | None:
    """``name`` as :func:`codeward.hostprog.program` finds it (the system directories first, never a
    relative PATH entry or one inside the workspace: a repository must not ship its own ``bwrap``),
    with links resolved."""
    found = program(name)
    return os.path.realpath(found) if found else None


def _version(text: str) -> tuple[int, ...]:
    for word in text.split():
        parts = word.split(".")
        if len(parts) >= 2 and all(p.isdigit() for p in parts):
            return tuple(int(p) for p in parts)
    return ()


class HostProber:
    """The real probes. Each runs once per process; the answers are cached."""

    def __init__(self) -> None:
        self._cache: dict[str, Probe] = {}
        self._lock = threading.Lock()

    def _cached(self, name: str, fn: Callable[[], Probe]) -> Probe:
        with self._lock:
            if name not in self._cache:
                self._cache[name] = fn()
            return self._cache[name]

    def bwrap(self) -> Probe:
        return self._cached("bwrap", _probe_bwrap)

    def landlock(self) -> Probe:
        return self._cached("landlock", _probe_landlock)

    def seatbelt(self) -> Probe:
        return self._cached("seatbelt", _probe_seatbelt)


def _probe_bwrap() -> Probe:
    if not sys.platform.startswith("linux"):
        return Probe(False, "bubblewrap exists only on Linux")
    path = find_program("bwrap")
    if path is None:
        return Probe(False, "bwrap not found (install it: apt-get install bubblewrap / dnf install bubblewrap)")
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return Probe(False, f"{path} --version failed: {e}", path=path)
    ver = _version(out.stdout)
    if ver < MIN_BWRAP:
        shown = ".".join(map(str, ver)) or "unknown"
        return Probe(False, f"bwrap {shown} is too old: --disable-userns and --size need 0.8.0 or newer", path=path)
    from codeward.sandbox.seccomp import SeccompError, build_filter, policy_for

    try:
        bpf = build_filter(policy_for("bwrap", network=False, proxy=False))
    except SeccompError as e:
        return Probe(False, f"seccomp filter: {e}", path=path)
    fd = os.memfd_create("codeward-probe", 0)
    try:
        os.write(fd, bpf)
        os.lseek(fd, 0, os.SEEK_SET)
        argv = [
            path,
            "--new-session",
            "--die-with-parent",
            "--unshare-all",
            "--unshare-user",
            "--disable-userns",
            "--cap-drop",
            "ALL",
            "--ro-bind",
            "/",
            "/",
            "--dev",
            "/dev",
            "--proc",
            "/proc",
            "--tmpfs",
            "/tmp",
            "--seccomp",
            str(fd),
            "--",
            "/bin/sh",
            "-c",
            "exit 0",
        ]
        res = subprocess.run(argv, capture_output=True, text=True, timeout=20, pass_fds=(fd,), stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        return Probe(False, f"bwrap probe failed: {e}", path=path)
    finally:
        os.close(fd)
    if res.returncode != 0:
        from codeward.sandbox.bwrap_diag import diagnose, probe_facts

        msg = (res.stderr.strip().splitlines() or [f"exit {res.returncode}"])[0]
        d = diagnose(probe_facts(path, msg))
        return Probe(False, f"{path} is installed but cannot run: {d.cause} ({msg})", detail=d.fix, path=path)
    prlimit = find_program("prlimit") or ""
    return Probe(True, f"bubblewrap {'.'.join(map(str, ver))}", detail=prlimit, path=path)


def _probe_landlock() -> Probe:
    from codeward.sandbox.landlock import probe_abi
    from codeward.sandbox.seccomp import SeccompError, native_arch

    abi, why = probe_abi()
    if abi < 1:
        return Probe(False, why)
    try:
        native_arch()
    except SeccompError as e:
        return Probe(False, f"Landlock ABI {abi}, but {e}")
    return Probe(True, f"Landlock ABI {abi} + seccomp", abi=abi)


def _probe_seatbelt() -> Probe:
    from codeward.sandbox.seatbelt import SANDBOX_EXEC

    if sys.platform != "darwin":
        return Probe(False, "Seatbelt (sandbox-exec) exists only on macOS")
    if not os.access(SANDBOX_EXEC, os.X_OK):
        return Probe(False, f"{SANDBOX_EXEC} not found")
    return Probe(True, "macOS sandbox-exec", path=SANDBOX_EXEC)


_default_prober: HostProber | None = None
_prober_lock = threading.Lock()


def default_prober() -> Prober:
    global _default_prober
    with _prober_lock:
        if _default_prober is None:
            _default_prober = HostProber()
        return _default_prober


class UnsandboxedSandbox:
    """No confinement, on the user's explicit say-so. Env allowlist, limits, timeout and tree kill still apply."""

    tier = "none"
    shares_host_tmp = True

    def run(
        self,
        argv: Sequence[str],
        spec: SandboxSpec,
        *,
        on_output: Callable[[str], None] | None = None,
        on_connection: Callable[[Connection], None] | None = None,
    ) -> CommandResult:
        from codeward.sandbox import hold
        from codeward.sandbox.env import child_env
        from codeward.sandbox.notes import explain
        from codeward.sandbox.runner import run_process

        validate_spec(spec, argv)
        hold.recover(spec.home_dir(), spec.workspace)  # what a killed Landlock run left held
        python = launch.trusted_python(spec.roots())
        private = process_dir("codeward-run-")
        try:
            env = child_env(spec.env_passthrough, tmpdir=str(private))
            launcher_spec = {
                "rlimits": {"fsize": spec.max_file_size, "nproc": spec.max_processes, "core": 0},
                "supervise": True,
            }
            raw = run_process(
                launch.launcher_argv(python, launcher_spec, argv),
                env=env,
                cwd=str(spec.cwd),
                timeout_s=spec.timeout_s,
                output_cap=spec.output_cap,
                on_output=on_output,
                stop=lambda p: os.kill(p.pid, 15),
            )
        finally:
            shutil.rmtree(private, ignore_errors=True)
        note = explain(exit_code=raw.returncode, output=raw.output, timed_out=raw.timed_out, spec=spec, tier=self.tier)
        return CommandResult(raw.returncode, raw.output, raw.truncated, raw.timed_out, raw.duration_ms, self.tier, note)


def _make(tier: str, probe: Probe, hold_view: bool) -> Sandbox:
    if tier == "bwrap":
        from codeward.sandbox.bwrap import BwrapSandbox

        return BwrapSandbox(probe.path, probe.detail or None, hold_view=hold_view)
    if tier == "landlock":
        from codeward.sandbox.landlock import LandlockSandbox

        return LandlockSandbox(probe.abi)
    from codeward.sandbox.seatbelt import SeatbeltSandbox

    return SeatbeltSandbox()


def _probe(prober: Prober, tier: str) -> Probe:
    return {"bwrap": prober.bwrap, "landlock": prober.landlock, "seatbelt": prober.seatbelt}[tier]()


def select_sandbox(
    preference: str = "auto",
    *,
    allow_unsandboxed: bool = False,
    prober: Prober | None = None,
    hold_view: bool = True,
) -> Sandbox:
    """The strongest tier available (or the one ``preference`` names), else SandboxUnavailable (exit 125).

    ``hold_view`` lets bubblewrap keep one view (and its scratch ``/tmp``) between commands while it
    stays the same (:mod:`codeward.sandbox.view_holder`); the warm ``codeward sandbox`` server turns
    it off, since each of its commands must start as a one-shot run does (red team rt14)."""
    prober = prober or default_prober()
    if preference not in ("auto", *TIERS):
        raise UsageError(f"sandbox tier {preference!r}: expected auto, " + ", ".join(TIERS))
    if preference == "none":
        if not allow_unsandboxed:
            raise SandboxUnavailable(
                "sandbox: tier 'none' runs commands unconfined; it needs [sandbox] unsafe_allow_unsandboxed = true "
                "or --dangerously-allow-unsandboxed"
            )
        return UnsandboxedSandbox()
    order = ["bwrap", "landlock", "seatbelt"] if preference == "auto" else [preference]
    reasons: list[str] = []
    for tier in order:
        probe = _probe(prober, tier)
        if probe.available:
            return _make(tier, probe, hold_view)
        reasons.append(f"{tier}: {probe.reason}")
    if allow_unsandboxed and preference == "auto":
        return UnsandboxedSandbox()
    raise SandboxUnavailable(
        "no sandbox can be enforced here (" + "; ".join(reasons) + f"). {bwrap_fix(prober).rstrip('.')}, or accept "
        "running commands unconfined with --dangerously-allow-unsandboxed"
    )


INSTALL_BWRAP = "Install bubblewrap (apt-get install bubblewrap / dnf install bubblewrap)"


def bwrap_fix(prober: Prober | None = None) -> str:
    """What makes bubblewrap work here: install it, or the fix for the reason it cannot run."""
    b = (prober or default_prober()).bwrap()
    if b.available:
        return ""
    if b.path and b.detail:
        return b.detail[0].upper() + b.detail[1:]
    return INSTALL_BWRAP


BWRAP_GAPS: tuple[str, ...] = (
    "a command can create AGENTS.md, an ignore file, .codeward/ or a new git repository in a subdirectory "
    "while it runs (only existing ones and the workspace root's are mounted read-only); codeward removes "
    "them when the command ends",
    "allowed_domains: HTTPS through CONNECT only; what is sent to an allowed host is not inspected",
)
LANDLOCK_GAPS: tuple[str, ...] = (
    "ignored files inside the workspace are moved out of it while a command runs (same inode, renamed back "
    "after it; a crash is repaired by the next run): other programs do not see them meanwhile, and sessions "
    "in the same workspace take turns",
    "an ignored file on another mount than every holding place (a workspace that is itself a mount point) is "
    "hidden by freezing the directories above it: no entry can be added or removed there, and names inside an "
    "ignored directory can be listed; mount the workspace's parent instead",
    "protected paths are not read-only while a command runs: .git and .codeward are moved back if renamed; "
    "hooks, git config, AGENTS.md and ignore files are put back after it and new ones removed; a command can "
    "delete objects in .git, and a git run on the host meanwhile (an editor's) reads the command's .git/config",
    "tracked files that are ignored look deleted to git inside the sandbox",
    "/tmp is the host's shared /tmp (writable only with the network off, and as root only in a container; "
    "else only $TMPDIR): the user's own files there can be read and changed",
    "chmod and utime of the user's files outside the workspace are not controlled (setuid/setgid bits are refused)",
    "no pid namespace: a command that kills its own supervisor can leave background processes running",
    "no private network namespace: sockets are refused outright with the network off (socketpair still works)",
    "git commands that write .git (commit, fetch) work here, unlike under bubblewrap",
)
LANDLOCK_ROOT_GAPS: tuple[str, ...] = (
    "running as root: commands run as the workspace's owner, or uid 65533 keeping only CAP_DAC_OVERRIDE, so "
    "they cannot chmod, chown or re-date root's files; they can still touch a readable host file to the "
    "current time and read other users' files outside the hidden places, and chmod of root-owned files in "
    "the workspace fails",
)
SEATBELT_GAPS: tuple[str, ...] = (
    "no pid namespace and no private /tmp",
    "no network namespace: with the network off every socket is denied by the profile",
)
NONE_GAPS: tuple[str, ...] = ("commands run unconfined: they can read and write everything the user can",)


def sandbox_status(prober: Prober | None = None) -> list[TierStatus]:
    """Each tier for ``codeward doctor``: available here or not, why, and what it cannot do."""
    from codeward.sandbox.layout import TOOLCHAIN_DIRS

    prober = prober or default_prober()
    out: list[TierStatus] = []
    b = prober.bwrap()
    gaps = list(BWRAP_GAPS)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        gaps.append("running as root: the kernel ignores RLIMIT_NPROC for root, so the process limit is not enforced")
        gaps.append(
            "running as root: a command still owns every root-owned file it can see; known secret locations are "
            "hidden, others are readable (run codeward as a normal user)"
        )
    if b.available and not b.detail:
        gaps.append("prlimit not found: limits are set with the shell's ulimit")
    detail = (
        f"{b.path}; toolchains shown read-only from the home directory: {', '.join(TOOLCHAIN_DIRS)}"
        if b.available
        else bwrap_fix(prober)
    )
    out.append(TierStatus("bwrap", b.available, b.reason, tuple(gaps), detail))
    ll = prober.landlock()
    lgaps = list(LANDLOCK_GAPS)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        lgaps.extend(LANDLOCK_ROOT_GAPS)
    if ll.available and ll.abi < 4:
        lgaps.append(f"Landlock ABI {ll.abi} has no TCP rules: allowed_domains cannot be used")
    if ll.available and ll.abi < 6:
        lgaps.append(f"Landlock ABI {ll.abi} has no scopes: signals to other processes are not blocked")
    out.append(TierStatus("landlock", ll.available, ll.reason, tuple(lgaps), f"ABI {ll.abi}" if ll.abi else ""))
    sb = prober.seatbelt()
    out.append(TierStatus("seatbelt", sb.available, sb.reason, SEATBELT_GAPS, sb.path))
    out.append(TierStatus("none", True, "only with --dangerously-allow-unsandboxed", NONE_GAPS, ""))
    return out
