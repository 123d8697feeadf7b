"""``codeward login``, ``logout`` and ``auth status`` (DESIGN §2, §6).

The key is read from standard input (``--with-api-key``, or whenever stdin is not a terminal) or
from a hidden prompt, never from the command line, where shell history, ``ps`` and CI logs would
keep it. An argument that looks like a key is refused without being echoed back.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from codeward.errors import EXIT_FAILED, EXIT_OK, UsageError

if TYPE_CHECKING:
    from codeward.config.model import Config, ProviderConfig

CONTEXT = {"help_option_names": ["-h", "--help"]}


def _config(cd: Path | None = None) -> Config:
    from codeward.cli.options import RunOptions, project_for

    return project_for(None, RunOptions(cd=cd), load=False, workspace=False).config


def _provider(config: Config, provider_id: str | None) -> ProviderConfig:
    pid = provider_id or config.provider
    if pid not in config.providers:
        known = ", ".join(sorted(config.providers))
        raise UsageError(f"--provider {pid}: no such provider (known: {known}); add a [providers.{pid}] table first")
    return config.providers[pid]


def _refuse_argv_key(extra: tuple[str, ...], command: str) -> None:
    if extra:
        raise UsageError(
            f"{command} takes no key on the command line (it would stay in shell history and process "
            f"lists); pipe it instead: ... | codeward {command} --with-api-key"
        )


def _read_key(with_api_key: bool, provider_id: str) -> str:
    from codeward.auth.login import clean_key

    if with_api_key or not sys.stdin.isatty():
        raw = sys.stdin.read()
    else:
        import getpass

        try:
            raw = getpass.getpass(f"API key for provider '{provider_id}' (input hidden): ")
        except EOFError:
            raw = ""
    return clean_key(raw)


@click.command("login", context_settings=CONTEXT)
@click.option("--provider", "provider_id", metavar="ID", help="Provider id (default: the configured provider).")
@click.option("--with-api-key", is_flag=True, help="Read the key from standard input.")
@click.argument("extra", nargs=-1, required=False, metavar="")
def login(provider_id: str | None, with_api_key: bool, extra: tuple[str, ...]) -> int:
    """Store a provider's API key in the system keychain (auth.json 0600 when there is none)."""
    import os

    from codeward.auth.login import save_key

    _refuse_argv_key(extra, "login")
    provider = _provider(_config(), provider_id)
    key = _read_key(with_api_key, provider.id)
    stored = save_key(provider.id, key)
    if stored.store == "keychain":
        click.echo(f"Stored the key for provider '{provider.id}' in the system keychain ({stored.where}).")
    else:
        click.echo(
            f"No usable system keychain ({stored.fallback_reason}); stored the key for provider "
            f"'{provider.id}' in {stored.where} (mode 0600) instead."
        )
    for note in stored.notes:
        click.echo(f"note: {note}")
    if provider.env_key and os.environ.get(provider.env_key):
        click.echo(f"note: ${provider.env_key} is set and takes precedence over the stored key")
    if not provider.requires_key:
        click.echo(f"note: provider '{provider.id}' is configured as needing no key")
    return EXIT_OK


@click.command("logout", context_settings=CONTEXT)
@click.option("--provider", "provider_id", metavar="ID", help="Provider id (default: the configured provider).")
def logout(provider_id: str | None) -> int:
    """Remove a provider's stored key from the keychain and from auth.json."""
    import os

    from codeward.auth.login import forget_key

    provider = _provider(_config(), provider_id)
    removed = forget_key(provider.id)
    if removed:
        click.echo(f"Removed the key for provider '{provider.id}' from " + " and ".join(removed) + ".")
    else:
        click.echo(f"No stored key for provider '{provider.id}'.")
    if provider.env_key and os.environ.get(provider.env_key):
        click.echo(f"note: ${provider.env_key} is still set in your environment")
    return EXIT_OK


@click.group("auth", context_settings=CONTEXT)
def auth() -> None:
    """Where provider keys come from."""


@auth.command("status", context_settings=CONTEXT)
@click.option("--provider", "provider_id", metavar="ID", help="Show only this provider.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
def status(provider_id: str | None, as_json: bool) -> int:
    """Show, for each provider, where its key would come from (env, keychain, file, command, none).

    Never prints a key. Exits 1 when auth.json exists but is refused (loose permissions or broken).
    """
    from codeward.auth import authfile, keychain
    from codeward.auth.login import key_status

    config = _config()
    providers = [_provider(config, provider_id)] if provider_id else [config.providers[p] for p in config.providers]
    backend = keychain.backend()
    fs = authfile.inspect()
    rows = [key_status(p, file_state=fs) for p in providers]
    if as_json:
        out = {
            "provider": config.provider,
            "keychain": {"backend": backend.name, "usable": backend.usable, "reason": backend.reason or None},
            "auth_file": {
                "path": str(fs.path),
                "exists": fs.exists,
                "mode": f"{fs.mode:03o}" if fs.mode is not None else None,
                "problem": fs.problem,
                "fix": fs.fix,
            },
            "providers": [r.to_json() for r in rows],
        }
        click.echo(json.dumps(out, indent=2))
    else:
        usable = "usable" if backend.usable else f"not usable: {backend.reason}"
        click.echo(f"keychain:  {backend.name} ({usable})")
        if not fs.exists:
            click.echo(f"auth file: {fs.path} (absent)")
        elif fs.problem:
            click.echo(f"auth file: {fs.path} (REFUSED)")
        else:
            click.echo(f"auth file: {fs.path} (mode {fs.mode:03o}, {len(fs.providers)} key(s))")
        click.echo("")
        width = max(len(r.provider) for r in rows) + 2
        for r in rows:
            mark = "*" if r.provider == config.provider else " "
            click.echo(f"{mark} {r.provider.ljust(width)}{r.source.ljust(10)}{r.detail}")
        click.echo("\n* the configured provider")
    if fs.problem:
        click.echo(f"warning: {fs.problem}", err=True)
        return EXIT_FAILED
    return EXIT_OK
