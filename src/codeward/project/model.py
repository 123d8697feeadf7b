"""What one run is made of, built once by :func:`codeward.project.open_project` and passed down.

Like pre-commit's ``Store`` and black's frozen ``Mode``: every command and the session take a
:class:`Project` and read config, workspace, policy, ignore rules and scanner from it; nothing
else re-reads config.toml, AGENTS.md or ignore files. A change in the middle of a session (``/mode``,
a patch to an ignore file) makes a new Project through one of the derivations below, never a
hand-rebuilt subset, so changing the mode can never change what is hidden.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from codeward.modes import Mode

if TYPE_CHECKING:
    from codeward.config.load import ConfigOverrides
    from codeward.config.model import Config, SandboxConfig
    from codeward.policy import Policy
    from codeward.privacy.ignore import IgnoreMatcher
    from codeward.privacy.scanner import Scanner
    from codeward.sandbox import Sandbox, SandboxSpec
    from codeward.workspace import Workspace


def network_state(sandbox: SandboxConfig) -> str:
    """``off``, ``on`` or ``only a.com, b.org`` for a ``[sandbox]`` table (status line, preamble, doctor)."""
    if sandbox.network:
        return "on"
    if sandbox.allowed_domains:
        return "only " + ", ".join(sandbox.allowed_domains)
    return "off"


@dataclass(frozen=True, eq=False)
class Project:
    """The effective config, the workspace, the home, the merged policy and the ignore matcher.

    ``mode`` is the run's approval mode: the one value every part of a run reads (the config's
    ``approval_mode`` is only where it started). The policy, the ignore matcher and the scanner are
    computed once, on first use, so a command that needs only the config (``login``, ``logs``)
    does not walk the repository or compile rules; derivations carry them over unchanged.
    """

    config: Config
    overrides: ConfigOverrides
    workspace: Workspace
    home: Path
    mode: Mode

    # -- derived, computed once --------------------------------------------------------------

    @cached_property
    def policy(self) -> Policy:
        """The config's ``[policy]`` lists plus every AGENTS.md that applies (raises ConfigError)."""
        from codeward.policy import load_policy

        return load_policy(self.workspace, self.config, self.home)

    @cached_property
    def ignore(self) -> IgnoreMatcher:
        """Ignore files, the global rules, the built-ins, the policy's ``disallow_directories`` and, when
        the workspace contains it, codeward's own home (hidden from every tool and command)."""
        from codeward.home import HOME_RULE_SOURCE, home_patterns
        from codeward.privacy.ignore import load_ignore

        disallow = [(e.pattern, e.source, e.user_owned) for e in self.policy.disallow_directories]
        own = [(p, HOME_RULE_SOURCE) for p in home_patterns(self.workspace.root, self.home)]
        return load_ignore(self.workspace, self.home, disallow, own)

    @cached_property
    def protected(self) -> frozenset[str]:
        """Workspace-relative protected paths (every AGENTS.md, ignore file, ``.git``, ``.codeward``, and
        what git config makes git run or read), for edits; the sandbox computes its own per command."""
        root = self.workspace.root
        out = set()
        for p in self.workspace.protected_paths():
            try:
                out.add(p.relative_to(root).as_posix())
            except ValueError:
                continue  # a git dir named by a pointer file outside the workspace
        return frozenset(out)

    @cached_property
    def scanner(self) -> Scanner:
        """The secret scanner: built-in rules plus ``[privacy] rules`` files, PII and allowlist."""
        return self.make_scanner()

    def make_scanner(self, *, extra_rules: Sequence[Path] = (), redact_pii: bool | None = None) -> Scanner:
        """A scanner on this project's rules plus ``extra_rules`` (``scan --rules``); PII as configured
        unless ``redact_pii`` says otherwise (``doctor`` looks for secrets only)."""
        from codeward.privacy.scanner import load_scanner

        return load_scanner(
            rule_files=(*self.rule_files, *extra_rules),
            redact_pii=self.config.privacy.redact_pii if redact_pii is None else redact_pii,
            allowlist=tuple(self.config.privacy.allowlist),
        )

    @property
    def rule_files(self) -> tuple[Path, ...]:
        """``[privacy] rules`` as absolute paths (``~`` expanded; relative ones from the cwd)."""
        out = []
        for r in self.config.privacy.rules:
            p = Path(r).expanduser()
            out.append(p if p.is_absolute() else self.workspace.cwd / p)
        return tuple(out)

    @property
    def network(self) -> str:
        """What sandboxed commands may reach: ``off``, ``on`` or ``only a.com, b.org``."""
        return network_state(self.config.sandbox)

    def hidden(self, path: Path) -> bool:
        """True when the ignore rules (files, built-ins, ``disallow_directories``) hide ``path``."""
        return self.ignore.match_path(path) is not None

    # -- the sandbox -------------------------------------------------------------------------

    def sandbox_spec(self, *, writable: Sequence[str | Path] = (), network: bool | None = None) -> SandboxSpec:
        """What the sandbox must enforce for a command in this project."""
        from codeward.hostprog import guard, own_install_guarded
        from codeward.project.sandbox_view import spec_for_project

        spec = spec_for_project(self, writable=writable, network=network)
        guard(*spec.writable)  # commands write there too: no host program is taken from it
        inside = own_install_guarded()
        if inside is not None:
            from codeward.errors import SandboxUnavailable

            raise SandboxUnavailable(
                f"sandbox: codeward itself is installed where commands may write ({inside}): a command could "
                "rewrite the code codeward runs outside the sandbox; install it outside the workspace "
                "(scripts/install, pipx install or uv tool install) and run that one"
            )
        return spec

    def select_sandbox(self, *, allow_unsandboxed: bool = False, hold_view: bool = True) -> Sandbox:
        """The strongest tier the config allows here (raises SandboxUnavailable when none); see
        :func:`codeward.sandbox.tiers.select_sandbox` for ``hold_view``."""
        from codeward.sandbox import select_sandbox

        sb = self.config.sandbox
        return select_sandbox(
            sb.tier, allow_unsandboxed=allow_unsandboxed or sb.unsafe_allow_unsandboxed, hold_view=hold_view
        )

    def sandbox_tier(self) -> str:
        """The tier commands will run under, or ``unavailable: <why>`` (commands are then refused)."""
        from codeward.errors import SandboxUnavailable

        try:
            return self.select_sandbox().tier
        except SandboxUnavailable as e:
            return f"unavailable: {e.message}"

    # -- derivations -------------------------------------------------------------------------

    def with_mode(self, mode: Mode) -> Project:
        """The same project under another approval mode: policy, hidden paths and scanner are the same objects."""
        return self._derive(dataclasses.replace(self, mode=mode), keep=_COMPUTED)

    def with_model(self, model: str) -> Project:
        """The same project talking to another model (``/model``); nothing hidden or allowed changes."""
        config = dataclasses.replace(self.config, model=model)
        return self._derive(dataclasses.replace(self, config=config), keep=_COMPUTED)

    def with_ignore_reloaded(self) -> Project:
        """The same project after an ignore file changed: the rules are read again, by the same code."""
        return self._derive(dataclasses.replace(self), keep=("policy", "scanner"))

    def with_policy(self, policy: Policy) -> Project:
        """The same project judged by ``policy`` (``doctor``'s fallback when an AGENTS.md cannot be read)."""
        new = self._derive(dataclasses.replace(self), keep=("scanner",))
        new.__dict__["policy"] = policy
        return new

    def _derive(self, new: Project, keep: tuple[str, ...]) -> Project:
        for name in keep:
            if name in self.__dict__:
                new.__dict__[name] = self.__dict__[name]
        return new


_COMPUTED = ("policy", "ignore", "scanner", "protected")
