"""A user's gitleaks configuration loads as gitleaks loads it: ``[extend] path`` from the working
directory, ``useDefault`` with gitleaks' default rule ids refining their codeward counterparts,
``path`` with ``useDefault`` refused, a duplicate id replaced by the later entry.

These are our own cases, written after reading gitleaks' config loader and its testdata/config
files (which are not copied here).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from codeward.errors import ConfigError
from codeward.privacy.gitleaks_config import DEFAULT_ALIASES, builtin_ruleset, load_ruleset
from codeward.privacy.scanner import Scanner

GENERIC = 'api_secret = "Qm2vX8kL4pZk3pQ8rTm2Wq8z"\n'
RULE = """
[[rules]]
id = "acme-token"
regex = '''acme_([a-z0-9]{24})'''
secretGroup = 1
"""


def write(d: Path, name: str, text: str) -> Path:
    p = d / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def test_extend_path_is_beside_the_file_first_then_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Beside the extending file first: codeward's working directory is the workspace, where a
    command may plant a file of that name (red team rt15); then where gitleaks looks."""
    write(tmp_path, "base.toml", RULE)  # where gitleaks looks: the working directory
    write(tmp_path, "conf/base.toml", '[[rules]]\nid = "beside"\nregex = "beside_[0-9]{8}"\n')
    user = write(tmp_path, "conf/gitleaks.toml", '[extend]\npath = "base.toml"\n')
    monkeypatch.chdir(tmp_path)
    ids = load_ruleset([user]).ids()
    assert "beside" in ids and "acme-token" not in ids
    (tmp_path / "conf/base.toml").unlink()  # none beside the file: the working directory's, as gitleaks
    assert "acme-token" in load_ruleset([user]).ids()


def test_a_missing_extend_path_names_both_places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = write(tmp_path, "conf/gitleaks.toml", '[extend]\npath = "nope.toml"\n')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"gitleaks.toml: \[extend\] path 'nope.toml' not found"):
        load_ruleset([user])


def test_path_and_use_default_together_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "base.toml", RULE)
    user = write(tmp_path, "g.toml", '[extend]\nuseDefault = true\npath = "base.toml"\n')
    with pytest.raises(ConfigError, match="path and useDefault cannot both be set"):
        load_ruleset([user])


def test_use_default_refines_a_default_rule_by_its_gitleaks_id(tmp_path: Path) -> None:
    assert Scanner(load_ruleset([])).scan(GENERIC, path="src/app.js")
    user = write(
        tmp_path,
        "g.toml",
        '[extend]\nuseDefault = true\n\n[[rules]]\nid = "generic-api-key"\n'
        "[[rules.allowlists]]\npaths = ['''^src/app\\.js$''']\n",
    )
    rs = load_ruleset([user])
    assert "generic-api-key" not in rs.ids()  # refined the built-in, not added as an empty rule
    sc = Scanner(rs)
    assert sc.scan(GENERIC, path="src/app.js") == []
    assert sc.scan(GENERIC, path="src/other.js")


def test_a_default_id_with_its_own_regex_is_added_beside_the_builtin(tmp_path: Path) -> None:
    user = write(tmp_path, "g.toml", "[[rules]]\nid = \"generic-api-key\"\nregex = '''acme_[0-9]{6}'''\n")
    rs = load_ruleset([user])
    assert {"generic-api-key", "generic-secret"} <= rs.ids()
    assert Scanner(rs).scan(GENERIC)  # the built-in detection is not replaced


def test_disabled_rules_accept_gitleaks_ids(tmp_path: Path) -> None:
    user = write(tmp_path, "g.toml", '[extend]\nuseDefault = true\ndisabledRules = ["generic-api-key"]\n')
    assert "generic-secret" not in load_ruleset([user]).ids()


def test_a_duplicate_id_in_one_file_is_replaced_by_the_later_entry(tmp_path: Path) -> None:
    user = write(
        tmp_path,
        "g.toml",
        "[[rules]]\nid = \"dup\"\nregex = '''first_[0-9]{6}'''\n[[rules]]\nid = \"dup\"\nregex = '''second_[0-9]{6}'''\n",
    )
    sc = Scanner(load_ruleset([user]))
    assert [f.rule_id for f in sc.scan("second_123456")] == ["dup"]
    assert sc.scan("first_123456") == []


def test_every_alias_points_at_a_builtin_rule() -> None:
    ids = builtin_ruleset().ids()
    assert not {v for v in DEFAULT_ALIASES.values() if v not in ids}
    assert not set(DEFAULT_ALIASES) & ids  # an alias never shadows a rule of ours


@pytest.mark.parametrize("scope", ["rule", "global"])
def test_old_and_new_allowlist_forms_together_are_refused(tmp_path: Path, scope: str) -> None:
    if scope == "rule":
        text = RULE + "[rules.allowlist]\nregexes = ['a']\n[[rules.allowlists]]\nregexes = ['b']\n"
    else:
        text = RULE + "[allowlist]\nregexes = ['a']\n[[allowlists]]\nregexes = ['b']\n"
    with pytest.raises(ConfigError, match="old form"):
        load_ruleset([write(tmp_path, "g.toml", text)])
