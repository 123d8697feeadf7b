"""The patch parser: structure, leniency, and errors that name the line and what was expected."""

from __future__ import annotations

import pytest

from codeward.errors import EXIT_FAILED, CodewardError
from codeward.patch import FileOp, Hunk, HunkLine, Patch, PatchError, parse_patch


def patch(*lines: str) -> str:
    return "\n".join(["*** Begin Patch", *lines, "*** End Patch"]) + "\n"


def test_all_three_operations_parse_into_data() -> None:
    p = parse_patch(
        patch(
            "*** Add File: docs/a.md",
            "+# A",
            "+",
            "*** Delete File: old.txt",
            "*** Update File: src/m.py",
            "*** Move to: src/n.py",
            "@@ def f():",
            " x = 1",
            "-y = 2",
            "+y = 3",
            "*** End of File",
        )
    )
    assert p == Patch(
        ops=(
            FileOp(kind="add", path="docs/a.md", content=("# A", ""), line=2),
            FileOp(kind="delete", path="old.txt", line=5),
            FileOp(
                kind="update",
                path="src/m.py",
                move_to="src/n.py",
                hunks=(
                    Hunk(
                        headers=("def f():",),
                        lines=(HunkLine(" ", "x = 1"), HunkLine("-", "y = 2"), HunkLine("+", "y = 3")),
                        end_of_file=True,
                        line=8,
                    ),
                ),
                line=6,
            ),
        )
    )
    assert p.ops[0].added_text() == "# A\n\n"
    hunk = p.ops[2].hunks[0]
    assert hunk.old_lines == ["x = 1", "y = 2"]
    assert hunk.new_lines == ["x = 1", "y = 3"]


def test_paths_lists_every_path_once_including_move_targets() -> None:
    p = parse_patch(
        patch(
            "*** Update File: a.txt",
            "*** Move to: b.txt",
            "@@",
            "-x",
            "+y",
            "*** Delete File: c.txt",
            "*** Add File: a.txt",
            "+again",
            "*** Update File: ./b.txt",
            "@@",
            "-y",
            "+z",
        )
    )
    assert p.paths() == ["a.txt", "b.txt", "c.txt"]


def test_paths_are_normalised() -> None:
    p = parse_patch(patch("*** Add File: ./src//pkg/./m.txt", "+x"))
    assert p.ops[0].path == "src/pkg/m.txt"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/etc/passwd", "is absolute"),
        ("\\\\server\\share\\x", "is absolute"),
        ("C:\\Windows\\x.txt", "is absolute"),
        ("C:/Windows/x.txt", "is absolute"),
        ("~/.bashrc", "starts with '~'"),
        ("../x.txt", "contains '..'"),
        ("a/../../x.txt", "contains '..'"),
        ("a/..", "contains '..'"),
        ("dir/", "ends with '/'"),
        (".", "names the workspace root"),
        ("a\x00b", "contains a NUL byte"),
        ("a\tb", "contains a control character"),
        ("a\x1b[2Kb", "contains a control character"),
    ],
)
def test_bad_paths_are_refused_with_the_patch_line(path: str, message: str) -> None:
    for header in ("*** Add File: ", "*** Delete File: ", "*** Update File: "):
        body = [header + path, "+x"] if "Add" in header else [header + path]
        if "Update" in header:
            body += ["@@", "-a", "+b"]
        with pytest.raises(PatchError) as info:
            parse_patch(patch(*body))
        assert message in str(info.value)
        assert str(info.value).startswith("patch line 2 (")


def test_bad_move_target_is_refused() -> None:
    with pytest.raises(PatchError, match=r"patch line 3 \(\*\*\* Move to:\): the path '/tmp/x' is absolute"):
        parse_patch(patch("*** Update File: a.txt", "*** Move to: /tmp/x"))


def test_empty_path_is_refused() -> None:
    with pytest.raises(PatchError, match=r"patch line 2 \(\*\*\* Delete File:\): the path is empty"):
        parse_patch(patch("*** Delete File:   "))


def test_patch_error_is_a_codeward_error_with_failure_exit_code() -> None:
    with pytest.raises(CodewardError) as info:
        parse_patch("nonsense")
    assert isinstance(info.value, PatchError)
    assert info.value.exit_code == EXIT_FAILED


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the patch is empty"),
        ("\n  \n", "the patch is empty"),
        ("*** Update File: a\n*** End Patch\n", "patch line 1: expected '*** Begin Patch' as the first line"),
        ("*** Begin Patch\n", "patch line 1: '*** End Patch' is missing"),
        ("*** Begin Patch\n*** Add File: a\n+a\n", "patch line 3: expected '*** End Patch' as the last line, got '+a'"),
        ("*** Begin Patch\n*** End Patch\n", "patch line 2: the patch has no file operations"),
        ("*** Begin Patch\n\n*** Bogus: x\n*** End Patch", "patch line 3: unknown marker '*** Bogus: x'"),
        ("*** Begin Patch\n*** Move to: b\n*** End Patch", "patch line 2: '*** Move to:' must come right after"),
        ("*** Begin Patch\n*** End of File\n*** End Patch", "patch line 2: '*** End of File' must end a hunk"),
        ("*** Begin Patch\n@@\n-a\n*** End Patch", "patch line 2: expected a file operation"),
        ("*** Begin Patch\nhello\n*** End Patch", "patch line 2: expected a file operation"),
        ("*** Begin Patch\n*** Begin Patch\n*** End Patch", "patch line 2: a second '*** Begin Patch'"),
        ("*** Begin Patch\n*** Add File: a\nno plus\n*** End Patch", "patch line 3: every line of '*** Add File: a'"),
        (
            "*** Begin Patch\n*** Update File: a\n*** End Patch",
            "patch line 2: '*** Update File: a' has no hunks",
        ),
        (
            "*** Begin Patch\n*** Update File: a\n@@\n*** End Patch",
            "patch line 3: hunk 1 of '*** Update File: a' has a '@@' line but no ' ', '-' or '+' lines",
        ),
        (
            "*** Begin Patch\n*** Update File: a\n@@\n-x\n@@\n*** End Patch",
            "patch line 5: hunk 2 of '*** Update File: a' has a '@@' line",
        ),
        (
            "*** Begin Patch\n*** Update File: a\n@@x\n-x\n*** End Patch",
            "patch line 3: in '*** Update File: a', a hunk header is '@@' or '@@ TEXT'",
        ),
        (
            "*** Begin Patch\n*** Update File: a\n@@\n-x\nplain\n*** End Patch",
            "patch line 5: in hunk 1 of 'a', expected a line starting with ' ' (context), '-' (remove) or '+' (add)",
        ),
        (
            "*** Begin Patch\n*** Update File: a\n*** End of File\n*** End Patch",
            "patch line 3: '*** End of File' must follow the lines of a hunk",
        ),
        (
            "*** Begin Patch\n*** Update File: a\n@@\n-x\n*** End of File\n+y\n*** End Patch",
            "patch line 6: in '*** Update File: a', start a new hunk with '@@' after '*** End of File'",
        ),
        ("apply_patch <<'EOF'\n*** Begin Patch\n*** End Patch\n", "patch line 1: the heredoc '<<EOF' is not closed"),
    ],
)
def test_malformed_patches_name_the_line_and_what_was_expected(text: str, message: str) -> None:
    with pytest.raises(PatchError) as info:
        parse_patch(text)
    assert message in str(info.value)


def test_non_string_input_is_refused() -> None:
    with pytest.raises(PatchError, match="must be a string"):
        parse_patch(b"*** Begin Patch")  # type: ignore[arg-type]


def test_long_offending_lines_are_cut_in_messages() -> None:
    with pytest.raises(PatchError) as info:
        parse_patch(patch("x" * 500))
    assert "x" * 80 + "..." in str(info.value)
    assert "x" * 81 not in str(info.value)


SIMPLE = ["*** Begin Patch", "*** Update File: a.txt", "@@", " ctx", "-old", "+new", "*** End Patch"]


@pytest.mark.parametrize(
    "text",
    [
        "\n".join(SIMPLE),  # no final newline
        "\r\n".join(SIMPLE) + "\r\n",  # CRLF
        "\ufeff" + "\n".join(SIMPLE) + "\n",  # BOM
        "\n\n" + "\n".join(SIMPLE) + "\n\n\n",  # blank lines around
        "apply_patch <<'EOF'\n" + "\n".join(SIMPLE) + "\nEOF\n",
        "apply_patch <<EOF\n" + "\n".join(SIMPLE) + "\nEOF",
        'apply_patch << "END"\n' + "\n".join(SIMPLE) + "\nEND\n",
        "applypatch <<-EOF\n" + "\n".join(SIMPLE) + "\n  EOF  \n",
        "<<'EOF'\n" + "\n".join(SIMPLE) + "\nEOF\n",
        "```\n" + "\n".join(SIMPLE) + "\n```\n",
        "```patch\napply_patch <<'EOF'\n" + "\n".join(SIMPLE) + "\nEOF\n```",
        " *** Begin Patch \n  *** Update File: a.txt  \n@@   \n ctx\n-old\n+new\n\t*** End Patch\t",
    ],
)
def test_lenient_forms_parse_to_the_same_patch(text: str) -> None:
    expected = parse_patch("\n".join(SIMPLE) + "\n")
    got = parse_patch(text)
    assert [(op.kind, op.path, op.hunks and [(h.headers, h.lines) for h in op.hunks]) for op in got.ops] == [
        (op.kind, op.path, op.hunks and [(h.headers, h.lines) for h in op.hunks]) for op in expected.ops
    ]


def test_line_numbers_count_the_heredoc_line() -> None:
    with pytest.raises(PatchError, match="patch line 4: in hunk 1 of 'a'"):
        parse_patch("apply_patch <<'EOF'\n*** Begin Patch\n*** Update File: a\nbad\n*** End Patch\nEOF\n")


def test_stacked_headers_and_unified_ranges() -> None:
    p = parse_patch(
        patch(
            "*** Update File: a.py",
            "@@ class A:",
            "@@     def f(self):",
            "-        pass",
            "@@ -10,4 +10,5 @@ def g():",
            " tail",
            "+more",
        )
    )
    first, second = p.ops[0].hunks
    assert first.headers == ("class A:", "    def f(self):")
    assert first.line == 3
    assert second.headers == ()
    assert second.lines == (HunkLine(" ", "tail"), HunkLine("+", "more"))


def test_first_hunk_may_omit_its_header_line() -> None:
    p = parse_patch(patch("*** Update File: a", " ctx", "-x", "+y"))
    assert p.ops[0].hunks == (
        Hunk(headers=(), lines=(HunkLine(" ", "ctx"), HunkLine("-", "x"), HunkLine("+", "y")), line=3),
    )


def test_blank_lines_in_hunks_are_context_except_trailing_separators() -> None:
    p = parse_patch(patch("*** Update File: a", "@@", " a", "", "-b", "", "", "@@", "-c", "", "*** Delete File: d"))
    h1, h2 = p.ops[0].hunks
    assert h1.lines == (HunkLine(" ", "a"), HunkLine(" ", ""), HunkLine("-", "b"))
    assert h2.lines == (HunkLine("-", "c"),)
    assert p.ops[1] == FileOp(kind="delete", path="d", line=12)


def test_blank_lines_before_end_of_file_are_kept() -> None:
    p = parse_patch(patch("*** Update File: a", "@@", "-last", "+LAST", "", "*** End of File"))
    hunk = p.ops[0].hunks[0]
    assert hunk.end_of_file
    assert hunk.lines[-1] == HunkLine(" ", "")


def test_a_space_prefixed_marker_inside_a_hunk_is_context() -> None:
    p = parse_patch(
        patch("*** Update File: doc.patch", "@@", " *** Update File: other", " *** End Patch", "-@@ x", "+@@ y")
    )
    assert len(p.ops) == 1
    assert p.ops[0].hunks[0].old_lines == ["*** Update File: other", "*** End Patch", "@@ x"]


def test_add_file_blank_lines_are_empty_lines_but_trailing_ones_dropped() -> None:
    p = parse_patch(patch("*** Add File: a", "+one", "", "+three", "", "", "*** Add File: b"))
    assert p.ops[0].content == ("one", "", "three")
    assert p.ops[1].content == ()
    assert p.ops[1].added_text() == ""


def test_content_may_contain_nul_and_unicode_separators() -> None:
    p = parse_patch(patch("*** Add File: a", "+x\x00y", "+p\u2028q", "+\x1b[31mred"))
    assert p.ops[0].content == ("x\x00y", "p\u2028q", "\x1b[31mred")


def test_move_may_follow_blank_lines_and_update_may_be_move_only() -> None:
    p = parse_patch(patch("*** Update File: a", "", "*** Move to: b/c"))
    assert p.ops[0] == FileOp(kind="update", path="a", move_to="b/c", line=2)
