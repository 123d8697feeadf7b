"""The HTTP side of talking to a model: one POST per request, streamed, retried when that is safe.

Only a :class:`~codeward.privacy.gate.GatedPayload` can be sent: the privacy gate is the one place
that builds those (DESIGN principle 1), so nothing reaches the network without passing it. The API
key goes into the Authorization header of requests to the provider's own URL and nowhere else; every
error message is scrubbed of it.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from codeward import __version__
from codeward.config.model import ProviderConfig
from codeward.errors import ProviderError
from codeward.providers.chat import ChatFormat
from codeward.providers.http import httpx
from codeward.providers.responses import ResponsesFormat
from codeward.providers.sse import SSEParser
from codeward.providers.types import Completed, StreamEvent
from codeward.providers.wire import (
    ContextOverflow,
    MalformedStream,
    StreamBroken,
    Unreachable,
    WireFormat,
    is_context_overflow,
    load_json,
)

if TYPE_CHECKING:
    from codeward.privacy.gate import GatedPayload

RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER_S = 60.0
LOCAL_HINTS = {"11434": "is Ollama running? (ollama serve)", "1234": "is LM Studio's server running?"}


def wire_format(provider: ProviderConfig) -> WireFormat:
    return ResponsesFormat() if provider.wire_api == "responses" else ChatFormat()


def endpoint_url(provider: ProviderConfig) -> str:
    """The full URL requests go to: baseURL + the wire path + any query_params."""
    url = provider.base_url.rstrip("/") + wire_format(provider).path
    if provider.query_params:
        url += ("&" if "?" in url else "?") + urlencode(provider.query_params)
    return url


def retry_after_seconds(value: str | None) -> float | None:
    """Parse a Retry-After header: delta seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class _Retry(Exception):
    """A failure worth retrying: ``stream`` ones (dropped/idle/broken) or ``status`` ones (429, 5xx)."""

    def __init__(self, message: str, *, kind: str = "stream", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with jitter: about 0.5 s, 1 s, 2 s ... capped at 16 s."""
    return min(0.5 * 2 ** (attempt - 1), 16.0) * (0.8 + 0.4 * random.random())


class ModelClient:
    """Sends gated payloads to one provider and turns the streamed answer into a :class:`Completed`."""

    def __init__(
        self,
        provider: ProviderConfig,
        api_key: str | None,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_retry: Callable[[str], None] | None = None,
        request_timeout_s: float = 120.0,
    ) -> None:
        self.provider = provider
        self.request_timeout_s = request_timeout_s
        """A request, its retries included, that has no complete answer by then fails (a hung
        endpoint must not hold a turn for the sum of every retry's idle timeout)."""
        self.format = wire_format(provider)
        self.url = endpoint_url(provider)
        self._key = api_key
        self._sleep = sleep
        self._on_retry = on_retry
        timeout = httpx.Timeout(
            connect=provider.connect_timeout_ms / 1000,
            read=provider.stream_idle_timeout_ms / 1000,
            write=60.0,
            pool=10.0,
        )
        # trust_env=False: no proxy or netrc from the environment may see the request or the key.
        # An http:// endpoint (a local model) never makes a TLS connection (redirects are off), so the
        # certificate store (~20 ms to load) is only loaded for https:// ones, always verified.
        tls = self.url.startswith("https://")
        self._http = httpx.Client(
            timeout=timeout, transport=transport, trust_env=False, follow_redirects=False, verify=tls
        )

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc

    def close(self) -> None:
        self._http.close()

    def headers(self) -> dict[str, str]:
        h = {
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
            "User-Agent": f"codeward/{__version__}",
            **self.provider.headers,
        }
        if self._key:
            h["Authorization"] = f"Bearer {self._key}"
        return h

    def scrub(self, text: str) -> str:
        """Remove the API key, and the secret values of ``headers``/``query_params``, from any text
        that might be shown or logged."""
        from codeward.privacy.config_secrets import secret_values

        secrets = [self._key] if self._key else []
        secrets += secret_values(self.provider.headers, self.provider.query_params)
        for s in sorted(set(secrets), key=len, reverse=True):
            if s and s in text:
                text = text.replace(s, "<api-key>")
        return text

    # ------------------------------------------------------------------------------------------

    def send(self, payload: GatedPayload, *, on_event: Callable[[StreamEvent], None] | None = None) -> Completed:
        """POST the payload and return the completed answer, retrying what is safe to retry."""
        from codeward.privacy.gate import GatedPayload

        if not isinstance(payload, GatedPayload):
            raise TypeError("only the privacy gate may hand a payload to the provider client")
        max_status_retries = self.provider.request_max_retries
        max_stream_retries = self.provider.stream_max_retries
        status_tries = stream_tries = 0
        deadline = time.monotonic() + self.request_timeout_s
        while True:
            try:
                return self._attempt(payload.body, on_event, deadline)
            except ContextOverflow as e:
                e.refused_bytes = len(payload.body)
                raise
            except _Retry as r:
                if r.kind == "stream":
                    stream_tries += 1
                    n, total = stream_tries, max_stream_retries
                else:
                    status_tries += 1
                    n, total = status_tries, max_status_retries
                if n > total:
                    raise ProviderError(self.scrub(f"{r} (gave up after {total} retries)")) from None
                delay = r.retry_after if r.retry_after is not None else backoff_seconds(n)
                if time.monotonic() + delay >= deadline:
                    raise ProviderError(self.scrub(f"{r}; {self._timed_out()}")) from None
                if self._on_retry:
                    self._on_retry(self.scrub(f"{r}; retrying in {delay:.1f}s ({n}/{total})"))
                self._sleep(delay)

    def _timed_out(self) -> str:
        return (
            f"no complete answer from {self.host} within {self.request_timeout_s:.0f}s, so the turn failed "
            "(the conversation is kept: send a follow-up to try again, or raise request_timeout_ms in config.toml)"
        )

    def _attempt(
        self, body: bytes, on_event: Callable[[StreamEvent], None] | None, deadline: float | None = None
    ) -> Completed:
        if deadline is None:
            deadline = time.monotonic() + self.request_timeout_s
        left = deadline - time.monotonic()
        if left <= 0:
            raise ProviderError(self._timed_out())
        p = self.provider
        timeout = httpx.Timeout(
            connect=min(p.connect_timeout_ms / 1000, left),
            read=min(p.stream_idle_timeout_ms / 1000, left),
            write=min(60.0, left),
            pool=min(10.0, left),
        )
        try:
            with self._http.stream("POST", self.url, content=body, headers=self.headers(), timeout=timeout) as resp:
                if resp.status_code >= 400:
                    self._raise_for_status(resp)
                ctype = resp.headers.get("content-type", "")
                if "text/event-stream" not in ctype:
                    raw = resp.read()
                    data = load_json(raw.decode("utf-8", "replace"), "the response body")
                    if not isinstance(data, dict):
                        raise MalformedStream("malformed response: the body is not a JSON object")
                    return self.format.parse_body(data)
                return self._read_stream(resp, on_event, deadline)
        except httpx.ConnectError as e:
            raise Unreachable(self.scrub(self._unreachable(e))) from None
        except httpx.ConnectTimeout:
            raise _Retry(f"connecting to {self.url} timed out", kind="status") from None
        except httpx.ReadTimeout:
            if time.monotonic() >= deadline - 0.05:
                raise ProviderError(self._timed_out()) from None
            idle = self.provider.stream_idle_timeout_ms / 1000
            raise _Retry(f"no data from {self.host} for {idle:.0f}s (stream idle timeout)") from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as e:
            raise _Retry(f"the connection to {self.host} dropped ({type(e).__name__})") from None
        except StreamBroken as e:
            raise _Retry(str(e)) from None
        except httpx.UnsupportedProtocol:
            raise ProviderError(
                self.scrub(f"{self.url}: unsupported URL scheme; baseURL must start with http:// or https://")
            ) from None
        except httpx.HTTPError as e:
            raise ProviderError(self.scrub(f"request to {self.url} failed: {type(e).__name__}: {e}")) from None

    def _read_stream(
        self, resp: httpx.Response, on_event: Callable[[StreamEvent], None] | None, deadline: float
    ) -> Completed:
        parser = self.format.parser()
        sse = SSEParser()
        for chunk in resp.iter_raw():
            if time.monotonic() > deadline:  # a server trickling bytes never trips the idle timeout
                raise ProviderError(self._timed_out())
            for event, data in sse.feed(chunk):
                for ev in parser.feed(event, data):
                    if on_event:
                        on_event(ev)
        for event, data in sse.close():
            for ev in parser.feed(event, data):
                if on_event:
                    on_event(ev)
        return parser.finish()

    def _unreachable(self, e: Exception) -> str:
        parts = urlsplit(self.provider.base_url)
        hint = LOCAL_HINTS.get(str(parts.port or ""), "is the server running and the baseURL right?")
        cause = str(e).split("]")[-1].strip() or type(e).__name__
        return f"cannot reach {self.provider.base_url} - {hint} ({cause})"

    def _raise_for_status(self, resp: httpx.Response) -> None:
        # scrubbed whole, then cut: a key echoed past the cut would otherwise survive in part
        raw = self.scrub(resp.read()[:ERROR_BODY_BYTES].decode("utf-8", "replace"))
        detail = self.scrub(_error_detail(raw))
        code = resp.status_code
        if code in (400, 413) and is_context_overflow(_error_code(raw), detail):
            raise ContextOverflow(
                self.scrub(f"provider '{self.provider.id}' refused the request as too long: {detail}")
            )
        if code in RETRY_STATUS:
            delay = retry_after_seconds(resp.headers.get("retry-after"))
            if delay is not None:
                delay = min(delay, MAX_RETRY_AFTER_S)
            detail_part = f": {detail}" if detail else ""
            raise _Retry(f"{self.host} answered HTTP {code}{detail_part}", kind="status", retry_after=delay)
        pid = self.provider.id
        if code in (401, 403):
            source = f"${self.provider.env_key}, " if self.provider.env_key else ""
            msg = (
                f"provider '{pid}' rejected the API key (HTTP {code}{': ' + detail if detail else ''}); "
                f"check {source}or run: codeward login --provider {pid}"
            )
        elif code == 404 and "model" in detail.lower():
            msg = f"unknown model at provider '{pid}' (HTTP 404: {detail}); choose another with -m MODEL"
        elif code == 404:
            msg = f"{self.url} not found (HTTP 404{': ' + detail if detail else ''}); check baseURL of provider '{pid}'"
        else:
            msg = f"provider '{pid}' refused the request (HTTP {code}{': ' + detail if detail else ''})"
        raise ProviderError(self.scrub(msg))


ERROR_BODY_BYTES = 64 * 1024


def _error_code(raw: str) -> str | None:
    """The ``error.code`` of a JSON error body (``context_length_exceeded``), if any."""
    try:
        data: Any = load_json(raw, "error body")
    except MalformedStream:
        return None
    err = data.get("error") if isinstance(data, dict) else None
    code = err.get("code") if isinstance(err, dict) else None
    return code if isinstance(code, str) else None


def _error_detail(raw: str) -> str:
    """The provider's own error message from a JSON error body, else the start of the text."""
    try:
        data: Any = load_json(raw, "error body")
    except MalformedStream:
        text = " ".join(raw.split())
        return text[:200]
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            return str(err.get("message") or err.get("code") or "")[:300]
        return str(err)[:300]
    return ""
