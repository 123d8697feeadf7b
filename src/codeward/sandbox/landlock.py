"""Tier 2: Landlock + seccomp, applied in the child by the launcher, where bwrap or user namespaces are missing.

Landlock is an allowlist of directory trees: rights granted to a directory hold for everything
below it, and there is no "deny inside allow". Two ways to hide a path inside a writable tree:

* *hold* it (the default, :mod:`codeward.sandbox.hold`): rename it, same inode, into a holding
  directory outside every tree the command sees, and back after the command. Nothing is frozen,
  so the workspace root (which holds ``.env``) stays fully usable: new files, ``sed -i``, renames,
  ``mkdir``, builds, venvs. Renaming an ancestor cannot carry the secret along: it is not there.
* *freeze* the directories on the way to it, the fallback for a path no holding place shares a
  mount with, and the way system directories are hidden: a frozen directory gets only the right
  to be listed (inside writable places) or nothing, and each of its other entries gets the tree's
  rights on its own; in a frozen directory no entry can be added or removed.

Files that hold secrets (``spec.redacted``) are held like hidden ones, and their redacted copy is
put at their name for the command (:mod:`codeward.sandbox.redacted_view`); the copy is taken away
by identity before the files go back, and a change the command made to it is reported as discarded.
A repository's object store is held the same way, with a link to its view (without the history's
secrets) at its name (:mod:`codeward.sandbox.landlock_store`).

When ``allow_directories`` narrows the workspace, the workspace gets read rights only and each
allowed directory the write rights on its own; moving or hard-linking a file out of an allowed
directory needs rights on the destination and fails (``EACCES`` / ``EXDEV``).

Protected paths cannot be made read-only inside a writable tree: protected directories are pinned
by identity (:class:`~codeward.sandbox.hold.Anchors`) and moved back when renamed, and a
:class:`~codeward.sandbox.protect.Tripwire` records the rest and puts them back after the command.
As root, the command runs as another uid (:func:`run_as`) so that it owns no host file: Landlock
does not govern ``chmod``/``utime``/``chown``. Other gaps, listed in ``sandbox_status()``: no pid
namespace, the user's own files in the shared ``/tmp``, and pathname unix sockets only stopped
because ``socket()`` is refused.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeward.errors import SandboxUnavailable
from codeward.sandbox.frozen_note import GENERIC_DENIAL, frozen_note
from codeward.sandbox.spec import CommandResult, SandboxSpec, is_within, validate_spec
from codeward.scratch import process_dir

if TYPE_CHECKING:
    from codeward.sandbox.proxy import Connection

# filesystem rights (linux/landlock.h)
EXECUTE = 1 << 0
WRITE_FILE = 1 << 1
READ_FILE = 1 << 2
READ_DIR = 1 << 3
REMOVE_DIR = 1 << 4
REMOVE_FILE = 1 << 5
MAKE_CHAR = 1 << 6
MAKE_DIR = 1 << 7
MAKE_REG = 1 << 8
MAKE_SOCK = 1 << 9
MAKE_FIFO = 1 << 10
MAKE_BLOCK = 1 << 11
MAKE_SYM = 1 << 12
REFER = 1 << 13
TRUNCATE = 1 << 14
IOCTL_DEV = 1 << 15
# network rights and scopes
BIND_TCP = 1 << 0
CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0
SCOPE_SIGNAL = 1 << 1

SYS_LANDLOCK_CREATE_RULESET = 444
LANDLOCK_CREATE_RULESET_VERSION = 1

FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
DEVICES: tuple[str, ...] = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
MAX_RULES = 20000
TMP = Path("/tmp")


def handled_fs(abi: int) -> int:
    """Every filesystem right the kernel's ABI knows: all of them are restricted."""
    rights = (1 << 13) - 1  # EXECUTE .. MAKE_SYM (ABI 1)
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    if abi >= 5:
        rights |= IOCTL_DEV
    return rights


def ro_rights(abi: int) -> int:
    return (EXECUTE | READ_FILE | READ_DIR) & handled_fs(abi)


def probe_abi() -> tuple[int, str]:
    """``(abi, "")`` when Landlock works here, else ``(0, why not)``."""
    import errno
    import sys

    if not sys.platform.startswith("linux"):
        return 0, "Landlock exists only on Linux"
    lib = ctypes.CDLL(None, use_errno=True)
    lib.syscall.restype = ctypes.c_long
    rc = lib.syscall(SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), LANDLOCK_CREATE_RULESET_VERSION)
    if rc >= 1:
        return int(rc), ""
    err = ctypes.get_errno()
    if err == errno.ENOSYS:
        return (
            0,
            "Landlock not supported by this kernel (needs Linux 5.13 or newer built with CONFIG_SECURITY_LANDLOCK)",
        )
    if err == errno.EOPNOTSUPP:
        return 0, "Landlock is built into the kernel but not enabled (add landlock to the lsm= boot parameter)"
    return 0, f"Landlock probe failed: {os.strerror(err)}"


@dataclass(frozen=True)
class Grant:
    """Rights on a tree; ``inside_writable`` frozen dirs keep the right to be listed."""

    path: Path
    rights: int
    inside_writable: bool = False


@dataclass(frozen=True)
class Rule:
    path: Path
    rights: int
    nofollow: bool = False


def _minimal(paths: Iterable[Path]) -> list[Path]:
    """Drop paths that lie under another path of the set (by ancestor lookup: linear in the paths)."""
    from codeward.sandbox.hold import has_ancestor_in

    chosen = {str(p): p for p in paths}
    kept = [p for k, p in chosen.items() if not has_ancestor_in(k, chosen)]
    return sorted(kept, key=lambda p: len(p.parts))


def plan_rules(
    grants: Sequence[Grant],
    hidden: Sequence[Path],
    readonly: Sequence[Path],
    *,
    ro: int,
    list_dir: int = READ_DIR,
    scandir: Callable[[Path], list[tuple[Path, bool]]] | None = None,
) -> list[Rule]:
    """Turn grants minus hidden paths into Landlock rules by freezing the directories above each hidden path.

    ``readonly`` paths that are entries of a frozen directory get ``ro`` instead of the grant's
    rights. ``scandir(dir)`` lists ``(entry, is_symlink)``; the default reads the disk.
    """
    scan = scandir or _scan
    ro_set = set(readonly)
    rules: list[Rule] = []
    for g in grants:
        inner = _minimal(h for h in hidden if is_within(h, g.path) and h != g.path)
        if not inner:
            rules.append(Rule(g.path, g.rights))
            continue
        frozen: set[Path] = set()
        for h in inner:
            d = h.parent
            while True:
                frozen.add(d)
                if d == g.path or d.parent == d:
                    break
                d = d.parent
        hidden_set = set(inner)
        for d in sorted(frozen, key=lambda p: (len(p.parts), str(p))):
            if g.inside_writable and list_dir:
                rules.append(Rule(d, list_dir, nofollow=d != g.path))
            for entry, is_link in scan(d):
                if entry in hidden_set or entry in frozen or is_link:
                    continue
                rights = ro if (g.inside_writable and entry in ro_set) else g.rights
                rules.append(Rule(entry, rights, nofollow=True))
        if len(rules) > MAX_RULES:
            raise SandboxUnavailable(
                f"sandbox: hiding ignored files under {g.path} needs more than {MAX_RULES} Landlock rules; "
                "install bubblewrap"
            )
    return rules


_SCAN_TTL_S = 60.0
_scan_cache: dict[Path, tuple[float, list[tuple[Path, bool]]]] = {}


def _cached_scan(d: Path) -> list[tuple[Path, bool]]:
    """:func:`_scan` remembered for a minute, for system directories only (``/``, ``/etc``, ``/var``).

    A stale listing can only miss a new entry (which then gets no rights) or name a gone one (which
    the launcher skips); hidden paths are excluded by name either way, so caching never widens.
    """
    import time

    now = time.monotonic()
    hit = _scan_cache.get(d)
    if hit is not None and now - hit[0] < _SCAN_TTL_S:
        return hit[1]
    result = _scan(d)
    _scan_cache[d] = (now, result)
    return result


def _scan(d: Path) -> list[tuple[Path, bool]]:
    try:
        with os.scandir(d) as it:
            return sorted((Path(e.path), e.is_symlink()) for e in it)
    except OSError:
        return []


def build_landlock_spec(
    spec: SandboxSpec,
    *,
    abi: int,
    private: Path,
    proxy_port: int | None,
    layout: Any,
    held: Iterable[Path] = (),
    hold_dirs: Iterable[Path] = (),
    read_only: Iterable[Path] = (),
) -> dict[str, Any]:
    """The JSON the launcher applies: handled rights, rules, ports and scopes.

    ``held`` hidden paths are out of the tree while the command runs (:mod:`codeward.sandbox.hold`),
    so nothing is frozen for them; ``hold_dirs`` (where they are) are hidden like the private dirs.
    ``read_only`` directories get read rights wherever they lie (the object-store views) and must
    never be writable: with one in ``/tmp``, ``/tmp`` is not granted whole.
    With the network off ``/tmp`` is writable: no socket can be created, so the sockets that live
    there (X11, tmux, ssh-agent) are out of reach; the user's own files there are not (a stated gap).
    """
    fs = handled_fs(abi)
    ro = ro_rights(abi)
    rw = fs
    held_set = set(held)
    hold_dirs = list(hold_dirs)
    hidden_all = [h for h in layout.hidden() if h not in held_set]
    hidden = [*map(Path, layout.private_dirs), *hidden_all, *hold_dirs, Path("/dev")]
    grants = [Grant(Path("/"), ro)]
    read_only = list(read_only)
    for p in (*layout.reexposed, *read_only):
        grants.append(Grant(p, ro))
    # a workspace narrowed by allow_directories: read-only as a whole, its allowed dirs writable
    # (rights add up along a path, so the allowed dirs' grants give them write access and nothing else)
    for r in layout.readonly_roots:
        grants.append(Grant(r, ro, inside_writable=True))
    for w in layout.writable:
        grants.append(Grant(w, rw, inside_writable=True))
    grants.append(Grant(private, rw, inside_writable=True))
    if tmp_writable(spec, layout, [*hidden_all, *hold_dirs, *read_only]):
        # with REFER: git's object quarantine and other tools rename across directories here. A
        # hard link to a workspace file made here is caught by identity instead: a file that holds
        # a secret and has a name the workspace walk does not reach refuses every command
        # (codeward.privacy.redacted_paths.LinkedOutside; red teams rt13, rt15)
        grants.append(Grant(TMP, rw, inside_writable=True))
    # inside the workspace trees, hidden paths are the spec's own; the private dirs they sit in are not
    rules = plan_rules([g for g in grants if not g.inside_writable], hidden, [], ro=ro, scandir=_cached_scan)
    inner = [g for g in grants if g.inside_writable]
    inner_hidden = [h for h in hidden_all if any(is_within(h, g.path) for g in inner)]
    rules += plan_rules(inner, inner_hidden, layout.readonly, ro=ro)
    for dev in DEVICES:
        if os.path.exists(dev):
            rules.append(Rule(Path(dev), (READ_FILE | WRITE_FILE | TRUNCATE | IOCTL_DEV) & fs))
    out: dict[str, Any] = {
        "handled_fs": fs,
        "rules": [[str(r.path), r.rights, r.nofollow] for r in rules],
    }
    if abi >= 4 and not spec.network:
        out["handled_net"] = BIND_TCP | CONNECT_TCP
        if proxy_port is not None:
            out["net_ports"] = [[proxy_port, CONNECT_TCP]]
    if abi >= 6:
        out["scoped"] = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
    return out


# The uid a root codeward runs Landlock commands as when the workspace belongs to root: one that owns
# no file on the host, so chmod/utime/chown of host files fail (Landlock does not govern them).
SANDBOX_ID = 65533
GIT_SAFE_ENV = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "safe.directory", "GIT_CONFIG_VALUE_0": "*"}


def run_as(workspace: Path, euid: int | None = None) -> tuple[int, int] | None:
    """Who a command runs as when codeward is root: the workspace's owner, or :data:`SANDBOX_ID`.

    ``None`` for a normal user (who owns only their own files anyway). Running as the owner keeps
    the files a command creates the user's (``sudo codeward`` in a user's checkout); a root-owned
    workspace gets the sandbox uid, with CAP_DAC_OVERRIDE kept so that it can still write there.
    """
    if (os.geteuid() if euid is None else euid) != 0:
        return None
    st = workspace.stat()
    if st.st_uid != 0:
        return st.st_uid, st.st_gid
    return SANDBOX_ID, SANDBOX_ID


def tmp_writable(spec: SandboxSpec, layout: Any, hidden: Sequence[Path]) -> bool:
    """``/tmp`` can be granted whole: the network is off (no socket can reach the sockets kept there),
    nothing the command must not see or must see narrowed lies below it (a workspace, a home, the
    codeward home, a hidden path), and, as root, the host is a container (whose /tmp is its own);
    otherwise commands get only their private ``$TMPDIR``."""
    if spec.network or TMP not in layout.private_dirs:
        return False
    if os.geteuid() == 0:
        from codeward.sandbox.bwrap_diag import container_kind

        if not container_kind():
            return False  # a root command keeps CAP_DAC_OVERRIDE: on a host, /tmp holds services' private dirs
    inside = [
        *spec.roots(),
        *layout.reexposed,
        *(p for p in layout.private_dirs if p != TMP),
        *hidden,
        spec.home_dir(),
    ]
    return not any(is_within(p, TMP) for p in inside)


class LandlockSandbox:
    """Runs commands through the launcher with Landlock rules and the seccomp filter."""

    tier = "landlock"
    shares_host_tmp = True  # /tmp is the host's when the network is off; the private scratch is in it

    def __init__(self, abi: int) -> None:
        self.abi = abi

    def run(
        self,
        argv: Sequence[str],
        spec: SandboxSpec,
        *,
        on_output: Callable[[str], None] | None = None,
        on_connection: Callable[[Connection], None] | None = None,
    ) -> CommandResult:
        from codeward.sandbox import anchors as anchors_mod
        from codeward.sandbox import hold, landlock_store, launch, redacted_view
        from codeward.sandbox.env import child_env
        from codeward.sandbox.gitview import home_attributes
        from codeward.sandbox.layout import build_layout
        from codeward.sandbox.notes import explain
        from codeward.sandbox.proxy import ConnectProxy, DomainPolicy
        from codeward.sandbox.runner import RawRun, run_guarded, run_process
        from codeward.sandbox.seccomp import SeccompError, build_filter, policy_for

        validate_spec(spec, argv)
        use_proxy = bool(spec.allowed_domains) and not spec.network
        if use_proxy and self.abi < 4:
            raise SandboxUnavailable(
                f"sandbox: allowed_domains needs Landlock ABI 4 (TCP rules) or bubblewrap; this kernel has ABI {self.abi}"
            )
        python = launch.trusted_python(spec.roots())
        child_env(spec.env_passthrough)  # refuses credential names before anything starts
        # files that hold secrets are held out of the tree like hidden ones; a redacted copy takes their
        # place; a directory codeward cannot list is held out (or, when it cannot be moved, fenced off)
        # whole, as bubblewrap masks it: what is in it was never classified or scanned
        from codeward.sandbox.census import index_for
        from codeward.sandbox.host_watch import HostWatch
        from codeward.sandbox.new_names import prepared

        index = index_for(spec.workspace)
        unknown = unlistable(spec.roots())  # refreshes every root's index: the watch below gets every directory
        new_names, appeared = prepared(spec.workspace, spec.ignore_rules, index, spec.masked)
        try:
            bpf = build_filter(policy_for("landlock", network=spec.network, proxy=use_proxy))
        except SeccompError as e:
            raise SandboxUnavailable(f"sandbox: {e}") from None
        home = spec.home_dir()
        # the repository's object store is held out too, and a view without the history's secrets
        # stands at its name (landlock_store); one that cannot be moved stays hidden by the rules.
        # Decided under the workspace lock the hold keeps: while another session's command runs,
        # .git/objects is that command's link to its view, and the real store comes back before
        # this command starts (red team rt21)
        lock_fd = hold.workspace_lock(spec.workspace)
        try:
            stores = landlock_store.planned(spec)
            layout = build_layout(
                spec, extra_hidden=[*(h for h, _ in spec.redacted), *unknown, *appeared, *(s.store for s in stores)]
            )
        except BaseException:
            os.close(lock_fd)
            raise
        in_writable = [h for h in layout.hidden() if any(is_within(h, w) and h != w for w in layout.writable)]
        put_back: list[str] = []
        proxy: ConnectProxy | None = None

        def launch_confined(undo: contextlib.ExitStack) -> RawRun:
            """The command in its own scratch dir; ``undo`` unwinds before the shared restore runs."""
            nonlocal proxy
            private = process_dir("codeward-sbx-")
            undo.callback(shutil.rmtree, private, ignore_errors=True)
            anchors = anchors_mod.Anchors.take([p for p in layout.readonly if p.is_dir() and not p.is_symlink()])
            undo.callback(lambda: put_back.extend(anchors.restore()))
            (private / "tmp").mkdir()
            (private / "home").mkdir()
            home_attributes(private / "home", spec, layout.hidden())  # git inside: hidden paths are binary
            env = child_env(spec.env_passthrough, home=str(private / "home"), tmpdir=str(private / "tmp"))
            if use_proxy:
                proxy = ConnectProxy(DomainPolicy(spec.allowed_domains), on_connection=on_connection).start()
                undo.callback(proxy.stop)
                env.update(proxy_env(f"http://127.0.0.1:{proxy.port}"))
            ll = build_landlock_spec(
                spec,
                abi=self.abi,
                private=private,
                proxy_port=proxy.port if proxy else None,
                layout=layout,
                held=held.held_paths,
                hold_dirs=hold.holding_dirs(home, spec.workspace, spec.roots()),
                read_only=landlock_store.read_only(stores),
            )
            user = run_as(spec.workspace)
            if user is not None:
                for d in (private, private / "tmp", private / "home"):
                    os.chown(d, *user)  # its own scratch: access(2) checks ignore CAP_DAC_OVERRIDE
                if user[0] != spec.workspace.stat().st_uid:
                    env.update(GIT_SAFE_ENV)  # git refuses a repository another uid owns ("dubious ownership")
            launcher_spec = {
                "rlimits": {"fsize": spec.max_file_size, "nproc": spec.max_processes, "core": 0},
                "drop_caps": True,
                "run_as": user,
                "landlock": ll,
                "seccomp": bpf,
                "supervise": True,
            }
            if new_names is not None:
                # a held name is out of the tree, so a file the host makes there is readable: not covered
                new_names.arm([h for h in layout.hidden() if h not in held.held_paths])
            watch = HostWatch({}, new_names) if new_names is not None else None
            if watch is not None:
                undo.callback(watch.close)
            full = launch.launcher_argv(python, launcher_spec, argv)
            if sum(len(os.fsencode(a)) + 1 for a in full) > ARGV_BUDGET:
                raise SandboxUnavailable(
                    f"sandbox (landlock): this view needs {len(ll.get('rules', ()))} Landlock rules, more than a "
                    "command line can carry; ignore whole directories instead of scattered files, or make "
                    "bubblewrap usable"
                )
            return run_process(
                full,
                env=env,
                cwd=str(spec.cwd),
                timeout_s=spec.timeout_s,
                output_cap=spec.output_cap,
                on_output=on_output,
                stop=lambda p: os.kill(p.pid, 15),
                host_watch=watch,
            )

        # The shared lifecycle (runner.run_guarded) inside the hold: the anchors and the scratch dir
        # are undone first, then renamed directories go back by identity and planted protected names
        # are set aside, and only then are held paths put back, so a held file goes back into its own
        # directory, never into one the command made at that name.
        held = hold.take(home, spec.workspace, spec.roots(), in_writable, lock_fd=lock_fd)
        refuse_after_recovery(held)
        discarded: list[str] = []
        linked: list[landlock_store.Placed] = []
        try:
            placed = redacted_view.place_copies(spec.redacted, held.held_paths)
            try:
                linked = landlock_store.place(stores, held.held_paths)
                guarded = [*layout.readonly, *layout.missing_protected, *layout.linked_protected]
                held_now = held.held_paths
                raw, restored = run_guarded(spec, [p for p in guarded if p not in held_now], launch_confined)
            finally:
                landlock_store.take_back(linked)
                discarded = redacted_view.take_back(placed, spec.workspace)
        finally:
            put_back.extend(held.restore())
        restored += [*held.recovered, *put_back]
        why = launch.setup_failure(raw.returncode, raw.output)
        if why is not None:
            raise SandboxUnavailable(f"sandbox: the Landlock launcher could not confine the command: {why}")
        note = explain(
            exit_code=raw.returncode,
            output=raw.output,
            timed_out=raw.timed_out,
            spec=spec,
            tier=self.tier,
            blocked_hosts=proxy.blocked if proxy else (),
            restored=restored,
            discarded=discarded,
        )
        if raw.host_changed:
            stopped = "sandbox: a new file the ignore rules hide was opened while the command ran; output withheld"
            return CommandResult(
                raw.returncode, raw.output, False, raw.timed_out, raw.duration_ms, self.tier, stopped, raw.host_changed
            )
        if held.left and note is not None and note.startswith(GENERIC_DENIAL):
            note = frozen_note(held.left, spec)
        note = note or landlock_store.note_for(linked, raw.output)
        return CommandResult(raw.returncode, raw.output, raw.truncated, raw.timed_out, raw.duration_ms, self.tier, note)


ARGV_BUDGET = 1 << 20  # of the 2 MiB the kernel allows a command line and its environment


def unlistable(roots: Sequence[Path]) -> list[Path]:
    """Directories under ``roots`` that the index, just refreshed, could not list (another user's
    ``0711`` directory, one deeper than codeward reaches): unknown contents, so hidden whole."""
    from codeward.sandbox.census import index_for

    out: list[Path] = []
    for root in roots:
        index = index_for(root)
        index.refresh()
        out += [d for d in index.unreadable() if d != root]
    return out


def refuse_after_recovery(held: Any) -> None:
    """Refuse the command when taking the hold put back what an interrupted run had held.

    Those files are back in the tree unscanned: the view was built while a redacted copy stood at
    a held file's name, so the command would read the file raw. The next command scans them first.
    """
    if not held.recovered_into_tree:
        return  # what is still held stays out of the tree: nothing unscanned is readable
    held.restore()
    from codeward.sandbox.hold import refusal_after_recovery

    raise refusal_after_recovery(held.recovered)


def proxy_env(url: str) -> dict[str, str]:
    """Proxy variables in the spellings tools read (curl, pip, git, npm, requests)."""
    env: dict[str, str] = {}
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env[name] = url
        env[name.lower()] = url
    env["NO_PROXY"] = env["no_proxy"] = "localhost,127.0.0.1,::1"
    return env
