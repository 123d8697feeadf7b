"""Fail-closed edges: nesting limits, sizes, odd inputs, and the argv form of the shell tool."""

from __future__ import annotations

import shlex

import pytest
from policy_helpers import make_policy

from codeward.policy import decide_command
from codeward.policy.analysis import MAX_CHAIN, MAX_COMMANDS, MAX_NESTING

STD = make_policy(disallow=["rm -rf", "curl | bash"])


def nested_bash(inner: str, levels: int) -> str:
    text = inner
    for _ in range(levels):
        text = "bash -c " + shlex.quote(text)
    return text


def test_nested_shells_within_the_limit_are_seen_through() -> None:
    d = decide_command(nested_bash("rm -fr /", MAX_NESTING), "full-auto", STD)
    assert (d.decision, d.rule) == ("deny", "rm -rf")
    d = decide_command(nested_bash("ls", MAX_NESTING), "full-auto", STD)
    assert d.decision == "allow"


def test_nesting_past_the_limit_is_refused() -> None:
    d = decide_command(nested_bash("ls", MAX_NESTING + 1), "full-auto", STD)
    assert d.decision == "deny" and "levels deep" in d.reason


def test_eval_nesting_counts_too() -> None:
    text = "ls"
    for _ in range(MAX_NESTING + 1):
        text = "eval " + shlex.quote(text)
    assert decide_command(text, "full-auto", STD).decision == "deny"


def test_wrapper_chains_past_the_limit_are_refused() -> None:
    assert decide_command("nice " * (MAX_CHAIN - 2) + "rm -rf x", "full-auto", STD).rule == "rm -rf"
    d = decide_command("nice " * (MAX_CHAIN + 2) + "ls", "full-auto", STD)
    assert d.decision == "deny" and "wrappers" in d.reason


def test_too_many_commands_are_refused() -> None:
    d = decide_command("; ".join(["true"] * (MAX_COMMANDS + 1)), "full-auto", STD)
    assert d.decision == "deny" and "too many" in d.reason


def test_deep_syntax_nesting_is_refused_not_crashed() -> None:
    d = decide_command("(" * 3000 + "ls" + ")" * 3000, "full-auto", STD)
    assert d.decision == "deny"


def test_huge_text_is_refused() -> None:
    d = decide_command("echo " + "a" * 1_100_000, "full-auto", STD)
    assert d.decision == "deny" and "longer than" in d.reason


@pytest.mark.parametrize("command", [None, 42, b"ls", ["ls", 1], [], "ls\x00", ["l\x00s"], "", " \n\t"], ids=repr)
def test_inputs_that_are_not_commands_are_denied(command: object) -> None:
    d = decide_command(command, "full-auto", STD)  # type: ignore[arg-type]
    assert d.decision == "deny"
    assert d.reason


@pytest.mark.parametrize(
    ("argv", "expected", "rule"),
    [
        (["rm", "-rf", "/"], "deny", "rm -rf"),
        (("rm", "-r", "-f", "x"), "deny", "rm -rf"),
        (["bash", "-c", "rm -fr /"], "deny", "rm -rf"),
        (["sh", "-c", "curl -s u | sh"], "deny", "curl | bash"),
        (["sudo", "bash", "-c", "echo ok; rm -rf x"], "deny", "rm -rf"),
        (["echo", "rm -rf /"], "allow", None),
        (["echo", "$(rm -rf /)"], "allow", None),  # no shell: the text is an argument
        (["bash", "-c", "echo $(rm -rf /)"], "deny", "rm -rf"),
        (["rm -rf /"], "allow", None),  # a program whose name has spaces, not rm
        (["FOO=1", "rm", "-rf", "x"], "deny", "rm -rf"),  # read as the shell would
        (["$CMD", "x"], "allow", None),  # literal program name "$CMD": no expansion without a shell
    ],
)
def test_argv_form(argv: list[str], expected: str, rule: str | None) -> None:
    d = decide_command(argv, "full-auto", STD)
    assert (d.decision, d.rule) == (expected, rule), d.reason


def test_speculative_reading_of_unmodelled_runners_only_adds_denials() -> None:
    assert decide_command("strace -o trace.txt rm -rf x", "full-auto", STD).rule == "rm -rf"
    # guesses never make a command ask: $X inside a guessed command is not an "unknown program"
    assert decide_command("strace -e trace=open ls $X", "full-auto", STD).decision == "allow"


def test_long_option_runs_do_not_exhaust_the_matcher() -> None:
    policy = make_policy(disallow=["git push --force"])
    d = decide_command("git " + "-a x " * 3000 + "push --force", "full-auto", policy)
    assert (d.decision, d.rule) == ("deny", "git push --force")


def test_a_rule_that_cannot_be_read_refuses_every_command() -> None:
    policy = make_policy(disallow=["rm 'unbalanced"])
    d = decide_command("ls", "full-auto", policy)
    assert (d.decision, d.rule, d.source) == ("deny", "rm 'unbalanced", "AGENTS.md:1")
    assert "cannot be used" in d.reason
