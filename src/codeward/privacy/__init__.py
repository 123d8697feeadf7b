"""The privacy gate: ignore rules, secret scanning, redaction, PII and the egress ledger."""
