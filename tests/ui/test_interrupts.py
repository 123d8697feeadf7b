"""Ctrl-C policy: raise only inside interruptible sections, never twice into a cleanup."""

from __future__ import annotations

import os
import signal
import time

import pytest

from codeward.ui.interrupts import InterruptibleClient, InterruptibleSandbox, Interrupts


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_press_outside_a_section_waits_for_the_next_one():
    it = Interrupts()
    it.begin_turn()
    it.press()  # e.g. while the gate scans a payload
    assert it.pending
    with pytest.raises(KeyboardInterrupt), it.interruptible():
        raise AssertionError("the section must not start")
    assert not it.pending


def test_press_inside_a_section_raises_there():
    it = Interrupts()
    it.begin_turn()
    ran_cleanup = []
    with pytest.raises(KeyboardInterrupt), it.interruptible():
        try:
            it.press()
        finally:
            it.press()  # a second Ctrl-C during the cleanup is only counted
            ran_cleanup.append(True)
    assert ran_cleanup == [True]
    assert len(it.presses) == 2


def test_no_press_no_interrupt():
    it = Interrupts()
    it.begin_turn()
    with it.interruptible():
        pass
    assert not it.pending and it.presses == []


def test_begin_turn_forgets_earlier_presses_and_a_late_press_is_kept_for_the_prompt():
    it = Interrupts()
    it.press()
    it.begin_turn()
    assert not it.pending
    it.press()  # after the last section of the turn
    it.end_turn()
    assert it.take_pending() is True
    assert it.take_pending() is False


def test_double_press_within_two_seconds():
    clock = Clock()
    it = Interrupts(clock=clock)
    it.begin_turn()
    it.press()
    clock.now += 2.5
    it.press()
    assert not it.double_pressed()
    clock.now += 1.0
    it.press()
    assert it.double_pressed()


class FakeSandbox:
    tier = "fake"

    def __init__(self, interrupts: Interrupts) -> None:
        self.interrupts = interrupts
        self.killed = False

    def run(self, argv, spec, **kw):
        try:
            self.interrupts.press()  # the user presses Ctrl-C while the command runs
            return "finished"
        finally:
            self.killed = True  # what the runner does: kill the tree on the way out


def test_sandbox_wrapper_lets_the_run_clean_up():
    it = Interrupts()
    it.begin_turn()
    inner = FakeSandbox(it)
    box = InterruptibleSandbox(inner, it)
    assert box.tier == "fake"  # everything else is delegated
    with pytest.raises(KeyboardInterrupt):
        box.run(["sleep", "30"], None)
    assert inner.killed


def test_client_wrapper_delegates():
    it = Interrupts()
    seen = []

    class Client:
        host = "h"

        def send(self, payload, *, on_event=None):
            seen.append((payload, on_event))
            return "done"

    c = InterruptibleClient(Client(), it)
    assert c.send("p", on_event=print) == "done" and seen == [("p", print)] and c.host == "h"


def test_real_sigint_goes_through_the_handler():
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN when the suite runs as a background job
    it = Interrupts()
    it.install()
    try:
        it.begin_turn()
        os.kill(os.getpid(), signal.SIGINT)  # outside a section: no exception, only remembered
        time.sleep(0.05)
        assert it.pending
        it.begin_turn()
        with pytest.raises(KeyboardInterrupt), it.interruptible():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
    finally:
        it.uninstall()
    assert signal.getsignal(signal.SIGINT) is before  # what was there is put back
