"""Reading a program's options the way getopt does, to find where its operands start.

A wrapper's option that takes a value must never be mistaken for the command it runs
(``sudo -u root rm`` runs ``rm``, not ``root``), so every wrapper lists its options in an
:class:`OptSpec`; :func:`parse_options` raises :class:`OptionsUnknown` for an option the spec does not
know or a token only known at run time, instead of guessing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from codeward.policy.words import Tok


class OptionsUnknown(Exception):
    """The options cannot be read with certainty; the message says why."""


@dataclass(frozen=True)
class OptSpec:
    """The options of a program, getopt style."""

    short_flags: str = ""
    short_val: str = ""  # the value is the rest of the cluster or the next word
    short_opt: str = ""  # optional value, only when attached (-iR)
    long_flags: frozenset[str] = frozenset()
    long_val: frozenset[str] = frozenset()
    long_opt: frozenset[str] = frozenset()  # --name[=value]
    numeric: bool = False  # -10 style options (nice)
    lenient: bool = False  # unknown options are accepted as flags (zsh, ksh)


def names(*items: str) -> frozenset[str]:
    return frozenset(items)


def parse_options(toks: Sequence[Tok], start: int, spec: OptSpec) -> tuple[list[tuple[str, Tok | None]], int]:
    """Read options from ``toks[start:]`` up to the first operand (or ``--``).

    Returns the options as ``(name, value)`` pairs (``-x`` / ``--name``) and the index of the first
    operand. Raises OptionsUnknown for an option we do not know or a token only known at run time.
    """
    opts: list[tuple[str, Tok | None]] = []
    i = start
    n = len(toks)
    while i < n:
        t = toks[i]
        if t.value is None:
            if t.maybe_flag:
                raise OptionsUnknown(f"the option {t.text} is only known at run time")
            return opts, i
        v = t.value
        if v == "--":
            return opts, i + 1
        if not v.startswith("-") or v == "-":
            return opts, i
        if v.startswith("--"):
            name, eq, val = v[2:].partition("=")
            full = _long_name(name, spec)
            if full is None:
                if spec.numeric and name.isdigit():
                    opts.append(("-" + name, None))
                    i += 1
                    continue
                if spec.lenient:
                    opts.append(("--" + name, Tok.lit(val) if eq else None))
                    i += 1
                    continue
                raise OptionsUnknown(f"unknown option --{name}")
            if full in spec.long_val and not eq:
                if i + 1 >= n:
                    opts.append(("--" + full, None))
                    return opts, n
                opts.append(("--" + full, toks[i + 1]))
                i += 2
                continue
            opts.append(("--" + full, Tok.lit(val) if eq else None))
            i += 1
            continue
        if spec.numeric and v[1:].isdigit():
            opts.append((v, None))
            i += 1
            continue
        j = 1
        consumed_next = False
        while j < len(v):
            c = v[j]
            if c in spec.short_val:
                rest = v[j + 1 :]
                if rest:
                    opts.append(("-" + c, Tok.lit(rest)))
                elif i + 1 < n:
                    opts.append(("-" + c, toks[i + 1]))
                    consumed_next = True
                else:
                    opts.append(("-" + c, None))
                break
            if c in spec.short_opt:
                rest = v[j + 1 :]
                opts.append(("-" + c, Tok.lit(rest) if rest else None))
                break
            if c in spec.short_flags or spec.lenient:
                opts.append(("-" + c, None))
                j += 1
                continue
            raise OptionsUnknown(f"unknown option -{c}")
        i += 2 if consumed_next else 1
    return opts, i


def _long_name(name: str, spec: OptSpec) -> str | None:
    every = spec.long_flags | spec.long_val | spec.long_opt
    if name in every:
        return name
    matches = [x for x in every if x.startswith(name)] if name else []
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise OptionsUnknown(f"--{name} is ambiguous")
    return None


def has(opts: list[tuple[str, Tok | None]], *names: str) -> bool:
    return any(o in names for o, _ in opts)


def value_of(opts: list[tuple[str, Tok | None]], *names: str) -> Tok | None:
    found = None
    for o, v in opts:
        if o in names:
            found = v
    return found
