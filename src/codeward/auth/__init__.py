"""API keys: lookup (env, keychain, auth.json, key_command), login and logout."""
