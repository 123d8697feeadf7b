"""Options shared by the interactive session and ``exec`` (DESIGN §6), built from the CLI spec."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from codeward.cli.catalog import COMMON_OPTIONS
from codeward.modes import APPROVAL_MODES

if TYPE_CHECKING:
    from codeward.project import Project


@dataclass(frozen=True)
class RunOptions:
    """What the command line says about a run; merged with the config files by ``load_config``."""

    approval_mode: str | None = None
    model: str | None = None
    provider: str | None = None
    profile: str | None = None
    config: tuple[str, ...] = field(default_factory=tuple)
    cd: Path | None = None
    workspace: Path | None = None  # --workspace DIR: DIR is the workspace even outside a repository
    allow_network: bool = False

    def over(self, outer: RunOptions | None) -> RunOptions:
        """These options on top of ``outer`` (the group's): set values here win, ``-c`` flags add up."""
        if outer is None:
            return self
        return replace(
            outer,
            approval_mode=self.approval_mode or outer.approval_mode,
            model=self.model or outer.model,
            provider=self.provider or outer.provider,
            profile=self.profile or outer.profile,
            config=(*outer.config, *self.config),
            cd=self.cd or outer.cd,
            workspace=self.workspace or outer.workspace,
            allow_network=self.allow_network or outer.allow_network,
        )

    def workdir(self) -> Path:
        """The directory the run starts in: ``--workspace DIR``, ``-C DIR`` or the current one.

        Both flags at once must name the same directory (else a one-line usage error)."""
        from codeward.errors import UsageError

        if self.workspace is not None and self.cd is not None and self.workspace.resolve() != self.cd.resolve():
            raise UsageError(
                f"-C {self.cd} and --workspace {self.workspace} name different directories: give one of them"
            )
        return (self.workspace or self.cd or Path.cwd()).resolve()

    def confirmed(self, directory: Path) -> RunOptions:
        """These options with ``directory`` accepted as the workspace (the session's "y" answer)."""
        return replace(self, workspace=directory, cd=None)

    def overrides(self) -> Any:
        from codeward.config.load import ConfigOverrides

        return ConfigOverrides(
            profile=self.profile,
            dotted=self.config,
            provider=self.provider,
            model=self.model,
            approval_mode=self.approval_mode,
            allow_network=self.allow_network,
            workspace_named=self.cd is not None or self.workspace is not None,
            workspace_explicit=self.workspace is not None,
        )


def existing_dir(ctx: click.Context, param: click.Parameter, value: str | None) -> Path | None:
    """Click callback for directory options (-C/--cd, --writable): must exist; returned resolved."""
    if value is None:
        return None
    p = Path(value).expanduser()
    if not p.is_dir():
        raise click.BadParameter(f"{value}: no such directory", ctx=ctx, param=param)
    return p.resolve()


WORKSPACE_META = "codeward.workspace"


def _remember_workspace(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    d = existing_dir(ctx, param, value)
    if d is not None:
        ctx.meta[WORKSPACE_META] = d


def workspace_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--workspace DIR`` for a command with its own ``-C`` (preview, doctor, ...): the value reaches
    :func:`run_options` through the context, so the command's signature does not change."""
    return click.option(
        "--workspace",
        metavar="DIR",
        callback=_remember_workspace,
        expose_value=False,
        help="Use DIR as the workspace even outside a git repository (the only way to use $HOME or /).",
    )(f)


def common_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a command with the options of :data:`codeward.cli.catalog.COMMON_OPTIONS`."""
    for flags, dest, metavar, help_ in reversed(COMMON_OPTIONS):
        kwargs: dict[str, Any] = {"help": help_}
        if metavar is None:
            kwargs["is_flag"] = True
        else:
            kwargs["metavar"] = metavar
        if dest == "approval_mode":
            kwargs["type"] = click.Choice(APPROVAL_MODES)
        elif dest == "config_flags":
            kwargs["multiple"] = True
        elif dest in ("cd", "workspace"):
            kwargs["callback"] = existing_dir
        f = click.option(*flags, dest, **kwargs)(f)
    return f


def options_from_params(params: dict[str, Any]) -> RunOptions:
    """Pop the common options out of a command's keyword arguments."""
    return RunOptions(
        approval_mode=params.pop("approval_mode", None),
        model=params.pop("model", None),
        provider=params.pop("provider", None),
        profile=params.pop("profile", None),
        config=tuple(params.pop("config_flags", ()) or ()),
        cd=params.pop("cd", None),
        workspace=params.pop("workspace", None),
        allow_network=bool(params.pop("allow_network", False)),
    )


def project_for(
    ctx: click.Context | None, mine: RunOptions | None = None, *, load: bool = True, workspace: bool = True
) -> Project:
    """Open the run's :class:`Project` from this command's options over the group's (``codeward -c k=v CMD``).

    Every command that reads config, policy or ignore rules starts here, so ``-c``, ``-p``, ``-C``
    and ``--workspace`` mean the same thing for all of them. ``workspace=False`` for commands that
    read no workspace file (they are not refused outside a repository; see ``open_project``).
    """
    from codeward.project import open_project

    opts = run_options(ctx, mine)
    return open_project(opts.workdir(), opts.overrides(), load=load, workspace=workspace)


def run_options(ctx: click.Context | None = None, mine: RunOptions | None = None) -> RunOptions:
    """This command's options over the group's: ``codeward -c k=v doctor -C DIR`` gets both."""
    ctx = ctx or click.get_current_context(silent=True)
    outer = ctx.find_object(RunOptions) if ctx is not None else None
    opts = (mine or RunOptions()).over(outer if isinstance(outer, RunOptions) else None)
    chosen = ctx.meta.get(WORKSPACE_META) if ctx is not None else None
    return replace(opts, workspace=chosen) if isinstance(chosen, Path) else opts
