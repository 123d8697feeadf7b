"""PII validators and the opt-in PII findings."""

from __future__ import annotations

import pytest

from codeward.privacy.pii import card_valid, find_pii, iban_valid, luhn_valid
from codeward.privacy.redact import Redactor
from codeward.privacy.scanner import load_scanner


@pytest.mark.parametrize(
    ("number", "ok"),
    [
        ("4111 1111 1111 1111", True),
        ("4111-1111-1111-1111", True),
        ("5500005555555559", True),
        ("378282246310005", True),
        ("6011111111111117", True),
        ("4111111111111112", False),  # Luhn fails
        ("1234567812345670", False),  # Luhn passes, no network uses this prefix
        ("0000000000000000", False),
    ],
)
def test_card_numbers(number: str, ok: bool) -> None:
    assert card_valid(number) is ok


def test_luhn() -> None:
    assert luhn_valid("79927398713") and not luhn_valid("79927398710") and not luhn_valid("12a4")


@pytest.mark.parametrize(
    ("iban", "ok"),
    [
        ("DE89 3704 0044 0532 0130 00", True),
        ("GB82WEST12345698765432", True),
        ("FR1420041010050500013M02606", True),
        ("DE89 3704 0044 0532 0130 01", False),  # mod 97 fails
        ("DE89 3704 0044 0532 0130", False),  # wrong length for DE
        ("ZZ89370400440532013000", False),  # no such country
    ],
)
def test_iban(iban: str, ok: bool) -> None:
    assert iban_valid(iban) is ok


def test_find_pii_spans() -> None:
    text = "mail ada@example.org, card 4111 1111 1111 1111, iban DE89 3704 0044 0532 0130 00.\n"
    data = text.encode()
    got = {rule: data[s:e].decode() for rule, s, e in find_pii(data)}
    assert got == {
        "pii-email": "ada@example.org",
        "pii-card": "4111 1111 1111 1111",
        "pii-iban": "DE89 3704 0044 0532 0130 00",
    }


def test_pii_only_when_enabled() -> None:
    text = "contact: ada@example.org, order 4111111111111111 version 1.2.3.4 id 1234567812345670\n"
    assert load_scanner().scan(text) == []
    found = load_scanner(redact_pii=True).scan(text)
    assert [f.rule_id for f in found] == ["pii-email", "pii-card"]
    red = Redactor(load_scanner(redact_pii=True)).redact(text)
    assert "ada@example.org" not in red.text and "4111111111111111" not in red.text
    assert red.counts == {"pii-email": 1, "pii-card": 1}


def test_pii_respects_allow_comments_and_allowlist() -> None:
    assert load_scanner(redact_pii=True).scan("ada@example.org  # codeward:allow") == []
    assert load_scanner(redact_pii=True, allowlist=["@example\\.org$"]).scan("ada@example.org") == []
