"""Under bubblewrap the sandbox's git reads an object-store *view*: the blobs that hold secrets or
that a hidden path held are not in it, and replace refs point git at placeholders. A compressed copy
(``git archive --format=tar.gz``, ``git bundle``) then carries no old secret and no hidden file's
text, which no output matching could promise."""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import subprocess
from pathlib import Path

import pytest
from tests.privacy.history_repo import AWS, DANGLING, LETTERS, ORDINARY, PLANTED, PRIVATE_NOTE, TOKEN, leaky_history

from codeward.project import open_project

RAW_READS = (
    "git show HEAD~1:.env; git show HEAD~1:config.py; "
    "git --no-replace-objects show HEAD~1:.env; GIT_NO_REPLACE_OBJECTS=1 git cat-file -p $(git rev-parse HEAD~1:.env); "
    "git cat-file --batch-all-objects --batch; git log -p --all --text --binary; git archive HEAD~1; "
    "cat .git/objects/pack/*.pack | gzip -dc 2>/dev/null"
)


def _bwrap():  # type: ignore[no-untyped-def]
    from codeward.errors import SandboxUnavailable
    from codeward.sandbox import select_sandbox

    try:
        return select_sandbox("bwrap")
    except SandboxUnavailable as e:
        pytest.skip(f"bwrap cannot be enforced here: {e}")


def _run(sb, spec, script: str) -> bytes:  # type: ignore[no-untyped-def]
    r = sb.run(["sh", "-c", script], dataclasses.replace(spec, output_cap=8 << 20))
    return r.output.encode("utf-8", "surrogateescape")


def _plain(out: bytes) -> bool:
    """Whether any planted value or the private note is in ``out``, or in a gzip stream inside it."""
    hay = [out]
    for i in range(len(out)):
        if out[i : i + 2] == b"\x1f\x8b":
            with contextlib.suppress(OSError, EOFError):
                hay.append(gzip.decompress(out[i:]))
    return any(v.encode() in h for h in hay for v in (*PLANTED, PRIVATE_NOTE))


@pytest.mark.sandbox
def test_raw_reads_of_the_history_find_placeholders(git_repo: Path) -> None:
    sb = _bwrap()
    leaky_history(git_repo)
    spec = open_project(git_repo, None).sandbox_spec()
    assert spec.git_view is not None and spec.git_view() is not None
    out = _run(sb, spec, RAW_READS + "; git archive --format=tar.gz HEAD~1 | base64 -d 2>/dev/null; true")
    assert not _plain(out)
    assert b"the content of .env is hidden" in out and b"<secret:github-pat:" in out
    assert b"bad object HEAD~1:.env" in out  # with replace refs off, the object is simply not there
    # the control: the same spec without the view reads every old value, raw
    raw = _run(sb, dataclasses.replace(spec, git_view=None), RAW_READS)
    assert all(v.encode() in raw for v in (AWS, LETTERS, TOKEN, DANGLING, PRIVATE_NOTE))


@pytest.mark.sandbox
def test_a_compressed_archive_and_a_bundle_carry_nothing(git_repo: Path) -> None:
    sb = _bwrap()
    leaky_history(git_repo)
    spec = open_project(git_repo, None).sandbox_spec()
    out = _run(sb, spec, "git archive --format=tar.gz HEAD~1")
    assert out and not _plain(out)
    # pack-objects reads objects raw (no replace refs): a bundle of the view stops at the first
    # missing blob instead of carrying it, and leaves nothing behind
    out = _run(sb, spec, "git bundle create leak.bundle --all 2>&1; git bundle create - --all | base64 -d 2>/dev/null")
    assert b"unable to read" in out and not _plain(out)
    assert not (git_repo / "leak.bundle").exists()


@pytest.mark.sandbox
def test_honest_git_still_works_on_the_view(git_repo: Path) -> None:
    sb = _bwrap()
    leaky_history(git_repo)
    spec = open_project(git_repo, None).sandbox_spec()
    out = _run(sb, spec, "git log -p; git status --short; git blame config.py; git log --oneline | wc -l")
    text = out.decode()
    assert all(line in text for line in ORDINARY)
    assert "Binary files /dev/null and b/.env differ" in text
    assert text.rstrip().endswith("4")  # every commit is there


def test_a_history_without_secrets_gets_no_view(git_repo: Path) -> None:
    spec = open_project(git_repo, None).sandbox_spec()
    assert spec.git_view is not None and spec.git_view() is None


@pytest.mark.sandbox
@pytest.mark.parametrize("tier", ["bwrap", "landlock"])
def test_a_view_that_cannot_be_built_hides_every_object(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch, tier: str
) -> None:
    """Fail closed: when filtering the store fails, commands get an empty one, not the real one."""
    from codeward.errors import SandboxUnavailable
    from codeward.privacy import history_view
    from codeward.sandbox import select_sandbox

    try:
        sb = select_sandbox(tier)
    except SandboxUnavailable as e:
        pytest.skip(f"{tier} cannot be enforced here: {e}")
    leaky_history(git_repo)

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(history_view, "build_view", broken)
    monkeypatch.setattr(history_view, "_views", {})
    spec = open_project(git_repo, None).sandbox_spec()
    view = spec.git_view() if spec.git_view is not None else None
    assert view is not None and not any(view.objects.rglob("*.pack"))  # an empty store
    out = _run(sb, spec, "git show HEAD~1:.env; git log -p; git cat-file --batch-all-objects --batch")
    assert not _plain(out) and b"ordinary-line-1" not in out


@pytest.mark.sandbox
@pytest.mark.parametrize("tier", ["bwrap", "landlock"])
def test_the_repositorys_own_info_files_still_apply(git_repo: Path, tier: str) -> None:
    """The ``.git/info`` copy bound under bubblewrap keeps ``exclude`` and the repository's own
    ``info/attributes`` lines (ours come after them, so they win for hidden paths only)."""
    from codeward.errors import SandboxUnavailable
    from codeward.sandbox import select_sandbox

    try:
        sb = select_sandbox(tier)
    except SandboxUnavailable as e:
        pytest.skip(f"{tier} cannot be enforced here: {e}")
    leaky_history(git_repo)
    info = git_repo / ".git" / "info"
    (info / "exclude").write_text("scratch.txt\n")
    (info / "attributes").write_text("notes.txt -diff\n")
    (git_repo / "scratch.txt").write_text("x\n")
    spec = open_project(git_repo, None).sandbox_spec()
    text = _run(sb, spec, "git status --short; git log -p -- notes.txt .env").decode()
    assert "scratch.txt" not in text
    assert "Binary files /dev/null and b/notes.txt differ" in text
    assert "Binary files /dev/null and b/.env differ" in text
    assert (info / "attributes").read_text() == "notes.txt -diff\n"  # the host's file is untouched


@pytest.mark.sandbox
def test_landlock_leaves_a_clean_history_s_store_in_place(git_repo: Path) -> None:
    """Only a history that holds a secret or a hidden path gets the view: elsewhere a Landlock
    command's git works on the real store, commits included."""
    from codeward.errors import SandboxUnavailable
    from codeward.sandbox import select_sandbox

    try:
        sb = select_sandbox("landlock")
    except SandboxUnavailable as e:
        pytest.skip(f"landlock cannot be enforced here: {e}")
    (git_repo / "notes.txt").write_text("ordinary-line-1\n")
    subprocess.run(["git", "add", "notes.txt"], cwd=git_repo, check=True)
    subprocess.run(["git", "-c", "user.name=a", "-c", "user.email=a@b", "commit", "-qm", "n"], cwd=git_repo, check=True)
    store = (git_repo / ".git" / "objects").stat().st_ino
    spec = open_project(git_repo, None).sandbox_spec()
    script = "git log -p; echo x > b.txt && git add b.txt && git -c user.name=a -c user.email=b commit -qm b && echo committed"
    out = _run(sb, spec, script)
    assert b"ordinary-line-1" in out and b"committed" in out
    assert not (git_repo / ".git" / "objects").is_symlink() and (git_repo / ".git" / "objects").stat().st_ino == store
    log = subprocess.run(["git", "log", "--format=%s"], cwd=git_repo, capture_output=True, text=True, check=True)
    assert log.stdout.splitlines()[0] == "b"


def test_a_git_dir_without_an_object_store_still_runs_commands(git_repo: Path) -> None:
    """A broken repository (``.git`` without ``objects``) gets no view bind: bwrap cannot create the
    mount point inside the read-only ``.git``, which failed every command; nothing there to hide."""
    import shutil

    sb = _bwrap()
    leaky_history(git_repo)
    spec = open_project(git_repo, None).sandbox_spec()
    shutil.rmtree(git_repo / ".git" / "objects")
    r = sb.run(["sh", "-c", "echo ran; ls .git/objects 2>&1; true"], spec)
    assert "ran" in r.output and "No such file" in r.output


MSG_TOKEN = "ghp_Mq4Wz8Rt2Yx6Pl9Kd3Fs7Hj1Vb5Nc0Ge2Ta8"
TAG_TOKEN = "ghp_Tg6Hn2Jm8Kq4Wr9Xs3Zc7Vb1Pl5Df0Ae2Yu4"
SHIFT = "python3 -c 'import sys;sys.stdout.write(\"\".join(chr(ord(c)+1) for c in sys.stdin.read()))'"


def _shifted(value: str) -> bytes:
    return "".join(chr(ord(c) + 1) for c in value).encode()


@pytest.mark.sandbox
@pytest.mark.parametrize(
    "view",
    [
        True,
        pytest.param(
            False,
            marks=pytest.mark.xfail(
                strict=True, raises=AssertionError, reason="control: without the view the messages are read raw"
            ),
        ),
    ],
)
def test_commit_and_tag_messages_with_secrets_are_redacted_in_the_view(git_repo: Path, view: bool) -> None:
    """A token pasted into a commit or tag message: ``git log`` and ``git show TAG`` inside the
    sandbox print a placeholder, so no transform (here each character shifted by one) carries it;
    the history still reads the same (every commit, the same ancestry)."""
    from tests.privacy.history_repo import git

    sb = _bwrap()
    (git_repo / "deploy.txt").write_text("deploy notes\n")
    git(git_repo, "add", "deploy.txt")
    git(git_repo, "commit", "-q", "-m", f"fix deploy\n\nthe old token was {MSG_TOKEN}, rotate it")
    git(git_repo, "tag", "-a", "v1", "-m", f"release with {TAG_TOKEN}")
    count = git(git_repo, "rev-list", "--count", "HEAD").strip()
    spec = open_project(git_repo, None).sandbox_spec()
    if not view:
        spec = dataclasses.replace(spec, git_view=None)
    out = _run(
        sb, spec, f"git log --format=%B --all | {SHIFT}; git cat-file -p v1 | {SHIFT}; git rev-list --count HEAD"
    )
    assert _shifted(MSG_TOKEN) not in out and _shifted(TAG_TOKEN) not in out, out[-400:]
    assert _shifted("<secret:") in out
    assert out.rstrip().endswith(count.encode())


@pytest.mark.sandbox
@pytest.mark.parametrize("how", ["bare", "bare-no-config", "linked-git", "git-pointer", "deinit"])
@pytest.mark.parametrize(
    "hidden",
    [
        True,
        pytest.param(False, marks=pytest.mark.xfail(strict=True, raises=AssertionError, reason="control: read raw")),
    ],
)
def test_stores_no_view_covers_are_hidden(
    git_repo: Path, how: str, hidden: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bare clone the host made inside the workspace, and the store a root ``.git`` link leads to:
    no object-store view covers them, so their objects are hidden whole (git on them fails)."""
    from tests.privacy.history_repo import git

    from codeward.project import sandbox_view

    sb = _bwrap()
    leaky_history(git_repo)
    if how.startswith("bare"):
        git(git_repo, "clone", "-q", "--bare", ".", "backup.git")
        if how == "bare-no-config":
            (git_repo / "backup.git" / "config").unlink()  # git opens it all the same (red team rt8)
        reads = "git --git-dir=backup.git log -p --all; cat backup.git/objects/pack/*.pack | base64 -d 2>/dev/null"
        store = git_repo / "backup.git" / "objects"
    elif how == "git-pointer":  # --separate-git-dir into the workspace (rt8)
        (git_repo / ".git").rename(git_repo / ".gitstore")
        (git_repo / ".git").write_text("gitdir: .gitstore\n")
        reads = "git log -p --all; git cat-file --batch-all-objects --batch"
        store = git_repo / ".gitstore" / "objects"
    elif how == "deinit":  # what `git submodule deinit` / `git rm` of a submodule leaves (rt8)
        module = git_repo / ".git" / "modules" / "lib"
        module.parent.mkdir()
        git(git_repo, "clone", "-q", "--bare", ".", str(module))
        reads = "git --git-dir=.git/modules/lib log -p --all"
        store = module / "objects"
    else:
        real = git_repo / "gitdir"
        (git_repo / ".git").rename(real)
        (git_repo / ".git").symlink_to("gitdir")
        (git_repo / ".gitignore").write_text("gitdir/\n")
        reads = "git log -p --all; git cat-file --batch-all-objects --batch"
        store = real / "objects"
    if not hidden:
        monkeypatch.setattr(sandbox_view, "unviewed_git_stores", lambda root, protected: [])
    spec = open_project(git_repo, None).sandbox_spec()
    out = _run(sb, spec, f"{{ {reads}; }} 2>&1 | {SHIFT}")
    assert not any(_shifted(v) in out for v in (AWS, LETTERS, TOKEN)), out[-300:]
    assert store in spec.masked


@pytest.mark.sandbox
@pytest.mark.parametrize("how", ["author", "extra-header", "mergetag", "utf-7", "utf-16-no-header"])
def test_secrets_in_commit_headers_and_foreign_encodings_are_redacted(git_repo: Path, how: str) -> None:
    """Red team rt8: a token as the author's name, in an extra header, in a ``mergetag`` header (git
    copies a merged signed tag, message and all, into the merge commit), or in a message stored in
    UTF-7 (``git log`` re-encodes it: ``+AF8-`` prints as ``_``) is not in the view as it was."""
    from tests.privacy.history_repo import git

    sb = _bwrap()
    head = git(git_repo, "rev-parse", "HEAD").strip()
    tree = git(git_repo, "rev-parse", "HEAD^{tree}").strip()
    who = "A U Thor <a@example.com> 1700000000 -0500"
    author = f"ghp_{MSG_TOKEN[4:]}" if how == "author" else "A U Thor"
    lines = [f"tree {tree}", f"parent {head}", f"author {author} <a@example.com> 1700000000 -0500", f"committer {who}"]
    message = "import\n"
    if how == "extra-header":
        lines.append(f"x-deploy-token {MSG_TOKEN}")
    elif how == "mergetag":
        lines += [
            f"mergetag object {head}",
            " type commit",
            " tag v2",
            f" tagger {who}",
            " ",
            f" deploy key {MSG_TOKEN}",
        ]
    elif how == "utf-7":
        lines.append("encoding UTF-7")
        message = "key " + MSG_TOKEN.replace("_", "+AF8-") + "\n"
    body = message.encode()
    if how == "utf-16-no-header":  # red team rt9: `iconv -f UTF-16LE` shows it; the bytes hold NULs
        body = f"key {MSG_TOKEN}\n".encode("utf-16-le")
    text = ("\n".join(lines) + "\n\n").encode() + body
    oid = (
        subprocess.run(
            ["git", "hash-object", "-t", "commit", "-w", "--stdin", "--literally"],
            cwd=git_repo,
            input=text,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )
    git(git_repo, "update-ref", "refs/heads/imported", oid)
    spec = open_project(git_repo, None).sandbox_spec()
    out = _run(
        sb,
        spec,
        f"{{ git cat-file commit imported; git log -1 --format='%an %B' imported; "
        f"git cat-file commit imported | iconv -f UTF-16LE -t UTF-8 2>/dev/null; }} 2>&1 | {SHIFT}",
    )
    assert _shifted(MSG_TOKEN) not in out and _shifted(MSG_TOKEN[4:]) not in out, out[-400:]
    assert _shifted(tree) in out  # the history still reads
