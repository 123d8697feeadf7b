"""Properties checked on generated inputs.

* An argv and its ``shlex.join`` (the same command as shell text) get the same decision.
* The words the engine reads from shell text are the words real bash passes to the program
  (quotes, escapes, ``$'…'``, brace expansion, line continuations) — bash itself is the oracle.
* Nothing the engine is given makes it raise: every input gets a decision.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from policy_helpers import make_policy

from codeward.policy import decide_command
from codeward.policy.analysis import analyze_text

POLICY = make_policy(
    disallow=["rm -rf", "curl | bash", "git push --force", "sudo", "find -delete"],
    allow=["npm test", "ls -la", "git status", "echo"],
    user_allow=["npm test", "ls", "git", "echo"],
)

ALPHABET = [
    "rm",
    "-rf",
    "-r",
    "-f",
    "--force",
    "--recursive",
    "-fr",
    "x",
    "/",
    "sudo",
    "-u",
    "env",
    "FOO=1",
    "PATH=/x",
    "bash",
    "sh",
    "-c",
    "rm -rf /",
    "curl u | sh",
    "eval",
    "xargs",
    "find",
    ".",
    "-exec",
    "-delete",
    "{}",
    ";",
    "+",
    "timeout",
    "5",
    "nice",
    "-n",
    "git",
    "push",
    "status",
    "npm",
    "test",
    "ls",
    "-la",
    "|",
    "&&",
    "$X",
    "*",
    "'",
    '"',
    "",
    " ",
    "a b",
    "echo",
    "time",
    "if",
    "done",
    "--",
    "-",
    "\\",
    "$(rm -rf /)",
    "`ls`",
    "~",
    "{a,b}",
    "!",
    "#",
    "curl",
    "command",
    "exec",
    "nohup",
    "\n",
]

argvs = st.lists(st.sampled_from(ALPHABET), min_size=1, max_size=7)
modes = st.sampled_from(["suggest", "auto-edit", "full-auto"])


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(argv=argvs, mode=modes)
def test_argv_and_its_shell_quoting_decide_alike(argv: list[str], mode: str) -> None:
    as_argv = decide_command(argv, mode, POLICY)
    as_text = decide_command(shlex.join(argv), mode, POLICY)
    assert (as_argv.decision, as_argv.rule, as_argv.source) == (as_text.decision, as_text.rule, as_text.source), (
        as_argv.reason,
        as_text.reason,
    )


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("rm -f|;&$()`'\"\\{}<>\n#*x=")), max_size=40), mode=modes)
def test_any_text_gets_a_decision(text: str, mode: str) -> None:
    d = decide_command(text, mode, POLICY)
    assert d.decision in ("allow", "ask", "deny")
    assert d.reason and "\n" not in d.reason


# ---- bash as the oracle for word values

FRAGMENTS = [
    "a",
    "rm",
    "-rf",
    "x y",
    "'q'",
    "'a b'",
    "''",
    '""',
    '"d"',
    '"a\\"b"',
    '"\\\\"',
    '"\\$x"',
    '"a\\\nb"',
    "\\r",
    "\\ ",
    "\\'",
    "\\\n",
    "$'\\x72\\x6d'",
    "$'a\\tb'",
    "$'\\101'",
    "$'\\''",
    "{a,b}",
    "x{1..3}",
    "{a,{b,c}}",
    "{a}",
    "{}",
    "-",
    "--",
    "=",
    "a=b",
    "%",
    "@",
    ":",
    ",",
    "~x",
]

BASH = shutil.which("bash")


def _bash_words(words_text: str) -> list[str]:
    script = "__p() { printf '%s\\0' \"$@\"; }\nset -f\n__p " + words_text + "\n"
    out = subprocess.run([BASH or "bash", "-c", script], capture_output=True, timeout=10, check=True).stdout
    return out.decode("utf-8", "surrogateescape").split("\0")[:-1]


@pytest.mark.skipif(BASH is None, reason="bash is not installed on this machine")
@settings(max_examples=250, deadline=None)
@given(words=st.lists(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=3), min_size=1, max_size=4))
def test_words_match_what_bash_passes(words: list[list[str]]) -> None:
    words_text = " ".join("".join(w) for w in words)
    if words_text.rstrip().endswith("\\"):
        words_text += "x"
    analysis = analyze_text("__p " + words_text)
    # tree-sitter rejects a few valid words (``==``); the engine then refuses the command, which is
    # safe. Those inputs say nothing about word values; hypothesis fails if too many are discarded.
    assume(analysis.fatal is None)
    cmd = analysis.commands[0]
    assert all(t.value is not None for t in cmd.argv), cmd.argv
    assert [t.value for t in cmd.argv[1:]] == _bash_words(words_text)
