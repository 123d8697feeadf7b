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


def diagnose(
    cwd: Path, overrides: ConfigOverrides | None = None, *, history_budget_s: float | None = 60.0
) -> list[CheckResult]:
    """Every check's result for a workspace at ``cwd`` (with the command line's ``-c``/``-p``), in order;
    the git-history scan stops after ``history_budget_s`` (None: no limit) and then fails unfinished."""
    from codeward.doctor.checks import run_checks
    from codeward.doctor.gather import gather

    return run_checks(gather(cwd, overrides, history_budget_s=history_budget_s))
