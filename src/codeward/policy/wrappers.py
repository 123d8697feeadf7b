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

import shlex
from collections.abc import Callable, Sequence

from codeward.policy import wrapper_options as opt
from codeward.policy.find_exec import find_actions
from codeward.policy.git_snippets import git_snippets
from codeward.policy.options import OptionsUnknown, OptSpec, has, parse_options, value_of
from codeward.policy.shells import SHELLS, eval_builtin, shell_invocation
from codeward.policy.unwrapped import Argv, Inner, Script, Unwrapped, rest, take_assignments
from codeward.policy.words import Tok

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
            assigns, i = take_assignments(toks, i)
        if i >= len(toks):
            return Unwrapped(assignments=assigns)
        return Unwrapped(inners=[Argv(rest(toks, i))], transparent=transparent, assignments=assigns)

    return handler


def _env(toks: Sequence[Tok]) -> Unwrapped:
    work = list(toks)
    i = 1
    assigns: list[Tok] = []
    while True:
        # env's "-" alone means -i
        while i < len(work) and work[i].value == "-":
            i += 1
        opts, i = parse_options(work, i, opt.ENV)
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
        more, i = take_assignments(work, i)
        assigns.extend(more)
        break
    if i >= len(work):
        return Unwrapped(assignments=assigns)
    return Unwrapped(inners=[Argv(tuple(work[i:]))], transparent=True, assignments=assigns)


def _sudo(toks: Sequence[Tok]) -> Unwrapped:
    _opts, i = parse_options(toks, 1, opt.SUDO)
    assigns, i = take_assignments(toks, i)
    if i >= len(toks):
        return Unwrapped(assignments=assigns)
    # -e/--edit names files, not a command; read them as one anyway (it can only add denials)
    return Unwrapped(inners=[Argv(rest(toks, i))], transparent=False, assignments=assigns)


def _command_builtin(toks: Sequence[Tok]) -> Unwrapped:
    opts, i = parse_options(toks, 1, OptSpec(short_flags="pvV"))
    if has(opts, "-v", "-V"):
        return Unwrapped(lookup_only=True)
    if i >= len(toks):
        return Unwrapped()
    return Unwrapped(inners=[Argv(rest(toks, i))], transparent=True)


def _xargs(toks: Sequence[Tok]) -> Unwrapped:
    opts, i = parse_options(toks, 1, opt.XARGS)
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
        opts, j = parse_options(toks, i, opt.SU)
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
    _opts, i = parse_options(toks, 1, opt.SSH)
    if i >= len(toks):
        return Unwrapped()
    rest = toks[i + 1 :]
    if not rest:
        return Unwrapped()
    return Unwrapped(inners=[Script(tuple(rest), None)], transparent=False)


def _watch(toks: Sequence[Tok]) -> Unwrapped:
    opts, i = parse_options(toks, 1, opt.WATCH)
    if i >= len(toks):
        return Unwrapped()
    if has(opts, "-x", "--exec"):
        return Unwrapped(inners=[Argv(rest(toks, i))], transparent=True)
    return Unwrapped(inners=[Script(rest(toks, i), None)], transparent=True)


def _flock(toks: Sequence[Tok]) -> Unwrapped:
    opts, i = parse_options(toks, 1, opt.FLOCK)
    cmd = value_of(opts, "-c", "--command")
    if i >= len(toks):
        return Unwrapped(inners=[Script((cmd,), None)] if cmd is not None else [], transparent=cmd is not None)
    i += 1  # the lock file or directory
    # options may also follow the lock file
    more, i = parse_options(toks, i, opt.FLOCK)
    cmd = value_of(more, "-c", "--command") or cmd
    if cmd is not None:
        return Unwrapped(inners=[Script((cmd,), None)], transparent=True)
    if i >= len(toks):
        return Unwrapped()
    return Unwrapped(inners=[Argv(rest(toks, i))], transparent=True)


def _script_cmd(toks: Sequence[Tok]) -> Unwrapped:
    opts, _i = parse_options(toks, 1, opt.SCRIPT)
    cmd = value_of(opts, "-c", "--command")
    if cmd is None:
        return Unwrapped()
    return Unwrapped(inners=[Script((cmd,), None)], transparent=True)


def _ionice(toks: Sequence[Tok]) -> Unwrapped:
    opts, i = parse_options(toks, 1, opt.IONICE)
    if has(opts, "-p", "-P", "-u", "--pid", "--pgid", "--uid") or i >= len(toks):
        return Unwrapped()
    return Unwrapped(inners=[Argv(rest(toks, i))], transparent=True)


def _taskset(toks: Sequence[Tok]) -> Unwrapped:
    opts, i = parse_options(toks, 1, opt.TASKSET)
    if has(opts, "-p", "--pid") or i + 1 >= len(toks):
        return Unwrapped()
    return Unwrapped(inners=[Argv(rest(toks, i + 1))], transparent=True)


def _busybox(toks: Sequence[Tok]) -> Unwrapped:
    if len(toks) < 2 or (toks[1].value is not None and toks[1].value.startswith("-")):
        return Unwrapped()
    return Unwrapped(inners=[Argv(rest(toks, 1))], transparent=True)


def _plain(toks: Sequence[Tok]) -> Unwrapped:
    """``builtin``: the rest is the command."""
    if len(toks) < 2:
        return Unwrapped()
    return Unwrapped(inners=[Argv(rest(toks, 1))], transparent=True)


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


def _mode_setter(toks: Sequence[Tok]) -> Unwrapped:
    """``mkdir -m 777 d``, ``install -Dm0777 a b``: they set a mode like ``chmod MODE`` does."""
    mode: Tok | None = None
    for k, t in enumerate(toks[1:], 1):
        v = t.value
        if v is None or v == "--":
            if v == "--":
                break
            continue
        if v in ("-m", "--mode") and k + 1 < len(toks):
            mode = toks[k + 1]
        elif v.startswith("--mode="):
            mode = Tok.lit(v.split("=", 1)[1])
        elif v.startswith("-") and not v.startswith("--") and "m" in v[1:]:
            rest = v[v.index("m", 1) + 1 :]
            mode = Tok.lit(rest) if rest else (toks[k + 1] if k + 1 < len(toks) else None)
    if mode is None:
        return Unwrapped()
    same = (Tok.lit("chmod"), mode)
    return Unwrapped(equivalents=[(same, f"sets mode {mode.shown()} on what it creates, like `chmod {mode.shown()}`")])


WRAPPERS: dict[str, Handler] = {
    "mkdir": _mode_setter,
    "install": _mode_setter,
    "mkfifo": _mode_setter,
    "mknod": _mode_setter,
    "git": git_snippets,
    "env": _env,
    "nohup": _simple(opt.NOHUP),
    "timeout": _simple(opt.TIMEOUT, skip=1),
    "nice": _simple(opt.NICE),
    "time": _simple(opt.TIME),
    "stdbuf": _simple(opt.STDBUF),
    "ionice": _ionice,
    "chroot": _simple(opt.CHROOT, skip=1, transparent=False),
    "exec": _simple(opt.EXEC),
    "command": _command_builtin,
    "builtin": _plain,
    "coproc": _coproc,
    "xargs": _xargs,
    "find": find_actions,
    "sudo": _sudo,
    "doas": _simple(opt.DOAS, transparent=False),
    "su": _su,
    "runuser": _su,
    "ssh": _ssh,
    "watch": _watch,
    "setsid": _simple(opt.SETSID),
    "flock": _flock,
    "taskset": _taskset,
    "script": _script_cmd,
    "busybox": _busybox,
    "toybox": _busybox,
    "eval": eval_builtin,
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
