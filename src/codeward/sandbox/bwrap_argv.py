"""The pieces of a bubblewrap command line: the argv itself (pure), the stub, the launcher's mount
list, the git views bound over ``.git``, and the options passed through a descriptor.

Shared by the per-command path (:mod:`codeward.sandbox.bwrap`) and the view holder
(:mod:`codeward.sandbox.view_holder`); see :mod:`codeward.sandbox.bwrap` for the order of the mounts.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from codeward.sandbox.layout import Layout
from codeward.sandbox.spec import SandboxSpec
from codeward.scratch import process_dir

TMP_SIZE = 1 << 30
HOME_SIZE = 256 << 20
PRIVATE_SIZE = 64 << 20
HIDDEN_SIZE = 4096
ARGS_FD_THRESHOLD = 64 * 1024
_stub_lock = threading.Lock()
_stub_dir: Path | None = None


def hidden_stub() -> Path:
    """The mode-000 empty file bound over hidden files (made once per process, in a private directory)."""
    global _stub_dir
    with _stub_lock:
        if _stub_dir is None or not _stub_dir.is_dir():
            _stub_dir = process_dir("codeward-stubs-")
            atexit.register(shutil.rmtree, _stub_dir, True)
        path = _stub_dir / "hidden"
        if not path.exists():
            path.touch()
            os.chmod(path, 0o000)
        return path


def inner_limits(spec: SandboxSpec, prlimit: str | None) -> list[str]:
    """The argv prefix that sets the hard limits inside the sandbox before the command runs."""
    if prlimit:
        return [
            prlimit,
            f"--fsize={spec.max_file_size}:{spec.max_file_size}",
            f"--nproc={spec.max_processes}:{spec.max_processes}",
            "--core=0:0",
            "--",
        ]
    blocks = (spec.max_file_size + 511) // 512
    script = (
        f"ulimit -f {blocks} && ulimit -c 0 && {{ ulimit -u {spec.max_processes} 2>/dev/null || "
        f"ulimit -p {spec.max_processes}; }} || {{ echo 'codeward-launcher: cannot set limits' >&2; exit 125; }}; "
        'exec "$@"'
    )
    return ["/bin/sh", "-c", script, "codeward-sandbox"]


def build_argv(
    bwrap: str,
    spec: SandboxSpec,
    layout: Layout,
    *,
    stub: Path,
    env: Mapping[str, str],
    seccomp_fd: int,
    command: Sequence[str],
    share_net: bool,
    binds_ro: Sequence[tuple[str, str]] = (),
    status_fd: int | None = None,
    mounts_inside: bool = False,
    keep_caps: bool = False,
) -> list[str]:
    """The full bwrap command line (pure: paths and decisions in, strings out).

    With ``mounts_inside`` the anchors and hidden files are left to the launcher (see
    :func:`inside_mounts`), bwrap keeps CAP_SYS_ADMIN and CAP_SETPCAP in the new user namespace for
    it, and ``seccomp_fd`` is not used: the launcher drops every capability and installs the filter
    itself before ``exec``. ``keep_caps`` (the view holder, :mod:`codeward.sandbox.view_holder`) keeps
    the same two capabilities and leaves the filter to the supervisor, whatever mounts bwrap makes.
    """
    kept = mounts_inside or keep_caps
    a: list[str] = [bwrap]
    if status_fd is not None:
        a += ["--json-status-fd", str(status_fd)]
    a += ["--new-session", "--die-with-parent", "--unshare-all", "--unshare-user"]
    if not kept:
        # with it bwrap nests a second user namespace, which would leave the launcher's mounts
        # without CAP_SYS_ADMIN over the mount namespace; there the launcher's seccomp filter
        # refuses unshare, setns and clone with CLONE_NEW* flags instead
        a.append("--disable-userns")
    if kept:
        a += ["--cap-drop", "ALL", "--cap-add", "CAP_SYS_ADMIN", "--cap-add", "CAP_SETPCAP"]
    else:
        a += ["--cap-drop", "ALL"]
    if keep_caps:
        # the supervisor is the namespace's init: no bwrap init (without the filter, dumpable, outside
        # each command's pid namespace) stays for a command to reach through /proc/1/mem
        a.append("--as-pid-1")
    if share_net:
        a.append("--share-net")
    a += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    for d in layout.private_dirs:
        size = TMP_SIZE if d in layout.scratch() else HOME_SIZE
        perms = "1777" if d in layout.scratch() else "0755"
        a += ["--size", str(size), "--perms", perms, "--tmpfs", str(d)]
    for h in layout.homes:
        a += ["--dir", str(h)]  # cd ~ works; writing there fails (read-only below)
    for p in layout.reexposed:
        a += ["--ro-bind", str(p), str(p)]
    for r in layout.readonly_roots:
        a += ["--ro-bind", str(r), str(r)]
    for w in layout.writable:
        a += ["--bind", str(w), str(w)]
    for d in () if mounts_inside else layout.anchored:
        a += ["--bind", str(d), str(d)]
    for p in layout.readonly:
        a += ["--ro-bind", str(p), str(p)]
    for d in layout.hidden_dirs:
        a += ["--size", str(HIDDEN_SIZE), "--perms", "0000", "--tmpfs", str(d), "--remount-ro", str(d)]
    for f in () if mounts_inside else layout.hidden_files:
        a += ["--ro-bind", str(stub), str(f)]
    for host, copy in layout.redacted:
        a += ["--ro-bind", str(copy), str(host)]  # the redacted view: a write fails with EROFS
    for host_path, inner_path in binds_ro:
        a += ["--ro-bind", host_path, inner_path]
    scratch = set(layout.scratch())
    for d in layout.private_dirs:
        if d not in scratch:
            # last, once every mount point under it exists: a write to $HOME or /srv fails with
            # EROFS instead of landing in a tmpfs that vanishes with the command
            a += ["--remount-ro", str(d)]
    a.append("--clearenv")
    for k, v in sorted(env.items()):
        a += ["--setenv", k, v]
    a += ["--chdir", str(spec.cwd)]
    if not kept:
        a += ["--seccomp", str(seccomp_fd)]
    a += ["--", *command]
    return a


INNER_STUB = "/run/codeward-hidden"


def inside_mounts(layout: Layout) -> list[tuple[str, str, str]]:
    """What the launcher mounts, in order: anchors (parents first, each with the mounts below it),
    then every hidden file from the read-only stub bwrap put at :data:`INNER_STUB`."""
    out = [("tree", str(d), str(d)) for d in layout.anchored]
    out += [("file", INNER_STUB, str(f)) for f in layout.hidden_files]
    return out


_encoded: tuple[tuple[Path, ...], tuple[Path, ...], bytes] | None = None  # the last launcher mount list


def encoded_inside_mounts(layout: Layout) -> bytes:
    """:func:`inside_mounts` encoded for the launcher, kept while the anchors and hidden files are
    the same (an unchanged tree: thousands of paths, about 6 ms to encode)."""
    global _encoded
    from codeward.sandbox import launch as launcher

    last = _encoded
    if last is not None and last[0] == layout.anchored and last[1] == layout.hidden_files:
        return last[2]
    data = launcher.encode_mounts(inside_mounts(layout))
    _encoded = (layout.anchored, layout.hidden_files, data)
    return data


def memfd(name: str, data: bytes) -> int:
    """A sealed-enough in-memory file holding ``data``, positioned at 0, inheritable by the child."""
    fd = os.memfd_create(name, 0)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


_git_memo: tuple[object, tuple[list[str], list[Path]]] | None = None  # the last view's git paths


def _git_inputs(spec: SandboxSpec, layout: Layout) -> tuple[list[str], list[Path]]:
    """The paths git must treat as binary, and the hidden files inside ``.git/info``.

    Kept while the hidden dirs and files are the same (equal tuples, mostly of the very objects the
    reused tree part holds, so comparing is an identity check per path): ``git_paths`` costs an
    ``is_dir`` per hidden path (about 20 ms for 5 000), and a hidden path cannot change between file
    and directory without its directory's index entry, and so the layout, changing.
    """
    global _git_memo
    key = (spec.workspace, spec.git_hidden, layout.hidden_dirs, layout.hidden_files)
    memo = _git_memo
    if memo is not None and memo[0] == key:
        return memo[1]
    from codeward.sandbox.gitview import git_paths

    info = str(spec.workspace / ".git" / "info")
    in_info = [h for h in layout.hidden() if str(h).rpartition("/")[0] == info]
    result = (git_paths(spec, layout.hidden()), in_info)
    _git_memo = (key, result)
    return result


_info_memo: tuple[list[str], object, Path | None] | None = None


def _attributes(
    spec: SandboxSpec,
    paths: list[str],
    shown: list[tuple[Path, Path]],
    hidden_in_info: list[Path],
    make: Callable[..., Path | None],
) -> Path | None:
    """``attributes_info``, skipped while its inputs are the same: the very path list, and each
    file in ``.git/info`` with the same inode, size, mtime and ctime (its own key hashes the
    thousands of paths every time)."""
    global _info_memo
    info = spec.workspace / ".git" / "info"
    try:
        files = tuple(
            (e.name, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
            for e in os.scandir(info)
            for st in (e.stat(follow_symlinks=False),)
        )
        dir_st = os.lstat(info)
    except OSError:
        files, dir_st = (), None
    sig = (dir_st and (dir_st.st_ino, dir_st.st_mode, dir_st.st_ctime_ns), files, tuple(shown), tuple(hidden_in_info))
    memo = _info_memo
    if memo is not None and memo[0] is paths and memo[1] == sig and (memo[2] is None or memo[2].is_dir()):
        return memo[2]
    out = make(spec.workspace, paths, shown, hidden_in_info)
    _info_memo = (paths, sig, out)  # the list itself, compared by identity (an id could be reused)
    return out


def git_binds(spec: SandboxSpec, layout: Layout, state: dict[str, Any]) -> list[tuple[str, str]]:
    """The git views bound read-only over ``.git/index``, ``.git/info`` and the object store."""
    from codeward.sandbox.gitview import attributes_info, masked_index, object_binds

    binds: list[tuple[str, str]] = []
    # redacted files too: git would otherwise show each as changed, its diff the old raw lines
    index = masked_index(spec.workspace, [*layout.hidden(), *(h for h, _ in layout.redacted)])
    if index is not None:
        binds.append((str(index), str(spec.workspace / ".git" / "index")))
    paths, hidden_in_info = _git_inputs(spec, layout)
    info_dir = str(spec.workspace / ".git" / "info")
    # attributes_info looks only at the hidden and redacted files directly in .git/info
    shown = [(h, c) for h, c in layout.redacted if str(h).rpartition("/")[0] == info_dir]
    info = _attributes(spec, paths, shown, hidden_in_info, attributes_info)
    if info is not None:
        binds.append((str(info), info_dir))
    binds += object_binds(spec)
    state["git_note"] = spec.git_note() if spec.git_note is not None else None  # a staged view
    return binds


def options_via_fd(full: list[str], command_len: int, fds: list[int], cleanup: contextlib.ExitStack) -> list[str]:
    """Past :data:`ARGS_FD_THRESHOLD`, bwrap's options through a descriptor (no E2BIG with
    thousands of masks); the command stays on argv."""
    if sum(len(x) + 1 for x in full) <= ARGS_FD_THRESHOLD:
        return full
    cut = len(full) - command_len - 1
    options = b"".join(os.fsencode(x) + b"\0" for x in full[1:cut])
    args_fd = memfd("codeward-bwrap-args", options)
    cleanup.callback(os.close, args_fd)
    fds.append(args_fd)
    return [full[0], "--args", str(args_fd), *full[cut:]]
