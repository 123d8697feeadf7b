"""``open_project``: the one place a run starts: the config read, the workspace found.

The rest of what a run is made of follows from those two on the :class:`Project` itself, in a
fixed order: the policy (config lists plus every AGENTS.md that applies), then the ignore matcher,
which includes the policy's ``disallow_directories`` so that a directory the policy forbids is
hidden everywhere the ignore rules hide things, then the scanner.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from codeward.project.model import Project

if TYPE_CHECKING:
    from codeward.config.load import ConfigOverrides


def open_project(cwd: Path, overrides: ConfigOverrides | None = None, *, load: bool = True) -> Project:
    """Everything a run in ``cwd`` is made of. Raises ConfigError / UsageError with a one-line message.

    With ``load`` (the default) the policy and the ignore rules are read now, so a broken AGENTS.md
    or ignore file stops the command before it does anything; ``load=False`` leaves them for first
    use (commands that need only the config).
    """
    from codeward.config.load import ConfigOverrides, load_config
    from codeward.home import codeward_home
    from codeward.workspace import Workspace

    overrides = overrides or ConfigOverrides()
    config = load_config(cwd, overrides)
    project = Project(
        config=config,
        overrides=overrides,
        workspace=Workspace.discover(cwd),
        home=codeward_home(),
        mode=config.approval_mode,
    )
    if load:
        project.ignore  # noqa: B018 - reads the policy too
    return project


def open_default_project(cwd: Path) -> Project:
    """``cwd`` under the built-in defaults only, for ``doctor`` when the user's config cannot be loaded."""
    from codeward.config.load import ConfigOverrides, builtin_providers, provider_from_table
    from codeward.config.model import Config
    from codeward.home import codeward_home
    from codeward.workspace import Workspace

    providers = {pid: provider_from_table(pid, t) for pid, t in builtin_providers().items()}
    config = Config(providers=providers)
    return Project(config, ConfigOverrides(), Workspace.discover(cwd), codeward_home(), config.approval_mode)
