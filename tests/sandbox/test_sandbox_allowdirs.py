"""allow_directories for commands: which directories the spec makes writable, and how each tier is told.

The pure parts (the writable set, its agreement with ``decide_edit``, validation, the note, the
bwrap argv, the Landlock rules, the Seatbelt profile) are checked here; the real commands and their
effects on the host are in ``test_sandbox_allowdirs_escapes.py``.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from codeward.config.model import PolicyEntry
from codeward.errors import UsageError
from codeward.policy import Policy, decide_edit
from codeward.project import open_project
from codeward.project.write_scope import MAX_DIRS, intersect, write_scope
from codeward.sandbox import SandboxSpec
from codeward.sandbox.bwrap import build_argv
from codeward.sandbox.landlock import READ_DIR, build_landlock_spec, handled_fs, ro_rights
from codeward.sandbox.layout import build_layout
from codeward.sandbox.notes import explain
from codeward.sandbox.seatbelt import build_profile
from codeward.sandbox.spec import is_within, validate_spec

GOLDEN = Path(__file__).with_name("golden") / "seatbelt_profile_allow_dirs.sb"

DIRS = (
    "src/api/v1",
    "src/web",
    "lib/core",
    "lib/util",
    "packages/a/src",
    "packages/b/src",
    "packages/b/docs",
    "docs/generated",
    "tools/gen/generated",
)


def user(*patterns: str) -> list[PolicyEntry]:
    return [PolicyEntry(p, "config.toml", True) for p in patterns]


def repo(*patterns: str) -> list[PolicyEntry]:
    return [PolicyEntry(p, f"AGENTS.md:{i + 3}", False) for i, p in enumerate(patterns)]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "ws"
    for d in DIRS:
        (r / d).mkdir(parents=True)
    (r / ".git" / "hooks").mkdir(parents=True)
    return r.resolve()


def rels(root: Path, dirs: tuple[Path, ...] | None) -> list[str] | None:
    return None if dirs is None else [d.relative_to(root).as_posix() for d in dirs]


def test_no_entries_or_whole_workspace_leaves_it_writable(root: Path) -> None:
    assert write_scope(root, []).dirs is None
    assert write_scope(root, repo(".")).dirs is None
    assert write_scope(root, user("/") + repo("./")).dirs is None


def test_one_list_is_the_writable_set(root: Path) -> None:
    scope = write_scope(root, repo("src/", "./lib/core", "src/api"))
    assert rels(root, scope.dirs) == ["lib/core", "src"]  # src/api lies under src
    assert scope.rule == "allow_directories, AGENTS.md:3, AGENTS.md:4, AGENTS.md:5"
    assert rels(root, write_scope(root, user("lib")).dirs) == ["lib"]


def test_both_owners_narrow_each_other(root: Path) -> None:
    assert rels(root, write_scope(root, user("src/") + repo("src/api/")).dirs) == ["src/api"]
    assert rels(root, write_scope(root, user("src/api") + repo("src")).dirs) == ["src/api"]
    both = write_scope(root, user("src", "lib/core") + repo("lib", "src/web", "docs"))
    assert rels(root, both.dirs) == ["lib/core", "src/web"]
    # a user list of the whole workspace leaves the repository's list
    assert rels(root, write_scope(root, user(".") + repo("lib/util")).dirs) == ["lib/util"]
    # disjoint lists: nothing in the workspace is writable
    assert write_scope(root, user("src") + repo("lib")).dirs == ()


def test_intersection_is_symmetric() -> None:
    a = [Path("/w/src"), Path("/w/lib/core")]
    b = [Path("/w/lib"), Path("/w/src/api"), Path("/w/docs")]
    assert intersect(a, b) == intersect(b, a) == [Path("/w/lib/core"), Path("/w/src/api")]


def test_missing_linked_protected_and_hidden_dirs_are_not_writable(root: Path) -> None:
    (root / "notadir").write_text("x")
    (root / "linked").symlink_to(root / "lib")
    (root / "secrets").mkdir()
    scope = write_scope(
        root,
        repo("src", "gen/", "notadir", "linked/core", ".git/hooks", "secrets"),
        masked=[root / "secrets"],
        protected=[root / ".git"],
    )
    assert rels(root, scope.dirs) == ["src"]
    assert scope.skipped == (
        ".git/hooks/ is a protected path",
        "gen/ does not exist (create it with a patch first)",
        "linked/core/ is reached through a symbolic link",
        "notadir/ is not a directory",
        "secrets/ is hidden from commands",
    )


def test_globs_expand_to_existing_directories(root: Path) -> None:
    (root / "packages" / "c").mkdir()  # no src: matches nothing
    (root / "packages" / "d").symlink_to(root / "lib")
    assert rels(root, write_scope(root, repo("packages/*/src")).dirs) == ["packages/a/src", "packages/b/src"]
    assert rels(root, write_scope(root, repo("**/generated")).dirs) == ["docs/generated", "tools/gen/generated"]
    assert rels(root, write_scope(root, repo("lib/**")).dirs) == ["lib"]
    assert rels(root, write_scope(root, repo("lib/*")).dirs) == ["lib"]  # lib/* also covers files in lib/
    assert write_scope(root, repo("*")).dirs is None
    assert rels(root, write_scope(root, repo("*/core", "?ools")).dirs) == ["lib/core", "tools"]
    assert rels(root, write_scope(root, repo("[.]*", "*/hooks")).dirs) == []  # never .git
    assert write_scope(root, repo("nothing*")).dirs == ()


def test_too_many_directories_is_refused(root: Path) -> None:
    many = root / "many"
    for i in range(MAX_DIRS + 1):
        (many / f"d{i}").mkdir(parents=True)
    with pytest.raises(UsageError, match=r"names 257 directories; the sandbox takes at most 256"):
        write_scope(root, repo("many/d*"))
    with pytest.raises(UsageError, match=r"AGENTS.md:3: allow_directories entry '\.\./x'"):
        write_scope(root, repo("../x"))


PATTERN_SETS = [
    (user("src/"), repo("src/api/")),
    ([], repo("src", "lib/core")),
    (user("lib"), repo("lib/*")),
    ([], repo("packages/*/src")),
    (user("packages"), repo("**/src")),
    ([], repo("**/generated", "src/web/")),
    (user("src", "docs"), repo("docs/generated", "src")),
    (user("src"), repo("lib")),
]


@pytest.mark.parametrize(("mine", "theirs"), PATTERN_SETS)
def test_commands_and_patches_agree(root: Path, mine: list[PolicyEntry], theirs: list[PolicyEntry]) -> None:
    """For every existing directory, a file in it is writable by commands exactly when a patch may change it."""
    scope = write_scope(root, mine + theirs)
    policy = Policy(allow_directories=mine + theirs)
    assert scope.dirs is not None
    checked = 0
    for dirpath, dirnames, _ in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        rel = Path(dirpath).relative_to(root).as_posix()
        f = "x.py" if rel == "." else f"{rel}/x.py"
        by_patch = decide_edit(f, "full-auto", policy).decision == "allow"
        by_command = any(is_within(root / f, d) for d in scope.dirs)
        assert by_patch == by_command, f
        checked += 1
    assert checked > len(DIRS)


def test_sandbox_spec_reads_both_owners(git_repo: Path, cw_home: Path) -> None:
    (git_repo / "src" / "api").mkdir(parents=True)
    (git_repo / "AGENTS.md").write_text("# rules\n\nallow_directories:\n- src/api/\n- gen/\n")
    (cw_home / "config.toml").write_text('[policy]\nallow_directories = ["src/"]\n')
    spec = open_project(git_repo).sandbox_spec()
    assert spec.workspace_writable == (git_repo / "src" / "api",)
    assert spec.write_rule == f"allow_directories, {cw_home / 'config.toml'}:2, AGENTS.md:4, AGENTS.md:5"
    assert spec.write_skipped == ()  # gen/ is outside the user's src/, so it is not allowed at all
    assert spec.writable_roots() == (git_repo / "src" / "api",)
    assert spec.roots() == (git_repo,) and spec.readonly_roots() == (git_repo,)
    (cw_home / "config.toml").write_text("")
    alone = open_project(git_repo).sandbox_spec()
    assert alone.workspace_writable == (git_repo / "src" / "api",)
    assert alone.write_skipped == ("gen/ does not exist (create it with a patch first)",)
    (git_repo / "AGENTS.md").write_text("# no policy\n")
    free = open_project(git_repo).sandbox_spec()
    assert free.workspace_writable is None and free.writable_roots() == (git_repo,) and free.readonly_roots() == ()


def test_validate_refuses_widening_specs(git_repo: Path, tmp_path: Path) -> None:
    (git_repo / "src").mkdir()
    (git_repo / "secrets").mkdir()
    base = SandboxSpec(workspace=git_repo, cwd=git_repo, workspace_writable=(git_repo / "src",))
    validate_spec(base, ["true"])
    validate_spec(replace(base, cwd=git_repo / "secrets"), ["true"])  # the cwd may be anywhere in the workspace
    validate_spec(replace(base, workspace_writable=()), ["true"])
    cases = [
        (replace(base, workspace_writable=(tmp_path,)), "is outside the workspace"),
        (replace(base, workspace_writable=(git_repo / "missing",)), "must be an existing directory"),
        (replace(base, workspace_writable=(git_repo / ".git" / "hooks",), protected=(git_repo / ".git",)), "protected"),
        (replace(base, workspace_writable=(git_repo / "secrets",), masked=(git_repo / "secrets",)), "hidden"),
        (replace(base, writable=(tmp_path,)), "contains the workspace"),
    ]
    for spec, msg in cases:
        with pytest.raises(UsageError, match=msg):
            validate_spec(spec, ["true"])


def _spec(ws: Path, **kw: object) -> SandboxSpec:
    return replace(
        SandboxSpec(
            workspace=ws,
            cwd=ws,
            workspace_writable=(ws / "src",),
            write_rule="allow_directories, AGENTS.md:7",
        ),
        **kw,  # type: ignore[arg-type]
    )


def test_note_names_the_allowed_dirs_and_the_rule(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    want = (
        "sandbox: only src/ may be modified (allow_directories, AGENTS.md:7); other paths are read-only; "
        "the temp dir ($TMPDIR) stays writable"
    )
    for tier, output in (
        ("bwrap", "bash: line 1: other.txt: Read-only file system\n"),
        ("landlock", "touch: cannot touch 'other.txt': Permission denied\n"),
        ("bwrap", "ln: failed to create hard link 'src/hl' => 'a.txt': Invalid cross-device link\n"),
    ):
        assert explain(exit_code=1, output=output, timed_out=False, spec=spec, tier=tier) == want
    skipped = replace(
        spec, workspace_writable=(), write_skipped=("gen/ does not exist (create it with a patch first)",)
    )
    assert explain(exit_code=1, output="x: Read-only file system", timed_out=False, spec=skipped, tier="bwrap") == (
        "sandbox: nothing in the workspace may be modified (allow_directories, AGENTS.md:7); it is read-only; "
        "gen/ does not exist (create it with a patch first); the temp dir ($TMPDIR) stays writable"
    )
    # without the limit the old note stands; protected paths keep their own note
    free = replace(spec, workspace_writable=None)
    assert "only the workspace and the temp dir" in str(
        explain(exit_code=1, output="x: Read-only file system", timed_out=False, spec=free, tier="bwrap")
    )
    prot = replace(spec, protected=(tmp_path / "src" / "AGENTS.md",))
    note = explain(exit_code=1, output="src/AGENTS.md: Read-only file system", timed_out=False, spec=prot, tier="bwrap")
    assert note == "sandbox: src/AGENTS.md is read-only (protected path)"


@pytest.fixture
def narrowed(tmp_path: Path) -> SandboxSpec:
    ws = tmp_path / "ws"
    for d in ("src/conf", "lib", ".git"):
        (ws / d).mkdir(parents=True)
    (ws / "AGENTS.md").write_text("x")
    (ws / "src" / "AGENTS.md").write_text("x")
    (ws / "src" / "main.py").write_text("x")
    (ws / "src" / "conf" / ".env").write_text("x")
    (ws / ".env").write_text("x")
    return SandboxSpec(
        workspace=ws,
        cwd=ws,
        workspace_writable=(ws / "src",),
        masked=(ws / ".env", ws / "src" / "conf" / ".env"),
        protected=(ws / ".git", ws / "AGENTS.md", ws / "src" / "AGENTS.md", ws / "src" / ".codexignore"),
        codeward_home=tmp_path / "cw",
    )


def test_layout_and_bwrap_binds_the_workspace_read_only_then_the_allowed_dirs(narrowed: SandboxSpec) -> None:
    ws = narrowed.workspace
    lay = build_layout(narrowed, homes=[], private_dirs=["/tmp"], sockets=[], system_secrets=[])
    assert lay.readonly_roots == (ws,)
    assert lay.writable == (ws / "src",)
    assert lay.readonly == (ws / "src" / "AGENTS.md",)  # .git and AGENTS.md at the root are read-only anyway
    assert lay.missing_protected == (ws / "src" / ".codexignore",)
    assert set(lay.hidden_files) == {ws / ".env", ws / "src" / "conf" / ".env"}
    argv = build_argv(
        "bwrap",
        narrowed,
        lay,
        stub=Path("/s/hidden"),
        env={},
        seccomp_fd=3,
        command=["true"],
        share_net=False,
    )

    def pos(*seq: str) -> int:
        for i in range(len(argv) - len(seq) + 1):
            if tuple(argv[i : i + len(seq)]) == seq:
                return i
        raise AssertionError(seq)

    assert ["--bind", str(ws), str(ws)] not in [argv[i : i + 3] for i in range(len(argv) - 2)]
    ws_ro = pos("--ro-bind", str(ws), str(ws))
    src_rw = pos("--bind", str(ws / "src"), str(ws / "src"))
    agents_ro = pos("--ro-bind", str(ws / "src" / "AGENTS.md"), str(ws / "src" / "AGENTS.md"))
    conf_anchor = pos("--bind", str(ws / "src" / "conf"), str(ws / "src" / "conf"))
    env_hidden = pos("--ro-bind", "/s/hidden", str(ws / "src" / "conf" / ".env"))
    assert pos("--tmpfs", "/tmp") < ws_ro < src_rw < conf_anchor < agents_ro < env_hidden
    assert lay.anchored == (ws / "src" / "conf",)  # only under writable roots
    assert pos("--chdir", str(ws)) > env_hidden


def test_landlock_grants_write_rights_only_under_the_allowed_dirs(narrowed: SandboxSpec) -> None:
    ws = narrowed.workspace
    lay = build_layout(narrowed, homes=[], private_dirs=[], sockets=[], system_secrets=[])
    priv = ws.parent / "priv"
    priv.mkdir()
    ll = build_landlock_spec(narrowed, abi=7, private=priv, proxy_port=None, layout=lay)
    rw, ro = handled_fs(7), ro_rights(7)
    rights: dict[Path, int] = {}
    for path, access, _ in ll["rules"]:
        rights[Path(path)] = rights.get(Path(path), 0) | access
    write = rw & ~ro
    for p, access in rights.items():
        if access & write and not is_within(p, priv) and not p.is_relative_to("/dev"):
            assert is_within(p, ws / "src"), p
    assert rights[ws / "lib"] == ro
    # frozen around the hidden files (the Landlock gap): listable, but no entry can be added or removed
    assert rights[ws] == rights[ws / "src"] == rights[ws / "src" / "conf"] == READ_DIR
    assert rights[ws / "src" / "main.py"] == rw
    assert rights[ws / "src" / "AGENTS.md"] == ro
    assert ws / ".env" not in rights and ws / "src" / "conf" / ".env" not in rights


def _profile(spec: SandboxSpec) -> str:
    return build_profile(
        spec,
        private_tmp=Path("/private/var/folders/xy/T/codeward-sbx-1"),
        homes=[Path("/Users/ann")],
        toolchains=[Path("/Users/ann/.pyenv")],
        hidden=[Path("/Users/ann/src/app/.env"), Path("/Users/ann/.codeward")],
        protected=[Path("/Users/ann/src/app/.git"), Path("/Users/ann/src/app/src/AGENTS.md")],
        proxy_port=None,
    )


def test_seatbelt_profile_golden() -> None:
    ws = Path("/Users/ann/src/app")
    spec = SandboxSpec(
        workspace=ws,
        cwd=ws / "docs",
        writable=(Path("/Users/ann/.cache/pip"),),
        workspace_writable=(ws / "src", ws / "tests"),
    )
    text = _profile(spec)
    if os.environ.get("CODEWARD_UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()
    read_ws = text.index('(allow file-read*\n  (subpath "/Users/ann/src/app")\n)')
    write = text.index('(allow file-read* file-write*\n  (subpath "/Users/ann/src/app/src")')
    keep = text.index('(deny file-write*\n  (literal "/Users/ann/src/app/src")')
    assert read_ws < write < keep < text.index('(literal "/Users/ann/src/app/src/AGENTS.md")')
    assert '(subpath "/Users/ann/src/app")\n  (subpath "/Users/ann/.cache/pip")' not in text
