"""Shell snippets git is told to run on its own command line.

``git -c alias.x='!cmd' x``, ``git -c core.pager=cmd log``, ``git clone --upload-pack=cmd``: each
runs ``cmd`` through a shell. git itself stays a program to approve.
"""

from __future__ import annotations

from collections.abc import Sequence

from codeward.policy.options import OptionsUnknown
from codeward.policy.unwrapped import Inner, Script, Unwrapped
from codeward.policy.words import Tok

# git config keys whose value git runs through the shell (alias.* and credential.helper only when
# the value starts with "!")
GIT_SHELL_KEYS = frozenset(
    {
        "core.pager",
        "core.editor",
        "core.sshcommand",
        "core.fsmonitor",
        "core.askpass",
        "sequence.editor",
        "diff.external",
        "gpg.program",
        "gpg.ssh.program",
        "gpg.x509.program",
        "uploadpack.packobjectshook",
        "web.browser",
    }
)
GIT_SHELL_KEY_SUFFIXES = (".clean", ".smudge", ".process", ".driver", ".textconv", ".command", ".cmd")
GIT_SHELL_KEY_PREFIXES = ("pager.", "filter.", "merge.", "diff.", "difftool.", "mergetool.", "browser.")
GIT_COMMAND_OPTIONS = frozenset({"--upload-pack", "--receive-pack", "--exec"})


def _git_runs(key: str, value: Tok) -> Script | None:
    key = key.casefold()
    text = value.value if value.value is not None else value.prefix
    if key.startswith("alias.") or key == "credential.helper":
        if text.startswith("!"):
            body = Tok.lit(text[1:]) if value.value is not None else Tok.unknown(value.text)
            return Script((body,), None)
        return None if value.value is not None else Script((Tok.unknown(value.text),), None)
    if (
        key in GIT_SHELL_KEYS
        or (key.endswith(GIT_SHELL_KEY_SUFFIXES) and key.startswith(GIT_SHELL_KEY_PREFIXES))
        or key.startswith("pager.")
    ):
        return Script((value,), None)
    return None


def git_snippets(toks: Sequence[Tok]) -> Unwrapped:
    """Shell snippets git is told to run on its own command line: ``-c alias.x='!cmd'``,
    ``-c core.pager=cmd``, ``--upload-pack=cmd``…; git itself stays a program to approve."""
    scripts: list[Inner] = []
    i = 1
    while i < len(toks):
        t = toks[i]
        v = t.value
        if v == "-c" and i + 1 < len(toks):
            kv = toks[i + 1]
            text = kv.value if kv.value is not None else kv.prefix
            if "=" in text:
                key, _, rest = text.partition("=")
                value = Tok.lit(rest) if kv.value is not None else Tok.unknown(kv.text, prefix=rest)
                found = _git_runs(key, value)
                if found is not None:
                    scripts.append(found)
            elif kv.value is None:
                raise OptionsUnknown(f"git -c {kv.text} is only known at run time")
            i += 2
            continue
        if v is not None and v.startswith("--") and v.split("=", 1)[0] in GIT_COMMAND_OPTIONS:
            _name, eq, rest = v.partition("=")
            if eq:
                scripts.append(Script((Tok.lit(rest),), None))
                i += 1
            elif i + 1 < len(toks):
                scripts.append(Script((toks[i + 1],), None))
                i += 2
            else:
                i += 1
            continue
        i += 1
    return Unwrapped(inners=scripts, transparent=False)
