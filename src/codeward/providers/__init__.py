"""codeward.providers."""
