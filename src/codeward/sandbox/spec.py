"""What a sandboxed command may touch, what came back, and the interface every tier implements.

These types are plain data so the agent, the CLI and the tests can build and compare them without
importing any tier. A :class:`SandboxSpec` is the whole policy of one command run; a tier turns it
into mounts (bwrap), Landlock rules plus a seccomp filter, or a Seatbelt profile.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from codeward.errors import UsageError

if TYPE_CHECKING:
    from codeward.dirindex import Classify
    from codeward.sandbox.proxy import Connection

TIERS: tuple[str, ...] = ("bwrap", "landlock", "seatbelt", "none")


@dataclass(frozen=True)
class GitView:
    """The object store a command's git reads instead of the repository's own."""

    objects: Path
    """bubblewrap binds it read-only over ``.git/objects``; the excluded objects are not in it"""
    replace: Path
    """bubblewrap binds it over ``.git/refs/replace``: one ref per excluded object, naming the
    placeholder object (in ``objects``) that stands for it"""


@dataclass(frozen=True)
class NestedGitView:
    """A nested repository's or submodule's view, its real object store, and its ``refs/replace``
    (None when placeholders cannot be bound there)."""

    view: GitView
    store: Path
    replace: Path | None


@dataclass(frozen=True)
class SandboxSpec:
    """The confinement of one command.

    ``workspace`` and ``writable`` are the only places a command may change. ``protected`` paths
    stay read-only inside them (and cannot be created when missing); ``masked`` paths cannot be
    read at all. ``allowed_domains`` with ``network=False`` routes HTTPS through a host-side proxy
    that only lets those hosts through.

    ``workspace_writable`` narrows the workspace (``allow_directories``): ``None`` leaves all of it
    writable; a tuple makes the workspace read-only except those directories (resolved, inside it;
    empty means nothing in it is writable). A command may still run and read anywhere in the
    workspace. ``write_rule`` says where the limit comes from and ``write_skipped`` lists allowed
    directories that could not be made writable (missing, reached through a link); both only
    feed the note the model gets.
    """

    workspace: Path
    cwd: Path
    writable: tuple[Path, ...] = ()
    network: bool = False
    allowed_domains: tuple[str, ...] = ()
    masked: tuple[Path, ...] = ()
    protected: tuple[Path, ...] = ()
    env_passthrough: tuple[str, ...] = ()
    timeout_s: float = 120.0
    output_cap: int = 256 * 1024
    max_file_size: int = 1 << 30
    max_processes: int = 512
    codeward_home: Path | None = None
    workspace_writable: tuple[Path, ...] | None = None
    write_rule: str = ""
    write_skipped: tuple[str, ...] = ()
    # host directories outside the workspace a command may read (``[sandbox] readable_roots``):
    # other projects, /srv, /work, /mnt and the homes are hidden unless listed here
    readable_roots: tuple[Path, ...] = ()
    # files of the workspace that hold secrets, shown to the command as redacted copies: (host file,
    # copy) pairs (:mod:`codeward.sandbox.redacted_view`). bubblewrap binds each copy read-only over
    # its file; Landlock puts it in the file's place while the file is held out of the tree
    redacted: tuple[tuple[Path, Path], ...] = ()
    # repository-relative paths the ignore rules hide that git's history holds: git inside the
    # sandbox treats them as binary (``sandbox/gitview.py``), so an honest ``git log -p`` omits them
    git_hidden: tuple[str, ...] = ()
    # builds, when first asked, the object-store view of the workspace's repository (:class:`GitView`):
    # the store without the blobs that hold secrets or hidden paths; None when nothing needs hiding
    git_view: Callable[[], GitView | None] | None = None
    # (bubblewrap) after ``git_view``: a line for the model when that view is staged (the history
    # scan is not finished, older blobs are absent), else None
    git_note: Callable[[], str | None] | None = None
    # each nested repository's and submodule's view (:class:`NestedGitView`): the same view
    # ``git_view`` gives the workspace's
    git_nested_views: Callable[[], Sequence[NestedGitView]] | None = None
    # the ignore rules (``hides`` and ``key``), to judge names that appear in the workspace while a
    # command runs (:mod:`codeward.sandbox.new_names`); None: no such watch
    ignore_rules: Classify | None = None

    def roots(self) -> tuple[Path, ...]:
        """The workspace followed by the extra writable directories: the trees a command works in."""
        return _unique((self.workspace, *self.writable))

    def writable_roots(self) -> tuple[Path, ...]:
        """Where a command may write: the workspace (or only its allowed directories) and the extra dirs."""
        inside = (self.workspace,) if self.workspace_writable is None else self.workspace_writable
        return _unique((*inside, *self.writable))

    def readonly_roots(self) -> tuple[Path, ...]:
        """Trees a command sees but may not write as a whole: the workspace, when allow_directories narrows it."""
        return () if self.workspace_writable is None else (self.workspace,)

    def home_dir(self) -> Path:
        """The codeward home to hide from commands (the configured one when not given)."""
        if self.codeward_home is not None:
            return self.codeward_home
        from codeward.home import codeward_home

        return codeward_home()


@dataclass
class CommandResult:
    """How a command ended. ``note`` is one line for the model when the sandbox blocked something."""

    exit_code: int | None
    output: str
    truncated: bool
    timed_out: bool
    duration_ms: float
    tier: str
    note: str | None = None
    # bubblewrap: hidden or redacted paths the host replaced while the command ran (it was stopped,
    # its output withheld); what it wrote meanwhile may hold what it read unmasked
    host_changed: tuple[str, ...] = ()


@dataclass(frozen=True)
class TierStatus:
    """One tier as ``codeward doctor`` shows it: usable here or not, why, and what it cannot do."""

    tier: str
    available: bool
    reason: str
    gaps: tuple[str, ...] = ()
    detail: str = ""


class Sandbox(Protocol):
    """A way to run a command confined by a :class:`SandboxSpec`."""

    tier: str
    shares_host_tmp: bool
    """Whether a command writes the host's temporary directories (``/tmp``, ``$TMPDIR``) rather than
    its own: where else it could have linked a workspace file (:mod:`codeward.privacy.link_names`)."""

    def run(
        self,
        argv: Sequence[str],
        spec: SandboxSpec,
        *,
        on_output: Callable[[str], None] | None = None,
        on_connection: Callable[[Connection], None] | None = None,
    ) -> CommandResult: ...


def is_within(path: Path, root: Path) -> bool:
    """True when ``path`` is ``root`` or lies below it (lexically; both should be resolved).

    String comparison rather than ``Path.parents``: this runs thousands of times per command.
    """
    p, r = str(path), str(root)
    if p == r or r == "/":
        return True
    return p.startswith(r) and p[len(r)] == "/"


def same_paths(a: Sequence[Path], b: Sequence[Path]) -> bool:
    """Whether two path lists are equal, cheaply when they hold mostly the same objects (a view
    reused from one command to the next): only the positions where the objects differ are compared."""
    if len(a) != len(b):
        return False
    return all(a[i] == b[i] for i in itertools.compress(range(len(a)), map(operator.is_not, a, b)))


_cwd_checked: tuple[Sequence[Path], Path] | None = None  # the masks and cwd last found not to hide the cwd


def validate_spec(spec: SandboxSpec, argv: Sequence[str]) -> None:
    """Refuse specs no tier should try to honour, with a message that says what to change.

    Every tier calls this first, so a bad spec fails the same way whatever runs it.
    """
    if not argv or not all(isinstance(a, str) for a in argv):
        raise UsageError("sandbox: the command is empty; give a program and its arguments")
    if any("\x00" in a for a in argv):
        raise UsageError("sandbox: a command argument contains a NUL byte")
    roots = spec.roots()
    for r in roots:
        if not r.is_absolute():
            raise UsageError(f"sandbox: writable directory {r} must be an absolute path")
        if r == Path("/"):
            raise UsageError("sandbox: / cannot be writable; choose a project directory")
        if not r.is_dir():
            raise UsageError(f"sandbox: writable directory {r} does not exist or is not a directory")
        if r.resolve() != r:
            raise UsageError(f"sandbox: writable directory {r} must be given resolved (it leads to {r.resolve()})")
    for home in host_homes():
        for r in roots:
            if is_within(home, r):
                raise UsageError(
                    f"sandbox: {r} contains the home directory {home}, whose keys and dotfiles commands must "
                    "not see; run in a project directory instead"
                )
    for r in spec.readable_roots:
        if not r.is_absolute() or r.resolve() != r:
            raise UsageError(f"sandbox: readable directory {r} must be an absolute path, given resolved")
        if r == Path("/"):
            raise UsageError("sandbox: / cannot be a readable root; list the directories commands need")
    if spec.workspace_writable is not None:
        _validate_narrowing(spec)
    if not spec.cwd.is_absolute() or not any(is_within(spec.cwd, r) for r in roots):
        raise UsageError(f"sandbox: the working directory {spec.cwd} is outside the workspace {spec.workspace}")
    global _cwd_checked
    if _cwd_checked is None or _cwd_checked[1] != spec.cwd or not same_paths(spec.masked, _cwd_checked[0]):
        above = {str(spec.cwd), *map(str, spec.cwd.parents)}  # a mask over the cwd is one of these (thousands of masks)
        for m in spec.masked:
            if str(m) in above:
                raise UsageError(f"sandbox: the working directory {spec.cwd} is hidden from commands (ignored: {m})")
        _cwd_checked = (spec.masked, spec.cwd)
    if spec.timeout_s <= 0:
        raise UsageError("sandbox: timeout must be positive")
    if spec.output_cap < 1024:
        raise UsageError("sandbox: output cap must be at least 1024 bytes")
    if spec.max_processes < 1 or spec.max_file_size < 1:
        raise UsageError("sandbox: process and file-size limits must be positive")


def _unique(paths: Sequence[Path]) -> tuple[Path, ...]:
    out: list[Path] = []
    for p in paths:
        if p not in out:
            out.append(p)
    return tuple(out)


def _validate_narrowing(spec: SandboxSpec) -> None:
    """Each allowed directory must be a real directory of the workspace, neither hidden nor protected.

    Checked here as well as where the spec is built, so that no spec can widen anything: a
    writable ``.git/hooks`` would let a command plant a hook, a writable hidden directory would be
    shown again by a Landlock grant, and an extra writable directory holding the whole workspace
    would undo the narrowing.
    """
    assert spec.workspace_writable is not None
    for d in spec.workspace_writable:
        if not d.is_absolute() or not d.is_dir() or d.resolve() != d:
            raise UsageError(f"sandbox: allowed directory {d} must be an existing directory, given resolved")
        if not is_within(d, spec.workspace):
            raise UsageError(f"sandbox: allowed directory {d} is outside the workspace {spec.workspace}")
        for m in spec.masked:
            if is_within(d, m):
                raise UsageError(f"sandbox: allowed directory {d} is hidden from commands (ignored: {m})")
        for p in spec.protected:
            if is_within(d, p):
                raise UsageError(f"sandbox: allowed directory {d} lies in the protected path {p}")
    for w in spec.writable:
        if is_within(spec.workspace, w):
            raise UsageError(
                f"sandbox: writable directory {w} contains the workspace, where allow_directories limits writes; "
                "give a directory outside the workspace"
            )


def host_homes() -> list[Path]:
    """The user's home directories: ``$HOME`` and the account's home from the password database."""
    import os

    out: list[Path] = []
    env = os.environ.get("HOME")
    if env and os.path.isabs(env):
        out.append(Path(env).resolve())
    try:
        import pwd

        pw = Path(pwd.getpwuid(os.getuid()).pw_dir).resolve()
        if pw != Path("/") and pw not in out:
            out.append(pw)
    except (KeyError, ImportError):
        pass
    return [h for h in out if h != Path("/")]
