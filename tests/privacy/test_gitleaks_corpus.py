"""Recall on the shared gitleaks examples, in process, the way the contract check writes them.

The corpus lives outside the repository (shared/corpora); CODEWARD_GITLEAKS_CORPUS points at it.
CI runs from a clean clone where it may be absent, and then this test is skipped with the reason.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from codeward.privacy.scanner import load_scanner

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(
    os.environ.get(
        "CODEWARD_GITLEAKS_CORPUS", REPO / ".." / "shared" / "corpora" / "gitleaks-examples" / "examples.json"
    )
)


def _item(ex: str | dict[str, str]) -> tuple[str, str]:
    if isinstance(ex, str):
        return "example.txt", ex + "\n"
    return os.path.basename(ex["path"]), ex["text"] + "\n"


@pytest.mark.skipif(not CORPUS.is_file(), reason=f"gitleaks corpus not present at {CORPUS}")
def test_recall_and_generic_false_positives() -> None:
    rules = json.loads(CORPUS.read_text(encoding="utf-8"))["rules"]
    sc = load_scanner()
    tps = [_item(t) for r in rules for t in r["tps"]]
    generic_fps = [_item(t) for r in rules if r["rule_id"] == "generic-api-key" for t in r["fps"]]
    assert len(tps) > 6000 and len(generic_fps) == 74
    hit = sum(1 for name, text in tps if sc.scan(text, path=name))
    flagged = [text for name, text in generic_fps if sc.scan(text, path=name)]
    assert hit / len(tps) >= 0.95, f"recall {hit}/{len(tps)}"
    assert flagged == []
