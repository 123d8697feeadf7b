"""The seccomp filter, twice: interpreted instruction by instruction here, and as real syscalls in a sandbox."""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import Any

import pytest

from codeward.sandbox import seccomp as sc
from codeward.sandbox.seccomp import (
    AF_INET,
    AF_INET6,
    AF_UNIX,
    SECCOMP_RET_ALLOW,
    SECCOMP_RET_KILL_PROCESS,
    SYSCALLS,
    Assembler,
    FilterPolicy,
    SeccompError,
    SocketPolicy,
    build_filter,
    errno_ret,
    policy_for,
)

EPERM, ENOSYS, EAFNOSUPPORT = errno_ret(1), errno_ret(38), errno_ret(97)
AUDIT_ARCH_I386 = 0x40000003
AF_NETLINK = 16
SOCK_DGRAM = 2
SOCK_CLOEXEC = 0x80000


def interpret(prog: bytes, nr: int, arch: int, args: tuple[int, ...] = ()) -> int:
    """A tiny classic-BPF interpreter over struct seccomp_data, for the opcodes a filter may use."""
    data = struct.pack("<IIQ6Q", nr, arch, 0x401000, *(list(args) + [0] * (6 - len(args))))
    ins = [struct.unpack("=HBBI", prog[i : i + 8]) for i in range(0, len(prog), 8)]
    assert 0 < len(ins) <= 4096
    acc = 0
    pc = 0
    for _ in range(10_000):
        code, jt, jf, k = ins[pc]
        if code == 0x20:  # ld w abs
            assert k % 4 == 0 and k + 4 <= len(data)
            acc = struct.unpack_from("<I", data, k)[0]
            pc += 1
        elif code == 0x54:  # and k
            acc &= k
            pc += 1
        elif code in (0x15, 0x35, 0x45):  # jeq / jge / jset
            cond = {0x15: acc == k, 0x35: acc >= k, 0x45: bool(acc & k)}[code]
            pc += 1 + (jt if cond else jf)
        elif code == 0x06:  # ret k
            return k
        else:
            raise AssertionError(f"unexpected opcode {code:#x} at {pc}")
        assert pc < len(ins), "ran off the end of the program"
    raise AssertionError("no return")


X86 = sc.AUDIT_ARCH_X86_64
NR = SYSCALLS["x86_64"]


@pytest.fixture(scope="module")
def default_bpf() -> bytes:
    return build_filter(policy_for("bwrap", network=False, proxy=False), "x86_64")


def test_ordinary_syscalls_are_allowed(default_bpf: bytes) -> None:
    for nr in (0, 1, 2, 3, 9, 39, 57, 59, 257, 435 - 1):
        assert interpret(default_bpf, nr, X86) == SECCOMP_RET_ALLOW


def test_foreign_arch_is_killed(default_bpf: bytes) -> None:
    assert interpret(default_bpf, 102, AUDIT_ARCH_I386) == SECCOMP_RET_KILL_PROCESS  # i386 socketcall
    assert interpret(default_bpf, 0, 0) == SECCOMP_RET_KILL_PROCESS


def test_x32_numbers_are_refused(default_bpf: bytes) -> None:
    assert interpret(default_bpf, 0x40000000 | 41, X86) == ENOSYS
    assert interpret(default_bpf, 0x40000000 | 39, X86) == ENOSYS


@pytest.mark.parametrize("name", [n for n in sc.DENIED if n in NR])
def test_denied_syscalls_return_eperm(default_bpf: bytes, name: str) -> None:
    assert interpret(default_bpf, NR[name], X86) == EPERM


def test_clone_namespace_flags(default_bpf: bytes) -> None:
    thread_flags = 0x3D0F00  # what pthread_create passes
    assert interpret(default_bpf, NR["clone"], X86, (thread_flags,)) == SECCOMP_RET_ALLOW
    assert interpret(default_bpf, NR["clone"], X86, (17,)) == SECCOMP_RET_ALLOW  # fork: SIGCHLD
    for flag in (sc.CLONE_NEWUSER, sc.CLONE_NEWNS, sc.CLONE_NEWNET, sc.CLONE_NEWPID, sc.CLONE_NEWUTS):
        assert interpret(default_bpf, NR["clone"], X86, (17 | flag,)) == EPERM
    assert interpret(default_bpf, NR["clone3"], X86) == ENOSYS


def test_socket_rules_network_off(default_bpf: bytes) -> None:
    assert interpret(default_bpf, NR["socket"], X86, (AF_UNIX, 1)) == SECCOMP_RET_ALLOW
    assert interpret(default_bpf, NR["socket"], X86, (AF_INET, 1)) == EAFNOSUPPORT
    assert interpret(default_bpf, NR["socket"], X86, (AF_INET6, 2)) == EAFNOSUPPORT
    assert interpret(default_bpf, NR["socket"], X86, (AF_NETLINK, 3)) == EAFNOSUPPORT
    # the kernel uses only the low 32 bits of the family; so does the filter
    assert interpret(default_bpf, NR["socket"], X86, (0x1_00000002, 1)) == EAFNOSUPPORT
    assert interpret(default_bpf, NR["socketpair"], X86, (AF_UNIX, 1)) == SECCOMP_RET_ALLOW
    assert interpret(default_bpf, NR["socketpair"], X86, (AF_INET, 1)) == EAFNOSUPPORT


def test_socket_rules_with_proxy_under_bwrap() -> None:
    bpf = build_filter(policy_for("bwrap", network=False, proxy=True), "x86_64")
    for fam in (AF_UNIX, AF_INET, AF_INET6):
        assert interpret(bpf, NR["socket"], X86, (fam, SOCK_DGRAM)) == SECCOMP_RET_ALLOW
    assert interpret(bpf, NR["socket"], X86, (AF_NETLINK, 3)) == EAFNOSUPPORT


def test_socket_rules_landlock() -> None:
    off = build_filter(policy_for("landlock", network=False, proxy=False), "x86_64")
    assert interpret(off, NR["socket"], X86, (AF_UNIX, 1)) == EAFNOSUPPORT
    assert interpret(off, NR["socketpair"], X86, (AF_UNIX, 1)) == SECCOMP_RET_ALLOW
    proxy = build_filter(policy_for("landlock", network=False, proxy=True), "x86_64")
    assert interpret(proxy, NR["socket"], X86, (AF_INET, 1 | SOCK_CLOEXEC)) == SECCOMP_RET_ALLOW
    assert interpret(proxy, NR["socket"], X86, (AF_INET, SOCK_DGRAM)) == EAFNOSUPPORT
    assert interpret(proxy, NR["socket"], X86, (AF_INET6, 1)) == EAFNOSUPPORT
    assert interpret(proxy, NR["socket"], X86, (AF_UNIX, 1)) == EAFNOSUPPORT


def test_network_on_still_denies_the_rest() -> None:
    bpf = build_filter(policy_for("bwrap", network=True, proxy=False), "x86_64")
    assert interpret(bpf, NR["socket"], X86, (AF_NETLINK, 3)) == SECCOMP_RET_ALLOW
    assert interpret(bpf, NR["ptrace"], X86) == EPERM
    assert interpret(bpf, NR["io_uring_setup"], X86) == EPERM


def test_terminal_injection_ioctls(default_bpf: bytes) -> None:
    assert interpret(default_bpf, NR["ioctl"], X86, (0, sc.TIOCSTI)) == EPERM
    assert interpret(default_bpf, NR["ioctl"], X86, (0, sc.TIOCLINUX)) == EPERM
    assert interpret(default_bpf, NR["ioctl"], X86, (0, 0x5401)) == SECCOMP_RET_ALLOW  # TCGETS
    assert interpret(default_bpf, NR["ioctl"], X86, (0, 0xFFFFFFFF_00005412)) == EPERM  # cmd is an unsigned int


@pytest.mark.parametrize("tier", ["bwrap", "landlock"])
@pytest.mark.parametrize("network", [False, True])
def test_setid_bits_refused_in_every_tier(tier: str, network: bool) -> None:
    bpf = build_filter(policy_for(tier, network=network, proxy=False), "x86_64")
    at = -100 & 0xFFFFFFFF
    assert interpret(bpf, NR["chmod"], X86, (0, 0o4755)) == EPERM
    assert interpret(bpf, NR["chmod"], X86, (0, 0o755)) == SECCOMP_RET_ALLOW
    assert interpret(bpf, NR["fchmod"], X86, (3, 0o2755)) == EPERM
    assert interpret(bpf, NR["fchmodat"], X86, (at, 0, 0o6755)) == EPERM
    assert interpret(bpf, NR["fchmodat"], X86, (at, 0, 0o644)) == SECCOMP_RET_ALLOW
    assert interpret(bpf, NR["fchmodat2"], X86, (3, 0, 0o4000, 0)) == EPERM
    # creating a file with the bits set, not only chmod-ing one
    assert interpret(bpf, NR["creat"], X86, (0, 0o4755)) == EPERM
    assert interpret(bpf, NR["creat"], X86, (0, 0o755)) == SECCOMP_RET_ALLOW
    assert interpret(bpf, NR["open"], X86, (0, 0o101, 0o4755)) == EPERM  # O_WRONLY|O_CREAT
    assert interpret(bpf, NR["open"], X86, (0, 0o1, 0o4755)) == SECCOMP_RET_ALLOW  # no O_CREAT: mode unused
    assert interpret(bpf, NR["openat"], X86, (at, 0, 0o20200002, 0o2755)) == EPERM  # O_TMPFILE
    assert interpret(bpf, NR["openat"], X86, (at, 0, 0o102, 0o644)) == SECCOMP_RET_ALLOW
    assert interpret(bpf, NR["mknodat"], X86, (at, 0, 0o104755, 0)) == EPERM
    assert interpret(bpf, NR["openat2"], X86, (at, 0, 0, 24)) == ENOSYS  # its mode is out of reach


def test_setid_bits_refused_on_aarch64() -> None:
    bpf = build_filter(policy_for("bwrap", network=False, proxy=False), "aarch64")
    nr = SYSCALLS["aarch64"]
    arch = sc.AUDIT_ARCH_AARCH64
    at = -100 & 0xFFFFFFFF
    assert interpret(bpf, nr["fchmodat"], arch, (at, 0, 0o4755)) == EPERM
    assert interpret(bpf, nr["openat"], arch, (at, 0, 0o101, 0o4755)) == EPERM
    assert interpret(bpf, nr["openat"], arch, (at, 0, 0o101, 0o755)) == SECCOMP_RET_ALLOW


def test_aarch64_table() -> None:
    bpf = build_filter(FilterPolicy(SocketPolicy(frozenset({AF_UNIX}))), "aarch64")
    a64, nr = sc.AUDIT_ARCH_AARCH64, SYSCALLS["aarch64"]
    assert interpret(bpf, nr["socket"], a64, (AF_INET, 1)) == EAFNOSUPPORT
    assert interpret(bpf, nr["socket"], a64, (AF_UNIX, 1)) == SECCOMP_RET_ALLOW
    assert interpret(bpf, nr["ptrace"], a64) == EPERM
    assert interpret(bpf, nr["unshare"], a64) == EPERM
    assert interpret(bpf, nr["ptrace"], X86) == SECCOMP_RET_KILL_PROCESS
    assert interpret(bpf, 0x40000000 | 63, a64) == SECCOMP_RET_ALLOW  # no x32 rule off x86_64


def _header_numbers(path: Path, pattern: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for m in re.finditer(pattern, path.read_text()):
        out[m.group(1)] = int(m.group(2))
    return out


@pytest.mark.parametrize(
    ("arch", "header", "pattern"),
    [
        ("x86_64", "/usr/include/x86_64-linux-gnu/asm/unistd_64.h", r"#define __NR_(\w+) (\d+)"),
        ("aarch64", "/usr/include/asm-generic/unistd.h", r"#define __NR(?:3264)?_(\w+) (\d+)"),
    ],
)
def test_numbers_match_kernel_headers(arch: str, header: str, pattern: str) -> None:
    if not Path(header).exists():
        pytest.skip(f"{header} is not installed (linux-libc-dev)")
    known = _header_numbers(Path(header), pattern)
    checked = 0
    for name, nr in SYSCALLS[arch].items():
        if name in known:
            assert known[name] == nr, name
            checked += 1
    assert checked >= 35


def test_assembler_refuses_bad_programs() -> None:
    a = Assembler()
    a.jeq(1, "nowhere")
    with pytest.raises(SeccompError, match="undefined label"):
        a.assemble()
    b = Assembler()
    b.jeq(1, "far")
    for _ in range(300):
        b.ret(0)
    b.label("far")
    b.ret(0)
    with pytest.raises(SeccompError, match="out of range"):
        b.assemble()
    with pytest.raises(SeccompError):
        build_filter(FilterPolicy(), "mips")


PROBE = r"""
import ctypes, errno
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def call(name, nr, *args):
    rc = libc.syscall(nr, *args)
    print(name, rc, errno.errorcode.get(ctypes.get_errno(), ctypes.get_errno()) if rc < 0 else "ok")
call("clone3", 435, None, 0)
call("keyctl", 250, 0, 0)
call("bpf", 321, 0, None, 0)
call("perf_event_open", 298, None, 0, -1, -1, 0)
call("userfaultfd", 323, 0)
call("x32_getpid", 0x40000000 | 39)
call("unshare_user", 272, 0x10000000)
call("setns", 308, 0, 0)
call("getpid", 39)
"""


@pytest.mark.sandbox
def test_real_syscalls_inside(confined: Any, tmp_path: Path) -> None:
    import platform

    if platform.machine() != "x86_64":
        pytest.skip("the probe uses x86_64 syscall numbers")
    from codeward.sandbox import SandboxSpec

    spec = SandboxSpec(workspace=tmp_path, cwd=tmp_path, timeout_s=30)
    r = confined.run(["python3", "-c", PROBE], spec)
    got = dict(line.split(" ", 1) for line in r.output.strip().splitlines())
    assert got["clone3"] == "-1 ENOSYS"
    assert got["x32_getpid"] == "-1 ENOSYS"
    for name in ("keyctl", "bpf", "perf_event_open", "userfaultfd", "unshare_user", "setns"):
        assert got[name] == "-1 EPERM", name
    assert got["getpid"].endswith("ok")


INT80 = r"""
#include <stdio.h>
int main(void) {
    long ret;
    /* i386 socketcall(SYS_SOCKET) through the 32-bit entry point of a 64-bit process */
    __asm__ volatile ("int $0x80" : "=a"(ret) : "a"(102), "b"(1), "c"(0) : "memory");
    printf("survived %ld\n", ret);
    return 0;
}
"""


@pytest.mark.sandbox
def test_i386_entry_point_kills_the_process(confined: Any, tmp_path: Path) -> None:
    import platform
    import shutil
    import subprocess

    if platform.machine() != "x86_64" or shutil.which("cc") is None:
        pytest.skip("needs x86_64 and a C compiler")
    src = tmp_path / "int80.c"
    src.write_text(INT80)
    subprocess.run(["cc", "-O0", "-o", str(tmp_path / "int80"), str(src)], check=True, capture_output=True)
    control = subprocess.run([str(tmp_path / "int80")], capture_output=True, text=True)
    assert control.stdout.startswith("survived")  # unconfined, the call goes through
    from codeward.sandbox import SandboxSpec

    r = confined.run([str(tmp_path / "int80")], SandboxSpec(workspace=tmp_path, cwd=tmp_path, timeout_s=30))
    assert "survived" not in r.output
    assert r.exit_code == 128 + 31  # SIGSYS: SECCOMP_RET_KILL_PROCESS
    assert r.note is not None and "killed by the seccomp filter" in r.note


@pytest.mark.parametrize("network", [False, True])
def test_xattr_writes_refused_in_the_landlock_tier_only(network: bool) -> None:
    """Landlock does not govern extended attributes, so its tier refuses setting and removing them
    (a command could otherwise tag /etc/shadow as root); bwrap's read-only binds already cover it."""
    landlock = build_filter(policy_for("landlock", network=network, proxy=False), "x86_64")
    bwrap = build_filter(policy_for("bwrap", network=network, proxy=False), "x86_64")
    for name in ("setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr"):
        assert interpret(landlock, NR[name], X86) == EPERM, name
        assert interpret(bwrap, NR[name], X86) == SECCOMP_RET_ALLOW, name
    assert interpret(landlock, NR["setxattrat"], X86) == EPERM
    aarch = build_filter(policy_for("landlock", network=network, proxy=False), "aarch64")
    assert interpret(aarch, SYSCALLS["aarch64"]["setxattr"], sc.AUDIT_ARCH_AARCH64) == EPERM
