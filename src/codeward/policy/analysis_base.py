"""The analyzer's bookkeeping: the commands found so far, scopes, collectors, stand-ins, limits.

:class:`AnalyzerBase` is shared by the tree walk (:mod:`codeward.policy.tree_walk`) and the argv
level (:mod:`codeward.policy.argv_walk`); each side calls the other through the two methods
declared here, so neither module imports the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from codeward.policy.analysis_model import MAX_COMMANDS, MAX_FLOWS, Analysis, Cmd, Ctx, Role
from codeward.policy.words import Tok

if TYPE_CHECKING:
    from tree_sitter import Node


class Fatal(Exception):
    """The script cannot be checked (too large, too deep, unreadable): the decision is deny."""


class SpecAbort(Exception):
    """A speculative reading went somewhere it cannot follow: drop that reading, keep the rest."""


class AnalyzerBase:
    """Collects commands while walking; one instance per decision."""

    def __init__(self) -> None:
        self.result = Analysis()
        self._collectors: list[list[int]] = []
        self._functions: dict[tuple[int, str], tuple[int, ...]] = {}
        self._scopes = 0
        self._holes = 0
        self._src = b""
        # redirections tree-sitter hung on a whole pipeline or list, waiting for its last command
        self._pending: dict[int, tuple[list[Node], list[tuple[int, int, str]]]] = {}

    # -- bookkeeping ---------------------------------------------------------------------------

    def _new_scope(self) -> int:
        self._scopes += 1
        return self._scopes

    def _push(self) -> list[int]:
        c: list[int] = []
        self._collectors.append(c)
        return c

    def _pop(self, c: list[int]) -> list[int]:
        popped = self._collectors.pop()
        assert popped is c
        return c

    def _add(self, cmd: Cmd, ctx: Ctx) -> int:
        if len(self.result.commands) >= MAX_COMMANDS:
            self._fatal(f"it runs more than {MAX_COMMANDS} commands, too many to check", ctx)
        if ctx.speculative:
            cmd.role = Role.SPECULATIVE
        cmd.depth = ctx.depth
        self.result.commands.append(cmd)
        idx = len(self.result.commands) - 1
        for c in self._collectors:
            c.append(idx)
        return idx

    def _uncertain(self, msg: str, ctx: Ctx) -> None:
        if ctx.speculative:
            return
        msg = self.result.show(msg)
        if msg not in self.result.uncertain:
            self.result.uncertain.append(msg)

    def _fatal(self, msg: str, ctx: Ctx) -> None:
        if ctx.speculative:
            raise SpecAbort
        raise Fatal(msg)

    def _placeholder(self, text: str) -> str:
        self._holes += 1
        ph = "${__codeward_unknown_" + str(self._holes) + "}"
        self.result.placeholders[ph] = self.result.show(text)
        return ph

    def _flow(self, sources: Sequence[int], targets: Sequence[int], ctx: Ctx) -> None:
        flows = self.result.flows
        for a in sources:
            for b in targets:
                if a != b:
                    flows.add((a, b))
        if len(flows) > MAX_FLOWS:
            self._fatal("its pipelines are too large to check", ctx)

    def _finish(self) -> None:
        """Calls to functions defined in the script pass their input and output through the body."""
        cmds = self.result.commands
        flows = self.result.flows
        calls = [(idx, c.func_body) for idx, c in enumerate(cmds) if c.func_body]
        for _ in range(4):
            if not calls:
                break
            ins: dict[int, list[int]] = {}
            outs: dict[int, list[int]] = {}
            for a, b in flows:
                ins.setdefault(b, []).append(a)
                outs.setdefault(a, []).append(b)
            before = len(flows)
            for idx, body in calls:
                for x in body:
                    flows.update((a, x) for a in ins.get(idx, ()) if a != x)
                    flows.update((x, b) for b in outs.get(idx, ()) if b != x)
                if len(flows) > MAX_FLOWS:
                    raise Fatal("its pipelines are too large to check")
            if len(flows) == before:
                break

    def _join(self, parts: Sequence[Tok]) -> tuple[str, bool]:
        """Words joined with blanks as a script; run-time values become stand-ins (and holes=True)."""
        out: list[str] = []
        holes = False
        for t in parts:
            if t.value is not None:
                out.append(t.value)
            else:
                out.append(self._placeholder(t.text))
                holes = True
        return " ".join(out), holes

    # -- implemented by the two halves ---------------------------------------------------------

    def walk(self, node: Node, ctx: Ctx) -> None:
        raise NotImplementedError

    def run_argv(self, toks: Sequence[Tok], ctx: Ctx, *, shell_word: bool = False) -> int | None:
        raise NotImplementedError
