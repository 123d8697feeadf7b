"""Fuzzy line matching: strict passes win, each pass finds the earliest match at or after start."""

from __future__ import annotations

import pytest

from codeward.patch.seek import LineIndex, Match, find_line, find_sequence, fold_punctuation


def find(lines: list[str], pattern: list[str], start: int = 0, *, at_end: bool = False) -> Match | None:
    return find_sequence(LineIndex(lines), pattern, start, at_end=at_end)


def test_exact_match_is_found_at_the_earliest_position() -> None:
    assert find(["a", "b", "a", "b"], ["a", "b"]) == Match(0, "exact")
    assert find(["a", "b", "a", "b"], ["a", "b"], 1) == Match(2, "exact")
    assert find(["a", "b"], ["b", "a"]) is None


def test_an_exact_match_later_beats_a_fuzzy_match_earlier() -> None:
    lines = ["x = 1  ", "y", "x = 1", "y"]
    assert find(lines, ["x = 1", "y"]) == Match(2, "exact")


@pytest.mark.parametrize(
    ("file_line", "pattern_line", "pass_name"),
    [
        ("value = 1   ", "value = 1", "ignoring trailing whitespace"),
        ("value = 1", "value = 1\t", "ignoring trailing whitespace"),
        ("\t\tvalue = 1", "        value = 1", "ignoring leading and trailing whitespace"),
        ("  value = 1", "value = 1", "ignoring leading and trailing whitespace"),
        ("a \u2013 b", "a - b", "with Unicode punctuation normalised"),
        ("a - b", "a \u2014 b", "with Unicode punctuation normalised"),
        ("x = \u201cq\u201d", 'x = "q"', "with Unicode punctuation normalised"),
        ("it\u2019s", "it's", "with Unicode punctuation normalised"),
        ("a\u00a0b", "a b", "with Unicode punctuation normalised"),
        ("n \u2212 1", "n - 1", "with Unicode punctuation normalised"),
        ("wait\u2026", "wait...", "with Unicode punctuation normalised"),
    ],
)
def test_fuzzy_passes(file_line: str, pattern_line: str, pass_name: str) -> None:
    assert find(["before", file_line, "after"], ["before", pattern_line]) == Match(0, pass_name)


def test_fuzzy_matching_does_not_ignore_inner_differences() -> None:
    assert find(["a  b"], ["a b"]) is None
    assert find(["foo(x)"], ["foo(y)"]) is None
    assert find(["a - b"], ["a _ b"]) is None


def test_at_end_only_matches_the_last_lines() -> None:
    lines = ["ret", "x", "ret"]
    assert find(lines, ["ret"], at_end=True) == Match(2, "exact")
    assert find(lines, ["ret", "x"], at_end=True) is None
    assert find(lines, ["x", "ret  "], at_end=True) == Match(1, "ignoring trailing whitespace")
    assert find(lines, ["ret"], 3, at_end=True) is None


def test_empty_pattern_and_overlong_pattern() -> None:
    assert find(["a", "b"], [], 1) == Match(1, "exact")
    assert find(["a", "b"], [], 0, at_end=True) == Match(2, "exact")
    assert find(["a"], ["a", "b"]) is None
    assert find([], ["a"]) is None


def test_find_line_requires_the_whole_line() -> None:
    index = LineIndex(["def loader():", "def load():"])
    assert find_line(index, "def load():", 0) == Match(1, "exact")
    assert find_line(index, "def load", 0) is None


def test_fold_punctuation() -> None:
    assert fold_punctuation("\u00a0\u201chi\u201d \u2018x\u2019 \u2013\u2014\u2212 ") == "\"hi\" 'x' ---"
