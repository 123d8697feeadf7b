"""The checklist: one pure function per check, each turning a :class:`DoctorContext` into a result.

The names are stable (scripts grep them): ``config``, ``approval-mode``, ``ignore-file``,
``tracked-secrets``, ``auth-file``, ``key-source``, ``sandbox``, ``network``, ``agents-policy``,
``provider-endpoint``, ``log-dir``, ``audit-trail``, ``home-dir``, ``data-retention``, ``egress``.
"""

from __future__ import annotations

import ipaddress
import shlex
from collections.abc import Callable
from urllib.parse import urlsplit

from codeward.config.model import ProviderConfig
from codeward.doctor.model import CheckResult, DoctorContext
from codeward.modes import MEANING, commands_without_asking

SHOWN = 5
ENTERPRISE_SUFFIXES = (".internal", ".local", ".lan", ".corp", ".intranet", ".home.arpa", ".private")


def _some(items: list[str], n: int = SHOWN) -> str:
    more = f" and {len(items) - n} more" if len(items) > n else ""
    return ", ".join(items[:n]) + more


def check_config(ctx: DoctorContext) -> CheckResult:
    if ctx.config_error:
        return CheckResult(
            "config",
            "fail",
            f"{ctx.config_error} (the other checks used the built-in defaults)",
            "fix the file or key named above",
        )
    others = [r for r in ctx.config.refusals if r.key not in NETWORK_KEYS]  # the network check shows its own
    if others:
        detail = f"{len(others)} repository setting(s) refused: " + _some([f"{r.key} ({r.origin})" for r in others])
        return CheckResult("config", "warn", detail, "see codeward config explain; set them in your own config.toml")
    return CheckResult("config", "pass", f"configuration loaded (provider {ctx.config.provider})")


def check_approval_mode(ctx: DoctorContext) -> CheckResult:
    mode = ctx.config.approval_mode
    if not commands_without_asking(mode):
        return CheckResult("approval-mode", "pass", f"{mode}: {MEANING[mode]}")
    return CheckResult(
        "approval-mode",
        "warn",
        "full-auto by default: commands run in the sandbox without asking",
        'set approval_mode = "suggest" in config.toml and pass -a full-auto only for runs that need it',
    )


def check_ignore_file(ctx: DoctorContext) -> CheckResult:
    name = "ignore-file"
    uncovered = [c.path for c in ctx.credential_files if c.covered_by is None and c.kind != "databases"]
    uncovered_db = [c.path for c in ctx.credential_files if c.covered_by is None and c.kind == "databases"]
    fix_add = (
        "add patterns for them to .codewardignore (codeward init writes the template; "
        "codeward init --update adds the patterns an existing file lacks)"
    )
    partial = " (checked the first files only: the workspace is large)" if ctx.files_walked_limit_hit else ""
    if uncovered:
        return CheckResult(name, "fail", f"credential files the agent could read: {_some(uncovered)}{partial}", fix_add)
    if not ctx.ignore_files:
        covered = len(ctx.credential_files)
        return CheckResult(
            name,
            "warn",
            "no .codewardignore or .codexignore; only the built-in rules apply"
            + (f" ({covered} credential files present, covered by them)" if covered else ""),
            "run codeward init to write the full template (credentials, databases, business data, logs)",
        )
    if uncovered_db:
        return CheckResult(
            name, "warn", f"database files the agent could read: {_some(uncovered_db)}{partial}", fix_add
        )
    n = len(ctx.credential_files)
    files = ", ".join(ctx.ignore_files[:3])
    what = f"{n} credential file{'s' if n != 1 else ''} present, all hidden" if n else "no credential files present"
    return CheckResult(name, "pass", f"{files}; {what}{partial}")


def check_tracked_secrets(ctx: DoctorContext) -> CheckResult:
    name = "tracked-secrets"
    if not ctx.in_git:
        return CheckResult(name, "pass", "not a git repository: nothing is tracked")
    if ctx.tracked_error:
        return CheckResult(name, "warn", f"could not check the git index: {ctx.tracked_error}", "make git work here")
    if ctx.tracked:
        shown = [f"{t.path} ({'; '.join(t.reasons)})" for t in ctx.tracked]
        paths = " ".join(shlex.quote(t.path) for t in ctx.tracked[:20])
        return CheckResult(
            name,
            "fail",
            f"{len(ctx.tracked)} tracked file{'s' if len(ctx.tracked) != 1 else ''} with secrets: {_some(shown)}",
            f"git rm --cached {paths} && git commit; then rotate those secrets: they stay in the git history "
            "(rewrite it with git filter-repo if it was pushed)",
        )
    skipped = f", {ctx.tracked_skipped} skipped (binary or over 1 MiB)" if ctx.tracked_skipped else ""
    return CheckResult(name, "pass", f"{ctx.tracked_scanned} tracked files scanned, no secrets{skipped}")


def check_git_history(ctx: DoctorContext) -> CheckResult:
    name = "git-history"
    if not ctx.in_git:
        return CheckResult(name, "pass", "not a git repository: no history")
    if ctx.history_error:
        return CheckResult(name, "warn", f"could not read the git history: {ctx.history_error}", "make git work here")
    found = ctx.history_secrets
    details: list[str] = []
    fixes: list[str] = []
    if found is not None and not found.complete:
        judged = found.blobs - found.unscanned
        details.append(
            f"history not fully scanned ({judged} of {found.blobs} blobs) in {found.seconds:.0f} s: "
            "what is unscanned may hold secrets"
        )
    if ctx.history_hidden:
        n = len(ctx.history_hidden)
        paths = " ".join(f"--path {shlex.quote(p)}" for p in ctx.history_hidden[:20])
        details.append(
            f"{n} path{'s' if n != 1 else ''} the ignore rules hide {'are' if n != 1 else 'is'} in the git history, "
            f"readable by any command through git show or git log -p: {_some(list(ctx.history_hidden))}"
        )
        fixes.append(f"git filter-repo --invert-paths {paths}")
    if found is not None and found.secrets:
        s, k = found.secrets, found.commits
        where = f" in {_some(list(found.paths))}" if found.paths else ""
        loose = (
            f"; {found.unreferenced} in blobs no commit holds (still readable with git cat-file)"
            if found.unreferenced
            else ""
        )
        details.append(
            f"{s} secret{'s' if s != 1 else ''} ({', '.join(found.rules)}) in {k} commit{'s' if k != 1 else ''} "
            f"of the git history{where}{loose}"
        )
        if found.paths:
            fixes.append(
                "git filter-repo --replace-text leaked.txt (leaked.txt lists each value, one per line; "
                "`codeward scan` on the old files shows where)"
            )
        if found.unreferenced:
            fixes.append("git reflog expire --expire-unreachable=now --all && git gc --prune=now")
    rest = "run `codeward doctor --full-history` (no time limit; later runs go on from the cache)"
    if found is not None and not found.complete and len(details) == 1:
        return CheckResult(name, "fail", details[0], rest)  # unscanned is never a pass
    if not details:
        scanned = f"; no secret in the {found.blobs} files and messages of .git" if found is not None else ""
        return CheckResult(name, "pass", f"no path the ignore rules hide was ever committed{scanned}")
    fix = (
        " && ".join(fixes)
        + " (every clone must be replaced), then rotate the credentials: anyone with a clone has them"
        + (f"; and {rest} to find the rest" if found is not None and not found.complete else "")
    )
    return CheckResult(name, "fail", "; ".join(details), fix)


def check_auth_file(ctx: DoctorContext) -> CheckResult:
    fs = ctx.auth_file
    if fs is None or not fs.exists:
        where = fs.path if fs is not None else "auth.json"
        return CheckResult("auth-file", "pass", f"no {where}: no key stored in a file")
    if fs.problem:
        return CheckResult("auth-file", "fail", fs.problem, fs.fix)
    return CheckResult("auth-file", "pass", f"{fs.path} is mode {fs.mode:03o} ({len(fs.providers)} key(s))")


def check_key_source(ctx: DoctorContext) -> CheckResult:
    name = "key-source"
    key, kc = ctx.key, ctx.keychain
    if key is None:
        return CheckResult(name, "warn", "could not tell where the key comes from", "run codeward auth status")
    pid = key.provider
    if key.source == "keychain":
        return CheckResult(name, "pass", f"{pid}: {key.detail}")
    if key.source in ("env", "command"):
        return CheckResult(name, "pass", f"{pid}: {key.detail}")
    if key.source == "file":
        if key.problem:
            return CheckResult(name, "warn", f"{pid}: {key.detail}: see the auth-file check", key.fix)
        if kc is not None and not kc.usable:
            return CheckResult(
                name,
                "warn",
                f"{pid}: key in {key.detail} (no keychain backend here: {kc.reason})",
                "keep the file at mode 0600, or use providers.ID.key_command with a secret manager",
            )
        return CheckResult(
            name,
            "warn",
            f"{pid}: key in {key.detail} although a keychain is available",
            f"codeward login --provider {pid} (moves it into the keychain and removes it from the file)",
        )
    if not key.requires_key:
        return CheckResult(name, "pass", f"{pid}: no key needed")
    return CheckResult(name, "warn", f"{pid}: {key.detail}", f"codeward login --provider {pid}")


def check_sandbox(ctx: DoctorContext) -> CheckResult:
    name = "sandbox"
    sb = ctx.config.sandbox
    if ctx.sandbox_error:
        return CheckResult(name, "fail", f"cannot probe the sandbox: {ctx.sandbox_error}", "reinstall codeward")
    if sb.tier == "none" or sb.unsafe_allow_unsandboxed:
        why = '[sandbox] tier = "none"' if sb.tier == "none" else "[sandbox] unsafe_allow_unsandboxed = true"
        return CheckResult(
            name, "fail", f"{why}: commands may run unconfined", f"remove {why.split(':')[0]} from config.toml"
        )
    tiers = [t for t in ctx.sandbox if t.tier != "none"]
    if sb.tier != "auto":
        tiers = [t for t in tiers if t.tier == sb.tier]
    best = next((t for t in tiers if t.available), None)
    why_not = "; ".join(f"{t.tier}: {t.reason}" for t in tiers if not t.available)
    # the fix for bubblewrap: install it, or (installed but refused) the fix for the cause it was refused for
    bw = next((t for t in ctx.sandbox if t.tier == "bwrap"), None)
    bw_fix = (bw.fix if bw is not None and not bw.available else "") or (
        "install bubblewrap (apt-get install bubblewrap / dnf install bubblewrap)"
    )
    if best is None:
        return CheckResult(
            name, "fail", f"no sandbox tier works here, so commands will be refused ({why_not or 'none known'})", bw_fix
        )
    if best.tier == "bwrap":
        gaps = f"; gaps: {'; '.join(best.gaps)}" if best.gaps else ""
        return CheckResult(name, "pass", f"bwrap: {best.reason}{gaps}")
    gaps = "; ".join(best.gaps) or "weaker than bubblewrap"
    detail = f"{best.tier} only ({best.reason}); gaps: {gaps}"
    if why_not:
        detail += f"; not available: {why_not}"
    return CheckResult(name, "warn", detail, f"{bw_fix} (for the strongest tier)")


NETWORK_KEYS = ("sandbox.network", "sandbox.allowed_domains")


def check_network(ctx: DoctorContext) -> CheckResult:
    """Whether commands can reach the network, where that was set, and what a repository tried to open."""
    cfg = ctx.config
    sb = cfg.sandbox
    tried = [r for r in cfg.refusals if r.key in NETWORK_KEYS]
    refused = "; refused from the repository: " + "; ".join(f"{r.key} ({r.origin})" for r in tried) if tried else ""
    if sb.network:
        return CheckResult(
            "network",
            "warn",
            f"[sandbox] network = true ({cfg.origins.get('sandbox.network', 'config')}): every command may reach the "
            f"network{refused}",
            "set [sandbox] network = false and pass --allow-network only for runs that need it",
        )
    if sb.allowed_domains:
        where = cfg.origins.get("sandbox.allowed_domains", "config")
        detail = f"off, except HTTPS to: {_some(list(sb.allowed_domains))} (from {where}){refused}"
    else:
        detail = f"off for commands by default{refused}"
    if tried:
        fix = "nothing to do if you do not trust the repository; else add the hosts to your own config.toml"
        return CheckResult("network", "warn", detail, fix)
    return CheckResult("network", "pass", detail)


def check_agents_policy(ctx: DoctorContext) -> CheckResult:
    name = "agents-policy"
    if ctx.policy_error:
        return CheckResult(name, "warn", f"could not read the policy: {ctx.policy_error}", "fix the file named above")
    if not ctx.disallow:
        return CheckResult(
            name,
            "warn",
            "no disallow_commands in any AGENTS.md or config: only the approval mode stops risky commands",
            "run codeward init (writes an AGENTS.md policy skeleton), or add [policy] disallow_commands",
        )
    sources = sorted({e.source.rsplit(":", 1)[0] for e in ctx.disallow})
    return CheckResult(name, "pass", f"{len(ctx.disallow)} disallowed command patterns from {_some(sources, 3)}")


def host_kind(host: str) -> str:
    """``local`` (loopback), ``enterprise`` (private address or internal name) or ``public``."""
    h = host.strip("[]").lower().rstrip(".")
    if h == "localhost" or h.endswith(".localhost"):
        return "local"
    try:
        ip = ipaddress.ip_address(h)
    except ValueError:
        if "." not in h or h.endswith(ENTERPRISE_SUFFIXES):
            return "enterprise"
        return "public"
    if ip.is_loopback:
        return "local"
    if ip.is_private or ip.is_link_local:
        return "enterprise"
    return "public"


def _endpoint(p: ProviderConfig) -> tuple[str, str, str]:
    parts = urlsplit(p.base_url)
    host = parts.hostname or ""
    return parts.scheme, host, host_kind(host)


def check_provider_endpoint(ctx: DoctorContext) -> CheckResult:
    name = "provider-endpoint"
    active = ctx.config.provider_config
    scheme, _, kind = _endpoint(active)
    if scheme != "https" and kind != "local":
        return CheckResult(
            name,
            "fail",
            f"{active.id}: {active.base_url} is plain HTTP to a {kind} host: code and key would cross the network unencrypted",
            f"use an https:// URL in providers.{active.id}.baseURL",
        )
    others = []
    for p in ctx.config.providers.values():
        if p.id == active.id:
            continue
        s, _, k = _endpoint(p)
        if s != "https" and k != "local":
            others.append(f"{p.id} ({p.base_url})")
    what = {
        "local": "local (loopback): nothing leaves this machine",
        "enterprise": "enterprise (private network)",
        "public": "public: requests leave your network",
    }[kind]
    detail = f"{active.id}: {active.base_url}, {what}"
    if others:
        return CheckResult(
            name,
            "warn",
            detail + f"; configured but unused providers with plain HTTP: {_some(others)}",
            "use https:// URLs for providers on other hosts",
        )
    return CheckResult(name, "pass", detail)


def check_log_dir(ctx: DoctorContext) -> CheckResult:
    name = "log-dir"
    if not ctx.config.audit.enabled:
        return CheckResult(
            name, "warn", "[audit] enabled = false: sessions are not recorded", "remove enabled = false from [audit]"
        )
    lp = ctx.logs
    if lp is None or not lp.exists:
        where = lp.path if lp is not None else "the log directory"
        return CheckResult(name, "pass", f"{where} does not exist yet; it is created with mode 0700")
    if lp.mode is not None and lp.mode & 0o077:
        return CheckResult(
            name,
            "fail",
            f"{lp.path} is mode {lp.mode:03o}: others can read the audit log",
            f"chmod -R go-rwx {lp.path}",
        )
    if lp.loose_children:
        return CheckResult(
            name,
            "fail",
            f"audit files others can read: {_some(list(lp.loose_children))}",
            f"chmod -R go-rwx {lp.path}",
        )
    return CheckResult(name, "pass", f"{lp.path} is mode {lp.mode:03o}" if lp.mode is not None else str(lp.path))


def check_audit_trail(ctx: DoctorContext) -> CheckResult:
    """What the audit log can prove here: keyed sealing (setup-keys) and a sink off this machine."""
    import stat as stat_mod

    from codeward.audit.keys import SealStateError, read_state, state_path
    from codeward.audit.sinks import shown

    name = "audit-trail"
    if not ctx.config.audit.enabled:
        return CheckResult(
            name, "warn", "[audit] enabled = false: nothing is recorded", "remove enabled = false from [audit]"
        )
    sink = ctx.config.audit.sink
    where = (
        f"records are streamed to {shown(sink)} as written"
        if sink
        else "no [audit] sink: the only copy is on this machine"
    )
    try:
        state = read_state(ctx.home)
    except SealStateError as e:
        return CheckResult(name, "fail", e.message, "codeward logs setup-keys --force (keep the new key elsewhere)")
    if state is None:
        return CheckResult(
            name,
            "warn",
            "records are hash-chained but not sealed with a key: whoever can write the log directory can rewrite "
            f"a session and its seal without verify noticing; {where}",
            "codeward logs setup-keys (and keep the printed verification key off this machine)",
        )
    mode = stat_mod.S_IMODE(state_path(ctx.home).stat().st_mode)
    if mode & 0o077:
        return CheckResult(
            name, "fail", f"{state_path(ctx.home)} is mode {mode:03o}: others can read the sealing key",
            f"chmod 600 {state_path(ctx.home)}",
        )  # fmt: skip
    queued = list((ctx.logs.path / "ship").glob("*.cursor")) if sink and ctx.logs is not None else []
    detail = (
        f"sealed with key {state.key_id} (next epoch {state.epoch}): with the verification key, logs verify proves "
        f"no finished session was rewritten, cut, re-sealed or deleted; {where}"
    )
    if queued:
        return CheckResult(name, "warn", detail + f"; {len(queued)} session(s) have records waiting for the sink",
                           "codeward logs ship")  # fmt: skip
    return CheckResult(name, "pass", detail)


def check_home_dir(ctx: DoctorContext) -> CheckResult:
    hp = ctx.home_perm
    if hp is None or not hp.exists:
        return CheckResult("home-dir", "pass", f"{ctx.home} does not exist yet")
    if hp.mode is not None and hp.mode & 0o077:
        return CheckResult(
            "home-dir",
            "warn",
            f"{hp.path} is mode {hp.mode:03o}: other users can list codeward's files",
            f"chmod 700 {hp.path}",
        )
    return CheckResult("home-dir", "pass", f"{hp.path} is mode {hp.mode:03o}" if hp.mode is not None else str(hp.path))


def check_data_retention(ctx: DoctorContext) -> CheckResult:
    p = ctx.config.provider_config
    _, _, kind = _endpoint(p)
    if p.wire_api == "responses":
        return CheckResult("data-retention", "pass", f"{p.id}: Responses API requests carry store: false")
    where = (
        "local endpoint: nothing is stored elsewhere" if kind == "local" else "retention follows the provider's policy"
    )
    return CheckResult("data-retention", "pass", f"{p.id}: Chat Completions has no storage flag; {where}")


def check_egress(ctx: DoctorContext) -> CheckResult:
    p = ctx.config.provider_config
    parts = urlsplit(p.base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    notes = ["no telemetry, no update check, no web search"]
    proxies = [
        v
        for v in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")
        if ctx.env.get(v)
    ]
    if proxies:
        notes.append(f"{', '.join(proxies)} ignored for provider requests")
    if p.key_command:
        notes.append(f"key_command runs {p.key_command[0]}, which may contact its own service")
    return CheckResult(
        "egress", "pass", f"codeward connects only to {parts.hostname}:{port} (the model endpoint); " + "; ".join(notes)
    )


CHECKS: tuple[Callable[[DoctorContext], CheckResult], ...] = (
    check_config,
    check_approval_mode,
    check_ignore_file,
    check_tracked_secrets,
    check_git_history,
    check_auth_file,
    check_key_source,
    check_sandbox,
    check_network,
    check_agents_policy,
    check_provider_endpoint,
    check_log_dir,
    check_audit_trail,
    check_home_dir,
    check_data_retention,
    check_egress,
)


def run_checks(ctx: DoctorContext) -> list[CheckResult]:
    return [check(ctx) for check in CHECKS]
