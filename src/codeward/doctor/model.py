"""The data ``codeward doctor`` works on: what was found on this machine, and what each check says.

:class:`DoctorContext` holds facts gathered once by :mod:`codeward.doctor.gather` (the only module
here that touches files, git, the keychain or the sandbox probe). The checks in
:mod:`codeward.doctor.checks` are pure functions of it, so each can be tested with a hand-made
context.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeward.auth.authfile import FileState
from codeward.auth.keychain import Backend
from codeward.auth.login import KeyStatus
from codeward.config.model import Config, PolicyEntry
from codeward.privacy.history_report import HistoryReport

STATUSES = ("pass", "warn", "fail")


@dataclass(frozen=True)
class CheckResult:
    """One line of the checklist (DESIGN §6: ``{"check", "status", "detail", "fix"}``)."""

    check: str
    status: str
    detail: str
    fix: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"bad status {self.status!r}")
        if self.status == "pass" and self.fix is not None:
            object.__setattr__(self, "fix", None)

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check, "status": self.status, "detail": self.detail, "fix": self.fix}


@dataclass(frozen=True)
class CredentialFile:
    """A file in the workspace whose name marks it as a credential (or database) file."""

    path: str
    kind: str
    """The template section that names it: ``credentials``, ``cloud`` or ``databases``."""
    covered_by: str | None
    """The ignore rule that hides it from the agent, or None when nothing does."""


@dataclass(frozen=True)
class TrackedSecret:
    """A file in the git index that is a credential file by name or holds a secret."""

    path: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class SandboxTier:
    tier: str
    available: bool
    reason: str
    gaps: tuple[str, ...] = ()
    fix: str = ""  # what makes an unavailable tier work here (for bwrap: the fix for why it is refused)


@dataclass(frozen=True)
class PathPerm:
    path: Path
    exists: bool
    mode: int | None = None
    loose_children: tuple[str, ...] = ()
    """Files or directories below it that group or others can access."""


@dataclass(frozen=True)
class DoctorContext:
    config: Config
    config_error: str | None
    root: Path
    home: Path
    env: Mapping[str, str]
    ignore_files: tuple[str, ...] = ()
    credential_files: tuple[CredentialFile, ...] = ()
    files_walked_limit_hit: bool = False
    in_git: bool = False
    tracked: tuple[TrackedSecret, ...] = ()
    tracked_scanned: int = 0
    tracked_skipped: int = 0
    tracked_error: str | None = None
    history_hidden: tuple[str, ...] = ()
    """Paths the ignore rules hide that some commit in the history holds (any branch or tag)."""
    history_secrets: HistoryReport | None = None
    """Secrets in the blobs of the object store (counts, rule ids and paths: never a value)."""
    history_error: str | None = None
    auth_file: FileState | None = None
    key: KeyStatus | None = None
    keychain: Backend | None = None
    sandbox: tuple[SandboxTier, ...] = ()
    sandbox_error: str | None = None
    disallow: tuple[PolicyEntry, ...] = ()
    policy_error: str | None = None
    logs: PathPerm | None = None
    home_perm: PathPerm | None = None
    extra: dict[str, Any] = field(default_factory=dict)
