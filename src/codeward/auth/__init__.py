"""codeward.auth."""
