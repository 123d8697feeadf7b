"""Config.origins: where each effective value came from, layer by layer (DESIGN principle 7)."""

from __future__ import annotations

from pathlib import Path

from codeward.config.load import ConfigOverrides, load_config


def write(p: Path, text: str) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def test_each_layer_names_itself(git_repo: Path, cw_home: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    user = write(
        cw_home / "config.toml",
        '# my config\nmodel = "m1"\nmax_steps = 40\n\n[sandbox]\ntimeout_ms = 9000\n'
        '[profiles.ci]\nmodel = "m2"\n[profiles.ci.sandbox]\ntier = "bwrap"\n'
        '[providers.gw]\nbaseURL = "https://gw.corp/v1"\n',
    )
    repo = write(git_repo / ".codeward" / "config.toml", "[sandbox]\n\ntimeout_ms = 5000\n")
    monkeypatch.setenv("OPENAI_BASE_URL", "https://gateway.example/v1")
    cfg = load_config(git_repo, ConfigOverrides(profile="ci", dotted=["max_steps=3"], approval_mode="auto-edit"))
    o = cfg.origins
    assert o["model"] == f"{user}:8 (profile ci)" and cfg.model == "m2"
    assert o["sandbox.tier"] == f"{user}:10 (profile ci)"
    assert o["max_steps"] == "-c max_steps" and cfg.max_steps == 3
    assert o["approval_mode"] == "--approval-mode"
    assert o["sandbox.timeout_ms"] == f"{repo}:3" and cfg.sandbox.timeout_ms == 5000
    assert o["providers.gw.base_url"] == f"{user}:12"
    assert o["providers.openai.base_url"] == "$OPENAI_BASE_URL"
    assert o["providers.ollama.base_url"] == "built-in provider"
    assert o["sandbox.network"] == "built-in default"
    assert o["request_timeout_ms"] == "built-in default" and cfg.request_timeout_ms == 120_000


def test_policy_origins_list_every_contributing_place(git_repo: Path, cw_home: Path) -> None:
    user = write(cw_home / "config.toml", '[policy]\ndisallow_commands = ["sudo"]\n')
    repo = write(git_repo / ".codeward" / "config.toml", '[policy]\ndisallow_commands = ["rm -rf"]\n')
    cfg = load_config(git_repo, ConfigOverrides(dotted=['policy.disallow_commands=["dd"]']))
    assert cfg.origins["policy.disallow_commands"] == f"{user}:2, {repo}:2, -c policy.disallow_commands"
    assert [(e.pattern, e.user_owned) for e in cfg.policy.disallow_commands] == [
        ("sudo", True),
        ("rm -rf", False),
        ("dd", True),
    ]


def test_new_model_keys_load_with_their_types(tmp_path: Path, cw_home: Path) -> None:
    write(
        cw_home / "config.toml",
        "model_context_window = 200000\nmodel_auto_compact_token_limit = 150000\n"
        'model_reasoning_effort = "low"\nmodel_reasoning_summary = "none"\nrequest_timeout_ms = 30000\n',
    )
    cfg = load_config(tmp_path)
    got = (
        cfg.model_context_window,
        cfg.model_auto_compact_token_limit,
        cfg.model_reasoning_effort,
        cfg.model_reasoning_summary,
        cfg.request_timeout_ms,
    )
    assert got == (200_000, 150_000, "low", "none", 30_000)


def test_running_in_the_home_directory_does_not_read_your_config_as_a_repositorys(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "me"
    monkeypatch.setenv("CODEWARD_HOME", str(home / ".codeward"))
    user = write(home / ".codeward" / "config.toml", 'model = "mine"\n')
    cfg = load_config(home)
    assert cfg.model == "mine" and cfg.refusals == [] and cfg.origins["model"] == f"{user}:1"
