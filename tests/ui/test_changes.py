"""/diff and /undo: the session's patches summed per file, and the last one taken back on disk."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codeward.events import EventBus, ListSink
from codeward.patch import apply_patch_text
from codeward.patch.plan import FileChange
from codeward.ui.changes import UndoRefused, describe, net_changes, session_diff, undo_last
from codeward.workspace import Workspace


def add(path, new):
    return FileChange(path, "add", None, None, new)


def upd(path, old, new, old_path=None):
    return FileChange(path, "update", old_path, old, new)


def delete(path, old):
    return FileChange(path, "delete", None, old, None)


def test_first_old_against_last_new():
    applied = [[upd("a.txt", b"1\n", b"2\n")], [upd("a.txt", b"2\n", b"3\n")]]
    assert net_changes(applied) == [upd("a.txt", b"1\n", b"3\n")]


def test_added_then_changed_is_one_add():
    assert net_changes([[add("n.txt", b"x\n")], [upd("n.txt", b"x\n", b"y\n")]]) == [add("n.txt", b"y\n")]


def test_added_then_deleted_is_nothing():
    assert net_changes([[add("n.txt", b"x\n")], [delete("n.txt", b"x\n")]]) == []


def test_changed_back_is_nothing():
    assert net_changes([[upd("a", b"1", b"2")], [upd("a", b"2", b"1")]]) == []


def test_deleted_then_recreated_is_an_update():
    assert net_changes([[delete("a", b"old")], [add("a", b"new")]]) == [upd("a", b"old", b"new")]


def test_moves_are_followed():
    applied = [[upd("b.txt", b"1", b"2", old_path="a.txt")], [upd("c.txt", b"2", b"3", old_path="b.txt")]]
    assert net_changes(applied) == [upd("c.txt", b"1", b"3", old_path="a.txt")]


def test_moved_then_deleted_is_a_delete_of_the_original():
    applied = [[upd("b.txt", b"1", b"1", old_path="a.txt")], [delete("b.txt", b"1")]]
    assert net_changes(applied) == [delete("a.txt", b"1")]


def test_session_diff_and_describe():
    applied = [[upd("a.txt", b"one\n", b"two\n"), add("n.txt", b"x\n")]]
    diff = session_diff(applied)
    assert "--- a/a.txt" in diff and "-one" in diff and "+two" in diff and "+++ b/n.txt" in diff
    assert describe(net_changes(applied)) == "M a.txt, A n.txt"
    assert session_diff([]) == ""


# -- property: the net changes take the first state to the last one -------------------------------------

NAMES = ["a", "b", "c"]
CONTENTS = [b"1", b"2", b"3"]


@st.composite
def histories(draw):
    """A start state and a sequence of valid change sets over it (add, update, delete, move)."""
    state = {n: draw(st.sampled_from(CONTENTS)) for n in NAMES if draw(st.booleans())}
    start = dict(state)
    applied = []
    for _ in range(draw(st.integers(0, 6))):
        changes = []
        for _ in range(draw(st.integers(1, 2))):
            op = draw(st.sampled_from(["add", "update", "delete", "move"]))
            present = sorted(p for p in state if p not in {c.path for c in changes} | {c.old_path for c in changes})
            absent = sorted(p for p in NAMES if p not in state)
            if op == "add" and absent:
                p = draw(st.sampled_from(absent))
                new = draw(st.sampled_from(CONTENTS))
                changes.append(add(p, new))
                state[p] = new
            elif op == "update" and present:
                p = draw(st.sampled_from(present))
                new = draw(st.sampled_from(CONTENTS))
                changes.append(upd(p, state[p], new))
                state[p] = new
            elif op == "delete" and present:
                p = draw(st.sampled_from(present))
                changes.append(delete(p, state.pop(p)))
            elif op == "move" and present and absent:
                src, dst = draw(st.sampled_from(present)), draw(st.sampled_from(absent))
                new = draw(st.sampled_from(CONTENTS))
                changes.append(upd(dst, state.pop(src), new, old_path=src))
                state[dst] = new
        if changes:
            applied.append(changes)
    return start, applied, state


def replay(state: dict[str, bytes], changes: list[FileChange]) -> dict[str, bytes]:
    out = dict(state)
    for c in changes:
        source = c.old_path or c.path
        assert out.get(source) == c.old, (c, out)
        out.pop(source, None)
        if c.new is not None:
            assert c.path not in out, (c, out)
            out[c.path] = c.new
    return out


@settings(max_examples=300, deadline=None)
@given(histories())
def test_net_changes_replay_to_the_final_state(history):
    start, applied, final = history
    net = net_changes(applied)
    assert replay(start, net) == final
    touched = {c.path for c in net} | {c.old_path for c in net if c.old_path}
    assert len(touched) == len({*touched})  # one change per file


# -- undo_last on a real workspace ---------------------------------------------------------------------


def _ctx(root: Path):
    events = EventBus()
    sink = ListSink()
    events.add(sink)
    reloaded = []
    ctx = SimpleNamespace(
        workspace=Workspace(root=root, cwd=root),
        applied=[],
        events=events,
        reload_ignore=lambda: reloaded.append(True),
    )
    return ctx, sink, reloaded


def test_undo_restores_and_records(tmp_path):
    (tmp_path / "keep.txt").write_bytes(b"a\r\nb\r\nlast")
    ctx, sink, _ = _ctx(tmp_path)
    patch = "*** Begin Patch\n*** Update File: keep.txt\n@@\n a\n-b\n+B\n*** Add File: new.txt\n+n\n*** End Patch\n"
    ctx.applied.append(apply_patch_text(patch, ctx.workspace))
    assert (tmp_path / "keep.txt").read_bytes() != b"a\r\nb\r\nlast"
    inverse = undo_last(ctx)
    assert (tmp_path / "keep.txt").read_bytes() == b"a\r\nb\r\nlast"
    assert not (tmp_path / "new.txt").exists()
    assert ctx.applied == []
    assert describe(inverse) == "D new.txt, M keep.txt"
    events = sink.of_type("file.changed")
    assert [(e["path"], e["kind"], e["undo"]) for e in events] == [
        ("new.txt", "delete", True),
        ("keep.txt", "update", True),
    ]
    assert events[0]["sha256_after"] is None and events[1]["sha256_before"] != events[1]["sha256_after"]
    with pytest.raises(UndoRefused, match="nothing to undo"):
        undo_last(ctx)


def test_undo_undoes_a_move(tmp_path):
    (tmp_path / "old.txt").write_text("x\n")
    ctx, _, _ = _ctx(tmp_path)
    patch = "*** Begin Patch\n*** Update File: old.txt\n*** Move to: new.txt\n@@\n-x\n+y\n*** End Patch\n"
    ctx.applied.append(apply_patch_text(patch, ctx.workspace))
    undo_last(ctx)
    assert (tmp_path / "old.txt").read_text() == "x\n" and not (tmp_path / "new.txt").exists()


def test_undo_refuses_when_a_file_changed_and_changes_nothing(tmp_path):
    (tmp_path / "a.txt").write_text("1\n")
    ctx, sink, _ = _ctx(tmp_path)
    patch = "*** Begin Patch\n*** Update File: a.txt\n@@\n-1\n+2\n*** Add File: b.txt\n+b\n*** End Patch\n"
    ctx.applied.append(apply_patch_text(patch, ctx.workspace))
    (tmp_path / "a.txt").write_text("edited by hand\n")
    with pytest.raises(UndoRefused) as e:
        undo_last(ctx)
    assert str(e.value) == (
        "cannot undo: a.txt changed since the patch was applied; nothing was changed "
        "(edit the file yourself, or ask the model to)"
    )
    assert (tmp_path / "a.txt").read_text() == "edited by hand\n"
    assert (tmp_path / "b.txt").read_text() == "b\n"  # all or nothing: the other file stays too
    assert len(ctx.applied) == 1 and sink.of_type("file.changed") == []


def test_undo_of_an_ignore_file_reloads_the_rules(tmp_path):
    ctx, _, reloaded = _ctx(tmp_path)
    ctx.applied.append(
        apply_patch_text("*** Begin Patch\n*** Add File: .codexignore\n+x\n*** End Patch\n", ctx.workspace)
    )
    undo_last(ctx)
    assert reloaded == [True]
