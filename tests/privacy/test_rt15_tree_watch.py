"""Red team rt15: the learner's background full walk (``TreeWatch.mark`` / ``merge``) against a full walk."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from tests.privacy.test_rt13_tree_watch import _dispatch, _sent, _tier, leaked
from tests.support.leaks import SHIFT
from tests.support.sessions import offline_session
from tests.support.tree_driver import Driver

from codeward.privacy import tree_walk, tree_watch

AWS = "Hs8Dk2Lq9Wz4Xc7Vb1Nm5Tr3Yp6Gf0Ju2Ei8Oa4"
SECRET_LINE = f"aws_secret_access_key = {AWS}\n"


def _merge(d: Driver, walked: dict[str, str]) -> None:
    got = d.watch.merge(walked, d.stamps)
    assert got is not None
    d.stamps = got[0]


def test_a_link_made_after_the_background_walk_listed_its_first_name(tree: Path) -> None:
    d = Driver(tree)
    d.refresh()
    try:
        d.watch.mark()
        walked = tree_walk.snapshot(str(tree))  # the background walk, done before the command
        os.link(tree / "src/pkg/__init__.py", tree / ".env")  # the command
        _merge(d, walked)
        with open(tree / ".env", "a") as f:  # the user fills it in
            f.write(SECRET_LINE)
        assert d.stale() == {}
    finally:
        d.watch.close()


@pytest.mark.sandbox
@pytest.mark.parametrize("background", [True, False], ids=["merge", "no-background-control"])
@pytest.mark.parametrize("tier", ["bwrap", "landlock"])
def test_a_second_name_made_while_a_background_walk_runs_carries_the_secret_out(
    git_repo: Path, cw_home: Path, monkeypatch: pytest.MonkeyPatch, tier: str, background: bool
) -> None:
    """rt13's first attack, made across a background walk's merge: ``merge`` looks at the names
    events gave (``.env``), never at the file's other names, and records the file's key as looked
    up, so the first name keeps the walk's stamp (one link, size 0) until the next full walk. The
    control: the same steps with no background walk due (rt13's fix, ``_other_names``, holds)."""
    _tier(cw_home, tier)
    monkeypatch.setattr(tree_watch, "FULL_WALK_EVERY_S", 6.0 if background else 60.0)
    (git_repo / "__init__.py").write_text("")
    s = offline_session(git_repo)
    outputs = [_dispatch(s, "true", 0), _dispatch(s, "true", 1)]  # the second full walk: believed
    learner = s.gate.redactor.learner
    walks = learner.watch.full_walks
    time.sleep(3.2)  # past half the bound: the next refresh starts a background walk
    outputs.append(_dispatch(s, "sleep 1; ln __init__.py .env && echo linked", 2))  # after the walk listed it
    assert "linked" in outputs[-1], outputs[-1]
    _sent(s, outputs)  # the request that carries the command's output: the walk is merged
    assert learner.watch is not None and learner.watch.full_walks == walks + (1 if background else 0)
    with open(git_repo / ".env", "a") as f:  # the user fills it in
        f.write(SECRET_LINE)
    outputs.append(_dispatch(s, f"cat __init__.py | {SHIFT}", 3))
    assert outputs[-1].startswith("exit code: 0"), outputs[-1]
    assert leaked(_sent(s, outputs)) == []


def test_a_file_linked_again_after_its_second_name_was_removed(tree: Path) -> None:
    """No background walk: ``_other_names`` looks a file's other names up once per ``dev ino`` key
    (``_linked_keys`` only grows between full walks). Link, unlink, link again: the third name's
    event finds the key already looked up, so the first name keeps its one-link stamp."""
    d = Driver(tree)
    d.refresh()
    first = tree / "src/pkg/__init__.py"
    try:
        os.link(first, tree / "docs/old.py")
        assert d.stale() == {}
        os.unlink(tree / "docs/old.py")
        assert d.stale() == {}
        os.link(first, tree / ".env")
        d.refresh()
        with open(tree / ".env", "a") as f:
            f.write(SECRET_LINE)
        assert d.stale() == {}
        assert d.answered >= 4
    finally:
        d.watch.close()


@pytest.mark.sandbox
@pytest.mark.parametrize("watch", [True, False], ids=["watch", "walk-control"])
@pytest.mark.parametrize("tier", ["bwrap", "landlock"])
def test_link_unlink_link_carries_the_secret_out(
    git_repo: Path, cw_home: Path, monkeypatch: pytest.MonkeyPatch, tier: str, watch: bool
) -> None:
    """The session form of the test above: three commands, then the user fills ``.env`` in and the
    fourth command reads it raw through the first name (within the 60 s before the next full walk)."""
    _tier(cw_home, tier)
    if not watch:
        monkeypatch.setattr(tree_watch.TreeWatch, "current", lambda self, stamps: None)
    (git_repo / "__init__.py").write_text("")
    s = offline_session(git_repo)
    outputs = [_dispatch(s, "true", 0), _dispatch(s, "true", 1)]
    outputs.append(_dispatch(s, "ln __init__.py old.py && echo one", 2))
    _sent(s, outputs)
    outputs.append(_dispatch(s, "rm old.py && echo two", 3))
    _sent(s, outputs)
    outputs.append(_dispatch(s, "ln __init__.py .env && echo three", 4))
    assert "three" in outputs[-1], outputs[-1]
    _sent(s, outputs)
    with open(git_repo / ".env", "a") as f:  # the user fills it in
        f.write(SECRET_LINE)
    outputs.append(_dispatch(s, f"cat __init__.py | {SHIFT}", 5))
    learner = s.gate.redactor.learner
    if watch:
        assert learner.watch is not None and learner.watch.full_walks == 2  # the watch answered throughout
    assert outputs[-1].startswith("exit code: 0"), outputs[-1]
    assert leaked(_sent(s, outputs)) == []
