"""Launcher run in the child as ``python -I -S -c <this file's text> SPEC -- ARGV...``.

Standard library only, and it imports nothing from codeward: it runs with ``-I -S`` in a process
that is about to be confined, so it must not read code the workspace could have changed. The
parent reads this file once, when codeward starts, and passes its text with ``-c`` (not the path),
for the same reason when codeward is installed editable inside a workspace.

In order, before ``exec``: with ``mounts_fd``, the bind mounts read from that descriptor (bwrap
hands over a new mount namespace with CAP_SYS_ADMIN for this; one ``mount`` call each, where bwrap
re-reads the whole mount table per mount); rlimits; when running as root (or when bwrap kept
capabilities for the mounts), either become ``run_as`` (another uid, keeping only CAP_DAC_OVERRIDE,
so the command owns no root-owned file; the Landlock tier) or drop every capability (bounding set,
ambient, permitted, effective, inheritable), so a root agent's command is root without powers;
``PR_SET_NO_NEW_PRIVS``; the Landlock ruleset; the seccomp filter. Then, with ``supervise``, it
becomes a child subreaper, forks the command and waits: when the command ends (or on SIGTERM) it
kills every process left below it, so a double-forked ``setsid`` daemon does not outlive the run.
A setup failure prints one ``codeward-launcher:`` line and exits 125: nothing runs unconfined.
"""

import ctypes
import os
import resource
import struct
import sys
import time

try:  # the C module: ``signal`` itself pulls in enum, which costs more than the rest of start-up
    import _signal as signal
except ImportError:  # pragma: no cover - other Python implementations
    import signal

SETUP_FAILED = 125
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
PR_CAP_AMBIENT_RAISE = 2
PR_SET_SECUREBITS = 28
SECUREBITS = 0b1111  # SECBIT_NOROOT, SECBIT_NO_SETUID_FIXUP and their locks
CAP_DAC_OVERRIDE = 1
PR_SET_CHILD_SUBREAPER = 36
LINUX_CAPABILITY_VERSION_3 = 0x20080522
SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446
LANDLOCK_RULE_PATH_BENEATH = 1
LANDLOCK_RULE_NET_PORT = 2
FILE_RIGHTS = 1 | 2 | 4 | (1 << 14) | (1 << 15)  # execute, write, read, truncate, ioctl_dev
O_PATH = getattr(os, "O_PATH", 0o10000000)
MS_BIND = 4096
MS_REC = 16384


def fail(msg):
    sys.stderr.write(f"codeward-launcher: {msg}\n")
    sys.stderr.flush()
    os._exit(SETUP_FAILED)


def libc():
    lib = ctypes.CDLL(None, use_errno=True)
    lib.syscall.restype = ctypes.c_long
    lib.prctl.restype = ctypes.c_int
    return lib


def check(rc, what):
    if rc < 0:
        err = ctypes.get_errno()
        fail(f"{what} failed: {os.strerror(err)}")
    return rc


def count_own_processes(uid):
    n = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat("/proc/" + name).st_uid == uid:
                    n += 1
            except OSError:
                pass
    return n


def set_limits(spec):
    lim = spec.get("rlimits") or {}
    if "fsize" in lim:
        resource.setrlimit(resource.RLIMIT_FSIZE, (lim["fsize"], lim["fsize"]))
    if "core" in lim:
        resource.setrlimit(resource.RLIMIT_CORE, (lim["core"], lim["core"]))
    if "nproc" in lim and hasattr(resource, "RLIMIT_NPROC"):
        # Without a user namespace the count is per user, across the machine: allow this many more.
        n = lim["nproc"]
        uid = spec["run_as"][0] if spec.get("run_as") and os.geteuid() == 0 else os.getuid()
        if sys.platform.startswith("linux") and uid != 0:
            n += count_own_processes(uid)
        _, hard = resource.getrlimit(resource.RLIMIT_NPROC)
        if hard != resource.RLIM_INFINITY:
            n = min(n, hard)
        resource.setrlimit(resource.RLIMIT_NPROC, (n, n))


def apply_mounts(lib, fd):
    """Bind mounts, one per line ``KIND HEXSRC HEXDST``: ``tree`` binds a directory onto itself with
    what is mounted below it (so the kernel refuses to rename it), ``file`` binds one file (a hidden
    file gets the read-only, mode-000 stub: the new mount keeps the source mount's read-only flag)."""
    chunks = []
    while True:
        b = os.read(fd, 1 << 20)
        if not b:
            break
        chunks.append(b)
    os.close(fd)
    lib.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
    for line in b"".join(chunks).split(b"\n"):
        if not line:
            continue
        kind, src, dst = line.split(b" ")
        flags = MS_BIND | MS_REC if kind == b"tree" else MS_BIND
        src, dst = bytes.fromhex(src.decode()), bytes.fromhex(dst.decode())
        if lib.mount(src, dst, None, flags, None) != 0:
            fail(f"cannot mount {dst.decode('utf-8', 'replace')}: {os.strerror(ctypes.get_errno())}")


def last_cap():
    try:
        with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 63


def become(lib, uid, gid):
    """Root becomes ``uid``/``gid`` keeping only CAP_DAC_OVERRIDE, for itself and what it runs.

    So a command owns no root-owned file (chmod, utime and chown on them need ownership or
    CAP_FOWNER/CAP_CHOWN, which it lacks) yet can still write the root-owned workspace (Landlock
    decides where). The capability is in the ambient set so that it survives ``exec``.
    """
    keep = CAP_DAC_OVERRIDE
    for cap in range(last_cap() + 1):
        if cap != keep and lib.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            fail(f"cannot drop capability {cap} from the bounding set: {os.strerror(ctypes.get_errno())}")
    # no-setuid-fixup: keep the capability across the uid switch, and let access(2) (git's repository
    # discovery) honour it like open(2) does; noroot: uid 0 never means power again. Both locked.
    check(lib.prctl(PR_SET_SECUREBITS, SECUREBITS, 0, 0, 0), "securebits")
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    bit = 1 << keep
    header = struct.pack("=Ii", LINUX_CAPABILITY_VERSION_3, 0)
    data = struct.pack("=IIIIII", bit, bit, bit, 0, 0, 0)  # effective, permitted, inheritable (two words)
    hbuf = ctypes.create_string_buffer(header, len(header))
    dbuf = ctypes.create_string_buffer(data, len(data))
    check(lib.capset(hbuf, dbuf), "capset")
    lib.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    check(lib.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, keep, 0, 0), "ambient capability")
    if os.getuid() != uid or os.geteuid() != uid or os.getgid() != gid:
        fail("switching to the sandbox user did not take effect")
    try:
        os.setuid(0)
    except OSError:
        return
    fail("the sandbox user could become root again")


def drop_caps(lib):
    """Root inside the Landlock tier keeps its uid but loses every capability, for good."""
    cap = 0
    while lib.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0:
        cap += 1
    if cap == 0:
        fail(f"cannot drop the capability bounding set: {os.strerror(ctypes.get_errno())}")
    lib.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = struct.pack("=Ii", LINUX_CAPABILITY_VERSION_3, 0)
    data = b"\0" * 24
    hbuf = ctypes.create_string_buffer(header, len(header))
    dbuf = ctypes.create_string_buffer(data, len(data))
    check(lib.capset(hbuf, dbuf), "capset")


def open_rule_path(path, nofollow):
    flags = O_PATH | os.O_CLOEXEC | (os.O_NOFOLLOW if nofollow else 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None, None
    except OSError as e:
        fail(f"cannot open {path} for a Landlock rule: {e.strerror}")
    st = os.fstat(fd)
    return fd, st


def apply_landlock(lib, ll):
    import stat as st_mod

    # 24 bytes on every ABI: older kernels accept a longer struct whose extra fields are zero
    attr = struct.pack("=QQQ", ll["handled_fs"], ll.get("handled_net", 0), ll.get("scoped", 0))
    size = len(attr)
    abuf = ctypes.create_string_buffer(attr, size)
    rfd = check(lib.syscall(SYS_LANDLOCK_CREATE_RULESET, abuf, ctypes.c_size_t(size), 0), "landlock_create_ruleset")
    for path, access, nofollow in ll["rules"]:
        fd, st = open_rule_path(path, nofollow)
        if fd is None:
            continue
        if st_mod.S_ISLNK(st.st_mode):
            os.close(fd)
            continue  # a link that appeared since the plan: it gets no rights of its own
        if not st_mod.S_ISDIR(st.st_mode):
            access &= FILE_RIGHTS
        if access:
            rule = struct.pack("=Qi", access, fd)
            rbuf = ctypes.create_string_buffer(rule, len(rule))
            check(lib.syscall(SYS_LANDLOCK_ADD_RULE, rfd, LANDLOCK_RULE_PATH_BENEATH, rbuf, 0), "landlock rule " + path)
        os.close(fd)
    for port, access in ll.get("net_ports", []):
        rule = struct.pack("=QQ", access, port)
        rbuf = ctypes.create_string_buffer(rule, len(rule))
        check(lib.syscall(SYS_LANDLOCK_ADD_RULE, rfd, LANDLOCK_RULE_NET_PORT, rbuf, 0), "landlock port rule")
    check(lib.syscall(SYS_LANDLOCK_RESTRICT_SELF, rfd, 0), "landlock_restrict_self")
    os.close(rfd)


def apply_seccomp(lib, blob):
    n = len(blob) // 8
    prog_buf = ctypes.create_string_buffer(blob, len(blob))
    fprog = struct.pack("@HP", n, ctypes.addressof(prog_buf))  # struct sock_fprog, native alignment
    fbuf = ctypes.create_string_buffer(fprog, len(fprog))
    check(lib.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, fbuf, 0, 0), "seccomp")


def descendants(root):
    """Pids below ``root``, from a scan of /proc (works without CONFIG_PROC_CHILDREN)."""
    parent = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        rest = data[data.rfind(b")") + 2 :].split()
        if len(rest) > 1:
            parent[int(name)] = int(rest[1])
    out, frontier = [], [root]
    while frontier:
        p = frontier.pop()
        for child, pp in parent.items():
            if pp == p:
                out.append(child)
                frontier.append(child)
    return out


def kill(pid):
    """SIGKILL ``pid``; False when it is already gone (no contextlib: it is slow to import)."""
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        return False
    return True


def reap_all(me):
    """Kill and reap everything below this supervisor, including the orphans it adopted."""
    for _ in range(500):
        kids = descendants(me) if sys.platform.startswith("linux") else []
        for pid in kids:
            kill(pid)
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
        if not kids:
            return
        time.sleep(0.005)


def supervise(argv, lib):
    linux = sys.platform.startswith("linux")
    if linux:
        lib.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    child = os.fork()
    if child == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        run(argv)
    stopping = []

    def on_term(signum, frame):
        stopping.append(signum)
        kill(child)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    status = None
    while status is None:
        try:
            pid, st = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if pid == child:
            status = st
    reap_all(os.getpid())
    if status is None:
        os._exit(SETUP_FAILED)
    if os.WIFSIGNALED(status):
        os._exit(128 + os.WTERMSIG(status))
    os._exit(os.WEXITSTATUS(status))


def run(argv):
    # Python ignores SIGPIPE and SIGXFSZ for itself; an ignored signal survives exec, and commands
    # expect the defaults (``yes | head`` ends on SIGPIPE, the file-size limit kills with SIGXFSZ).
    for name in ("SIGPIPE", "SIGXFSZ", "SIGXFZ"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
    try:
        os.execvp(argv[0], argv)
    except OSError as e:
        sys.stderr.write(f"{argv[0]}: {e.strerror}\n")
        sys.stderr.flush()
        os._exit(127 if e.errno == 2 else 126)


def setup(spec):
    linux = sys.platform.startswith("linux")
    lib = libc()
    if "mounts_fd" in spec:
        apply_mounts(lib, spec["mounts_fd"])
    set_limits(spec)
    if linux and spec.get("drop_caps") and (os.geteuid() == 0 or "mounts_fd" in spec):
        if spec.get("run_as"):
            become(lib, *spec["run_as"])
        else:
            drop_caps(lib)
    if linux and (spec.get("landlock") or spec.get("seccomp")):
        check(lib.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    if spec.get("landlock"):
        apply_landlock(lib, spec["landlock"])
    if spec.get("seccomp"):
        apply_seccomp(lib, spec["seccomp"])
    return lib


def parse_spec(text):
    """The spec, one item per line (no json: importing it costs more than the whole launcher).

    ``fsize N``, ``nproc N``, ``core N``, ``drop_caps``, ``run_as UID GID``, ``supervise``, ``seccomp HEX``,
    ``ll_fs N``, ``ll_net N``, ``ll_scoped N``, ``rule ACCESS NOFOLLOW HEXPATH``, ``port PORT ACCESS``,
    ``mounts_fd N``.
    """
    spec = {"rlimits": {}}
    ll = {"rules": [], "net_ports": []}
    for line in text.split("\n"):
        if not line:
            continue
        key, _, rest = line.partition(" ")
        if key in ("fsize", "nproc", "core"):
            spec["rlimits"][key] = int(rest)
        elif key in ("drop_caps", "supervise"):
            spec[key] = True
        elif key == "mounts_fd":
            spec[key] = int(rest)
        elif key == "run_as":
            uid, gid = rest.split(" ")
            spec["run_as"] = (int(uid), int(gid))
        elif key == "seccomp":
            spec["seccomp"] = bytes.fromhex(rest)
        elif key == "ll_fs":
            ll["handled_fs"] = int(rest)
            spec["landlock"] = ll
        elif key == "ll_net":
            ll["handled_net"] = int(rest)
        elif key == "ll_scoped":
            ll["scoped"] = int(rest)
        elif key == "rule":
            access, nofollow, path = rest.split(" ", 2)
            ll["rules"].append((bytes.fromhex(path).decode("utf-8", "surrogateescape"), int(access), nofollow == "1"))
        elif key == "port":
            port, access = rest.split(" ")
            ll["net_ports"].append((int(port), int(access)))
        else:
            raise ValueError("unknown spec item " + repr(key))
    return spec


def main(args):
    if "--" not in args or args.index("--") == 0 or args.index("--") == len(args) - 1:
        fail("usage: launcher SPEC... -- ARGV...")
    cut = args.index("--")  # the spec comes in pieces (one argv string holds at most 128 KiB)
    argv = args[cut + 1 :]
    try:
        spec = parse_spec("\n".join(args[:cut]))
        lib = setup(spec)
    except SystemExit:
        raise
    except BaseException as e:  # anything unexpected: refuse, never run the command half-confined
        fail(f"setup failed: {type(e).__name__}: {e}")
    if spec.get("supervise"):
        supervise(argv, lib)
    run(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
