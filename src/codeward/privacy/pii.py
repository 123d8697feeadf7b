"""Personal data found by pattern plus a checksum: emails, payment cards (Luhn), IBANs (mod 97).

Off unless ``[privacy] redact_pii = true``. The validators are what keeps this usable on source
code: a 16-digit number is a card only when its Luhn digit checks out and its prefix belongs to a
card network; an IBAN only when its country's length and the ISO 13616 mod-97 check hold.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

PII_EMAIL = "pii-email"
PII_CARD = "pii-card"
PII_IBAN = "pii-iban"

DESCRIPTIONS = {
    PII_EMAIL: "Email address",
    PII_CARD: "Payment card number (Luhn-valid)",
    PII_IBAN: "IBAN bank account number (mod-97 valid)",
}

# ISO 13616 registry lengths of the IBAN for each country code (public registry facts).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27,
    "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25,
    "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18,
    "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33,
    "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip

_EMAIL = rb"(?:^|[^A-Za-z0-9._%+\-])([A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24})(?:[^A-Za-z0-9\-]|$)"
_CARD = rb"(?:^|[^0-9A-Za-z.\-])((?:\d[ \-]?){12,18}\d)(?:[^0-9A-Za-z\-]|$)"
_IBAN = rb"(?:^|[^0-9A-Za-z])([A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30})(?:[^0-9A-Za-z]|$)"


@functools.lru_cache(maxsize=1)
def _patterns() -> tuple[Any, Any, Any]:
    import re2

    opts = re2.Options()
    opts.log_errors = False
    return re2.compile(_EMAIL, opts), re2.compile(_CARD, opts), re2.compile(_IBAN, opts)


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check used by every payment card number."""
    if not digits.isdigit() or len(digits) < 2:
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def card_network(digits: str) -> str | None:
    """The issuing network a number's prefix and length belong to, or None."""
    n = len(digits)
    p2, p4, p6 = int(digits[:2]), int(digits[:4]), int(digits[:6])
    if digits[0] == "4" and n in (13, 16, 19):
        return "visa"
    if (51 <= p2 <= 55 or 222100 <= p6 <= 272099) and n == 16:
        return "mastercard"
    if p2 in (34, 37) and n == 15:
        return "amex"
    if (digits.startswith("6011") or p2 == 65 or 644 <= int(digits[:3]) <= 649) and n in (16, 19):
        return "discover"
    if 3528 <= p4 <= 3589 and 16 <= n <= 19:
        return "jcb"
    if (300 <= int(digits[:3]) <= 305 or p2 in (36, 38, 39)) and 14 <= n <= 19:
        return "diners"
    if p2 == 62 and 16 <= n <= 19:
        return "unionpay"
    if p2 in (50, 56, 57, 58, 63, 67) and 12 <= n <= 19:
        return "maestro"
    return None


def card_valid(number: str) -> bool:
    digits = number.replace(" ", "").replace("-", "")
    if not 13 <= len(digits) <= 19 or len(set(digits)) < 2:
        return False
    return card_network(digits) is not None and luhn_valid(digits)


def iban_valid(value: str) -> bool:
    """Country length from the registry plus the ISO 7064 mod-97 check."""
    s = value.replace(" ", "").upper()
    expected = IBAN_LENGTHS.get(s[:2])
    if expected is None or len(s) != expected or not s[2:4].isdigit() or not s.isalnum():
        return False
    rearranged = s[4:] + s[:4]
    num = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(num) % 97 == 1


def find_pii(data: bytes) -> Iterator[tuple[str, int, int]]:
    """(rule_id, start, end) byte spans of valid PII in UTF-8 ``data``."""
    email, card, iban = _patterns()
    if b"@" in data:
        for m in email.finditer(data):
            s, e = m.span(1)
            yield PII_EMAIL, s, e
    for m in card.finditer(data):
        s, e = m.span(1)
        if card_valid(data[s:e].decode("ascii")):
            yield PII_CARD, s, e
    for m in iban.finditer(data):
        s, e = m.span(1)
        value = data[s:e].decode("ascii")
        # an IBAN written in groups may be followed by words; trim to the registry length
        compact = value.replace(" ", "")
        want = IBAN_LENGTHS.get(compact[:2])
        if want is None or len(compact) < want:
            continue
        if len(compact) > want:
            kept, count = [], 0
            for ch in value:
                if count == want:
                    break
                kept.append(ch)
                if ch != " ":
                    count += 1
            value = "".join(kept).rstrip()
            e = s + len(value)
        if iban_valid(value):
            yield PII_IBAN, s, e
