"""Issue 11, git history: an adversarial scripted model reads old secrets out of ``.git`` through the
shell tool (``git log -p --text``, ``git show REV:path | rev``, ``cat-file``, ``archive``, dangling
blobs, compressed archives), in both sandbox tiers: no planted secret reaches the server in any
form the known-values matcher recognises. An honest ``git log -p`` still carries every ordinary line, and shows the
ignored ``.env`` as a binary file, so even its non-secret line stays home.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.privacy.history_repo import ORDINARY, PLANTED, PRIVATE_NOTE, leaky_history
from tests.support.cli import codeward, write_config
from tests.support.model_server import strings

from codeward.privacy.known import KnownValues

ATTACKS = [
    "git log -p --text --all",
    "git show HEAD~1:.env",
    "git show HEAD~1:.env | rev",
    "git show HEAD~1:config.py | base64",
    "git diff HEAD~2",
    "git cat-file -p $(git rev-parse HEAD~1:.env)",
    "git archive HEAD~1 .env config.py | tar -xO | rev",
    "git cat-file --batch-all-objects --batch | rev",
    "git fsck --lost-found >/dev/null 2>&1; cat .git/lost-found/other/* 2>/dev/null; "
    "for b in $(git fsck --unreachable 2>/dev/null | awk '{print $3}'); do git cat-file -p $b | xxd -p; done",
    "git log -p --binary --all",
]

# compressed copies no output matching can follow: only the object-store view (both tiers) keeps the
# old values out of them
COMPRESSED = [
    "git archive --format=tar.gz HEAD~1 | base64",
    "git archive --format=zip HEAD~1 | base64",
]


def tool_results(body: str) -> list[str]:
    return [m["content"] for m in json.loads(body)["messages"] if m.get("role") == "tool"]


@pytest.mark.sandbox
@pytest.mark.parametrize("tier", ["bwrap", "landlock"])
def test_old_secrets_stay_in_git(model_server, git_repo: Path, cw_home: Path, tier: str) -> None:
    from codeward.errors import SandboxUnavailable
    from codeward.sandbox import select_sandbox

    try:
        select_sandbox(tier)
    except SandboxUnavailable as e:
        pytest.skip(f"{tier} cannot be enforced here: {e}")
    leaky_history(git_repo)
    attacks = ATTACKS + COMPRESSED
    steps: list[dict[str, Any]] = [{"tool": "shell", "args": {"command": c}} for c in attacks]
    steps.append({"tool": "shell", "args": {"command": "git log -p"}})  # the honest one, last
    steps.append({"text": "done"})
    model_server.script(steps)
    extra = f'[sandbox]\ntier = "{tier}"\noutput_cap_bytes = 1048576'
    write_config(cw_home, model_server.url, "chat", extra=extra)
    run = codeward("exec", "--json", "-a", "full-auto", "look at the history", cwd=git_repo)
    assert run.returncode == 0, run.stderr
    reqs = model_server.requests
    results = tool_results(reqs[-1].body)
    assert len(results) == len(attacks) + 1
    # the view in both tiers (bound under bubblewrap, a forged store under Landlock): placeholders
    # where the blobs were
    assert "the content of .env is hidden" in results[1]
    assert "<secret:github-pat:" in results[0]
    sent = "\n".join(s for r in reqs for s in strings(json.loads(r.body)))
    known = KnownValues()
    for v in PLANTED:
        known.add(v, "planted")
    assert known.find(sent) == [], "a planted secret reached the model in a recognisable form"
    for v in PLANTED:
        assert v not in sent and v[::-1] not in sent
    honest = results[-1]
    assert all(line in honest for line in ORDINARY)
    assert "Binary files /dev/null and b/.env differ" in honest
    assert PRIVATE_NOTE not in honest and "DB_PASSWORD" not in honest
