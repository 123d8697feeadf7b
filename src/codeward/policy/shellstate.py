"""What a script can change about the shell itself, and the words the shell treats specially.

* :data:`EXEMPT_BUILTINS`: builtins that only change the shell's own state (``cd``, ``export``…);
  an allow list does not need to name them.
* :data:`DANGEROUS_VARS`: variables that change which program a name runs or inject code
  (``PATH``, ``LD_PRELOAD``, ``BASH_ENV``…); a script that sets one is never allowed unasked,
  because what a later command name means is no longer what the policy sees.
* :data:`SHELL_KEYWORDS`: words bash reads specially at the start of a command.
"""

from __future__ import annotations

# builtins that only change the shell's own state: an allow list does not need to name them
EXEMPT_BUILTINS = frozenset(
    {
        "cd",
        "pushd",
        "popd",
        "dirs",
        "true",
        "false",
        ":",
        "test",
        "[",
        "set",
        "shift",
        "wait",
        "export",
        "local",
        "declare",
        "typeset",
        "readonly",
        "unset",
        "alias",
        "unalias",
        "trap",
    }
)
DECLARATION_BUILTINS = frozenset({"export", "local", "declare", "typeset", "readonly"})

# variables that change which program a name runs, or inject code into the shell or a runtime
DANGEROUS_VARS = frozenset(
    {
        "PATH",
        "BASH_ENV",
        "ENV",
        "PROMPT_COMMAND",
        "PS0",
        "PS4",
        "SHELLOPTS",
        "BASHOPTS",
        "BASH_LOADABLES_PATH",
        "EXECIGNORE",
        "NODE_OPTIONS",
        "NODE_PATH",
        "PYTHONPATH",
        "PYTHONSTARTUP",
        "PYTHONHOME",
        "PERL5OPT",
        "PERL5LIB",
        "PERLLIB",
        "RUBYOPT",
        "RUBYLIB",
        "GIT_EXEC_PATH",
        "GIT_SSH",
        "GIT_SSH_COMMAND",
        "GIT_EXTERNAL_DIFF",
        "MAKEFLAGS",  # --eval=TEXT in it is makefile text make runs
        "GNUMAKEFLAGS",
        "MAKEFILES",  # makefiles read before the named ones (MAKEFILES=/dev/stdin)
        "GIT_PAGER",
        "GIT_EDITOR",
        "GIT_ASKPASS",
        "GIT_CONFIG_COUNT",
        "GIT_CONFIG_PARAMETERS",
        "PAGER",
        "EDITOR",
        "VISUAL",
    }
)
DANGEROUS_PREFIXES = ("LD_", "DYLD_", "BASH_FUNC_", "GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_")

SHELL_KEYWORDS = frozenset(
    {
        "if",
        "then",
        "else",
        "elif",
        "fi",
        "do",
        "done",
        "case",
        "esac",
        "while",
        "until",
        "for",
        "in",
        "function",
        "select",
        "coproc",
        "time",
    }
)


def is_dangerous_var(name: str) -> bool:
    name = name.split("[", 1)[0]
    return name in DANGEROUS_VARS or name.startswith(DANGEROUS_PREFIXES)


def var_reason(var: str) -> str:
    if var.split("[", 1)[0] == "PATH":
        return "it sets PATH, which changes which program a command name runs"
    return f"it sets {var}, which can make a program run other code"


# reserved words that open or close shell structure: as an unquoted program name they mean
# tree-sitter misread the structure (`! { rm -rf /; }` comes out as a command named "{")
STRUCTURE_WORDS = frozenset(
    {"{", "}", "!", "[[", "]]", "then", "else", "elif", "fi", "do", "done", "esac", "in", "if", "while", "until"}
    | {"for", "case", "select", "function"}
)
