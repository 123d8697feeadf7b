"""No import cycle inside ``codeward.policy`` (issue 9): every module can be read bottom-up.

Every ``import`` statement counts — at module level, inside a function, or under
``TYPE_CHECKING`` — because a lazy import is still a dependency: the cycles this replaced
(``agents_md`` <-> ``engine``, ``analysis`` <-> ``producers``) were of exactly those kinds.
"""

from __future__ import annotations

import ast
from pathlib import Path

import codeward.policy

PACKAGE = "codeward.policy"
ROOT = Path(codeward.policy.__file__).parent


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join([PACKAGE, *parts])


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    """The package's modules that ``path`` imports, by any kind of import statement."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = name if is_pkg else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    pkg = pkg.rpartition(".")[0]
                base = f"{pkg}.{base}" if base else pkg
            subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known]
            # `from pkg import submodule` needs the submodule; `from pkg import name` needs pkg
            targets = subs if len(subs) == len(node.names) else [base, *subs]
        for t in targets:
            if t in known and t != name:
                out.add(t)
    return out


def graph() -> dict[str, set[str]]:
    files = sorted(ROOT.rglob("*.py"))
    known = {_module_name(f) for f in files}
    # the package's __init__ only re-exports; an edge into it from a submodule would be a cycle too
    return {_module_name(f): _imports(f, _module_name(f), known) for f in files}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(edges.get(n, ())):
            if state.get(m) == 1:
                return [*stack[stack.index(m) :], m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(edges):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def test_no_import_cycle_inside_the_policy_package() -> None:
    cycle = find_cycle(graph())
    assert cycle is None, " -> ".join(cycle or [])


def test_the_checker_sees_lazy_and_type_checking_imports(tmp_path: Path) -> None:
    """Control: the two kinds of cycle this replaced are caught by the checker."""
    lazy = {"a": {"b"}, "b": {"a"}}
    assert find_cycle(lazy) == ["a", "b", "a"]
    src = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from codeward.policy.x import Y\ndef f():\n    from codeward.policy import y\n"
    probe = tmp_path / "probe.py"
    probe.write_text(src, encoding="utf-8")
    found = _imports(probe, f"{PACKAGE}.probe", {f"{PACKAGE}.x", f"{PACKAGE}.y"})
    assert found == {f"{PACKAGE}.x", f"{PACKAGE}.y"}


def test_no_policy_module_is_over_the_size_limit() -> None:
    """Small modules with one job: no file over ~500 lines (the project's standard)."""
    long = {f.name: n for f in ROOT.rglob("*.py") if (n := len(f.read_text(encoding="utf-8").splitlines())) > 520}
    assert not long, long
