"""Bubblewrap installed but refused: the cause is named and its fix printed, not "install bubblewrap".

:func:`diagnose` is a pure function of the probed facts, tested per cause. The real probe is run
for real where this machine can reproduce a refusal: inside the Landlock tier, whose seccomp filter
refuses ``unshare(CLONE_NEWUSER)``, codeward's own bwrap probe must fail and say why.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from tests.support.sandbox_helpers import Project

from codeward.sandbox import bwrap_diag
from codeward.sandbox.bwrap_diag import Facts, diagnose

BASE = Facts(bwrap_path="/usr/bin/bwrap", bwrap_error="setting up uid map: Permission denied", euid=1000)
SRC = Path(bwrap_diag.__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("facts", "cause", "fix"),
    [
        (replace(BASE, max_user_namespaces="0"), "user.max_user_namespaces=0", "user.max_user_namespaces=15000"),
        (
            replace(BASE, unprivileged_userns_clone="0", unshare_errno=errno.EPERM),
            "kernel.unprivileged_userns_clone=0",
            "chmod u+s /usr/bin/bwrap",
        ),
        (
            replace(BASE, apparmor_restrict="1", unshare_errno=errno.EACCES),
            "AppArmor restricts",
            "apparmor_parser -r",
        ),
        (replace(BASE, unshare_errno=errno.ENOSPC), "limit on user namespaces is reached", "max_user_namespaces"),
        (
            replace(BASE, container="Docker", unshare_errno=errno.EPERM, seccomp_mode=2),
            "Docker container refuses new namespaces (this process runs under a seccomp filter)",
            "--security-opt seccomp=unconfined",
        ),
        (
            replace(BASE, unshare_errno=errno.EPERM, seccomp_mode=2),
            "a seccomp filter on this process refuses unshare",
            "Landlock tier",
        ),
        (
            replace(BASE, container="Podman", unshare_errno=0, bwrap_error="Can't mount proc on /newroot/proc"),
            "does not let bwrap mount a new /proc",
            "systempaths=unconfined",
        ),
        (replace(BASE, unshare_errno=errno.EPERM), "does not let unprivileged users", "chmod u+s"),
        (replace(BASE, unshare_errno=0), "bwrap fails here: setting up uid map", "user namespaces work here"),
    ],
)
def test_each_cause_gets_its_own_fix(facts: Facts, cause: str, fix: str) -> None:
    d = diagnose(facts)
    assert cause in d.cause and fix in d.fix
    assert "install bubblewrap" not in (d.cause + d.fix).lower()


def test_switches_that_do_not_apply_are_ignored() -> None:
    # root is not subject to the unprivileged switches; a setuid bwrap does not need them
    assert "AppArmor" not in diagnose(replace(BASE, apparmor_restrict="1", unshare_errno=0, euid=0)).cause
    setuid = replace(BASE, unprivileged_userns_clone="0", bwrap_setuid=True, unshare_errno=0)
    assert "unprivileged_userns_clone" not in diagnose(setuid).cause
    # AppArmor's switch on, but namespaces do work (bwrap has a profile): the cause is elsewhere
    assert "AppArmor" not in diagnose(replace(BASE, apparmor_restrict="1", unshare_errno=0)).cause


def test_seccomp_mode_parses_proc_status() -> None:
    assert bwrap_diag.seccomp_mode("Name:\tx\nSeccomp:\t2\nSeccomp_filters:\t1\n") == 2
    assert bwrap_diag.seccomp_mode("Name:\tx\n") == 0


def test_real_unshare_probe_works_here() -> None:
    """On this host user namespaces work for this user (the bwrap tier runs), and the probe says so."""
    from codeward.sandbox.tiers import HostProber

    if not HostProber().bwrap().available:
        pytest.skip("bubblewrap does not run here, so the working case cannot be observed")
    assert bwrap_diag.unshare_errno() == 0


PROBE = """
import json, sys
sys.path.insert(0, {src!r})
from codeward.sandbox import bwrap_diag, tiers
facts = bwrap_diag.probe_facts({bwrap!r}, "")
probe = tiers._probe_bwrap()
print(json.dumps({{"unshare": facts.unshare_errno, "seccomp": facts.seccomp_mode,
                  "available": probe.available, "reason": probe.reason, "fix": probe.detail}}))
"""


def test_real_probe_under_a_seccomp_filter_names_it(landlock: Any, project: Project) -> None:
    """Codeward's own bwrap probe, run inside the Landlock tier (a seccomp filter refuses unshare)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        pytest.skip("bubblewrap is not installed: the installed-but-refused case needs it")
    # codeward's source and an interpreter the command can see (a checkout under a home is hidden)
    shutil.copytree(SRC / "codeward", project.root / "cwsrc" / "codeward")
    python = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
    code = PROBE.format(src=str(project.root / "cwsrc"), bwrap=bwrap)
    r = project.run(landlock, [python, "-I", "-c", code])
    assert r.exit_code == 0, r.output
    got = json.loads(r.output.strip().splitlines()[-1])
    assert got["seccomp"] == 2 and got["unshare"] == errno.EPERM
    assert got["available"] is False
    assert "is installed but cannot run" in got["reason"] and "seccomp" in got["reason"]
    assert "install bubblewrap" not in got["fix"].lower()
    assert "seccomp" in got["fix"] or "filter" in got["fix"]


def test_doctor_prints_the_cause_specific_fix() -> None:
    from codeward.sandbox.tiers import Probe, bwrap_fix

    class Refused:
        def bwrap(self) -> Probe:
            d = diagnose(replace(BASE, apparmor_restrict="1", unshare_errno=errno.EACCES))
            return Probe(False, f"/usr/bin/bwrap is installed but cannot run: {d.cause}", detail=d.fix, path="/x")

    class Missing:
        def bwrap(self) -> Probe:
            return Probe(False, "bwrap not found")

    assert "apparmor_parser" in bwrap_fix(Refused())  # type: ignore[arg-type]
    assert bwrap_fix(Missing()).startswith("Install bubblewrap")  # type: ignore[arg-type]
