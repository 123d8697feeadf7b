"""Why bubblewrap is installed but cannot run here, and the fix for that cause.

"Install bubblewrap" is the wrong advice on a host where it is installed: there the kernel, a
security module or the container refuses the user namespace bwrap needs. :func:`probe_facts`
gathers what decides it (sysctls, the AppArmor switch, the process's own seccomp mode, whether
``unshare(CLONE_NEWUSER)`` works in a child, container markers, bwrap's setuid bit, bwrap's own
error); :func:`diagnose` is a pure function from those facts to one cause and one fix.
"""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
from dataclasses import dataclass

CLONE_NEWUSER = 0x10000000
UNSHARE_PROBE = (
    "import ctypes\n"
    "lib = ctypes.CDLL(None, use_errno=True)\n"
    f"print(0 if lib.unshare({CLONE_NEWUSER}) == 0 else ctypes.get_errno())\n"
)


@dataclass(frozen=True)
class Facts:
    """What the host says about user namespaces; ``None`` where a file is absent (not that kernel)."""

    bwrap_path: str
    bwrap_error: str = ""  # bwrap's first line of complaint
    bwrap_setuid: bool = False
    euid: int = 1000
    max_user_namespaces: str | None = None
    unprivileged_userns_clone: str | None = None  # Debian/Arch switch
    apparmor_restrict: str | None = None  # kernel.apparmor_restrict_unprivileged_userns (Ubuntu 23.10+)
    unshare_errno: int | None = None  # unshare(CLONE_NEWUSER) in a child: 0 worked, None not tried
    seccomp_mode: int = 0  # Seccomp: from /proc/self/status (2 = a filter is on this process)
    container: str = ""  # docker, podman, kubernetes, lxc... or ""


@dataclass(frozen=True)
class Diagnosis:
    cause: str
    fix: str


def diagnose(f: Facts) -> Diagnosis:
    """The first cause that explains the failure, most specific first."""
    bw = f.bwrap_path or "bwrap"
    persist = "(persist it in /etc/sysctl.d/99-userns.conf)"
    if f.max_user_namespaces == "0":
        return Diagnosis(
            "user namespaces are switched off (user.max_user_namespaces=0)",
            f"sudo sysctl -w user.max_user_namespaces=15000 {persist}",
        )
    if f.unprivileged_userns_clone == "0" and f.euid != 0 and not f.bwrap_setuid:
        return Diagnosis(
            "unprivileged user namespaces are switched off (kernel.unprivileged_userns_clone=0)",
            f"sudo sysctl -w kernel.unprivileged_userns_clone=1 {persist}, or make bwrap setuid: sudo chmod u+s {bw}",
        )
    if f.apparmor_restrict == "1" and f.euid != 0 and f.unshare_errno not in (0, None):
        return Diagnosis(
            "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1)",
            f"give {bw} an AppArmor profile that allows 'userns' (a file in /etc/apparmor.d/ naming {bw}, loaded "
            "with sudo apparmor_parser -r FILE), or sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 "
            + persist,
        )
    if f.unshare_errno == errno.ENOSPC:
        return Diagnosis(
            "the limit on user namespaces is reached (user.max_user_namespaces)",
            f"raise it: sudo sysctl -w user.max_user_namespaces=15000 {persist}",
        )
    if f.container and f.unshare_errno == errno.EPERM:
        seccomp = " (this process runs under a seccomp filter)" if f.seccomp_mode == 2 else ""
        return Diagnosis(
            f"the {f.container} container refuses new namespaces{seccomp}: its seccomp profile blocks "
            "unshare/clone with CLONE_NEWUSER",
            "start the container with --security-opt seccomp=unconfined (or a profile that allows unshare and "
            "clone with CLONE_NEWUSER), or keep the Landlock tier, which needs neither",
        )
    if f.unshare_errno == errno.EPERM and f.seccomp_mode == 2:
        return Diagnosis(
            "a seccomp filter on this process refuses unshare(CLONE_NEWUSER)",
            "run codeward outside that filter (a service manager's SystemCallFilter=, a sandboxing parent), "
            "or keep the Landlock tier",
        )
    low = f.bwrap_error.lower()
    if f.container and ("proc" in low or "mount" in low):
        return Diagnosis(
            f"the {f.container} container does not let bwrap mount a new /proc or tmpfs ({f.bwrap_error})",
            "start the container with --security-opt systempaths=unconfined --security-opt seccomp=unconfined, "
            "or keep the Landlock tier",
        )
    if f.unshare_errno == errno.EPERM and not f.bwrap_setuid and f.euid != 0:
        return Diagnosis(
            "this kernel does not let unprivileged users create user namespaces",
            f"allow them (distribution setting) or make bwrap setuid: sudo chmod u+s {bw}",
        )
    return Diagnosis(
        f"bwrap fails here: {f.bwrap_error or 'unknown error'}",
        f"run '{bw} --ro-bind / / true' to see the error; user namespaces "
        + ("work here" if f.unshare_errno == 0 else "could not be tested"),
    )


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return None


def container_kind() -> str:
    """The container runtime this process runs in, from the markers runtimes leave, or ""."""
    if os.path.exists("/.dockerenv"):
        return "Docker"
    if os.path.exists("/run/.containerenv"):
        return "Podman"
    env = os.environ.get("container", "")  # noqa: SIM112 - systemd and podman set it in lower case
    if env:
        return env
    cgroup = _read("/proc/1/cgroup") or ""
    for word, name in (("kubepods", "Kubernetes"), ("docker", "Docker"), ("containerd", "containerd"), ("lxc", "LXC")):
        if word in cgroup:
            return name
    return ""


def seccomp_mode(status: str | None = None) -> int:
    text = _read("/proc/self/status") if status is None else status
    for line in (text or "").splitlines():
        if line.startswith("Seccomp:"):
            return int(line.split()[1])
    return 0


def unshare_errno() -> int | None:
    """Try ``unshare(CLONE_NEWUSER)`` in a throwaway child; 0 when it worked."""
    try:
        out = subprocess.run(
            [sys.executable, "-I", "-S", "-c", UNSHARE_PROBE], capture_output=True, text=True, timeout=10
        )
        return int(out.stdout.strip())
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None


def probe_facts(bwrap_path: str, bwrap_error: str) -> Facts:
    try:
        setuid = bool(os.stat(bwrap_path).st_mode & stat.S_ISUID)
    except OSError:
        setuid = False
    return Facts(
        bwrap_path=bwrap_path,
        bwrap_error=bwrap_error,
        bwrap_setuid=setuid,
        euid=os.geteuid(),
        max_user_namespaces=_read("/proc/sys/user/max_user_namespaces"),
        unprivileged_userns_clone=_read("/proc/sys/kernel/unprivileged_userns_clone"),
        apparmor_restrict=_read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"),
        unshare_errno=unshare_errno(),
        seccomp_mode=seccomp_mode(),
        container=container_kind(),
    )
