"""A pure Server-Sent Events parser (the subset both wire APIs use).

Fed raw bytes in any chunking, it yields ``(event, data)`` pairs; the network layer stays out of it,
so tests can feed it split or malformed input directly.
"""

from __future__ import annotations

from collections.abc import Iterator


class SSEParser:
    """Incremental parser: ``feed(bytes)`` yields each complete event as ``(event_name, data)``."""

    def __init__(self) -> None:
        self._buf = b""
        self._event = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> Iterator[tuple[str, str]]:
        self._buf += chunk
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                return
            raw, self._buf = self._buf[:nl], self._buf[nl + 1 :]
            line = raw.rstrip(b"\r").decode("utf-8", errors="replace")
            if line == "":
                if self._data:
                    yield self._event, "\n".join(self._data)
                self._event, self._data = "", []
                continue
            if line.startswith(":"):
                continue  # comment / keep-alive
            name, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if name == "data":
                self._data.append(value)
            elif name == "event":
                self._event = value

    def close(self) -> Iterator[tuple[str, str]]:
        """Flush a final event that was not followed by a blank line."""
        if self._buf:
            yield from self.feed(b"\n")
        if self._data:
            yield self._event, "\n".join(self._data)
        self._event, self._data = "", []
