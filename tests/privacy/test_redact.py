"""Redaction: placeholder form, stability within a session, idempotence, restore."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codeward.privacy.redact import Redactor
from codeward.privacy.scanner import ScanError, Scanner, load_scanner

GH = "ghp_" + "q8Vz2LkP0wR4tY6uI8oPa1sD3fG5hJ7kL9zX"
AWS = "AKIAZ7Q2LMKD3XUVWB4N"
PLACEHOLDER = re.compile(r"<secret:[a-z0-9][a-z0-9._\-]*:[0-9a-f]{8}>")


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return load_scanner()


def test_placeholder_is_rule_and_keyed_hmac(scanner: Scanner) -> None:
    key = b"k" * 32
    r = Redactor(scanner, key=key).redact(f"aws = {AWS}\n")
    h8 = hmac.new(key, AWS.encode(), hashlib.sha256).hexdigest()[:8]
    assert r.text == f"aws = <secret:aws-access-key-id:{h8}>\n"
    assert r.counts == {"aws-access-key-id": 1}
    assert AWS not in r.text


def test_same_value_same_placeholder_within_a_session_only(scanner: Scanner) -> None:
    red = Redactor(scanner)
    a = red.redact(f"one = {GH}").text
    b = red.redact(f"two: '{GH}'").text
    assert PLACEHOLDER.findall(a) == PLACEHOLDER.findall(b)
    other = Redactor(scanner).redact(f"one = {GH}").text
    assert other != a  # a new session key gives new placeholders


def test_redacting_twice_changes_nothing(scanner: Scanner) -> None:
    red = Redactor(scanner)
    text = f"aws = {AWS}\npassword = 'Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB'\nurl = postgres://u:Tr0ub4dor-x9@db/x\n"
    once = red.redact(text)
    twice = red.redact(once.text)
    assert twice.text == once.text and twice.counts == {}
    assert scanner.scan(once.text) == []


def test_restore_puts_back_only_its_own_placeholders(scanner: Scanner) -> None:
    red = Redactor(scanner)
    text = f"token: {GH} and {AWS}"
    out = red.redact(text).text
    foreign = "<secret:github-pat:00000000>"
    assert red.restore(out + " " + foreign) == text + " " + foreign
    assert Redactor(scanner).restore(out) == out  # another session cannot restore


def test_base64_blob_is_replaced_whole(scanner: Scanner) -> None:
    blob = base64.b64encode(f"GITHUB_TOKEN={GH}".encode()).decode()
    red = Redactor(scanner)
    r = red.redact(f"secret_data: {blob}\n")
    assert blob not in r.text and GH not in r.text
    assert red.restore(r.text) == f"secret_data: {blob}\n"


def test_counts_per_rule(scanner: Scanner) -> None:
    r = Redactor(scanner).redact(f"{AWS}\n{AWS}\n{GH}\n")
    assert r.counts == {"aws-access-key-id": 2, "github-pat": 1} and r.total == 3


def test_scanner_failure_propagates_so_nothing_is_sent(scanner: Scanner, monkeypatch: pytest.MonkeyPatch) -> None:
    red = Redactor(scanner)

    def boom(text: str, *, path: str | None = None) -> list:  # type: ignore[type-arg]
        raise ScanError("secret scan failed: test")

    monkeypatch.setattr(red, "_scanner", type("S", (), {"scan": staticmethod(boom)})())
    with pytest.raises(ScanError):
        red.redact(f"k = {AWS}")


SECRETS = st.sampled_from(
    [GH, AWS, "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"]
)
FILLER = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    st.lists(
        st.one_of(
            FILLER, SECRETS.map(lambda s: f" {s}\n"), st.sampled_from(["token = ", "\n", " = '", "'", "password: "])
        ),
        max_size=12,
    )
)
def test_idempotent_and_reversible_on_arbitrary_text(parts: list[str]) -> None:
    """Secrets delimited by whitespace among arbitrary text (a token glued to more letters is, as in
    gitleaks, not recognised: its boundary is part of the format)."""
    sc = load_scanner()
    red = Redactor(sc)
    text = "".join(parts)
    once = red.redact(text)
    assert red.redact(once.text).text == once.text
    assert red.restore(once.text) == text
    for s in (GH, AWS):
        assert s not in once.text
