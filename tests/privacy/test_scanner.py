"""The scanning engine: findings, merging, suppression, base64, PEM blocks, windows, failures."""

from __future__ import annotations

import base64

import pytest

from codeward.privacy.gitleaks_config import builtin_ruleset
from codeward.privacy.scanner import Finding, ScanError, Scanner, load_scanner

GH = "ghp_" + "q8Vz2LkP0wR4tY6uI8oPa1sD3fG5hJ7kL9zX"
AWS = "AKIAZ7Q2LMKD3XUVWB4N"
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEpQIBAAKCAQEAn6/O8li+SX4m98LLYt/PKSzEmQ++ZBD7Loh9P13f4yQ92EF3\n"
    "yxR5MsXFu9PRsrYQA7/4UTPHiC4y2sAVCBg4C2yyBpUEtMQjyCESi6Y=\n"
    "-----END RSA PRIVATE KEY-----"
)


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return load_scanner()


def test_finding_locates_the_value_not_the_assignment(scanner: Scanner) -> None:
    text = f"line one\n  token = {GH}\n"
    [f] = scanner.scan(text)
    assert text[f.start : f.end] == GH
    assert (f.line, f.column) == (2, 11)
    assert f.rule_id == "github-pat"


def test_no_field_or_repr_holds_the_secret(scanner: Scanner) -> None:
    [f] = scanner.scan(f"x = {GH}")
    assert GH not in repr(f) and GH not in str(f)
    assert all(GH not in str(v) for v in vars(f).values())
    assert len(f.fingerprint) == 16 and f.fingerprint == scanner.scan(f"y: {GH}")[0].fingerprint


def test_offsets_are_characters_after_non_ascii_text(scanner: Scanner) -> None:
    text = "héllo wörld — ключ\nkey = " + AWS + "\n"
    [f] = scanner.scan(text)
    assert text[f.start : f.end] == AWS
    assert f.line == 2 and f.column == 7


def test_findings_are_sorted_and_overlaps_merged(scanner: Scanner) -> None:
    text = f"b = {AWS}\na = {GH}\nc = {AWS}\n"
    found = scanner.scan(text)
    assert [f.start for f in found] == sorted(f.start for f in found)
    assert [text[f.start : f.end] for f in found] == [AWS, GH, AWS]
    # a vendor rule and the generic rule match the same value: one finding, the vendor's id
    [f] = scanner.scan(f'github_token = "{GH}"')
    assert f.rule_id == "github-pat"


def test_multiline_pem_block_is_one_finding(scanner: Scanner) -> None:
    text = f"key:\n{PEM}\nafter\n"
    [f] = scanner.scan(text)
    assert f.rule_id == "private-key"
    assert text[f.start : f.end] == PEM


def test_pem_inside_a_json_string_is_one_finding(scanner: Scanner) -> None:
    body = PEM.replace("\n", "\\n")
    text = '{"private_key": "' + body + '\\n", "client_email": "x@y.iam.gserviceaccount.com"}'
    [f] = scanner.scan(text)
    assert f.rule_id == "gcp-service-account-key"
    assert text[f.start : f.end].startswith("-----BEGIN") and "-----END RSA PRIVATE KEY-----" in text[f.start : f.end]


@pytest.mark.parametrize("marker", ["codeward:allow", "gitleaks:allow"])
def test_allow_comment_on_the_line_suppresses(scanner: Scanner, marker: str) -> None:
    assert scanner.scan(f"key = {AWS}  # {marker}\nother = {GH}\n")[0].rule_id == "github-pat"
    assert len(scanner.scan(f"key = {AWS}  # {marker}\nother = {GH}\n")) == 1


def test_privacy_allowlist_values_and_patterns() -> None:
    assert load_scanner(allowlist=[AWS]).scan(f"k = {AWS}") == []
    assert load_scanner(allowlist=["^AKIAZ7"]).scan(f"k = {AWS}") == []
    assert load_scanner(allowlist=["(unbalanced"]).scan(f"k = {AWS}") != []  # not a pattern: a literal only


def test_base64_blob_hiding_a_secret_is_caught_whole(scanner: Scanner) -> None:
    blob = base64.b64encode(f"export GITHUB_TOKEN={GH}\n".encode()).decode()
    text = f"data: {blob}\n"
    [f] = scanner.scan(text)
    assert text[f.start : f.end] == blob
    assert f.rule_id == "github-pat" and "base64" in f.description


def test_base64_of_plain_text_or_binary_is_not_a_finding(scanner: Scanner) -> None:
    harmless = base64.b64encode(b"just a sentence about the weather today").decode()
    binary = base64.b64encode(bytes(range(200))).decode()
    assert scanner.scan(f"a = '{harmless}'\nb = '{binary}'\n") == []


def test_redaction_placeholders_are_never_findings(scanner: Scanner) -> None:
    assert scanner.scan('token = "<secret:github-pat:0a1b2c3d>"\nurl=https://u:<secret:x:12345678>@h\n') == []


def test_keyword_far_from_the_value_does_not_trigger_a_window_miss(scanner: Scanner) -> None:
    filler = "x = 1\n" * 5000
    text = filler + f"stripe = 'sk_live_{'4eC39HqLyjWDarjtT1zdp7dc'}'\n" + filler
    [f] = scanner.scan(text)
    assert f.rule_id == "stripe-access-token"


def test_many_keyword_hits_still_find_the_secret(scanner: Scanner) -> None:
    text = "token = tokens[i]\n" * 20000 + f"api_token = '{GH}'\n"
    found = scanner.scan(text)
    assert [f.rule_id for f in found] == ["github-pat"]


def test_path_rules_need_a_path(scanner: Scanner) -> None:
    assert scanner.scan("", path="deploy/client.p12")[0].rule_id == "pkcs12-file"
    assert scanner.scan("") == []
    assert scanner.scan("db:9999:app:u:Zk3pQ8rTm2", path="home/.pgpass")[0].rule_id == "pgpass-password"
    assert scanner.scan("db:9999:app:u:Zk3pQ8rTm2") == []  # an unusual port: only the file name tells
    assert scanner.scan("db:5432:app:u:Zk3pQ8rTm2")[0].rule_id == "pgpass-line"  # the usual port does


def test_internal_failure_is_a_scan_error(monkeypatch: pytest.MonkeyPatch) -> None:
    sc = Scanner(builtin_ruleset())

    def boom(*a: object, **k: object) -> None:
        raise RuntimeError("engine broke")

    monkeypatch.setattr(sc, "_scan_bytes", boom)
    with pytest.raises(ScanError, match="engine broke"):
        sc.scan(f"k = {AWS}")


def test_adversarial_input_stays_linear(scanner: Scanner) -> None:
    # patterns that would backtrack badly in a backtracking engine; RE2 takes them in stride
    text = ("token=" + "a" * 5000 + "!") * 40 + "-----BEGIN PRIVATE KEY-----" + "A" * 200000
    found = scanner.scan(text)
    assert all(isinstance(f, Finding) for f in found)


def test_load_scanner_is_cached_and_rereads_edited_rule_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert load_scanner() is load_scanner()
    f = tmp_path / "r.toml"
    f.write_text('[[rules]]\nid = "one"\nregex = "ONE-[0-9]{6}"\nkeywords = ["one-"]\n')
    a = load_scanner(rule_files=[f])
    assert a is load_scanner(rule_files=[f])
    assert a.scan("x ONE-123456")[0].rule_id == "one"
    f.write_text('[[rules]]\nid = "two"\nregex = "TWO-[0-9]{6}"\nkeywords = ["two-"]\n')
    import os

    os.utime(f, ns=(1, 1))
    b = load_scanner(rule_files=[f])
    assert b is not a and b.scan("x TWO-123456")[0].rule_id == "two"


@pytest.mark.parametrize("width", [76, 64, 60])
def test_wrapped_base64_is_joined_before_decoding(width: int) -> None:
    import base64
    import textwrap

    secret = "ghp_" + "q8Vz2LkP0wR4tY6uI8oPa1sD3fG5hJ7kL9zX"
    doc = f"config:\n  github: {secret}\n  name: demo\nplain line here\n" * 2
    wrapped = "\n".join(textwrap.wrap(base64.b64encode(doc.encode()).decode(), width))
    text = f"$ base64 config.yml\n{wrapped}\n$ echo done\n"
    [f] = load_scanner().scan(text)
    assert f.rule_id == "github-pat"
    assert text[f.start : f.end] == wrapped  # the whole run of lines is one finding
    prose = "A" * 50 + "\n" + "b" * 45 + "\n"  # lines of different widths are not one blob
    assert load_scanner().scan(prose) == []


def test_every_builtin_rule_compiles_and_its_secret_group_exists() -> None:
    # built-in regexes compile lazily at first use; this is where a broken one must show up
    for rule in builtin_ruleset().rules:
        if rule.regex is not None:
            compiled = rule.regex.compiled()
            assert rule.secret_group <= compiled.groups, rule.id
