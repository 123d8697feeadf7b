"""Golden cases: ``cases/NNN_name/{input/, patch.txt, expected/ | error.txt}``, compared byte for byte.

Each case copies ``input/`` into a fresh workspace and applies ``patch.txt`` through the whole
pipeline (parse, plan, apply). A success case must leave exactly the ``expected/`` tree (files,
bytes and directories); a failing case must raise PatchError whose message contains ``error.txt``
and leave the tree exactly as ``input/``. Missing ``input/`` or ``expected/`` means an empty tree
(git cannot store empty directories). ``.gitattributes`` there keeps git from touching line endings.
``{WORKSPACE}`` in a patch stands for the workspace's absolute path.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from patch_helpers import snapshot

from codeward.patch import PatchError, apply_patch_text
from codeward.workspace import Workspace

CASES = Path(__file__).parent / "cases"
CASE_DIRS = sorted(d for d in CASES.iterdir() if d.is_dir())


def test_cases_are_well_formed() -> None:
    assert len(CASE_DIRS) >= 40
    for d in CASE_DIRS:
        assert (d / "patch.txt").is_file(), d.name
        # a failing case has error.txt and no expected/ (its expected tree is input/); a success case
        # may lack expected/ only when the result is an empty tree
        assert not ((d / "error.txt").exists() and (d / "expected").exists()), d.name
        if not (d / "error.txt").exists():
            assert (d / "expected").is_dir() or (d / "input").is_dir(), d.name


@pytest.mark.parametrize("case", CASE_DIRS, ids=[d.name for d in CASE_DIRS])
def test_golden_case(case: Path, tmp_path: Path) -> None:
    root = (tmp_path / "ws").resolve()
    if (case / "input").is_dir():
        shutil.copytree(case / "input", root, symlinks=True)
    else:
        root.mkdir()
    before = snapshot(root)
    workspace = Workspace(root=root, cwd=root)
    # {WORKSPACE} stands for the workspace's absolute path (models write absolute paths too)
    text = (case / "patch.txt").read_bytes().decode("utf-8").replace("{WORKSPACE}", str(root))
    error_file = case / "error.txt"
    if error_file.exists():
        want = error_file.read_bytes().decode("utf-8").rstrip("\n")
        with pytest.raises(PatchError) as info:
            apply_patch_text(text, workspace)
        assert want in str(info.value), f"\nwanted: {want!r}\ngot:    {str(info.value)!r}"
        assert snapshot(root) == before
    else:
        changes = apply_patch_text(text, workspace)
        assert changes, "a success case must change something"
        expected = snapshot(case / "expected") if (case / "expected").is_dir() else {}
        assert snapshot(root) == expected
