"""What a command may see, computed once from the spec and the host, for every tier to enforce.

The tiers differ in mechanism (mounts, Landlock rules, a Seatbelt profile) but not in intent, so
the intent lives here: which host directories become private and empty, which tools under them
are shown again read-only, what is writable, what stays read-only inside the writable places, and
what is hidden outright. Everything is decided from ``lstat`` results, never by following a link
the workspace could have planted.

Hidden from every command, besides the spec's masked paths:

* the home directories (``$HOME``, the account's home, ``/root``, ``/home``) — only the language
  toolchains in :data:`TOOLCHAIN_DIRS` are shown again, read-only, minus the credential files in
  :data:`TOOLCHAIN_SECRETS`;
* the codeward home (keys, sessions, audit log);
* ``/run`` (D-Bus, docker.sock, ``$XDG_RUNTIME_DIR``), the ssh-agent socket, and every listening
  socket path the kernel reports in ``/proc/net/unix``;
* the shared temp dirs ``/tmp`` and ``/var/tmp`` (a private one replaces them), ``/mnt``, ``/media``;
* system secrets (:data:`SYSTEM_SECRETS`): ``/etc/shadow``, TLS and VPN keys, container storage, and
  the ssh host keys; and outside the trees, every entry the command's account may read only as its
  owner or group, not as any account (:mod:`codeward.sandbox.outside_private`: root's ``0600``
  configuration in ``/etc`` or ``/opt``).
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from codeward.sandbox.layout_tree import Hider, _is_dir, _lstat, anchors, parents_first, tree_part
from codeward.sandbox.spec import SandboxSpec, host_homes, is_within
from codeward.workspace import PROTECTED_DIRS

if TYPE_CHECKING:
    from codeward.dirindex import DirIndex

# Toolchains under a home directory that commands need (read-only). Documented in sandbox_status().
TOOLCHAIN_DIRS: tuple[str, ...] = (
    ".pyenv",
    ".cargo",
    ".rustup",
    ".nvm",
    ".volta",
    ".rbenv",
    ".asdf",
    ".local/bin",
    ".local/lib",
    ".bun",
    ".deno",
    "go",
    ".sdkman",
    ".gem",
    ".elan",
    ".ghcup",
    ".juliaup",
    ".dotnet",
)
# Credential files that live inside those toolchains; hidden even though their directory is shown.
TOOLCHAIN_SECRETS: tuple[str, ...] = (
    ".cargo/credentials",
    ".cargo/credentials.toml",
    ".gem/credentials",
)

# Host directories replaced by an empty private directory. Besides these, every top-level directory
# that is not a system one (:data:`SYSTEM_TOP`) is: /srv, /work, /data, /workspace hold other
# projects, not what a build needs. Only /tmp and /var/tmp stay writable (:data:`SCRATCH_DIRS`);
# the rest are read-only, so a write there fails visibly instead of vanishing with the sandbox.
PRIVATE_DIRS: tuple[str, ...] = (
    "/tmp",
    "/var/tmp",
    "/run",
    "/var/run",
    "/home",
    "/root",
    "/mnt",
    "/media",
    "/srv",
    "/var/www",
    "/var/backups",
    "/var/mail",
    "/var/spool",
    "/var/lib/mysql",
    "/var/lib/postgresql",
)
SCRATCH_DIRS: tuple[str, ...] = ("/tmp", "/var/tmp")
# Top-level directories that hold the system and its toolchains (shown read-only).
SYSTEM_TOP: frozenset[str] = frozenset(
    {"bin", "boot", "dev", "etc", "lib", "lib32", "lib64", "libx32", "opt", "proc", "sbin", "sys", "usr", "var"}
    | {"nix", "snap", "gnu", "run", "tmp", "home", "root"}
)
# Cargo's config is shown (build settings) unless it holds a registry token.
TOKEN_CONFIGS: tuple[str, ...] = (".cargo/config.toml", ".cargo/config")
# Root-only secrets of the machine. A normal user cannot read them anyway; an agent run as root
# could (the sandbox's root still owns root's files), so they are hidden from every command.
SYSTEM_SECRETS: tuple[str, ...] = (
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/security/opasswd",
    "/etc/ssl/private",
    "/etc/letsencrypt",
    "/etc/wireguard",
    "/etc/NetworkManager/system-connections",
    "/etc/krb5.keytab",
    "/etc/ipsec.secrets",
    "/etc/ppp/chap-secrets",
    "/etc/ppp/pap-secrets",
    "/var/lib/docker",
    "/var/lib/containers",
)
SSH_HOST_KEY_DIR = "/etc/ssh"
# Directories other accounts keep toolchains in that are fine to show (Homebrew on Linux).
SHARED_TOOL_DIRS: tuple[str, ...] = ("/home/linuxbrew/.linuxbrew",)
MAX_SOCKETS = 512


@dataclass(frozen=True)
class Layout:
    """The view of the filesystem a command gets, in the order a mount-based tier applies it."""

    private_dirs: tuple[Path, ...]  # become empty (private tmpfs); read-only unless a scratch dir
    reexposed: tuple[Path, ...]  # shown again read-only under the private dirs (toolchains)
    writable: tuple[Path, ...]  # the workspace (or its allowed directories) and --writable dirs
    readonly: tuple[Path, ...]  # existing protected paths inside writable dirs
    missing_protected: tuple[Path, ...]  # protected names that do not exist: must not be creatable
    linked_protected: tuple[Path, ...]  # protected paths that are symlinks (their link can be swapped)
    hidden_dirs: tuple[Path, ...]
    hidden_files: tuple[Path, ...]
    # the workspace, shown read-only, when allow_directories narrows it (bound before ``writable``)
    readonly_roots: tuple[Path, ...] = ()
    # directories inside writable roots that hold a protected or hidden path, parents first: a
    # mount-based tier binds each onto itself, and the kernel refuses to rename or remove a mount
    # point, so no command can move a protection away by renaming an ancestor (see :func:`anchors`)
    anchored: tuple[Path, ...] = ()
    homes: tuple[Path, ...] = ()  # the user's home dirs: kept as (empty, read-only) directories inside
    # (host file, redacted copy): files holding secrets, shown redacted (bound read-only by bwrap)
    redacted: tuple[tuple[Path, Path], ...] = ()

    def scratch(self) -> tuple[Path, ...]:
        """Private dirs a command may write (a per-command /tmp and /var/tmp); the others are read-only."""
        return tuple(d for d in self.private_dirs if str(d) in SCRATCH_DIRS)

    def hidden(self) -> tuple[Path, ...]:
        return (*self.hidden_dirs, *self.hidden_files)


def listening_socket_paths(proc_net_unix: str = "/proc/net/unix") -> list[Path]:
    """Pathname unix sockets the kernel knows in this network namespace (docker, D-Bus, agents)."""
    out: list[Path] = []
    try:
        with open(proc_net_unix, encoding="utf-8", errors="replace") as f:
            next(f, None)
            for line in f:
                parts = line.split(None, 7)
                if len(parts) == 8 and parts[7].startswith("/"):
                    p = Path(parts[7].rstrip("\n"))
                    if p not in out:
                        out.append(p)
    except OSError:
        return []
    return out


def ssh_host_keys(directory: str = SSH_HOST_KEY_DIR) -> list[Path]:
    d = Path(directory)
    try:
        names = sorted(os.listdir(d))
    except OSError:
        return []
    return [d / n for n in names if n.startswith("ssh_host_") and n.endswith("_key")]


def interpreter_prefixes() -> list[Path]:
    """Where this Python lives, so a helper run inside with it (the proxy bridge) can start."""
    import sys

    out = []
    for p in (sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable))):
        path = Path(p).resolve()
        if path not in out:
            out.append(path)
    return out


def other_top_dirs(root: str = "/") -> list[str]:
    """Top-level directories that are not the system's (/srv, /work, /data ...), plus /opt entries
    that are project checkouts (they hold ``.git``): other projects, hidden unless listed."""
    out: list[str] = []
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return out
    for e in entries:
        if e.name not in SYSTEM_TOP and e.is_dir(follow_symlinks=False):
            out.append(os.path.join(root, e.name))
    opt = os.path.join(root, "opt")
    try:
        for e in sorted(os.scandir(opt), key=lambda e: e.name):
            if e.is_dir(follow_symlinks=False) and os.path.lexists(os.path.join(e.path, ".git")):
                out.append(e.path)
    except OSError:
        pass
    return out


def holds_token(p: Path) -> bool:
    """True when a toolchain config file names a token (cargo's ``token = ...``)."""
    try:
        with open(p, "rb") as f:
            data = f.read(1 << 20)
    except OSError:
        return False
    return b"token" in data.lower()


def _under_any(p: Path, roots: Iterable[Path]) -> bool:
    return any(is_within(p, r) for r in roots)


def build_layout(
    spec: SandboxSpec,
    *,
    homes: Iterable[Path] | None = None,
    private_dirs: Iterable[str] | None = None,
    extra_visible: Iterable[Path] = (),
    extra_hidden: Iterable[Path] = (),
    collapse: bool = True,
    sockets: Iterable[Path] | None = None,
    system_secrets: Iterable[str] | None = None,
    indexes: Sequence[DirIndex] = (),
) -> Layout:
    """Decide the view for ``spec``. Parameters after ``spec`` exist for tests and for the proxy.

    ``indexes``: the directory index of every root in ``spec.roots()``, *just refreshed* by the
    caller. With them, what is decided from the trees (masked, protected, anchors: one ``lstat`` per
    path) is kept and reused while no index changed (:mod:`codeward.sandbox.layout_tree`); without
    them it is decided afresh. What lies outside the trees (homes, sockets, system secrets) is decided every time.
    """
    homes = list(host_homes() if homes is None else homes)
    if private_dirs is None:
        private_dirs = (*PRIVATE_DIRS, *other_top_dirs())
    writable = list(spec.writable_roots())
    trees = list(spec.roots())  # what commands see of the workspace and extra dirs, writable or not

    privates: list[Path] = []
    for d in (*private_dirs, *(str(h) for h in homes)):
        p = Path(d)
        if _is_dir(p) and p not in privates:
            privates.append(p)
    privates.sort(key=lambda p: len(p.parts))
    # a private dir must never swallow a writable root's ancestors' siblings we re-bind; binds come later

    reexposed: list[Path] = []
    for h in homes:
        for name in TOOLCHAIN_DIRS:
            p = h / name
            if _is_dir(p) and p not in reexposed:
                reexposed.append(p)
    for d in SHARED_TOOL_DIRS:
        p = Path(d)
        if _is_dir(p):
            reexposed.append(p)
    for p in (*extra_visible, *spec.readable_roots):
        if _under_any(p, privates) and not _under_any(p, reexposed) and p.exists():
            reexposed.append(p)

    extra_hidden = list(extra_hidden)
    tree = tree_part(spec, trees, writable, extra_hidden, collapse, indexes)
    hider = Hider(_lstat, trees, tree.hidden_set)  # hidden here, besides the tree part's
    hide, hidden_dirs, hidden_files, seen = hider.hide, hider.dirs, hider.files, hider.seen

    def visible(p: Path) -> bool:
        """True when ``p`` would otherwise be readable inside (not already under a private dir)."""
        if _under_any(p, trees) or _under_any(p, reexposed):
            return True
        return not _under_any(p, privates)

    from codeward.sandbox.public_files import is_public_file

    # masked paths outside the trees (an audit log kept elsewhere): no index watches them, so every time
    for p in tree.outside:
        if not is_public_file(p):
            hide(p)
    hidden_dirs += tree.hidden_dirs
    hidden_files += tree.hidden_files
    home = spec.home_dir()
    if visible(home):
        hide(home)
    for h in homes:
        for name in TOOLCHAIN_SECRETS:
            p = h / name
            if visible(p):
                hide(p)
        for name in TOKEN_CONFIGS:
            p = h / name
            if visible(p) and holds_token(p):
                hide(p)
    for secret in system_secrets if system_secrets is not None else (*SYSTEM_SECRETS, *map(str, ssh_host_keys())):
        p = Path(secret)
        if visible(p):
            hide(p)
    if system_secrets is None and sys.platform.startswith("linux"):  # the machine's own (tests that
        # pass their lists decide the rest themselves; macOS's seatbelt keeps its own system list)
        from codeward.sandbox.outside_private import private_outside

        # the same for every workspace and caller (its answer is shared): the machine's private
        # directories, whatever this caller replaces; the trees are the tree part's to decide
        machine_private = [Path(d) for d in (*PRIVATE_DIRS, *other_top_dirs())] + [Path(h) for h in homes]
        vouched = [*machine_private, *privates, *reexposed, *spec.readable_roots, *map(Path, SYSTEM_SECRETS)]
        outside = private_outside(vouched, spec.home_dir() / "cache")
        for p in (*outside.private, *outside.unchecked):
            if visible(p) and not _under_any(p, trees):
                hide(p)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime) and visible(Path(runtime)):
        hide(Path(runtime))  # the user's D-Bus, systemd and agent sockets, if it is not under /run
    sock_env = os.environ.get("SSH_AUTH_SOCK")
    socks = list(listening_socket_paths() if sockets is None else sockets)
    if sock_env and os.path.isabs(sock_env):
        socks.append(Path(sock_env))
    count = 0
    for sock in socks:
        if count >= MAX_SOCKETS:
            # beyond this many, each would cost a mount; the usual places (/run, /tmp, homes) are hidden whole
            break
        st = _lstat(sock)
        if st is not None and stat.S_ISSOCK(st.st_mode) and visible(sock):
            hide(sock)
            count += 1
    # a path under a hidden directory needs no mount of its own, and could get none: by then the
    # directory is an empty read-only tmpfs (a private /opt dir holding a listening socket)
    covered = {str(d) for d in hidden_dirs}
    drop = {p for p in seen if any(str(a) in covered for a in p.parents)}
    if drop:
        hidden_dirs = [d for d in hidden_dirs if d not in drop]
        hidden_files = [f for f in hidden_files if f not in drop]
    redacted = redacted_files(spec, trees, [*seen, *tree.hidden_set]) if spec.redacted else []
    # the tree part's anchors are decided once per index generation; the rest's each time (a handful)
    extra = [
        a for a in anchors([*seen, *(h for h, _ in redacted)], writable) if a not in tree.anchored_set and _is_dir(a)
    ]
    anchored = tree.anchored if not extra else parents_first([*tree.anchored, *extra])
    return Layout(
        redacted=tuple(redacted),
        anchored=anchored,
        homes=tuple(h for h in homes if _under_any(h, privates)),
        private_dirs=tuple(privates),
        reexposed=tuple(reexposed),
        writable=tuple(writable),
        readonly=tree.readonly,
        missing_protected=tree.missing,
        linked_protected=tree.linked,
        hidden_dirs=tuple(hidden_dirs),
        hidden_files=tuple(hidden_files),
        readonly_roots=spec.readonly_roots(),
    )


def redacted_files(spec: SandboxSpec, trees: Iterable[Path], hidden: Iterable[Path]) -> list[tuple[Path, Path]]:
    """The spec's redacted copies whose file is a regular file (not a link) in the trees and not hidden.

    A link at the name is left alone: its target, if it holds a secret, is in the list itself.
    """
    trees, hidden = list(trees), list(hidden)
    out: list[tuple[Path, Path]] = []
    for host, copy in spec.redacted:
        st = _lstat(host)
        if st is None or not stat.S_ISREG(st.st_mode) or not _under_any(host, trees) or _under_any(host, hidden):
            continue
        out.append((host, copy))
    return out


def stub_kind(p: Path) -> str:
    """``dir`` for protected directory names (``.git``, ``.codeward``), ``file`` for the rest."""
    return "dir" if p.name in PROTECTED_DIRS else "file"
