"""Deny rules read by what a command does, not only by how it is spelled (issue 12).

Two rule families get a canonical reading before the token-by-token comparison of
:func:`codeward.policy.patterns.match_deny`:

* ``chmod MODE …``: the rule's mode and the command's mode are compared by the permission bits they
  set (:mod:`codeward.policy.chmod_modes`): ``chmod 777`` also stops ``chmod 0777``, ``00777``,
  ``a+rwx``, ``ugo=rwx``, ``u=rwx,g=rwx,o=rwx`` and ``1777``, and never ``chmod 644``; a
  ``setfacl`` granting others the rule's "other" bits (``-m o::rwx``) is read as that chmod.
* ``git … push …``: a push that can overwrite the remote's history gets a ``--force``: a ``+ref``
  refspec, ``--mirror``, ``--force-with-lease``, ``--force-if-includes``, ``-c remote.X.push=+…``,
  ``-c remote.X.mirror=true``, or a ``-c alias.X='push …'`` that says so. So ``git push --force``
  (or ``git push -f``) stops them all, and ``git push origin main`` stays allowed. A glob refspec
  (``+refs/heads/*:…``) forces whatever it expands to; ``git send-pack`` is read as ``git push``;
  a ``:dst`` refspec gets a ``--delete`` (for a rule about deleting remote branches).
* ``rm``: GNU rm's ``--interactive=never`` (``no``, ``none``, abbreviated) is ``-f``.

Deletion through ``find`` (``-delete``, ``-exec rm``) is read by :mod:`codeward.policy.find_exec`
as ``rm -rf DIR``. Only deny matching uses these readings; allow lists stay literal prefixes.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from codeward.policy.acl_modes import chacl_other, setfacl_other
from codeward.policy.chmod_modes import CHMOD_FLAGS, covers, is_dash_mode, mode_effect
from codeward.policy.patterns import Match, StagePattern, match_deny
from codeward.policy.words import Tok

_GIT_GLOBAL_WITH_VALUE = frozenset({"-C", "-c", "--git-dir", "--work-tree", "--namespace", "--config-env"})
# git accepts any unambiguous prefix of a long option (--force-w is --force-with-lease)
_FORCING_LONG = ("force", "force-with-lease", "force-if-includes", "mirror")
_YES = {"yes": Match.YES, "maybe": Match.MAYBE, "no": Match.NO}


def deny_match(sp: StagePattern, argv: Sequence[Tok], *, receiver: bool = False) -> Match:
    """:func:`~codeward.policy.patterns.match_deny` (name already checked), on the canonical form."""
    program = sp.base.casefold()
    if program == "chmod" and argv and _folded_base(argv[0]) in ("setfacl", "chacl"):
        return _setfacl(sp, argv)
    if program == "chmod":
        found = _chmod(sp, argv, receiver)
        if found is not None:
            return found
    elif program == "git" and "push" in sp.tokens:
        argv = git_push_canonical(argv)
    elif program == "rm":
        argv = rm_canonical(argv)
    return match_deny(sp, argv, receiver=receiver, name_checked=True)


# ------------------------------------------------------------------------------------------------
# rm

_NEVER = ("never", "no", "none")


def rm_canonical(argv: Sequence[Tok]) -> tuple[Tok, ...]:
    """GNU rm's ``--interactive=never`` (also ``no`` / ``none``, and any abbreviation of option or
    value) is ``-f``: read it so, so that ``rm -r --interactive=never d`` matches ``rm -rf``."""
    out: list[Tok] = []
    for t in argv:
        v = t.value
        if v is not None and v.startswith("--i") and "=" in v:
            name, _, when = v[2:].partition("=")
            if "interactive".startswith(name) and when and any(w.startswith(when) for w in _NEVER):
                t = Tok.lit("-f")
        elif v == "--":
            out.extend(argv[len(out) :])
            break
        out.append(t)
    return tuple(out)


# ------------------------------------------------------------------------------------------------
# chmod


def _rule_mode(tokens: Sequence[str]) -> int | None:
    """The index of the rule's mode word, when it sets some permission bits."""
    for i, t in enumerate(tokens):
        if t in CHMOD_FLAGS or (t.startswith("-") and not is_dash_mode(t)):
            continue
        effect = mode_effect(t)
        return i if effect is not None and effect.sure else None
    return None


def _chmod(sp: StagePattern, argv: Sequence[Tok], receiver: bool) -> Match | None:
    at = _rule_mode(sp.tokens)
    if at is None:
        return None  # no mode in the rule (``chmod -R``): compared as written
    wanted = mode_effect(sp.tokens[at])
    assert wanted is not None
    rest_rule = StagePattern(sp.name, sp.tokens[:at] + sp.tokens[at + 1 :])
    rest: list[Tok] = [argv[0]]
    mode: Match | None = None
    ended = False
    args = list(argv[1:])
    k = 0
    while k < len(args):
        t = args[k]
        k += 1
        v = t.value
        if mode is not None:
            rest.append(t)
            continue
        if v is None:
            mode = Match.MAYBE  # the mode (or an option giving it) is only known at run time
            continue
        if not ended and v == "--":
            ended = True
            rest.append(t)
            continue
        if not ended and v.startswith("--reference"):
            mode = Match.MAYBE  # the mode of another file: could be anything
            rest.append(t)
            if "=" not in v and k < len(args):
                k += 1
            continue
        if not ended and v.startswith("-") and not is_dash_mode(v):
            rest.append(t)
            continue
        mode = _YES[covers(mode_effect(v), wanted.sure)] if mode_effect(v) is not None else Match.NO
    if mode is None or mode is Match.NO:
        return Match.NO
    return Match(min(mode, match_deny(rest_rule, rest, receiver=receiver, name_checked=True)))


def _setfacl(sp: StagePattern, argv: Sequence[Tok]) -> Match:
    """A ``chmod MODE`` rule whose mode gives others some bits stops a ``setfacl`` that grants others
    those bits (``setfacl -m o::rwx f`` for ``chmod 777``): the same files become open to everyone."""
    at = _rule_mode(sp.tokens)
    effect = mode_effect(sp.tokens[at]) if at is not None else None
    wanted = effect.sure & 0o007 if effect is not None else 0
    if not wanted:
        return Match.NO
    granted = chacl_other(argv) if _folded_base(argv[0]) == "chacl" else setfacl_other(argv)
    return _YES[covers(granted, wanted)]


def _folded_base(t: Tok) -> str:
    return (t.value or "").rstrip("/").rsplit("/", 1)[-1].casefold()


# ------------------------------------------------------------------------------------------------
# git push


def _git_config_forces(kv: str) -> bool:
    key, _, value = kv.partition("=")
    parts = key.casefold().split(".")
    if len(parts) >= 3 and parts[0] == "remote":
        if parts[-1] == "push":
            return any(spec.startswith("+") for spec in value.split())
        if parts[-1] == "mirror":
            return value.strip().casefold() in ("true", "yes", "on", "1", "")
    return False


def git_push_canonical(argv: Sequence[Tok]) -> tuple[Tok, ...]:
    """``argv`` with a ``--force`` after ``push`` when the push can overwrite remote history."""
    toks = list(argv)
    aliases: dict[str, str] = {}
    forced_by_config = False
    i = 1
    while i < len(toks):
        v = toks[i].value
        if v is None:
            return tuple(argv)  # which subcommand runs is only known at run time
        if v in _GIT_GLOBAL_WITH_VALUE:
            if v == "-c" and i + 1 < len(toks) and toks[i + 1].value is not None:
                kv = toks[i + 1].value or ""
                forced_by_config = forced_by_config or _git_config_forces(kv)
                key, eq, value = kv.partition("=")
                if eq and key.casefold().startswith("alias.") and not value.startswith("!"):
                    aliases[key[len("alias.") :]] = value
            i += 2
            continue
        if v.startswith("-"):
            i += 1
            continue
        break
    if i >= len(toks):
        return tuple(argv)
    sub = toks[i].value or ""
    if sub in aliases:
        try:
            words = shlex.split(aliases[sub])
        except ValueError:
            words = []
        if words:
            toks = toks[:i] + [Tok.lit(w) for w in words] + toks[i + 1 :]
            sub = words[0]
    if sub == "config":
        return _git_config_canonical(toks, i, argv)
    if sub == "send-pack":
        # the plumbing under push, with the same --force, --mirror and +refspecs
        toks[i] = Tok.lit("push")
        sub = "push"
    if sub != "push":
        return tuple(argv)
    forced = forced_by_config
    deletes = False
    out = toks[: i + 1]
    ended = False
    for t in toks[i + 1 :]:
        v = t.value
        if v is not None and not ended:
            if v == "--":
                ended = True
            elif v.startswith("--") and _forcing_long(v[2:].split("=", 1)[0]):
                forced = True
        if v is not None and len(v) > 1 and v.startswith("+") and (ended or not v.startswith("-")):
            forced = True
            t = Tok.lit(v[1:])
        elif v is None and t.prefix.startswith("+"):
            forced = True  # a glob refspec (+refs/heads/*:…): whatever it expands to starts with +
        if v is not None and len(v.lstrip("+")) > 1 and v.lstrip("+").startswith(":") and (ended or len(out) > i + 1):
            deletes = True  # `git push origin :main` deletes main, as `--delete` does
        out.append(t)
    if deletes:
        out.insert(i + 1, Tok.lit("--delete"))
    if forced:
        out.insert(i + 1, Tok.lit("--force"))
    return tuple(out)


def _forces(word: str) -> bool:
    """One word of a push that makes it a forced push (``-f``, ``-uf``, ``--force-w``, ``+main``)."""
    if word.startswith("--"):
        return _forcing_long(word[2:].split("=", 1)[0])
    if word.startswith("-"):
        return "f" in word[1:]
    return len(word) > 1 and word.startswith("+")


def _forcing_long(name: str) -> bool:
    return len(name) >= 2 and any(full.startswith(name) for full in _FORCING_LONG)


def _git_config_canonical(toks: list[Tok], i: int, argv: Sequence[Tok]) -> tuple[Tok, ...]:
    """``git config alias.p 'push -f'`` / ``git config remote.origin.mirror true`` set up a force push
    that a later ``git p`` / ``git push`` makes without saying so: read them as ``git push --force``."""
    words = [t.value for t in toks[i + 1 :] if t.value is not None and not t.value.startswith("-")]
    if len(words) < 2:
        return tuple(argv)
    key, value = words[0], " ".join(words[1:])
    forcing = _git_config_forces(f"{key}={value}")
    if key.casefold().startswith("alias.") and not value.startswith("!"):
        alias_words = value.split()
        forcing = forcing or (alias_words[:1] == ["push"] and any(_forces(w) for w in alias_words[1:]))
    if not forcing:
        return tuple(argv)
    return (*toks[:i], Tok.lit("push"), Tok.lit("--force"))
