"""User gitleaks-format rule files: extend/useDefault/disabledRules, allowlists, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeward.errors import ConfigError
from codeward.privacy.gitleaks_config import load_ruleset
from codeward.privacy.scanner import load_scanner

AWS = "AKIAZ7Q2LMKD3XUVWB4N"
CUSTOM = """
[[rules]]
id = "acme-token"
description = "ACME internal token"
regex = '''acme_(?:live|test)_([a-z0-9]{24})'''
secretGroup = 1
entropy = 2.5
keywords = ["acme_"]
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_user_rules_add_to_the_builtin_ones(tmp_path: Path) -> None:
    sc = load_scanner(rule_files=[write(tmp_path, "g.toml", CUSTOM)])
    text = f"k = acme_live_q8vz2lkp0wr4ty6ui8opa1sd\naws = {AWS}\n"
    found = sc.scan(text)
    assert [f.rule_id for f in found] == ["acme-token", "aws-access-key-id"]
    assert text[found[0].start : found[0].end] == "q8vz2lkp0wr4ty6ui8opa1sd"  # secretGroup
    assert sc.scan("acme_live_aaaaaaaaaaaaaaaaaaaaaaaa") == []  # entropy gate


def test_extend_use_default_and_disabled_rules(tmp_path: Path) -> None:
    f = write(tmp_path, "g.toml", '[extend]\nuseDefault = true\ndisabledRules = ["aws-access-key-id"]\n' + CUSTOM)
    sc = load_scanner(rule_files=[f])
    assert sc.scan(f"aws = {AWS}") == []
    assert "acme-token" in sc.rule_ids and "github-pat" in sc.rule_ids


def test_extend_path_is_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    write(tmp_path / "base", "base.toml", CUSTOM)
    f = write(tmp_path, "top.toml", '[extend]\npath = "base/base.toml"\n')
    assert load_scanner(rule_files=[f]).scan("acme_test_q8vz2lkp0wr4ty6ui8opa1sd")[0].rule_id == "acme-token"


def test_extend_cycle_is_refused_and_depth_stops_as_in_gitleaks(tmp_path: Path) -> None:
    a = write(tmp_path, "a.toml", '[extend]\npath = "b.toml"\n')
    write(tmp_path, "b.toml", '[extend]\npath = "a.toml"\n')
    with pytest.raises(ConfigError, match="cycle"):
        load_scanner(rule_files=[a])
    write(tmp_path, "c1.toml", '[extend]\npath = "c2.toml"\n')
    write(tmp_path, "c2.toml", '[extend]\npath = "c3.toml"\n')
    write(tmp_path, "c3.toml", '[extend]\npath = "c4.toml"\n')
    write(tmp_path, "c4.toml", CUSTOM)
    # gitleaks follows two [extend] hops (c1 -> c2 -> c3) and does not follow c3's: c4 is not loaded
    rs = load_ruleset([tmp_path / "c1.toml"])
    assert "acme-token" not in rs.ids()
    assert "acme-token" in load_ruleset([tmp_path / "c2.toml"]).ids()


def test_same_id_merges_keywords_and_allowlists(tmp_path: Path) -> None:
    f = write(
        tmp_path,
        "g.toml",
        '[[rules]]\nid = "aws-access-key-id"\n[[rules.allowlists]]\nregexes = ["^AKIAZ7"]\n',
    )
    sc = load_scanner(rule_files=[f])
    assert sc.scan(f"k = {AWS}") == []
    assert sc.scan("k = AKIAQ3M7ZPLX2RTV5WNB")[0].rule_id == "aws-access-key-id"


def test_global_allowlists_target_rules_paths_and_stopwords(tmp_path: Path) -> None:
    f = write(
        tmp_path,
        "g.toml",
        CUSTOM
        + """
[[allowlists]]
targetRules = ["acme-token"]
stopwords = ["q8vz"]
[[allowlists]]
paths = ['''(^|/)fixtures/''']
[[allowlists]]
regexTarget = "line"
regexes = ['''SAFE-LINE''']
""",
    )
    sc = load_scanner(rule_files=[f])
    assert sc.scan("acme_live_q8vz2lkp0wr4ty6ui8opa1sd") == []
    assert sc.scan(f"k = {AWS}", path="tests/fixtures/keys.txt") == []
    assert sc.scan(f"k = {AWS}", path="src/keys.txt") != []
    assert sc.scan(f"k = {AWS} SAFE-LINE") == []


def test_and_condition_needs_every_check(tmp_path: Path) -> None:
    f = write(
        tmp_path,
        "g.toml",
        '[[allowlists]]\ncondition = "AND"\nregexes = ["^AKIA"]\npaths = ["\\\\.md$"]\n',
    )
    sc = load_scanner(rule_files=[f])
    assert sc.scan(f"k = {AWS}", path="README.md") == []
    assert sc.scan(f"k = {AWS}", path="app.py") != []


def test_match_target_allowlist(tmp_path: Path) -> None:
    f = write(tmp_path, "g.toml", CUSTOM + '[[rules.allowlists]]\nregexTarget = "match"\nregexes = ["_test_"]\n')
    sc = load_scanner(rule_files=[f])
    assert sc.scan("acme_test_q8vz2lkp0wr4ty6ui8opa1sd") == []
    assert sc.scan("acme_live_q8vz2lkp0wr4ty6ui8opa1sd") != []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[rules]\nid=1", "invalid TOML"),
        ('[[rules]]\nid = "x"\nregex = "(?=lookahead)"\n', "rule 'x' regex: regex rejected by RE2"),
        ('[[rules]]\nid = "x"\nregex = "a(b"\n', "rule 'x' regex"),
        ('[[rules]]\nid = "x"\nregex = "a"\nsecretGroup = 2\n', "secretGroup 2"),
        ('[[rules]]\nregex = "a"\n', "rules[0]: id is missing"),
        ('[[rules]]\nid = "x"\n', "needs a regex or a path"),
        ('[[rules]]\nid = "x"\nregex = "a"\nkeywords = "a"\n', "keywords must be a list"),
        ('[[rules]]\nid = "x"\nregex = "a"\nentropy = "high"\n', "entropy must be a number"),
        ('[[rules]]\nid = "x"\nregex = "a"\nkeyword = ["a"]\n', "unknown key 'keyword'"),
        ('[[allowlists]]\ndescription = "empty"\n', "needs at least one of"),
        ('[[allowlists]]\nregexTarget = "file"\nregexes = ["a"]\n', "regexTarget must be"),
        ('[[allowlists]]\ncondition = "XOR"\nregexes = ["a"]\n', "condition must be OR or AND"),
        ('[[allowlists]]\ntargetRules = ["nope"]\nregexes = ["a"]\n', "unknown rule 'nope'"),
        ('[extend]\nurl = "https://example.com/g.toml"\n', "url is not supported"),
    ],
)
def test_bad_rule_files_name_the_file_and_the_key(tmp_path: Path, text: str, message: str) -> None:
    f = write(tmp_path, "bad.toml", text)
    with pytest.raises(ConfigError) as e:
        load_scanner(rule_files=[f])
    assert str(f) in str(e.value)
    assert message in str(e.value)


def test_missing_rules_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="rules file not found"):
        load_scanner(rule_files=[tmp_path / "nope.toml"])


def test_composite_rule_requires_a_neighbour(tmp_path: Path) -> None:
    f = write(
        tmp_path,
        "g.toml",
        """
[[rules]]
id = "acme-id"
regex = '''ACMEID-[0-9]{6}'''
keywords = ["acmeid-"]
skipReport = true
[[rules]]
id = "acme-secret"
regex = '''ACMESECRET-([a-z0-9]{20})'''
keywords = ["acmesecret-"]
[[rules.required]]
id = "acme-id"
withinLines = 1
""",
    )
    sc = load_scanner(rule_files=[f])
    near = "ACMEID-123456\nACMESECRET-q8vz2lkp0wr4ty6ui8op\n"
    far = "ACMEID-123456\n\n\n\nACMESECRET-q8vz2lkp0wr4ty6ui8op\n"
    assert [x.rule_id for x in sc.scan(near)] == ["acme-secret"]
    assert sc.scan(far) == []
