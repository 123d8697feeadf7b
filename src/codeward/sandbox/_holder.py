"""The view holder's supervisor: keeps one bubblewrap namespace and runs each command in it.

Run as ``python -I -S -c <launcher text + this text> hold SPEC`` inside the holder's bubblewrap
sandbox (see :mod:`codeward.sandbox.view_holder`); standard library only, like the launcher whose
functions it reuses (its text is prepended, so the names below come from there; the import only
serves linters and tests). bwrap starts it with CAP_SYS_ADMIN and CAP_SETPCAP kept in the
sandbox's user namespace and nothing else.

At start: the anchors and hidden files from ``mounts_fd`` (root: bwrap leaves them to this), then
``PR_SET_DUMPABLE 0`` (no process of the same uid may ptrace it or open its ``/proc/PID/mem`` or
``fd/``), ``chdir /``, and one ``ready`` message. Then, per message on the socketpair only codeward
holds (``SOCK_SEQPACKET``; exactly the bytes ``run`` with three descriptors: stdin, the output
pipe, a memfd with the request), it forks A; A ``unshare(CLONE_NEWPID)`` and forks B, pid 1 of a
new pid namespace; B forks C, which takes stdio, sets the rlimits, drops every capability
(bounding set included), sets ``no_new_privs`` and the seccomp filter, ``chdir``\\s and ``exec``\\s
the command with its own environment. When C ends, B exits with its status, and the kernel kills
everything else in that namespace: a ``setsid``/double-forked/``nohup`` child cannot outlive the
command. The status goes back as ``exit N``. The command sees neither the supervisor nor B by pid
(other namespace), so it can neither signal nor ptrace them, and its filter refuses every mount
call. Anything unexpected ends the supervisor, and with it the namespace (codeward then rebuilds).
"""

import os
import resource
import struct
import sys

try:
    fail  # noqa: B018 - defined by the launcher's text when run as the supervisor
except NameError:  # imported as a module (tests, linters): the same functions, from the launcher
    from codeward.sandbox._launcher import (
        PR_SET_CHILD_SUBREAPER,
        PR_SET_NO_NEW_PRIVS,
        SETUP_FAILED,
        apply_mounts,
        apply_seccomp,
        check,
        drop_caps,
        fail,
        libc,
        signal,
    )

import _socket

CLONE_NEWPID = 0x20000000
CLONE_NEWIPC = 0x08000000  # SysV IPC and POSIX message queues: per command, not per holder
PR_SET_DUMPABLE = 4
SCM_RIGHTS = 1
SOL_SOCKET = 1
MSG_CMSG_CLOEXEC = getattr(_socket, "MSG_CMSG_CLOEXEC", 0x40000000)
FDS_SPACE = 64  # room for three descriptors (and nothing much more)


def parse_hold_spec(text):
    """``sock N``, ``mounts_fd N``, ``seccomp HEX``, one per line."""
    spec = {}
    for line in text.split("\n"):
        if not line:
            continue
        key, _, rest = line.partition(" ")
        if key in ("sock", "mounts_fd"):
            spec[key] = int(rest)
        elif key == "seccomp":
            spec[key] = bytes.fromhex(rest)
        else:
            raise ValueError("unknown hold item " + repr(key))
    if "sock" not in spec or "seccomp" not in spec:
        raise ValueError("hold spec without sock or seccomp")
    return spec


def parse_request(data):
    """One command: ``cwd HEX``, ``arg HEX``..., ``env HEX``... (``K=V``), ``fsize N``, ``nproc N``, ``core N``."""
    req = {"argv": [], "env": {}, "rlimits": {}, "cwd": None}
    for line in data.split(b"\n"):
        if not line:
            continue
        key, _, rest = line.partition(b" ")
        if key == b"arg":
            req["argv"].append(bytes.fromhex(rest.decode()))
        elif key == b"env":
            k, _, v = bytes.fromhex(rest.decode()).partition(b"=")
            req["env"][k] = v
        elif key == b"cwd":
            req["cwd"] = bytes.fromhex(rest.decode())
        elif key in (b"fsize", b"nproc", b"core"):
            req["rlimits"][key.decode()] = int(rest)
        else:
            raise ValueError("unknown request item")
    if not req["argv"] or req["cwd"] is None or len(req["rlimits"]) != 3:
        raise ValueError("incomplete request")
    return req


def read_all(fd):
    chunks = []
    while True:
        b = os.read(fd, 1 << 20)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def command(lib, hold, req, stdin, out):
    """C: the command itself, confined, then ``exec`` (never returns)."""
    os.setsid()
    os.dup2(stdin, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.closerange(3, resource.getrlimit(resource.RLIMIT_NOFILE)[0])  # nothing of the supervisor's
    lim = req["rlimits"]
    resource.setrlimit(resource.RLIMIT_FSIZE, (lim["fsize"], lim["fsize"]))
    resource.setrlimit(resource.RLIMIT_CORE, (lim["core"], lim["core"]))
    resource.setrlimit(resource.RLIMIT_NPROC, (lim["nproc"], lim["nproc"]))
    drop_caps(lib)
    check(lib.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    apply_seccomp(lib, hold["seccomp"])
    try:
        os.chdir(req["cwd"])
    except OSError as e:
        fail(f"cannot chdir to {req['cwd'].decode('utf-8', 'replace')}: {e.strerror}")
    for name in ("SIGPIPE", "SIGXFSZ"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
    argv = req["argv"]
    try:
        os.execvpe(argv[0], argv, req["env"])
    except OSError as e:
        sys.stderr.write(f"{os.fsdecode(argv[0])}: {e.strerror}\n")
        sys.stderr.flush()
        os._exit(127 if e.errno == 2 else 126)


def code_of(status):
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def wait_for(pid):
    """Wait for ``pid``, reaping whatever else ends meanwhile; its shell-style exit code."""
    while True:
        try:
            got, status = os.waitpid(-1, 0)
        except InterruptedError:
            continue
        except ChildProcessError:
            return SETUP_FAILED
        if got == pid:
            return code_of(status)


def run_one(lib, hold, req, stdin, out):
    """Fork A (new pid namespace for its children) -> B (pid 1 there) -> C (the command)."""
    a = os.fork()
    if a == 0:
        try:
            check(lib.unshare(CLONE_NEWPID | CLONE_NEWIPC), "unshare(CLONE_NEWPID | CLONE_NEWIPC)")
            b = os.fork()
            if b == 0:
                c = os.fork()
                if c == 0:
                    try:
                        command(lib, hold, req, stdin, out)
                    except BaseException as e:  # nothing may run half-confined
                        fail(f"setup failed: {type(e).__name__}: {e}")
                os.close(stdin)
                os.close(out)
                os._exit(wait_for(c))  # pid 1 leaves: the kernel kills the rest of the namespace
            os.close(stdin)
            os.close(out)
            os._exit(wait_for(b))
        except BaseException:
            os._exit(SETUP_FAILED)
    os.close(stdin)
    os.close(out)
    return wait_for(a)


def receive(sock):
    """One request's three descriptors, or None when codeward closed its end or sent anything else."""
    msg, anc, flags, _ = sock.recvmsg(16, _socket.CMSG_SPACE(FDS_SPACE), MSG_CMSG_CLOEXEC)
    fds = []
    for level, kind, data in anc:
        if level == SOL_SOCKET and kind == SCM_RIGHTS:
            n = len(data) // 4
            fds += list(struct.unpack(f"={n}i", data[: n * 4]))
    if msg != b"run" or len(fds) != 3 or flags & (_socket.MSG_TRUNC | _socket.MSG_CTRUNC):
        for fd in fds:
            os.close(fd)
        return None
    return fds


def hold(args):
    try:
        spec = parse_hold_spec(args[0])
        lib = libc()
        if "mounts_fd" in spec:
            apply_mounts(lib, spec["mounts_fd"])
        check(lib.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "dumpable")
        check(lib.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "subreaper")
        os.chdir("/")
        os.set_inheritable(spec["sock"], False)
        sock = _socket.socket(fileno=spec["sock"])
    except SystemExit:
        raise
    except BaseException as e:
        fail(f"setup failed: {type(e).__name__}: {e}")
    sock.send(b"ready")
    while True:
        fds = receive(sock)
        if fds is None:
            os._exit(0)
        stdin, out, reqfd = fds
        try:
            req = parse_request(read_all(reqfd))
        except (ValueError, OSError):
            os._exit(SETUP_FAILED)  # a malformed request: end the holder rather than guess
        os.close(reqfd)
        sock.send(b"exit %d" % run_one(lib, spec, req, stdin, out))


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "hold":
    hold(sys.argv[2:])
