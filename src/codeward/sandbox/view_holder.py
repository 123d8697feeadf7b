"""A bubblewrap view that outlives the command: one namespace per session, reused while it is the same.

Building the view costs a bubblewrap spawn and a mount per hidden file and anchor (about 130 ms at
5 500 mounts). The holder builds it once: bwrap runs the stdlib supervisor (``_holder.py``, see
there for what each command gets: a new pid namespace, rlimits, no capabilities, ``no_new_privs``,
the seccomp filter) and codeward sends it commands over a ``SOCK_SEQPACKET`` socketpair whose other
end only the supervisor has (stdin, the output pipe and a memfd with the request travel as
``SCM_RIGHTS``; the answer is ``exit N``).

The holder starts at the second command in a row that has the same view (the first runs on the
per-command path, like a one-shot ``codeward sandbox``: a supervisor's start would cost it more than
it saves). Reuse is decided by identity, never by time (:func:`holder_key` and :meth:`ViewHolder.usable`):

* the layout's tree part must be the very object the previous command's ``build_layout`` reused
  (``layout_tree``'s cache: re-decided whenever any indexed directory's signature changed, or a
  link or ``.git`` name it recorded changed), and the rest of the layout equal;
* every per-command bind must be the same: the git index view, ``.git/info``, the object-store
  view (source device and inode, which cannot be reused while the holder's mount pins them) and
  the redacted copies (same host path, same bytes and mode);
* the same network setting, filter and mount mode, and the holder's host watch
  (:mod:`codeward.sandbox.host_watch`, armed before its mounts were made, for its whole life)
  must have seen nothing: a host-side rename of a hidden file detaches its mount in the holder's
  namespace, which both the index refresh (its directory's ctime) and the watch report.

Anything else, a timeout, a host-watch event during a command, a supervisor that stops answering:
the holder is killed (its pid namespace and everything in it) and the next command starts a new
one. What persists between the commands of one holder, by design: its private ``/tmp``,
``/var/tmp`` and ``/dev/shm`` (the per-session scratch); each command gets its own pid and IPC
namespaces (SysV shared memory, semaphores and message queues die with it: red team rt5), and no
process a command starts outlives it.
"""

from __future__ import annotations

import array
import contextlib
import hashlib
import os
import selectors
import socket
import stat
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeward.errors import SandboxUnavailable
from codeward.sandbox.runner import OutputCap, RawRun

if TYPE_CHECKING:
    from codeward.sandbox.host_watch import HostWatch, NewNamesWatch
    from codeward.sandbox.layout import Layout
    from codeward.sandbox.spec import SandboxSpec

START_AT_FIRST = False  # start a holder at a view's first command (the suites run with it on, too)
MAX_FAILED_STARTS = 2  # then the per-command path for the rest of the session
READY_TIMEOUT_S = 120.0  # mounting a very large view
DRAIN_S = 0.5
READ_CHUNK = 65536


def _fingerprint(src: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(src)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, stat.S_IFMT(st.st_mode))


def _copy_digest(copy: Path) -> tuple[str, int] | None:
    """A redacted copy by content: each command gets a fresh copy, the holder keeps the first one."""
    try:
        with open(copy, "rb") as f:
            st = os.fstat(f.fileno())
            return (hashlib.sha256(f.read()).hexdigest(), st.st_mode)
    except OSError:
        return None


def holder_key(
    layout: Layout, binds: Sequence[tuple[str, str]], *, share_net: bool, bpf: bytes, inside: bool, bwrap: str
) -> tuple[object, ...] | None:
    """What a holder's namespace is made of, besides the tree part's identity; None: cannot be compared."""
    bind_fps = tuple((src, dst, _fingerprint(src)) for src, dst in binds)
    copies = tuple((host, _copy_digest(copy)) for host, copy in layout.redacted)
    if any(fp is None for _, _, fp in bind_fps) or any(d is None for _, d in copies):
        return None
    return (bwrap, share_net, inside, bpf, replace(layout, redacted=()), copies, bind_fps)


class HolderSlot:
    """A sandbox's holder, if one runs; one command at a time; why it could not start, if it failed."""

    def __init__(self) -> None:
        self.holder: ViewHolder | None = None
        self.failed: str | None = None  # not tried again for this sandbox: the per-command path runs
        self.failures = 0
        self.seen: tuple[object, tuple[object, ...]] | None = None  # the last view run without a holder
        self.lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        """The holder's bwrap process (tests tell a reused holder from a new one by it)."""
        return self.holder.pid if self.holder is not None and not self.holder.closed else None

    def close(self) -> None:
        self.seen = None
        holder, self.holder = self.holder, None
        if holder is not None:
            holder.close()


class ViewHolder:
    """One running holder: its bwrap process, the socket to its supervisor, what it was built from."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        sock: socket.socket,
        *,
        part: object,
        key: tuple[object, ...],
        watch: HostWatch,
        ns_pid: int | None,
        log_fd: int,
    ) -> None:
        self.proc = proc
        self.sock = sock
        self.part = part  # kept alive: compared by identity
        self.key = key
        self.watch = watch
        self.ns_pid = ns_pid
        self.log_fd = log_fd
        self.closed = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    def usable(self, part: object, key: tuple[object, ...] | None) -> bool:
        """Whether the next command may run in this holder (see the module docstring)."""
        if self.closed or self.proc.poll() is not None:
            return False
        if part is not self.part or key is None or key != self.key:
            return False
        return not self.watch.poll()

    def run(
        self,
        argv: Sequence[str],
        *,
        env: dict[str, str],
        cwd: str,
        rlimits: dict[str, int],
        timeout_s: float,
        output_cap: int,
        on_output: Callable[[str], None] | None,
        new_names: NewNamesWatch | None = None,
    ) -> RawRun:
        """One command in the held view; a timeout or a host change kills the whole holder.

        ``new_names`` (the session's watch of names that appear, armed for this command) is polled
        beside the holder's own watch: opening a new hidden file stops the command the same way."""
        import codecs

        from codeward.sandbox import launch

        start = time.monotonic()
        r, w = os.pipe2(os.O_CLOEXEC)
        devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        req = os.memfd_create("codeward-request", os.MFD_CLOEXEC)
        try:
            os.write(req, launch.encode_request(argv, env, cwd, rlimits))
            os.lseek(req, 0, os.SEEK_SET)
            fds = array.array("i", [devnull, w, req])
            self.sock.sendmsg([b"run"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds.tobytes())])
        except OSError as e:
            os.close(r)
            self.close()
            raise SandboxUnavailable(f"sandbox: the view holder stopped answering: {e.strerror}") from None
        finally:
            for fd in (devnull, w, req):
                os.close(fd)
        os.set_blocking(r, False)
        cap = OutputCap(output_cap)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        sel = selectors.DefaultSelector()
        sel.register(r, selectors.EVENT_READ)
        sel.register(self.sock, selectors.EVENT_READ)
        sel.register(self.watch.fileno(), selectors.EVENT_READ)
        if new_names is not None:
            sel.register(new_names.fileno(), selectors.EVENT_READ)

        def host_changed() -> bool:
            mine = self.watch.poll()
            return (new_names is not None and new_names.poll()) or mine

        deadline = start + timeout_s
        code: int | None = None
        done_at: float | None = None
        timed_out = broken = False
        out_open = True

        def feed(data: bytes) -> None:
            cap.feed(data)
            if on_output is not None:
                text = decoder.decode(data)
                if text:
                    on_output(text)

        try:
            while True:
                if host_changed():
                    break
                now = time.monotonic()
                if done_at is not None and (not out_open or now - done_at > DRAIN_S):
                    break
                if done_at is None and now >= deadline:
                    timed_out = True
                    break
                wait = (deadline - now) if done_at is None else DRAIN_S
                for k, _ in sel.select(max(min(wait, 0.5), 0.0)):
                    if k.fd == r:
                        try:
                            data = os.read(r, READ_CHUNK)
                        except BlockingIOError:
                            continue
                        if not data:
                            out_open = False
                            sel.unregister(r)
                        else:
                            feed(data)
                    elif k.fileobj is self.sock:
                        msg = self.sock.recv(64)
                        sel.unregister(self.sock)
                        if not msg.startswith(b"exit "):
                            broken = True
                        else:
                            code = int(msg[5:])
                            done_at = time.monotonic()
                if broken:
                    break
        finally:
            sel.close()
            changed = host_changed()
            if timed_out or broken or changed or done_at is None:
                self.close()  # the command's namespace and everything in it go with the holder
            with contextlib.suppress(OSError):
                for _ in range(64):
                    data = os.read(r, READ_CHUNK)
                    if not data:
                        break
                    feed(data)
            os.close(r)
            if on_output is not None:
                rest = decoder.decode(b"", final=True)
                if rest:
                    on_output(rest)
        duration_ms = (time.monotonic() - start) * 1000
        if broken:
            raise SandboxUnavailable("sandbox: the view holder stopped unexpectedly; the command's outcome is unknown")
        if changed:
            from codeward.sandbox.host_watch import withheld_output

            hit = tuple(dict.fromkeys([*self.watch.changed, *(new_names.found if new_names is not None else ())]))
            return RawRun(None if timed_out else code, withheld_output(list(hit)), False, timed_out, duration_ms, hit)
        return RawRun(None if timed_out else code, cap.text(), cap.truncated, timed_out, duration_ms)

    def close(self, *, watch: bool = True) -> None:
        """Kill the holder: bwrap, its pid namespace (the supervisor and any command), its watch."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, 9)
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait()
        _reap_namespace(self.ns_pid)
        if watch:
            self.watch.close()
        self.sock.close()
        with contextlib.suppress(OSError):
            os.close(self.log_fd)


def _reap_namespace(pid: int | None, timeout_s: float = 2.0) -> None:
    """Wait until the namespace's init (bwrap's ``child-pid``) is gone: the kernel has then killed
    everything in it; reap it when it was handed to this process (a child subreaper)."""
    if pid is None:
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError, OSError):
            got, _ = os.waitpid(pid, os.WNOHANG)
            if got == pid:
                return
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return
        if state == "Z":
            return
        time.sleep(0.005)


def start(
    argv_for: Callable[[int], list[str]],
    pass_fds: Sequence[int],
    status_fd: int,
    *,
    part: object,
    key: tuple[object, ...],
    watch: HostWatch,
) -> ViewHolder | str:
    """Start bwrap with the supervisor (``argv_for(its socket's fd)``); the holder, or why it failed."""
    import json

    from codeward.sandbox.descendants import become_subreaper

    become_subreaper()  # the namespace's init comes back to this process to be reaped
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    log_fd = os.memfd_create("codeward-holder-log", os.MFD_CLOEXEC)
    try:
        argv = argv_for(theirs.fileno())  # may add a descriptor for the options to ``pass_fds``
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=log_fd,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
            cwd="/",
            pass_fds=(theirs.fileno(), *pass_fds),
            close_fds=True,
            start_new_session=True,
        )
    except OSError as e:
        ours.close()
        os.close(log_fd)
        return f"cannot start bubblewrap: {e.strerror}"
    finally:
        theirs.close()
    ready = b""
    with selectors.DefaultSelector() as sel:
        sel.register(ours, selectors.EVENT_READ)
        if sel.select(READY_TIMEOUT_S):
            with contextlib.suppress(OSError):
                ready = ours.recv(64)
    os.lseek(status_fd, 0, os.SEEK_SET)
    ns_pid = None
    for line in os.read(status_fd, 1 << 16).splitlines():
        with contextlib.suppress(ValueError, AttributeError):
            ns_pid = json.loads(line).get("child-pid", ns_pid)
    holder = ViewHolder(proc, ours, part=part, key=key, watch=watch, ns_pid=ns_pid, log_fd=log_fd)
    if ready != b"ready":
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(1.0)  # let it finish writing why
        log = b""
        with contextlib.suppress(OSError):
            os.lseek(log_fd, 0, os.SEEK_SET)
            log = os.read(log_fd, 1 << 16)
        holder.close(watch=False)  # the caller keeps and closes its watch
        lines = [ln for ln in log.decode("utf-8", "replace").splitlines() if ln.strip()]
        return lines[0] if lines else "the view holder did not start"
    return holder


def run_held(
    sb: HolderSlot,
    bwrap: str,
    argv: Sequence[str],
    spec: SandboxSpec,
    layout: Layout,
    env: dict[str, str],
    bpf: bytes,
    inside: bool,
    part: object,
    names: Callable[[], dict[str, set[str]]],
    state: dict[str, Any],
    on_output: Callable[[str], None] | None,
    new_names: NewNamesWatch | None = None,
) -> RawRun | None:
    """Run ``argv`` in ``sb``'s holder, starting one first when the view differs; None: use the
    per-command path (another command holds it, the view cannot be compared, the holder would not start)."""
    from codeward.sandbox import bwrap_argv as bw
    from codeward.sandbox.host_watch import HostWatch

    if not sb.lock.acquire(blocking=False):
        return None
    try:
        binds = bw.git_binds(spec, layout, state)
        if inside:
            binds.append((str(bw.hidden_stub()), bw.INNER_STUB))
        key = holder_key(layout, binds, share_net=spec.network, bpf=bpf, inside=inside, bwrap=bwrap)
        holder = sb.holder
        if holder is not None and not holder.usable(part, key):
            holder.close()  # a different view, a host change, or it died: never reused
            sb.holder = holder = None
        if holder is None:
            # a holder costs a supervisor's start (about 40 ms at load 4) over the per-command path,
            # so it starts at the second command in a row with the same view: a one-shot command,
            # or a session whose every command changes the tree, never pays for one
            repeat = START_AT_FIRST or (sb.seen is not None and sb.seen[0] is part and sb.seen[1] == key)
            sb.seen = (part, key) if part is not None and key is not None else None
            if not repeat or part is None or key is None:
                return None
            holder = _start(sb, bwrap, spec, layout, bpf, inside, binds, part, key, HostWatch(names()))
            if holder is None:
                return None
        state["held"] = True
        try:
            return holder.run(
                argv,
                env=env,
                cwd=str(spec.cwd),
                rlimits={"fsize": spec.max_file_size, "nproc": spec.max_processes, "core": 0},
                timeout_s=spec.timeout_s,
                output_cap=spec.output_cap,
                on_output=on_output,
                new_names=new_names,
            )
        finally:
            if holder.closed:  # a timeout or a host change took it down: the next command starts anew
                sb.holder = None
    finally:
        sb.lock.release()


def _start(
    sb: HolderSlot,
    bwrap: str,
    spec: SandboxSpec,
    layout: Layout,
    bpf: bytes,
    inside: bool,
    binds: list[tuple[str, str]],
    part: object,
    key: tuple[object, ...],
    watch: HostWatch,
) -> ViewHolder | None:
    """A new holder for this view (the watch was armed before: it sees every change from now on)."""
    from codeward.sandbox import bwrap_argv as bw
    from codeward.sandbox import launch

    with contextlib.ExitStack() as ours:
        status_fd = bw.memfd("codeward-bwrap-status", b"")
        ours.callback(os.close, status_fd)
        fds = [status_fd]
        mounts_fd = None
        if inside:
            mounts_fd = bw.memfd("codeward-mounts", bw.encoded_inside_mounts(layout))
            ours.callback(os.close, mounts_fd)
            fds.append(mounts_fd)
        python = launch.trusted_python(spec.roots())

        def argv_for(sock: int) -> list[str]:
            command = launch.holder_argv(python, sock, bpf, mounts_fd)
            full = bw.build_argv(
                bwrap,
                spec,
                layout,
                stub=bw.hidden_stub(),
                env={},
                seccomp_fd=-1,
                command=command,
                share_net=spec.network,
                binds_ro=binds,
                status_fd=status_fd,
                mounts_inside=inside,
                keep_caps=True,
            )
            return bw.options_via_fd(full, len(command), fds, ours)

        started = start(argv_for, fds, status_fd, part=part, key=key, watch=watch)
    if isinstance(started, str):
        watch.close()
        sb.failures += 1
        if sb.failures >= MAX_FAILED_STARTS:  # not a passing race (a socket gone before bwrap mounted it)
            sb.failed = started
        return None
    sb.holder = started
    return started
