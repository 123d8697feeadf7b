"""The history scan on every core (doctor): forked workers find exactly what one process finds, a
budget stops them, and a process with a second thread never forks (a lock held at the fork would
stay locked in the child)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from tests.privacy.history_repo import leaky_history

from codeward.privacy import history_pool
from codeward.privacy.history import MESSAGES, list_blobs, scan_blobs
from codeward.project import open_project


def _objects(repo: Path) -> dict[str, int]:
    return {**list_blobs(repo), **list_blobs(repo, MESSAGES)}


def test_forked_workers_find_what_one_process_finds(git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    leaky_history(git_repo)
    scanner = open_project(git_repo, None).scanner
    objects = _objects(git_repo)
    one = scan_blobs(git_repo, scanner, objects)
    monkeypatch.setattr(history_pool, "MIN_OBJECTS", 1)
    monkeypatch.setattr(history_pool, "CHUNK", 2)
    forked: list[int] = []
    real = history_pool.scan_forked
    monkeypatch.setattr(history_pool, "scan_forked", lambda *a, **k: forked.append(1) or real(*a, **k))
    if threading.active_count() != 1:
        pytest.skip("another thread runs in this test process: it must not fork")
    two = scan_blobs(git_repo, scanner, objects, workers=2)
    assert forked  # the workers ran
    assert sorted(two.values) == sorted(one.values) and two.secret_blobs == one.secret_blobs
    assert two.clean == one.clean and two.unfinished == 0


def test_a_second_thread_keeps_the_scan_in_process(git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(history_pool, "MIN_OBJECTS", 1)
    hold = threading.Event()
    t = threading.Thread(target=hold.wait)
    t.start()
    try:
        assert not history_pool.can_fork(10)
    finally:
        hold.set()
        t.join()
    assert history_pool.can_fork(10) or threading.active_count() != 1  # the control


def test_the_budget_stops_the_workers(git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    leaky_history(git_repo)
    monkeypatch.setattr(history_pool, "MIN_OBJECTS", 1)
    monkeypatch.setattr(history_pool, "CHUNK", 1)
    if threading.active_count() != 1:
        pytest.skip("another thread runs in this test process: it must not fork")
    got = scan_blobs(git_repo, open_project(git_repo, None).scanner, _objects(git_repo), workers=2, deadline=0.0)
    assert got.unfinished > 0 and not got.values
