"""``/proc/self/mountinfo`` under bubblewrap names no path a listing does not already show.

Under bubblewrap every hidden path is a mount point (an unreadable stub file or an empty tmpfs), so
the command's own mountinfo lists them. It is kept readable on purpose (README "Limits"): it cannot be
masked per process (``/proc/<pid>`` appears for each new process), and refusing ``open`` of it would
need a path check seccomp cannot make and that breaks ``findmnt``, ``df``, Python's ``os.path.ismount``
users and build tools. What keeps that harmless is this invariant, checked here from the host side:
a mount point's name is an entry the command can list anyway (the stub is there, empty, mode 000), a
hidden directory is mounted over whole so nothing below it is named, and the source of every stub is
codeward's own scratch file, not a host path.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from tests.support.sandbox_helpers import Project

pytestmark = pytest.mark.sandbox

SCRIPT = r"""
cut -d' ' -f4,5 /proc/self/mountinfo | sed 's/\\040/ /g'
echo '--listing--'
find "$1" -mindepth 1 -not -path '*/.git/objects/*' 2>/dev/null || true
"""


def _run(bwrap: Any, project: Project) -> tuple[list[tuple[str, str]], set[str]]:
    r = project.run(bwrap, ["bash", "-c", SCRIPT, "mountinfo", str(project.root)])
    assert r.exit_code == 0, r.output
    mounts_text, listing_text = r.output.split("--listing--\n")
    mounts = [tuple(line.split(" ", 1)) for line in mounts_text.splitlines() if line]
    return mounts, set(listing_text.splitlines())  # type: ignore[return-value]


def test_mountinfo_names_only_what_a_listing_shows(bwrap: Any, project: Project) -> None:
    root = project.root
    (root / "secrets" / "deep").mkdir()
    (root / "secrets" / "deep" / "inner-name-CWMOUNT.txt").write_text("x\n")
    mounts, listing = _run(bwrap, project)
    inside = {target for _src, target in mounts if target.startswith(str(root) + "/")}
    # the hidden paths are mount points (what the Limits line is about) ...
    assert {str(root / ".env"), str(root / "secrets")} <= inside
    # ... and each one is an entry the command lists anyway
    assert inside <= listing, sorted(inside - listing)
    # nothing below a hidden directory is named, by the listing or by mountinfo
    assert not [line for line in (*listing, *(t for _s, t in mounts)) if "CWMOUNT" in line or "token.txt" in line]
    # control: on the host those names exist, so their absence above is the sandbox's doing
    assert (root / "secrets" / "token.txt").exists()
    assert "inner-name-CWMOUNT.txt" in os.listdir(root / "secrets" / "deep")


def test_mountinfo_sources_are_no_host_secret_paths(bwrap: Any, project: Project) -> None:
    """The source column of a stub names codeward's scratch file, never the hidden file or a host secret path."""
    mounts, _listing = _run(bwrap, project)
    home = str(project.home)
    for src, target in mounts:
        if target in (str(project.root / ".env"), str(project.root / "certs" / "server.pem")):
            assert src != target and not src.startswith(str(project.root)), (src, target)
        assert not src.startswith(home + "/.ssh") and not src.startswith(home + "/.aws"), (src, target)
