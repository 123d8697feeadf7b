"""Programs that run other programs: what each one runs, read from its argv.

``sudo rm -rf /`` runs ``rm -rf /``; ``timeout 5 bash -c 'rm -rf /'`` runs a shell script; ``find .
-exec rm {} ;`` runs ``rm``. :func:`unwrap` answers for one argv with an :class:`Unwrapped`: the
argvs and scripts it runs, whether the wrapper is *transparent* (it adds nothing a user would want
to approve on its own, like ``time`` or ``nice``, so allow lists judge only what it runs), and,
when the options cannot be read (an unknown option, a value only known at run time), why not.
Each wrapper's options are listed so an option that takes a value is never mistaken for the
command; an option we do not know makes the result unknown rather than a guess (fail closed).

Runners whose option syntax is not modelled (``strace``, ``unshare``, …) get a *speculative*
reading: every later word could be the command. Those readings only ever add denials.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from codeward.policy.options import OptionsUnknown, OptSpec, has, names, parse_options, value_of
from codeward.policy.words import Tok

ASSIGNMENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=")

# shells whose -c script / stdin script is bash-compatible enough to analyse
POSIX_SHELLS = frozenset(
    {"sh", "bash", "rbash", "dash", "ash", "zsh", "ksh", "ksh93", "mksh", "pdksh", "oksh", "yash", "posh"}
)
# shells we cannot analyse: their scripts are opaque (never allowed without asking)
OTHER_SHELLS = frozenset({"fish", "csh", "tcsh", "nu", "xonsh", "elvish", "pwsh", "powershell"})
SHELLS = POSIX_SHELLS | OTHER_SHELLS

SPECULATIVE_RUNNERS = frozenset(
    {
        "strace",
        "ltrace",
        "valgrind",
        "nsenter",
        "unshare",
        "firejail",
        "bwrap",
        "proxychains",
        "proxychains4",
        "torsocks",
        "tsocks",
        "fakeroot",
        "fakechroot",
        "faketime",
        "chronic",
        "systemd-run",
        "systemd-inhibit",
        "dbus-run-session",
        "dbus-launch",
        "catchsegv",
        "numactl",
        "chrt",
        "prlimit",
        "cpulimit",
        "sg",
        "runcon",
        "setpriv",
        "perf",
        "ts",
        "parallel",
        "unbuffer",
        "caffeinate",
        "pkexec",
    }
)
MAX_SPECULATIVE = 16


@dataclass(frozen=True)
class Argv:
    """An argv the wrapper executes."""

    toks: tuple[Tok, ...]


@dataclass(frozen=True)
class Script:
    """Shell text the wrapper runs (``bash -c``, ``eval``, ``su -c``, ``ssh host cmd``…).

    ``parts`` are joined with a blank (``eval a b`` runs ``a b``). ``params`` are the positional
    parameters when known (``sh -c 'script' $0 $1…``); None means they are unknown.
    """

    parts: tuple[Tok, ...]
    params: tuple[Tok, ...] | None = None
    interpreter: str = "sh"


@dataclass(frozen=True)
class StdinScript:
    """A shell that reads its script from standard input (``bash``, ``sh -s``, ``bash <<EOF``)."""

    params: tuple[Tok, ...] | None = None
    interpreter: str = "sh"


Inner = Argv | Script | StdinScript


@dataclass
class Unwrapped:
    inners: list[Inner] = field(default_factory=list)
    transparent: bool = False
    unknown: str | None = None  # why what it runs cannot be told
    assignments: list[Tok] = field(default_factory=list)  # VAR=value set for the inner command
    speculative: list[tuple[Tok, ...]] = field(default_factory=list)
    lookup_only: bool = False  # e.g. `command -v x`: names a program without running it


def _take_assignments(toks: Sequence[Tok], i: int) -> tuple[list[Tok], int]:
    out = []
    while i < len(toks):
        t = toks[i]
        text = t.value if t.value is not None else t.prefix
        if ASSIGNMENT_RE.match(text) and (t.value is not None or "=" in t.prefix):
            out.append(t)
            i += 1
            continue
        break
    return out, i


def _rest(toks: Sequence[Tok], i: int) -> tuple[Tok, ...]:
    return tuple(toks[i:])


# ------------------------------------------------------------------------------------------------
# the wrappers

Handler = Callable[[Sequence[Tok]], Unwrapped]


def _simple(spec: OptSpec, *, skip: int = 0, transparent: bool = True, assignments: bool = False) -> Handler:
    """A wrapper of the form ``NAME [options] [skip operands] [VAR=val…] command args…``."""

    def handler(toks: Sequence[Tok]) -> Unwrapped:
        _opts, i = parse_options(toks, 1, spec)
        if i + skip > len(toks):
            return Unwrapped()
        for k in range(skip):
            if toks[i + k].value is None and toks[i + k].split:
                raise OptionsUnknown(f"{toks[i + k].text} is only known at run time")
        i += skip
        assigns: list[Tok] = []
        if assignments:
            assigns, i = _take_assignments(toks, i)
        if i >= len(toks):
            return Unwrapped(assignments=assigns)
        return Unwrapped(inners=[Argv(_rest(toks, i))], transparent=transparent, assignments=assigns)

    return handler


_NOHUP = OptSpec(long_flags=names("help", "version"))
_TIMEOUT = OptSpec(
    short_flags="vfp",
    short_val="sk",
    long_flags=names("foreground", "preserve-status", "verbose", "help", "version"),
    long_val=names("signal", "kill-after"),
)
_NICE = OptSpec(short_val="n", long_val=names("adjustment"), long_flags=names("help", "version"), numeric=True)
_TIME = OptSpec(
    short_flags="apqv",
    short_val="fo",
    long_flags=names("append", "portability", "quiet", "verbose", "help", "version"),
    long_val=names("format", "output"),
)
_STDBUF = OptSpec(short_val="ioe", long_val=names("input", "output", "error"), long_flags=names("help", "version"))
_EXEC = OptSpec(short_flags="cl", short_val="a")
_SETSID = OptSpec(short_flags="cfw", long_flags=names("ctty", "fork", "wait", "help", "version"))
_CHROOT = OptSpec(long_val=names("userspec", "groups"), long_flags=names("skip-chdir", "help", "version"))
_DOAS = OptSpec(short_flags="nsL", short_val="uC")
_ENV = OptSpec(
    short_flags="i0v",
    short_val="uCSa",
    long_flags=names("ignore-environment", "null", "debug", "list-signal-handling", "help", "version"),
    long_val=names("unset", "chdir", "split-string", "argv0"),
    long_opt=names("block-signal", "default-signal", "ignore-signal"),
)
_SUDO = OptSpec(
    short_flags="ABbEeHhiKklNnPSsVv",
    short_val="CDgpRrTtUu",
    long_flags=names(
        "askpass",
        "bell",
        "background",
        "edit",
        "set-home",
        "help",
        "login",
        "remove-timestamp",
        "reset-timestamp",
        "list",
        "no-update",
        "non-interactive",
        "preserve-groups",
        "stdin",
        "shell",
        "version",
        "validate",
    ),
    long_val=names(
        "chdir",
        "close-from",
        "group",
        "host",
        "prompt",
        "chroot",
        "role",
        "type",
        "command-timeout",
        "other-user",
        "user",
        "login-class",
    ),
    long_opt=names("preserve-env"),
)
_XARGS = OptSpec(
    short_flags="0oprtx",
    short_val="adEILnPs",
    short_opt="eil",
    long_flags=names(
        "null", "open-tty", "interactive", "no-run-if-empty", "verbose", "exit", "show-limits", "help", "version"
    ),
    long_val=names("arg-file", "delimiter", "max-args", "max-procs", "max-chars", "process-slot-var"),
    long_opt=names("eof", "replace", "max-lines"),
)
_IONICE = OptSpec(
    short_flags="pPut",
    short_val="cn",
    long_flags=names("pid", "pgid", "uid", "ignore", "help", "version"),
    long_val=names("class", "classdata"),
)
_TASKSET = OptSpec(short_flags="acp", long_flags=names("all-tasks", "cpu-list", "pid", "help", "version"))
_FLOCK = OptSpec(
    short_flags="sxeunoF",
    short_val="wEc",
    long_flags=names(
        "shared", "exclusive", "unlock", "nonblock", "nb", "close", "no-fork", "verbose", "help", "version"
    ),
    long_val=names("wait", "timeout", "conflict-exit-code", "command"),
)
_WATCH = OptSpec(
    short_flags="bcCefgprtwxhv",
    short_val="nqs",
    short_opt="d",
    long_flags=names(
        "beep",
        "color",
        "no-color",
        "errexit",
        "follow",
        "chgexit",
        "precise",
        "no-rerun",
        "no-title",
        "no-wrap",
        "exec",
    ),
    long_val=names("interval", "equexit", "shotsdir"),
    long_opt=names("differences"),
)
_SU = OptSpec(
    short_flags="lmpPfT",
    short_val="cgGswu",
    long_flags=names("login", "preserve-environment", "pty", "fast", "help", "version"),
    long_val=names("command", "session-command", "group", "supp-group", "shell", "whitelist-environment", "user"),
)
_SSH = OptSpec(short_flags="46AaCfGgKkMNnqsTtVvXxYy", short_val="BbcDEeFIiJLlmOopQRSWw")
_SCRIPT = OptSpec(
    short_flags="aefqhV",
    short_val="cEIOTBm",
    long_flags=names("append", "return", "flush", "force", "quiet", "help", "version"),
    long_val=names("command", "echo", "log-in", "log-out", "log-io", "log-timing", "logging-format", "output-limit"),
)
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


def _env(toks: Sequence[Tok]) -> Unwrapped:
    work = list(toks)
    i = 1
    assigns: list[Tok] = []
    while True:
        # env's "-" alone means -i
        while i < len(work) and work[i].value == "-":
            i += 1
        opts, i = parse_options(work, i, _ENV)
        split = value_of(opts, "-S", "--split-string")
        if split is not None:
            if split.value is None or any(c in split.value for c in "$\\"):
                raise OptionsUnknown("env -S with a string only known at run time")
            try:
                pieces = shlex.split(split.value)
            except ValueError as e:
                raise OptionsUnknown(f"env -S string cannot be split: {e}") from None
            work = work[:i] + [Tok.lit(p) for p in pieces] + work[i:]
            if any(p.startswith("-") for p in pieces[:1]):
                continue
        more, i = _take_assignments(work, i)
        assigns.extend(more)
        break
    if i >= len(work):
        return Unwrapped(assignments=assigns)
    return Unwrapped(inners=[Argv(tuple(work[i:]))], transparent=True, assignments=assigns)


def _sudo(toks: Sequence[Tok]) -> Unwrapped:
    _opts, i = parse_options(toks, 1, _SUDO)
    assigns, i = _take_assignments(toks, i)
    if i >= len(toks):
        return Unwrapped(assignments=assigns)
    # -e/--edit names files, not a command; read them as one anyway (it can only add denials)
    return Unwrapped(inners=[Argv(_rest(toks, i))], transparent=False, assignments=assigns)


def _command_builtin(toks: Sequence[Tok]) -> Unwrapped:
    opts, i = parse_options(toks, 1, OptSpec(short_flags="pvV"))
    if has(opts, "-v", "-V"):
        return Unwrapped(lookup_only=True)
    if i >= len(toks):
        return Unwrapped()
    return Unwrapped(inners=[Argv(_rest(toks, i))], transparent=True)


def _xargs(toks: Sequence[Tok]) -> Unwrapped:
    opts, i = parse_options(toks, 1, _XARGS)
    replace: str | None = None
    for o, v in opts:
        if o in ("-I", "-i", "--replace"):
            if v is not None and v.value is None:
                raise OptionsUnknown("xargs replacement string only known at run time")
            replace = v.value if v is not None and v.value else "{}"
    inner = list(toks[i:]) or [Tok.lit("echo")]
    stdin_word = Tok.unknown("<input of xargs>", split=True)
    if replace is not None:
        out: list[Tok] = []
        for t in inner:
            if t.value is not None and replace in t.value:
                before = t.value.split(replace, 1)[0]
                out.append(Tok.unknown(t.value, prefix=before, split=False))
            else:
                out.append(t)
        inner = out
    else:
        inner.append(stdin_word)
    return Unwrapped(inners=[Argv(tuple(inner))], transparent=True)


FIND_EXEC = frozenset({"-exec", "-execdir", "-ok", "-okdir"})
FIND_VALUE_PRIMARIES = frozenset(
    {
        "-name",
        "-iname",
        "-path",
        "-ipath",
        "-wholename",
        "-iwholename",
        "-regex",
        "-iregex",
        "-lname",
        "-ilname",
        "-type",
        "-xtype",
        "-newer",
        "-anewer",
        "-cnewer",
        "-user",
        "-group",
        "-uid",
        "-gid",
        "-perm",
        "-size",
        "-mtime",
        "-mmin",
        "-atime",
        "-amin",
        "-ctime",
        "-cmin",
        "-used",
        "-maxdepth",
        "-mindepth",
        "-printf",
        "-fprint",
        "-fprint0",
        "-fprintf",
        "-fls",
        "-samefile",
        "-links",
        "-inum",
        "-fstype",
        "-context",
        "-regextype",
        "-D",
        "-O",
        "-files0-from",
    }
)


def _find(toks: Sequence[Tok]) -> Unwrapped:
    inners: list[Inner] = []
    i = 1
    n = len(toks)
    prev_takes_value = False
    while i < n:
        t = toks[i]
        if t.value is None:
            if t.maybe_flag and not prev_takes_value:
                raise OptionsUnknown(f"find expression word {t.text} is only known at run time")
            prev_takes_value = False
            i += 1
            continue
        if t.value in FIND_EXEC:
            j = i + 1
            argv: list[Tok] = []
            while j < n and toks[j].value not in (";", "+"):
                tj = toks[j]
                if tj.value is not None and "{}" in tj.value:
                    before = tj.value.split("{}", 1)[0]
                    argv.append(Tok.unknown(tj.value, prefix=before, maybe_flag=before.startswith("-"), split=False))
                else:
                    argv.append(tj)
                j += 1
            if argv:
                inners.append(Argv(tuple(argv)))
            i = j + 1
            prev_takes_value = False
            continue
        prev_takes_value = t.value in FIND_VALUE_PRIMARIES or t.value.startswith("-newer")
        i += 1
    return Unwrapped(inners=inners, transparent=False)


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
    if toks[i].value is None:
        raise OptionsUnknown(f"the script {toks[i].text} that {name} runs is only known at run time")
    # a script file: its contents are not ours to read here; the shell is judged as a program
    return Unwrapped()


def _eval(toks: Sequence[Tok]) -> Unwrapped:
    args = list(toks[1:])
    if args and args[0].value == "--":
        args = args[1:]
    if not args:
        return Unwrapped()
    return Unwrapped(inners=[Script(tuple(args), None)], transparent=True)


def _su(toks: Sequence[Tok]) -> Unwrapped:
    # su permutes: options may follow the user name, so scan everything
    i = 1
    scripts: list[Inner] = []
    operands: list[Tok] = []
    user_mode_argv: tuple[Tok, ...] | None = None
    is_runuser = toks[0].value is not None and toks[0].value.rsplit("/", 1)[-1] == "runuser"
    while i < len(toks):
        t = toks[i]
        if t.value == "--":
            if is_runuser:
                user_mode_argv = tuple(toks[i + 1 :])
            else:
                operands.extend(toks[i + 1 :])
            break
        if (
            t.value == "-"
            or (t.value is not None and not t.value.startswith("-"))
            or (t.value is None and not t.maybe_flag)
        ):
            operands.append(t)
            i += 1
            continue
        opts, j = parse_options(toks, i, _SU)
        if j == i:
            operands.append(t)
            i += 1
            continue
        cmd = value_of(opts, "-c", "--command", "--session-command")
        if cmd is not None:
            scripts.append(Script((cmd,), None))
        if is_runuser and has(opts, "-u", "--user"):
            user_mode_argv = tuple(toks[j:]) if j < len(toks) else None
            break
        i = j
    if user_mode_argv:
        return Unwrapped(inners=[Argv(user_mode_argv)], transparent=False)
    return Unwrapped(inners=scripts, transparent=False)


def _ssh(toks: Sequence[Tok]) -> Unwrapped:
    _opts, i = parse_options(toks, 1, _SSH)
    if i >= len(toks):
        return Unwrapped()
    rest = toks[i + 1 :]
    if not rest:
        return Unwrapped()
    return Unwrapped(inners=[Script(tuple(rest), None)], transparent=False)


def _watch(toks: Sequence[Tok]) -> Unwrapped:
    opts, i = parse_options(toks, 1, _WATCH)
    if i >= len(toks):
        return Unwrapped()
    if has(opts, "-x", "--exec"):
        return Unwrapped(inners=[Argv(_rest(toks, i))], transparent=True)
    return Unwrapped(inners=[Script(_rest(toks, i), None)], transparent=True)


def _flock(toks: Sequence[Tok]) -> Unwrapped:
    opts, i = parse_options(toks, 1, _FLOCK)
    cmd = value_of(opts, "-c", "--command")
    if i >= len(toks):
        return Unwrapped(inners=[Script((cmd,), None)] if cmd is not None else [], transparent=cmd is not None)
    i += 1  # the lock file or directory
    # options may also follow the lock file
    more, i = parse_options(toks, i, _FLOCK)
    cmd = value_of(more, "-c", "--command") or cmd
    if cmd is not None:
        return Unwrapped(inners=[Script((cmd,), None)], transparent=True)
    if i >= len(toks):
        return Unwrapped()
    return Unwrapped(inners=[Argv(_rest(toks, i))], transparent=True)


def _script_cmd(toks: Sequence[Tok]) -> Unwrapped:
    opts, _i = parse_options(toks, 1, _SCRIPT)
    cmd = value_of(opts, "-c", "--command")
    if cmd is None:
        return Unwrapped()
    return Unwrapped(inners=[Script((cmd,), None)], transparent=True)


def _ionice(toks: Sequence[Tok]) -> Unwrapped:
    opts, i = parse_options(toks, 1, _IONICE)
    if has(opts, "-p", "-P", "-u", "--pid", "--pgid", "--uid") or i >= len(toks):
        return Unwrapped()
    return Unwrapped(inners=[Argv(_rest(toks, i))], transparent=True)


def _taskset(toks: Sequence[Tok]) -> Unwrapped:
    opts, i = parse_options(toks, 1, _TASKSET)
    if has(opts, "-p", "--pid") or i + 1 >= len(toks):
        return Unwrapped()
    return Unwrapped(inners=[Argv(_rest(toks, i + 1))], transparent=True)


def _busybox(toks: Sequence[Tok]) -> Unwrapped:
    if len(toks) < 2 or (toks[1].value is not None and toks[1].value.startswith("-")):
        return Unwrapped()
    return Unwrapped(inners=[Argv(_rest(toks, 1))], transparent=True)


def _plain(toks: Sequence[Tok]) -> Unwrapped:
    """``builtin``: the rest is the command."""
    if len(toks) < 2:
        return Unwrapped()
    return Unwrapped(inners=[Argv(_rest(toks, 1))], transparent=True)


def _coproc(toks: Sequence[Tok]) -> Unwrapped:
    """``coproc cmd…`` runs cmd; ``coproc NAME { …; }`` is a group tree-sitter cannot read."""
    if any(t.bare and t.value in ("{", "(") for t in toks[1:3]):
        raise OptionsUnknown("`coproc NAME { … }` is not read reliably")
    return _plain(toks)


def _alias(toks: Sequence[Tok]) -> Unwrapped:
    scripts: list[Inner] = []
    for t in toks[1:]:
        text = t.value if t.value is not None else t.prefix
        if "=" in text and not text.startswith("-"):
            if t.value is not None:
                scripts.append(Script((Tok.lit(t.value.split("=", 1)[1]),), None))
            else:
                scripts.append(Script((Tok.unknown(t.text),), None))
    return Unwrapped(inners=scripts, transparent=True)


def _trap(toks: Sequence[Tok]) -> Unwrapped:
    args = [t for t in toks[1:]]
    if args and args[0].value == "--":
        args = args[1:]
    if args and args[0].value in ("-p", "-l", "-P"):
        return Unwrapped()
    if len(args) < 2 or args[0].value == "-":
        return Unwrapped()
    return Unwrapped(inners=[Script((args[0],), None)], transparent=True)


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


def _git(toks: Sequence[Tok]) -> Unwrapped:
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


WRAPPERS: dict[str, Handler] = {
    "git": _git,
    "env": _env,
    "nohup": _simple(_NOHUP),
    "timeout": _simple(_TIMEOUT, skip=1),
    "nice": _simple(_NICE),
    "time": _simple(_TIME),
    "stdbuf": _simple(_STDBUF),
    "ionice": _ionice,
    "chroot": _simple(_CHROOT, skip=1, transparent=False),
    "exec": _simple(_EXEC),
    "command": _command_builtin,
    "builtin": _plain,
    "coproc": _coproc,
    "xargs": _xargs,
    "find": _find,
    "sudo": _sudo,
    "doas": _simple(_DOAS, transparent=False),
    "su": _su,
    "runuser": _su,
    "ssh": _ssh,
    "watch": _watch,
    "setsid": _simple(_SETSID),
    "flock": _flock,
    "taskset": _taskset,
    "script": _script_cmd,
    "busybox": _busybox,
    "toybox": _busybox,
    "eval": _eval,
    "alias": _alias,
    "trap": _trap,
}


def unwrap(toks: Sequence[Tok], base: str) -> Unwrapped | None:
    """What the command ``toks`` (whose program is named ``base``) runs; None if it runs nothing else."""
    try:
        if base in SHELLS:
            return shell_invocation(toks, base)
        handler = WRAPPERS.get(base)
        if handler is not None:
            return handler(toks)
    except OptionsUnknown as e:
        return Unwrapped(unknown=str(e))
    if base in SPECULATIVE_RUNNERS:
        spec: list[tuple[Tok, ...]] = []
        for i in range(1, min(len(toks), MAX_SPECULATIVE + 1)):
            v = toks[i].value
            if v and not v.startswith("-"):
                spec.append(tuple(toks[i:]))
        return Unwrapped(speculative=spec)
    return None
