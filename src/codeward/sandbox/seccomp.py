"""The seccomp filter: raw classic-BPF bytes assembled here, for bwrap's ``--seccomp FD`` and the launcher.

Why our own assembler rather than a binding: the filter is short, every rule is unit-tested by
interpreting the bytes, there is no libseccomp runtime dependency, and argument checks are written
as 32-bit compares on purpose. The kernel truncates ``int`` arguments such as ``socket``'s family, so
a 64-bit compare of ``0x1_00000002`` against ``AF_INET`` is bypassed; a compare of the low word is not.

Layout of every filter (default allow; the dangerous calls are denied by number):

1. ``seccomp_data.arch`` must be the native arch, else the process is killed (i386 ``int 0x80``
   would reach ``socketcall`` and other numbers this table does not know).
2. x32 numbers (``nr & 0x40000000``) are refused on x86_64.
3. Kernel-attack surface and escape tools return EPERM: ptrace, process_vm_*, io_uring (its
   ``IORING_OP_SOCKET`` would get around the socket rule), the mount API, unshare/setns, keyrings,
   bpf, perf, modules, kexec, userfaultfd, open_by_handle_at, pidfd_getfd, ...
4. ``clone`` with any ``CLONE_NEW*`` flag returns EPERM; ``clone3`` returns ENOSYS, because its flags
   sit in memory a filter cannot read, and libc then falls back to ``clone``.
5. ``ioctl(TIOCSTI / TIOCLINUX)`` returns EPERM (typing into a terminal).
6. ``socket`` / ``socketpair`` are limited by :class:`SocketPolicy`; other families get EAFNOSUPPORT.
7. No setuid/setgid bit can be set, in every tier: ``chmod``/``fchmod``/``fchmodat``/``fchmodat2``
   and ``mknod``/``mknodat`` with S_ISUID|S_ISGID in the mode, and ``open``/``openat``/``creat``
   creating a file with them, return EPERM; ``openat2`` (its mode sits in memory a filter cannot
   read) returns ENOSYS, so libc falls back to ``openat``. A setuid copy of a shell left in the
   workspace would hand euid 0 to any local user when codeward runs as root.
"""

from __future__ import annotations

import functools
import platform
import struct
from dataclasses import dataclass, field

from codeward.sandbox.syscalls import SYSCALLS  # the numbers are data, kept in their own module

# --- BPF and seccomp constants (linux/filter.h, linux/seccomp.h, linux/audit.h) -------------------

BPF_LD_W_ABS = 0x20
BPF_JMP_JEQ_K = 0x15
BPF_JMP_JGE_K = 0x35
BPF_JMP_JSET_K = 0x45
BPF_ALU_AND_K = 0x54
BPF_RET_K = 0x06

SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000

EPERM = 1
ENOSYS = 38
EAFNOSUPPORT = 97

AUDIT_ARCH_X86_64 = 0xC000003E
AUDIT_ARCH_AARCH64 = 0xC00000B7
X32_SYSCALL_BIT = 0x40000000

# offsets in struct seccomp_data
OFF_NR = 0
OFF_ARCH = 4


def arg_lo(i: int) -> int:
    """Offset of the low 32 bits of syscall argument ``i`` (little-endian arches only)."""
    return 16 + 8 * i


AF_UNIX = 1
AF_INET = 2
AF_INET6 = 10
SOCK_STREAM = 1
SOCK_TYPE_MASK = 0xF

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NS_FLAGS = (
    CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET
)

TIOCSTI = 0x5412
TIOCLINUX = 0x541C
S_ISUID_ISGID = 0o6000


AUDIT_ARCH = {"x86_64": AUDIT_ARCH_X86_64, "aarch64": AUDIT_ARCH_AARCH64}

# Refused with EPERM in every mode (names missing on an arch are skipped).
DENIED: tuple[str, ...] = (
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_getfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "open_tree_attr",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "unshare",
    "setns",
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "open_by_handle_at",
    "name_to_handle_at",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "swapon",
    "swapoff",
    "reboot",
    "syslog",
    "acct",
    "quotactl",
    "quotactl_fd",
    "lookup_dcookie",
    "vhangup",
    "iopl",
    "ioperm",
    "uselib",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "sethostname",
    "setdomainname",
)

# calls whose mode argument (at this index) always applies: chmod-like calls, creat, mknod
MODE_CALLS: dict[str, int] = {
    "chmod": 1,
    "fchmod": 1,
    "fchmodat": 2,
    "fchmodat2": 2,
    "creat": 1,
    "mknod": 1,
    "mknodat": 2,
}
# open-like calls: (index of flags, index of mode); the mode applies with O_CREAT or O_TMPFILE
OPEN_CALLS: dict[str, tuple[int, int]] = {"open": (1, 2), "openat": (2, 3)}
O_CREAT_OR_TMPFILE = 0o100 | 0o20000000  # same values on x86_64 and aarch64


class SeccompError(Exception):
    """The filter cannot be built (unknown arch, a jump too far); the sandbox must not start."""


def native_arch() -> str:
    """``x86_64`` or ``aarch64``; anything else has no syscall table here, so it is refused."""
    m = platform.machine().lower()
    if m in ("x86_64", "amd64"):
        return "x86_64"
    if m in ("aarch64", "arm64"):
        return "aarch64"
    raise SeccompError(f"no seccomp syscall table for the {m or 'unknown'} architecture")


@dataclass(frozen=True)
class SocketPolicy:
    """Which sockets a command may create.

    ``families`` None means any family. ``inet_stream_only`` limits AF_INET/AF_INET6 to
    SOCK_STREAM (no UDP, so no DNS exfiltration where there is no network namespace).
    ``socketpair`` is always AF_UNIX-only: a connected pair reaches nothing outside.
    """

    families: frozenset[int] | None = frozenset({AF_UNIX})
    inet_stream_only: bool = False


@dataclass(frozen=True)
class FilterPolicy:
    sockets: SocketPolicy = field(default_factory=SocketPolicy)
    deny_xattr_writes: bool = False
    """Refuse setting and removing extended attributes (the Landlock tier: Landlock does not govern
    them, so a command could tag any file it can reach outside the workspace)."""


XATTR_WRITES: tuple[str, ...] = (
    "setxattr",
    "lsetxattr",
    "fsetxattr",
    "removexattr",
    "lremovexattr",
    "fremovexattr",
    "setxattrat",
    "removexattrat",
)


def policy_for(tier: str, *, network: bool, proxy: bool) -> FilterPolicy:
    """The filter each tier needs.

    bwrap has its own empty network namespace and hides every socket path it knows, so with the
    network off AF_UNIX stays usable for local IPC (asyncio, multiprocessing managers, test
    servers); an abstract or pathname socket of the host is simply not reachable from there.
    Denying ``sendto``/``connect`` instead would break ``send()`` on connected AF_UNIX sockets
    (asyncio's ``call_soon_threadsafe`` hangs), so the filter limits socket *creation* only.

    The Landlock tier shares the host's network namespace and cannot stop a connect to a host
    socket path before Landlock ABI 9, so there ``socket()`` is refused outright with the network
    off (``socketpair`` still works), and with a proxy only TCP sockets may be made (Landlock then
    allows connecting to the proxy's port alone).
    """
    if network:
        return FilterPolicy(SocketPolicy(None), deny_xattr_writes=tier == "landlock")
    if tier == "landlock":
        fams = frozenset({AF_INET}) if proxy else frozenset()
        return FilterPolicy(SocketPolicy(fams, inet_stream_only=True), deny_xattr_writes=True)
    fams = frozenset({AF_UNIX, AF_INET, AF_INET6}) if proxy else frozenset({AF_UNIX})
    return FilterPolicy(SocketPolicy(fams))


# --- a tiny assembler with labels ----------------------------------------------------------------


@dataclass
class _Ins:
    code: int
    k: int = 0
    jt: str | None = None  # label name, or None for the next instruction
    jf: str | None = None


class Assembler:
    """Collects instructions and labels; :meth:`assemble` resolves jumps to byte offsets."""

    def __init__(self) -> None:
        self.ins: list[_Ins] = []
        self.labels: dict[str, int] = {}

    def label(self, name: str) -> None:
        if name in self.labels:
            raise SeccompError(f"label {name} defined twice")
        self.labels[name] = len(self.ins)

    def ld(self, offset: int) -> None:
        self.ins.append(_Ins(BPF_LD_W_ABS, offset))

    def and_(self, k: int) -> None:
        self.ins.append(_Ins(BPF_ALU_AND_K, k))

    def jeq(self, k: int, jt: str | None = None, jf: str | None = None) -> None:
        self.ins.append(_Ins(BPF_JMP_JEQ_K, k, jt, jf))

    def jge(self, k: int, jt: str | None = None, jf: str | None = None) -> None:
        self.ins.append(_Ins(BPF_JMP_JGE_K, k, jt, jf))

    def jset(self, k: int, jt: str | None = None, jf: str | None = None) -> None:
        self.ins.append(_Ins(BPF_JMP_JSET_K, k, jt, jf))

    def ret(self, k: int) -> None:
        self.ins.append(_Ins(BPF_RET_K, k))

    def assemble(self) -> bytes:
        out = bytearray()
        for i, ins in enumerate(self.ins):
            jt = self._offset(i, ins.jt)
            jf = self._offset(i, ins.jf)
            out += struct.pack("=HBBI", ins.code, jt, jf, ins.k & 0xFFFFFFFF)
        if len(self.ins) > 4096:
            raise SeccompError("seccomp filter longer than the kernel's 4096 instructions")
        return bytes(out)

    def _offset(self, at: int, label: str | None) -> int:
        if label is None:
            return 0
        if label not in self.labels:
            raise SeccompError(f"undefined label {label}")
        off = self.labels[label] - at - 1
        if not 0 <= off <= 255:
            raise SeccompError(f"jump to {label} out of range ({off})")
        return off


def errno_ret(errno: int) -> int:
    return SECCOMP_RET_ERRNO | (errno & 0xFFFF)


def build_filter(policy: FilterPolicy, arch: str | None = None) -> bytes:
    """Assemble the filter for ``policy`` on ``arch`` (default: this machine) into BPF bytes."""
    return _build(policy, arch or native_arch())


@functools.lru_cache(maxsize=32)
def _build(policy: FilterPolicy, arch: str) -> bytes:
    if arch not in SYSCALLS:
        raise SeccompError(f"no seccomp syscall table for {arch}")
    nr = SYSCALLS[arch]
    a = Assembler()
    a.ld(OFF_ARCH)
    a.jeq(AUDIT_ARCH[arch], None, "kill")
    a.ld(OFF_NR)
    if arch == "x86_64":
        a.jset(X32_SYSCALL_BIT, "enosys")
    for name in (*DENIED, *(XATTR_WRITES if policy.deny_xattr_writes else ())):
        if name in nr:
            a.jeq(nr[name], "eperm")
    a.jeq(nr["clone3"], "enosys")
    a.jeq(nr["clone"], "clone")
    a.jeq(nr["ioctl"], "ioctl")
    a.jeq(nr["socket"], "socket")
    a.jeq(nr["socketpair"], "socketpair")
    a.jeq(nr["openat2"], "enosys")
    for name, idx in MODE_CALLS.items():
        if name in nr:
            a.jeq(nr[name], f"mode{idx}")
    for name, (fidx, _midx) in OPEN_CALLS.items():
        if name in nr:
            a.jeq(nr[name], f"open{fidx}")
    a.ret(SECCOMP_RET_ALLOW)

    a.label("clone")
    a.ld(arg_lo(0))
    a.jset(CLONE_NS_FLAGS, "eperm")
    a.ret(SECCOMP_RET_ALLOW)

    a.label("ioctl")
    a.ld(arg_lo(1))
    a.jeq(TIOCSTI, "eperm")
    a.jeq(TIOCLINUX, "eperm")
    a.ret(SECCOMP_RET_ALLOW)

    a.label("socketpair")
    a.ld(arg_lo(0))
    a.jeq(AF_UNIX, "allow", "eafnosupport")

    a.label("socket")
    fams = policy.sockets.families
    if fams is None:
        a.ret(SECCOMP_RET_ALLOW)
    else:
        a.ld(arg_lo(0))
        inet = sorted(f for f in fams if f in (AF_INET, AF_INET6))
        for fam in sorted(fams):
            if fam in inet and policy.sockets.inet_stream_only:
                a.jeq(fam, "stream_only")
            else:
                a.jeq(fam, "allow")
        a.ret(errno_ret(EAFNOSUPPORT))
        if inet and policy.sockets.inet_stream_only:
            a.label("stream_only")
            a.ld(arg_lo(1))
            a.and_(SOCK_TYPE_MASK)
            a.jeq(SOCK_STREAM, "allow", "eafnosupport")

    for fidx, midx in sorted(set(OPEN_CALLS.values())):
        a.label(f"open{fidx}")
        a.ld(arg_lo(fidx))
        a.jset(O_CREAT_OR_TMPFILE, f"mode{midx}", "allow")
    for idx in sorted({*MODE_CALLS.values(), *(m for _, m in OPEN_CALLS.values())}):
        a.label(f"mode{idx}")
        a.ld(arg_lo(idx))
        a.jset(S_ISUID_ISGID, "eperm", "allow")

    a.label("allow")
    a.ret(SECCOMP_RET_ALLOW)
    a.label("eperm")
    a.ret(errno_ret(EPERM))
    a.label("enosys")
    a.ret(errno_ret(ENOSYS))
    a.label("eafnosupport")
    a.ret(errno_ret(EAFNOSUPPORT))
    a.label("kill")
    a.ret(SECCOMP_RET_KILL_PROCESS)
    return a.assemble()
