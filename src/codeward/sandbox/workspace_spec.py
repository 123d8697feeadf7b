"""The one place a workspace and a config become a :class:`SandboxSpec`, for the agent and ``codeward sandbox`` alike."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codeward.config.model import Config
from codeward.errors import UsageError
from codeward.sandbox.allowdirs import write_scope
from codeward.sandbox.spec import SandboxSpec
from codeward.workspace import Workspace


def _dir(raw: str | Path, what: str) -> Path:
    p = Path(raw).expanduser()
    if not p.is_absolute():
        raise UsageError(f"{what} {raw}: use an absolute path")
    if not p.is_dir():
        raise UsageError(f"{what} {raw}: no such directory")
    return p.resolve()


def spec_for_workspace(
    ws: Workspace,
    cfg: Config,
    *,
    writable: Sequence[str | Path] = (),
    network: bool | None = None,
    ignore: Any = None,
    home: Path | None = None,
    policy: Any = None,
) -> SandboxSpec:
    """The sandbox for commands in ``ws`` under ``cfg``.

    ``ignore`` is the session's :class:`~codeward.privacy.ignore.IgnoreMatcher` when the caller has
    one (it already holds the merged ``disallow_directories``); otherwise it is loaded here from
    the policy (AGENTS.md and config). ``policy`` is the merged :class:`~codeward.policy.Policy`
    when the caller has it; otherwise it is loaded here (about 0.1 ms), because its
    ``allow_directories`` decide which parts of the workspace are writable
    (:mod:`codeward.sandbox.allowdirs`). ``network`` overrides ``[sandbox] network``.
    """
    from codeward.config.home import codeward_home
    from codeward.sandbox.env import check_passthrough

    home = home or codeward_home()
    sb = cfg.sandbox
    if policy is None:
        from codeward.policy import load_policy

        policy = load_policy(ws, cfg, home)
    if ignore is None:
        from codeward.privacy.ignore import load_ignore

        ignore = load_ignore(ws, home, [(e.pattern, e.source, e.user_owned) for e in policy.disallow_directories])
    extra: list[Path] = []
    extra += [_dir(r, "[sandbox] writable_roots:") for r in sb.writable_roots]
    extra += [_dir(w, "--writable") for w in writable]
    keys = {p.env_key for p in cfg.providers.values() if p.env_key}
    check_passthrough(sb.env_passthrough, extra_keys=keys)
    root = ws.root.resolve()
    masked = list(ignore.masked_paths())
    if cfg.audit.dir and Path(cfg.audit.dir).expanduser().is_absolute():
        masked.append(Path(cfg.audit.dir).expanduser().resolve())  # an audit log kept outside the home
    protected = tuple(ws.protected_paths())
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
    )
