"""Every simple command a shell script would run, found before it runs.

:func:`analyze_text` walks the tree-sitter-bash tree of a script and :func:`analyze_argv` starts
from an argv; both produce an :class:`Analysis`:

* ``commands``: each simple command with its argv (:class:`~codeward.policy.words.Tok`), found in
  pipelines, ``&&``/``||``/``;`` lists, subshells, ``{ }`` groups, ``$(…)`` and backticks (also
  inside strings and here-documents), process substitutions, loop and if bodies, function bodies,
  and through wrappers (``sudo``, ``env``, ``xargs``, ``find -exec``, …, see
  :mod:`codeward.policy.wrappers`) and nested shells (``bash -c``, ``eval``, ``bash <<EOF``,
  ``echo … | sh``), recursively;
* ``flows``: pairs (a, b) where the output of command a feeds command b: a later pipeline stage,
  ``b <(a)``, ``b "$(a)"``, ``b <<< "$(a)"``;
* ``uncertain``: reasons a command cannot be known before it runs (a program name in a variable,
  a shell reading commands from a download, an assignment to ``PATH``, …) — such a script is
  never allowed without asking;
* ``fatal``: a reason to refuse outright (does not parse, nested too deep, too large).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from codeward.policy import shellparse as sp
from codeward.policy.analysis_base import Fatal
from codeward.policy.analysis_model import MAX_CHAIN, MAX_COMMANDS, MAX_NESTING, Analysis, Cmd, Ctx, Role
from codeward.policy.argv_walk import ArgvRunner
from codeward.policy.shellstate import SHELL_KEYWORDS
from codeward.policy.tree_walk import TreeWalker
from codeward.policy.unwrapped import ASSIGNMENT_RE
from codeward.policy.words import Tok


class Analyzer(TreeWalker, ArgvRunner):
    """Both halves together; one instance per decision."""

    def run_text(self, text: str, what: str = "the command") -> None:
        try:
            try:
                tree, self._src = sp.parse_with_source(text)
            except sp.ShellSyntaxError as e:
                raise Fatal(f"{what} cannot be parsed as a shell script ({e})") from None
            self.walk(tree.root_node, Ctx(scope=self._new_scope()))
            self._finish()
        except Fatal as e:
            self.result.fatal = str(e)
        except RecursionError:
            self.result.fatal = f"{what} is nested too deeply to check"

    def run_tokens(self, toks: Sequence[Tok]) -> None:
        try:
            self.run_argv(toks, Ctx(scope=self._new_scope()))
            self._finish()
        except Fatal as e:
            self.result.fatal = str(e)
        except RecursionError:
            self.result.fatal = "the command is nested too deeply to check"


# ------------------------------------------------------------------------------------------------


def analyze_text(text: str) -> Analysis:
    """Analyse shell text (what ``bash -c TEXT`` would run)."""
    a = Analyzer()
    a.run_text(text)
    return a.result


def analyze_argv(argv: Sequence[str]) -> Analysis:
    """Analyse an argv run without a shell (``["bash", "-c", "…"]`` still unwraps the script)."""
    if not argv:
        return Analysis(fatal="the command is empty: nothing to run")
    if any(not isinstance(a, str) for a in argv):
        return Analysis(fatal="every element of an argv command must be a string")
    if any("\x00" in a for a in argv):
        return Analysis(fatal="the command contains a NUL byte")
    first = argv[0]
    if first in SHELL_KEYWORDS or ASSIGNMENT_RE.match(first) or first.startswith("-"):
        # the shell reading shlex.join(argv) would treat these specially (or the parser cannot read
        # a command word starting with "-"); judge it the way the shell text is judged
        return analyze_text(shlex.join(argv))
    a = Analyzer()
    a.run_tokens([Tok.lit(x) for x in argv])
    return a.result


__all__ = ["MAX_CHAIN", "MAX_COMMANDS", "MAX_NESTING", "Analysis", "Cmd", "Role", "analyze_argv", "analyze_text"]
