"""The options of each wrapper, getopt style, so an option's value is never taken for the command.

``sudo -u root rm`` runs ``rm``, not ``root``: every option that takes a value is listed here
(:class:`~codeward.policy.options.OptSpec`); an option not listed makes the reading unknown.
"""

from __future__ import annotations

from codeward.policy.options import OptSpec, names

NOHUP = OptSpec(long_flags=names("help", "version"))
TIMEOUT = OptSpec(
    short_flags="vfp",
    short_val="sk",
    long_flags=names("foreground", "preserve-status", "verbose", "help", "version"),
    long_val=names("signal", "kill-after"),
)
NICE = OptSpec(short_val="n", long_val=names("adjustment"), long_flags=names("help", "version"), numeric=True)
TIME = OptSpec(
    short_flags="apqv",
    short_val="fo",
    long_flags=names("append", "portability", "quiet", "verbose", "help", "version"),
    long_val=names("format", "output"),
)
STDBUF = OptSpec(short_val="ioe", long_val=names("input", "output", "error"), long_flags=names("help", "version"))
EXEC = OptSpec(short_flags="cl", short_val="a")
SETSID = OptSpec(short_flags="cfw", long_flags=names("ctty", "fork", "wait", "help", "version"))
CHROOT = OptSpec(long_val=names("userspec", "groups"), long_flags=names("skip-chdir", "help", "version"))
DOAS = OptSpec(short_flags="nsL", short_val="uC")
ENV = OptSpec(
    short_flags="i0v",
    short_val="uCSa",
    long_flags=names("ignore-environment", "null", "debug", "list-signal-handling", "help", "version"),
    long_val=names("unset", "chdir", "split-string", "argv0"),
    long_opt=names("block-signal", "default-signal", "ignore-signal"),
)
SUDO = OptSpec(
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
XARGS = OptSpec(
    short_flags="0oprtx",
    short_val="adEILnPs",
    short_opt="eil",
    long_flags=names(
        "null", "open-tty", "interactive", "no-run-if-empty", "verbose", "exit", "show-limits", "help", "version"
    ),
    long_val=names("arg-file", "delimiter", "max-args", "max-procs", "max-chars", "process-slot-var"),
    long_opt=names("eof", "replace", "max-lines"),
)
IONICE = OptSpec(
    short_flags="pPut",
    short_val="cn",
    long_flags=names("pid", "pgid", "uid", "ignore", "help", "version"),
    long_val=names("class", "classdata"),
)
TASKSET = OptSpec(short_flags="acp", long_flags=names("all-tasks", "cpu-list", "pid", "help", "version"))
FLOCK = OptSpec(
    short_flags="sxeunoF",
    short_val="wEc",
    long_flags=names(
        "shared", "exclusive", "unlock", "nonblock", "nb", "close", "no-fork", "verbose", "help", "version"
    ),
    long_val=names("wait", "timeout", "conflict-exit-code", "command"),
)
WATCH = OptSpec(
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
SU = OptSpec(
    short_flags="lmpPfT",
    short_val="cgGswu",
    long_flags=names("login", "preserve-environment", "pty", "fast", "help", "version"),
    long_val=names("command", "session-command", "group", "supp-group", "shell", "whitelist-environment", "user"),
)
SSH = OptSpec(short_flags="46AaCfGgKkMNnqsTtVvXxYy", short_val="BbcDEeFIiJLlmOopQRSWw")
SCRIPT = OptSpec(
    short_flags="aefqhV",
    short_val="cEIOTBm",
    long_flags=names("append", "return", "flush", "force", "quiet", "help", "version"),
    long_val=names("command", "echo", "log-in", "log-out", "log-io", "log-timing", "logging-format", "output-limit"),
)
