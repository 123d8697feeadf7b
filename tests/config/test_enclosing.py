"""Directory entries of an enclosing project, re-written from a nested repository's root."""

from __future__ import annotations

import pytest

from codeward.config.enclosing import WHOLE, moved_entry, reanchor


@pytest.mark.parametrize(
    ("pattern", "prefix", "expected"),
    [
        ("vendor/lib/data/", "vendor/lib", ["data"]),
        ("./vendor/lib/data", "vendor/lib", ["data"]),
        ("/vendor/lib/a/b/", "vendor/lib", ["a/b"]),
        ("vendor/", "vendor/lib", [WHOLE]),
        ("vendor/lib", "vendor/lib", [WHOLE]),
        ("src/", "vendor/lib", []),
        ("vendor/other/x", "vendor/lib", []),
        ("vendor/*/data", "vendor/lib", ["data"]),
        ("*/lib/data", "vendor/lib", ["data"]),
        ("**/secrets", "vendor/lib", ["**/secrets"]),
        ("**/lib", "vendor/lib", [WHOLE]),
        ("**/lib/data", "a/vendor/lib", ["**/lib/data", "data"]),
        ("vendor/**/data", "vendor/lib", ["**/data"]),  # "**/" also matches no directory
        ("../x", "vendor/lib", None),
        ("", "vendor/lib", None),
    ],
)
def test_reanchor(pattern: str, prefix: str, expected: list[str] | None) -> None:
    assert reanchor(pattern, prefix) == expected


def test_an_entry_covering_the_whole_workspace() -> None:
    assert moved_entry("disallow_directories", "vendor/", "vendor/lib") == ["*"]  # every path in it
    assert moved_entry("allow_directories", "vendor/", "vendor/lib") == ["./"]  # all of it
    assert moved_entry("allow_directories", "../up", "vendor/lib") == ["../up"]  # left for the policy check
