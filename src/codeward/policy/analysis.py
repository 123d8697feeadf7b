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

import contextlib
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING

from codeward.policy import shellparse as sp
from codeward.policy.patterns import base_name
from codeward.policy.producers import static_output
from codeward.policy.shellstate import (
    DECLARATION_BUILTINS,
    EXEMPT_BUILTINS,
    SHELL_KEYWORDS,
    STRUCTURE_WORDS,
    is_dangerous_var,
    var_reason,
)
from codeward.policy.words import Tok, toks_from_parts, unquoted_parts
from codeward.policy.wrappers import (
    ASSIGNMENT_RE,
    Argv,
    Script,
    StdinScript,
    unwrap,
)

if TYPE_CHECKING:
    from tree_sitter import Node

MAX_NESTING = 8
MAX_CHAIN = 24
MAX_COMMANDS = 2000
MAX_FLOWS = 200_000


class Role(StrEnum):
    PROGRAM = "program"  # a program run: must satisfy allow lists
    TRANSPARENT = "transparent"  # a wrapper that only runs what it wraps (time, env, bash -c …)
    EXEMPT = "exempt"  # a shell builtin that changes only the shell's state (cd, export …)
    FUNCTION = "function"  # a call to a function defined in the same script (its body is checked)
    UNRESOLVED = "unresolved"  # its program is only known at run time
    SPECULATIVE = "speculative"  # a guess at what an unmodelled runner runs: only adds denials


@dataclass
class Cmd:
    argv: tuple[Tok, ...]
    role: Role
    depth: int = 0
    output: str | None = None  # what it prints, when known statically (echo/printf/cat of a heredoc)
    func_body: tuple[int, ...] = ()

    def display(self, limit: int = 120) -> str:
        text = " ".join(t.shown() for t in self.argv)
        return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Analysis:
    commands: list[Cmd] = field(default_factory=list)
    flows: set[tuple[int, int]] = field(default_factory=set)
    uncertain: list[str] = field(default_factory=list)
    fatal: str | None = None
    placeholders: dict[str, str] = field(default_factory=dict)

    def show(self, text: str) -> str:
        """``text`` with the stand-ins for run-time values put back as they were written."""
        for ph, original in self.placeholders.items():
            if ph in text:
                text = text.replace(ph, original)
        return text

    def display(self, idx: int, limit: int = 80) -> str:
        return self.show(self.commands[idx].display(limit))


@dataclass(frozen=True)
class Stdin:
    """Where a command's standard input comes from, as far as the script says."""

    kind: str = "none"  # none | text | file | pipe | unknown
    text: str | None = None
    holes: bool = False
    producer: str = ""


@dataclass(frozen=True)
class Ctx:
    depth: int = 0
    chain: int = 0
    stdin: Stdin = Stdin()
    params: tuple[str, ...] | None = None
    scope: int = 0
    speculative: bool = False


class _Fatal(Exception):
    pass


class _SpecAbort(Exception):
    pass


class Analyzer:
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
            raise _SpecAbort
        raise _Fatal(msg)

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

    # -- entry points --------------------------------------------------------------------------

    def run_text(self, text: str, what: str = "the command") -> None:
        try:
            try:
                tree, self._src = sp.parse_with_source(text)
            except sp.ShellSyntaxError as e:
                raise _Fatal(f"{what} cannot be parsed as a shell script ({e})") from None
            self.walk(tree.root_node, Ctx(scope=self._new_scope()))
            self._finish()
        except _Fatal as e:
            self.result.fatal = str(e)
        except RecursionError:
            self.result.fatal = f"{what} is nested too deeply to check"

    def run_tokens(self, toks: Sequence[Tok]) -> None:
        try:
            self.run_argv(toks, Ctx(scope=self._new_scope()))
            self._finish()
        except _Fatal as e:
            self.result.fatal = str(e)
        except RecursionError:
            self.result.fatal = "the command is nested too deeply to check"

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
                    raise _Fatal("its pipelines are too large to check")
            if len(flows) == before:
                break

    # -- the tree ------------------------------------------------------------------------------

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
        coll = self._push()
        for r in redirects:
            self._no_gaps(r, ctx)
            s = self._redirect_stdin(r, ctx)
            if s is not None:
                stdin = s
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
            text, holes = sp.heredoc_text(r, self._placeholder)
            return Stdin("text", text=text, holes=holes, producer="a here-document")
        if r.type == "herestring_redirect":
            word = [c for c in r.named_children]
            if not word:
                return None
            parts = sp.group_parts(word, ctx.params)
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
            if isinstance(p, sp.Hole):
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
                parts = sp.spanned_parts(c, ctx.params, in_dquote=False)
                toks.extend(toks_from_parts(parts, sp.node_text(c)))
            else:
                self.walk(c, ctx)
                toks.extend(toks_from_parts(sp.word_parts(c, ctx.params), sp.node_text(c)))
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
                expanded = sp.positional_words(group[0][2], ctx.params)
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
                    parts.extend(sp.word_parts(n, ctx.params))
                    source.append(sp.node_text(n))
            toks.extend(toks_from_parts(parts, "".join(source)))
        return toks

    # -- argv level ----------------------------------------------------------------------------

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
            with contextlib.suppress(_SpecAbort):
                self.run_argv(spec, replace(inner_ctx, speculative=True))
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

    def _join(self, parts: Sequence[Tok]) -> tuple[str, bool]:
        out: list[str] = []
        holes = False
        for t in parts:
            if t.value is not None:
                out.append(t.value)
            else:
                out.append(self._placeholder(t.text))
                holes = True
        return " ".join(out), holes

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


_SEQUENCES = frozenset({"pipeline", "list", "negated_command"})


def _last_command(node: Node) -> Node | None:
    """The statement a trailing redirection belongs to: the last one of a pipeline or list."""
    while node.type in _SEQUENCES:
        kids = [c for c in node.named_children if c.type != "comment"]
        if not kids:
            return None
        node = kids[-1]
    return node


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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


__all__ = ["Analysis", "Cmd", "Role", "analyze_argv", "analyze_text"]
