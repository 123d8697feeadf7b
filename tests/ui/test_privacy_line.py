"""The privacy line after each request and the /sent report, from egress and withheld events."""

from __future__ import annotations

import calendar

import pytest

from codeward.privacy.ledger import LedgerEntry
from codeward.ui.privacy import SentRecord, WithheldTally, entry_from_event, privacy_line, rule_owner, sent_report


def egress(bytes_: int, host: str = "api.openai.com", redactions=None, files=()):
    return {
        "type": "egress",
        "host": host,
        "bytes": bytes_,
        "sha256": "3f9a1c2b4d5e" + "0" * 52,
        "files": list(files),
        "redactions": redactions or {},
    }


def withheld(source: str, count: int = 1):
    return {"type": "withheld", "tool": "list_dir", "count": count, "path": None, "rule": "x", "source": source}


def test_the_issue_example():
    tally = WithheldTally()
    tally.add(withheld(".codexignore"))
    entry = entry_from_event(egress(12_700, redactions={"aws-access-key": 2, "github-pat": 1}))
    assert (
        privacy_line(entry, tally)
        == "sent 12.4 KB to api.openai.com; 3 secrets redacted; 1 file withheld by .codexignore"
    )


def test_nothing_redacted_nothing_withheld():
    assert privacy_line(entry_from_event(egress(900, host="127.0.0.1:8080")), WithheldTally()) == (
        "sent 900 B to 127.0.0.1:8080; nothing redacted"
    )


def test_withheld_counts_add_up_by_owner_and_clear():
    tally = WithheldTally()
    tally.add(withheld(".codexignore", 2))
    tally.add(withheld("built-in"))
    tally.add(withheld("sub/.codewardignore"))
    tally.add(withheld(".codexignore"))
    assert tally.total == 5
    assert tally.phrase() == "5 files withheld by .codexignore, built-in rules, sub/.codewardignore"
    tally.clear()
    assert tally.phrase() == ""


@pytest.mark.parametrize(
    ("source", "owner"),
    [
        ("built-in", "built-in rules"),
        ("", "built-in rules"),
        (".codexignore", ".codexignore"),
        ("pkg/.codewardignore", "pkg/.codewardignore"),
        ("AGENTS.md:14", "AGENTS.md"),
        ("/home/u/.codeward/ignore", "ignore"),
        ("/home/u/.codeward/config.toml", "config.toml"),
    ],
)
def test_rule_owner(source, owner):
    assert rule_owner(source) == owner


def test_entry_from_event_is_the_ledger_entry():
    e = entry_from_event(egress(2048, redactions={"b": 1, "a": 2}, files=["src/app.py"]))
    assert e == LedgerEntry("api.openai.com", "", 2048, "3f9a1c2b4d5e" + "0" * 52, ("src/app.py",), {"a": 2, "b": 1})


def test_sent_report_lists_every_request():
    t0 = calendar.timegm((2025, 1, 2, 3, 4, 5))
    records = [
        SentRecord(t0, entry_from_event(egress(5_200, host="127.0.0.1:9"))),
        SentRecord(
            t0 + 61,
            entry_from_event(egress(12_700, host="127.0.0.1:9", redactions={"github-pat": 1}, files=["a.py", "b.py"])),
        ),
    ]
    lines = sent_report(records, local_time=False)
    assert lines[0] == "2 requests, 17.5 KB in all, to 127.0.0.1:9; only these bytes left the machine:"
    assert lines[1] == "  1  03:04:05  127.0.0.1:9  5.1 KB  sha256 3f9a1c2b4d5e  files: none  redacted: none"
    assert (
        lines[2]
        == "  2  03:05:06  127.0.0.1:9  12.4 KB  sha256 3f9a1c2b4d5e  files: a.py, b.py  redacted: github-pat×1"
    )


def test_sent_report_when_nothing_left():
    assert sent_report([]) == ["nothing has left this machine in this session"]
