"""The session loop's decisions with its edges faked: when to exit, what a Ctrl-C means, when to stop."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
from rich.console import Console
from tests.support.projects import project_of

from codeward.agent.loop import TurnResult
from codeward.cli.session_cmd import _Watched
from codeward.config.model import Config, ProviderConfig
from codeward.errors import CodewardError
from codeward.events import Error, EventBus, ListSink
from codeward.ui.interrupts import Interrupts
from codeward.ui.render import Renderer
from codeward.ui.session_loop import INTERRUPT_NOTE, InteractiveSession

EOF_ = object()
CTRL_C = object()


class FakeAgent:
    def __init__(self, behaviour) -> None:
        self.behaviour = behaviour
        self.prompts: list[str] = []
        self.interrupted: list[str] = []
        self.items: list = []

    def run_turn(self, text, *, on_stream=None):
        self.prompts.append(text)
        return self.behaviour(text)

    def interrupt(self, note, *, reason="interrupted by the user"):
        self.interrupted.append(note)


def make(inputs, behaviour=lambda t: TurnResult("completed", "ok"), halt=lambda: None):
    out = io.StringIO()
    renderer = Renderer(Console(file=out, width=120))
    cfg = Config(provider="p", model="m")
    cfg.providers["p"] = ProviderConfig(id="p", name="P", base_url="http://localhost:1/v1")
    bus = EventBus()
    sink = ListSink()
    bus.add(sink)
    saves: list[int] = []
    session = SimpleNamespace(
        agent=FakeAgent(behaviour),
        events=bus,
        project=project_of(cfg, "suggest"),
        sandbox_tier="bwrap",
        ctx=SimpleNamespace(applied=[]),
        save=lambda: saves.append(1),
    )
    interrupts = Interrupts()
    feed = list(inputs)

    def read() -> str:
        item = feed.pop(0)
        if item is EOF_:
            raise EOFError
        if item is CTRL_C:
            raise KeyboardInterrupt
        if callable(item):
            return item(interrupts)
        return item

    loop = InteractiveSession(session, renderer, interrupts, read, halt=halt)
    return loop, session, out, saves, feed


def test_prompts_run_turns_and_ctrl_d_exits():
    loop, session, _, saves, feed = make(["hello", "   ", "again", EOF_])
    loop.run()
    assert session.agent.prompts == ["hello", "again"] and saves == [1, 1] and feed == []


def test_first_prompt_from_the_command_line():
    loop, session, out, _, _ = make([EOF_])
    loop.run("do it")
    assert session.agent.prompts == ["do it"]
    assert "› do it" in out.getvalue()


def test_one_ctrl_c_at_the_prompt_asks_two_exit():
    loop, session, out, _, feed = make([CTRL_C, "still here", CTRL_C, CTRL_C, "never read"])
    loop.run()
    assert session.agent.prompts == ["still here"]
    assert out.getvalue().count("press Ctrl-C again") == 2
    assert feed == ["never read"]


def test_ctrl_c_after_a_cancelled_turn_exits_at_once():
    def cancel(text):
        raise KeyboardInterrupt

    loop, session, out, saves, feed = make(["slow", CTRL_C, "never read"], behaviour=cancel)
    loop.run()
    assert session.agent.interrupted == [INTERRUPT_NOTE]
    assert saves == [1]  # a cancelled turn is saved too
    assert "⏹ interrupted" in out.getvalue() and feed == ["never read"]


def test_two_quick_ctrl_c_during_a_turn_exit():
    def cancel_twice(text):
        loop.interrupts.presses += [1.0, 1.5]
        raise KeyboardInterrupt

    loop, _, _, _, feed = make(["slow", "never read"], behaviour=cancel_twice)
    loop.run()
    assert feed == ["never read"]


def test_a_ctrl_c_between_prompts_counts_as_one_at_the_prompt():
    def press_then_type(interrupts):
        return "typed"

    loop, session, out, _, _ = make(["a", press_then_type, EOF_])
    loop.interrupts.press()  # arrives while no prompt is reading keys (not inside a turn section)
    loop.run()
    assert "press Ctrl-C again" in out.getvalue()
    assert session.agent.prompts == ["a", "typed"]


def test_slash_commands_and_their_errors():
    loop, session, out, _, _ = make(["/frobnicate", "/mode full-auto", "/quit", "never"])
    session.set_mode = lambda m: setattr(session, "project", session.project.with_mode(m))
    loop.run()
    text = out.getvalue()
    assert "codeward: unknown command /frobnicate" in text
    assert session.project.mode == "full-auto" and "· full-auto ·" in loop.status_line()
    assert session.agent.items[-1].text.startswith("[The user changed the approval mode to full-auto")
    assert session.agent.prompts == []


def test_a_bug_in_a_slash_command_does_not_end_the_session(monkeypatch):
    monkeypatch.delenv("CODEWARD_DEBUG", raising=False)
    loop, session, out, _, _ = make(["/diff", "after", EOF_])
    session.ctx.applied = None  # /diff will fail on this
    loop.run()
    assert "internal error in /diff" in out.getvalue()
    assert session.agent.prompts == ["after"]


def test_an_audit_failure_ends_the_session():
    failures: list[str] = []

    class Broken:
        def emit(self, event):
            raise CodewardError("audit log not written (No space left on device)")

    watched = _Watched(Broken(), failures)
    with pytest.raises(CodewardError):
        watched.emit(Error("x"))
    loop, session, out, _, feed = make(["one", "two"], halt=lambda: failures[0] if failures else None)
    loop.run()
    assert session.agent.prompts == ["one"] and feed == ["two"]
    assert "audit log not written (No space left on device); the session ends here" in out.getvalue()


def test_a_failed_turn_keeps_the_session():
    loop, session, _, _, _ = make(["x", "y", EOF_], behaviour=lambda t: TurnResult("failed", error="boom"))
    loop.run()
    assert session.agent.prompts == ["x", "y"]
