"""The tree-sitter half of the analysis: walking a script's syntax tree down to simple commands.

Pipelines, lists, redirections (here-documents and here-strings become a command's known input),
functions, assignments and declarations are read here; each simple command's words become
:class:`~codeward.policy.words.Tok` objects and go to ``run_argv`` (:mod:`codeward.policy.argv_walk`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from codeward.policy import shellparse as sp
from codeward.policy import shellwords as sw
from codeward.policy.analysis_base import AnalyzerBase
from codeward.policy.analysis_model import Ctx, Stdin
from codeward.policy.producers import static_output
from codeward.policy.shellstate import is_dangerous_var, var_reason
from codeward.policy.words import Hole, Tok, toks_from_parts, unquoted_parts

if TYPE_CHECKING:
    from tree_sitter import Node


class TreeWalker(AnalyzerBase):
    """Walks tree-sitter-bash nodes; the argv level is ``run_argv``."""

    def _no_gaps(self, node: Node, ctx: Ctx) -> None:
        """Refuse when tree-sitter skipped text outside a command's words (it could hide anything)."""
        for start, end in sp.gaps(node, self._src):
            text = self._src[start:end].decode("utf-8", "replace").strip()
            self._fatal(f"the shell text near {text!r} cannot be analysed reliably", ctx)

    def walk(self, node: Node, ctx: Ctx) -> None:
        if self._pending and node.id in self._pending:
            redirects, skipped = self._pending.pop(node.id)
            self._with_redirects(node, redirects, ctx, skipped)
            return
        t = node.type
        if t not in ("command", "redirected_statement"):  # those two recover skipped words
            self._no_gaps(node, ctx)
        if t == "command":
            self._command(node, ctx)
        elif t == "pipeline":
            self._pipeline([self._stage_fn(s) for s in self._stages(node)], ctx)
        elif t == "redirected_statement":
            self._redirected(node, ctx)
        elif t == "function_definition":
            self._function(node, ctx)
        elif t == "variable_assignment":
            self._assignment(node, ctx)
        elif t == "declaration_command":
            self._declaration(node, ctx)
        elif t == "comment":
            return
        else:
            if t == "for_statement":
                var = node.child_by_field_name("variable")
                if var is not None and is_dangerous_var(sp.node_text(var)):
                    self._uncertain(var_reason(sp.node_text(var)), ctx)
            for c in node.named_children:
                self.walk(c, ctx)

    def _stages(self, node: Node) -> list[Node]:
        out: list[Node] = []
        for c in node.named_children:
            if c.type == "pipeline":
                out.extend(self._stages(c))
            elif c.type != "comment":
                out.append(c)
        return out

    def _stage_fn(self, node: Node) -> Callable[[Ctx], int | None]:
        def run(ctx: Ctx) -> int | None:
            if self._pending and node.id in self._pending:
                redirects, skipped = self._pending.pop(node.id)
                return self._with_redirects(node, redirects, ctx, skipped)
            if node.type == "command":
                return self._command(node, ctx)
            if node.type == "redirected_statement":
                return self._redirected(node, ctx)
            self.walk(node, ctx)
            return None

        return run

    def _pipeline(self, stages: list[Callable[[Ctx], int | None]], ctx: Ctx) -> None:
        sets: list[list[int]] = []
        prev_top: int | None = None
        for k, fn in enumerate(stages):
            if k == 0:
                sctx = ctx
            else:
                producer = self.result.commands[prev_top] if prev_top is not None else None
                text = producer.output if producer is not None else None
                shown = f"the output of `{producer.display(60)}`" if producer is not None else "a pipeline"
                sctx = replace(ctx, stdin=Stdin("pipe", text=text, producer=shown))
            coll = self._push()
            prev_top = fn(sctx)
            sets.append(self._pop(coll))
        for i in range(len(sets)):
            for j in range(i + 1, len(sets)):
                self._flow(sets[i], sets[j], ctx)

    def _redirected(self, node: Node, ctx: Ctx) -> int | None:
        body = node.child_by_field_name("body")
        # words tree-sitter skipped between the command and its redirections (``python3 - <<EOF``
        # loses the ``-``) belong to the command
        skipped = [w for a, b in sp.gaps(node, self._src) for w in sp.gap_words(self._src, a, b)]
        target = _last_command(body) if body is not None and body.type in _SEQUENCES else None
        if skipped and target is None and (body is None or body.type != "command"):
            self._no_gaps(node, ctx)
        redirects: list[Node] = []
        continuation: Node | None = None
        after: list[Node] = []
        for c, f in sp.fields(node):
            if f != "redirect":
                continue
            redirects.append(c)
            if c.type == "heredoc_redirect":
                # tree-sitter files the rest of the heredoc's line under the redirect
                for hc, hf in sp.fields(c):
                    if hc.type == "pipeline" and hf is None:
                        continuation = hc
                    elif hf == "redirect":
                        redirects.append(hc)
                    elif hf == "right" or (
                        hc.is_named and hc.type not in ("heredoc_start", "heredoc_body", "heredoc_end")
                    ):
                        after.append(hc)

        def core(sctx: Ctx) -> int | None:
            if target is not None:
                # bash gives `a | b <<EOF` and `a && b < f` to b alone; tree-sitter hangs them on the
                # whole pipeline or list
                self._pending[target.id] = (redirects, skipped)
                assert body is not None  # a redirected statement always has one
                self.walk(body, sctx)
                self._pending.pop(target.id, None)
                return None
            return self._with_redirects(body, redirects, sctx, skipped)

        top: int | None
        if continuation is not None:
            stages = [core, *[self._stage_fn(s) for s in self._stages(continuation)]]
            self._pipeline(stages, ctx)
            top = None
        else:
            top = core(ctx)
        for a in after:
            self.walk(a, ctx)
        return top

    def _with_redirects(
        self, body: Node | None, redirects: list[Node], ctx: Ctx, skipped: Sequence[tuple[int, int, str]] = ()
    ) -> int | None:
        stdin = ctx.stdin
        extra: list[Node] = []
        outs: list[str] = []
        stdin_from: str | None = None
        coll = self._push()
        for r in redirects:
            self._no_gaps(r, ctx)
            s = self._redirect_stdin(r, ctx)
            if s is not None:
                stdin = s
            out = _stdout_file(r)
            if out:
                outs.append(out)
            fed = _stdin_file(r)
            if fed:
                stdin_from = fed
            if r.type == "file_redirect":
                extra.extend(sp.redirect_extra_args(r))
            self._walk_redirect_words(r, ctx)
        subs = self._pop(coll)
        sctx = replace(ctx, stdin=stdin)
        coll = self._push()
        top: int | None = None
        if body is None:
            pass
        elif body.type == "command":
            top = self._command(body, sctx, extra_args=extra, extra_words=skipped)
            if top is not None and outs:
                self.result.commands[top].stdout_to = tuple(outs)
            if top is not None and stdin_from is not None:
                self.result.commands[top].stdin_from = stdin_from
        else:
            self.walk(body, sctx)
            for e in extra:
                self.walk(e, sctx)
        created = self._pop(coll)
        self._flow(subs, created, ctx)
        return top

    def _walk_redirect_words(self, r: Node, ctx: Ctx) -> None:
        for c, f in sp.fields(r):
            if not c.is_named or c.type in ("pipeline", "heredoc_start", "heredoc_end"):
                continue
            if f in ("right", "redirect"):
                continue
            self.walk(c, ctx)

    def _redirect_stdin(self, r: Node, ctx: Ctx) -> Stdin | None:
        if r.type == "heredoc_redirect":
            text, holes = sw.heredoc_text(r, self._placeholder)
            return Stdin("text", text=text, holes=holes, producer="a here-document")
        if r.type == "herestring_redirect":
            word = [c for c in r.named_children]
            if not word:
                return None
            parts = sw.group_parts(word, ctx.params)
            text, holes = self._parts_text(parts)
            return Stdin("text", text=text + "\n", holes=holes, producer="a here-string")
        if r.type == "file_redirect":
            op = sp.redirect_operator(r)
            fd = sp.redirect_fd(r)
            if op not in sp.STDIN_OPS or fd not in (None, "0"):
                return None
            dest = r.child_by_field_name("destination")
            if dest is not None and dest.type == "process_substitution":
                return Stdin("pipe", text=None, producer=f"`{sp.node_text(dest)[:60]}`")
            if op == "<&" and dest is not None and sp.node_text(dest) in ("0", "-"):
                return None
            return Stdin("file")
        return None

    def _parts_text(self, parts: list) -> tuple[str, bool]:
        out: list[str] = []
        holes = False
        for p in parts:
            if isinstance(p, Hole):
                out.append(self._placeholder(p.text))
                holes = True
            else:
                out.append(p.text)
        return "".join(out), holes

    def _function(self, node: Node, ctx: Ctx) -> None:
        name_node = node.child_by_field_name("name")
        body = node.child_by_field_name("body")
        coll = self._push()
        if body is not None:
            fctx = replace(ctx, stdin=Stdin("unknown", producer="the function's caller"), params=None)
            self.walk(body, fctx)
        cmds = self._pop(coll)
        if name_node is not None:
            self._functions[(ctx.scope, sp.node_text(name_node))] = tuple(cmds)

    def _assignment(self, node: Node, ctx: Ctx) -> None:
        name = node.child_by_field_name("name")
        if name is not None and is_dangerous_var(sp.node_text(name)):
            self._uncertain(var_reason(sp.node_text(name)), ctx)
        if name is not None and name.type == "subscript":
            self.walk(name, ctx)  # a[$(cmd)]=1 runs cmd
        for c, f in sp.fields(node):
            if f == "value" or (c.is_named and f is None and c is not name):
                self.walk(c, ctx)

    def _declaration(self, node: Node, ctx: Ctx) -> None:
        keyword = next((sp.node_text(c) for c in node.children if not c.is_named), "declare")
        toks: list[Tok] = [Tok.lit(keyword)]
        for c in node.named_children:
            if c.type == "variable_assignment":
                self._assignment(c, ctx)
                parts = sw.spanned_parts(c, ctx.params, in_dquote=False)
                toks.extend(toks_from_parts(parts, sp.node_text(c)))
            else:
                self.walk(c, ctx)
                toks.extend(toks_from_parts(sw.word_parts(c, ctx.params), sp.node_text(c)))
        self.run_argv(toks, ctx)

    def _command(
        self,
        node: Node,
        ctx: Ctx,
        extra_args: Sequence[Node] = (),
        extra_words: Sequence[tuple[int, int, str]] = (),
    ) -> int | None:
        name_node = node.child_by_field_name("name")
        arg_nodes: list[Node] = list(extra_args)
        stdin = ctx.stdin
        coll = self._push()
        for c, f in sp.fields(node):
            if c.type == "variable_assignment":
                self._assignment(c, ctx)
            elif f == "redirect" or c.type.endswith("_redirect"):
                self._no_gaps(c, ctx)
                s = self._redirect_stdin(c, ctx)
                if s is not None:
                    stdin = s
                if c.type == "file_redirect":
                    arg_nodes.extend(sp.redirect_extra_args(c))
                self._walk_redirect_words(c, ctx)
            elif f == "argument":
                arg_nodes.append(c)
                self.walk(c, ctx)
            elif c is name_node or (name_node is not None and c == name_node):
                self.walk(c, ctx)
            elif c.is_named and f is None and c.type != "comment":
                # statements tree-sitter hung under a command (`time (rm -rf /)`) still run
                self.walk(c, ctx)
        subs = self._pop(coll)
        if name_node is None:
            return None
        toks = self._command_words(node, name_node, arg_nodes, ctx, extra_words)
        sctx = replace(ctx, stdin=stdin)
        coll = self._push()
        top = self.run_argv(toks, sctx, shell_word=True)
        created = self._pop(coll)
        self._flow(subs, created, ctx)
        if top is not None:
            self.result.commands[top].output = static_output(self.result.commands[top].argv, stdin)
        return top

    def _command_words(
        self,
        node: Node,
        name_node: Node,
        arg_nodes: list[Node],
        ctx: Ctx,
        extra_words: Sequence[tuple[int, int, str]] = (),
    ) -> list[Tok]:
        """The argv of a command node: its name and arguments, plus any text tree-sitter skipped.

        Pieces that touch (no blank between them) are one word, as in bash.
        """
        items: list[tuple[int, int, Node | None, str]] = [(name_node.start_byte, name_node.end_byte, name_node, "")]
        items += [(n.start_byte, n.end_byte, n, "") for n in arg_nodes]
        for start, end in sp.gaps(node, self._src):
            items += [(a, b, None, text) for a, b, text in sp.gap_words(self._src, start, end)]
        items += [(a, b, None, text) for a, b, text in extra_words]
        items.sort(key=lambda it: it[0])
        groups: list[list[tuple[int, int, Node | None, str]]] = []
        for it in items:
            if groups and groups[-1][-1][1] == it[0]:
                groups[-1].append(it)
            else:
                groups.append([it])
        toks: list[Tok] = []
        for group in groups:
            if len(group) == 1 and group[0][2] is not None and group[0][2] is not name_node:
                expanded = sw.positional_words(group[0][2], ctx.params)
                if expanded is not None:
                    toks.extend(Tok.lit(v) for v in expanded)
                    continue
            parts: list = []
            source: list[str] = []
            for _a, _b, n, text in group:
                if n is None:
                    parts.extend(unquoted_parts(text))
                    source.append(text)
                else:
                    parts.extend(sw.word_parts(n, ctx.params))
                    source.append(sp.node_text(n))
            toks.extend(toks_from_parts(parts, "".join(source)))
        return toks


_SEQUENCES = frozenset({"pipeline", "list", "negated_command"})


def _last_command(node: Node) -> Node | None:
    """The statement a trailing redirection belongs to: the last one of a pipeline or list."""
    while node.type in _SEQUENCES:
        kids = [c for c in node.named_children if c.type != "comment"]
        if not kids:
            return None
        node = kids[-1]
    return node


_STDOUT_OPS = frozenset({">", ">>", ">|", "&>", "&>>"})


def _stdout_file(r: Node) -> str | None:
    """The file a redirect sends standard output to, when it is written literally (``> y``)."""
    if r.type != "file_redirect" or sp.redirect_operator(r) not in _STDOUT_OPS:
        return None
    if sp.redirect_fd(r) not in (None, "1"):
        return None
    dest = r.child_by_field_name("destination")
    if dest is None:
        return None
    return _literal_word(dest)


def _stdin_file(r: Node) -> str | None:
    """The file a redirect feeds to standard input, when it is written literally (``< y``)."""
    if r.type != "file_redirect" or sp.redirect_operator(r) != "<" or sp.redirect_fd(r) not in (None, "0"):
        return None
    dest = r.child_by_field_name("destination")
    return _literal_word(dest) if dest is not None else None


def _literal_word(dest: Node) -> str | None:
    text = sp.node_text(dest)
    if dest.type == "word" and not any(c in text for c in "$`\\*?[{~"):
        return text
    if dest.type == "raw_string":
        return text[1:-1]
    if dest.type == "string" and not any(c in text for c in "$`\\"):
        return text[1:-1]
    return None
