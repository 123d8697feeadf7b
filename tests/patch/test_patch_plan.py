"""The planner, pure: new contents from old ones, collapsed per path, errors naming file and hunk."""

from __future__ import annotations

import pytest

from codeward.patch import FileChange, PatchError, parse_patch, plan_patch


class Files:
    """A fake file system for the pure planner: a dict, plus a log of what was read."""

    def __init__(self, **files: bytes) -> None:
        self.files = {k.replace("__", "/"): v for k, v in files.items()}
        self.reads: list[str] = []

    def __call__(self, path: str) -> bytes | None:
        self.reads.append(path)
        return self.files.get(path)


def plan(text: str, files: Files, **kw: str) -> list[FileChange]:
    before = dict(files.files)
    changes = plan_patch(parse_patch(text), files, **kw)
    assert files.files == before  # planning never writes
    return changes


def patch(*lines: str) -> str:
    return "\n".join(["*** Begin Patch", *lines, "*** End Patch"])


def test_changes_carry_old_and_new_content() -> None:
    files = Files(**{"a.txt": b"1\n2\n", "gone.txt": b"bye\n"})
    changes = plan(
        patch("*** Add File: n.txt", "+new", "*** Update File: a.txt", "@@", "-2", "+two", "*** Delete File: gone.txt"),
        files,
    )
    assert changes == [
        FileChange(path="n.txt", kind="add", old_path=None, old=None, new=b"new\n"),
        FileChange(path="a.txt", kind="update", old_path=None, old=b"1\n2\n", new=b"1\ntwo\n"),
        FileChange(path="gone.txt", kind="delete", old_path=None, old=b"bye\n", new=None),
    ]
    assert files.reads == ["n.txt", "a.txt", "gone.txt"]


def test_move_is_one_change_with_old_path() -> None:
    changes = plan(
        patch("*** Update File: a.txt", "*** Move to: d/b.txt", "@@", "-x", "+y"), Files(**{"a.txt": b"x\n"})
    )
    assert changes == [FileChange(path="d/b.txt", kind="update", old_path="a.txt", old=b"x\n", new=b"y\n")]


def test_move_chain_collapses_to_one_move() -> None:
    text = patch("*** Update File: a", "*** Move to: b", "*** Update File: b", "*** Move to: c", "@@", "-1", "+2")
    assert plan(text, Files(a=b"1\n")) == [FileChange(path="c", kind="update", old_path="a", old=b"1\n", new=b"2\n")]


def test_move_back_to_the_same_place_is_an_update() -> None:
    text = patch("*** Update File: a", "*** Move to: b", "*** Update File: b", "*** Move to: a", "@@", "-1", "+2")
    assert plan(text, Files(a=b"1\n")) == [FileChange(path="a", kind="update", old_path=None, old=b"1\n", new=b"2\n")]


def test_move_away_then_add_at_the_old_path() -> None:
    text = patch("*** Update File: a", "*** Move to: b", "*** Add File: a", "+fresh")
    assert plan(text, Files(a=b"old\n")) == [
        FileChange(path="a", kind="update", old_path=None, old=b"old\n", new=b"fresh\n"),
        FileChange(path="b", kind="add", old_path=None, old=None, new=b"old\n"),
    ]


def test_move_onto_a_file_deleted_earlier_in_the_patch() -> None:
    text = patch("*** Delete File: b", "*** Update File: a", "*** Move to: b")
    assert plan(text, Files(a=b"A\n", b=b"B\n")) == [
        FileChange(path="b", kind="update", old_path=None, old=b"B\n", new=b"A\n"),
        FileChange(path="a", kind="delete", old_path=None, old=b"A\n", new=None),
    ]


def test_add_then_delete_is_no_change_and_noop_update_is_dropped() -> None:
    text = patch("*** Add File: t", "+x", "*** Delete File: t", "*** Update File: a", "@@", " same")
    assert plan(text, Files(a=b"same\n")) == []


def test_delete_then_add_is_an_update() -> None:
    text = patch("*** Delete File: a", "*** Add File: a", "+new")
    assert plan(text, Files(a=b"old\n")) == [
        FileChange(path="a", kind="update", old_path=None, old=b"old\n", new=b"new\n")
    ]


@pytest.mark.parametrize(
    ("text", "files", "message"),
    [
        (patch("*** Add File: a", "+x"), {"a": b"1"}, "a: cannot add (patch line 2): the file already exists"),
        (
            patch("*** Add File: a", "+x", "*** Add File: a", "+y"),
            {},
            "a: patch line 4 adds it again after patch line 2",
        ),
        (patch("*** Delete File: a"), {}, "a: cannot delete (patch line 2): the file does not exist"),
        (
            patch("*** Delete File: a", "*** Delete File: a"),
            {"a": b"1"},
            "a: cannot delete (patch line 3): patch line 2 already deleted or moved it away",
        ),
        (
            patch("*** Update File: a", "*** Move to: b", "*** Update File: a", "@@", "-1", "+2"),
            {"a": b"1\n"},
            "a: cannot update (patch line 4): patch line 2 already deleted or moved it away; use '*** Add File: a'",
        ),
        (
            patch("*** Update File: a", "*** Move to: b"),
            {"a": b"1", "b": b"2"},
            "b: cannot move a there (patch line 2, '*** Move to:'): the file already exists",
        ),
        (
            patch("*** Update File: bin", "@@", "-x", "+y"),
            {"bin": b"\x00\xffx\n"},
            "bin: not UTF-8 text (undecodable byte at offset 1)",
        ),
    ],
)
def test_refusals(text: str, files: dict[str, bytes], message: str) -> None:
    with pytest.raises(PatchError) as info:
        plan(text, Files(**files))
    assert message in str(info.value)


def test_binary_files_can_be_deleted_and_moved_unchanged() -> None:
    data = b"\x89PNG\x00\xff"
    text = patch("*** Delete File: a.bin", "*** Update File: b.bin", "*** Move to: c.bin")
    assert plan(text, Files(**{"a.bin": data, "b.bin": data})) == [
        FileChange(path="a.bin", kind="delete", old_path=None, old=data, new=None),
        FileChange(path="c.bin", kind="update", old_path="b.bin", old=data, new=data),
    ]


def test_failure_in_a_later_file_names_file_hunk_and_lines() -> None:
    text = patch(
        "*** Update File: ok.txt",
        "@@",
        "-a",
        "+b",
        "*** Update File: bad.txt",
        "@@",
        " one",
        "-two",
        "+2",
        "@@ def nowhere():",
        "-x",
    )
    with pytest.raises(PatchError) as info:
        plan(text, Files(**{"ok.txt": b"a\n", "bad.txt": b"one\nTWO\n"}))
    msg = str(info.value)
    assert msg.startswith("bad.txt: hunk 1 (patch line 7): these context/removed lines were not found:\n")
    assert "\n     one\n    -two\n" in msg
    assert "The first line 'one' occurs at line(s) 1, but the lines after it differ." in msg


def test_header_failure_names_the_anchor() -> None:
    text = patch("*** Update File: a.py", "@@", "-x", "+y", "@@ def nowhere():", "-z")
    with pytest.raises(PatchError) as info:
        plan(text, Files(**{"a.py": b"x\nz\n"}))
    assert str(info.value).startswith(
        "a.py: hunk 2 (patch line 6): the anchor line '@@ def nowhere():' was not found after line 1."
    )


def test_long_hunks_are_shown_shortened() -> None:
    body = [f"-missing {i}" for i in range(30)]
    with pytest.raises(PatchError) as info:
        plan(patch("*** Update File: a", "@@", *body), Files(a=b"x\n"))
    msg = str(info.value)
    assert "-missing 11\n" in msg
    assert "-missing 12\n" not in msg
    assert "... (18 more)" in msg
    assert "No line of the file matches the first line 'missing 0'." in msg


def test_hunks_apply_in_order_after_the_previous_match() -> None:
    text = patch("*** Update File: a", "@@", "-x", "+1", "@@", "-x", "+2", "@@", "-x", "+3")
    assert plan(text, Files(a=b"x\ny\nx\ny\nx\n"))[0].new == b"1\ny\n2\ny\n3\n"


def test_header_then_context_finds_the_occurrence_after_the_header() -> None:
    src = b"def a():\n    return 0\n\ndef b():\n    return 0\n"
    text = patch("*** Update File: m.py", "@@ def b():", "-    return 0", "+    return 1")
    assert plan(text, Files(**{"m.py": src}))[0].new == src[: src.rindex(b"0")] + b"1\n"


def test_end_of_file_anchor_and_pure_additions() -> None:
    text = patch("*** Update File: a", "@@", "+tail", "*** End of File")
    assert plan(text, Files(a=b"x\n"))[0].new == b"x\ntail\n"
    text = patch("*** Update File: a", "@@", "+first")
    assert plan(text, Files(a=b""))[0].new == b"first\n"
    text = patch("*** Update File: a", "@@ [section]", "+key = 1")
    assert plan(text, Files(a=b"[other]\n[section]\nz = 0\n"))[0].new == b"[other]\n[section]\nkey = 1\nz = 0\n"


def test_trailing_empty_context_is_retried_without() -> None:
    text = patch("*** Update File: a", "@@", " x", "-y", "+Y", " ")
    assert plan(text, Files(a=b"x\ny"))[0].new == b"x\nY\n"


def test_context_lines_keep_the_file_text_after_a_fuzzy_match() -> None:
    text = patch("*** Update File: a", "@@", " keep", "-old", "+new", " also")
    assert plan(text, Files(a=b"\tkeep  \nold\n  also\n"))[0].new == b"\tkeep  \nnew\n  also\n"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"a\r\nb\r\n", b"a\r\nB\r\nadded\r\n"),  # CRLF kept, added lines get CRLF
        (b"a\nb\n", b"a\nB\nadded\n"),
        (b"a\r\nb\n", b"a\r\nB\nadded\n"),  # a tie picks LF for new lines
        (b"a\r\nb", b"a\r\nB\r\nadded\r\n"),  # the only ending decides; the end changed, so a newline
        (b"\xef\xbb\xbfa\nb\n", b"\xef\xbb\xbfa\nB\nadded\n"),  # BOM kept
    ],
)
def test_line_endings(old: bytes, new: bytes) -> None:
    text = patch("*** Update File: f", "@@", " a", "-b", "+B", "+added")
    assert plan(text, Files(f=old))[0].new == new


def test_removing_the_last_line_of_a_file_without_newline() -> None:
    text = patch("*** Update File: f", "@@", " a", "-b")
    assert plan(text, Files(f=b"a\nb"))[0].new == b"a\n"
    text = patch("*** Update File: f", "@@", "-a", "-b")
    assert plan(text, Files(f=b"a\nb"))[0].new == b""


def test_base_directory_prefixes_paths() -> None:
    files = Files(**{"sub__a.txt": b"x\n"})
    changes = plan(patch("*** Update File: a.txt", "@@", "-x", "+y", "*** Add File: n/b.txt", "+b"), files, base="sub")
    assert [(c.path, c.kind) for c in changes] == [("sub/a.txt", "update"), ("sub/n/b.txt", "add")]
    with pytest.raises(PatchError, match=r"contains '\.\.'"):
        plan(patch("*** Add File: x", "+x"), files, base="../up")


def test_reader_errors_become_patch_errors() -> None:
    def broken(path: str) -> bytes | None:
        raise PermissionError(13, "Permission denied", path)

    with pytest.raises(PatchError, match=r"^a: cannot be read \(Permission denied\); nothing was changed$"):
        plan_patch(parse_patch(patch("*** Delete File: a")), broken)

    def refusing(path: str) -> bytes | None:
        raise PatchError(f"{path}: is a directory")

    with pytest.raises(PatchError, match=r"^d: is a directory$"):
        plan_patch(parse_patch(patch("*** Delete File: d")), refusing)

    with pytest.raises(TypeError, match="returned str"):
        plan_patch(parse_patch(patch("*** Delete File: d")), lambda p: "text")  # type: ignore[arg-type,return-value]
