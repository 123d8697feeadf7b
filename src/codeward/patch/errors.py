"""The one error type of the patch package.

A patch comes from a model, so every failure is reported back to it: the message names the file, the
hunk or the patch line, and says what was expected, so the model can correct itself in one turn.
"""

from __future__ import annotations

from codeward.errors import CodewardError


class PatchError(CodewardError):
    """A patch that cannot be parsed, planned or applied; nothing was changed on disk."""
