"""Ignore rules: built-ins hold with no file, nested files work, a repository cannot un-ignore."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeward.privacy.ignore import BUILTIN_PATTERNS, load_ignore
from codeward.workspace import Workspace


def tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


@pytest.fixture
def ws(git_repo: Path) -> Workspace:
    return Workspace.discover(git_repo)


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        "config/.env.production",
        "certs/server.pem",
        "deploy/app.key",
        "a.p12",
        "b.pfx",
        "id_rsa",
        "keys/id_ed25519.pub",
        ".ssh/config",
        ".aws/credentials",
        ".netrc",
        ".git-credentials",
        "secrets/db.txt",
        "app/credentials/x.json",
        "infra/terraform.tfstate",
        "infra/terraform.tfstate.backup",
    ],
)
def test_builtin_defaults_hold_with_no_file(ws, cw_home, path):
    tree(ws.root, {path: "x"})
    rule = load_ignore(ws, cw_home).match(path)
    assert rule is not None and rule.source == "built-in", path


def test_ordinary_files_are_visible(ws, cw_home):
    tree(ws.root, {"src/app.py": "", "docs/keys.md": "", "env.py": ""})
    m = load_ignore(ws, cw_home)
    assert [p for p in ("src/app.py", "docs/keys.md", "env.py", "README.md") if m.match(p)] == []


def test_both_ignore_files_nested_and_negation(ws, cw_home):
    tree(
        ws.root,
        {
            ".codexignore": "# business data\n*.csv\n!public.csv\n",
            ".codewardignore": "logs/\n",
            "pkg/.codewardignore": "local.cfg\n!keep.csv\n",
            "a.csv": "",
            "public.csv": "",
            "logs/x.log": "",
            "pkg/local.cfg": "",
            "pkg/keep.csv": "",
            "local.cfg": "",
        },
    )
    m = load_ignore(ws, cw_home)
    a = m.match("a.csv")
    assert a is not None and a.describe() == "rule '*.csv' (.codexignore:2)"
    assert m.match("public.csv") is None
    assert m.match("logs/x.log").source == ".codewardignore"
    assert m.match("pkg/local.cfg").source == "pkg/.codewardignore"
    assert m.match("local.cfg") is None  # the nested file's patterns are relative to its directory
    assert m.match("pkg/keep.csv") is None  # the deeper file wins, as in git


def test_repository_cannot_unignore_builtin_or_global(ws, cw_home):
    (cw_home / "ignore").write_text("*.sqlite\n")
    tree(ws.root, {".codexignore": "!.env\n!db.sqlite\n", ".env": "K=v", "db.sqlite": ""})
    m = load_ignore(ws, cw_home)
    assert m.match(".env").source == "built-in"
    assert m.match("db.sqlite").source == str(cw_home / "ignore")


def test_user_global_file_may_reallow_a_builtin(ws, cw_home):
    (cw_home / "ignore").write_text("!.env.example\n")
    tree(ws.root, {".env.example": "", ".env": ""})
    m = load_ignore(ws, cw_home)
    assert m.match(".env.example") is None
    assert m.match(".env") is not None


def test_files_inside_an_ignored_directory_cannot_be_reincluded(ws, cw_home):
    tree(ws.root, {".codexignore": "private/\n!private/ok.txt\n", "private/ok.txt": ""})
    assert load_ignore(ws, cw_home).match("private/ok.txt") is not None


def test_disallow_directories_and_masked_paths(ws, cw_home):
    tree(
        ws.root,
        {
            "data/customers/a.csv": "",
            "data/public/b.csv": "",
            ".codexignore": "!data/customers/\n",
            "src/.env": "",
            "src/ok.py": "",
        },
    )
    m = load_ignore(ws, cw_home, [("data/customers/", "AGENTS.md:7", False)])
    rule = m.match("data/customers/a.csv")
    assert rule is not None and rule.describe() == "rule 'data/customers/' (AGENTS.md:7)"
    assert m.match("data/public/b.csv") is None
    masked = sorted(p.relative_to(ws.root).as_posix() for p in m.masked_paths())
    assert masked == ["data/customers", "src/.env"]


def test_gitignore_hides_from_listing_but_is_no_boundary(ws, cw_home):
    tree(ws.root, {".gitignore": "build/\n", "build/out.txt": ""})
    m = load_ignore(ws, cw_home)
    assert m.match("build/out.txt") is None
    assert m.hidden_from_listing("build", True) and m.hidden_from_listing(".git/config", False)


def test_builtin_list_is_the_design_list():
    assert set(BUILTIN_PATTERNS) == {
        ".env",
        ".env.*",
        "*.pem",
        "*.key",
        "*.p12",
        "*.pfx",
        "id_rsa*",
        "id_ed25519*",
        ".ssh/",
        ".aws/",
        ".netrc",
        ".git-credentials",
        "secrets/",
        "credentials/",
        "*.tfstate*",
    }
