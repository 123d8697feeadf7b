"""bubblewrap binds a copy of ``.git/info`` (with the attributes for hidden paths) over the real one,
after the mounts of the redacted view: the copy must take a redacted file from its redacted copy and
leave a hidden one out, or the bind would bring ``info/exclude``'s token back raw."""

from __future__ import annotations

import subprocess
from pathlib import Path

from codeward.sandbox.gitview import attributes_info

RAW = "# deploy token ghp_Q7mK2vX9pL4rT8wZ1nB6cJ3hF5dS0aYeUiOg\n*.log\n"
SHOWN = "# deploy token <secret:github-pat:0badc0de>\n*.log\n"


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".git" / "info" / "exclude").write_text(RAW)
    (repo / ".git" / "info" / "private").write_text("hidden by a rule\n")
    return repo


def test_the_info_copy_takes_redacted_files_from_their_copy_and_leaves_hidden_ones_out(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    info = repo / ".git" / "info"
    copy = tmp_path / "view-0"
    copy.write_text(SHOWN)
    out = attributes_info(repo, [".env"], [(info / "exclude", copy)], [info / "private"])
    assert out is not None
    assert (out / "exclude").read_text() == SHOWN
    assert not (out / "private").exists()
    assert (out / "attributes").read_text() == "/.env -diff\n"
    # a later command whose view has no copy for it (the file lost its secret) gets it as it is
    again = attributes_info(repo, [".env"])
    assert again is not None and (again / "exclude").read_text() == RAW


def test_control_without_the_view_pairs_the_copy_is_raw(tmp_path: Path) -> None:
    """What the bind showed before: every file of ``.git/info`` as it is on the host."""
    repo = _repo(tmp_path)
    out = attributes_info(repo, [".env"])
    assert out is not None
    assert (out / "exclude").read_text() == RAW and (out / "private").exists()


def test_attribute_lines_match_exactly_the_named_path_in_git(tmp_path: Path) -> None:
    """git itself reads each line (plain names on the fast path, odd ones escaped or C-quoted) as
    the one path it names: ``git check-attr`` says ``diff: unset`` for it and nothing for a look-alike."""

    from codeward.sandbox.gitview import attribute_line

    repo = tmp_path / "r"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    names = ["src/a.py", "x y.txt", 'q"uote', "tab\tname", "star*", "[set]", "back\\slash", "#hash", "!bang", "é.txt"]
    (repo / ".git" / "info").mkdir(exist_ok=True)
    (repo / ".git" / "info" / "attributes").write_text("".join(attribute_line(n) for n in names))
    for n in names:
        out = subprocess.run(
            ["git", "-C", str(repo), "check-attr", "-z", "diff", "--", n], capture_output=True, check=True
        ).stdout.split(b"\0")
        assert out[2] == b"unset", (n, out)
    for decoy in ["src/b.py", "x", "starX", "s", "hash"]:
        out = subprocess.run(
            ["git", "-C", str(repo), "check-attr", "-z", "diff", "--", decoy], capture_output=True, check=True
        ).stdout.split(b"\0")
        assert out[2] == b"unspecified", (decoy, out)
