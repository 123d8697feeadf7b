"""The argv half of the analysis: one simple command, what it is, and what it runs in turn.

``run_argv`` records a command with its :class:`~codeward.policy.analysis_model.Role`, notes the
shell state it changes (``PATH=…``, ``hash -p``), and follows what it runs: wrapped argvs
(``sudo``, ``env``, ``find -exec`` — :mod:`codeward.policy.wrappers`), shell scripts (``bash -c``,
``eval``, a script fed on standard input), read again as shell text one level deeper.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import replace

from codeward.policy import shellparse as sp
from codeward.policy.analysis_base import SpecAbort
from codeward.policy.analysis_model import MAX_CHAIN, MAX_NESTING, Cmd, Ctx, Role, Stdin
from codeward.policy.inline_code import language_of
from codeward.policy.inline_walk import InlineRunner
from codeward.policy.patterns import base_name
from codeward.policy.shellstate import (
    DECLARATION_BUILTINS,
    EXEMPT_BUILTINS,
    STRUCTURE_WORDS,
    is_dangerous_var,
    var_reason,
)
from codeward.policy.unwrapped import Argv, Script, StdinScript
from codeward.policy.words import Tok
from codeward.policy.wrappers import unwrap


class ArgvRunner(InlineRunner):
    """Records simple commands and follows what they run; the tree level is ``walk``."""

    def run_argv(self, toks: Sequence[Tok], ctx: Ctx, *, shell_word: bool = False) -> int | None:
        """Record the command ``toks`` and what it runs. ``shell_word``: bash reads its first word
        (a command's first word, or the one after ``time``/``coproc``), so a reserved word there is
        shell structure, not a program."""
        if not toks:
            return None
        if ctx.chain > MAX_CHAIN:
            self._fatal(f"it wraps commands in more than {MAX_CHAIN} levels of wrappers", ctx)
        name = toks[0]
        argv = tuple(toks)
        if name.value is None:
            idx = self._add(Cmd(argv, Role.UNRESOLVED), ctx)
            self._uncertain(
                f"the program `{_short(name.text)}` in `{self.result.commands[idx].display(60)}` is only known at run time",
                ctx,
            )
            return idx
        if shell_word and name.bare and name.value in STRUCTURE_WORDS:
            self._fatal(f"the shell structure near `{name.value}` cannot be analysed reliably", ctx)
        base = base_name(name.value)
        role = Role.PROGRAM
        func_body: tuple[int, ...] = ()
        if base in EXEMPT_BUILTINS:
            role = Role.EXEMPT
        elif (ctx.scope, name.value) in self._functions:
            role = Role.FUNCTION
            func_body = self._functions[(ctx.scope, name.value)]
        idx = self._add(Cmd(argv, role, func_body=func_body), ctx)
        self._builtin_effects(base, argv, ctx)
        if base == "alias" and any("=" in (t.value if t.value is not None else t.text) for t in argv[1:]):
            # a later line that names the alias runs its value with the line's words appended
            # (`alias r=rm` then `r -rf x`); sh, posix mode and expand_aliases all expand it
            self._opaque(f"`{self.result.commands[idx].display(40)}` defines an alias that later commands can run", ctx)
        language = language_of(base)
        if language is not None:
            self._inline(language, argv, ctx, self.result.commands[idx].display(40))
        un = unwrap(argv, base)
        if un is None:
            return idx
        cmd = self.result.commands[idx]
        if un.unknown:
            self._uncertain(f"cannot tell what `{cmd.display(60)}` runs: {un.unknown}", ctx)
            return idx
        for a in un.assignments:
            text = a.value if a.value is not None else a.prefix
            var = text.split("=", 1)[0].rstrip("+")
            if is_dangerous_var(var):
                self._uncertain(var_reason(var), ctx)
        if (un.lookup_only or (base == "exec" and not un.inners)) and cmd.role is Role.PROGRAM:
            cmd.role = Role.EXEMPT  # `command -v x` names a program; `exec 3>&1` only redirects
        ran = False
        inner_ctx = replace(ctx, chain=ctx.chain + 1)
        for inner in un.inners:
            if isinstance(inner, Argv):
                self.run_argv(inner.toks, inner_ctx, shell_word=shell_word and base in ("time", "coproc"))
                ran = True
            elif isinstance(inner, Script):
                ran = self._script(inner, inner_ctx, cmd) or ran
            elif isinstance(inner, StdinScript):
                ran = self._stdin_script(inner, inner_ctx, cmd) or ran
        if un.transparent and ran and cmd.role is Role.PROGRAM:
            cmd.role = Role.TRANSPARENT
        for spec in un.speculative:
            with contextlib.suppress(SpecAbort):
                self.run_argv(spec, replace(inner_ctx, speculative=True))
        for same, note in un.equivalents:
            with contextlib.suppress(SpecAbort):
                j = self.run_argv(same, replace(inner_ctx, speculative=True))
                if j is not None:
                    self.result.commands[j].note = note
        return idx

    def _builtin_effects(self, base: str, argv: tuple[Tok, ...], ctx: Ctx) -> None:
        if base in DECLARATION_BUILTINS:
            for t in argv[1:]:
                text = t.value if t.value is not None else t.prefix
                if "=" in text:
                    var = text.split("=", 1)[0].rstrip("+")
                    if is_dangerous_var(var):
                        self._uncertain(var_reason(var), ctx)
        elif base in ("read", "mapfile", "readarray", "getopts", "printf"):
            for t in argv[1:]:
                if t.value is not None and is_dangerous_var(t.value):
                    self._uncertain(var_reason(t.value), ctx)
        elif base == "hash" and any(
            t.value is not None and t.value.startswith("-") and "p" in t.value for t in argv[1:]
        ):
            self._uncertain("`hash -p` changes which file a command name runs", ctx)
        elif base == "enable" and any(
            t.value is not None and t.value.startswith("-") and "f" in t.value for t in argv[1:]
        ):
            self._uncertain("`enable -f` loads code into the shell", ctx)

    def _script(self, inner: Script, ctx: Ctx, owner: Cmd) -> bool:
        what = f"the script run by `{owner.display(40)}`"
        if inner.interpreter != "sh":
            self._uncertain(f"{what} is {inner.interpreter} code, which cannot be checked", ctx)
            return False
        text, holes = self._join(inner.parts)
        params = None
        if inner.params is not None and all(p.value is not None for p in inner.params):
            params = tuple(p.value or "" for p in inner.params)
        return self._nested(text, holes, ctx, params, what)

    def _stdin_script(self, inner: StdinScript, ctx: Ctx, owner: Cmd) -> bool:
        s = ctx.stdin
        if s.kind in ("none", "file"):
            return False  # reads the terminal or a script file: judged as a program
        shell = owner.display(40)
        if inner.interpreter != "sh":
            self._uncertain(f"`{shell}` reads {inner.interpreter} code from its input, which cannot be checked", ctx)
            return False
        if s.kind in ("text", "pipe") and s.text is not None:
            params = None
            if inner.params is not None and all(p.value is not None for p in inner.params):
                params = tuple(p.value or "" for p in inner.params)
            return self._nested(s.text, s.holes, replace(ctx, stdin=Stdin()), params, f"the script fed to `{shell}`")
        self._uncertain(
            f"`{shell}` runs commands it reads from {s.producer or 'its input'}, which cannot be checked before it runs",
            ctx,
        )
        return False

    def _nested(self, text: str, holes: bool, ctx: Ctx, params: tuple[str, ...] | None, what: str) -> bool:
        if ctx.depth + 1 > MAX_NESTING:
            self._fatal(f"{what} nests shells or eval more than {MAX_NESTING} levels deep", ctx)
        if holes:
            self._uncertain(f"{what} is only partly known before it runs", ctx)
        try:
            tree, src = sp.parse_with_source(text)
        except sp.ShellSyntaxError as e:
            if holes:
                return False
            self._fatal(f"{what} cannot be parsed as a shell script ({e})", ctx)
            return False
        nctx = replace(ctx, depth=ctx.depth + 1, params=params, scope=self._new_scope())
        outer_src = self._src
        self._src = src
        try:
            self.walk(tree.root_node, nctx)
        finally:
            self._src = outer_src
        return True


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
