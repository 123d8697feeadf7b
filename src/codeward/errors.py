"""Errors that end a command with a one-line message and a defined exit code.

Every refusal a user can meet is one of these: the CLI prints ``codeward: <message>`` and exits with
``exit_code`` (2 for usage/config problems, 1 when the work itself failed), never a traceback.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NO_SANDBOX = 125


class CodewardError(Exception):
    """A failure with a message fit for the user; ``exit_code`` says how the process ends."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class ConfigError(CodewardError):
    """Bad configuration: names the file, the key and what is expected."""

    exit_code = EXIT_USAGE


class UsageError(CodewardError):
    """A bad argument or flag on the command line."""

    exit_code = EXIT_USAGE


class ProviderError(CodewardError):
    """The model provider could not be reached or refused the request."""


class SandboxUnavailable(CodewardError):
    """No sandbox tier can be enforced on this machine."""

    exit_code = EXIT_NO_SANDBOX
