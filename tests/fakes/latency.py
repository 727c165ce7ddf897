"""The fake's latency profile and its call log by kind: what a round trip costs on OCI.

The fake answers in microseconds; real OCI does not. With a profile, every
answer waits as long as the profile says for its kind of call, so that a
saved round trip shows in the bench as it would on OCI. The defaults are
assumptions, not measurements (docs/benchmarks.md says so):

  core        50 ms  a Core API call to iaas.<region> from an instance in that region
  federation 300 ms  a token from the auth service (it checks the certificate chain)
  metadata     2 ms  the link-local instance metadata service

FakeOci (tests) starts with no latency; the bench sets the profile, over
the control API when the fake is a process of its own (set_latency).
"""

import threading
import time
from typing import Any, Dict, Iterable, Mapping, NamedTuple

CORE, FEDERATION, METADATA = "core", "federation", "metadata"
KINDS = (CORE, FEDERATION, METADATA)
DEFAULT_PROFILE_MS = {CORE: 50.0, FEDERATION: 300.0, METADATA: 2.0}
WRITES = ("UpdatePrivateIp", "CreatePrivateIp", "UpdateIpv6", "CreateIpv6")


def kind(op: str) -> str:
    """The kind of a call-log op: Imds:* is metadata, Federation federation, the rest core."""
    if op.startswith("Imds:"):
        return METADATA
    if op == "Federation":
        return FEDERATION
    return CORE


def parse_profile(text: str) -> Dict[str, float]:
    """'core=50,federation=300,metadata=2' (milliseconds) -> {kind: ms}; 'default' too."""
    if text.strip() == "default":
        return dict(DEFAULT_PROFILE_MS)
    profile = {k: 0.0 for k in KINDS}
    for item in text.split(","):
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in KINDS:
            raise ValueError("expected kind=ms with kind in {}, got {!r}".format(KINDS, item))
        profile[name] = float(value)
        if profile[name] < 0:
            raise ValueError("a latency is not negative: {!r}".format(item))
    return profile


class Latency:
    """Milliseconds per kind of call; wait(op) sleeps for op's kind."""

    def __init__(self, profile_ms: Mapping[str, float] = ()) -> None:
        self._lock = threading.Lock()
        self._ms = {k: 0.0 for k in KINDS}
        self.set(dict(profile_ms))

    def set(self, profile_ms: Mapping[str, float]) -> Dict[str, float]:
        unknown = set(profile_ms) - set(KINDS)
        if unknown:
            raise ValueError("unknown kinds {}".format(sorted(unknown)))
        with self._lock:
            self._ms.update({k: float(v) for k, v in profile_ms.items()})
            return dict(self._ms)

    def profile(self) -> Dict[str, float]:
        with self._lock:
            return dict(self._ms)

    def wait(self, op: str) -> None:
        with self._lock:
            ms = self._ms[kind(op)]
        if ms > 0:
            time.sleep(ms / 1000.0)


class Counts(NamedTuple):
    """One action's calls by kind, as the bench prints them."""

    # Core API calls before the first write (UpdatePrivateIp/CreatePrivateIp...).
    before_write: int
    writes: int
    # Core API calls after the write (the reads that confirm the move).
    confirming: int
    federation: int
    metadata: int

    @property
    def core(self) -> int:
        return self.before_write + self.writes + self.confirming

    def text(self) -> str:
        return (
            "{} + write + {} confirming; federation {}, metadata {}".format(
                self.before_write, self.confirming, self.federation, self.metadata
            )
            if self.writes
            else "{} Core (no write); federation {}, metadata {}".format(
                self.before_write, self.federation, self.metadata
            )
        )


def count(calls: Iterable[Mapping[str, Any]]) -> Counts:
    """Counts of a call log (FakeOci.calls() or the control API's) of one action."""
    before = writes = after = federation = metadata = 0
    for call in calls:
        op = str(call["op"])
        k = kind(op)
        if k == FEDERATION:
            federation += 1
        elif k == METADATA:
            metadata += 1
        elif op in WRITES:
            writes += 1
        elif writes:
            after += 1
        else:
            before += 1
    return Counts(before, writes, after, federation, metadata)
