"""Bad values are refused where they are written: file and line (or flag), key, and the fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from codeward.config.load import ConfigOverrides, load_config
from codeward.config.sources import key_lines
from codeward.errors import ConfigError


def write(p: Path, text: str) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    ("text", "line", "expect"),
    [
        ('[sandbox]\nallowed_domains = ["https://pypi.org"]', 2, "without a scheme or path, like 'pypi.org'"),
        ('[sandbox]\nallowed_domains = ["pypi.org", "*"]', 2, "'*' would allow every host"),
        ('[sandbox]\nallowed_domains = ["pypi.org/simple"]', 2, "no path"),
        ('[sandbox]\nallowed_domains = ["a.*.example.com"]', 2, "whole first label"),
        ('[sandbox]\nallowed_domains = ["*.org"]', 2, "at least two labels"),
        ('[sandbox]\nallowed_domains = ["host:99999"]', 2, "port must be a number from 1 to 65535"),
        ('\n\n[sandbox]\ntier = "docker"', 4, "sandbox.tier = 'docker': expected one of auto, bwrap"),
        ('model_reasoning_effort = "extreme"', 1, "expected one of minimal, low, medium, high"),
        ('model_reasoning_summary = "brief"', 1, "expected one of auto, concise, detailed, none"),
        ("model_context_window = 12.5", 1, "model_context_window = 12.5: expected an integer"),
        ("request_timeout_ms = -1", 1, "request_timeout_ms = -1: expected an integer"),
        ('[history]\npersistence = "some"', 2, "expected one of save-all, none"),
        ("[sandbox]\nallowed_domain = []", 2, r"unknown key sandbox.allowed_domain (did you mean allowed_domains?)"),
        ("modle = 1", 1, "unknown key modle (did you mean model?)"),
    ],
)
def test_bad_value_names_file_line_key_and_fix(
    tmp_path: Path, cw_home: Path, text: str, line: int, expect: str
) -> None:
    path = write(cw_home / "config.toml", text + "\n")
    with pytest.raises(ConfigError, match=re.escape(expect)) as ei:
        load_config(tmp_path)
    assert ei.value.message.startswith(f"{path}:{line}: ")
    assert "\n" not in ei.value.message


def test_bad_value_in_a_repository_file_is_refused_too(git_repo: Path, cw_home: Path) -> None:
    path = write(git_repo / ".codeward" / "config.toml", '[sandbox]\nallowed_domains = ["https://x.org/"]\n')
    with pytest.raises(ConfigError, match=re.escape(f"{path}:2: sandbox.allowed_domains: entry")):
        load_config(git_repo)


def test_bad_value_in_a_flag_names_the_flag(tmp_path: Path, cw_home: Path) -> None:
    with pytest.raises(ConfigError, match=re.escape("-c sandbox.allowed_domains: sandbox.allowed_domains: entry")):
        load_config(tmp_path, ConfigOverrides(dotted=['sandbox.allowed_domains=["http://x.org"]']))
    with pytest.raises(ConfigError, match=re.escape("--approval-mode: approval_mode = 'yolo'")):
        load_config(tmp_path, ConfigOverrides(approval_mode="yolo"))
    with pytest.raises(ConfigError, match=r"profiles can only be defined in your config\.toml"):
        load_config(tmp_path, ConfigOverrides(dotted=["profiles.x.model=m"]))


def test_bad_value_in_a_profile_names_the_profile(tmp_path: Path, cw_home: Path) -> None:
    path = write(cw_home / "config.toml", '[profiles.ci]\nmodel = "m"\n[profiles.ci.sandbox]\ntier = "vm"\n')
    assert load_config(tmp_path).model == "gpt-5"  # an unselected profile is not read
    with pytest.raises(ConfigError, match=re.escape(f"{path}:4 (profile ci): sandbox.tier = 'vm'")):
        load_config(tmp_path, ConfigOverrides(profile="ci"))


def test_entries_are_stored_in_canonical_form(tmp_path: Path, cw_home: Path) -> None:
    write(cw_home / "config.toml", '[sandbox]\nallowed_domains = ["PyPI.org.", "[2001:db8::1]:443", "x.io:8443"]\n')
    assert load_config(tmp_path).sandbox.allowed_domains == ["pypi.org", "[2001:db8::1]", "x.io:8443"]


def test_key_lines_finds_keys_the_way_toml_writes_them() -> None:
    text = """# comment
model = "m"   # = not a key
[sandbox]
allowed_domains = [
  "a.org",
  "tier = fake",
]
network = true
"quoted.key" = 1
[ providers . "my-gw" ]
baseURL = \"\"\"
timeout_ms = 3
\"\"\"
sandbox.tier = "x"
[profiles.ci.sandbox]
tier = "bwrap"
"""
    lines = key_lines(text)
    assert lines[("model",)] == 2
    assert lines[("sandbox",)] == 3
    assert lines[("sandbox", "allowed_domains")] == 4
    assert ("sandbox", "tier = fake") not in lines and ("sandbox", '"tier') not in lines
    assert lines[("sandbox", "network")] == 8
    assert lines[("sandbox", "quoted.key")] == 9
    assert lines[("providers", "my-gw")] == 10 and lines[("providers", "my-gw", "baseURL")] == 11
    assert ("providers", "my-gw", "timeout_ms") not in lines  # inside a multi-line string
    assert lines[("providers", "my-gw", "sandbox", "tier")] == 14
    assert lines[("profiles", "ci", "sandbox", "tier")] == 16
