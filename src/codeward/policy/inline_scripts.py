"""Perl, Ruby, JavaScript, PHP, Lua, R, AppleScript and awk given inline: the commands they run.

There is no parser for these here, so the reader is deliberately narrow and fails towards
"cannot be read": the code is split into string literals and other tokens, and every *mention* of
a process primitive (``system``, ``exec``, backticks, ``qx``, ``%x``, ``popen``, ``spawn``,
``execSync``, ``os.execute``, ``shell_exec``, awk's ``| getline`` and ``print | "cmd"``…) must be
a call whose arguments are plain literals (no interpolation). One literal is shell text; several
are an argv. A mention that is not such a call — including one inside a string or a comment —
and any dynamic evaluation (``eval``, ``send``, ``Function``, ``load``, ``&$f``…) makes the code
opaque. Recursive deletion helpers (``rmtree``, ``rm_rf``, ``rmSync``…) read as ``rm -rf``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from codeward.policy.inline_found import Found

# per language: process primitives (called with the command), and words that evaluate computed code
PRIMITIVES: dict[str, frozenset[str]] = {
    "perl": frozenset({"system", "exec", "readpipe", "open"}),
    "ruby": frozenset(
        {"system", "exec", "spawn", "popen", "popen2", "popen2e", "popen3", "capture2", "capture2e", "capture3"}
        | {"pipeline", "pipeline_r", "pipeline_w", "pipeline_rw", "pipeline_start", "open"}
    ),
    "node": frozenset({"exec", "execSync", "spawn", "spawnSync", "execFile", "execFileSync", "fork", "execa"}),
    "php": frozenset({"system", "exec", "shell_exec", "passthru", "popen", "proc_open", "pcntl_exec"}),
    "lua": frozenset({"execute", "popen"}),
    "r": frozenset({"system", "system2", "shell", "pipe"}),
    "applescript": frozenset({"do"}),
    "awk": frozenset({"system"}),
}
DYNAMIC: dict[str, frozenset[str]] = {
    "perl": frozenset({"eval", "do", "require", "syscall", "goto"}),
    "ruby": frozenset(
        {"eval", "instance_eval", "class_eval", "module_eval", "instance_exec", "send", "__send__", "public_send"}
        | {"method", "const_get", "binding", "define_method", "load", "require", "Fiddle", "syscall"}
    ),
    "node": frozenset(
        {"eval", "Function", "require", "import", "binding", "dlopen", "vm", "runInNewContext", "runInThisContext"}
        | {"constructor", "Reflect", "globalThis", "global", "process"}
    ),
    "php": frozenset({"eval", "assert", "create_function", "call_user_func", "call_user_func_array", "include"})
    | frozenset({"require", "include_once", "require_once", "preg_replace", "extract", "ffi", "FFI"}),
    "lua": frozenset({"load", "loadstring", "dofile", "loadfile", "require", "_G", "_ENV", "debug", "loadlib"}),
    "r": frozenset({"eval", "parse", "do.call", "get", "match.fun", "source", "getFromNamespace", "dyn.load"}),
    "applescript": frozenset({"run", "load"}),
    "awk": frozenset(),
}
# "process" in node is how every child_process escape starts; allowed only as `process.argv` etc.
_NODE_SAFE_PROCESS = re.compile(r"\bprocess\.(argv|env|exit|stdout|stdin|stderr|cwd|platform|version|versions)\b")
# node's require of a literal module is read, not dynamic
_RM_TREE = re.compile(r"\b(rmtree|remove_tree|rm_rf|rm_r|remove_dir|remove_entry|rmSync|rmdirSync|rimraf)\b")
INTERPOLATING = {"perl": "$@", "ruby": "#", "php": "$", "node": "$", "awk": "", "lua": "", "r": "", "applescript": ""}
BACKTICK_RUNS = frozenset({"perl", "ruby", "php"})
_SHELL_NAMES = frozenset({"sh", "bash", "dash", "zsh", "ksh", "ash"})


@dataclass(frozen=True)
class _Token:
    kind: str  # "str", "run" (backtick / qx / %x literal), "word", "punct"
    text: str
    literal: bool = True  # for str/run: no interpolation, no escape we could not decode


def read_script(language: str, code: str) -> Found:
    """The commands ``code`` (in ``language``) runs, and what in it cannot be read."""
    found = Found()
    try:
        tokens = _lex(code, language)
    except ValueError as e:
        found.cannot(f"the {language} code cannot be read ({e})")
        return found
    resolved = {name: 0 for name in PRIMITIVES[language]}
    _calls(language, tokens, found, resolved)
    mentions = _mentions(code, PRIMITIVES[language])
    for name, count in mentions.items():
        if count > resolved.get(name, 0):
            found.cannot(f"`{name}` appears in the {language} code other than as a call with a written-out command")
            break
    if language in BACKTICK_RUNS:
        quoted_runs = len(re.findall(r"(?<![\w$@%])(?:qx|%x)(?=[^\w\s])", code))
        if code.count("`") + 2 * quoted_runs > 2 * sum(1 for t in tokens if t.kind == "run"):
            found.cannot(f"the {language} code has backticks or qx that cannot be read")
    dynamic = DYNAMIC[language]
    text_for_dynamic = _NODE_SAFE_PROCESS.sub("", code) if language == "node" else code
    if language == "node":
        text_for_dynamic = re.sub(r"\brequire\(\s*(['\"])[\w:./@-]+\1\s*\)", "", text_for_dynamic)
    hit = next(iter(_mentions(text_for_dynamic, dynamic)), None)
    if hit is not None:
        found.cannot(f"the {language} code uses `{hit}`, which can run computed code")
    if language == "perl" and re.search(r"&\s*[\$\{]|->\s*\$|\*\{|->\s*can\b", code):
        found.cannot("the perl code calls a function through a computed name")
    if language == "php" and re.search(r"\$\w+\s*\(", code):
        found.cannot("the php code calls a function through a variable")
    if language == "awk" and re.search(r"\|\s*&|\|&", code):
        found.cannot("the awk program starts a coprocess")
    _chmods(language, code, found)
    m = _RM_TREE.search(code)
    if m is not None:
        found.equivalents.append((("rm", "-rf", "--", "<path>"), f"deletes a tree ({m.group(1)}), like `rm -rf`"))
    return found


_CHMOD = re.compile(r"(?<![\w$@%])(?:chmod|chmodSync|lchmod|lchmodSync|fchmod|fchmodSync)\b")
_MODE_NUMBER = re.compile(r"""(?<![\w.])(?:0o?([0-7]{3,4})|(\d{3,4})|["']([0-7]{3,4})["'])(?![\w.])""")


def _chmods(language: str, code: str, found: Found) -> None:
    """``chmod 0777, $f`` (perl), ``File.chmod(0777, f)``, ``fs.chmodSync(f, 0o777)``: like ``chmod MODE``."""
    for m in _CHMOD.finditer(code):
        window = code[m.end() : m.end() + 80].split(";", 1)[0].split("\n", 1)[0]
        number = _MODE_NUMBER.search(window)
        if number is None:
            found.cannot(f"the {language} code calls chmod with a mode that is not written out")
            continue
        octal, decimal, quoted = number.groups()
        mode = octal or quoted or (f"{int(decimal):o}" if decimal and int(decimal) <= 0o7777 else None)
        if mode is None:
            found.cannot(f"the {language} code calls chmod with a mode that cannot be read")
            continue
        found.equivalents.append((("chmod", mode, "<path>"), f"sets mode {mode}, like `chmod {mode}`"))


def _mentions(code: str, names: frozenset[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for name in names:
        n = len(re.findall(r"(?<![\w$@%])" + re.escape(name) + r"(?!\w)", code))
        if n:
            out[name] = n
    return out


# ------------------------------------------------------------------------------------------------
# calls


_STOP = frozenset({")", ";", "}", "\n", "or", "and", "||", "&&", "if", "unless", "then", "end", "|", ">", "<"})


def _calls(language: str, tokens: list[_Token], found: Found, resolved: dict[str, int]) -> None:
    prims = PRIMITIVES[language]
    for i, t in enumerate(tokens):
        if t.kind == "run":
            if t.literal:
                found.shell.append(t.text)
            else:
                found.cannot(f"a {language} backtick command is computed, not written out")
            continue
        if language == "awk" and t.kind == "punct" and t.text == "|":
            _awk_pipe(tokens, i, found)
            continue
        if t.kind != "word" or t.text not in prims:
            continue
        if i > 0 and tokens[i - 1].kind == "punct" and tokens[i - 1].text in ("$", "@", "%", "&"):
            continue  # a variable named like a primitive (not counted as a mention either)
        if language == "applescript":
            if i + 2 < len(tokens) and tokens[i + 1].text == "shell" and tokens[i + 2].text == "script":
                _use(language, t.text, _args(tokens, i + 3, language), found, resolved, shell_only=True)
            else:
                resolved[t.text] = resolved.get(t.text, 0) + 1  # `do` without `shell script` runs nothing
            continue
        if t.text == "open":
            if _open(tokens, i, found):
                resolved["open"] = resolved.get("open", 0) + 1
            continue
        _use(language, t.text, _args(tokens, i + 1, language), found, resolved)


def _args(tokens: list[_Token], i: int, language: str) -> list[_Token] | None:
    """The literal arguments after a primitive: ``("a", "b")``, ``"a", ["b"]``, ``'a'``; None if computed.

    After the literals, a JavaScript callback or an options object (``, {…}`` / ``, function``) ends
    the arguments; any other computed value makes the whole call computed.
    """
    out: list[_Token] = []
    brackets = 0
    while i < len(tokens) and tokens[i].kind == "punct" and tokens[i].text == "(":
        i += 1
    prev = ""
    while i < len(tokens):
        t = tokens[i]
        if t.kind == "str":
            if not t.literal:
                return None
            out.append(t)
        elif t.kind == "punct" and t.text in (",", "=>"):
            pass
        elif t.kind == "punct" and t.text == "[":
            brackets += 1
        elif t.kind == "punct" and t.text == "]":
            brackets -= 1
        elif (
            out
            and prev == ","
            and brackets == 0
            and (t.text in ("{", "(") or (language == "node" and t.kind == "word"))
        ) or (brackets == 0 and (t.text in _STOP or (t.kind == "punct" and t.text == ")"))):
            break
        else:
            return None
        prev = t.text
        i += 1
    return out


_FILE_MODE = re.compile(r"^\+?(<|>|>>)(:\S*)?$")


def _open(tokens: list[_Token], i: int, found: Found) -> bool:
    """perl / ruby ``open``: True when it is read (a file open, or a pipe open with a written-out command)."""
    if i > 0 and tokens[i - 1].kind == "word" and tokens[i - 1].text in ("File", "IO", "Dir", "URI"):
        return True  # File.open never starts a process
    strs: list[_Token] = []
    depth = 0
    j = i + 1
    while j < len(tokens):
        t = tokens[j]
        if t.kind == "punct" and t.text == "(":
            depth += 1
        elif t.kind == "punct" and t.text == ")":
            depth -= 1
            if depth <= 0:
                break
        elif depth == 0 and t.text in _STOP:
            break
        elif t.kind == "str":
            strs.append(t)
        j += 1
    for k, t in enumerate(strs):
        v = t.text.strip()
        if t.literal and (v in ("-|", "|-") or v.startswith("|") or v.endswith("|")):
            rest = strs[k + 1 :] if v in ("-|", "|-") else [t]
            if all(r.literal for r in rest) and rest:
                _pipe_open([r.text for r in rest] if v in ("-|", "|-") else [v], found)
                return True
            found.cannot("a pipe open runs a computed command")
            return False
    if any(t.literal and (_FILE_MODE.match(t.text.strip()) or t.text.strip()[:1] in "<>") for t in strs):
        return True
    found.cannot("`open` with a computed name can start a command (a name ending in `|`)")
    return False


def _use(
    language: str,
    name: str,
    args: list[_Token] | None,
    found: Found,
    resolved: dict[str, int],
    *,
    shell_only: bool = False,
) -> None:
    if not args:
        found.cannot(f"the command given to {name} in the {language} code is computed, not written out")
        return
    resolved[name] = resolved.get(name, 0) + 1
    values = [a.text for a in args]
    if shell_only or (len(values) == 1 and name not in ("execFile", "execFileSync", "spawn", "spawnSync", "fork")):
        found.shell.append(values[0])
    else:
        found.argvs.append(tuple(values))


def _pipe_open(values: list[str], found: Found) -> None:
    """perl ``open(F, "|cmd")`` / ``open(F, "-|", "cmd", args)``; ruby ``open("|cmd")``."""
    if len(values) == 1:
        found.shell.append(values[0].strip().strip("|"))
    else:
        found.argvs.append(tuple(values))


def _awk_pipe(tokens: list[_Token], i: int, found: Found) -> None:
    """``"cmd" | getline`` and ``print … | "cmd"``: the literal on the command side is shell text."""
    after = tokens[i + 1] if i + 1 < len(tokens) else None
    before = tokens[i - 1] if i > 0 else None
    if after is not None and after.kind == "word" and after.text == "getline":
        if before is not None and before.kind == "str" and before.literal:
            found.shell.append(before.text)
        else:
            found.cannot("an awk `| getline` runs a computed command")
        return
    if after is not None and after.kind == "str" and after.literal:
        found.shell.append(after.text)
        if after.text.strip().split(" ")[0].rsplit("/", 1)[-1] in _SHELL_NAMES:
            # print "cmd" | "sh": what is printed is the shell's script
            k = i - 1
            printed: list[_Token] = []
            while k >= 0 and not (tokens[k].kind == "word" and tokens[k].text in ("print", "printf")):
                printed.insert(0, tokens[k])
                k -= 1
            if k >= 0 and printed and all(t.kind == "str" and t.literal for t in printed):
                found.shell.append("\n".join(t.text for t in printed))
            else:
                found.cannot("an awk program prints a computed script into a shell")
    elif after is not None and after.kind == "punct" and after.text == "&":
        found.cannot("the awk program starts a coprocess")
    else:
        found.cannot("an awk output pipe runs a computed command")


# ------------------------------------------------------------------------------------------------
# tokens

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'", "`": "`", "/": "/"}
_ESCAPES |= {"a": "\a", "e": "\x1b", "f": "\f", "v": "\v", "$": "$", "@": "@", "#": "#", " ": " ", "\n": ""}
_QUOTE_CLOSE = {"(": ")", "[": "]", "{": "}", "<": ">"}
_WORD = re.compile(r"[A-Za-z_][\w]*(?:(?:::|\.)[A-Za-z_]\w*)*")


def _lex(code: str, language: str) -> list[_Token]:
    out: list[_Token] = []
    i = 0
    n = len(code)
    interp = INTERPOLATING.get(language, "")
    while i < n:
        c = code[i]
        if c in " \t\r":
            i += 1
        elif c == "\n":
            out.append(_Token("punct", "\n"))
            i += 1
        elif c in "'\"`" and not (c == "'" and language == "awk"):
            text, literal, i = _quoted(code, i, c, c, language, interp)
            runs = c == "`" and language in BACKTICK_RUNS
            if c == "`" and language == "node":
                literal = literal and "${" not in text
            out.append(_Token("run" if runs else "str", text, literal))
        elif language in ("perl", "ruby") and (m := re.match(r"(qx|qq|q|%x|%q|%Q|%)(?=[^\w\s])", code[i:])):
            op = m.group(1)
            start = i + len(op)
            if start >= n:
                raise ValueError("a quote operator is not closed")
            opener = code[start]
            closer = _QUOTE_CLOSE.get(opener, opener)
            single = op in ("q", "%q") or (op == "qx" and opener == "'")
            text, literal, i = _quoted(code, start, opener, closer, language, "" if single else interp)
            out.append(_Token("run" if op in ("qx", "%x") else "str", text, literal))
        elif m := _WORD.match(code, i):
            for part in re.split(r"::|\.", m.group(0)):
                out.append(_Token("word", part))
            i = m.end()
        elif code.startswith(("=>", "||", "&&"), i):
            out.append(_Token("punct", code[i : i + 2]))
            i += 2
        else:
            out.append(_Token("punct", c))
            i += 1
    return out


def _quoted(code: str, i: int, opener: str, closer: str, language: str, interp: str) -> tuple[str, bool, int]:
    """The literal from ``code[i]`` (the opening quote): text, whether it is plain, and where it ends."""
    single = opener == "'" and language != "awk"
    j = i + 1
    depth = 1
    out: list[str] = []
    literal = True
    while j < len(code):
        ch = code[j]
        if ch == "\\" and j + 1 < len(code):
            nxt = code[j + 1]
            if single:
                out.append(nxt if nxt in ("\\", opener, closer) else "\\" + nxt)
            elif nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
            else:
                out.append("\\" + nxt)
                literal = False  # \x41, \u0041, \101…: could spell anything
            j += 2
            continue
        if opener != closer and ch == opener:
            depth += 1
        elif ch == closer:
            depth -= 1
            if depth == 0:
                return "".join(out), literal, j + 1
        if (
            interp
            and not single
            and ch in interp
            and j + 1 < len(code)
            and (code[j + 1].isalnum() or code[j + 1] in "{_:")
        ):
            literal = False
        out.append(ch)
        j += 1
    raise ValueError("a string is not closed")
