"""The approval diff: standard unified form, and nothing hidden from the person approving it."""

from __future__ import annotations

from codeward.patch import FileChange, unified_diff


def change(kind: str, old: bytes | None, new: bytes | None, path: str = "f.txt", old_path: str | None = None):
    return FileChange(path=path, kind=kind, old_path=old_path, old=old, new=new)  # type: ignore[arg-type]


def test_update_diff() -> None:
    old = b"".join(b"line %d\n" % i for i in range(1, 11))
    new = old.replace(b"line 5\n", b"line five\n")
    assert unified_diff(change("update", old, new)) == (
        "--- a/f.txt\n+++ b/f.txt\n@@ -2,7 +2,7 @@\n line 2\n line 3\n line 4\n-line 5\n+line five\n"
        " line 6\n line 7\n line 8\n"
    )
    assert (
        unified_diff(change("update", old, new), context=0)
        == "--- a/f.txt\n+++ b/f.txt\n@@ -5 +5 @@\n-line 5\n+line five\n"
    )


def test_add_delete_and_move_headers() -> None:
    assert unified_diff(change("add", None, b"a\nb\n")) == "--- /dev/null\n+++ b/f.txt\n@@ -0,0 +1,2 @@\n+a\n+b\n"
    assert unified_diff(change("delete", b"a\n", None)) == "--- a/f.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-a\n"
    moved = unified_diff(change("update", b"a\n", b"b\n", path="new/g.txt", old_path="f.txt"))
    assert moved == "rename f.txt -> new/g.txt\n--- a/f.txt\n+++ b/new/g.txt\n@@ -1 +1 @@\n-a\n+b\n"
    same = unified_diff(change("update", b"a\n", b"a\n", path="g.txt", old_path="f.txt"))
    assert same == "rename f.txt -> g.txt\n--- a/f.txt\n+++ b/g.txt\n(content unchanged)\n"
    assert unified_diff(change("add", None, b"")) == "--- /dev/null\n+++ b/f.txt\n(new empty file)\n"


def test_missing_final_newline_is_marked() -> None:
    assert unified_diff(change("update", b"a\nb", b"a\nb\n")) == (
        "--- a/f.txt\n+++ b/f.txt\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n"
    )


def test_control_and_invisible_characters_are_shown_escaped() -> None:
    new = "ok\n\x1b[2K\x1b[1Ahidden\ncode \u202eevil\u202c\nzero\u200bwidth\ttab\n".encode()
    out = unified_diff(change("add", None, new))
    assert "\x1b" not in out and "\u202e" not in out and "\u200b" not in out
    assert "+\\x1b[2K\\x1b[1Ahidden\n" in out
    assert "+code \\u202eevil\\u202c\n" in out
    assert "+zero\\u200bwidth\ttab\n" in out


def test_paths_are_escaped_too() -> None:
    out = unified_diff(change("add", None, b"x\n", path="a\u202eb.txt"))
    assert "+++ b/a\\u202eb.txt\n" in out


def test_crlf_files_show_without_cr_but_ending_changes_show() -> None:
    out = unified_diff(change("update", b"a\r\nb\r\n", b"a\r\nB\r\n"))
    assert out == "(CRLF line endings)\n--- a/f.txt\n+++ b/f.txt\n@@ -1,2 +1,2 @@\n a\n-b\n+B\n"
    out = unified_diff(change("update", b"a\r\nb\r\n", b"a\nb\r\n"))
    assert "-a\\r\n+a\n" in out


def test_binary_content_is_summarised() -> None:
    out = unified_diff(change("update", b"\xff\x00", b"\xff\x01\x02"))
    assert out == "--- a/f.txt\n+++ b/f.txt\nBinary content (2 -> 3 bytes), not shown\n"
