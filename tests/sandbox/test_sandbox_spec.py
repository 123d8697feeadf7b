"""Project.sandbox_spec (the one spec builder the agent and the CLI share) and validate_spec's refusals."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from codeward.config.load import ConfigOverrides
from codeward.errors import ConfigError, UsageError
from codeward.project import open_project
from codeward.sandbox import SandboxSpec
from codeward.sandbox.spec import is_within, validate_spec


def test_spec_from_config_and_agents_md(git_repo: Path, cw_home: Path, tmp_path: Path) -> None:
    extra = tmp_path / "cache"
    extra.mkdir()
    audit = tmp_path / "audit-logs"
    audit.mkdir()
    (cw_home / "config.toml").write_text(
        "[sandbox]\n"
        f'writable_roots = ["{extra}"]\n'
        'allowed_domains = ["pypi.org"]\n'
        'env_passthrough = ["CARGO_HOME"]\n'
        "timeout_ms = 5000\noutput_cap_bytes = 4096\nmax_file_size_bytes = 2048\nmax_processes = 64\n"
        f'[audit]\ndir = "{audit}"\n'
    )
    (git_repo / "AGENTS.md").write_text("disallow_directories:\n- data/customers/\n")
    (git_repo / "data" / "customers").mkdir(parents=True)
    (git_repo / ".env").write_text("x")
    sub = git_repo / "pkg"
    sub.mkdir()
    spec = open_project(sub).sandbox_spec()
    assert spec.workspace == git_repo and spec.cwd == sub
    assert spec.writable == (extra,)
    assert spec.allowed_domains == ("pypi.org",) and not spec.network
    assert spec.env_passthrough == ("CARGO_HOME",)
    assert (spec.timeout_s, spec.output_cap, spec.max_file_size, spec.max_processes) == (5.0, 4096, 2048, 64)
    assert set(spec.masked) >= {git_repo / ".env", git_repo / "data" / "customers", audit}
    assert git_repo / ".git" in spec.protected and git_repo / "AGENTS.md" in spec.protected
    assert spec.codeward_home == cw_home
    net = open_project(sub).sandbox_spec(network=True, writable=[str(git_repo)])
    assert net.network and net.writable == (extra,)  # the workspace itself is not repeated


def test_allow_network_flag_through_config(git_repo: Path) -> None:
    assert open_project(git_repo, ConfigOverrides(allow_network=True)).sandbox_spec().network


def test_the_projects_ignore_matcher_is_used(git_repo: Path) -> None:
    (git_repo / "notes").mkdir()
    (git_repo / "notes" / "x.pem").write_text("k")
    project = open_project(git_repo)
    spec = project.sandbox_spec()
    assert spec.masked == tuple(project.ignore.masked_paths()) and git_repo / "notes" / "x.pem" in spec.masked


def test_refusals(git_repo: Path, cw_home: Path) -> None:
    (cw_home / "config.toml").write_text('[sandbox]\nenv_passthrough = ["GITHUB_TOKEN"]\n')
    with pytest.raises(ConfigError, match="GITHUB_TOKEN is refused"):
        open_project(git_repo).sandbox_spec()
    (cw_home / "config.toml").write_text('[sandbox]\nwritable_roots = ["relative/dir"]\n')
    with pytest.raises(UsageError, match="use an absolute path"):
        open_project(git_repo).sandbox_spec()
    (cw_home / "config.toml").write_text("")
    with pytest.raises(UsageError, match="no such directory"):
        open_project(git_repo).sandbox_spec(writable=["/nonexistent/x"])


def _spec(ws: Path, **kw: Any) -> SandboxSpec:
    return replace(SandboxSpec(workspace=ws, cwd=ws), **kw)


def test_validate_spec(tmp_path: Path) -> None:
    validate_spec(_spec(tmp_path), ["true"])
    cases: list[tuple[SandboxSpec, list[str], str]] = [
        (_spec(tmp_path), [], "the command is empty"),
        (_spec(tmp_path), ["a\0b"], "NUL byte"),
        (_spec(Path("/")), ["true"], "/ cannot be writable"),
        (_spec(tmp_path, cwd=Path("/etc")), ["true"], "outside the workspace"),
        (_spec(tmp_path, writable=(Path("relative"),)), ["true"], "absolute path"),
        (_spec(tmp_path, writable=(tmp_path / "missing",)), ["true"], "does not exist"),
        (_spec(tmp_path, cwd=tmp_path / "secrets", masked=(tmp_path / "secrets",)), ["true"], "hidden from commands"),
        (_spec(tmp_path, timeout_s=0), ["true"], "timeout must be positive"),
    ]
    for spec, argv, msg in cases:
        with pytest.raises(UsageError, match=msg):
            validate_spec(spec, argv)


def test_workspace_containing_home_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home" / "u"
    home.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    with pytest.raises(UsageError, match="contains the home directory"):
        validate_spec(_spec(tmp_path / "home"), ["true"])
    with pytest.raises(UsageError, match="contains the home directory"):
        validate_spec(_spec(home), ["true"])


def test_is_within() -> None:
    assert is_within(Path("/a/b"), Path("/a"))
    assert is_within(Path("/a"), Path("/a"))
    assert is_within(Path("/x"), Path("/"))
    assert not is_within(Path("/ab"), Path("/a"))
    assert not is_within(Path("/a"), Path("/a/b"))


def test_readable_roots_reach_the_spec_resolved(git_repo: Path, cw_home: Path, tmp_path: Path) -> None:
    other = tmp_path / "other-project"
    other.mkdir()
    (cw_home / "config.toml").write_text(f'[sandbox]\nreadable_roots = ["{other}"]\n')
    assert open_project(git_repo).sandbox_spec().readable_roots == (other.resolve(),)
    (cw_home / "config.toml").write_text('[sandbox]\nreadable_roots = ["relative/dir"]\n')
    with pytest.raises(UsageError, match="readable_roots: relative/dir: use an absolute path"):
        open_project(git_repo).sandbox_spec()
