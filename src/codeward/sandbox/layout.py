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
  the ssh host keys.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from codeward.sandbox.spec import SandboxSpec, host_homes, is_within
from codeward.workspace import PROTECTED_DIRS

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


def _lstat(p: Path) -> os.stat_result | None:
    try:
        return p.lstat()
    except OSError:
        return None


def _is_dir(p: Path) -> bool:
    st = _lstat(p)
    return st is not None and stat.S_ISDIR(st.st_mode)


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


def extra_root_protected(spec: SandboxSpec) -> list[Path]:
    """Protected paths inside the extra writable directories (``--writable``, ``writable_roots``):
    a repository there keeps its ``.git``, hooks and AGENTS.md read-only like the workspace's."""
    from codeward.workspace import Workspace

    out: list[Path] = []
    for w in spec.writable:
        if w != spec.workspace:
            out += [p for p in Workspace(w, w).protected_paths() if p.parent != w or p.exists()]
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
) -> Layout:
    """Decide the view for ``spec``. Parameters after ``spec`` exist for tests and for the proxy."""
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

    readonly: list[Path] = []
    missing: list[Path] = []
    linked: list[Path] = []
    for p in (*spec.protected, *extra_root_protected(spec)):
        if not _under_any(p, trees):
            continue  # outside the workspace and the extra dirs everything is read-only already
        in_writable = _under_any(p, writable)
        st = _lstat(p)
        if st is None:
            if in_writable:
                missing.append(p)  # watched: moved aside after the command if it appeared
            continue
        if stat.S_ISLNK(st.st_mode):
            if in_writable:
                linked.append(p)  # the link itself can be replaced: the tripwire puts it back
            # a link in the read-only part may still lead into a writable directory: protect its target
            target = p.resolve()
            if _under_any(target, writable) and target.exists() and target not in readonly:
                readonly.append(target)
            continue
        if in_writable and p not in readonly:
            readonly.append(p)

    hidden_dirs: list[Path] = []
    hidden_files: list[Path] = []
    seen: set[Path] = set()

    def hide(p: Path) -> None:
        st = _lstat(p)
        if st is None or p in seen:
            return
        if stat.S_ISLNK(st.st_mode):
            # a masked symlink: hide what it points to when that is inside a writable root
            target = p.resolve()
            if target != p and _under_any(target, trees) and _lstat(target) is not None:
                hide(target)
            return
        seen.add(p)
        (hidden_dirs if stat.S_ISDIR(st.st_mode) else hidden_files).append(p)

    def visible(p: Path) -> bool:
        """True when ``p`` would otherwise be readable inside (not already under a private dir)."""
        if _under_any(p, trees) or _under_any(p, reexposed):
            return True
        return not _under_any(p, privates)

    from codeward.sandbox.public_files import is_public_file

    masked = [m for m in spec.masked if not is_public_file(m)]  # CA bundles stay usable; keys never
    masked += [p for p in extra_hidden if p not in masked]
    # collapsing saves bwrap mounts at the price of listing each parent; a tier that mounts cheaply skips it
    for p in collapse_masked(masked, [*trees, *writable]) if collapse else masked:
        hide(p)
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
    redacted = redacted_files(spec, trees, seen)
    guarded = [*readonly, *linked, *hidden_dirs, *hidden_files, *spec.protected, *missing, *(h for h, _ in redacted)]
    return Layout(
        redacted=tuple(redacted),
        anchored=tuple(a for a in anchors(guarded, writable) if _is_dir(a)),
        homes=tuple(h for h in homes if _under_any(h, privates)),
        private_dirs=tuple(privates),
        reexposed=tuple(reexposed),
        writable=tuple(writable),
        readonly=tuple(readonly),
        missing_protected=tuple(missing),
        linked_protected=tuple(linked),
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


def anchors(paths: Iterable[Path], writable: Iterable[Path]) -> tuple[Path, ...]:
    """Every directory strictly between a writable root and one of ``paths``, parents first.

    Renaming ``config/`` would carry the mount over ``config/production.yml`` with it and leave the
    name ``config/production.yml`` free for anything; a directory that is itself a mount point
    cannot be renamed or removed (EBUSY), so binding each such ancestor onto itself makes the
    protection hold by construction instead of by checking names afterwards. The writable roots
    are mount points already.
    """
    roots = sorted({str(r) for r in writable}, key=len, reverse=True)
    out: set[str] = set()
    for p in paths:
        sp = str(p)
        root = next((r for r in roots if sp.startswith(r + "/") or (r == "/" and sp != "/")), None)
        if root is None:
            continue
        a = os.path.dirname(sp)
        while a != root and a not in out and a.startswith(root + "/"):  # strings: thousands of paths
            out.add(a)
            a = os.path.dirname(a)
    return tuple(Path(a) for a in sorted(out, key=lambda a: (a.count("/"), a)))


def collapse_masked(masked: Iterable[Path], writable: Iterable[Path]) -> list[Path]:
    """Masked files, with every directory whose entries are *all* masked replaced by the directory.

    Each masked file costs a mount, and bwrap's cost per mount grows with the number of mounts
    (about 0.5 ms each at 1 000, 1.4 ms at 2 500 here), so a fixture directory of 2 000 ``*.pem``
    files becomes one mount. The view is the same except that nothing new can be created in such a
    directory. Never collapses a root given in ``writable`` (the workspace, an allowed or extra dir).
    """
    roots = {str(r) for r in writable}
    result = {str(m) for m in masked}
    changed = True
    while changed:
        changed = False
        by_parent: dict[str, set[str]] = {}
        for p in result:
            by_parent.setdefault(os.path.dirname(p), set()).add(os.path.basename(p))
        for parent, members in by_parent.items():
            if parent in roots or parent in result or len(members) < 2:
                continue
            try:
                entries = os.listdir(parent)
            except OSError:
                continue
            if entries and len(entries) <= len(members) and members.issuperset(entries):
                result -= {os.path.join(parent, n) for n in members}
                result.add(parent)
                changed = True
    return [Path(p) for p in sorted(result)]


def stub_kind(p: Path) -> str:
    """``dir`` for protected directory names (``.git``, ``.codeward``), ``file`` for the rest."""
    return "dir" if p.name in PROTECTED_DIRS else "file"
