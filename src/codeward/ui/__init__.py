"""codeward.ui."""
