"""The SDK's retry strategy for pcs-oci's calls: bounded in attempts and time.

It retries 429, 5xx, connection errors and timeouts, and 409
IncorrectState/LockConflict (a VNIC busy with another change), with the
backoff of settings.backoff_seconds plus the SDK's jitter, and waits what a
Retry-After header asks (up to the longest backoff).
"""

import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional

from pcs_oci.lib.oci.settings import OciSettings, max_backoff_seconds

# The growth of settings.backoff_seconds, for the SDK's builder.
_GROWTH = 2


def retry_strategy(oci: Any, s: OciSettings, total_seconds: float) -> Any:
    """An SDK retry strategy within s.max_attempts and total_seconds."""
    base = s.retry_base_seconds
    strategy = oci.retry.RetryStrategyBuilder(
        max_attempts_check=True,
        max_attempts=s.max_attempts,
        total_elapsed_time_check=True,
        # 0 would mean "no time check" to the SDK.
        total_elapsed_time_seconds=max(total_seconds, 0.001),
        service_error_check=True,
        # A fresh dict: the builder's default is a shared module-level one.
        service_error_retry_config={-1: [], 409: ["IncorrectState", "LockConflict"], 429: []},
        service_error_retry_on_any_5xx=True,
        retry_base_sleep_time_seconds=base,
        retry_exponential_growth_factor=_GROWTH,
        retry_max_wait_between_calls_seconds=max_backoff_seconds(s),
        decorrelated_jitter=base,
        backoff_type=oci.retry.BACKOFF_DECORRELATED_JITTER_VALUE,
    ).get_retry_strategy()
    return honour_retry_after(strategy, max_backoff_seconds(s))


def honour_retry_after(strategy: Any, cap: float) -> Any:
    """The SDK ignores Retry-After; wait what the service asks (up to the
    longest backoff, so worst_case_seconds() still holds) instead of
    retrying into the same throttle on the jitter schedule."""
    jitter_sleep = strategy.do_sleep

    def do_sleep(attempt: int, exception: Any) -> None:
        wait = retry_after_seconds(getattr(exception, "headers", None))
        if wait is None:
            jitter_sleep(attempt, exception)
        else:
            time.sleep(min(wait, cap))

    strategy.do_sleep = do_sleep
    return strategy


def retry_after_seconds(headers: Any) -> Optional[float]:
    """Retry-After in seconds (delta-seconds form only), or None."""
    try:
        raw = next((v for k, v in dict(headers or {}).items() if k.lower() == "retry-after"), "")
        value = float(str(raw).strip())
    except (ValueError, AttributeError, TypeError):
        return None
    return value if 0 <= value < 86400 else None


class Budgeted:
    """One retry deadline shared by every call inside budget(): what
    settings.worst_case_seconds() is derived from. For an API class with
    `settings` and `clock`."""

    settings: OciSettings
    clock: Callable[[], float]
    _deadline: Optional[float] = None

    @contextmanager
    def budget(self, seconds: Optional[float] = None) -> Iterator[None]:
        """All calls inside share one retry deadline (max_total_seconds by default)."""
        total = self.settings.max_total_seconds if seconds is None else seconds
        limit = self.clock() + total
        outer = self._deadline
        self._deadline = limit if outer is None else min(outer, limit)
        try:
            yield
        finally:
            self._deadline = outer
