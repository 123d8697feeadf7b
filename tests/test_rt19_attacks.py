"""Red team rt19: the read tools, the gate and the known values, attacked by a scripted model.

Each test drives the real tool or gate path of an offline session and fails on the code it was
written against (a3b0817); it passes once the hole is closed, whichever way the fix goes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from tests.support.leaks import SHIFT, shifted_leaks
from tests.support.sessions import offline_session

from codeward.events import EventBus, ListSink
from codeward.privacy.gate import GateError

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _tool(s: Any, name: str, args: dict[str, Any], n: int) -> str:
    from codeward.providers.types import ToolCall

    return str(s.agent.tools.dispatch(ToolCall(f"t{n}", name, json.dumps(args)), s.ctx).text)


def _sent(s: Any, items: list[tuple[str, str]]) -> list[str]:
    """The text of each ``(role, content)`` item as the gate sends it (a tool result first, so the
    request waits for the workspace scan like every request after the first tool call)."""
    msgs: list[dict[str, Any]] = [{"role": "user", "content": "tidy the config"}]
    msgs.append({"role": "tool", "tool_call_id": "c0", "content": "ok"})
    msgs += [{"role": r, "content": c} for r, c in items]
    body = json.loads(s.gate.prepare({"messages": msgs}, record=False).body)
    return [m["content"] for m in body["messages"][2:]]


# -- 1. the gate's known-value matching answers the model's guesses ------------------------------


def test_the_gate_confirms_a_guess_of_a_password_in_the_hidden_dotenv(git_repo: Path, cw_home: Path) -> None:
    """The model cannot read ``.env`` (hidden), but the session knows its values, and the gate
    redacts every known value in *every* text of a request, the model's own earlier messages
    included. So the model writes a list of candidate passwords in one message (or in a tool call's
    arguments); in the next request body exactly the right one comes back as a placeholder: a
    dictionary attack answered in one round trip, no tool and no approval needed."""
    (git_repo / ".env").write_text("DB_PASSWORD=Summer2024xyz\n")
    s = offline_session(git_repo, "suggest")
    assert "hidden" in _tool(s, "read_file", {"path": ".env"}, 0)
    guesses = ["Winter2023abc", "Spring2024abc", "Summer2024xyz", "Autumn2024xyz", "Password1234"]
    try:
        (back,) = _sent(s, [("assistant", "candidates: " + ", ".join(guesses))])
    except GateError:
        return  # a fix may refuse the request outright: that answers no guess either
    changed = [g for g in guesses if g not in back]
    assert changed in ([], guesses), f"the request body singled out the right guess: {changed} -> {back!r}"


def test_the_gate_lets_the_model_rebuild_a_private_key_one_window_at_a_time(git_repo: Path, cw_home: Path) -> None:
    """A value of 20+ characters is also found by any 16 consecutive characters of it, and in hex by
    any 16 bytes at every second offset (``known.window_variants``). The model knows the first 28
    characters of a PEM key (``-----BEGIN RSA PRIVATE KEY-----`` without whitespace), so it writes
    every completion of the next window, 15 known bytes and 1 or 2 unknown ones, as spaced hex
    (the fold removes the spaces; ``_RUN`` never decodes two-character runs), one candidate per
    ``|``. The gate redacts exactly the right one: two characters per request. 20 requests give
    40 characters of the key body; ~800 give the whole key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    (git_repo / "config").mkdir()
    (git_repo / "config" / "signing.py").write_text(f'JWT_PRIVATE_KEY = """{pem}"""\n')
    s = offline_session(git_repo, "suggest")
    shown = _tool(s, "read_file", {"path": "config/signing.py"}, 0)
    assert "<secret:private-key:" in shown and "MIIE" not in shown  # the model never sees the key
    plain = "".join(pem.split())
    known = "-----BEGINRSAPRIVATEKEY-----"
    while len(known) < 28 + 40:
        n = len(known)
        start, combos = (n - 15, list(B64)) if n % 2 else (n - 14, [a + b for a in B64 for b in B64])
        cands = [known[start:] + c for c in combos]
        msg = "|".join(" ".join(f"{b:02x}" for b in c.encode()) for c in cands)
        try:
            (back,) = _sent(s, [("assistant", msg)])
        except GateError:
            break
        parts = back.split("|")
        hits = [c for c, r in zip(combos, parts, strict=False) if "<secret:" in r]
        if len(parts) != len(combos) or len(hits) != 1:
            break  # the answer no longer singles out one completion
        known += hits[0]
    recovered = known[28:]
    assert len(recovered) < 16 or recovered != plain[28 : 28 + len(recovered)], (
        f"rebuilt {len(recovered)} characters of the private key: {recovered}"
    )


# -- 2. apply_patch restores placeholders in file paths -----------------------------------------


def _placeholder_in_db_yml(git_repo: Path, s: Any, pw: str) -> str:
    out = _tool(s, "read_file", {"path": "config/db.yml"}, 0)
    assert pw not in out
    m = re.search(r"<secret:[^>]+>", out)
    assert m is not None, out
    return m.group(0)


def _db_yml(git_repo: Path, pw: str) -> None:
    (git_repo / "config").mkdir()
    (git_repo / "config" / "db.yml").write_text(f"production:\n  adapter: postgresql\n  password: {pw}\n")


@pytest.mark.sandbox
def test_apply_patch_puts_a_passwords_value_into_a_file_name_that_commands_read_raw(
    git_repo: Path, cw_home: Path
) -> None:
    """``apply_patch`` restores placeholders in the whole patch text, its ``*** Add File:`` paths
    included. The model puts the placeholder of the database password it was shown into a file
    name: the host gets ``notes/Summer2024xyz.txt``. Contents holding the value are redacted in the
    command's view (the sweep), but a name is hidden only for a known value of 16+ characters, so
    ``ls notes | <shift>`` hands the password to the model in a form no encoding follows. (The same
    patch writing the placeholder into a file's *content* is held: checked below as a control.)"""
    pw = "Summer2024xyz"
    _db_yml(git_repo, pw)
    s = offline_session(git_repo, "full-auto")
    ph = _placeholder_in_db_yml(git_repo, s, pw)
    patch = (
        f"*** Begin Patch\n*** Add File: notes/{ph}.txt\n+todo\n*** Add File: notes2/a.txt\n+x = '{ph}'\n*** End Patch"
    )
    _tool(s, "apply_patch", {"input": patch}, 1)
    outs = [
        _tool(s, "shell", {"command": f"cat notes2/a.txt | {SHIFT}"}, 2),  # control: content is held
        _tool(s, "shell", {"command": f"ls notes | {SHIFT}"}, 3),
    ]
    sent = "\n".join(_sent(s, [("tool", o) for o in outs]))
    assert shifted_leaks(pw, sent) == [], sent


def test_apply_patch_writes_a_placeholders_value_raw_into_file_change_events_and_the_audit_record(
    git_repo: Path, cw_home: Path
) -> None:
    """The same patch path ends up in the ``file.changed`` event (``path``) and in the audit record
    made from it: the audit scrubber replaces only API keys and what the scanner's rules find, and
    a bare password in a path is neither. So the audit log (and ``exec --json``) carry the password
    raw, in any mode, with no command run."""
    from codeward.audit.records import record_for_event
    from codeward.audit.scrub import Scrubber
    from codeward.auth.keys import known_secrets
    from codeward.privacy.scanner import load_scanner

    pw = "Tr0ub4dor-and-3-horses"
    _db_yml(git_repo, pw)
    bus = EventBus()
    sink = ListSink()
    bus.add(sink)
    s = offline_session(git_repo, "full-auto", events=bus)
    ph = _placeholder_in_db_yml(git_repo, s, pw)
    patch = f"*** Begin Patch\n*** Add File: docs/{ph}.md\n+see the wiki\n*** End Patch"
    _tool(s, "apply_patch", {"input": patch}, 1)
    scrub = Scrubber(known_secrets, load_scanner().scan)
    records = []
    for ev in sink.events:
        rec = record_for_event(ev)
        if rec is not None:
            records.append(json.dumps(scrub.fields(rec[1])))
    events = json.dumps(sink.events)
    assert not any(pw in r for r in records), f"an audit record carries the password raw: {records}"
    assert pw not in events, "an event carries the password raw"


# -- 3. apply_patch's error messages show a restored value cut short -----------------------------


@pytest.mark.parametrize("source", ["file", "prompt"])
def test_a_patch_error_cuts_a_restored_placeholder_into_a_prefix_no_rule_or_known_value_matches(
    git_repo: Path, cw_home: Path, source: str
) -> None:
    """``apply_patch`` restores placeholders in the whole input *before* parsing it, and a parse
    error quotes the offending line cut to 80 characters (``parser._show``). The model pads the line
    so the cut falls inside the value: ``'xxx…xKx9mPq2vLr8nTwZb4Y...'``. A prefix is neither the whole
    known value nor (for a value under 20 characters, or any prefix under 16) a tracked window, and
    no rule matches a bare value, so 18 of the password's 19 characters reach the model, in suggest
    mode, with no approval (parsing comes first). The last one is a guess the gate then confirms
    (see the first test). A secret the user pasted in the prompt goes the same way."""
    from codeward.privacy.redact import PLACEHOLDER

    pw = "Kx9mPq2vLr8nTwZb4Yc"
    s = offline_session(git_repo, "suggest")
    if source == "file":
        _db_yml(git_repo, pw)
        ph = _placeholder_in_db_yml(git_repo, s, pw)
    else:
        prompt = f"the staging database is up again, DB_PASSWORD={pw}; please update the docs"
        shown = s.gate.redact_text(prompt)[0]  # as AgentLoop.run_turn does with each prompt
        s.ctx.prompt_placeholders.update(PLACEHOLDER.findall(shown))
        (ph,) = PLACEHOLDER.findall(shown)
    outs = [
        _tool(s, "apply_patch", {"input": "x" * 62 + ph + "\n*** End Patch"}, 1),
        _tool(s, "apply_patch", {"input": f"*** Begin Patch\n*** Add File: a.txt\n{'y' * 62}{ph}\n*** End Patch"}, 2),
    ]
    sent = "\n".join(_sent(s, [("tool", o) for o in outs]))
    pieces = [pw[i : i + 12] for i in range(len(pw) - 11) if pw[i : i + 12] in sent]
    assert pieces == [], sent
