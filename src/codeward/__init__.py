"""codeward: a terminal AI coding agent that keeps code, keys and machine under the user's control."""

__version__ = "0.1.0"
