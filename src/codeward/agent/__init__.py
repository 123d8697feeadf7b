"""codeward.agent."""
