"""The layout's tree part is reused only while the just-refreshed directory index is unchanged.

Every case changes the tree the way a command could between two commands of a session (replace a
hidden file by a link or a directory, create a protected name) and checks that the next layout,
built from the refreshed index, is exactly the one decided from scratch; the reuse itself is shown
by counting the ``lstat`` calls the layout makes in the workspace.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from codeward import dirindex
from codeward.dirindex import RACY_NS
from codeward.sandbox import SandboxSpec
from codeward.sandbox import layout_tree as layout_mod
from codeward.sandbox.census import index_for
from codeward.sandbox.layout import Layout, build_layout


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Path]:
    ws = tmp_path / "proj"
    for d in (ws / ".git", ws / "src" / "deep", ws / "secrets"):
        d.mkdir(parents=True)
    (ws / "src" / "deep" / ".env").write_text("SECRET=1")
    (ws / "src" / "deep" / "plain.txt").write_text("x")
    (ws / "secrets" / "a.key").write_text("k")
    (ws / "AGENTS.md").write_text("x")
    (tmp_path / "cw").mkdir()
    time.sleep(RACY_NS / 1e9 + 0.05)  # directories changed this recently are listed again (a new generation)
    yield ws
    dirindex.forget(ws)


def _spec(ws: Path) -> SandboxSpec:
    return SandboxSpec(
        workspace=ws,
        cwd=ws,
        masked=(ws / "src" / "deep" / ".env", ws / "secrets"),
        protected=(ws / ".git", ws / "AGENTS.md", ws / "src" / ".codewardignore"),
        codeward_home=ws.parent / "cw",
    )


def _layout(spec: SandboxSpec, *, cached: bool) -> Layout:
    index = index_for(spec.workspace)
    index.refresh()
    return build_layout(
        spec,
        homes=[],
        private_dirs=[],
        sockets=[],
        system_secrets=[],
        indexes=[index] if cached else (),
    )


def _count_lstat(monkeypatch: pytest.MonkeyPatch, ws: Path) -> list[str]:
    calls: list[str] = []
    real = layout_mod._lstat

    def counting(p: Path) -> os.stat_result | None:
        if str(p).startswith(str(ws)):
            calls.append(str(p))
        return real(p)

    monkeypatch.setattr(layout_mod, "_lstat", counting)
    return calls


def test_an_unchanged_tree_reuses_the_tree_part_without_an_lstat(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = _spec(ws)
    first = _layout(spec, cached=True)
    calls = _count_lstat(monkeypatch, ws)
    again = _layout(spec, cached=True)
    assert again == first
    assert calls == []
    # control: without the index the same layout costs an lstat per masked and protected path
    fresh = _layout(spec, cached=False)
    assert fresh == first
    assert str(ws / "src" / "deep" / ".env") in calls


def test_a_hidden_file_replaced_by_a_link_hides_the_links_target_next_time(ws: Path) -> None:
    spec = _spec(ws)
    before = _layout(spec, cached=True)
    env, plain = ws / "src" / "deep" / ".env", ws / "src" / "deep" / "plain.txt"
    assert env in before.hidden_files and plain not in before.hidden_files
    generation = index_for(ws).generation
    env.unlink()
    os.symlink("plain.txt", env)  # what the rules hide is now a link: what it points to must be hidden
    after = _layout(spec, cached=True)
    assert index_for(ws).generation != generation  # the mechanism: the parent's ctime moved
    assert plain in after.hidden_files and env not in after.hidden_files
    assert after == _layout(spec, cached=False)


def test_a_hidden_file_replaced_by_a_directory_is_hidden_as_a_directory(ws: Path) -> None:
    spec = _spec(ws)
    _layout(spec, cached=True)
    env = ws / "src" / "deep" / ".env"
    env.unlink()
    env.mkdir()  # an empty-file bind over a directory would fail; a stale layout would do just that
    after = _layout(spec, cached=True)
    assert env in after.hidden_dirs and env not in after.hidden_files
    assert after == _layout(spec, cached=False)


def test_a_protected_name_created_between_commands_becomes_read_only(ws: Path) -> None:
    spec = _spec(ws)
    ignore = ws / "src" / ".codewardignore"
    before = _layout(spec, cached=True)
    assert ignore in before.missing_protected and ignore not in before.readonly
    ignore.write_text("*.txt\n")
    after = _layout(spec, cached=True)
    assert ignore in after.readonly and ignore not in after.missing_protected
    assert ws / "src" in after.anchored  # and its parent cannot be renamed away
    assert after == _layout(spec, cached=False)


def test_another_index_object_is_never_trusted_with_the_last_answer(ws: Path) -> None:
    spec = _spec(ws)
    _layout(spec, cached=True)
    (ws / "src" / "deep" / ".env").unlink()
    dirindex.forget(ws)  # a new index starts at generation 0 again, like the one the answer came from
    index = index_for(ws)
    index.refresh()
    lay = build_layout(spec, homes=[], private_dirs=[], sockets=[], system_secrets=[], indexes=[index])
    assert ws / "src" / "deep" / ".env" not in lay.hidden_files
    assert lay == _layout(spec, cached=False)


def test_a_hidden_link_re_aimed_outside_the_tree_is_looked_at_again(ws: Path) -> None:
    """The index sees only the workspace: a link there that leads through a link outside it can
    change where it ends without any workspace directory changing."""
    outside = ws.parent / "elsewhere"
    outside.mkdir()
    os.symlink(outside / "nothing", outside / "hop")
    env, plain = ws / "src" / "deep" / ".env", ws / "src" / "deep" / "plain.txt"
    env.unlink()
    os.symlink(outside / "hop", env)
    time.sleep(RACY_NS / 1e9 + 0.05)
    spec = _spec(ws)
    _layout(spec, cached=True)
    before = _layout(spec, cached=True)
    assert plain not in before.hidden_files
    generation = index_for(ws).generation
    (outside / "hop").unlink()
    os.symlink(plain, outside / "hop")  # now .env leads to plain.txt, which must be hidden
    after = _layout(spec, cached=True)
    assert index_for(ws).generation == generation  # the index saw nothing: the link check did it
    assert plain in after.hidden_files
    assert after == _layout(spec, cached=False)


def test_each_commands_fresh_history_view_callables_still_hit_the_cache(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every spec a session builds carries new ``git_view``/``git_note`` callables; they do not
    change the tree part, so they must not make every command decide it again (70 ms at 50k)."""
    from dataclasses import replace

    spec = _spec(ws)
    first = _layout(replace(spec, git_view=lambda: None, git_note=lambda: None), cached=True)
    calls = _count_lstat(monkeypatch, ws)
    again = _layout(replace(spec, git_view=lambda: None, git_note=lambda: None), cached=True)
    assert again == first and calls == []
