"""codeward.tools."""
