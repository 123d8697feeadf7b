"""git's binary patches (``--binary``) are decoded, so a known value inside one is found."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from codeward.privacy.gitpatch import binary_patches
from codeward.privacy.known import KnownValues

SECRET = "Hs8Dk2Lq9Wz4Xc7Vb1Nm5Tr3Yp6Gf0Ju2Ei8Oa4"


def _patch_output(repo: Path) -> str:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1"}

    def git(*a: str) -> str:
        return subprocess.run(["git", *a], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout

    git("init", "-q", "-b", "main")
    (repo / ".gitattributes").write_text("*.env -diff\n")
    (repo / "a.env").write_text(f"KEY={SECRET}\n" + "filler line\n" * 200)
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "-m", "one")
    (repo / "a.env").write_text(f"KEY={SECRET}\n" + "filler line\n" * 200 + f"NEW={SECRET[::-1]}x\n")
    git("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "-am", "two")
    return git("log", "-p", "--binary")


def test_literal_and_delta_blocks_inflate(tmp_path: Path) -> None:
    out = _patch_output(tmp_path)
    assert "GIT binary patch" in out and SECRET not in out and SECRET[::-1] not in out
    blocks = [inflated for _, _, inflated in binary_patches(out.encode())]
    assert any(SECRET.encode() in b for b in blocks)  # the literal: the whole file
    assert any(SECRET[::-1].encode() in b and b"filler" not in b for b in blocks)  # a delta's insert


def test_known_values_find_a_secret_inside_a_binary_patch(tmp_path: Path) -> None:
    out = _patch_output(tmp_path)
    known = KnownValues()
    known.add(SECRET, "planted")
    hits = known.find(out)
    assert hits and all(out[h.start : h.end].startswith(("literal", "delta")) for h in hits)


def test_text_that_only_looks_like_a_block_is_left_alone() -> None:
    assert list(binary_patches(b"literal 12\nzzzzzzzzzz\n")) == []
