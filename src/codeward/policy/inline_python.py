"""Python given inline (``python3 -c``, ``gdb -ex 'python …'``, vim's ``:py3``): the commands it runs.

The code is parsed with :mod:`ast` (never run). Every reference to something that starts a
process — ``os.system``, ``os.popen``, the ``subprocess`` functions, ``os.exec*`` / ``os.spawn*``,
``pty.spawn``, ``asyncio.create_subprocess_*`` — must be a call whose command is a constant the
reader can fold (string literals, ``+``, f-strings without fields, ``" ".join([...])``, a name
assigned a constant once); its shell text or argv is then checked like any other command.
Anything else — such a function passed around or called with a computed value, ``eval`` /
``exec`` / ``compile`` of a computed string, ``getattr`` with a computed name, ``__import__`` /
``importlib`` of a computed module, ``ctypes``, ``sys.modules``, dunder attribute tricks, code that
does not parse — is *opaque*. ``exec`` / ``eval`` of a constant are read in turn.
``shutil.rmtree(x)`` and ``os.chmod(x, 0o777)`` are read as ``rm -rf x`` and ``chmod 777 x``.
"""

from __future__ import annotations

import ast
import re
import shlex

from codeward.policy.inline_found import MAX_INLINE_DEPTH, Found

SHELL_CALLS = frozenset(
    {
        "os.system",
        "os.popen",
        "subprocess.getoutput",
        "subprocess.getstatusoutput",
        "commands.getoutput",
        "commands.getstatusoutput",
        "asyncio.create_subprocess_shell",
        "platform.popen",
    }
)
ARGV_CALLS = frozenset(
    {
        "subprocess.run",
        "subprocess.call",
        "subprocess.check_call",
        "subprocess.check_output",
        "subprocess.Popen",
        "asyncio.create_subprocess_exec",
        "pty.spawn",
    }
)
EXEC_FAMILY = frozenset(
    {f"os.{n}" for n in ("execl", "execle", "execlp", "execlpe", "execv", "execve", "execvp", "execvpe")}
    | {f"os.{n}" for n in ("spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv", "spawnve", "spawnvp", "spawnvpe")}
    | {"os.posix_spawn", "os.posix_spawnp"}
)
DYNAMIC = frozenset({"eval", "exec", "compile", "getattr", "__import__", "importlib.import_module", "vars", "globals"})
DYNAMIC |= frozenset({"locals", "builtins.eval", "builtins.exec", "runpy.run_path", "runpy.run_module"})
OPAQUE_MODULES = frozenset({"ctypes", "cffi", "_posixsubprocess", "posix", "nt", "marshal", "pickle", "code"})
PROCESS_MODULES = ("os", "subprocess", "pty", "asyncio", "commands", "platform", "shutil")
RMTREE = frozenset({"shutil.rmtree"})
CHMOD = frozenset({"os.chmod", "os.lchmod", "os.fchmod"})


# every way the reader knows to start a process, or to hide one, names one of these words (or a
# dunder); code that names none of them runs no command, and is not parsed at all
_MAY_RUN = re.compile(
    r"__|\b(?:os|subprocess|pty|asyncio|commands|platform|shutil|posix|nt|exec|eval|compile|getattr"
    r"|import_module|importlib|vars|globals|locals|builtins|runpy|ctypes|cffi|_posixsubprocess|marshal"
    r"|pickle|code|modules|system|popen|spawn\w*|execv\w*|execl\w*|rmtree|chmod)\b"
)


def read_python(code: str, depth: int = 0) -> Found:
    """The commands ``code`` runs, and what in it cannot be read."""
    found = Found()
    if not _MAY_RUN.search(code):
        return found
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        found.cannot("the Python code does not parse here, so what it runs cannot be read")
        return found
    _Reader(found, depth).read(tree)
    return found


class _Reader:
    def __init__(self, found: Found, depth: int) -> None:
        self.found = found
        self.depth = depth
        self.aliases: dict[str, str] = {}  # local name -> dotted name (import os as o; from os import system)
        self.consts: dict[str, object] = {}
        self.assigned: dict[str, int] = {}
        self.handled: set[int] = set()  # ids of Attribute/Name nodes read as a call's function
        self.imported: set[str] = set()

    # -- setup -------------------------------------------------------------------------------

    def read(self, tree: ast.AST) -> None:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    self.aliases[(a.asname or a.name).split(".")[0]] = (a.asname and a.name) or a.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module:
                for a in node.names:
                    if a.name == "*":
                        if node.module in PROCESS_MODULES or node.module in OPAQUE_MODULES:
                            self.found.cannot(f"`from {node.module} import *` hides which functions are called")
                        continue
                    self.aliases[a.asname or a.name] = f"{node.module}.{a.name}"
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.NamedExpr)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    if isinstance(t, ast.Name):
                        self.assigned[t.id] = self.assigned.get(t.id, 0) + (2 if isinstance(node, ast.AugAssign) else 1)
                        if isinstance(node, (ast.Assign, ast.NamedExpr)) and node.value is not None:
                            self.consts[t.id] = node.value
        self.imported = {v.split(".")[0] for v in self.aliases.values()}
        # only names assigned exactly once keep their constant
        self.consts = {k: v for k, v in self.consts.items() if self.assigned.get(k) == 1}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                self._call(node)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Attribute, ast.Name)) and id(node) not in self.handled:
                self._reference(node)

    # -- names -------------------------------------------------------------------------------

    def dotted(self, node: ast.AST) -> str | None:
        """``os.system`` for ``os.system``, ``o.system`` (import os as o), ``system`` (from os import system)."""
        if isinstance(node, ast.Name):
            if node.id in self.aliases:
                return self.aliases[node.id]
            value = self.consts.get(node.id)
            if isinstance(value, ast.Call):
                module = self._imported_module(value)
                if module is not None:
                    return module
            return node.id
        if isinstance(node, ast.Attribute):
            base = self.dotted(node.value)
            return f"{base}.{node.attr}" if base is not None else None
        if isinstance(node, ast.Call):
            return self._imported_module(node)
        return None

    def _imported_module(self, call: ast.Call) -> str | None:
        """``__import__("os")`` / ``importlib.import_module("os")`` with a constant name."""
        if not isinstance(call.func, (ast.Name, ast.Attribute)):
            return None
        name = (
            self.dotted(call.func)
            if not isinstance(call.func, ast.Name)
            else self.aliases.get(call.func.id, call.func.id)
        )
        if name in ("__import__", "importlib.import_module") and call.args:
            module = self.fold(call.args[0])
            if isinstance(module, str):
                self.handled.add(id(call.func))
                return module
        return None

    def fold(self, node: ast.AST | None, seen: int = 0) -> object:
        """The constant value of an expression (str, list of str, int), or None."""
        if node is None or seen > 20:
            return None
        if isinstance(node, ast.Constant) and isinstance(node.value, (str, int, bytes)):
            return node.value.decode("utf-8", "replace") if isinstance(node.value, bytes) else node.value
        if isinstance(node, ast.Name) and node.id in self.consts:
            return self.fold(self.consts[node.id], seen + 1)  # type: ignore[arg-type]
        if isinstance(node, ast.JoinedStr):
            parts = [self.fold(v, seen + 1) for v in node.values]
            return "".join(p for p in parts if isinstance(p, str)) if all(isinstance(p, str) for p in parts) else None
        if isinstance(node, ast.FormattedValue):
            inner = self.fold(node.value, seen + 1)
            return str(inner) if isinstance(inner, (str, int)) and node.format_spec is None else None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            a, b = self.fold(node.left, seen + 1), self.fold(node.right, seen + 1)
            if isinstance(a, str) and isinstance(b, str):
                return a + b
            if isinstance(a, list) and isinstance(b, list):
                return a + b
            return None
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [self.fold(e, seen + 1) for e in node.elts]
            return items if all(isinstance(i, str) for i in items) else None
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "join"
            and len(node.args) == 1
        ):
            sep, joined = self.fold(node.func.value, seen + 1), self.fold(node.args[0], seen + 1)
            if isinstance(sep, str) and isinstance(joined, list):
                return sep.join(joined)
        if isinstance(node, ast.Call) and self.dotted(node.func) == "shlex.split" and len(node.args) == 1:
            text = self.fold(node.args[0], seen + 1)
            if isinstance(text, str):
                try:
                    return shlex.split(text)
                except ValueError:
                    return None
        return None

    # -- calls -------------------------------------------------------------------------------

    def _call(self, call: ast.Call) -> None:
        name = self.dotted(call.func)
        if name is None and isinstance(call.func, ast.Attribute) and call.func.attr == "chmod":
            name = "<path>.chmod"  # Path("f").chmod(0o777)
        if name is None:
            return
        if name in SHELL_CALLS:
            self.handled.add(id(call.func))
            self._shell_arg(name, call.args[0] if call.args else _kw(call, "cmd", "command"))
        elif name in ARGV_CALLS:
            self.handled.add(id(call.func))
            first = call.args[0] if call.args else _kw(call, "args")
            shell = _kw(call, "shell")
            if name == "asyncio.create_subprocess_exec":
                self._argv(name, call.args)
            elif shell is not None and not (isinstance(shell, ast.Constant) and not shell.value):
                self._shell_arg(name, first)
            else:
                value = self.fold(first)
                if isinstance(value, str):
                    # a string without shell=True names one program (bash would not split it either)
                    self.found.argvs.append((value,))
                elif isinstance(value, list) and value:
                    self.found.argvs.append(tuple(value))
                else:
                    self.found.cannot(f"the command given to {name}() is computed, not written out")
        elif name in EXEC_FAMILY:
            self.handled.add(id(call.func))
            self._exec_family(name, call)
        elif name in RMTREE:
            self.handled.add(id(call.func))
            path = self.fold(call.args[0]) if call.args else None
            where = path if isinstance(path, str) else "<path>"
            self.found.equivalents.append((("rm", "-rf", "--", where), f"deletes a tree, like `rm -rf {where}`"))
        elif name in CHMOD or (name.endswith(".chmod") and len(call.args) == 1):
            self.handled.add(id(call.func))
            pathlib_style = name not in CHMOD  # Path("f").chmod(0o777)
            mode_arg = call.args[0] if pathlib_style else (call.args[1] if len(call.args) > 1 else _kw(call, "mode"))
            mode = self.fold(mode_arg)
            path = None if pathlib_style else (self.fold(call.args[0]) if call.args else None)
            where = path if isinstance(path, str) else "<path>"
            if isinstance(mode, int):
                self.found.equivalents.append((("chmod", f"{mode:o}", where), f"sets mode {mode:o}, like `chmod`"))
            else:
                self.found.cannot(f"the mode given to {name}() is computed, not written out")
        elif name in DYNAMIC or name.startswith("builtins."):
            self.handled.add(id(call.func))
            self._dynamic(name, call)

    def _shell_arg(self, name: str, arg: ast.AST | None) -> None:
        value = self.fold(arg)
        if isinstance(value, str):
            self.found.shell.append(value)
        elif isinstance(value, list) and value:
            self.found.shell.append(" ".join(shlex.quote(v) for v in value))
        else:
            self.found.cannot(f"the command given to {name}() is computed, not written out")

    def _argv(self, name: str, args: list[ast.expr]) -> None:
        values = [self.fold(a) for a in args]
        if values and all(isinstance(v, str) for v in values):
            self.found.argvs.append(tuple(values))  # type: ignore[arg-type]
        else:
            self.found.cannot(f"the command given to {name}() is computed, not written out")

    def _exec_family(self, name: str, call: ast.Call) -> None:
        args = list(call.args)
        if ".spawn" in name and "posix_spawn" not in name:
            args = args[1:]  # the mode
        values = [self.fold(a) for a in args]
        program = values[0] if values else None
        if not isinstance(program, str):
            self.found.cannot(f"the program given to {name}() is computed, not written out")
            return
        rest: list[object]
        if name.rstrip("e").endswith(("v", "vp")) or "posix_spawn" in name:
            rest = values[1] if len(values) > 1 and isinstance(values[1], list) else [None]
        else:
            rest = values[1:]
            if name.endswith("e") or name.endswith("pe"):
                rest = rest[:-1]  # the environment
        if not all(isinstance(r, str) for r in rest):
            self.found.cannot(f"the arguments given to {name}() are computed, not written out")
            return
        self.found.argvs.append((program, *rest[1:]))  # type: ignore[arg-type]

    def _dynamic(self, name: str, call: ast.Call) -> None:
        if name in ("eval", "exec", "compile", "builtins.eval", "builtins.exec"):
            code = self.fold(call.args[0]) if call.args else None
            if isinstance(code, str) and self.depth < MAX_INLINE_DEPTH:
                self.found.extend(read_python(code, self.depth + 1))
            else:
                self.found.cannot(f"{name}() runs code that is computed, not written out")
        elif name == "getattr":
            attr = self.fold(call.args[1]) if len(call.args) > 1 else None
            if not isinstance(attr, str):
                self.found.cannot("getattr() with a computed name can reach any function")
            else:
                target = self.dotted(call.args[0])
                full = f"{target}.{attr}" if target else attr
                if full in SHELL_CALLS | ARGV_CALLS | EXEC_FAMILY or attr.startswith("__"):
                    self.found.cannot(f"getattr() reaches {full} indirectly")
        elif name in ("__import__", "importlib.import_module"):
            module = self.fold(call.args[0]) if call.args else None
            if not isinstance(module, str):
                self.found.cannot(f"{name}() of a computed module name")
            elif module.split(".")[0] in OPAQUE_MODULES:
                self.found.cannot(f"the code loads {module}, which can run anything")
        else:
            self.found.cannot(f"{name}() gives the code access to functions by computed names")

    # -- references that are not calls ----------------------------------------------------------

    def _reference(self, node: ast.Attribute | ast.Name) -> None:
        if isinstance(node, ast.Attribute) and node.attr.startswith("__") and node.attr.endswith("__"):
            self.found.cannot(f"the code reaches `{node.attr}`, which can hide what it calls")
            return
        if isinstance(node, ast.Name) and node.id in ("__builtins__", "__loader__", "__spec__"):
            self.found.cannot(f"the code reaches `{node.id}`, which can hide what it calls")
            return
        name = self.dotted(node)
        if name is None:
            return
        root = name.split(".")[0]
        if root in OPAQUE_MODULES and root in self.imported:
            self.found.cannot(f"the code uses {root}, which can run anything")
        elif name == "sys.modules":
            self.found.cannot("the code reaches modules through sys.modules")
        elif name in SHELL_CALLS | ARGV_CALLS | EXEC_FAMILY:
            self.found.cannot(f"{name} is used without being called directly, so its command cannot be read")


def _kw(call: ast.Call, *names: str) -> ast.expr | None:
    for k in call.keywords:
        if k.arg in names:
            return k.value
    return None
