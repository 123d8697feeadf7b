"""Undo: applying the inverse of a patch restores the tree byte for byte, or refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeward.patch import PatchError, apply_changes, apply_patch_text, invert_all
from codeward.workspace import Workspace


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_undo_restores_add_update_move_and_delete(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("one\ntwo\nthree\n")
    (tmp_path / "b.txt").write_text("bee\n")
    (tmp_path / "gone.txt").write_bytes(b"bye\r\n")
    ws = Workspace.discover(tmp_path, named=True)
    before = snapshot(tmp_path)
    patch = (
        "*** Begin Patch\n*** Add File: new/c.txt\n+sea\n"
        "*** Update File: a.txt\n@@\n one\n-two\n+TWO\n three\n"
        "*** Update File: b.txt\n*** Move to: moved/b.txt\n@@\n-bee\n+bee!\n"
        "*** Delete File: gone.txt\n*** End Patch\n"
    )
    changes = apply_patch_text(patch, ws)
    assert snapshot(tmp_path) != before
    apply_changes(invert_all(changes), ws)
    assert snapshot(tmp_path) == before


def test_undo_refuses_when_a_file_changed_since(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x\n")
    ws = Workspace.discover(tmp_path, named=True)
    changes = apply_patch_text("*** Begin Patch\n*** Update File: a.txt\n@@\n-x\n+y\n*** End Patch\n", ws)
    (tmp_path / "a.txt").write_text("edited by hand\n")
    with pytest.raises(PatchError):
        apply_changes(invert_all(changes), ws)
    assert (tmp_path / "a.txt").read_text() == "edited by hand\n"
