"""Golden cases per built-in rule (tests/privacy/cases/rules.toml).

Each rule is run alone (with the global allowlists), so a true positive proves that rule matches
and a near-miss proves it stays quiet; the full scanner must also flag every true positive.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from codeward.privacy.gitleaks_config import builtin_ruleset
from codeward.privacy.rules import RuleSet
from codeward.privacy.scanner import Scanner, load_scanner

CASES = tomllib.loads((Path(__file__).parent / "cases" / "rules.toml").read_text(encoding="utf-8"))
RULES = {r.id: r for r in builtin_ruleset().rules}


def _alone(rule_id: str) -> Scanner:
    return Scanner(RuleSet(rules=(RULES[rule_id],), allowlists=builtin_ruleset().allowlists))


def test_every_builtin_rule_has_golden_cases() -> None:
    missing = sorted(set(RULES) - set(CASES))
    assert not missing, f"rules without golden cases: {missing}"
    assert not sorted(set(CASES) - set(RULES)), "cases for rules that no longer exist"


def test_every_rule_has_a_near_miss_unless_path_only() -> None:
    for rid, case in CASES.items():
        assert case["tp"], rid
        if RULES[rid].regex is not None:
            assert case["fp"], f"{rid} has no near-miss case"


TP = [(rid, i, text, case.get("path")) for rid, case in CASES.items() for i, text in enumerate(case["tp"])]
FP = [(rid, i, text, case.get("path")) for rid, case in CASES.items() for i, text in enumerate(case["fp"])]


@pytest.mark.parametrize(("rule_id", "i", "text", "path"), TP, ids=[f"{r}-{i}" for r, i, _, _ in TP])
def test_true_positive_is_flagged_by_its_rule(rule_id: str, i: int, text: str, path: str | None) -> None:
    found = _alone(rule_id).scan(text, path=path)
    assert found, f"{rule_id} missed its own example"
    assert all(f.rule_id == rule_id for f in found)
    assert load_scanner().scan(text, path=path), "the full rule set missed it"


@pytest.mark.parametrize(("rule_id", "i", "text", "path"), FP, ids=[f"{r}-{i}" for r, i, _, _ in FP])
def test_near_miss_is_not_flagged_by_its_rule(rule_id: str, i: int, text: str, path: str | None) -> None:
    assert _alone(rule_id).scan(text, path=path) == []
