"""Known values: a secret the session knows is found again in every tracked encoding.

Each transform below is run by the real program (``rev``, ``xxd``, ``base32``, ``gzip``, ``tr``) on
a small file, exactly as a model's command would; the scanner alone misses every one of them (the
control), the redactor that knows the value replaces it, and ordinary text around it survives.
"""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest

from codeward.privacy.gate import Gate
from codeward.privacy.known import KnownValues, variants
from codeward.privacy.learn import WorkspaceSecrets
from codeward.privacy.redact import Redactor
from codeward.privacy.scanner import load_scanner

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8kW3nV2a"
LETTERS = "swordfishmoon"
FILE = f"first ordinary line\naws_secret_access_key = {SECRET}\nDB_PASSWORD={LETTERS}\nlast ordinary line\n"

TRANSFORMS = {
    "rev": "rev",
    "xxd-p": "xxd -p",
    "xxd-p-upper": "xxd -p | tr a-f A-F",
    "base32": "base32",
    "base64-wrapped": "base64 -w 20",
    "gzip-base64": "gzip -c | base64",
    "base64-x3": "base64 | base64 | base64",
    "rot13": "tr 'A-Za-z' 'N-ZA-Mn-za-m'",
    "upper": "tr a-z A-Z",
    "spaced": "sed 's/./& /g'",
    "interleaved": "sed 's/./&_/g'",
    "every-other-line-rev-base64": "rev | base64",
    "u-escapes": """python3 -c 'import sys; print("".join("\\\\u%04x" % ord(c) for c in sys.stdin.read()))'""",
    "char-codes": 'python3 -c "import sys; print([ord(c) for c in sys.stdin.read()])"',
    "od": "od -An -tx1",
    "xxd": "xxd",
    "hexdump-C": "hexdump -C",
    "od-c": "od -c",
    "od-x1z": "od -A x -t x1z",
    "url": "python3 -c \"import sys, urllib.parse; print(urllib.parse.quote(sys.stdin.read(), safe=''))\"",
}


def transformed(cmd: str, data: str = FILE) -> str:
    return subprocess.run(["bash", "-c", cmd], input=data.encode(), capture_output=True, check=True).stdout.decode()


def redactor_knowing(*values: str) -> Redactor:
    r = Redactor(load_scanner())
    for v in values:
        r.known.add(v, "test")
    return r


def recoverable(text: str) -> list[object]:
    k = KnownValues()
    k.add(SECRET, "t")
    k.add(LETTERS, "t")
    return list(k.find(text))


# the transforms the rules alone do not see through
BLIND = [
    "rev",
    "xxd-p",
    "base32",
    "gzip-base64",
    "rot13",
    "spaced",
    "interleaved",
    "u-escapes",
    "char-codes",
    "od",
    "url",
    "xxd",
    "hexdump-C",
    "od-c",
]


@pytest.mark.parametrize("name", BLIND)
def test_scanner_alone_misses_the_transform(name: str) -> None:
    """The control: without known values these outputs carry a secret past the gate."""
    red = Redactor(load_scanner()).redact(transformed(TRANSFORMS[name])).text
    assert recoverable(red), f"{name}: the rules alone already catch it; not a control"


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_known_values_are_redacted_in_every_transform(name: str) -> None:
    out = transformed(TRANSFORMS[name])
    red = redactor_knowing(SECRET, LETTERS).redact(out).text
    assert "<secret:" in red, f"{name}: nothing redacted"
    assert recoverable(red) == [], f"{name}: a known value is still recoverable"


def test_ordinary_text_around_a_reversed_secret_survives() -> None:
    out = transformed("rev")
    red = redactor_knowing(SECRET, LETTERS).redact(out).text
    assert "enil yranidro tsrif" in red and "enil yranidro tsal" in red
    assert SECRET[::-1] not in red and LETTERS[::-1] not in red


def test_base64_over_64_kib_and_nested_three_deep() -> None:
    big = "x" * 100_000 + FILE
    inner = base64.b64encode(big.encode())
    nested = base64.b64encode(base64.b64encode(inner)).decode()
    red = redactor_knowing(SECRET).redact(f"prefix {nested} suffix").text
    assert red.startswith("prefix <secret:") and red.endswith(" suffix")


def test_short_values_are_not_tracked_and_prose_is_left_alone() -> None:
    k = KnownValues()
    assert not k.add("admin", "t")  # five letters would match ordinary prose
    assert k.add("hunter22", "t")
    assert k.find("the hunter went home; 22 birds") == []
    assert all(len(v) >= 6 for v in variants("hunter22"))


def test_a_value_found_in_the_prompt_is_known_for_later_texts() -> None:
    r = Redactor(load_scanner())
    r.redact(f"my key is aws_secret_access_key = {SECRET}")
    assert r.redact(SECRET[::-1]).text.startswith("<secret:")


def test_workspace_secrets_are_learned_before_command_output_is_gated(tmp_path: Path) -> None:
    (tmp_path / "settings.env").write_text(FILE)
    scanner = load_scanner()
    learner = WorkspaceSecrets(tmp_path, scanner)
    gate = Gate(Redactor(scanner, learner=learner), host="h", url="https://h/v1")
    rev = transformed("rev")
    body = {"messages": [{"role": "tool", "content": rev}]}
    sent = gate.prepare(body).body.decode()
    assert SECRET[::-1] not in sent and LETTERS[::-1] not in sent
    assert "enil yranidro tsrif" in sent
    # a file that gains a secret later is rescanned (its size/mtime changed) before the next request
    (tmp_path / "later.txt").write_text("token = ghp_Tn4Rw8Qz1Lx6Kc3Vb9Mp2Ys7Hd5Fj0Ge4Ua8Wi\n")
    late = gate.prepare({"messages": [{"role": "tool", "content": "ghp_Tn4Rw8Qz1Lx6Kc3Vb9Mp2Ys7Hd5Fj0Ge4Ua8Wi"[::-1]}]})
    assert "iW8aU4eG0jF5dH7sY2pM9bV3cK6xL1zQ8wR4nT_phg" not in late.body.decode()
    assert learner.refresh() == []  # nothing changed: nothing rescanned


def test_gate_without_learning_lets_the_reversed_file_through(tmp_path: Path) -> None:
    """The control for the test above: the same body through a gate that learns nothing leaks."""
    gate = Gate(Redactor(load_scanner()), host="h", url="https://h/v1")
    sent = gate.prepare({"messages": [{"role": "tool", "content": transformed("rev")}]}).body.decode()
    assert LETTERS[::-1] in sent


def test_a_later_session_rereads_only_changed_files_and_those_with_secrets(tmp_path: Path) -> None:
    ws, cache = tmp_path / "ws", tmp_path / "home" / "cache"
    ws.mkdir()
    (ws / "settings.env").write_text(FILE)
    for i in range(5):
        (ws / f"clean{i}.txt").write_text(f"nothing here {i}\n")
    scanner = load_scanner()
    first = WorkspaceSecrets(ws, scanner, background=True, cache_dir=cache)
    assert {v for v, _ in first.refresh()} >= {SECRET, LETTERS}
    assert first.files_scanned == 6
    assert not any(SECRET in p.read_text() or LETTERS in p.read_text() for p in cache.iterdir())
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in cache.iterdir())
    (ws / "clean0.txt").write_text("changed, and now a token: ghp_Tn4Rw8Qz1Lx6Kc3Vb9Mp2Ys7Hd5Fj0Ge4Ua8Wi\n")
    second = WorkspaceSecrets(ws, scanner, background=True, cache_dir=cache)
    values = {v for v, _ in second.refresh()}
    assert {SECRET, LETTERS, "ghp_Tn4Rw8Qz1Lx6Kc3Vb9Mp2Ys7Hd5Fj0Ge4Ua8Wi"} <= values
    assert second.files_scanned == 2  # the secret file (values learned afresh) and the changed one
    other_rules = WorkspaceSecrets(ws, load_scanner(allowlist=("x",)), background=True, cache_dir=cache)
    other_rules.refresh()
    assert other_rules.files_scanned == 6  # another rule set: nothing reused


def test_a_walk_done_in_the_foreground_is_cached_too(tmp_path: Path) -> None:
    """``codeward sandbox`` walks without a background thread: its next run must not rescan clean files."""
    ws, cache = tmp_path / "ws", tmp_path / "home" / "cache"
    ws.mkdir()
    (ws / "settings.env").write_text(FILE)
    for i in range(5):
        (ws / f"clean{i}.txt").write_text(f"nothing here {i}\n")
    scanner = load_scanner()
    WorkspaceSecrets(ws, scanner, cache_dir=cache).refresh()
    second = WorkspaceSecrets(ws, scanner, cache_dir=cache)
    second.refresh()
    assert second.files_scanned == 1  # only the file with secrets is read again
