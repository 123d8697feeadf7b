"""What reading a piece of inline code found: commands it runs, and what could not be read.

The readers (:mod:`codeward.policy.inline_python`, :mod:`codeward.policy.inline_scripts`,
:mod:`codeward.policy.inline_tools`) each return a :class:`Found`; the analysis then treats the
shell text as a nested script, the argvs as commands, the equivalents as readings that only add
denials, and the opaque reasons as "cannot be read" (which asks when a disallow list is in force).
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_INLINE_DEPTH = 4  # exec("exec('…')") and the like, read this many levels deep


@dataclass
class Found:
    shell: list[str] = field(default_factory=list)  # shell text the code hands to /bin/sh
    argvs: list[tuple[str, ...]] = field(default_factory=list)  # programs it starts directly
    # argvs that do what part of the code does (shutil.rmtree(x) is rm -rf x), with how to say so
    equivalents: list[tuple[tuple[str, ...], str]] = field(default_factory=list)
    opaque: list[str] = field(default_factory=list)  # why some of it cannot be read

    def extend(self, other: Found) -> Found:
        self.shell += other.shell
        self.argvs += other.argvs
        self.equivalents += other.equivalents
        for reason in other.opaque:
            self.cannot(reason)
        return self

    def cannot(self, reason: str) -> None:
        if reason not in self.opaque:
            self.opaque.append(reason)
