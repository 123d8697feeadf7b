"""``open_project``: the one place a run starts: the config read, the workspace found.

The rest of what a run is made of follows from those two on the :class:`Project` itself, in a
fixed order: the policy (config lists plus every AGENTS.md that applies), then the ignore matcher,
which includes the policy's ``disallow_directories`` so that a directory the policy forbids is
hidden everywhere the ignore rules hide things, then the scanner.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from codeward.project.model import Project

if TYPE_CHECKING:
    from codeward.config.load import ConfigOverrides
    from codeward.workspace import Workspace


def open_project(
    cwd: Path, overrides: ConfigOverrides | None = None, *, load: bool = True, workspace: bool = True
) -> Project:
    """Everything a run in ``cwd`` is made of. Raises ConfigError / UsageError with a one-line message.

    The workspace root is chosen by :func:`codeward.workspace.choose_root` from how the user named
    the directory (``overrides.workspace_named`` / ``workspace_explicit``): outside a repository,
    and in ``$HOME`` or ``/``, nothing becomes a workspace unless the user said so
    (:class:`~codeward.workspace.WorkspaceNotChosen`). ``workspace=False`` is for commands that
    read only the user's config and never a workspace file (``login``, ``logs``, ``scan PATH``):
    they get ``cwd`` as a stand-in root instead of the refusal.

    With ``load`` (the default) the policy and the ignore rules are read now, so a broken AGENTS.md
    or ignore file stops the command before it does anything; ``load=False`` leaves them for first
    use (commands that need only the config).
    """
    from codeward.config.load import ConfigOverrides, load_config
    from codeward.home import codeward_home

    overrides = overrides or ConfigOverrides()
    home = codeward_home()
    ws = _workspace(cwd, overrides, home, required=workspace)
    config = load_config(cwd, overrides)
    project = Project(
        config=config,
        overrides=overrides,
        workspace=ws,
        home=home,
        mode=config.approval_mode,
    )
    if load:
        project.ignore  # noqa: B018 - reads the policy too
    return project


def open_default_project(cwd: Path, overrides: ConfigOverrides | None = None) -> Project:
    """``cwd`` under the built-in defaults only, for ``doctor`` when the user's config cannot be loaded.

    The workspace is chosen as :func:`open_project` chooses it (``overrides`` says how the user
    named the directory; nothing else of it is used)."""
    from codeward.config.load import ConfigOverrides, builtin_providers, provider_from_table
    from codeward.config.model import Config
    from codeward.home import codeward_home

    home = codeward_home()
    ws = _workspace(cwd, overrides or ConfigOverrides(), home, required=True)
    providers = {pid: provider_from_table(pid, t) for pid, t in builtin_providers().items()}
    config = Config(providers=providers)
    return Project(config, ConfigOverrides(), ws, home, config.approval_mode)


def _workspace(cwd: Path, overrides: ConfigOverrides, home: Path, *, required: bool) -> Workspace:
    """The run's workspace; refused when the user did not choose it or it lies inside codeward's home
    (a stand-in for the commands that need none, ``required=False``)."""
    from codeward.errors import UsageError
    from codeward.hostprog import guard
    from codeward.workspace import Workspace, WorkspaceNotChosen, too_wide, user_homes

    try:
        ws = Workspace.discover(cwd, named=overrides.workspace_named, explicit=overrides.workspace_explicit)
    except WorkspaceNotChosen:
        if required:
            raise
        cwd = cwd.resolve()
        if not too_wide(cwd, user_homes()):
            guard(cwd)  # an earlier session may have had it as its workspace (``--workspace .``)
        return Workspace(root=cwd, cwd=cwd)
    guard(ws.root)  # commands write here: codeward takes no git or find from a PATH entry inside it
    real_home = home.resolve()
    if (required and _same_dir(ws.root, real_home)) or any(_same_dir(p, real_home) for p in ws.root.parents):
        raise UsageError(
            f"{ws.root} is inside codeward's home {home} (sessions, logs, keys): "
            "run codeward in a project directory, not in its own home"
        )
    return ws


def _same_dir(a: Path, b: Path) -> bool:
    """The same directory by identity (device and inode): the home reached through a bind mount is the home."""
    if a == b:
        return True
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)
