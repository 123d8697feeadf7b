"""The allowed_domains grammar shared by config and the proxy (codeward/allowlist.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codeward.allowlist import covers, name_matches, parse_entry

LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
NAME = st.lists(LABEL, min_size=2, max_size=4).map(".".join).filter(lambda n: not n.split(".")[-1].isdigit())
PORT = st.integers(1, 65535)


@given(NAME, PORT)
def test_canonical_form_parses_back_to_the_same_entry(name: str, port: int) -> None:
    for text in (name, f"{name}:{port}", f"*.{name}", f"*.{name}:{port}"):
        e = parse_entry(text)
        assert parse_entry(str(e)) == e


@given(LABEL, NAME, NAME)
def test_wildcard_matches_one_label_under_its_domain_and_nothing_else(label: str, domain: str, other: str) -> None:
    e = parse_entry(f"*.{domain}")
    assert name_matches(e, f"{label}.{domain}")
    assert not name_matches(e, domain)
    assert not name_matches(e, f"{label}.{label}.{domain}")
    if other != domain and not other.endswith("." + domain):
        assert not name_matches(e, f"{label}.{other}")


@given(NAME, PORT)
def test_covers_is_reflexive_and_ports_are_never_mixed(name: str, port: int) -> None:
    e = parse_entry(f"{name}:{port}")
    assert covers(e, e)
    other = 443 if port != 443 else 8443
    assert not covers(e, parse_entry(f"{name}:{other}"))


@pytest.mark.parametrize(
    ("outer", "inner", "ok"),
    [
        ("*.example.com", "a.example.com", True),
        ("*.example.com", "*.example.com", True),
        ("*.example.com", "*.a.example.com", False),
        ("*.example.com", "example.com", False),
        ("a.example.com", "*.example.com", False),
        ("10.0.0.5", "10.0.0.5", True),
        ("10.0.0.5", "10.0.0.6", False),
        ("localhost", "127.0.0.1", False),
        ("[::1]:8443", "[0:0::1]:8443", True),
    ],
)
def test_covers(outer: str, inner: str, ok: bool) -> None:
    assert covers(parse_entry(outer), parse_entry(inner)) is ok
