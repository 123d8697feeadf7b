"""Secrets a user configured beside the API key: provider ``headers`` and ``query_params`` values.

An Azure ``api-key`` header, an ``Ocp-Apim-Subscription-Key``, a ``?code=`` or ``?key=`` query
parameter is as much a key as the bearer token, and must stay out of events, ``--dry-run``, logs
and errors just the same. A value counts as secret when its name says so (key, token, secret,
auth, signature, password, credential, session, cookie, code) or when it looks like a key (16 or
more characters mixing letters and digits). Everything else (``api-version=2025-04-01``,
``X-Team: payments``) is shown as configured.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_SECRET_NAME = re.compile(
    r"(?i)key|token|secret|auth|sig(?:nature)?\b|^sig|passw|credential|session|cookie|^code$|^x-functions-key$"
)
_DATE_OR_VERSION = re.compile(r"^v?\d+(?:[.\-]\d+)*(?:-[a-z]+)?$", re.I)
REDACTED = "<redacted>"


def looks_secret(name: str, value: str) -> bool:
    """Whether a configured header or query value must be treated as a key."""
    if not value:
        return False
    if _SECRET_NAME.search(name):
        return True
    has_digit = any(c.isdigit() for c in value)
    has_alpha = any(c.isalpha() for c in value)
    return len(value) >= 16 and has_digit and has_alpha and not _DATE_OR_VERSION.match(value)


def secret_values(headers: Mapping[str, str], query: Mapping[str, str]) -> list[str]:
    """The configured values that are secrets (Authorization-style prefixes kept off the value)."""
    out = []
    for name, value in [*headers.items(), *query.items()]:
        v = str(value)
        if looks_secret(name, v):
            out.append(v)
            scheme, _, rest = v.partition(" ")
            if rest and scheme.lower() in ("bearer", "basic", "token", "key", "apikey"):
                out.append(rest)
    return out


def redact_url(url: str) -> str:
    """``url`` with secret query values (and any password in it) replaced by ``<redacted>``."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{REDACTED}@{host}" if ":" in userinfo else netloc
    if not parts.query:
        return urlunsplit(parts._replace(netloc=netloc))
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    clean = [(k, REDACTED if looks_secret(k, v) else v) for k, v in pairs]
    query = urlencode(clean, safe="<>")
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def url_secrets(url: str) -> list[str]:
    """The secret query values (and URL password) of ``url``."""
    parts = urlsplit(url)
    out = [v for k, v in parse_qsl(parts.query, keep_blank_values=True) if looks_secret(k, v)]
    userinfo = parts.netloc.rpartition("@")[0]
    if ":" in userinfo:
        out.append(userinfo.split(":", 1)[1])
    return out
