"""codeward.sandbox."""
