"""The analysis follows code given inline to an interpreter (issue 12).

For a command whose program runs code (:func:`codeward.policy.inline_code.language_of`), each
piece of inline code is read (:mod:`codeward.policy.inline_code`): shell text it hands to
``/bin/sh`` is analysed as a nested script, argvs it starts are commands, equivalents
(``shutil.rmtree(x)`` is ``rm -rf x``) only add denials, and what cannot be read is recorded in
``Analysis.opaque`` — which asks when a ``disallow_commands`` list is in force.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import replace

from codeward.policy import shellparse as sp
from codeward.policy.analysis_base import AnalyzerBase, SpecAbort
from codeward.policy.analysis_model import MAX_NESTING, Ctx, Stdin
from codeward.policy.inline_code import Piece, pieces, read_piece
from codeward.policy.inline_found import Found
from codeward.policy.words import Tok


class InlineRunner(AnalyzerBase):
    """Reads the inline code of interpreters, sed, awk, tar, gdb and vim."""

    def _inline(self, language: str, argv: tuple[Tok, ...], ctx: Ctx, owner: str) -> None:
        inner_ctx = replace(ctx, chain=ctx.chain + 1)
        for piece in pieces(language, argv):
            if piece.kind == "argv":
                self.run_argv(piece.argv, inner_ctx)
                continue
            text = self._piece_text(piece, ctx, owner)
            if text is None:
                continue
            if piece.kind == "shell":
                self._inline_shell(text, replace(inner_ctx, stdin=Stdin()), owner)
            else:
                self._inline_found(read_piece(language, text), inner_ctx, owner)

    def _piece_text(self, piece: Piece, ctx: Ctx, owner: str) -> str | None:
        if piece.kind == "stdin":
            s = ctx.stdin
            if s.kind in ("text", "pipe") and s.text is not None and not s.holes:
                return s.text
            if s.kind in ("pipe", "unknown") or (s.kind == "text" and s.holes):
                self._opaque(f"`{owner}` runs {piece.language} code from {s.producer or 'its input'}", ctx)
            return None
        if piece.kind == "unknown" or piece.tok is None or piece.tok.value is None:
            shown = piece.tok.text if piece.tok is not None else "?"
            self._opaque(f"the {piece.language} code `{shown[:40]}` given to `{owner}` is only known at run time", ctx)
            return None
        return piece.tok.value

    def _inline_found(self, found: Found, ctx: Ctx, owner: str) -> None:
        # what the code starts reads whatever the code writes to it: a shell started that way runs
        # commands the policy never sees (subprocess.run(["sh"], input=...))
        fed = replace(ctx, stdin=Stdin("unknown", producer=f"the code run by `{owner}`"))
        for text in found.shell:
            self._inline_shell(text, fed, owner)
        for argv in found.argvs:
            self.run_argv(tuple(Tok.lit(a) for a in argv), fed)
        for same, note in found.equivalents:
            with contextlib.suppress(SpecAbort):
                toks = tuple(Tok.lit(a) if a != "<path>" else Tok.unknown("<path>", split=False) for a in same)
                j = self.run_argv(toks, replace(ctx, speculative=True))
                if j is not None:
                    self.result.commands[j].note = f"runs code that {note}"
        for reason in found.opaque:
            self._opaque(f"`{owner}`: {reason}", ctx)

    def _inline_shell(self, text: str, ctx: Ctx, owner: str) -> None:
        if ctx.depth + 1 > MAX_NESTING:
            self._fatal(f"the code run by `{owner}` nests more than {MAX_NESTING} levels deep", ctx)
        try:
            sp.parse_with_source(text)
        except sp.ShellSyntaxError:
            self._opaque(f"`{owner}` hands the shell text {text[:40]!r}, which cannot be parsed", ctx)
            return
        self._nested(text, False, ctx, None, f"the shell command run by `{owner}`")

    def _opaque(self, msg: str, ctx: Ctx) -> None:
        if ctx.speculative:
            return
        msg = self.result.show(msg)
        if msg not in self.result.opaque:
            self.result.opaque.append(msg)

    def _nested(self, text: str, holes: bool, ctx: Ctx, params: tuple[str, ...] | None, what: str) -> bool:
        raise NotImplementedError


__all__: Sequence[str] = ["InlineRunner"]
