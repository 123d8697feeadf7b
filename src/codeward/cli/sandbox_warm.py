"""``codeward sandbox`` through a warm view: the client side (the server is :mod:`codeward.cli.sandbox_server`).

A one-shot ``codeward sandbox`` process must find out, from nothing, which of the workspace's
entries changed since they were scanned (a walk of every entry: about 0.5 s at 200 000 files) and
decide the layout from scratch. A session keeps that between commands (the learner's and the
index's inotify watches). So in a large workspace the first ``codeward sandbox`` leaves a server
behind that keeps it for the next ones: a process of the same user, started from the same codeward,
that answers on a socket in the codeward home's private ``run/`` directory and ends after
``sandbox.keep_warm_s`` seconds without a request (``codeward sandbox --stop-warm`` ends it at
once; ``keep_warm_s = 0`` starts none, and ends a running one at its next request). Each command still gets a new sandbox (no view holder: a served
command finds ``/tmp`` as empty as a one-shot one does).

Why this cannot widen anything:

* It runs each request exactly as this process would: the request carries the command line's
  options, the working directory, the environment and the umask, and the server opens the project
  from them again (config, AGENTS.md and ignore files are read per request), so an edit between two
  commands counts as it would without the server. Anything the server cannot answer the happy way
  (an error before the command started, the option turned off, another request under way) it
  hands back, and this process runs the command itself.
* Only this user's unconfined processes are served: the server checks each peer's uid and that it
  is not running under ``no_new_privs`` or a seccomp filter, which every sandboxed command is (so a
  command cannot ask the server to run something with other options, say the network on). The
  client checks the server's uid too. The socket lives in the private ``run/`` directory.
* Which server: its socket's name is a digest of the user, the real working directory and the
  installed codeward's files (names, sizes, times) and interpreter, so an upgraded codeward never
  talks to an old server.
* A command cannot outlive the client that asked for it: when the client goes away (Ctrl-C), the
  server interrupts the command as Ctrl-C would in this process (every process of it is killed)
  and exits.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import stat
import struct
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

PROTOCOL = 1
SOCKET_PREFIX = "sandbox-"
MAX_SUN_PATH = 107
FRAME = struct.Struct(">I")
MAX_FRAME = 64 << 20
WARM_AFTER_ENTRIES = 20_000
"""A server is left behind only for a workspace at least this large (the learner's walk counts its
entries): below it a one-shot process is about as fast, and nothing lingers for a small project."""


class Fallback(Exception):
    """The server did not take the request: run it in this process."""


def code_stamp() -> str:
    """A digest of the installed codeward (each of its files' name, size and mtime, the rule set
    included) and the interpreter."""
    pkg = Path(__file__).resolve().parent.parent
    # the interpreter by what it is (``python`` and ``python3`` of one venv are one) and by its prefix
    h = hashlib.sha256(f"{os.path.realpath(sys.executable)}\0{sys.prefix}\0{sys.version}\0{pkg}".encode(*_ENC))
    stack = [str(pkg)]
    while stack:
        d = stack.pop()
        with os.scandir(d) as it:
            for e in sorted(it, key=lambda e: e.name):
                if e.is_dir(follow_symlinks=False):
                    if e.name != "__pycache__":
                        stack.append(e.path)
                else:  # every file: the rules, templates and data it ships count as much as its code
                    st = e.stat(follow_symlinks=False)
                    h.update(f"{e.path}\0{st.st_size}\0{st.st_mtime_ns}\0".encode(*_ENC))
    return h.hexdigest()


_ENC = ("utf-8", "surrogateescape")


def socket_path(home: Path, workdir: str) -> Path | None:
    """Where the server for ``workdir`` (real path) answers; None when the path would be too long for a socket."""
    key = hashlib.sha256(f"{os.geteuid()}\0{workdir}\0{code_stamp()}".encode(*_ENC)).hexdigest()[:24]
    path = home / "run" / f"{SOCKET_PREFIX}{key}.sock"
    return path if len(os.fsencode(path)) <= MAX_SUN_PATH else None


def private_dir(d: Path) -> bool:
    """Whether ``d`` is a directory of this user that nobody else can enter (not a link)."""
    try:
        st = os.lstat(d)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and not stat.S_IMODE(st.st_mode) & 0o077


def send(sock: socket.socket, obj: dict[str, Any]) -> None:
    data = json.dumps(obj).encode()
    sock.sendall(FRAME.pack(len(data)) + data)


def receive(sock: socket.socket) -> dict[str, Any] | None:
    """The next frame, or None at the end of the stream."""
    head = _exactly(sock, FRAME.size)
    if head is None:
        return None
    (n,) = FRAME.unpack(head)
    if n > MAX_FRAME:
        raise OSError("frame too large")
    body = _exactly(sock, n)
    if body is None:
        raise OSError("stream ended inside a frame")
    obj = json.loads(body)
    if not isinstance(obj, dict):
        raise OSError("not a frame")
    return obj


def _exactly(sock: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return buf if buf else None
        buf += chunk
    return buf


def peer_uid(sock: socket.socket) -> int:
    _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    return int(uid)


def confined(pid: int) -> bool:
    """Whether process ``pid`` runs under ``no_new_privs`` or a seccomp filter (every sandboxed
    command does); unreadable counts as confined."""
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8", errors="replace") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
    except OSError:
        return True
    return fields.get("NoNewPrivs", "1").strip() != "0" or fields.get("Seccomp", "2").strip() != "0"


def usable() -> bool:
    """Whether this process may use (and start) a warm server: not itself confined (a command in a
    sandbox, a container's seccomp filter), since the server serves no confined peer."""
    return not confined(os.getpid())


def encode_options(opts: Any) -> dict[str, Any]:
    """The command line's :class:`codeward.cli.options.RunOptions` as JSON values."""
    import dataclasses

    out = dataclasses.asdict(opts)
    for key in ("cd", "workspace"):
        out[key] = os.fspath(out[key]) if out[key] is not None else None
    out["config"] = list(out["config"])
    return out


def request(options: dict[str, Any], argv: list[str], writable: list[str], unsandboxed: bool) -> dict[str, Any]:
    """What the server needs to run the command as this process would."""
    umask = os.umask(0o077)
    os.umask(umask)
    return {
        "v": PROTOCOL,
        "argv": argv,
        "cwd": os.getcwd(),
        "env": dict(os.environ),
        "umask": umask,
        "options": options,
        "writable": writable,
        "unsandboxed": unsandboxed,
    }


def ask(home: Path, workdir: str, req: dict[str, Any], out: Callable[[str], None], err: Callable[[str], None]) -> int:
    """Run ``req`` on the warm server for ``workdir``; its exit code. Raises :class:`Fallback` when
    no server takes it (none runs, it is busy, or it handed the request back) before anything ran."""
    path = socket_path(home, workdir)
    if path is None or not private_dir(path.parent) or not os.path.exists(path):
        raise Fallback("no server")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    with sock:
        try:
            sock.connect(os.fspath(path))
            if peer_uid(sock) != os.geteuid():
                raise Fallback("the socket is not this user's")
            send(sock, req)
        except OSError as e:
            raise Fallback(f"cannot reach the server: {e}") from None
        started = False
        for frame in _frames(sock):
            if "fallback" in frame:
                if started:
                    break
                raise Fallback(str(frame["fallback"]))
            started = True  # any frame but a hand-back: the server took it, whatever happens next
            if "out" in frame:
                out(str(frame["out"]))
            elif "err" in frame:
                err(str(frame["err"]))
            elif "exit" in frame:
                return int(frame["exit"])
        if not started:
            raise Fallback("the server closed the connection")
        err("codeward: the warm sandbox server went away while the command ran; its result is unknown")
        return 1


def _frames(sock: socket.socket) -> Iterator[dict[str, Any]]:
    while True:
        try:
            frame = receive(sock)
        except (OSError, ValueError):
            return
        if frame is None:
            return
        yield frame


def start_server(home: Path, workdir: str, req: dict[str, Any]) -> None:
    """Leave a server behind for ``workdir`` (detached: its own session, no terminal, none of this
    process's descriptors, so whoever waits for this process's output is not kept waiting). It warms
    up with ``req``'s options (the environment is this process's)."""
    import subprocess

    from codeward.sandbox.redacted_view import ViewError, run_dir

    path = socket_path(home, workdir)
    if path is None or _answers(path):
        return  # one runs already (perhaps refusing this process: then starting another is no use)
    try:
        run_dir(home)  # made private (0700) and checked
    except (OSError, ViewError):
        return
    first = {k: v for k, v in req.items() if k in ("options", "writable", "unsandboxed")}
    # -P and cwd "/": nothing is imported from the workspace, where a command may have planted a
    # ``codeward`` package (``-m`` puts the working directory first on sys.path; red team rt14);
    # -E: nor from a PYTHONPATH or PYTHONSTARTUP of the environment
    argv = [
        sys.executable,
        "-E",
        "-P",
        "-m",
        "codeward.cli.sandbox_server",
        os.fspath(path),
        workdir,
        json.dumps(first),
    ]
    with contextlib.suppress(OSError):
        subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=True,
            start_new_session=True,
            cwd="/",
        )


def _answers(path: Path) -> bool:
    """Whether a server runs for ``path``: it holds the lock beside the socket for its whole life (a
    socket left by one that was killed has no holder). Asked without connecting, which would keep
    a running server busy for a moment."""
    import fcntl

    try:
        fd = os.open(f"{path}.lock", os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except FileNotFoundError:
        return False
    except OSError:
        return True  # cannot tell: start none
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def stop_server(home: Path, workdir: str) -> bool:
    """Ask the server for ``workdir`` to end; whether one answered."""
    path = socket_path(home, workdir)
    if path is None or not private_dir(path.parent) or not os.path.exists(path):
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC) as sock:
        try:
            sock.connect(os.fspath(path))
            if peer_uid(sock) != os.geteuid():
                return False
            send(sock, {"v": PROTOCOL, "stop": True})
            reply = receive(sock)
            return reply is not None and bool(reply.get("bye"))
        except (OSError, ValueError):
            return False
