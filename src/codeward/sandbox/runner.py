"""Running one confined process: spawn, stream, cap the output, enforce the timeout, kill the tree.

No ``preexec_fn`` anywhere: the agent is threaded, and a forked child of a threaded Python can
deadlock before ``exec``. Limits are applied by the program we start (bwrap's inner ``prlimit``,
the Landlock launcher). The child gets ``/dev/null`` as stdin, a new session (no controlling
terminal, so no TIOCSTI into the user's terminal) and no descriptors beyond 0-2 and the ones the
tier hands over on purpose.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from codeward.sandbox.host_watch import HostWatch
    from codeward.sandbox.spec import SandboxSpec

READ_CHUNK = 65536
DRAIN_AFTER_EXIT_S = 0.5  # background writers of a finished command get this long, then are killed


class OutputCap:
    """Keeps the first and last bytes of a stream within ``cap`` bytes in total.

    The head shows how a command started (the usage error, the first failure), the tail how it
    ended (the summary line); the middle of a 10 GB log is what the model can do without.
    """

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.head_cap = cap // 2
        self.tail_cap = cap - self.head_cap
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        room = self.head_cap - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > self.tail_cap * 2:
                del self.tail[: len(self.tail) - self.tail_cap]

    @property
    def truncated(self) -> bool:
        return self.total > self.cap

    def text(self) -> str:
        tail = bytes(self.tail[-self.tail_cap :]) if self.tail_cap else b""
        if not self.truncated:
            return (bytes(self.head) + bytes(self.tail)).decode("utf-8", errors="replace")
        omitted = self.total - len(self.head) - len(tail)
        head = bytes(self.head).decode("utf-8", errors="replace")
        return f"{head}\n[... {omitted} bytes of output omitted ...]\n" + tail.decode("utf-8", errors="replace")


@dataclass
class RawRun:
    """What the process did, before a tier adds its explanation."""

    returncode: int | None  # shell convention: 128+N when killed by signal N; None on timeout
    output: str
    truncated: bool
    timed_out: bool
    duration_ms: float
    host_changed: tuple[str, ...] = ()  # hidden paths the host replaced meanwhile: the command was stopped


def status_code(returncode: int) -> int:
    """Popen's negative signal numbers as a shell would show them (128+N)."""
    return 128 - returncode if returncode < 0 else returncode


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's process group (it leads its own session) and the child itself."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()


def run_process(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str,
    timeout_s: float,
    output_cap: int,
    on_output: Callable[[str], None] | None = None,
    pass_fds: Sequence[int] = (),
    stop: Callable[[subprocess.Popen[bytes]], None] | None = None,
    stop_grace_s: float = 1.0,
    host_watch: HostWatch | None = None,
) -> RawRun:
    """Run ``argv`` to completion or ``timeout_s``; the whole process tree is gone when this returns.

    ``stop`` asks the tier's own supervisor to end the tree (SIGTERM to the launcher); after
    ``stop_grace_s`` the process group is killed regardless. When ``host_watch`` reports that the
    host replaced a hidden path, the tree is killed at once and its output withheld
    (:mod:`codeward.sandbox.host_watch`).
    """
    from codeward.sandbox.descendants import become_subreaper, descendants, kill_new_descendants

    become_subreaper()
    before = descendants(os.getpid()) if os.path.isdir("/proc/self") else set()
    start = time.monotonic()
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=dict(env),
        cwd=cwd,
        pass_fds=tuple(pass_fds),
        close_fds=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    cap = OutputCap(output_cap)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    deadline = start + timeout_s
    timed_out = False
    exited_at: float | None = None
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    if host_watch is not None:
        sel.register(host_watch.fileno(), selectors.EVENT_READ)
    try:
        while True:
            if host_watch is not None and host_watch.poll():
                break
            now = time.monotonic()
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            if exited_at is not None and now - exited_at > DRAIN_AFTER_EXIT_S:
                break  # the command ended; whatever still holds the pipe is a leftover
            if exited_at is None and now >= deadline:
                timed_out = True
                break
            wait = min(deadline - now, 0.05 if exited_at is None else DRAIN_AFTER_EXIT_S)
            events = sel.select(max(wait, 0.0))
            if not any(key.fd == fd for key, _ in events):
                continue
            try:
                data = os.read(fd, READ_CHUNK)
            except BlockingIOError:
                continue
            if not data:
                break
            cap.feed(data)
            if on_output is not None:
                text = decoder.decode(data)
                if text:
                    on_output(text)
    finally:
        sel.close()
        if (timed_out or proc.poll() is None) and stop is not None:
            with contextlib.suppress(ProcessLookupError, OSError):
                stop(proc)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(stop_grace_s)
        kill_group(proc)
        proc.wait()
        # the command may have killed its supervisor: its orphans are ours now, and go too
        if os.path.isdir("/proc/self"):
            kill_new_descendants(before)
        # read what is left without blocking on writers that escaped the group
        with contextlib.suppress(OSError):
            for _ in range(64):
                data = os.read(fd, READ_CHUNK)
                if not data:
                    break
                cap.feed(data)
                if on_output is not None:
                    text = decoder.decode(data)
                    if text:
                        on_output(text)
        if on_output is not None:
            rest = decoder.decode(b"", final=True)
            if rest:
                on_output(rest)
        proc.stdout.close()
    duration_ms = (time.monotonic() - start) * 1000
    code = None if timed_out else status_code(proc.returncode)
    if host_watch is not None and host_watch.poll():  # also a change in the last moments: nothing read is sent
        from codeward.sandbox.host_watch import withheld_output

        changed = tuple(host_watch.changed)
        return RawRun(code, withheld_output(list(changed)), False, timed_out, duration_ms, changed)
    return RawRun(code, cap.text(), cap.truncated, timed_out, duration_ms)


def run_guarded(
    spec: SandboxSpec,
    watch: Sequence[Path],
    launch: Callable[[contextlib.ExitStack], RawRun],
    identities: Sequence[Path] = (),
    before: set[Path] | None = None,
) -> tuple[RawRun, list[str]]:
    """The lifecycle every tier shares around one command; returns the run and what was undone.

    1. record: the state of ``watch`` (protected paths the tier cannot make read-only), the
       identity (device, inode) of ``identities`` (hidden paths a tier cannot pin in place) and of
       every directory above both, and the protected names present in the workspace;
    2. ``launch`` starts the confined process and waits for it, killing the whole tree at the end
       (:func:`run_process`); it registers its own clean-up (proxy, descriptors, private dirs) on
       the stack it is given, which is unwound as soon as it returns or fails;
    3. census and restore, only once nothing the command started is alive: whatever was renamed is
       renamed back by identity, recorded paths are put back and protected names that appeared are
       moved aside (never deleted), as is whole any directory that became impossible to list.
    """
    from codeward.sandbox.census import index_for
    from codeward.sandbox.protect import Tripwire, protected_census, remove_created
    from codeward.sandbox.spec import is_within

    tripwire = Tripwire.take(spec.workspace, list(watch), list(identities))
    if before is None:  # a tier that just refreshed the census passes its result
        before = protected_census(spec.workspace)
    blind_before = index_for(spec.workspace).blind  # what that census could not list, whatever refreshes meanwhile
    # the extra writable directories (``--writable``, ``writable_roots``) get the same census: a
    # repository a command plants there (``git init`` with a ``core.fsmonitor``, an AGENTS.md) would
    # otherwise run on the user's next ``git status`` there (red team rt12)
    extra = [w for w in spec.writable if not is_within(w, spec.workspace)]
    extra_before = [(w, protected_census(w), index_for(w).blind) for w in extra]
    restored: list[str] = []
    try:
        with contextlib.ExitStack() as cleanup:
            raw = launch(cleanup)
    finally:
        restored = tripwire.restore()
        restored += [p for p in remove_created(spec.workspace, before, blind_before=blind_before) if p not in restored]
        for w, census, blind in extra_before:
            restored += [str(w / p) for p in remove_created(w, census, blind_before=blind)]
    return raw, restored
