"""codeward.patch."""
