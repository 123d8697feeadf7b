"""The grep tool's fast path (no workspace walk) keeps the answer a function of the redacted text.

Attacks: alternation probes ``KEY = (?:<placeholder>|GUESS)`` on a file that gained a secret since the
last workspace walk, probes that could match inside a placeholder's rule name or hash, and a
fresh secret's encoded copy in another file. Each pair of probes (right guess, wrong guess) must
get the same answer; the strict-xfail controls remove one protection and show the probe then tells
the guesses apart.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from tests.support.sessions import offline_session

from codeward.providers.types import ToolCall
from codeward.tools import grep as grep_mod

KNOWN = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8kW3nV2a"
FRESH = "Q9tmZr2xLpVb7HcN0sWd4KfYj1GuAe8TnXo3Ri6M"


class Tools:
    def __init__(self, root: Path) -> None:
        self.session = offline_session(root, "suggest")
        redactor: Any = self.session.ctx.gate.redactor
        self.learner = redactor.learner
        self.walks = 0
        real = self.learner.refresh

        def counted() -> Any:
            self.walks += 1
            return real()

        self.learner.refresh = counted

    def grep(self, **args: object) -> str:
        out = self.session.agent.tools.dispatch(ToolCall("c1", "grep", json.dumps(args)), self.session.ctx)
        return out.text


@pytest.fixture
def repo(git_repo: Path) -> Path:
    (git_repo / "config").mkdir()
    (git_repo / "config" / "app.conf").write_text(f"region = eu\naws_secret_access_key = {KNOWN}\n")
    (git_repo / "main.py").write_text("def main():\n    return 1\n")
    return git_repo


def _started(repo: Path) -> Tools:
    tools = Tools(repo)
    tools.grep(pattern="region")  # the session's first walk is done; what follows comes after it
    return tools


def test_a_provable_pattern_needs_no_walk_and_others_still_take_one(repo: Path) -> None:
    tools = _started(repo)
    before = tools.walks
    assert "no matches" in tools.grep(pattern="no_such_identifier_[0-9]+")
    assert "no matches" in tools.grep(pattern="^def mane")
    assert tools.walks == before  # "no matches" needs no walk at all
    assert "main.py:1: def main():" in tools.grep(pattern="^def main")
    assert tools.walks == before + 1  # a match is confirmed with the values a walk learns
    tools.grep(pattern="key = (?:<secret|zz)")  # could match a placeholder: the slow path walks
    assert tools.walks == before + 2


def _fresh(repo: Path) -> None:
    """A file that gains a secret nobody has seen, after the last walk (a command, the user), in a
    directory of its own: probes searched there meet no other match (whose confirmation would walk)."""
    (repo / "fresh").mkdir(exist_ok=True)
    (repo / "fresh" / "fresh.conf").write_text(f"aws_secret_access_key = {FRESH}\n")


ALTERNATIONS = [
    "aws_secret_access_key = (?:<secret|{g})",
    "aws_secret_access_key = (?:{g}|[<]secret)",
    "(?:{g}|secret:aws)",
    "(?:{g}|ecret)",
    "= (?:{g}|<)",
    "(?:{g}|[0-9a-f]{{8}}>)",
    "(?:{g}|[0-9a-f]{{8}})",
]


@pytest.mark.parametrize("probe", ALTERNATIONS)
def test_alternation_probes_on_a_fresh_secret_get_one_answer(repo: Path, probe: str) -> None:
    tools = _started(repo)
    _fresh(repo)
    wrong = tools.grep(pattern=probe.format(g="zzz"), path="fresh")
    right = tools.grep(pattern=probe.format(g=FRESH[:3]), path="fresh")
    assert ("fresh.conf" in right) == ("fresh.conf" in wrong)
    assert FRESH not in right


def test_a_provable_probe_of_a_fresh_secret_meets_only_its_placeholder(repo: Path) -> None:
    tools = _started(repo)
    _fresh(repo)
    walks = tools.walks
    assert "no matches" in tools.grep(pattern=f"aws_secret_access_key = {FRESH[:3]}", path="fresh")
    assert "no matches" in tools.grep(pattern=f"aws_secret_access_key = {FRESH[:3]}|zzz{FRESH[3:6]}", path="fresh")
    assert tools.walks == walks  # answered on the fast path, redacted before matching
    out = tools.grep(pattern="aws_secret_access_key = ")
    assert "fresh/fresh.conf:1: aws_secret_access_key = <secret:" in out and FRESH not in out


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="control: without the shape proof a raw list is an oracle on fresh secrets",
)
def test_control_without_the_shape_proof_the_alternation_is_an_oracle(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(grep_mod, "raw_verdict_suffices", lambda pattern, regex, rules: pattern)
    tools = _started(repo)
    _fresh(repo)
    wrong = tools.grep(pattern=ALTERNATIONS[0].format(g="zzz"), path="fresh")
    right = tools.grep(pattern=ALTERNATIONS[0].format(g=FRESH[:3]), path="fresh")
    assert ("fresh.conf" in right) == ("fresh.conf" in wrong)


def _fresh_with_encoded_copy(repo: Path) -> str:
    """A fresh secret, and in another file its base64 (a Kubernetes Secret next to its .env)."""
    _fresh(repo)
    encoded = base64.b64encode(FRESH.encode()).decode()
    (repo / "fresh" / "secret.yaml").write_text(f"kind: Secret\ndata:\n{encoded}\n")
    return encoded


def test_an_encoded_copy_of_a_fresh_secret_is_no_oracle(repo: Path) -> None:
    tools = _started(repo)
    encoded = _fresh_with_encoded_copy(repo)
    wrong = tools.grep(pattern="^" + "ZZZZZZ", path="fresh")
    right = tools.grep(pattern="^" + encoded[:6], path="fresh")
    assert ("secret.yaml" in right) == ("secret.yaml" in wrong)


@pytest.mark.xfail(
    strict=True, raises=AssertionError, reason="control: matches not rechecked after learning are matches on raw copies"
)
def test_control_without_the_recheck_an_encoded_copy_is_an_oracle(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(grep_mod, "_recheck_with_new_values", lambda *a: a[-1])
    tools = _started(repo)
    encoded = _fresh_with_encoded_copy(repo)
    wrong = tools.grep(pattern="^" + "ZZZZZZ", path="fresh")
    right = tools.grep(pattern="^" + encoded[:6], path="fresh")
    assert ("secret.yaml" in right) == ("secret.yaml" in wrong)


PATTERNS = [
    "def main",
    "^def main",
    "return 1$",
    "needle",
    "aws_secret_access_key = ",
    "region|needle",
    "[A-Z]{3,}",
    "no_such_identifier_[0-9]+",
    "key = (?:<secret|wJ)",
    "ecret",
    "x.*y",
]


def test_fast_and_slow_paths_give_the_same_answer(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (repo / "notes.txt").write_text("a needle\nREADME TODO x and y\n\x0cneedle after a form feed\n")
    (repo / "late.bin").write_bytes(b"a" * 9000 + b"\x00 needle after a late NUL\n")
    _fresh(repo)
    tools = _started(repo)  # one session: the same placeholders on both paths
    got_fast = [tools.grep(pattern=p) for p in PATTERNS]
    monkeypatch.setattr(grep_mod, "raw_verdict_suffices", lambda pattern, regex, rules: None)
    got_slow = [tools.grep(pattern=p) for p in PATTERNS]
    assert got_fast == got_slow
    assert "late.bin:1:" in got_fast[PATTERNS.index("needle")]  # ripgrep reads past a late NUL too


def test_files_too_large_are_named_on_the_fast_path_from_the_scan_alone(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codeward.privacy import learn

    monkeypatch.setattr(grep_mod, "MAX_FILE_BYTES", 100)
    monkeypatch.setattr(learn, "MAX_FILE_BYTES", 100)
    (repo / "big.txt").write_text(f"aws_secret_access_key = {KNOWN}\n" + "y" * 200)
    tools = _started(repo)
    # named whatever the probe: the list comes from the scan (by size), never from a raw match
    right = tools.grep(pattern="access_key = wJa")
    wrong = tools.grep(pattern="access_key = zzz")
    assert "[not searched: big.txt (over" in right and "[not searched: big.txt (over" in wrong


def _copies(repo: Path) -> str:
    """Files that hold the known secret only encoded or reversed, there before the session began."""
    (repo / "copies").mkdir()
    encoded = base64.b64encode(KNOWN.encode()).decode()
    (repo / "copies" / "b64.txt").write_text(encoded + "\n")
    (repo / "copies" / "rev.txt").write_text(KNOWN[::-1] + "\n")
    return encoded


def _probe_copies(tools: Tools, encoded: str) -> list[tuple[bool, bool]]:
    """(right guess listed, wrong guess listed) for each copy, with probes only the slow path takes."""
    reversed_start = KNOWN[::-1][:3].replace("/", "\\/")
    got = []
    for name, guess in (("b64.txt", encoded[:4]), ("rev.txt", reversed_start)):
        wrong = tools.grep(pattern="^(?:<secret|ZZZZ)", path="copies")
        right = tools.grep(pattern=f"^(?:<secret|{guess})", path="copies")
        got.append((name in right, name in wrong))
    return got


def test_encoded_copies_there_before_the_session_are_no_oracle(repo: Path) -> None:
    encoded = _copies(repo)
    tools = _started(repo)
    assert _probe_copies(tools, encoded) == [(True, True), (True, True)]  # found redacted either way


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="control: without the sweep after the first walk the copies are an oracle",
)
def test_control_without_the_sweep_encoded_copies_are_an_oracle(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from codeward.privacy.learn import WorkspaceSecrets

    monkeypatch.setattr(WorkspaceSecrets, "_sweep", lambda self, values: None)
    encoded = _copies(repo)
    tools = _started(repo)
    assert _probe_copies(tools, encoded) == [(True, True), (True, True)]


LATE = "Zq7Vn2Lm9Xc4Bt8Rw1Ks6Hd3"


def _late_value(repo: Path, tools: Tools) -> None:
    """A value the session learns after its first walk (a configured key), reversed in a file there
    from the start, which the model then reads: it has seen that file's placeholder."""
    tools.session.ctx.gate.redactor.known.add(LATE, "codeward-api-key")  # type: ignore[attr-defined]
    out = tools.session.agent.tools.dispatch(
        ToolCall("r", "read_file", json.dumps({"path": "late/k.txt"})), tools.session.ctx
    ).text
    assert "<secret:codeward-api-key:" in out and LATE[::-1] not in out


def _probe_late(tools: Tools) -> tuple[bool, bool]:
    wrong = tools.grep(pattern="^(?:<secret|zzz)", path="late")
    right = tools.grep(pattern=f"^(?:<secret|{LATE[::-1][:3]})", path="late")
    return "k.txt" in right, "k.txt" in wrong


def test_a_file_whose_placeholder_was_read_is_searched_redacted(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from codeward.privacy.learn import WorkspaceSecrets

    monkeypatch.setattr(WorkspaceSecrets, "sweep", lambda self, values: None)  # this mechanism alone
    (repo / "late").mkdir()
    (repo / "late" / "k.txt").write_text(LATE[::-1] + "\n")
    tools = _started(repo)
    _late_value(repo, tools)
    assert _probe_late(tools) == (True, True)


@pytest.mark.xfail(
    strict=True, raises=AssertionError, reason="control: a read file not registered is an oracle on a late value"
)
def test_control_a_read_file_not_registered_is_an_oracle(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from codeward.privacy.learn import WorkspaceSecrets

    monkeypatch.setattr(WorkspaceSecrets, "mark_secret", lambda self, path: None)
    monkeypatch.setattr(WorkspaceSecrets, "sweep", lambda self, values: None)
    (repo / "late").mkdir()
    (repo / "late" / "k.txt").write_text(LATE[::-1] + "\n")
    tools = _started(repo)
    _late_value(repo, tools)
    assert _probe_late(tools) == (True, True)


@pytest.mark.parametrize("probe", ["^{g}", "^(?:<secret|{g})"])
def test_a_single_file_holding_a_fresh_secrets_encoded_copy_is_no_oracle(repo: Path, probe: str) -> None:
    tools = _started(repo)
    encoded = _fresh_with_encoded_copy(repo)
    wrong = tools.grep(pattern=probe.format(g="ZZZZZZ"), path="fresh/secret.yaml")
    right = tools.grep(pattern=probe.format(g=encoded[:6]), path="fresh/secret.yaml")
    assert ("secret.yaml" in right) == ("secret.yaml" in wrong)
    assert encoded not in right


def _late_value_unread(repo: Path) -> Tools:
    """A value learned after the first walk (as a configured key or a secret in the prompt is),
    reversed in a file there from the start that no tool has shown."""
    (repo / "late").mkdir()
    (repo / "late" / "k.txt").write_text(LATE[::-1] + "\n")
    tools = _started(repo)
    tools.session.ctx.gate.redactor.known.add(LATE, "codeward-api-key")  # type: ignore[attr-defined]
    return tools


def test_a_value_learned_late_is_swept_for_before_the_slow_path_answers(repo: Path) -> None:
    assert _probe_late(_late_value_unread(repo)) == (True, True)


@pytest.mark.xfail(
    strict=True, raises=AssertionError, reason="control: without the sweep for late values their copies are an oracle"
)
def test_control_without_the_late_sweep_a_copy_is_an_oracle(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from codeward.privacy.learn import WorkspaceSecrets

    monkeypatch.setattr(WorkspaceSecrets, "sweep", lambda self, values: None)
    assert _probe_late(_late_value_unread(repo)) == (True, True)


def test_the_first_walk_is_not_counted_against_the_time_budget(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from codeward.privacy.learn import WorkspaceSecrets

    walk = WorkspaceSecrets._first_walk

    def slow_walk(self: WorkspaceSecrets) -> None:
        time.sleep(1.5)
        walk(self)

    monkeypatch.setattr(WorkspaceSecrets, "_first_walk", slow_walk)
    monkeypatch.setattr(grep_mod, "TIME_BUDGET_S", 1.0)
    out = Tools(repo).grep(pattern="def main")
    assert "main.py:1: def main():" in out and "time budget" not in out


def test_hidden_counts_follow_renames_that_keep_the_number_of_files(git_repo: Path) -> None:
    """The count of hidden files a search reports is redone when the walk saw names change, also
    when as many files appear as went (a hidden file renamed to an ordinary name and back the other way)."""
    from codeward.events import EventBus, Withheld

    (git_repo / ".env").write_text("A=1\n")
    (git_repo / "main.py").write_text("x = 1\n")
    seen: list[Withheld] = []

    class Sink:
        def emit(self, event: object) -> None:
            if isinstance(event, Withheld):
                seen.append(event)

    bus = EventBus()
    bus.add(Sink())
    session = offline_session(git_repo, "suggest", events=bus)

    def hidden_by(pattern: str) -> dict[str, int]:
        seen.clear()
        session.agent.tools.dispatch(ToolCall("c", "grep", json.dumps({"pattern": pattern})), session.ctx)
        return {e.rule: e.count for e in seen if e.tool == "grep"}

    before = hidden_by("x = (?:<secret|1)")  # a pattern that takes the slow path: the walk runs
    (git_repo / ".env").rename(git_repo / "notes.txt")
    (git_repo / "main.py").rename(git_repo / "deploy.key")
    after = hidden_by("x = (?:<secret|1)")
    assert any(".env" in r for r in before) and not any(".key" in r for r in before), before
    assert any(".key" in r for r in after) and not any(".env" in r for r in after), after
