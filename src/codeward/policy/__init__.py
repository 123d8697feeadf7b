"""codeward.policy."""
