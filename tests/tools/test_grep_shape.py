"""The shape proof behind grep's fast path: a proven pattern matches a redacted line only where it
matches the raw line, whatever spans redaction replaced; anything in doubt is not proven."""

from __future__ import annotations

from pathlib import Path

import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from codeward.privacy.redact import KNOWN_KEY_RULE, _placeholder_rule
from codeward.privacy.scanner import load_scanner
from codeward.tools.grep_shape import raw_verdict_suffices

RULES = sorted({_placeholder_rule(r) for r in [*load_scanner().rule_ids, KNOWN_KEY_RULE]})


def proven(pattern: str) -> str | None:
    return raw_verdict_suffices(pattern, re2.compile(pattern), RULES)


PROVEN = {
    "def main": "def main",
    "^def main\\(": "def main\\(",
    "return 1$": "return 1",
    "return 1\\$": "return 1\\$",
    "no_such_identifier_[0-9]+": "no_such_identifier_[0-9]+",
    "TODO|FIXME": "TODO|FIXME",
    "import": "import",
    "aws_secret_access_key = wJ": "aws_secret_access_key = wJ",
    "class [A-Z]\\w+\\(": "class [A-Z]\\w+\\(",
    "x{2,3}y": "x{2,3}y",
}

NOT_PROVEN = [
    "key = (?:<secret|wJ)",  # can match a placeholder's opening
    "= (?:wJ|[<])",
    "(?:wJ|[0-9a-f]{8}>)",  # its closing
    "[0-9a-f]{8}",  # its hash alone
    "dead",
    "secret",  # inside it
    "aws",  # inside a rule name
    "ecret:aws",  # ':' belongs to placeholders
    "foo.*bar",  # '.' and negations match '<'
    "[^a]x",
    "\\Wx",
    "(?i)todo",  # case folding
    "(?i:todo)",
    "x\\b",  # looks across a placeholder's edge
    "\\Bx",
    "a|^b",  # an anchor away from the ends
    "a{,3}",  # RE2 reads this as literal text, Python's parser as a repeat
    "[[:upper:]]x",
    "caf\u00e9",  # non-ASCII
    "^",
]


def test_proven_patterns_and_what_ripgrep_gets() -> None:
    assert {p: proven(p) for p in PROVEN} == PROVEN


def test_doubtful_patterns_are_not_proven() -> None:
    assert {p: proven(p) for p in NOT_PROVEN} == dict.fromkeys(NOT_PROVEN)


def test_rule_names_decide() -> None:
    assert raw_verdict_suffices("main", re2.compile("main"), RULES) == "main"
    assert raw_verdict_suffices("main", re2.compile("main"), [*RULES, "domain-token"]) is None


CHUNKS = ["def ", "main", "TODO", "x", "y", "return 1", " ", "_", "(", "ab", "Q9", "key = ", "1"]
SOUND = ["def main", "^def main\\(", "return 1$", "TODO|x{2,3}y", "[A-Z]\\w+", "key = Q9", "^x+$", "_\\d"]


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(st.sampled_from(CHUNKS), max_size=12),
    cuts=st.lists(st.tuples(st.integers(0, 60), st.integers(1, 12)), max_size=3),
    rule=st.sampled_from(RULES),
)
def test_a_proven_pattern_matches_redacted_text_only_where_raw_text_matches(
    pieces: list[str], cuts: list[tuple[int, int]], rule: str
) -> None:
    raw = "".join(pieces)
    redacted = raw
    for start, length in cuts:  # replace spans with placeholders, as the redactor does
        start = min(start, len(redacted))
        redacted = redacted[:start] + f"<secret:{rule}:0123abcd>" + redacted[start + length :]
    for pattern in SOUND:
        rg_pattern = proven(pattern)
        assert rg_pattern is not None
        regex, rg_regex = re2.compile(pattern), re2.compile(rg_pattern)
        if regex.search(redacted):
            assert regex.search(raw), (pattern, raw, redacted)
        if regex.search(raw):
            assert rg_regex.search(raw), (pattern, raw)  # ripgrep's copy (anchors dropped) lists it


PH = "<secret:aws-secret-access-key:0123abcd>"
COUNTEREXAMPLES = [  # (refused pattern, raw line, the same line redacted): a match only after redaction
    ("key = (?:<secret|wJ)", "key = Q9tm", f"key = {PH}"),
    ("(?:wJ|[0-9a-f]{8}>)", "key = Q9tm", f"key = {PH}"),
    ("(?:wJ|0123abcd)", "key = Q9tm", f"key = {PH}"),
    ("(?:wJ|secret:aws)", "key = Q9tm", f"key = {PH}"),
    ("(?:wJ|ecret)", "key = Q9tm", f"key = {PH}"),
    ("=\\B", "key=Q9tm", f"key={PH}"),
    ("= .s", "key = Q9tm", f"key = {PH}"),
]


def test_refused_shapes_would_match_only_after_redaction() -> None:
    for pattern, raw, redacted in COUNTEREXAMPLES:
        regex = re2.compile(pattern)
        assert regex.search(redacted) and not regex.search(raw), pattern
        assert proven(pattern) is None, pattern


def test_the_placeholder_shape_is_the_one_the_proof_assumes() -> None:
    """The proof knows placeholders as ``<secret:RULE:h8>`` with a lowercase rule name and hash: a
    new shape (other brackets, upper case, another prefix) must be taught to grep_shape first."""
    from codeward.privacy.redact import PLACEHOLDER, Redactor

    assert PLACEHOLDER.pattern == r"<secret:[a-z0-9][a-z0-9._\-]{0,80}:[0-9a-f]{8}>"
    ph = Redactor(load_scanner()).placeholder("Some Rule_ID", "value")
    assert PLACEHOLDER.fullmatch(ph) and ph.startswith("<secret:some-rule_id:")


def test_ripgrep_lists_every_file_re2_matches_for_proven_patterns(tmp_path: Path) -> None:
    """The dialect half of the proof, run for real: for each proven pattern, every file in which RE2
    finds a match on a line of the decoded text (as the tool searches) is in ripgrep's list, on
    files made of the bytes where the two could differ (line breaks other than LF, invalid UTF-8,
    NUL bytes late in a file, a BOM, non-ASCII letters beside ASCII ones, CRLF)."""
    import random

    from codeward.tools.grep import MAX_FILE_BYTES, _rg_start

    pieces = [b"def main", b"x", b"y", b"TODO", b"_1", b"Foo(", b" ", b"\r", b"\r\n", b"\n", b"\x0c", b"\x0b",
              b"\x1c", b"\xc2\x85", b"\xe2\x80\xa8", b"\xff", b"\xe2\x28", b"\xef\xbb\xbf", b"\xc3\xa9", b"\t",
              b"\x00", b"return 1", b"key = ", b"Q9", b"<", b">", b":"]  # fmt: skip
    rnd = random.Random(11)
    for i in range(300):
        body = b"".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 14)))
        if i % 50 == 0:
            body = b"a" * 9000 + b"\x00" + body  # a NUL after the tool's binary sniff
        (tmp_path / f"f{i}.txt").write_bytes(body)
    patterns = ["def main", "^def main", "return 1$", "^x+$", "Foo\\(", "TODO|_\\d", "[A-Z]\\w+", "y\\s*x", "^_"]
    for pattern in patterns:
        rg_pattern = proven(pattern)
        assert rg_pattern is not None, pattern
        regex = re2.compile(pattern)
        want = set()
        for f in tmp_path.iterdir():
            data = f.read_bytes()
            if b"\x00" in data[:8192]:
                continue
            if any(regex.search(line) for line in data.decode("utf-8", "replace").splitlines()):
                want.add(f.name)
        proc = _rg_start(tmp_path, [rg_pattern], max_bytes=MAX_FILE_BYTES)
        assert proc is not None
        out, _ = proc.communicate()
        listed = {Path(p.decode()).name for p in out.split(b"\0") if p}
        assert want <= listed, (pattern, sorted(want - listed))
        assert want, pattern  # the data exercises the pattern
