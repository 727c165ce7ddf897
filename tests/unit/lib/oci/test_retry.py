"""The SDK retry strategy's additions: Retry-After, bounded by the longest backoff."""

import pytest

from pcs_oci.lib.oci import retry


@pytest.mark.parametrize(
    "headers, seconds",
    [
        ({"Retry-After": "2"}, 2.0),
        ({"retry-after": " 0.5 "}, 0.5),
        ({"RETRY-AFTER": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),  # date form: not honoured
        ({"Retry-After": "-1"}, None),
        ({"Retry-After": "nan"}, None),
        ({}, None),
        (None, None),
    ],
)
def test_retry_after_seconds(headers: object, seconds: object) -> None:
    assert retry.retry_after_seconds(headers) == seconds


def test_retry_after_is_honoured_up_to_the_longest_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    slept = []

    class Strategy:
        def do_sleep(self, attempt: int, exception: object) -> None:
            slept.append(("jitter", attempt))

    class Error:
        headers = {"Retry-After": "30"}

    monkeypatch.setattr(retry.time, "sleep", lambda s: slept.append(("sleep", s)))
    strategy = retry.honour_retry_after(Strategy(), cap=4.0)
    strategy.do_sleep(1, Error())
    strategy.do_sleep(2, ValueError("no headers"))
    assert slept == [("sleep", 4.0), ("jitter", 2)]
