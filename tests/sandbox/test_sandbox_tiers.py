"""Tier selection (with a stand-in prober for hosts this machine is not), status for doctor, and the real probe."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from codeward.errors import EXIT_NO_SANDBOX, SandboxUnavailable, UsageError
from codeward.sandbox import sandbox_status, select_sandbox
from codeward.sandbox.tiers import HostProber, Probe, default_prober


@dataclass
class FakeProber:
    """Answers like a host with the given tiers; counts calls to show callers rely on one probe each."""

    bwrap_ok: bool = False
    landlock_abi: int = 0
    seatbelt_ok: bool = False
    calls: list[str] = field(default_factory=list)

    def bwrap(self) -> Probe:
        self.calls.append("bwrap")
        if self.bwrap_ok:
            return Probe(True, "bubblewrap 0.8.0", detail="/usr/bin/prlimit", path="/usr/bin/bwrap")
        return Probe(False, "bwrap not found (install it: apt-get install bubblewrap / dnf install bubblewrap)")

    def landlock(self) -> Probe:
        self.calls.append("landlock")
        if self.landlock_abi:
            return Probe(True, f"Landlock ABI {self.landlock_abi} + seccomp", abi=self.landlock_abi)
        return Probe(False, "Landlock not supported by this kernel (needs Linux 5.13 or newer)")

    def seatbelt(self) -> Probe:
        self.calls.append("seatbelt")
        return Probe(self.seatbelt_ok, "macOS sandbox-exec" if self.seatbelt_ok else "Seatbelt exists only on macOS")


def test_strongest_first() -> None:
    assert select_sandbox(prober=FakeProber(bwrap_ok=True, landlock_abi=7)).tier == "bwrap"
    assert select_sandbox(prober=FakeProber(landlock_abi=7)).tier == "landlock"
    assert select_sandbox(prober=FakeProber(seatbelt_ok=True)).tier == "seatbelt"


def test_nothing_enforceable_is_refused_with_every_reason() -> None:
    with pytest.raises(SandboxUnavailable) as e:
        select_sandbox(prober=FakeProber())
    msg = e.value.message
    assert e.value.exit_code == EXIT_NO_SANDBOX == 125
    assert "bwrap: bwrap not found" in msg
    assert "landlock: Landlock not supported by this kernel" in msg
    assert "--dangerously-allow-unsandboxed" in msg


def test_unsandboxed_only_when_allowed() -> None:
    assert select_sandbox(prober=FakeProber(), allow_unsandboxed=True).tier == "none"
    assert select_sandbox(prober=FakeProber(bwrap_ok=True), allow_unsandboxed=True).tier == "bwrap"
    with pytest.raises(SandboxUnavailable, match="unsafe_allow_unsandboxed"):
        select_sandbox("none", prober=FakeProber(bwrap_ok=True))
    assert select_sandbox("none", allow_unsandboxed=True, prober=FakeProber()).tier == "none"


def test_forced_tier() -> None:
    p = FakeProber(bwrap_ok=True, landlock_abi=7)
    assert select_sandbox("landlock", prober=p).tier == "landlock"
    assert p.calls == ["landlock"]
    with pytest.raises(SandboxUnavailable, match="seatbelt: Seatbelt exists only on macOS"):
        select_sandbox("seatbelt", prober=p, allow_unsandboxed=True)  # a forced tier never degrades
    with pytest.raises(UsageError):
        select_sandbox("docker", prober=p)


def test_status_lists_every_tier_with_gaps() -> None:
    status = {s.tier: s for s in sandbox_status(FakeProber(bwrap_ok=True, landlock_abi=3))}
    assert list(status) == ["bwrap", "landlock", "seatbelt", "none"]
    assert status["bwrap"].available and "toolchains shown read-only" in status["bwrap"].detail
    ll = status["landlock"]
    assert ll.available and ll.detail == "ABI 3"
    assert any("protected paths are not read-only" in g for g in ll.gaps)
    assert any("moved out of it while a command runs" in g for g in ll.gaps)
    assert any("chmod and utime" in g for g in ll.gaps)
    assert any("no pid namespace" in g for g in ll.gaps)
    assert any("allowed_domains cannot be used" in g for g in ll.gaps)
    assert not status["seatbelt"].available


def test_real_probes_are_cached_per_process() -> None:
    p = default_prober()
    assert p is default_prober()
    assert isinstance(p, HostProber)
    first = p.bwrap()
    assert p.bwrap() is first
    ll = p.landlock()
    assert ll is p.landlock()
    if ll.available:
        assert ll.abi >= 1
