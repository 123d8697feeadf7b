"""Red team rt20: attacks on the rt19 fixes, kept as the regression tests of what was done about them.

rt20 attacked a first fix that stopped a turn whose tool call carried a known value: guesses it
could not see were still answered by a tool's echo, and honest work was stopped (a default
password ``postgres``, a password the model made up itself). That stop was withdrawn; the README
says which guesses a redaction still answers. Kept here: the compaction summary (the model's own
text) is not redacted, a failed hunk never quotes a restored value through ``repr``, and the two
honest cases run to the end. Each failed on the code rt20 attacked (3df19d5).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.support.sessions import offline_session

from codeward.providers.types import AssistantTurn, Completed, ToolCall, Usage

RIGHT, WRONG = "Summer2024xyz", "Winter2023abc"
GUESSES = ["Autumn2024xyz", WRONG, RIGHT, "Spring2024abc", "Password1234"]


class Scripted:
    """A model client: answers each request with the next scripted turn, records the bodies."""

    host = "scripted"

    def __init__(self, turns: list[AssistantTurn]) -> None:
        self.turns = list(turns)
        self.bodies: list[dict[str, Any]] = []

    def send(self, payload: Any, *, on_event: Any = None) -> Completed:
        self.bodies.append(json.loads(payload.body))
        turn = self.turns.pop(0) if self.turns else AssistantTurn(text="done")
        return Completed(turn, Usage())


def _session(git_repo: Path, turns: list[AssistantTurn], mode: str = "suggest") -> tuple[Any, Scripted]:
    s = offline_session(git_repo, mode)
    client = Scripted(turns)
    s.agent.client = client
    return s, client


def _call(name: str, raw_args: str, cid: str = "c1") -> AssistantTurn:
    return AssistantTurn(tool_calls=(ToolCall(cid, name, raw_args),))


def _tool_outputs(body: dict[str, Any]) -> list[str]:
    """The tool results of a request body of either wire API."""
    chat = [m["content"] for m in body.get("messages", []) if m.get("role") == "tool"]
    return chat + [i["output"] for i in body.get("input", []) if i.get("type") == "function_call_output"]


def _text_with(body: dict[str, Any], marker: str) -> str:
    """The first text leaf of ``body`` holding ``marker``."""
    if isinstance(body, str):
        return body if marker in body else ""
    values = body.values() if isinstance(body, dict) else body if isinstance(body, list) else []
    for v in values:
        found = _text_with(v, marker)
        if found:
            return found
    return ""


def _dotenv(git_repo: Path) -> None:
    (git_repo / ".env").write_text(f"DB_PASSWORD={RIGHT}\n")


def test_the_compaction_summary_the_model_writes_comes_back_redacted(git_repo: Path, cw_home: Path) -> None:
    """Compaction puts the model's own summary into a ``user`` message (``compacted_items``), which
    the gate redacts like any user text. The model writes its candidates into the summary; in the
    next request exactly the right one is a placeholder. The model can force compaction by reading
    large files (or the user runs ``/compact``)."""
    _dotenv(git_repo)
    s, client = _session(git_repo, [_call("read_file", '{"path": "README.md"}'), AssistantTurn(text="ok")])
    s.agent.run_turn("tidy the config")
    client.turns = [AssistantTurn(text="Summary. candidates: " + ", ".join(GUESSES))]
    s.agent.compact()
    body = json.loads(s.agent.prepare(record=False).body)
    summary = _text_with(body, "candidates:")
    changed = [g for g in GUESSES if g not in summary]
    assert changed in ([], GUESSES), f"the summary singled out the right guess: {changed} -> {summary!r}"


def _db_yml(git_repo: Path, pw: str) -> None:
    (git_repo / "config").mkdir()
    (git_repo / "config" / "db.yml").write_text(f"production:\n  adapter: postgresql\n  password: {pw}\n")


def test_a_hunk_that_does_not_match_quotes_the_restored_password_through_repr(git_repo: Path, cw_home: Path) -> None:
    """``_hunk_not_found`` quotes the first context line with ``{first.strip()!r}`` after the
    placeholders were put back (``plan_patch`` runs on the restored patch, before any approval). A
    password holding a backslash comes out with it doubled, a form no known-value variant has, while
    the same line shown raw above it is redacted: the password reaches the model in suggest mode."""
    pw = "Kx9m\\Pq2vLr8"
    _db_yml(git_repo, pw)
    s = offline_session(git_repo, "suggest")
    shown = s.agent.tools.dispatch(ToolCall("t0", "read_file", json.dumps({"path": "config/db.yml"})), s.ctx).text
    ph = re.search(r"<secret:[^>]+>", shown)
    assert ph is not None and pw not in shown, shown
    patch = (
        "*** Begin Patch\n*** Update File: config/db.yml\n@@\n"
        f" no such line {ph.group(0)}\n-  adapter: postgresql\n+  adapter: mysql\n*** End Patch"
    )
    out = s.agent.tools.dispatch(ToolCall("t1", "apply_patch", json.dumps({"input": patch})), s.ctx).text
    body = s.gate.prepare({"messages": [{"role": "tool", "tool_call_id": "t1", "content": out}]}, record=False).body
    sent = json.loads(body)["messages"][0]["content"]
    assert "not found" in sent, sent
    assert pw.replace("\\", "\\\\") not in sent, sent


def test_a_default_password_that_is_a_common_word_stops_every_turn_that_names_it(git_repo: Path, cw_home: Path) -> None:
    """``POSTGRES_PASSWORD=postgres`` (the docker image's documented default, in countless ``.env``
    files) makes ``postgres`` a known value; case-folded, it is in ``psql -U postgres``, in
    ``docker/postgres/init.sql``, in a grep for ``Postgres``. An honest model reading that file is
    stopped as a guesser and the turn fails: no work on the database is possible in this repository."""
    (git_repo / ".env").write_text("POSTGRES_USER=app\nPOSTGRES_PASSWORD=postgres\n")
    (git_repo / "docker" / "postgres").mkdir(parents=True)
    (git_repo / "docker" / "postgres" / "init.sql").write_text("CREATE TABLE users (id serial);\n")
    s, _client = _session(
        git_repo, [_call("read_file", json.dumps({"path": "docker/postgres/init.sql"})), AssistantTurn(text="ok")]
    )
    result = s.agent.run_turn("add an email column to the users table")
    assert result.status == "completed", result.error


def test_a_password_the_model_makes_up_and_mentions_stops_its_own_patch(git_repo: Path, cw_home: Path) -> None:
    """The model's reply is redacted for its ``agent_message`` event (``Agent._text_item``), and every
    scanner finding of a redaction joins the known values. So an honest model that writes "I'll add
    ``password: devpass-4711`` to the example config" and sends the patch in the same answer has
    just taught the session its own made-up value: ``Gate.guessed`` calls the patch a guess and stops
    the turn. Nothing was ever shown as a placeholder; the value is the model's own."""
    (git_repo / "config").mkdir()
    (git_repo / "config" / "example.yml").write_text("development:\n  adapter: sqlite3\n")
    patch = (
        "*** Begin Patch\n*** Update File: config/example.yml\n@@\n   adapter: sqlite3\n"
        "+  password: devpass-4711\n*** End Patch"
    )
    turn = AssistantTurn(
        text="I'll add `password: devpass-4711` to the example config.",
        tool_calls=(ToolCall("c1", "apply_patch", json.dumps({"input": patch})),),
    )
    s, _client = _session(git_repo, [turn, AssistantTurn(text="ok")], mode="full-auto")
    result = s.agent.run_turn("add a dev password to the example config")
    assert result.status == "completed", result.error
