"""Red team rt12: a certificate bundle's "public" verdict outlives its content in a session.

An ignore rule (the built-in ``*.pem``) names ``tls/ca.pem``; while the file holds only certificates
:func:`codeward.sandbox.public_files.is_public_file` lets it stay readable (decided on content). That
verdict is taken inside :func:`codeward.sandbox.layout_tree._decide_tree_part`, whose answer
:func:`codeward.sandbox.layout_tree.tree_part` reuses while every index generation is unchanged. An
in-place write (``>>``, an editor that writes in place, a tool appending a key) changes no directory's
ctime, so no index generation moved and the stale "public" answer was reused: the next command of
the same session read a file the ignore rules hide, now holding a private key or free text. The
tree part now keeps each public file's stamp and is decided again when one moved.

Judged from the host: what a later command prints.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from tests.support.sandbox_helpers import Project, one_cert, without_ignored_files

pytestmark = pytest.mark.sandbox


@pytest.fixture(params=["bwrap", "landlock"])
def tier(request: pytest.FixtureRequest, project: Project) -> Any:
    if request.param == "landlock":
        without_ignored_files(project)  # so that the index trusts its watch (see there)
    return request.getfixturevalue(request.param)


def _session(tier: Any, project: Project) -> tuple[Path, str]:
    ca = project.root / "tls" / "ca.pem"
    ca.parent.mkdir()
    ca.write_bytes(one_cert())
    time.sleep(0.3)  # past the racy window
    for _ in range(3):
        project.run(tier, "true")
    r = project.run(tier, "head -c 27 tls/ca.pem; echo")
    assert "-----BEGIN CERTIFICATE-----" in r.output  # a public bundle: readable, as designed
    marker = f"CWMARK-rt12-{os.urandom(6).hex()}"
    with open(ca, "ab") as f:  # the host, between two commands, in place: no directory changes
        f.write(b"-----BEGIN PRIVATE KEY-----\n" + marker.encode() + b"\n-----END PRIVATE KEY-----\n")
    return ca, marker


def test_a_bundle_that_gains_a_private_key_in_place_stays_readable(tier: Any, project: Project) -> None:
    _, marker = _session(tier, project)
    r = project.run(tier, "cat tls/ca.pem 2>&1; true")
    assert marker not in r.output, "an ignored .pem holding a private key was read by a later command"


def test_a_bundle_that_gains_free_text_in_place_stays_readable(tier: Any, project: Project) -> None:
    """Text no scanner calls a secret (so the agent's redacted view would not cover it either): the
    ignore rule alone hides such a file, and the stale verdict overrides it."""
    ca, _ = _session(tier, project)
    note = f"CWMARK-rt12-note-{os.urandom(6).hex()}"
    with open(ca, "ab") as f:
        f.write(f"internal: staging db lives at 10.0.0.7, ask {note}\n".encode())
    r = project.run(tier, "cat tls/ca.pem 2>&1; true")
    assert note not in r.output, "an ignored .pem holding free text was read by a later command"


def test_control_a_fresh_tree_part_hides_it(tier: Any, project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same session with the tree part decided afresh: the file is hidden (the rule applies)."""
    from codeward.sandbox import layout_tree

    _, marker = _session(tier, project)
    monkeypatch.setattr(layout_tree, "_tree_cache", None)
    r = project.run(tier, "cat tls/ca.pem 2>&1; true")
    assert marker not in r.output
