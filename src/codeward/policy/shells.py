"""Shells: which ones we can read (POSIX-like), which we cannot, and what ``bash …`` runs.

``bash -c 'script' $0 $1…`` runs a script with known positional parameters; ``bash``, ``sh -s`` and
``bash - <<EOF`` read their script from standard input; ``bash file.sh`` runs a file (judged as a
program: its contents are not the policy's to read); ``eval a b`` runs ``a b``.
"""

from __future__ import annotations

from collections.abc import Sequence

from codeward.policy.options import OptionsUnknown, OptSpec, has, names, parse_options
from codeward.policy.unwrapped import Script, StdinScript, Unwrapped
from codeward.policy.words import Tok

# shells whose -c script / stdin script is bash-compatible enough to analyse
POSIX_SHELLS = frozenset(
    {"sh", "bash", "rbash", "dash", "ash", "zsh", "ksh", "ksh93", "mksh", "pdksh", "oksh", "yash", "posh"}
)
# shells we cannot analyse: their scripts are opaque (never allowed without asking)
OTHER_SHELLS = frozenset({"fish", "csh", "tcsh", "nu", "xonsh", "elvish", "pwsh", "powershell"})
SHELLS = POSIX_SHELLS | OTHER_SHELLS

_SHELL_LONG_FLAGS = names(
    "debugger",
    "dump-po-strings",
    "dump-strings",
    "help",
    "login",
    "noediting",
    "noprofile",
    "norc",
    "posix",
    "pretty-print",
    "restricted",
    "verbose",
    "version",
)
_SHELL_LONG_VAL = names("init-file", "rcfile")
_SHELL_LETTERS = "abefhikmnprtuvxBCDEHIPTVlscO"


def shell_invocation(toks: Sequence[Tok], name: str) -> Unwrapped:
    """``bash [options] [-c script [$0 [args…]] | file [args…]]``, and the other shells."""
    lenient = name not in ("sh", "bash", "rbash", "dash", "ash")
    spec = OptSpec(
        short_flags=_SHELL_LETTERS.replace("o", "").replace("O", ""),
        short_val="oO",
        long_flags=_SHELL_LONG_FLAGS,
        long_val=_SHELL_LONG_VAL,
        lenient=lenient,
    )
    # +o / +O / +x forms: treat a leading '+' like '-'
    normalized = [toks[0]]
    for t in toks[1:]:
        if t.value is not None and t.value.startswith("+") and len(t.value) > 1:
            normalized.append(Tok(value="-" + t.value[1:], text=t.text))
        else:
            normalized.append(t)
    opts, i = parse_options(normalized, 1, spec)
    if i < len(toks) and toks[i].value == "-":
        i += 1  # a lone "-" ends the options, like "--" (bash - <<EOF reads the script from stdin)
    # a cluster like -lc reports each letter
    has_c = has(opts, "-c")
    has_s = has(opts, "-s")
    interpreter = "sh" if name in POSIX_SHELLS else name
    if has_c:
        if i >= len(toks):
            return Unwrapped()  # bash: -c: option requires an argument
        script = toks[i]
        params = tuple(toks[i + 1 :])
        params_known = None if any(p.value is None and p.split for p in params) else params
        return Unwrapped(inners=[Script((script,), params_known, interpreter)], transparent=True)
    if has_s or i >= len(toks):
        params = (toks[0], *toks[i:])
        known = None if any(p.value is None and p.split for p in params) else params
        return Unwrapped(inners=[StdinScript(known, interpreter)], transparent=True)
    if toks[i].value in ("/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"):
        params = (toks[i], *toks[i + 1 :])
        known = None if any(p.value is None and p.split for p in params) else params
        return Unwrapped(inners=[StdinScript(known, interpreter)], transparent=True)
    if toks[i].value is None:
        raise OptionsUnknown(f"the script {toks[i].text} that {name} runs is only known at run time")
    # a script file: its contents are not ours to read here; the shell is judged as a program
    return Unwrapped()


def eval_builtin(toks: Sequence[Tok]) -> Unwrapped:
    args = list(toks[1:])
    if args and args[0].value == "--":
        args = args[1:]
    if not args:
        return Unwrapped()
    return Unwrapped(inners=[Script(tuple(args), None)], transparent=True)
