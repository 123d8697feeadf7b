"""codeward.audit."""
