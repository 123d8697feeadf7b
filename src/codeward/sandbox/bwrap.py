"""Tier 1: bubblewrap. Mount namespace views, new user/pid/net/ipc/uts/cgroup namespaces, and the filter.

The argv is built by a pure function (:func:`build_argv`) from the :class:`~codeward.sandbox.layout.Layout`,
in this order, because later mounts cover earlier ones:

1. ``--ro-bind / /``, a fresh ``/dev`` and ``/proc``;
2. private, empty tmpfs dirs over ``/tmp``, ``/var/tmp``, ``/run``, the homes, ``/mnt``, ``/media``,
   ``/srv`` and every other non-system top-level directory (other projects);
3. toolchains under the homes, and the user's ``readable_roots``, bound back read-only;
4. the workspace and ``--writable`` dirs bound read-write; when ``allow_directories`` narrows the
   workspace, it is bound read-only instead and only its allowed directories read-write over it
   (a rename or hard link out of one crosses mounts and fails with ``EXDEV``);
5. every directory between a writable root and a protected or hidden path bound onto itself
   (anchors: the kernel refuses to rename or remove a mount point, so no ancestor can be moved);
6. protected paths bound read-only over themselves (a missing one gets no placeholder: if a command
   creates it, the clean-up moves it aside);
7. masked dirs become an empty mode-000 read-only tmpfs, masked files and sockets a mode-000 file,
   and files that hold secrets their redacted copy, read-only (:mod:`codeward.sandbox.redacted_view`);
8. the private dirs other than ``/tmp`` and ``/var/tmp`` remounted read-only, so a write to
   ``$HOME`` fails visibly instead of vanishing with the sandbox.

Then ``--cap-drop ALL`` (as root, bwrap would otherwise keep every capability inside the new user
namespace), ``--disable-userns``, ``--clearenv`` with the allowlisted variables, ``--new-session``,
``--die-with-parent`` and ``--seccomp FD``. As root with more than :data:`INSIDE_THRESHOLD` anchors
and hidden files, steps 5 and 7's files are made by the stdlib launcher inside the namespace
instead (see :func:`inside_mounts`). Limits come from ``prlimit`` (util-linux) inside, or
from ``ulimit`` in ``/bin/sh`` where there is no prlimit: no ``preexec_fn`` is needed.

Within a session the view outlives the command (:mod:`codeward.sandbox.view_holder`): the second
command in a row with the same view starts bwrap with a stdlib supervisor that keeps the namespace and forks each command into
a new pid namespace; it is reused while the view is the same object and every per-command bind is
unchanged, and rebuilt otherwise. The proxy (``allowed_domains``), a missing trusted Python, or a
holder that would not start use the per-command path above.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeward.errors import SandboxUnavailable
from codeward.sandbox.bwrap_argv import (
    ARGS_FD_THRESHOLD,
    INNER_STUB,
    build_argv,
    encoded_inside_mounts,
    git_binds,
    hidden_stub,
    inner_limits,
    inside_mounts,
    memfd,
    options_via_fd,
)
from codeward.sandbox.layout import Layout, build_layout, interpreter_prefixes
from codeward.sandbox.runner import RawRun
from codeward.sandbox.spec import CommandResult, SandboxSpec, is_within, validate_spec
from codeward.scratch import process_dir

if TYPE_CHECKING:
    from codeward.sandbox.proxy import Connection

__all__ = [
    "ARGS_FD_THRESHOLD",
    "INNER_STUB",
    "BwrapSandbox",
    "build_argv",
    "encoded_inside_mounts",
    "hidden_stub",
    "inner_limits",
    "inside_mounts",
]

MAX_MOUNTS = 4000
# tools that would write caches under the read-only $HOME (pip, go, npm, yarn) use /tmp instead
SCRATCH_CACHES = {
    "XDG_CACHE_HOME": "/tmp/.cache",
    "npm_config_cache": "/tmp/.npm",
    "YARN_CACHE_FOLDER": "/tmp/.yarn",
}  # bwrap spends ~1.4 ms per mount at 2 500 mounts and more beyond


# anchors + hidden files beyond which the launcher mounts them, not bwrap (root only). bubblewrap's
# cost per mount grows with the mounts already made (measured, bench/README.md: 105 hidden files and
# 51 anchors +45 ms over 25 + 11, 1 200 mounts 2.1 s); the launcher's is a few microseconds each
# after a fixed ~3 ms, so it is cheaper from a few dozen mounts on
INSIDE_THRESHOLD = 32
BWRAP_ENOUGH = 256  # ... and up to which bubblewrap mounts them when no Python can run the launcher


def _wait_namespace_gone(status: bytes, timeout_s: float = 2.0) -> None:
    """Wait until the sandbox's pid-namespace init (bwrap's ``child-pid``) has exited.

    Killing bwrap brings the namespace down asynchronously; the kernel reaps every process in a pid
    namespace before its init finishes exiting, so once that pid is gone (or a zombie) nothing the
    command started is left. Without this wait a busy machine could still show them running.
    """
    import json

    pid = None
    for line in status.splitlines():
        with contextlib.suppress(ValueError, AttributeError):
            pid = json.loads(line).get("child-pid", pid)
    if not isinstance(pid, int):
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return
        if state == "Z":
            return
        time.sleep(0.005)


class BwrapSandbox:
    """Runs commands under bubblewrap with the seccomp filter."""

    tier = "bwrap"
    shares_host_tmp = False  # /tmp, /var/tmp and /dev/shm are the sandbox's own

    def __init__(self, bwrap: str, prlimit: str | None, *, hold_view: bool = True) -> None:
        self.bwrap = bwrap
        self.prlimit = prlimit
        self.hold_view = hold_view
        """Keep the view between commands (:mod:`codeward.sandbox.view_holder`)."""
        from codeward.sandbox.view_holder import HolderSlot

        self.slot = HolderSlot()
        # a sandbox dropped without close() (a test's, a finished session's) takes its holder with it
        weakref.finalize(self, self.slot.close)

    def close(self) -> None:
        """End the view holder, if one runs (also done when codeward exits: bwrap dies with it)."""
        self.slot.close()

    def run(
        self,
        argv: Sequence[str],
        spec: SandboxSpec,
        *,
        on_output: Callable[[str], None] | None = None,
        on_connection: Callable[[Connection], None] | None = None,
    ) -> CommandResult:
        from codeward.sandbox import hold

        validate_spec(spec, argv)
        hold.recover(spec.home_dir(), spec.workspace)  # what a killed Landlock run left held
        with hold.shared(spec.workspace):
            return self._run(argv, spec, on_output=on_output, on_connection=on_connection)

    def _run(
        self,
        argv: Sequence[str],
        spec: SandboxSpec,
        *,
        on_output: Callable[[str], None] | None,
        on_connection: Callable[[Connection], None] | None,
    ) -> CommandResult:
        from codeward.sandbox.env import child_env
        from codeward.sandbox.notes import explain
        from codeward.sandbox.runner import run_guarded

        if any(is_within(Path(self.bwrap).resolve(), w) for w in spec.roots()):
            raise SandboxUnavailable(f"sandbox: {self.bwrap} lies inside a writable directory; refusing to run it")
        use_proxy = bool(spec.allowed_domains) and not spec.network
        home = os.environ.get("HOME")
        env = child_env(spec.env_passthrough, home=home if home and os.path.isabs(home) else "/", tmpdir="/tmp")
        env.update(SCRATCH_CACHES)  # $HOME is read-only: caches go to the per-command /tmp
        holding = self.hold_view and self.slot.failed is None and not use_proxy and _launcher_python(spec)
        # the proxy bridge, as root the launcher that mounts large views, and the holder's supervisor
        # run this Python inside
        extra_visible = interpreter_prefixes() if use_proxy or holding or os.geteuid() == 0 else []
        from codeward.sandbox.census import index_for

        before: set[Path] = set()
        unknown: list[Path] = []  # directories codeward cannot list: nothing in them can be checked, hide them
        indexes = [index_for(root) for root in spec.roots()]
        for root, index in zip(spec.roots(), indexes, strict=True):
            names = index.refresh()
            if root == spec.workspace:
                before = names  # also the census run_guarded starts from
            unknown += index.unreadable()
        many = os.geteuid() == 0 and len(spec.masked) > INSIDE_THRESHOLD  # the launcher will mount them
        from codeward.sandbox import layout_tree
        from codeward.sandbox.new_names import prepared  # hidden names that appeared since the spec: hidden too

        new_names, appeared = prepared(spec.workspace, spec.ignore_rules, indexes[0], [*spec.masked, *unknown])
        layout = build_layout(
            spec,
            extra_visible=[Path(p) for p in extra_visible],
            extra_hidden=[*unknown, *appeared],
            collapse=not many,
            indexes=indexes,  # just refreshed: an unchanged tree reuses the last layout's tree part
        )
        cached = layout_tree._tree_cache  # the tree part this layout took (reused, or just decided)
        part = cached[2] if cached is not None and cached[2].readonly is layout.readonly else None
        # as a normal user bwrap's namespaces leave no mount power to hand on (mount fails with
        # EPERM there even with CAP_SYS_ADMIN kept), so this path is root's; others keep the limit
        inside = os.geteuid() == 0 and len(layout.anchored) + len(layout.hidden_files) > INSIDE_THRESHOLD
        if inside and len(layout.anchored) + len(layout.hidden_files) <= BWRAP_ENOUGH and not _launcher_python(spec):
            inside = False  # slower, but the launcher cannot run; bubblewrap copes with this many
        _check_mounts(spec, layout, inside)
        bpf = _filter(spec, use_proxy)
        from codeward.sandbox.gitview import git_stores
        from codeward.sandbox.host_watch import HostWatch, watched_names

        if new_names is not None:
            new_names.arm(layout.hidden())  # from now on, opening a new hidden file stops the command
        state: dict[str, Any] = {}

        def to_watch() -> dict[str, set[str]]:  # only for a new holder or the per-command path
            stores = git_stores(spec)  # their views are mounts on these entries too
            return watched_names(spec.workspace, [*layout.hidden(), *(h for h, _ in layout.redacted), *stores])

        def launch(cleanup: contextlib.ExitStack) -> RawRun:
            if holding:
                from codeward.sandbox.view_holder import run_held

                held = run_held(
                    self.slot,
                    self.bwrap,
                    argv,
                    spec,
                    layout,
                    env,
                    bpf,
                    inside,
                    part,
                    to_watch,
                    state,
                    on_output,
                    new_names,
                )
                if held is not None:
                    return held
            # armed before any mount exists: a host-side replacement from then on stops the command
            state["host_watch"] = HostWatch(to_watch(), new_names)
            cleanup.callback(state["host_watch"].close)
            return self._launch(
                argv, spec, layout, env, bpf, use_proxy, cleanup, state, on_output, inside, on_connection
            )

        raw, restored = run_guarded(spec, [*layout.linked_protected, *layout.missing_protected], launch, before=before)
        if raw.host_changed:
            stopped = (
                "sandbox: a hidden or redacted path was replaced on the host, or a new file the ignore rules hide was"
                " opened, while the command ran; output withheld"
            )
            return CommandResult(
                raw.returncode, raw.output, False, raw.timed_out, raw.duration_ms, self.tier, stopped, raw.host_changed
            )
        status: bytes = state.get("status", b"")
        if inside or state.get("held"):
            from codeward.sandbox.launch import setup_failure

            why = setup_failure(raw.returncode, raw.output)
            if why is not None:
                raise SandboxUnavailable(f"sandbox: the launcher could not set up the view: {why}")
        if not raw.timed_out and not state.get("held") and b'"exit-code"' not in status:
            # bwrap reports the command's exit only when the sandbox was set up and the command ran
            lines = [ln for ln in raw.output.splitlines() if ln.startswith("bwrap: ")]
            why = lines[0][len("bwrap: ") :] if lines else f"bwrap exited with {raw.returncode}"
            raise SandboxUnavailable(f"sandbox: bubblewrap could not set up the sandbox: {why}")
        proxy = state.get("proxy")
        note = explain(
            exit_code=raw.returncode,
            output=raw.output,
            timed_out=raw.timed_out,
            spec=spec,
            tier=self.tier,
            blocked_hosts=proxy.blocked if proxy else (),
            restored=restored,
        )
        if state.get("git_note"):
            note = f"{note}; {state['git_note']}" if note else state["git_note"]
        return CommandResult(raw.returncode, raw.output, raw.truncated, raw.timed_out, raw.duration_ms, self.tier, note)

    def _launch(
        self,
        argv: Sequence[str],
        spec: SandboxSpec,
        layout: Layout,
        env: dict[str, str],
        bpf: bytes,
        use_proxy: bool,
        cleanup: contextlib.ExitStack,
        state: dict[str, Any],
        on_output: Callable[[str], None] | None,
        inside: bool = False,
        on_connection: Callable[[Connection], None] | None = None,
    ) -> RawRun:
        """Start bwrap, wait for it (or kill it), and wait for its pid namespace to be gone."""
        from codeward.sandbox.landlock import proxy_env
        from codeward.sandbox.proxy import BRIDGE_PORT, BRIDGE_SOURCE, ConnectProxy, DomainPolicy
        from codeward.sandbox.runner import run_process

        command = [*inner_limits(spec, self.prlimit), *argv]
        binds = git_binds(spec, layout, state)
        if use_proxy:
            import sys

            private = process_dir("codeward-proxy-")
            cleanup.callback(shutil.rmtree, private, True)
            sock = private / "proxy.sock"
            proxy = ConnectProxy(
                DomainPolicy(spec.allowed_domains), unix_path=str(sock), on_connection=on_connection
            ).start()
            cleanup.callback(proxy.stop)
            state["proxy"] = proxy
            inner_sock = "/run/codeward-proxy.sock"
            binds.append((str(sock), inner_sock))
            py = os.path.realpath(sys.executable)
            command = [py, "-I", "-S", "-c", BRIDGE_SOURCE, "127.0.0.1", str(BRIDGE_PORT), inner_sock, "--", *command]
            env.update(proxy_env(f"http://127.0.0.1:{BRIDGE_PORT}"))
        status_fd = memfd("codeward-bwrap-status", b"")
        cleanup.callback(os.close, status_fd)
        fds = [status_fd]
        bpf_fd = -1  # in launcher mode the filter travels in the launcher's spec, no descriptor is left open
        if not inside:
            bpf_fd = memfd("codeward-seccomp", bpf)
            cleanup.callback(os.close, bpf_fd)
            fds.append(bpf_fd)
        else:
            from codeward.sandbox import launch as launcher

            mounts_fd = memfd("codeward-mounts", encoded_inside_mounts(layout))
            cleanup.callback(os.close, mounts_fd)
            fds.append(mounts_fd)
            binds.append((str(hidden_stub()), INNER_STUB))
            python = launcher.trusted_python(spec.roots())
            lspec = {"drop_caps": True, "seccomp": bpf, "mounts_fd": mounts_fd}
            command = launcher.launcher_argv(python, lspec, command)
        full = build_argv(
            self.bwrap,
            spec,
            layout,
            stub=hidden_stub(),
            env=env,
            seccomp_fd=bpf_fd,
            command=command,
            share_net=spec.network,
            binds_ro=binds,
            status_fd=status_fd,
            mounts_inside=inside,
        )
        full = options_via_fd(full, len(command), fds, cleanup)
        raw = run_process(
            full,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
            cwd="/",
            timeout_s=spec.timeout_s,
            output_cap=spec.output_cap,
            on_output=on_output,
            pass_fds=fds,
            host_watch=state.get("host_watch"),
        )
        os.lseek(status_fd, 0, os.SEEK_SET)
        state["status"] = os.read(status_fd, 1 << 16)
        _wait_namespace_gone(state["status"])
        return raw


def _launcher_python(spec: SandboxSpec) -> bool:
    """Whether a Python outside every writable directory exists to run the launcher."""
    from codeward.sandbox import launch

    try:
        launch.trusted_python(spec.roots())
    except SandboxUnavailable:
        return False
    return True


def _check_mounts(spec: SandboxSpec, layout: Layout, inside: bool) -> None:
    """Refuse, with the directory to ignore whole, a view that would need more mounts than bwrap copes with.

    Anchors and hidden files mounted by the launcher (``inside``) cost one syscall each and do not count.
    """
    mounts = len(layout.hidden_dirs) + len(layout.readonly) + len(layout.redacted)
    if not inside:
        mounts += len(layout.hidden_files) + len(layout.anchored)
    if mounts > MAX_MOUNTS:
        parents = [f.parent for f in layout.hidden_files] or [spec.workspace]
        busiest = max(set(parents), key=parents.count)
        raise SandboxUnavailable(
            f"sandbox: {mounts} ignored or protected paths would each need a mount (limit {MAX_MOUNTS}); "
            f"ignore whole directories instead, for example {busiest}/ in .codewardignore"
        )


def _filter(spec: SandboxSpec, use_proxy: bool) -> bytes:
    from codeward.sandbox.seccomp import SeccompError, build_filter, policy_for

    try:
        return build_filter(policy_for("bwrap", network=spec.network, proxy=use_proxy))
    except SeccompError as e:
        raise SandboxUnavailable(f"sandbox: {e}") from None
