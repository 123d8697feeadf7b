"""The CI copy (``exec --audit-log FILE``) and ``exec -o FILE``: opened at start, never through a link.

End to end with the real program, the real sandbox and a scripted model server on loopback; judged
from the host (file contents, where bytes landed) and by ``logs verify`` with the verification key.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.audit.forge import rechain, records
from tests.support.cli import codeward, write_config
from tests.support.cw_subprocess import run_cw

from codeward.audit import open_ci_copy
from codeward.audit.keys import read_state
from codeward.audit.writer import AuditSink
from codeward.errors import UsageError
from codeward.fsutil import PinnedOutput

SID = "aaaa1111-0000-4000-8000-000000000001"


def setup_keys() -> str:
    r = run_cw("logs", "setup-keys")
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_ci_copy_inside_the_workspace_is_refused_before_the_run(model_server, git_repo, cw_home) -> None:
    write_config(cw_home, model_server.url)
    model_server.script([{"text": "done"}])
    (git_repo.parent / "via-link").symlink_to(git_repo)
    for target in (git_repo / "audit.jsonl", git_repo.parent / "via-link" / "ci.jsonl"):
        run = codeward("exec", "--audit-log", str(target), "hi", cwd=git_repo)
        assert run.returncode == 2, run.stderr
        assert "inside" in run.stderr and "where the model's commands can write" in run.stderr
        assert "Traceback" not in run.stderr
    assert not (git_repo / "audit.jsonl").exists() and model_server.requests == []


def test_ci_copy_in_a_writable_root_is_refused(model_server, git_repo, cw_home, tmp_path) -> None:
    extra_root = tmp_path / "shared"
    extra_root.mkdir()
    write_config(cw_home, model_server.url, extra=f'[sandbox]\nwritable_roots = ["{extra_root}"]\n')
    run = codeward("exec", "--audit-log", str(extra_root / "a.jsonl"), "hi", cwd=git_repo)
    assert run.returncode == 2 and f"inside {extra_root}" in run.stderr
    assert model_server.requests == []


def test_ci_copy_link_and_missing_dir_are_refused(git_repo, tmp_path, cw_home) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    link = tmp_path / "audit.jsonl"
    link.symlink_to(victim)
    run = codeward("exec", "--audit-log", str(link), "hi", cwd=git_repo)
    assert run.returncode == 2 and "symbolic link" in run.stderr
    assert victim.read_text() == "keep me\n"
    run = codeward("exec", "--audit-log", str(tmp_path / "nope" / "a.jsonl"), "hi", cwd=git_repo)
    assert run.returncode == 2 and "does not exist" in run.stderr
    hard = tmp_path / "hard.jsonl"
    os.link(victim, hard)
    with pytest.raises(UsageError, match="hard link"):
        open_ci_copy(hard, [])
    assert victim.read_text() == "keep me\n"


@pytest.mark.sandbox
@pytest.mark.parametrize("tier", ["bwrap", "landlock"])
def test_command_cannot_replace_the_ci_copy_and_it_verifies_with_the_key(
    tier, model_server, git_repo, cw_home, tmp_path
):
    """The review's CI attack: the model's command re-chains the copy and moves it over the path."""
    key = setup_keys()
    write_config(cw_home, model_server.url, extra=f'[sandbox]\ntier = "{tier}"\n')
    ci = tmp_path / "ci"
    ci.mkdir()
    audit = ci / "audit.jsonl"
    attack = f"printf forged > {ci}/x.jsonl && mv -f {ci}/x.jsonl {audit}; echo rc=$?"
    model_server.script([{"tool": "shell", "args": {"command": attack}}, {"text": "done"}])
    run = codeward("exec", "-a", "full-auto", "--json", "--audit-log", str(audit), "go", cwd=git_repo)
    assert run.returncode == 0, run.stderr
    [cmd] = run.items("command_execution")
    assert "rc=0" not in cmd["aggregated_output"]
    assert audit.read_bytes().startswith(b'{"seq":0,') and not (ci / "x.jsonl").exists()
    [ran] = [r for r in records(audit) if r["type"] == "command"]
    assert ran["tier"] == tier
    r = run_cw("logs", "verify", str(audit), "--verification-key", key)
    assert r.returncode == 0, r.stdout
    assert "MACs checked, epoch 0" in r.stdout and "matches the index entry of its session" in r.stdout
    # the auditor's machine: only the artifact and the key, no codeward home of that run
    elsewhere = tmp_path / "auditor-home"
    elsewhere.mkdir()
    r = run_cw("logs", "verify", str(audit), "--verification-key", key, env={"CODEWARD_HOME": str(elsewhere)})
    assert r.returncode == 0 and "MACs checked, epoch 0" in r.stdout, r.stdout


def test_copy_replaced_during_the_run_is_reported_and_fails_verify(cw_home, tmp_path) -> None:
    """If something outside the sandbox moves a re-chained copy over the path mid-run, codeward keeps
    writing its own file, says the path was replaced, and the forgery fails verify with the key."""
    key = setup_keys()
    path, fd = open_ci_copy(tmp_path / "audit.jsonl", [])
    sink = AuditSink(SID, logs_dir=cw_home / "logs", extra=path, extra_fd=fd, seal_home=cw_home)
    sink.write_event({"type": "session.started", "provider": "fake"})
    sink.write_event({"type": "command.executed", "argv": ["curl", "evil"], "exit_code": 0})
    forged = tmp_path / "forged.jsonl"
    forged.write_bytes(rechain(records(path), drop_types=("command",), key=read_state(cw_home).key))
    os.replace(forged, path)
    sink.write_event({"type": "session.ended", "status": "completed"})
    sink.close()
    assert sink.warnings and "was replaced or removed during the run" in sink.warnings[0]
    r = run_cw("logs", "verify", str(path), "--verification-key", key)
    assert r.returncode == 1 and "[forged]" in r.stdout


def test_output_file_missing_directory_is_refused_before_the_run(model_server, git_repo, cw_home) -> None:
    write_config(cw_home, model_server.url)
    model_server.script([{"text": "done"}])
    run = codeward("exec", "-o", "out/summary.md", "hi", cwd=git_repo)
    assert run.returncode == 2 and "-o out/summary.md: the directory" in run.stderr
    assert model_server.requests == []


def test_output_file_ignores_links_planted_after_start(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    out = ws / "out"
    out.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = PinnedOutput(out / "summary.md")
    # what a command does during the run: move the directory away, leave a link in its place,
    # and a link at the file name pointing at a file it wants overwritten
    os.rename(out, ws / "out.orig")
    out.symlink_to(elsewhere)
    victim = elsewhere / "victim"
    victim.write_text("keep me\n")
    (elsewhere / "summary.md").symlink_to(victim)
    target.write_text("final message\n")
    assert victim.read_text() == "keep me\n"
    assert (elsewhere / "summary.md").is_symlink()
    assert (ws / "out.orig" / "summary.md").read_text() == "final message\n"


def test_output_file_replaces_a_link_at_its_name(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    name = tmp_path / "summary.md"
    name.symlink_to(victim)
    PinnedOutput(name).write_text("hello\n")
    assert victim.read_text() == "keep me\n" and not name.is_symlink() and name.read_text() == "hello\n"


def test_output_file_control_plain_write_follows_the_link(tmp_path: Path) -> None:
    """Control: writing by path (what exec did before) lands in the linked directory."""
    ws = tmp_path / "ws"
    (ws / "out").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.rename(ws / "out", ws / "out.orig")
    (ws / "out").symlink_to(elsewhere)
    (ws / "out" / "summary.md").write_text("x")
    assert (elsewhere / "summary.md").exists()


def test_output_name_replaced_by_a_directory_is_a_one_line_error(tmp_path: Path) -> None:
    from codeward.errors import CodewardError

    target = PinnedOutput(tmp_path / "summary.md")
    (tmp_path / "summary.md").mkdir()
    (tmp_path / "summary.md" / "keep").write_text("user data")
    with pytest.raises(CodewardError, match=r"-o .*summary.md: could not write it"):
        target.write_or_fail("x")
    assert (tmp_path / "summary.md" / "keep").read_text() == "user data"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.md"]  # no temp file left behind
