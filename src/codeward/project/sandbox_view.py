"""The one place a :class:`Project` becomes a :class:`SandboxSpec`, for the agent and ``codeward sandbox`` alike."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from codeward.errors import SandboxUnavailable, UsageError
from codeward.project.view_index import workspace_view
from codeward.project.write_scope import write_scope
from codeward.sandbox.spec import GitView, NestedGitView, SandboxSpec, is_within

if TYPE_CHECKING:
    from codeward.config.model import Config
    from codeward.policy import Policy
    from codeward.privacy.ignore import IgnoreMatcher
    from codeward.privacy.scanner import Scanner
    from codeward.workspace import Workspace


class ProjectParts(Protocol):
    """What the spec is built from (a :class:`~codeward.project.model.Project` has all of it)."""

    @property
    def workspace(self) -> Workspace: ...
    @property
    def config(self) -> Config: ...
    @property
    def home(self) -> Path: ...
    @property
    def policy(self) -> Policy: ...
    @property
    def ignore(self) -> IgnoreMatcher: ...
    @property
    def scanner(self) -> Scanner: ...


def _dir(raw: str | Path, what: str) -> Path:
    p = Path(raw).expanduser()
    if not p.is_absolute():
        raise UsageError(f"{what} {raw}: use an absolute path")
    if not p.is_dir():
        raise UsageError(f"{what} {raw}: no such directory")
    return p.resolve()


GIT_KEY_STORES = ("lfs", "git-crypt")
"""What a git directory keeps that no view of its object store covers: Git LFS's copies of the
large files (``lfs/objects``, content of files the ignore rules may hide, never scanned) and
git-crypt's keys (``git-crypt/keys``, binary, which decrypt every encrypted file of the repository).
Hidden from commands; ``git lfs`` and ``git-crypt`` then fail inside the sandbox."""


def git_key_stores(root: Path, ws: Workspace, protected: Sequence[Path]) -> list[Path]:
    """:data:`GIT_KEY_STORES` of every git directory of the workspace, where they exist: its
    repository's, every nested repository's, and each one's submodules and worktrees at any depth
    (``.git/modules/libs/foo``, a nested repository's own submodules: red team rt6). ``protected``:
    the workspace's protected paths, as the view just read them."""
    from codeward.gitfiles import inner_git_dirs
    from codeward.privacy.history_secrets import nested_repositories

    tops = [root / ".git", *(r / ".git" for r in nested_repositories(ws, protected=protected))]
    git_dirs: list[Path] = []
    for g in tops:
        if g.is_dir() and not g.is_symlink():
            git_dirs += [g, *inner_git_dirs(g)]
    return [g / name for g in git_dirs for name in GIT_KEY_STORES if os.path.lexists(g / name)]


def unviewed_git_stores(root: Path, protected: Sequence[Path]) -> list[Path]:
    """The object stores of the workspace's git directories that no object-store view covers, to
    be hidden whole. A view is built for a ``.git`` directory at the root (:func:`object_view`) and
    for the stores nested ``.git`` pointer files and directories name (:func:`nested_stores`); any
    other store's history, secrets and hidden files' old contents included, would be readable raw:

    * a bare repository inside the workspace (``git clone --bare . backup.git`` made on the host),
      and the workspace itself when it is one;
    * the store a root ``.git`` link, or a root ``.git`` pointer file, leads to (``--separate-git-dir``,
      the ``.bare`` layout before a worktree exists), unless a nested worktree's view covers it;
    * what ``git submodule deinit`` or ``git rm`` of a submodule left in ``.git/modules``.

    git on them then fails inside the sandbox (missing objects); their key stores go too (red team rt8)."""
    from codeward.gitfiles import inner_git_dirs
    from codeward.workspace import git_pointer_target

    def real(p: Path) -> str:
        return os.path.realpath(p)

    inside_git = root / ".git"
    pointers = [p for p in protected if p.name == ".git" and p.is_file()]
    pointed = {real(t) for p in pointers if p != inside_git for t in [git_pointer_target(p)] if t}
    stores: list[Path] = []

    def is_store(p: Path) -> bool:
        return os.path.lexists(p / "HEAD") and (p / "objects").is_dir() and not p.is_symlink()

    for p in protected:
        if p.name == ".git" or p == inside_git or inside_git in p.parents or real(p) in pointed:
            continue
        if p.is_dir() and is_store(p) and not (inside_git.is_file() and git_pointer_target(inside_git) == p):
            stores.append(p)  # a bare repository
    if is_store(root) and (root / "refs").is_dir():
        stores.append(root)  # the workspace is a bare repository
    if inside_git.is_symlink() and inside_git.is_dir():
        stores.append(inside_git.resolve())
    elif inside_git.is_file():
        target = git_pointer_target(inside_git)
        covered = target is not None and any(t == real(target) or t.startswith(real(target) + "/") for t in pointed)
        if target is not None and not covered and is_store(target):
            stores.append(target)
    elif inside_git.is_dir() and not inside_git.is_symlink():
        stores += [g for g in inner_git_dirs(inside_git) if real(g) not in pointed]  # left by deinit or rm
    return [g / name for g in stores for name in ("objects", *GIT_KEY_STORES) if os.path.lexists(g / name)]


def spec_for_project(
    project: ProjectParts,
    *,
    writable: Sequence[str | Path] = (),
    network: bool | None = None,
) -> SandboxSpec:
    """The sandbox for commands in a project (its workspace, config, home, policy and ignore matcher).

    Hidden paths come from the project's ignore matcher (which holds ``disallow_directories``),
    writable parts of the workspace from its policy's ``allow_directories``
    (:mod:`codeward.project.write_scope`). ``network`` overrides ``[sandbox] network``.
    """
    from codeward.privacy.history import hidden_history_paths
    from codeward.privacy.history_view import object_view, view_note
    from codeward.sandbox.env import check_passthrough

    ws, cfg, home, policy = project.workspace, project.config, project.home, project.policy
    sb = cfg.sandbox
    extra: list[Path] = []
    extra += [_dir(r, "[sandbox] writable_roots:") for r in sb.writable_roots]
    extra += [_dir(w, "--writable") for w in writable]
    keys = {p.env_key for p in cfg.providers.values() if p.env_key}
    check_passthrough(sb.env_passthrough, extra_keys=keys)
    root = ws.root.resolve()
    view = workspace_view(ws, home, project.ignore)  # kept current by the directory index, not a walk
    masked = list(view.masked)
    masked += git_key_stores(root, ws, view.protected)
    masked += unviewed_git_stores(root, view.protected)
    if cfg.audit.dir and Path(cfg.audit.dir).expanduser().is_absolute():
        masked.append(Path(cfg.audit.dir).expanduser().resolve())  # an audit log kept outside the home
    protected = view.protected

    # views are made where no command can write: in the codeward home (hidden from commands in every
    # tier), the temporary directory only when the home lies in the workspace (held out with it)
    scratch = None if is_within(home.resolve(), root) else home / "run"

    def git_view() -> GitView | None:
        view = object_view(root, project.scanner, project.ignore, home / "cache", scratch=scratch)
        return GitView(view.objects, view.replace) if view is not None else None

    def git_nested_views() -> list[NestedGitView]:
        from codeward.privacy.history import HistoryError
        from codeward.privacy.history_secrets import nested_repositories
        from codeward.privacy.history_view import nested_stores

        try:
            repos = nested_repositories(ws, refresh=False)  # called at launch, after the census's refresh
            found = nested_stores(root, repos, tuple(masked), project.scanner, project.ignore, home / "cache", scratch)
        except HistoryError as e:
            raise SandboxUnavailable(f"sandbox: {e}") from None
        return [NestedGitView(GitView(n.view.objects, n.view.replace), n.store, n.replace) for n in found]

    scope = write_scope(root, policy.allow_directories, masked=masked, protected=protected)
    return SandboxSpec(
        workspace=root,
        cwd=ws.cwd.resolve(),
        writable=tuple(p for p in dict.fromkeys(extra) if p != root),
        network=sb.network if network is None else network,
        allowed_domains=tuple(sb.allowed_domains),
        masked=tuple(masked),
        protected=protected,
        env_passthrough=tuple(sb.env_passthrough),
        timeout_s=sb.timeout_ms / 1000,
        output_cap=sb.output_cap_bytes,
        max_file_size=sb.max_file_size_bytes,
        max_processes=sb.max_processes,
        codeward_home=home,
        workspace_writable=scope.dirs,
        write_rule=scope.rule,
        write_skipped=scope.skipped,
        readable_roots=tuple(dict.fromkeys(_dir(r, "[sandbox] readable_roots:") for r in sb.readable_roots)),
        git_hidden=hidden_history_paths(root, project.ignore, home / "cache"),
        git_view=git_view,
        git_note=lambda: view_note(root),
        git_nested_views=git_nested_views,
        ignore_rules=project.ignore,
    )
