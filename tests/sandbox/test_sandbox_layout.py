"""The shared view (layout), the bwrap argv built from it, and the Landlock rule plan."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from codeward.sandbox import SandboxSpec
from codeward.sandbox.bwrap import build_argv, inner_limits
from codeward.sandbox.landlock import READ_DIR, Grant, Rule, build_landlock_spec, handled_fs, plan_rules, ro_rights
from codeward.sandbox.layout import build_layout, listening_socket_paths


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, Path]:
    home = tmp_path / "home"
    ws = tmp_path / "work" / "proj"
    for d in (
        home / ".pyenv",
        home / ".cargo",
        home / ".ssh",
        ws / ".git",
        ws / "src",
        ws / "secrets",
        tmp_path / "cw",
    ):
        d.mkdir(parents=True)
    (home / ".cargo" / "credentials.toml").write_text("token")
    (ws / ".env").write_text("x")
    (ws / "AGENTS.md").write_text("x")
    (ws / "CLAUDE.md").write_text("x")
    os.symlink("CLAUDE.md", ws / "LINKED.md")
    return {"home": home, "ws": ws, "cw": tmp_path / "cw", "tmp": tmp_path}


def _spec(t: dict[str, Path], **kw: object) -> SandboxSpec:
    ws = t["ws"]
    base: dict[str, object] = {
        "workspace": ws,
        "cwd": ws,
        "masked": (ws / ".env", ws / "secrets"),
        "protected": (ws / ".git", ws / "AGENTS.md", ws / ".codewardignore", ws / ".codeward", ws / "LINKED.md"),
        "codeward_home": t["cw"],
    }
    base.update(kw)
    return SandboxSpec(**base)  # type: ignore[arg-type]


def test_layout(tree: dict[str, Path]) -> None:
    ws = tree["ws"]
    lay = build_layout(
        _spec(tree),
        homes=[tree["home"]],
        private_dirs=[str(tree["tmp"] / "work")],
        sockets=[],
        system_secrets=[],
    )
    assert lay.private_dirs == (tree["tmp"] / "work", tree["home"])
    assert set(lay.reexposed) == {tree["home"] / ".pyenv", tree["home"] / ".cargo"}
    assert lay.writable == (ws,)
    assert set(lay.readonly) == {ws / ".git", ws / "AGENTS.md", ws / "CLAUDE.md"}  # the link's target
    assert set(lay.missing_protected) == {ws / ".codewardignore", ws / ".codeward"}
    assert lay.linked_protected == (ws / "LINKED.md",)
    assert set(lay.hidden_dirs) == {ws / "secrets", tree["cw"]}
    assert set(lay.hidden_files) == {ws / ".env", tree["home"] / ".cargo" / "credentials.toml"}


def test_listening_sockets_are_found(tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.listen(1)
    try:
        assert path in listening_socket_paths()
    finally:
        s.close()
    assert listening_socket_paths("/nonexistent") == []


def test_bwrap_argv_order_and_flags(tree: dict[str, Path]) -> None:
    ws = tree["ws"]
    spec = _spec(tree)
    lay = build_layout(spec, homes=[tree["home"]], private_dirs=["/tmp"], sockets=[], system_secrets=[])
    argv = build_argv(
        "/usr/bin/bwrap",
        spec,
        lay,
        stub=Path("/s/hidden"),
        env={"PATH": "/usr/bin", "HOME": str(tree["home"])},
        seccomp_fd=5,
        command=["true"],
        share_net=False,
        status_fd=6,
    )
    joined = " ".join(argv)
    for flag in ("--unshare-all", "--unshare-user", "--disable-userns", "--new-session", "--die-with-parent"):
        assert flag in argv
    assert "--share-net" not in argv
    assert argv[argv.index("--cap-drop") + 1] == "ALL"
    assert "--ro-bind / / --dev /dev --proc /proc" in joined
    assert argv[-2:] == ["--", "true"]
    assert argv[argv.index("--seccomp") + 1] == "5"
    assert argv[argv.index("--json-status-fd") + 1] == "6"

    def pos(*seq: str) -> int:
        for i in range(len(argv) - len(seq) + 1):
            if tuple(argv[i : i + len(seq)]) == seq:
                return i
        raise AssertionError(seq)

    home_tmpfs = pos("--tmpfs", str(tree["home"]))
    toolchain = pos("--ro-bind", str(tree["home"] / ".pyenv"), str(tree["home"] / ".pyenv"))
    ws_bind = pos("--bind", str(ws), str(ws))
    git_ro = pos("--ro-bind", str(ws / ".git"), str(ws / ".git"))
    env_hidden = pos("--ro-bind", "/s/hidden", str(ws / ".env"))
    secrets_hidden = pos("--perms", "0000", "--tmpfs", str(ws / "secrets"))
    assert home_tmpfs < toolchain < ws_bind < git_ro < env_hidden
    assert ws_bind < secrets_hidden
    assert pos("--remount-ro", str(ws / "secrets")) > secrets_hidden
    # no placeholder for a missing protected name: nothing the host does not have appears inside
    assert str(ws / ".codewardignore") not in argv and str(ws / ".codeward") not in argv
    assert pos("--setenv", "PATH", "/usr/bin") > pos("--clearenv")
    assert pos("--chdir", str(ws)) > 0


def test_share_net_only_with_network(tree: dict[str, Path]) -> None:
    spec = _spec(tree, network=True)
    lay = build_layout(spec, homes=[], private_dirs=[], sockets=[], system_secrets=[])
    argv = build_argv(
        "bwrap",
        spec,
        lay,
        stub=Path("a"),
        env={},
        seccomp_fd=3,
        command=["x"],
        share_net=True,
    )
    assert "--share-net" in argv


def test_inner_limits(tree: dict[str, Path]) -> None:
    spec = _spec(tree, max_file_size=1000, max_processes=64)
    assert inner_limits(spec, "/usr/bin/prlimit") == [
        "/usr/bin/prlimit",
        "--fsize=1000:1000",
        "--nproc=64:64",
        "--core=0:0",
        "--",
    ]
    sh = inner_limits(spec, None)
    assert sh[:2] == ["/bin/sh", "-c"] and "ulimit -f 2 " in sh[2] and "ulimit -u 64" in sh[2]


def _fake_scan(entries: dict[Path, list[str]]):  # type: ignore[no-untyped-def]
    def scan(d: Path) -> list[tuple[Path, bool]]:
        return [(d / n.rstrip("@"), n.endswith("@")) for n in entries.get(d, [])]

    return scan


def test_plan_rules_freezes_above_hidden_paths() -> None:
    ws = Path("/w")
    scan = _fake_scan(
        {
            ws: [".env", ".git", "AGENTS.md", "src", "data", "link@"],
            ws / "data": ["customers", "public"],
        }
    )
    rw = handled_fs(7)
    ro = ro_rights(7)
    rules = plan_rules(
        [Grant(ws, rw, inside_writable=True)],
        [ws / ".env", ws / "data" / "customers"],
        [ws / ".git", ws / "AGENTS.md"],
        ro=ro,
        scandir=scan,
    )
    got = {r.path: r.rights for r in rules}
    assert got[ws] == READ_DIR
    assert got[ws / "data"] == READ_DIR
    assert got[ws / "src"] == rw
    assert got[ws / "data" / "public"] == rw
    assert got[ws / ".git"] == ro
    assert got[ws / "AGENTS.md"] == ro
    for hidden in (ws / ".env", ws / "data" / "customers", ws / "link"):
        assert hidden not in got
    assert all(r.nofollow for r in rules if r.path != ws)


def test_plan_rules_without_hidden_is_one_rule_and_system_dirs_get_no_listing() -> None:
    assert plan_rules([Grant(Path("/w"), 7)], [Path("/other/x")], [], ro=5) == [Rule(Path("/w"), 7)]
    scan = _fake_scan({Path("/"): ["etc", "usr", "root"], Path("/etc"): ["shadow", "passwd"]})
    rules = plan_rules([Grant(Path("/"), 5)], [Path("/root"), Path("/etc/shadow")], [], ro=5, scandir=scan)
    assert {r.path for r in rules} == {Path("/usr"), Path("/etc/passwd")}


def test_landlock_spec_rights_by_abi(tree: dict[str, Path]) -> None:
    spec = _spec(tree)
    lay = build_layout(spec, homes=[tree["home"]], sockets=[], system_secrets=[])
    full = build_landlock_spec(spec, abi=7, private=tree["tmp"] / "priv", proxy_port=None, layout=lay)
    assert full["handled_fs"] == handled_fs(7) == (1 << 16) - 1
    assert full["handled_net"] == 3 and "net_ports" not in full
    assert full["scoped"] == 3
    paths = {p for p, _, _ in full["rules"]}
    assert str(tree["ws"] / ".env") not in paths
    assert "/dev/null" in paths and "/dev" not in paths
    old = build_landlock_spec(spec, abi=3, private=tree["tmp"] / "priv", proxy_port=None, layout=lay)
    assert old["handled_fs"] == (1 << 15) - 1
    assert "handled_net" not in old and "scoped" not in old
    proxied = build_landlock_spec(spec, abi=4, private=tree["tmp"] / "priv", proxy_port=4321, layout=lay)
    assert proxied["net_ports"] == [[4321, 2]]
