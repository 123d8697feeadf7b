"""Nested repositories and submodules get the object view the workspace's own repository gets.

A blob in a nested repository's history (``vendor/lib``) or a submodule's (whose store is the
superproject's ``.git/modules/NAME``) that holds a secret is replaced by its placeholder for git
inside bubblewrap and Landlock, so ``git -C vendor/lib show HEAD~1:creds.txt`` and any transform of it find no
value. Judged by what the command printed; the controls drop the nested binds and show the raw blob.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from tests.support.sandbox_helpers import Project

pytestmark = pytest.mark.sandbox

AWS = "Hs8Dk2Lq9Wz4Xc7Vb1Nm5Tr3Yp6Gf0Ju2Ei8Oa4"
VIEW_OFF = pytest.param(
    False,
    marks=pytest.mark.xfail(strict=True, raises=AssertionError, reason="control: without the view the blob is raw"),
)
SHIFT = "python3 -c 'import sys; print(\"\".join(chr(ord(c) + 1) for c in sys.stdin.read()))'"


def g(repo: Path, *a: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=u", "-c", "user.email=u@e", "-c", "protocol.file.allow=always", *a],
        check=True,
        capture_output=True,
    )


def leaky_repo(d: Path) -> None:
    d.mkdir(parents=True)
    g(d, "init", "-q")
    (d / "creds.txt").write_text(f"aws_secret_access_key = {AWS}\n")
    g(d, "add", "-A")
    g(d, "commit", "-qm", "add creds")
    (d / "creds.txt").unlink()
    (d / "README").write_text("lib\n")
    g(d, "add", "-A")
    g(d, "commit", "-qm", "remove creds")


def _shifted(text: str) -> str:
    return "".join(chr(ord(c) + 1) for c in text)


@pytest.mark.parametrize("view_on", [True, VIEW_OFF])
@pytest.mark.parametrize("kind", ["nested", "submodule"])
@pytest.mark.parametrize("tier", ["bwrap", "landlock"])
def test_old_secret_of_a_nested_repository_is_not_readable(
    project: Project, tmp_path: Path, kind: str, view_on: bool, tier: str, request: pytest.FixtureRequest
) -> None:
    sandbox = request.getfixturevalue(tier)
    if kind == "nested":
        leaky_repo(project.root / "vendor" / "lib")
        where = "vendor/lib"
    else:
        leaky_repo(tmp_path / "upstream")
        g(project.root, "submodule", "add", "-q", str(tmp_path / "upstream"), "mod")
        g(project.root, "commit", "-qm", "add mod")
        where = "mod"
    extra = {} if view_on else {"git_nested_views": None}
    cmd = f"git -C {where} show HEAD~1:creds.txt | {SHIFT}; git -C {where} cat-file -p HEAD~1:creds.txt; echo ran-it"
    r = project.run(sandbox, cmd, **extra)
    assert "ran-it" in r.output
    assert _shifted(AWS) not in r.output and AWS not in r.output
    assert "<secret:" in r.output  # the placeholder, not a missing object
    log = project.run(sandbox, f"git -C {where} log --format=%s", **extra)
    assert "add creds" in log.output and "remove creds" in log.output  # an honest history still reads


def test_a_worktree_inside_the_workspace_does_not_replace_the_roots_view(project: Project) -> None:
    """A linked worktree shares the workspace's store: it gets no second view over it, judged
    under the worktree's path (which would bind over the root's view)."""
    from codeward.privacy.history import cached_objects_dir

    leaky_repo(project.root / "vendor" / "lib")
    g(project.root, "worktree", "add", "-q", str(project.root / "wt2"))
    spec = project.spec()
    assert spec.git_nested_views is not None
    targets = [n.store for n in spec.git_nested_views()]
    assert cached_objects_dir(project.root / "vendor" / "lib") in targets  # the nested repository's, once
    assert cached_objects_dir(project.root).resolve() not in [t.resolve() for t in targets]
    assert len(targets) == len(set(targets))


@pytest.mark.parametrize("how", ["alternates", "linked-pack"])
def test_a_nested_store_that_borrows_objects_gets_an_empty_view(project: Project, how: str) -> None:
    """A nested store whose objects may come from elsewhere (an alternates file, a link inside it) is
    judged under its own paths while the objects could be the workspace's: it gets an empty view
    (git there fails), whatever its own history holds (red team rt23)."""
    sub = project.root / "vendor" / "lib"
    sub.mkdir(parents=True)
    g(sub, "init", "-q")
    (sub / "README").write_text("lib\n")
    g(sub, "add", "-A")
    g(sub, "commit", "-qm", "clean")
    g(sub, "gc", "-q")
    store = sub / ".git" / "objects"
    if how == "alternates":
        (store / "info" / "alternates").write_text(f"{project.root / '.git' / 'objects'}\n")
    else:
        pack = next((store / "pack").glob("*.pack"))
        moved = project.root / "elsewhere.pack"
        pack.rename(moved)
        pack.symlink_to(moved)
    views = project.spec().git_nested_views()
    found = [n for n in views if n.store == store]
    assert found and not any(found[0].view.objects.rglob("*.pack"))  # an empty store, bound over it
