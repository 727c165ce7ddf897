"""Retries of pcs-oci's calls: bounded in attempts and time.

What is tried again (retried()): 429, 5xx but 501, connection errors and
timeouts, and 409 IncorrectState/LockConflict (a VNIC busy with another
change), with the backoff of settings.backoff_seconds, waiting what a
Retry-After header asks (up to the longest backoff). The SDK's strategy
(retry_strategy) does that inside one OciApi call, adding its jitter;
attempts() is the loop around a call that both OciApi (for answers the SDK
took but we cannot use) and the SDK-free DirectApi (for everything) run,
within one deadline (Budgeted.budget).
"""

import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional, TypeVar

from pcs_oci.common import reports
from pcs_oci.lib.errors import CloudError
from pcs_oci.lib.oci.settings import OciSettings, backoff_seconds, max_backoff_seconds

# 409 codes of a VNIC busy with another change: tried again, and never the
# sign of an address that exists already (vip.py).
BUSY_CODES = ("IncorrectState", "LockConflict")

T = TypeVar("T")

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
        service_error_retry_config={-1: [], 409: list(BUSY_CODES), 429: []},
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


def retried(status: int, code: str) -> bool:
    """An error answer that is tried again: what retry_strategy has the SDK retry."""
    if status == 429 or (status >= 500 and status != 501):
        return True
    return status == 409 and code in BUSY_CODES


class TryAgain(Exception):
    """An attempt failed in a way that is worth another (see attempts)."""

    def __init__(
        self, error: CloudError, retry_after: Optional[float] = None, at_once: bool = False
    ):
        super().__init__(error)
        self.error = error
        # What the service asked (Retry-After), instead of the backoff.
        self.retry_after = retry_after
        # Another attempt right away that does not count (a refreshed session).
        self.at_once = at_once


def attempts(
    s: OciSettings,
    clock: Callable[[], float],
    deadline: float,
    attempt: Callable[[float], T],
    out_of_time: Callable[[], CloudError],
) -> T:
    """attempt(seconds left) until it returns, at most s.max_attempts times and
    never past deadline. attempt raises TryAgain for a failure worth another
    attempt (its error ends the loop when none is left); anything else ends
    the loop at once. out_of_time() is raised when no time is left for one."""
    n = 0
    while True:
        n += 1
        left = min(s.max_total_seconds, deadline - clock())
        if left <= 0:
            raise out_of_time()
        try:
            return attempt(left)
        except TryAgain as again:
            if again.at_once:
                n -= 1
                continue
            error, wait = again.error, again.retry_after
        pause = backoff_seconds(s, n) if wait is None else min(wait, max_backoff_seconds(s))
        if n >= s.max_attempts or clock() + pause >= deadline:
            raise error
        time.sleep(pause)


def timeout_error(s: OciSettings, operation: str, last: Optional[CloudError]) -> CloudError:
    """The budget ran out before operation; last is the error that used it up."""
    message = "OCI API calls did not finish within {:g} s; gave up before {}".format(
        s.max_total_seconds, operation
    )
    if last is not None:
        message += "; last error: " + last.reports[0].message
    return CloudError(
        reports.item(reports.OCI_TIMEOUT, message, "retry later; the API is slow or throttled"),
        transient=True,
        status=last.status if last else 0,
        oci_code=last.oci_code if last else "",
        request_id=last.request_id if last else "",
    )
