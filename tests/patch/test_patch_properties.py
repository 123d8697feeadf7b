"""Property: a patch generated from the diff of two random files turns the first into the second.

The generator writes Codex-format hunks from difflib's opcodes with 3 lines of context. Because the
format has no line numbers, a hunk applies at the first place its lines occur after the previous
hunk; with few distinct lines that can be earlier than meant, so the generator widens the context
backwards until the first occurrence is the intended one (what a careful model does with more
context or an ``@@`` header). Lines are drawn from a small alphabet full of repeats, blanks,
whitespace variants and patch syntax, to stress matching and parsing.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from patch_helpers import snapshot

from codeward.patch import apply_patch_text, parse_patch, plan_patch
from codeward.workspace import Workspace

ALPHABET = [
    "",
    "a",
    "b",
    "a ",
    "  a",
    "\ta",
    "x = 1",
    "def f():",
    "    return x",
    "*** End Patch",
    "*** Update File: z",
    "@@",
    "@@ x",
    "-",
    "+",
    " ",
    "\u2013 \u201cq\u201d",
    "p\u2028q",
]
lines_st = st.lists(st.sampled_from(ALPHABET), max_size=25)


def _first_at_or_after(haystack: list[str], needle: list[str], start: int) -> int | None:
    for i in range(start, len(haystack) - len(needle) + 1):
        if haystack[i : i + len(needle)] == needle:
            return i
    return None


def make_update(path: str, old: list[str], new: list[str], *, raw_blank: bool, eof_marker: bool) -> list[str]:
    """The Codex-format lines of an Update File section turning ``old`` into ``new``."""
    out = [f"*** Update File: {path}"]
    prev_end = 0
    for group in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_grouped_opcodes(3):
        start, end = group[0][1], group[-1][2]
        body: list[tuple[str, str]] = []
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                body += [(" ", t) for t in old[i1:i2]]
            else:
                body += [("-", t) for t in old[i1:i2]]
                body += [("+", t) for t in new[j1:j2]]
        while start > prev_end and _first_at_or_after(old, old[start:end], prev_end) != start:
            start -= 1
            body.insert(0, (" ", old[start]))
        out.append("@@")
        for k, (kind, text) in enumerate(body):
            later_non_blank = any(not (kd == " " and t == "") for kd, t in body[k + 1 :])
            if raw_blank and kind == " " and text == "" and later_non_blank:
                out.append("")  # the lenient form: an empty context line written as a blank line
            else:
                out.append(kind + text)
        if eof_marker and end == len(old) and start < end:
            out.append("*** End of File")
        prev_end = end
    return out


def encode(lines: list[str], eol: str, final_newline: bool) -> bytes:
    if not lines:
        return b""
    if lines[-1] == "":
        final_newline = True  # a last empty line without newline is not representable
    text = eol.join(lines) + (eol if final_newline else "")
    return text.encode("utf-8")


def expected_bytes(old: list[str], new: list[str], eol: str, final_newline: bool) -> bytes:
    """The planner's documented result: the file's ending style; no final newline only if the
    original lacked one and its last line is still the last line, untouched."""
    if old and old[-1] == "":
        final_newline = True
    keeps_last = False
    if not final_newline and old and new:
        for tag, _i1, i2, _j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
            if tag == "equal" and i2 == len(old) and j2 == len(new):
                keeps_last = True
    return encode(new, eol, not keeps_last)


edit_st = st.fixed_dictionaries(
    {
        "old": lines_st,
        "new": lines_st,
        "eol": st.sampled_from(["\n", "\r\n"]),
        "final_newline": st.booleans(),
        "raw_blank": st.booleans(),
        "eof_marker": st.booleans(),
    }
)


def derived(draw: st.DrawFn) -> dict:
    """A target made by random edits of the original (closer to real edits than two random files)."""
    case = draw(edit_st)
    new = list(case["old"])
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        at = draw(st.integers(0, len(new)))
        if op == "insert":
            new[at:at] = draw(st.lists(st.sampled_from(ALPHABET), min_size=1, max_size=3))
        elif new and at < len(new):
            n = draw(st.integers(1, 3))
            new[at : at + n] = [] if op == "delete" else draw(st.lists(st.sampled_from(ALPHABET), max_size=3))
    case["new"] = new
    return case


cases_st = st.one_of(edit_st, st.composite(derived)())


@settings(max_examples=400, deadline=None)
@given(cases_st)
def test_generated_patch_reproduces_the_target(case: dict) -> None:
    old, new = case["old"], case["new"]
    old_bytes = encode(old, case["eol"], case["final_newline"])
    old = old_bytes.decode().replace("\r\n", "\n").split("\n")
    if old[-1] == "":
        old.pop()
    if old == new:
        return
    body = make_update("f.txt", old, new, raw_blank=case["raw_blank"], eof_marker=case["eof_marker"])
    text = "\n".join(["*** Begin Patch", *body, "*** End Patch"]) + "\n"
    changes = plan_patch(parse_patch(text), {"f.txt": old_bytes}.get)
    eol = case["eol"] if b"\n" in old_bytes else "\n"  # a file without line breaks has no style: LF
    want = expected_bytes(old, new, eol, case["final_newline"])
    if want == old_bytes:
        assert changes == []
    else:
        assert len(changes) == 1
        assert changes[0].new == want


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(lines_st, lines_st), min_size=1, max_size=4))
def test_multi_file_patch_applies_on_disk(tmp_path: Path, pairs: list[tuple[list[str], list[str]]]) -> None:
    root = Path(tmp_path / "ws")
    if root.exists():
        import shutil

        shutil.rmtree(root)
    root.mkdir()
    expected: dict[str, bytes | None] = {"d/": None}
    body: list[str] = []
    for k, (old, new) in enumerate(pairs):
        name = f"d/f{k}.txt"
        (root / "d").mkdir(exist_ok=True)
        old_bytes = encode(old, "\n", True)
        (root / name).write_bytes(old_bytes)
        if old != new:
            body += make_update(name, old, new, raw_blank=False, eof_marker=False)
        expected[name] = encode(new, "\n", True)
    if not body:
        return
    ws = Workspace(root=root.resolve(), cwd=root.resolve())
    apply_patch_text("\n".join(["*** Begin Patch", *body, "*** End Patch"]), ws)
    assert snapshot(root) == expected
