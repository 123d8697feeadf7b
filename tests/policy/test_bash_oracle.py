"""Real bash as the judge: every command bash runs must be one the engine found.

Generated scripts combine simple commands with lists, pipelines, subshells, groups, substitutions,
``eval``, nested ``bash -c``, functions, conditionals, here-documents and quoting tricks. Each is run
by bash with ``PATH`` set to an empty directory, so no program can start: every command that would run a program
ends in ``command_not_found_handle``, which writes its argv to a log. The safety property is
containment — each logged argv must match one of the engine's commands (the engine may find more,
e.g. both sides of ``||``, but never fewer).
"""

from __future__ import annotations

import itertools
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from codeward.policy.analysis import analyze_text
from codeward.policy.words import Tok

BASH = "/bin/bash" if os.path.exists("/bin/bash") else shutil.which("bash")
pytestmark = pytest.mark.skipif(BASH is None, reason="bash is not installed on this machine")

NAMES = ["rm", "ls", "cat", "curl", "git", "npm"]
ARGS = ["-rf", "-r", "x", "/", "push", "--force", "a b", "-"]


def spell(word: str, how: int) -> str:
    """Write ``word`` in one of several ways bash reads as the same word."""
    if how == 0 or not word:
        return shlex.quote(word)
    if how == 1:
        return "'" + word + "'" if "'" not in word else shlex.quote(word)
    if how == 2:
        return '"' + word + '"'
    if how == 3 and " " not in word:
        return "\\" + word
    if how == 4 and len(word) > 1 and " " not in word:
        return word[0] + "''" + word[1:]
    if how == 5 and len(word) > 1 and " " not in word:
        return word[0] + "\\\n" + word[1:]
    if how == 6 and " " not in word:
        return "$'" + "".join(f"\\x{ord(c):02x}" for c in word) + "'"
    return shlex.quote(word)


@st.composite
def simple(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(NAMES))
    args = draw(st.lists(st.sampled_from(ARGS), max_size=3))
    words = [spell(w, draw(st.integers(0, 6))) for w in [name, *args]]
    return " ".join(words)


_delims = itertools.count()


def _heredoc(body: str, how: int = 0) -> str:
    d = f"E{next(_delims)}"  # unique, so nested here-documents never share a delimiter
    shell = [f"{BASH}", f"{BASH} -", f"{BASH} -s", f"{BASH} -s -- x"][how]
    # in a group, so what the generator joins after it never lands on the delimiter line
    return f"{{ {shell} <<'{d}'\n{body}\n{d}\n}}"


def compose(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    def join(t: tuple[str, str, str]) -> str:
        a, op, b = t
        return f"{a}\n{b}" if op == "\n" else f"{a} {op} {b}"

    return st.one_of(
        st.tuples(children, st.sampled_from([";", "&&", "||", "|", "\n", "&"]), children).map(join),
        children.map(lambda c: f"( {c}\n)"),
        children.map(lambda c: f"{{ {c}\n}}"),
        st.tuples(simple(), children).map(lambda t: f'{t[0]} "$( {t[1]}\n)"'),
        st.tuples(simple(), children).map(lambda t: f"{t[0]} $( {t[1]}\n)"),
        children.map(lambda c: f"eval {shlex.quote(c)}"),
        children.map(lambda c: f"{BASH} -c {shlex.quote(c)}"),
        st.tuples(children, st.integers(0, 3)).map(lambda t: _heredoc(*t)),
        children.map(lambda c: f"if true; then {c}\nfi"),
        children.map(lambda c: f"for i in 1; do {c}\ndone"),
        children.map(lambda c: f"f() {{ {c}\n}}; f"),
        children.map(lambda c: f"true\n{c}"),
        children.map(lambda c: f"! {c}"),
        children.map(lambda c: f"time ( {c}\n)"),
        children.map(lambda c: f"a[$( {c}\n)]=1"),
        children.map(lambda c: f"x=$( {c}\n)"),
        children.map(lambda c: f"declare y=$( {c}\n)"),
        children.map(lambda c: f"case x in x) {c}\n;; esac"),
        children.map(lambda c: f"while true; do {c}\nbreak; done"),
        children.map(lambda c: f"(( $( {c}\n) ))"),
        children.map(lambda c: f"[[ -n $( {c}\n) ]]"),
        children.map(lambda c: f"echo ${{v:-$( {c}\n)}}"),
        children.map(lambda c: f'cat <<< "$( {c}\n)"'),
        children.map(lambda c: f"{c} > /dev/null 2>&1"),
    )


scripts = st.recursive(simple(), compose, max_leaves=6)


def _run_bash(script: str, tmp: Path) -> list[list[str]] | None:
    """The argv of every program bash tried to run; None when bash rejects the script's syntax."""
    log = tmp / "argv.log"
    log.write_bytes(b"")
    prologue = (
        # one write per record: pipeline stages run at the same time
        "command_not_found_handle() { local r; printf -v r '%s\\037' \"$@\"; "
        'printf \'%s\\036\' "$r" >>"$CW_LOG"; return 127; }\n'
        "export -f command_not_found_handle\n"
    )
    empty_bin = tmp / "empty-bin"  # an empty PATH would mean the current directory
    empty_bin.mkdir(exist_ok=True)
    env = {"PATH": str(empty_bin), "CW_LOG": str(log), "HOME": str(tmp), "LANG": "C.UTF-8"}
    proc = subprocess.run(
        [BASH or "bash", "-c", prologue + script + "\nwait\n"],
        cwd=tmp,
        stdin=subprocess.DEVNULL,
        env=env,
        capture_output=True,
        timeout=20,
        check=False,
    )
    if b"syntax error" in proc.stderr:
        return None
    out = log.read_bytes().decode("utf-8", "surrogateescape")
    return [rec.split("\x1f")[:-1] for rec in out.split("\x1e")[:-1]]


def _covers(toks: tuple[Tok, ...], argv: list[str]) -> bool:
    """Could the engine's tokens become exactly ``argv`` at run time?"""

    def go(i: int, j: int) -> bool:
        if i == len(toks):
            return j == len(argv)
        t = toks[i]
        if t.value is not None:
            return j < len(argv) and argv[j] == t.value and go(i + 1, j + 1)
        if t.split:
            return any(go(i + 1, k) for k in range(j, len(argv) + 1))
        return j < len(argv) and argv[j].startswith(t.prefix) and go(i + 1, j + 1)

    return go(0, 0)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(script=scripts)
def test_every_command_bash_runs_is_found(script: str, tmp_path: Path) -> None:
    analysis = analyze_text(script)
    # a refusal is safe, and a script bash rejects runs nothing; neither says anything here, and
    # hypothesis fails the test if such inputs crowd out the rest
    assume(analysis.fatal is None)
    ran = _run_bash(script, tmp_path)
    assume(ran is not None)
    assert ran, f"bash ran nothing for {script!r}: the oracle is not working"
    found = [c.argv for c in analysis.commands]
    for argv in ran:
        assert any(_covers(t, argv) for t in found), (argv, script, [[x.value for x in t] for t in found])


def test_the_oracle_sees_commands() -> None:
    """The harness itself works: a plain script logs its commands, and a miss would be caught."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        ran = _run_bash("rm -rf x; ls | cat\nr\\\nm -f y", Path(d))
        assert _run_bash("x=$( time ( rm\n)\n)", Path(d)) is None  # bash's own syntax error
    # pipeline stages run concurrently, so only the set is fixed
    assert ran is not None
    assert sorted(map(tuple, ran)) == sorted([("rm", "-rf", "x"), ("ls",), ("cat",), ("rm", "-f", "y")])
    assert not _covers((Tok.lit("rm"), Tok.lit("-r")), ["rm", "-rf", "x"])
