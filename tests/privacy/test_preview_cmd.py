"""``codeward preview``: what the agent may read, and the rule behind each blocked path."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cw_subprocess import run_cw


def make(root: Path) -> None:
    for rel, text in {
        "src/app.py": "print('hi')\n",
        ".env": "K=v\n",
        "certs/server.pem": "x\n",
        "data/customers/a.csv": "alice\n",
        "build/out.txt": "x\n",
        ".gitignore": "build/\n",
        ".codexignore": "# business data\n*.csv\n",
        "AGENTS.md": "disallow_directories:\n- data/customers/\n",
    }.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def test_preview_json_lists_readable_and_blocked_with_rules(git_repo: Path) -> None:
    make(git_repo)
    r = run_cw("preview", "--json", cwd=git_repo)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    blocked = {b["path"]: (b["rule"], b["source"], b["line"]) for b in d["blocked"]}
    assert blocked[".env"] == (".env", "built-in", None)
    assert blocked["certs/server.pem"] == ("*.pem", "built-in", None)
    assert blocked["data/customers/"] == ("data/customers/", "AGENTS.md:2", None)
    assert "src/app.py" in d["readable"] and "README.md" in d["readable"]
    assert not any(p.startswith((".env", "data/customers", "certs/server.pem")) for p in d["readable"])
    assert d["hidden_from_listings"] == ["build/out.txt"]  # .gitignore: hidden from listings, still readable


def test_preview_text_and_other_directory(git_repo: Path, tmp_path: Path) -> None:
    make(git_repo)
    r = run_cw("preview", "-C", str(git_repo), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"workspace: {git_repo.resolve()}" in r.stdout
    assert "blocked (3)" in r.stdout
    assert ".env" in r.stdout and "(built-in)" in r.stdout and "(AGENTS.md:2)" in r.stdout
    bad = run_cw("preview", "-C", str(tmp_path / "nope"), cwd=tmp_path)
    assert bad.returncode == 2 and "no such directory" in bad.stderr
