"""One source of truth: every command judges the repository by the :class:`Project` ``open_project`` built.

Each command runs in-process with spies on the loaders (config, workspace, AGENTS.md policy, ignore
rules, scanner). A loader called from anywhere but ``codeward.project`` is a second, drifting copy
of the assembly and fails the test; and what the command reports (blocked paths, decisions, the
sandbox's hidden paths, the instructions sent) is compared with what the project computed.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from codeward.cli.app import run
from codeward.policy import decide_command

HIDDEN_AGENTS = "secret-team-instructions-quince-9093"
LOADERS = (
    ("codeward.config.load", "load_config"),
    ("codeward.policy.loading", "load_policy"),
    ("codeward.privacy.ignore", "load_ignore"),
    ("codeward.privacy.scanner", "load_scanner"),
)


@dataclass
class Spies:
    calls: list[tuple[str, str]] = field(default_factory=list)
    """(loader, the module that called it)."""
    projects: list[Any] = field(default_factory=list)
    specs: list[tuple[Any, Any]] = field(default_factory=list)

    def outside_project(self) -> list[tuple[str, str]]:
        return [(name, caller) for name, caller in self.calls if not caller.startswith("codeward.project")]

    def reset(self) -> None:
        self.calls.clear()
        self.projects.clear()
        self.specs.clear()


def _replace_everywhere(monkeypatch: pytest.MonkeyPatch, original: Any, spy: Any) -> None:
    """Point every module-level name bound to ``original`` (``from x import f`` copies too) at ``spy``."""
    for mod in list(sys.modules.values()):
        if not getattr(mod, "__name__", "").startswith("codeward"):
            continue
        for attr, value in list(vars(mod).items()):
            if value is original:
                monkeypatch.setattr(mod, attr, spy)


@pytest.fixture
def spies(monkeypatch: pytest.MonkeyPatch) -> Iterator[Spies]:
    import importlib

    import codeward.project.assemble as assemble
    import codeward.project.model as model
    from codeward.workspace import Workspace

    s = Spies()
    for module_name, name in LOADERS:
        original = getattr(importlib.import_module(module_name), name)

        def spy(*a: Any, _o: Callable[..., Any] = original, _n: str = name, **kw: Any) -> Any:
            s.calls.append((_n, sys._getframe(1).f_globals.get("__name__", "?")))
            return _o(*a, **kw)

        _replace_everywhere(monkeypatch, original, spy)
    discover = Workspace.discover.__func__  # type: ignore[attr-defined]

    def spy_discover(cls: type, cwd: Path, **kw: Any) -> Any:
        s.calls.append(("Workspace.discover", sys._getframe(1).f_globals.get("__name__", "?")))
        return discover(cls, cwd, **kw)

    monkeypatch.setattr(Workspace, "discover", classmethod(spy_discover))
    opened = assemble.open_project

    def spy_open(*a: Any, **kw: Any) -> Any:
        project = opened(*a, **kw)
        s.projects.append(project)
        return project

    _replace_everywhere(monkeypatch, opened, spy_open)
    import codeward.project as package

    monkeypatch.setattr(package, "open_project", spy_open)
    spec_of = model.Project.sandbox_spec

    def spy_spec(self: Any, **kw: Any) -> Any:
        spec = spec_of(self, **kw)
        s.specs.append((self, spec))
        return spec

    monkeypatch.setattr(model.Project, "sandbox_spec", spy_spec)
    yield s


@pytest.fixture
def repo(git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (git_repo / "AGENTS.md").write_text(
        f'# notes\n{HIDDEN_AGENTS}\n\ndisallow_commands:\n- "rm -rf"\ndisallow_directories:\n- data/customers/\n'
    )
    (git_repo / ".codexignore").write_text("/AGENTS.md\nconfig/production.yml\n")
    (git_repo / "data" / "customers").mkdir(parents=True)
    (git_repo / "data" / "customers" / "list.csv").write_text("alice@example.com,4111\n")
    (git_repo / "config").mkdir()
    (git_repo / "config" / "production.yml").write_text("db: prod\n")
    (git_repo / "src").mkdir()
    (git_repo / "src" / "app.py").write_text("print('hi')\n")
    monkeypatch.chdir(git_repo)
    return git_repo


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _one_project(spies: Spies) -> Any:
    assert spies.outside_project() == [], "a loader was called outside codeward.project"
    assert len(spies.projects) == 1, f"{len(spies.projects)} projects opened for one command"
    return spies.projects[0]


def _hidden(project: Any) -> set[str]:
    return {p.relative_to(project.workspace.root).as_posix() for p, _ in project.ignore.blocked_paths()}


def test_preview_reports_what_the_project_hides(repo: Path, spies: Spies, capsys: Any) -> None:
    code, out, _ = _cli(capsys, "preview", "--json")
    project = _one_project(spies)
    blocked = {b["path"].rstrip("/") for b in json.loads(out)["blocked"]}
    assert code == 0 and blocked == _hidden(project)
    assert {"AGENTS.md", "data/customers", "config/production.yml"} <= blocked


def test_redact_refuses_what_the_project_hides(repo: Path, spies: Spies, capsys: Any) -> None:
    code, out, err = _cli(capsys, "redact", "data/customers/list.csv")
    project = _one_project(spies)
    assert code == 1 and "alice" not in out and "hidden by" in err
    assert project.hidden(repo / "data" / "customers" / "list.csv")
    spies.reset()
    code, out, _ = _cli(capsys, "redact", "src/app.py")
    _one_project(spies)
    assert code == 0 and out == "print('hi')\n"


def test_policy_check_decides_by_the_projects_policy(repo: Path, spies: Spies, capsys: Any) -> None:
    code, out, _ = _cli(capsys, "-a", "full-auto", "policy", "check", "--json", "--", "rm -rf build")
    project = _one_project(spies)
    assert code == 0 and project.mode == "full-auto"
    assert json.loads(out) == decide_command("rm -rf build", project.mode, project.policy).to_json()
    assert json.loads(out)["decision"] == "deny" and json.loads(out)["source"].startswith("AGENTS.md:")


@pytest.mark.sandbox
def test_sandbox_hides_what_the_project_hides(repo: Path, spies: Spies, capsys: Any) -> None:
    _code, out, _ = _cli(capsys, "sandbox", "--", "cat data/customers/list.csv config/production.yml; echo done")
    project = _one_project(spies)
    [(used, spec)] = spies.specs
    assert used is project
    assert set(spec.masked) >= {p for p, _ in project.ignore.blocked_paths()}
    assert "alice" not in out and "db: prod" not in out and "done" in out


def test_doctor_judges_the_project(repo: Path, spies: Spies, capsys: Any) -> None:
    _code, out, _ = _cli(capsys, "-c", 'approval_mode="full-auto"', "doctor", "--json")
    project = _one_project(spies)
    checks = {c["check"]: c for c in json.loads(out)}
    assert project.mode == "full-auto" and checks["approval-mode"]["status"] == "warn"  # -c reached doctor


def test_scan_uses_the_projects_scanner(repo: Path, spies: Spies, capsys: Any) -> None:
    (repo / "src" / "keys.py").write_text('token = "ghp_Vb7Qx2Lm9Pz4Kt6Wr1Ys8Nd3Fh5Jc0Ag2Ek4"\n')
    code, out, _ = _cli(capsys, "scan", "--format", "json", "src")
    _one_project(spies)
    assert code == 1 and [f["path"] for f in json.loads(out)] == ["src/keys.py"]


def test_exec_dry_run_sends_only_what_the_project_allows(
    repo: Path, spies: Spies, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code, out, _ = _cli(capsys, "exec", "--dry-run", "what is here?")
    project = _one_project(spies)
    assert code == 0 and project.hidden(repo / "AGENTS.md")
    assert HIDDEN_AGENTS not in out and "what is here?" in out


def test_the_session_keeps_one_project_across_mode_and_new(repo: Path, spies: Spies) -> None:
    from codeward.agent.session import build_session
    from codeward.config.load import ConfigOverrides
    from codeward.events import EventBus
    from codeward.tools.asking import NoTerminalApprover

    session = build_session(
        repo, ConfigOverrides(), events=EventBus(), approver=NoTerminalApprover(), need_key=False, persist=False
    )
    first = _one_project(spies)
    assert session.project is first and session.ctx.policy is first.policy
    hidden_before = first.ignore
    spies.reset()
    session.set_mode("full-auto")
    assert spies.calls == [] and spies.projects == []  # a mode change reads nothing again
    assert session.project.mode == "full-auto" and session.project.ignore is hidden_before
    assert session.project.policy is first.policy and session.ctx.mode == "full-auto"
    assert HIDDEN_AGENTS not in session.agent.preamble.text and "full-auto" in session.agent.preamble.text
    session.clear()
    renewed = _one_project(spies)  # /new opens the project afresh, by the same code
    assert session.project is not first and session.project.mode == "full-auto" and renewed.mode != "full-auto"
    assert _hidden(session.project) == _hidden(first)
    assert HIDDEN_AGENTS not in session.agent.preamble.text


def test_config_explain_explains_the_projects_config(repo: Path, spies: Spies, capsys: Any) -> None:
    code, out, _ = _cli(capsys, "-c", 'approval_mode="auto-edit"', "config", "explain", "--json")
    project = _one_project(spies)
    doc = json.loads(out)
    mode = next(v for v in doc["values"] if v["key"] == "approval_mode")
    assert code == 0 and mode["value"] == project.mode == "auto-edit" and mode["origin"].startswith("-c")
    sources = {e["source"].split(":")[0] for e in doc["policy"]["disallow_commands"]}
    assert sources == {"AGENTS.md"} and len(doc["policy"]["disallow_commands"]) == len(project.policy.disallow_commands)
