"""Slash-command parsing: what is a command, which one, and a one-line error for anything else."""

from __future__ import annotations

import pytest

from codeward.ui.slash import COMMANDS, Slash, SlashError, help_lines, is_slash, parse_slash


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/mode full-auto", Slash("mode", "full-auto")),
        ("  /mode   auto-edit  ", Slash("mode", "auto-edit")),
        ("/mode", Slash("mode", "")),
        ("/MODE suggest", Slash("mode", "suggest")),
        ("/diff", Slash("diff")),
        ("/undo", Slash("undo")),
        ("/status", Slash("status")),
        ("/sent", Slash("sent")),
        ("/new", Slash("new")),
        ("/clear", Slash("new")),
        ("/help", Slash("help")),
        ("/quit", Slash("quit")),
        ("/exit", Slash("quit")),
        ("/expand", Slash("expand")),
    ],
)
def test_parse(line, expected):
    assert is_slash(line)
    assert parse_slash(line) == expected


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("/frobnicate", "unknown command /frobnicate; /help lists the commands"),
        ("/mode yolo", "/mode yolo: unknown approval mode; choose one of suggest, auto-edit, full-auto"),
        ("/undo everything", "/undo takes no argument"),
        ("/", "a command name must follow '/'; /help lists them"),
    ],
)
def test_errors_are_one_line(line, message):
    with pytest.raises(SlashError) as e:
        parse_slash(line)
    assert str(e.value) == message
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    "line", ["fix the bug", "/tmp/out.log is full, why?", "/usr/bin/python crashes", " why /undo?"]
)
def test_prompts_that_are_not_commands(line):
    assert not is_slash(line)


def test_help_lists_every_command():
    text = "\n".join(help_lines())
    for name in COMMANDS:
        assert f"/{name}" in text
    assert "Alt-Enter" in text and "Ctrl-C" in text
