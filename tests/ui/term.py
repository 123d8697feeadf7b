"""Drive the real ``codeward`` in a pseudo-terminal, as a user at a keyboard does.

``Term`` spawns ``python -m codeward`` with pexpect (fixed window size, TERM set, the test's
HOME/CODEWARD_HOME), keeps everything it printed, and matches against that output with the terminal
control sequences taken out (a cursor-forward becomes spaces), so a test can wait for words rather
than for whatever escape codes rich and prompt_toolkit chose to draw them with.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pexpect
from tests.support.cli import FAKE_KEY
from tests.support.cw_subprocess import REPO

CSI = re.compile(r"\x1b\[([0-9;?]*)([ -/]*)([@-~])")
OSC = re.compile(r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")
OTHER_ESC = re.compile(r"\x1b[()][A-Za-z0-9]|\x1b[=>78DEHMc]")
ROWS, COLS = 40, 140


def screen_text(raw: str) -> str:
    """The output as text: colours and cursor moves dropped, cursor-forward turned into spaces."""

    def csi(m: re.Match[str]) -> str:
        if m.group(3) == "C":
            n = m.group(1)
            return " " * (int(n) if n.isdigit() else 1)
        return ""

    text = OSC.sub("", raw)
    text = CSI.sub(csi, text)
    text = OTHER_ESC.sub("", text)
    return text.replace("\r", "").replace("\x08", "")


class Term:
    """One running ``codeward`` in a pty."""

    def __init__(self, *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 30) -> None:
        full = {**os.environ, **(env or {})}
        full["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), full.get("PYTHONPATH", "")) if p)
        full.setdefault("SCRIPTED_KEY", FAKE_KEY)
        full["TERM"] = "xterm-256color"
        full["COLUMNS"], full["LINES"] = str(COLS), str(ROWS)
        # pexpect is no terminal emulator: it cannot answer prompt_toolkit's cursor-position request
        full["PROMPT_TOOLKIT_NO_CPR"] = "1"
        full.pop("NO_COLOR", None)
        self.timeout = timeout
        self.child = pexpect.spawn(
            sys.executable,
            ["-m", "codeward", *args],
            cwd=str(cwd),
            env=full,
            dimensions=(ROWS, COLS),
            encoding="utf-8",
            codec_errors="replace",
            timeout=timeout,
        )
        self.raw = ""
        self.mark = 0  # matches are searched after this position of the cleaned text

    # -- reading ----------------------------------------------------------------------------------

    def _pump(self, wait: float) -> None:
        try:
            self.raw += self.child.read_nonblocking(65536, timeout=wait)
        except pexpect.TIMEOUT:
            pass
        except pexpect.EOF:
            raise

    @property
    def text(self) -> str:
        return screen_text(self.raw)

    def expect(self, pattern: str, timeout: float | None = None) -> re.Match[str]:
        """Wait until ``pattern`` (a regex) appears after the mark; the mark moves past it."""
        deadline = time.monotonic() + (timeout or self.timeout)
        rx = re.compile(pattern)
        while True:
            m = rx.search(self.text, self.mark)
            if m:
                self.mark = m.end()
                return m
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {pattern!r}; output after mark:\n{self.text[self.mark :]}")
            try:
                self._pump(min(left, 0.2))
            except pexpect.EOF:
                m = rx.search(self.text, self.mark)
                if m:
                    self.mark = m.end()
                    return m
                raise AssertionError(
                    f"codeward exited before {pattern!r} appeared; output after mark:\n{self.text[self.mark :]}"
                ) from None

    def prompt(self, timeout: float | None = None) -> None:
        """Wait for the input prompt (the status line, then the prompt sign)."""
        self.expect(r"network [^\n]*\n› ?", timeout)

    def since_mark(self) -> str:
        return self.text[self.mark :]

    def settle(self, seconds: float = 0.3) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                self._pump(0.05)
            except pexpect.EOF:
                return

    # -- typing -----------------------------------------------------------------------------------

    def send(self, text: str) -> None:
        self.child.send(text)

    def line(self, text: str) -> None:
        """Type ``text`` and press Enter."""
        self.child.send(text)
        time.sleep(0.05)
        self.child.send("\r")

    def key(self, k: str) -> None:
        self.child.send(k)

    def ctrl_c(self) -> None:
        self.child.sendintr()

    def ctrl_d(self) -> None:
        self.child.sendeof()

    # -- ending -----------------------------------------------------------------------------------

    def wait_exit(self, timeout: float | None = None) -> int:
        deadline = time.monotonic() + (timeout or self.timeout)
        while self.child.isalive() and time.monotonic() < deadline:
            try:
                self._pump(0.1)
            except pexpect.EOF:
                break
        self.child.close()
        return self.child.exitstatus if self.child.exitstatus is not None else 128 + (self.child.signalstatus or 0)

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)
        self.child.close()
