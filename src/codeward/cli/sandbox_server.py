"""The warm sandbox server: keeps a workspace's view between ``codeward sandbox`` commands.

Started detached by a ``codeward sandbox`` that ran in a large workspace
(:func:`codeward.cli.sandbox_warm.start_server`; why it cannot widen anything is said there):
``python -m codeward.cli.sandbox_server SOCKET WORKDIR``. It takes a lock beside the socket (one
server per socket), warms up (the secret learner's walks until its watch is believed: three runs of
``true``), then binds the socket and serves one request at a time until
``sandbox.keep_warm_s`` seconds pass without one, its socket is removed or replaced, or a client
goes away mid-command. Each request is run by :func:`codeward.cli.sandbox_cmd.execute`, the same
code a one-shot ``codeward sandbox`` runs, in this process's main thread, with the request's
working directory, environment and umask.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import queue
import select
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any

from codeward.cli import sandbox_warm as warm
from codeward.errors import EXIT_FAILED, CodewardError

SO_PEERPIDFD = 77  # Linux 6.5+: a pidfd of the peer, so its status is read from that very process
POLL_S = 30.0  # how often an idle server checks that its socket is still its own


def peer_allowed(conn: socket.socket) -> bool:
    """This user's unconfined process, judged on the process itself where the kernel gives a pidfd."""
    import struct

    pid, uid, _gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    if uid != os.geteuid() or pid <= 0:
        return False
    pidfd = None
    with contextlib.suppress(OSError):
        pidfd = conn.getsockopt(socket.SOL_SOCKET, SO_PEERPIDFD)
    try:
        if warm.confined(pid):
            return False
        if pidfd is None:
            return True  # an older kernel: the pid as the peer had it when it connected
        with open(f"/proc/self/fdinfo/{pidfd}", encoding="utf-8") as f:
            got = next((line.split(":", 1)[1].strip() for line in f if line.startswith("Pid:")), "")
        return got == str(pid)  # still that process (not exited, its pid not reused meanwhile)
    except OSError:
        return False
    finally:
        if pidfd is not None:
            os.close(pidfd)


class Server:
    def __init__(self, path: str, workdir: str) -> None:
        self.path = path
        self.workdir = workdir
        self.keep_warm_s = 600.0
        self.state: dict[tuple[Any, ...], Any] = {}  # learners and sandboxes kept between requests
        self.inbox: queue.Queue[socket.socket] = queue.Queue(maxsize=1)
        self.busy = threading.Event()
        self.sock: socket.socket | None = None
        self.ident: tuple[int, int] | None = None

    def warm_up(self, first: dict[str, Any]) -> None:
        """Open the project as the starting client did (its options; this process has its
        environment) and run ``true`` until the learner's watch is believed."""
        from codeward.cli.options import RunOptions
        from codeward.cli.sandbox_cmd import execute

        opts = RunOptions(**_options(first["options"]))
        writable = tuple(Path(w) for w in first["writable"])
        for _ in range(3):
            ran = execute(self, opts, ["true"], writable, bool(first["unsandboxed"]), out=_drop, err=_drop)
            if ran.code != 0 or ran.keep_warm_s <= 0:
                raise SystemExit(0)
            self.keep_warm_s = float(ran.keep_warm_s)

    def listen(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)  # a dead server's (the lock is ours: nobody else serves it)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        old = os.umask(0o177)
        try:
            s.bind(self.path)
        finally:
            os.umask(old)
        s.listen(8)
        st = os.lstat(self.path)
        self.ident = (st.st_dev, st.st_ino)
        self.sock = s
        threading.Thread(target=self._accept, name="codeward-warm-accept", daemon=True).start()

    def serve(self) -> None:
        idle = 0.0
        while True:
            wait = min(POLL_S, self.keep_warm_s)
            try:
                conn = self.inbox.get(timeout=wait)
            except queue.Empty:
                idle += wait
                if idle >= self.keep_warm_s or not self._still_ours():
                    return
                continue
            idle = 0.0
            self.busy.set()
            try:
                if not self._handle(conn):
                    return
            finally:
                conn.close()
                self.busy.clear()

    def close(self) -> None:
        if self.sock is not None and self._still_ours():
            with contextlib.suppress(OSError):
                os.unlink(self.path)
        for value in self.state.values():
            close = getattr(value, "close", None) or getattr(value, "stop", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    close()

    def _still_ours(self) -> bool:
        try:
            st = os.lstat(self.path)
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == self.ident

    def _accept(self) -> None:
        assert self.sock is not None
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            try:
                if not peer_allowed(conn):
                    warm.send(conn, {"fallback": "not served: another user's, or a confined process"})
                    conn.close()
                elif self.busy.is_set() or self.inbox.full():
                    warm.send(conn, {"fallback": "busy with another command"})
                    conn.close()
                else:
                    self.inbox.put_nowait(conn)
            except (OSError, queue.Full):
                conn.close()

    def _handle(self, conn: socket.socket) -> bool:
        """Serve one request; False when the server must end (asked to, turned off, client gone)."""
        from codeward.cli.options import RunOptions
        from codeward.cli.sandbox_cmd import execute, opened

        conn.settimeout(10.0)
        try:
            req = warm.receive(conn)
        except (OSError, ValueError):
            return True
        conn.settimeout(None)
        if not req or req.get("v") != warm.PROTOCOL:
            return True
        if req.get("stop"):
            warm.send(conn, {"bye": True})
            return False
        try:
            os.chdir(req["cwd"])
            os.environ.clear()
            os.environ.update({str(k): str(v) for k, v in req["env"].items()})
            os.umask(int(req["umask"]))
            opts = RunOptions(**_options(req["options"]))
            if str(opts.workdir()) != self.workdir:
                raise ValueError(f"this server keeps {self.workdir}, not {opts.workdir()}")
            argv = [str(a) for a in req["argv"]]
            writable = tuple(Path(w) for w in req["writable"])
            project = opened(opts)
        except Exception as e:  # the client runs it itself and reports it as it would
            warm.send(conn, {"fallback": f"{type(e).__name__}: {e}"})
            return True
        if project.config.sandbox.keep_warm_s == 0:
            warm.send(conn, {"fallback": "sandbox.keep_warm_s is 0"})
            return False
        self.keep_warm_s = float(project.config.sandbox.keep_warm_s)
        try:
            warm.send(conn, {"started": True})  # from here the client never runs it again itself
        except OSError:
            return True
        gone = _Hangup(conn)
        err = lambda text: warm.send(conn, {"err": text})  # noqa: E731
        try:
            code = execute(
                self,
                opts,
                argv,
                writable,
                bool(req["unsandboxed"]),
                out=lambda text: warm.send(conn, {"out": text}),
                err=err,
                project=project,
            ).code
        except KeyboardInterrupt:
            return False  # the client went away: its command was killed with it; so is this server
        except CodewardError as e:  # what codeward's own entry point prints (codeward.cli.app.run)
            err(f"codeward: {e.message}\n")
            code = e.exit_code
        except Exception as e:
            err(f"codeward: internal error: {type(e).__name__}: {e} (set CODEWARD_DEBUG=1 for a traceback)\n")
            code = EXIT_FAILED
        finally:
            gone.stop()
        self.busy.clear()  # before the answer: a client that asks again at once finds the server free
        try:
            warm.send(conn, {"exit": code})
        except OSError:
            return False
        return True


def _options(raw: dict[str, Any]) -> dict[str, Any]:
    out = dict(raw)
    for key in ("cd", "workspace"):
        out[key] = Path(out[key]) if out.get(key) else None
    out["config"] = tuple(out.get("config") or ())
    return out


class _Hangup:
    """Interrupts the main thread (as Ctrl-C would) when the client's end of the socket closes while
    its command runs: the command's whole process tree is killed on the way out."""

    def __init__(self, conn: socket.socket) -> None:
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._watch, args=(conn.fileno(),), daemon=True)
        self._thread.start()

    def _watch(self, fd: int) -> None:
        p = select.poll()
        p.register(fd, select.POLLIN | select.POLLHUP | select.POLLRDHUP | select.POLLERR)
        p.register(self._wake_r, select.POLLIN)
        for got, _ in p.poll():
            if got == self._wake_r:
                return
        os.kill(os.getpid(), signal.SIGINT)

    def stop(self) -> None:
        os.write(self._wake_w, b"x")
        self._thread.join()
        os.close(self._wake_r)
        os.close(self._wake_w)


def _drop(_text: str) -> None:
    pass


def main(argv: list[str]) -> int:
    if len(argv) != 4 or warm.confined(os.getpid()):
        return 0  # no peer could be served: a server started confined would only linger
    path, workdir = argv[1], argv[2]
    lock = os.open(path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return 0  # another server has this socket
    signal.signal(signal.SIGINT, signal.default_int_handler)
    server = Server(path, workdir)
    try:
        os.chdir(workdir)
        server.warm_up(json.loads(argv[3]))
        server.listen()
        server.serve()
    except (Exception, KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.close()
        os.close(lock)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
