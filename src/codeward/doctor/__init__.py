"""``codeward doctor``: the seed guide's security checklist as checks with pass / warn / fail and a fix.

:func:`codeward.doctor.gather.gather` collects the facts (the only I/O), and the pure functions of
:mod:`codeward.doctor.checks` judge them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from codeward.config.load import ConfigOverrides
    from codeward.doctor.model import CheckResult

__all__ = ["diagnose"]


def diagnose(cwd: Path, overrides: ConfigOverrides | None = None) -> list[CheckResult]:
    """Every check's result for a workspace at ``cwd`` (config read with ``overrides``), in checklist order."""
    from codeward.doctor.checks import run_checks
    from codeward.doctor.gather import gather

    return run_checks(gather(cwd, overrides=overrides))
