"""Ctrl-C during a turn: raise KeyboardInterrupt only where the turn can safely be abandoned.

Python raises KeyboardInterrupt wherever the main thread happens to be, which could be between
writing a file and recording it in the audit log. So the session installs its own SIGINT handler:
a Ctrl-C raises only inside an *interruptible* section (waiting for the model, running a sandboxed
command, both of which clean up on any exception: the HTTP stream is closed, the runner kills the
whole process tree). Anywhere else it is remembered and raised when the turn next enters such a
section, before another request leaves or another command starts. Once raised, further Ctrl-Cs
are only counted until the turn has finished unwinding, so the cleanup itself is never cut short.

The model client and the sandbox are wrapped rather than changed: the wrappers mark their blocking
calls interruptible and delegate everything else.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

DOUBLE_PRESS_S = 2.0


class Interrupts:
    """The session's SIGINT policy (main thread only)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._armed = False
        self._pending = False
        self.presses: list[float] = []
        self._previous: Any = None
        self._installed = False

    # -- installation ---------------------------------------------------------------------------

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        self._previous = signal.signal(signal.SIGINT, self._handler)
        self._installed = True

    def uninstall(self) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False

    # -- the handler ----------------------------------------------------------------------------

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        self.press()

    def press(self) -> None:
        """One Ctrl-C: raise now inside an interruptible section, else remember it."""
        self.presses.append(self._clock())
        if self._armed:
            self._armed = False  # the cleanup that follows must not be interrupted again
            self._pending = False
            raise KeyboardInterrupt
        self._pending = True

    # -- turns and sections ---------------------------------------------------------------------

    def begin_turn(self) -> None:
        """A new turn: forget Ctrl-Cs pressed between turns."""
        self._pending = False
        self._armed = False
        self.presses.clear()

    def end_turn(self) -> None:
        """The turn is over. A Ctrl-C that came too late to cancel it stays pending: the prompt treats it
        as pressed there, so the key is never silently lost."""
        self._armed = False

    @property
    def pending(self) -> bool:
        return self._pending

    def take_pending(self) -> bool:
        """Whether a Ctrl-C arrived since the last turn (the terminal was between two prompts); clears it."""
        was, self._pending = self._pending, False
        return was

    def double_pressed(self, within: float = DOUBLE_PRESS_S) -> bool:
        """Two Ctrl-Cs within ``within`` seconds of each other during this turn (the user wants out)."""
        return any(b - a <= within for a, b in zip(self.presses, self.presses[1:], strict=False))

    @contextmanager
    def interruptible(self) -> Iterator[None]:
        """A blocking call that may be abandoned: a Ctrl-C pressed before or during it raises here."""
        if self._pending:
            self._pending = False
            raise KeyboardInterrupt
        self._armed = True
        try:
            yield
        finally:
            self._armed = False


class InterruptibleClient:
    """The model client, with ``send`` abandoned on Ctrl-C (the stream is closed as the exception unwinds)."""

    def __init__(self, client: Any, interrupts: Interrupts) -> None:
        self._client = client
        self._interrupts = interrupts

    def send(self, payload: Any, *, on_event: Any = None) -> Any:
        with self._interrupts.interruptible():
            return self._client.send(payload, on_event=on_event)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class InterruptibleSandbox:
    """A sandbox whose ``run`` is abandoned on Ctrl-C; the runner kills the command's whole tree on the way out."""

    def __init__(self, sandbox: Any, interrupts: Interrupts) -> None:
        self._sandbox = sandbox
        self._interrupts = interrupts

    def run(self, argv: Any, spec: Any, **kwargs: Any) -> Any:
        with self._interrupts.interruptible():
            return self._sandbox.run(argv, spec, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sandbox, name)
