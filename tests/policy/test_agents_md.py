"""Policy blocks in AGENTS.md: the seed guide's form and its variants, with file:line sources."""

from __future__ import annotations

import pytest

from codeward.errors import ConfigError
from codeward.policy import parse_agents_policy


def entries(policy: object, key: str) -> list[tuple[str, str, bool]]:
    return [(e.pattern, e.source, e.user_owned) for e in getattr(policy, key)]


def test_seed_guide_form_with_line_numbers() -> None:
    text = (
        "# Project\n"  # 1
        "\n"  # 2
        "Some prose.\n"  # 3
        "disallow_commands:\n"  # 4
        '- "rm -rf"\n'  # 5
        '- "curl | bash"\n'  # 6
        "allow_commands:\n"  # 7
        '- "npm test"\n'  # 8
        "allow_directories:      # the only places the agent may modify\n"  # 9
        "- src/\n"  # 10
        "disallow_directories:   # never read or written\n"  # 11
        "- data/customers/\n"  # 12
    )
    p = parse_agents_policy(text, "AGENTS.md", user_owned=False)
    assert entries(p, "disallow_commands") == [
        ("rm -rf", "AGENTS.md:5", False),
        ("curl | bash", "AGENTS.md:6", False),
    ]
    assert entries(p, "allow_commands") == [("npm test", "AGENTS.md:8", False)]
    assert entries(p, "allow_directories") == [("src/", "AGENTS.md:10", False)]
    assert entries(p, "disallow_directories") == [("data/customers/", "AGENTS.md:12", False)]


def test_quoting_styles_indentation_and_comments() -> None:
    text = (
        "disallow_commands:\n"  # 1
        "  - rm -rf          # plain, with a comment\n"  # 2
        "  - 'git push --force'\n"  # 3
        '    - "chmod -R 777"\n'  # 4
        "\n"  # 5
        "  # a comment line inside the list\n"  # 6
        "  - 'echo ''a b'''\n"  # 7
        '  - "say \\"hi\\""\n'  # 8
        "  - echo a#b\n"  # 9
        "Next paragraph.\n"  # 10
        "- not an item any more\n"  # 11
    )
    p = parse_agents_policy(text, "sub/AGENTS.md", user_owned=False)
    assert entries(p, "disallow_commands") == [
        ("rm -rf", "sub/AGENTS.md:2", False),
        ("git push --force", "sub/AGENTS.md:3", False),
        ("chmod -R 777", "sub/AGENTS.md:4", False),
        ("echo 'a b'", "sub/AGENTS.md:7", False),
        ('say "hi"', "sub/AGENTS.md:8", False),
        ("echo a#b", "sub/AGENTS.md:9", False),
    ]


def test_inside_a_yaml_fence_and_nested_under_a_key() -> None:
    text = (
        "# Rules\n"  # 1
        "```yaml\n"  # 2
        "policy:\n"  # 3
        "  disallow_commands:\n"  # 4
        "    - sudo\n"  # 5
        "  allow_commands: [\"npm test\", 'make lint', pytest]\n"  # 6
        "```\n"  # 7
        "```bash\n"  # 8
        "allow_commands:\n"  # 9
        "- ls\n"  # 10
        "```\n"  # 11
    )
    p = parse_agents_policy(text, "AGENTS.md", user_owned=True)
    assert entries(p, "disallow_commands") == [("sudo", "AGENTS.md:5", True)]
    assert entries(p, "allow_commands") == [
        ("npm test", "AGENTS.md:6", True),
        ("make lint", "AGENTS.md:6", True),
        ("pytest", "AGENTS.md:6", True),
        ("ls", "AGENTS.md:10", True),
    ]


def test_repeated_keys_add_up_and_scalar_value() -> None:
    text = "disallow_commands:\n- a\n\nText\n\ndisallow_commands: b c\ndisallow_commands: []\n"
    p = parse_agents_policy(text, "AGENTS.md", user_owned=False)
    assert [e.pattern for e in p.disallow_commands] == ["a", "b c"]
    assert [e.source for e in p.disallow_commands] == ["AGENTS.md:2", "AGENTS.md:6"]


def test_keys_must_start_a_line() -> None:
    text = "We use `disallow_commands:` in this file.\n- rm\n# disallow_commands:\n# - rm -rf\nmy_disallow_commands:\n- x\n"
    p = parse_agents_policy(text, "AGENTS.md", user_owned=False)
    assert p.disallow_commands == []


def test_crlf_and_empty_items() -> None:
    text = 'disallow_commands:\r\n- "rm -rf"\r\n-\r\n- ""\r\n- mkfs\r\n'
    p = parse_agents_policy(text, "AGENTS.md", user_owned=False)
    assert [(e.pattern, e.source) for e in p.disallow_commands] == [("rm -rf", "AGENTS.md:2"), ("mkfs", "AGENTS.md:5")]


def test_init_skeleton_is_read() -> None:
    """The AGENTS.md `codeward init` writes must parse, and its commented-out lists must not count."""
    from importlib.resources import files

    text = (files("codeward.init_templates") / "agents_policy.md").read_text(encoding="utf-8")
    p = parse_agents_policy(text, "AGENTS.md", user_owned=False)
    patterns = [e.pattern for e in p.disallow_commands]
    assert "rm -rf" in patterns and "curl | bash" in patterns
    assert p.allow_commands == [] and p.allow_directories == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('disallow_commands:\n- "rm -rf\n', "AGENTS.md:2"),
        ("disallow_commands:\n- 'rm -rf\n", "not closed"),
        ('disallow_commands:\n- "a" b\n', "after the closing quote"),
        ('disallow_commands:\n- "\\q"\n', "unknown escape"),
        ("allow_commands: [a, b\n", "not closed"),
        ("disallow_commands:\n- rm -rf 'x\n", "AGENTS.md:2: disallow_commands entry"),
        ("disallow_commands:\n- a && b\n", "only '|'"),
        ("disallow_commands:\n- curl |\n", "both sides"),
        ("disallow_commands:\n- -rf\n", "program name"),
        ("allow_directories:\n- ../outside\n", "'..'"),
    ],
)
def test_bad_items_are_refused_with_file_and_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_agents_policy(text, "AGENTS.md", user_owned=False)
    assert message in e.value.message
    assert e.value.message.startswith("AGENTS.md:")
    assert "\n" not in e.value.message
